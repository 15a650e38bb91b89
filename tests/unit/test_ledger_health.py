"""The doctor finding for the ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from assay.ledger.health import _finding
from assay.ledger.models import LedgerCheckpoint


def _checkpoint(size: int, age_s: int) -> LedgerCheckpoint:
    created = datetime.now(UTC) - timedelta(seconds=age_s)
    return LedgerCheckpoint(size=size, root_hash=b"\x00" * 32, note="", created_at=created)


@pytest.mark.parametrize(
    ("size", "checkpoint", "status"),
    [
        (0, None, "ok"),
        (5, (5, 3600), "ok"),
        (6, (5, 2), "ok"),
        (6, (5, 3600), "warn"),
        (3, None, "warn"),
    ],
)
def test_ledger_finding(size: int, checkpoint: tuple[int, int] | None, status: str) -> None:
    latest = _checkpoint(*checkpoint) if checkpoint else None  # built now: its age is relative
    assert _finding(size, latest).status == status
