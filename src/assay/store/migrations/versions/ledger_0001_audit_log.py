"""Ledger: entries, tiles and signed checkpoints of the audit log.

Revision ID: ledger_0001
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ledger_0001"
down_revision = "0001_foundation"
branch_labels = ("ledger",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column(
            "idx", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False
        ),
        sa.Column("event_type", sa.String(128), nullable=False),
        sa.Column("tenant", sa.String(200), nullable=True),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("leaf", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.PrimaryKeyConstraint("idx", name="pk_ledger_entries"),
    )
    op.create_index("ix_ledger_entries_event_type", "ledger_entries", ["event_type"])
    op.create_index("ix_ledger_entries_tenant", "ledger_entries", ["tenant"])
    op.create_index("ix_ledger_entries_event_time", "ledger_entries", ["event_time"])
    op.create_table(
        "ledger_tiles",
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("tile_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("hashes", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("level", "tile_index", name="pk_ledger_tiles"),
    )
    op.create_table(
        "ledger_checkpoints",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("size", name="pk_ledger_checkpoints"),
    )


def downgrade() -> None:
    op.drop_table("ledger_checkpoints")
    op.drop_table("ledger_tiles")
    op.drop_index("ix_ledger_entries_event_time", "ledger_entries")
    op.drop_index("ix_ledger_entries_tenant", "ledger_entries")
    op.drop_index("ix_ledger_entries_event_type", "ledger_entries")
    op.drop_table("ledger_entries")
