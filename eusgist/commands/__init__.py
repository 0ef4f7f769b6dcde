"""One module per ``python -m eusgist`` command (see :mod:`eusgist.cli`)."""
