"""Engine set-up, the default database location and schema migrations.

SQLite connections get WAL journaling, foreign keys, a busy timeout and ``BEGIN IMMEDIATE``
transactions (a writer takes the lock up front, so concurrent writers queue instead of
failing half-way). A read-only SQLite URI (``sqlite:///file:PATH?mode=ro&uri=true``) opens
the file for reading only. :func:`storage_error` turns the database's own failures (disk
full, read-only, unreachable) into :class:`~eusgist.store.records.StorageError` messages.
The schema is created and upgraded by the Alembic scripts in ``eusgist/store/migrations``;
:func:`migrate` applies them under a lock.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError

from eusgist.config import DATABASE_URL_ENV, PROJECT_ROOT, settings  # noqa: F401
from eusgist.errors import EusgistError
from eusgist.store.records import DatabaseFullError, ReadOnlyDatabaseError, StorageError

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

#: Default folder of the SQLite database without ``EUSGIST_DATA_DIR`` (on a Space: the app's
#: own disk, wiped on every restart).
DEFAULT_DIR = PROJECT_ROOT / "annotations"
DATABASE_FILE = "eusgist.sqlite"
#: How long a SQLite writer waits for the lock before giving up.
BUSY_TIMEOUT_S = 60
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
#: The Annotate tab's banner on a Space without persistent storage.
NOT_PERSISTENT = (
    "**Annotations are not persistent on this Space**: they are saved on the Space's own "
    "disk and lost when it restarts or rebuilds. Its owner can keep them by mounting a Storage "
    "Bucket and setting `EUSGIST_DATA_DIR` to the mount, or by setting `EUSGIST_DATABASE_URL` "
    "to a PostgreSQL database."
)
#: Key of the PostgreSQL advisory lock that serialises concurrent migrations.
_MIGRATION_LOCK_KEY = 0x6575_7367


def default_database_url() -> str:
    """``$EUSGIST_DATABASE_URL``, else SQLite in ``$EUSGIST_DATA_DIR`` (on a Space: a
    Storage Bucket mounted as a volume), else SQLite in the project's ``annotations/`` folder
    (on a Space not persistent: see :func:`storage_notice`)."""
    config = settings()
    if config.database_url:
        return config.database_url
    return f"sqlite:///{(config.data_dir or DEFAULT_DIR) / DATABASE_FILE}"


def storage_notice() -> str | None:
    """The warning for a Space whose annotations would vanish at restart (neither
    ``EUSGIST_DATABASE_URL`` nor ``EUSGIST_DATA_DIR`` set), else None."""
    config = settings()
    if config.space_id is None or config.database_url or config.data_dir:
        return None
    return NOT_PERSISTENT


def _configure_sqlite(engine: Engine, *, read_only: bool = False, wal: bool = True) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
        if not read_only:  # switching the journal mode writes to the file
            cursor.execute(f"PRAGMA journal_mode = {'WAL' if wal else 'DELETE'}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock, which a read-only connection can never get.
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _sqlite_file(url: str) -> tuple[str, bool]:
    """The file of a SQLite URL and whether it is opened read-only; in-memory refused."""
    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.query.get("uri") in ("true", "1") and database.startswith("file:"):
        path, _, options = database[len("file:"):].partition("?")
        params = dict(p.partition("=")[::2] for p in options.split("&") if p)
        params.update({k: v for k, v in parsed.query.items() if isinstance(v, str)})
        if path and path != ":memory:" and params.get("mode") != "memory":
            return path, params.get("mode") == "ro"
    elif database not in ("", ":memory:") and not database.startswith("file:"):
        return database, False
    raise EusgistError(f"{url}: use a SQLite file, not an in-memory database")


def make_engine(url: str) -> Engine:
    """A SQLAlchemy engine for ``url``; a SQLite file's folder is created if needed."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    database, read_only = _sqlite_file(url)
    if read_only:
        if not Path(database).expanduser().is_file():
            raise ReadOnlyDatabaseError(f"{url}: no such database file to open read-only")
    else:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S})
    _configure_sqlite(engine, read_only=read_only, wal=not on_mounted_volume(database))
    return engine


def on_mounted_volume(database: str) -> bool:
    """Whether a SQLite file lies in ``EUSGIST_DATA_DIR``: a Storage Bucket mount (NFS or
    FUSE) on a Space, where SQLite's WAL mode cannot work (it needs shared memory between
    connections), so the rollback journal is used instead."""
    data_dir = settings().data_dir
    if data_dir is None:
        return False
    return Path(database).expanduser().resolve().is_relative_to(data_dir.expanduser().resolve())


#: SQLSTATE codes (PostgreSQL) and message fragments (SQLite) of the failures told apart.
_READ_ONLY_STATES = ("25006",)  # read_only_sql_transaction
_FULL_STATE_CLASS = "53"  # insufficient resources: disk_full, out_of_memory, ...
_READ_ONLY_WORDS = ("readonly database", "read-only", "read only")
_FULL_WORDS = ("database or disk is full", "no space left")


def storage_error(exc: DBAPIError, url: str, *, writing: bool) -> StorageError | None:
    """The clear :class:`StorageError` for a database failure, or None for errors that are
    bugs rather than the database's state (constraint violations, bad SQL)."""
    if isinstance(exc, IntegrityError):
        return None
    orig = exc.orig
    state = str(getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or "")
    message = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    lowered = message.lower()
    outcome = "nothing was saved" if writing else "nothing was read"
    if state in _READ_ONLY_STATES or any(w in lowered for w in _READ_ONLY_WORDS):
        return ReadOnlyDatabaseError(
            f"the annotation database {url} is read-only ({message}); {outcome}. "
            "Ask the administrator to make it writable, or point EUSGIST_DATABASE_URL at a "
            "writable database."
        )
    if state.startswith(_FULL_STATE_CLASS) or any(w in lowered for w in _FULL_WORDS):
        return DatabaseFullError(
            f"the annotation database {url} is full: no space left on its disk or its size "
            f"limit reached ({message}); {outcome}. Earlier saves are intact; free space and "
            "try again."
        )
    if isinstance(exc.orig, Exception) and exc.__class__.__name__ in (
        "OperationalError", "InternalError", "InterfaceError"
    ):
        return StorageError(f"the annotation database {url} failed ({message}); {outcome}.")
    return None


def alembic_config() -> Config:
    """Alembic configuration pointing at the migration scripts shipped in the package."""
    from alembic.config import Config  # Alembic is loaded only by processes that migrate.

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the schema to ``revision`` in one transaction (safe to run concurrently)."""
    alembic_log = logging.getLogger("alembic")
    if alembic_log.level == logging.NOTSET:
        alembic_log.setLevel(logging.WARNING)  # its INFO lines would flood command output
    from alembic import command

    config = alembic_config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
            )
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    log.debug("database %s at schema %s", engine.url.render_as_string(hide_password=True), revision)
