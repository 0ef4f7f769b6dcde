"""Schema: the migrations build exactly the ORM schema; engine settings; default location."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from eusgist.store import db, open_store
from eusgist.store.models import Base


def test_migrated_schema_equals_orm_metadata(store_url: str) -> None:
    store = open_store(store_url)
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
        assert context.get_current_revision() == "0002"
    store.close()


def test_migrating_twice_is_a_no_op(store_url: str) -> None:
    open_store(store_url).close()
    store = open_store(store_url)
    assert set(inspect(store.engine).get_table_names()) >= set(Base.metadata.tables)
    store.close()


def test_sqlite_connections_use_wal_foreign_keys_and_busy_timeout(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'a' / 'b.sqlite'}")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == db.BUSY_TIMEOUT_S * 1000
    store.close()


def test_in_memory_sqlite_is_refused() -> None:
    with pytest.raises(ValueError, match="in-memory"):
        db.make_engine("sqlite://")


def test_default_url_environment_data_dir_and_project(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(db.DATABASE_URL_ENV, "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("EUSGIST_DATA_DIR", str(tmp_path))
    assert db.default_database_url() == "postgresql+psycopg://u@h/db"
    monkeypatch.delenv(db.DATABASE_URL_ENV)
    assert db.default_database_url() == f"sqlite:///{tmp_path / db.DATABASE_FILE}"
    monkeypatch.delenv("EUSGIST_DATA_DIR")
    assert db.default_database_url() == f"sqlite:///{db.DEFAULT_DIR / db.DATABASE_FILE}"
    assert db.DEFAULT_DIR.name == "annotations"
