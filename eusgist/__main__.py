"""``python -m eusgist``."""

import sys

from eusgist.cli import main

sys.exit(main())
