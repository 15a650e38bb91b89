"""Storage: SQLAlchemy 2 models, Alembic migrations and sessions (SQLite or PostgreSQL)."""

from assay.store.db import Database, open_database
from assay.store.migrate import current_heads, expected_heads, upgrade
from assay.store.models import Base, Meta

__all__ = [
    "Base",
    "Database",
    "Meta",
    "current_heads",
    "expected_heads",
    "open_database",
    "upgrade",
]
