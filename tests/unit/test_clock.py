from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from assay.clock import FixedClock, format_rfc3339, parse_rfc3339


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "2026-01-02T03:04:05Z"),
        (datetime(2026, 1, 2, 3, 4, 5, 120, tzinfo=UTC), "2026-01-02T03:04:05.000120Z"),
        (datetime(2026, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2))), "2026-01-02T03:04:05Z"),
    ],
)
def test_format_is_utc_with_z(value: datetime, text: str) -> None:
    assert format_rfc3339(value) == text
    assert parse_rfc3339(text) == value


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        format_rfc3339(datetime(2026, 1, 1))  # noqa: DTZ001
    with pytest.raises(ValueError, match="timezone"):
        parse_rfc3339("2026-01-01T00:00:00")
    with pytest.raises(ValueError, match="timezone-aware"):
        FixedClock(datetime(2026, 1, 1))  # noqa: DTZ001


def test_fixed_clock_ticks_only_when_told() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    clock = FixedClock(start, tick=lambda t: t + timedelta(seconds=1))
    assert clock.now() == start
    assert clock.now() == start + timedelta(seconds=1)
