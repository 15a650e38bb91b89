"""Alembic migrations, run programmatically (no alembic.ini needed).

Each area keeps its migrations on its own Alembic branch rooted at the
foundation revision, so the schema is upgraded to ``heads``.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import SQLAlchemyError

from assay.errors import StoreError
from assay.store.db import Database, redact_url

__all__ = ["alembic_config", "current_heads", "expected_heads", "upgrade"]


def alembic_config(db: Database) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "assay.store:migrations")
    cfg.attributes["engine"] = db.engine
    return cfg


def expected_heads(db: Database) -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config(db)).get_heads())


def current_heads(db: Database) -> set[str]:
    try:
        with db.engine.connect() as conn:
            return set(MigrationContext.configure(conn).get_current_heads())
    except SQLAlchemyError as exc:
        raise StoreError(
            f"cannot read the schema version of {redact_url(db.url)}: {exc}",
            hint="Check ASSAY_DATABASE_URL and run `assay init`.",
        ) from exc


def upgrade(db: Database) -> None:
    """Bring the schema to the latest revision of every branch. Idempotent."""
    try:
        command.upgrade(alembic_config(db), "heads")
    except SQLAlchemyError as exc:
        raise StoreError(
            f"migrating {redact_url(db.url)} failed: {exc}",
            hint="Check that the database user may create tables, then retry `assay init`.",
        ) from exc
