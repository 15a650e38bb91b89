"""Confidentiality: tenants, key-encryption keys, data keys, local KMS keys, transcript vault.

Revision ID: crypto_0001
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "crypto_0001"
down_revision = "0001_foundation"
branch_labels = ("crypto",)
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "crypto_tenants",
        sa.Column("name", sa.String(64), nullable=False),
        _ts("created_at"),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("retention_days", sa.Integer(), nullable=False),
        sa.Column("primary_version", sa.Integer(), nullable=False),
        _ts("erased_at", nullable=True),
        sa.Column("erased_by", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_crypto_tenants"),
    )
    op.create_table(
        "crypto_keks",
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kms", sa.String(32), nullable=False),
        sa.Column("key_ref", sa.String(512), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        _ts("created_at"),
        _ts("destroyed_at", nullable=True),
        sa.PrimaryKeyConstraint("tenant", "version", name="pk_crypto_keks"),
    )
    op.create_table(
        "crypto_data_keys",
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("subject_ref", sa.String(64), nullable=True),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("kek_version", sa.Integer(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("encryptions_reserved", sa.BigInteger(), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        _ts("created_at"),
        _ts("erased_at", nullable=True),
        sa.PrimaryKeyConstraint("key_id", name="pk_crypto_data_keys"),
    )
    op.create_index("ix_crypto_data_keys_tenant", "crypto_data_keys", ["tenant"])
    op.create_index("ix_crypto_data_keys_subject_ref", "crypto_data_keys", ["subject_ref"])
    op.create_table(
        "crypto_local_keks",
        sa.Column("key_ref", sa.String(64), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("key_ref", name="pk_crypto_local_keks"),
    )
    op.create_table(
        "crypto_transcripts",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("subject_ref", sa.String(64), nullable=True),
        sa.Column("conversation_id", sa.String(200), nullable=False),
        _ts("created_at"),
        _ts("retention_deadline"),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext_sha256", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_crypto_transcripts"),
    )
    op.create_index("ix_crypto_transcripts_tenant", "crypto_transcripts", ["tenant"])
    op.create_index("ix_crypto_transcripts_subject_ref", "crypto_transcripts", ["subject_ref"])
    op.create_index(
        "ix_crypto_transcripts_retention_deadline", "crypto_transcripts", ["retention_deadline"]
    )


def downgrade() -> None:
    for table in (
        "crypto_transcripts",
        "crypto_local_keks",
        "crypto_data_keys",
        "crypto_keks",
        "crypto_tenants",
    ):
        op.drop_table(table)
