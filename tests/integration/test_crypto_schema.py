"""The crypto tables created by the Alembic migration match the SQLAlchemy models."""

from __future__ import annotations

from sqlalchemy import inspect

from assay.crypto import models
from assay.instance import Instance

TABLES = [
    "crypto_tenants",
    "crypto_keks",
    "crypto_data_keys",
    "crypto_local_keks",
    "crypto_transcripts",
]


def _shape(columns: list[dict]) -> dict[str, tuple[str, bool]]:  # type: ignore[type-arg]
    return {c["name"]: (type(c["type"]).__name__, bool(c["nullable"])) for c in columns}


def test_migrated_schema_matches_models(instance: Instance) -> None:
    inspector = inspect(instance.db.engine)
    for name in TABLES:
        table = models.Base.metadata.tables[name]
        migrated = inspector.get_columns(name)
        assert [c["name"] for c in migrated] == [c.name for c in table.columns], name
        expected = {c.name: bool(c.nullable) for c in table.columns}
        assert {n: nullable for n, (_t, nullable) in _shape(migrated).items()} == expected, name
        migrated_types = {c["name"]: c["type"] for c in migrated}
        for column in table.columns:
            compiled = column.type.compile(dialect=instance.db.engine.dialect)
            assert (
                migrated_types[column.name]
                .compile(dialect=instance.db.engine.dialect)
                .split("(")[0]
                == compiled.split("(")[0]
            ), (name, column.name)
        pk = inspector.get_pk_constraint(name)["constrained_columns"]
        assert pk == [c.name for c in table.primary_key.columns], name
        indexes = {tuple(i["column_names"]) for i in inspector.get_indexes(name)}
        assert indexes == {tuple(c.name for c in i.columns) for i in table.indexes}, name
