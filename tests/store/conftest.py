"""Store fixtures: every ``store``/``store_url`` test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``EUSGIST_TEST_POSTGRES_URL`` (a server URL whose user may create
databases) or from a throwaway cluster started with the local binaries
(``/usr/lib/postgresql/*/bin``, Debian package ``postgresql``); without either, the
PostgreSQL variants are skipped with the reason.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from loopback import free_port
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from eusgist.store import AnnotationStore, open_store
from eusgist.store.models import Base

POSTGRES_URL_ENV = "EUSGIST_TEST_POSTGRES_URL"


def _postgres_bin() -> Path | None:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4])
    )
    return Path(found[-1]).parent if found else None


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL of a PostgreSQL server (maintenance database) for the session."""
    if os.environ.get(POSTGRES_URL_ENV):
        yield os.environ[POSTGRES_URL_ENV]
        return
    pytest.importorskip("psycopg", reason="PostgreSQL driver psycopg not installed")
    bindir = _postgres_bin()
    if bindir is None:
        pytest.skip(
            "PostgreSQL not available: no /usr/lib/postgresql/*/bin/initdb "
            f"and {POSTGRES_URL_ENV} unset"
        )
    base = Path(tempfile.mkdtemp(prefix="eusgist-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    data, port = base / "data", free_port()
    subprocess.run(
        [
            *run_as,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        ],
        check=True,
        capture_output=True,
    )
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -c fsync=off -c max_connections=60"
    )
    subprocess.run(
        [
            *run_as,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(base / "log"),
            "-w",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_database(postgres_server: str) -> Iterator[str]:
    """A migrated database of its own on the server, for the session."""
    name = f"eusgist_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_server).set(database=name).render_as_string(hide_password=False)
    open_store(url).close()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def postgres_url(postgres_database: str) -> str:
    """The session's PostgreSQL database, emptied (settings kept, ids restarted)."""
    engine = create_engine(postgres_database)
    tables = [t.name for t in Base.metadata.sorted_tables if t.name != "settings"]
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty database of each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db' / 'eusgist.sqlite'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(store_url: str) -> Iterator[AnnotationStore]:
    """A migrated, empty store on each backend (PostgreSQL was migrated once per session)."""
    opened = open_store(store_url, migrate=store_url.startswith("sqlite"))
    yield opened
    opened.close()
