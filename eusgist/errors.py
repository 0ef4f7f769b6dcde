"""The one error root of eusgist.

Every problem a user can fix (a bad file, a missing column, a refused save) raises a
:class:`EusgistError` (a :class:`ValueError`, so ``except ValueError`` keeps working), or
one of its subclasses below, with a message that names the problem. The CLI and the app show
these messages, and :class:`OSError` ones, as they are; anything else is a bug: it is logged
with its traceback and shown as an internal error (:func:`is_user_error`).

:mod:`eusgist.stats` imports nothing of the project and raises plain :class:`ValueError`;
the report layer turns those into :class:`EvaluationError`.
"""

from __future__ import annotations


class EusgistError(ValueError):
    """A problem with the user's input or request; the message says what and where."""


class ConfigError(EusgistError):
    """An ``EUSGIST_*`` setting that cannot be used (see :mod:`eusgist.config`)."""


class ImageReadError(EusgistError):
    """An input that cannot be read as an image or mask.

    The message starts with the source's name (file name, ``"<bytes>"`` or the ``name=``
    given) followed by a colon and the problem, e.g.
    ``"scan.png: truncated or corrupt PNG file (image file is truncated)"``.
    """


class ManifestError(EusgistError):
    """A manifest that cannot be used; the message names the problem and the rows."""


class BundleError(EusgistError):
    """A bundle that cannot be used; the message names the file and the problem."""


class EvaluationError(EusgistError):
    """Scores, labels or options that an evaluation cannot use."""


class StoreError(EusgistError):
    """A request the store refuses; the message names the problem. Nothing was changed."""


class NotFoundError(StoreError):
    """An unknown image, annotation, revision or annotator."""


class ConflictError(StoreError):
    """A save based on a revision that is no longer the latest (someone saved meanwhile)."""


class NotAllowedError(StoreError):
    """The annotator's role does not allow the action."""


class StorageError(StoreError, OSError):
    """The database itself failed (unreachable, locked, I/O error): the message says which
    database and why. The transaction was rolled back, so nothing was half-saved."""


class DatabaseFullError(StorageError):
    """The disk holding the database (or the database's size limit) is full."""


class ReadOnlyDatabaseError(StorageError):
    """The database (file, connection or server) only allows reading."""


def is_user_error(exc: BaseException) -> bool:
    """True when ``exc``'s message is meant for the user (an :class:`EusgistError` or an
    :class:`OSError` such as a missing file); False for a bug."""
    return isinstance(exc, (EusgistError, OSError))
