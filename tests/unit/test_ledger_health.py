"""The doctor finding for the ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from assay.ledger.health import _finding
from assay.ledger.models import LedgerCheckpoint

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _checkpoint(size: int, age_s: int) -> LedgerCheckpoint:
    created = NOW - timedelta(seconds=age_s)
    return LedgerCheckpoint(size=size, root_hash=b"\x00" * 32, note="", created_at=created)


@pytest.mark.parametrize(
    ("size", "checkpoint", "status"),
    [
        (0, None, "ok"),
        (5, _checkpoint(5, 3600), "ok"),
        (6, _checkpoint(5, 2), "ok"),
        (6, _checkpoint(5, 3600), "warn"),
        (3, None, "warn"),
    ],
)
def test_ledger_finding(size: int, checkpoint: LedgerCheckpoint | None, status: str) -> None:
    assert _finding(size, checkpoint, NOW).status == status
