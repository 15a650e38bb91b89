"""Migrations and sessions on both engines."""

from __future__ import annotations

from sqlalchemy import text

from assay.config import Settings
from assay.errors import StoreError
from assay.instance import Instance, init_instance, open_instance
from assay.store import current_heads, expected_heads, open_database


def test_migrations_reach_every_head(instance: Instance) -> None:
    assert current_heads(instance.db) == expected_heads(instance.db)
    assert instance.instance_id


def test_init_is_idempotent(settings: Settings) -> None:
    first = init_instance(settings)
    second = init_instance(settings)
    assert first.instance_id == second.instance_id


def test_open_before_init_names_the_fix(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True)
    db = open_database(settings.sqlalchemy_url)
    db.dispose()
    try:
        open_instance(settings)
    except StoreError as exc:
        assert "assay init" in exc.hint
    else:  # pragma: no cover
        raise AssertionError("open_instance accepted an uninitialised database")


def test_sqlite_runs_in_wal_mode(instance: Instance) -> None:
    if not instance.db.is_sqlite:
        return
    with instance.db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
