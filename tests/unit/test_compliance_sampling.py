"""Sample sizes by frequency, audit-firm overrides, and the seeded spread selection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.clock import format_rfc3339
from assay.compliance import load_sample_sizes, parse_period, sample_size
from assay.compliance._timeutil import Period
from assay.compliance.sampling import _pick
from assay.errors import ComplianceError, UsageError


@pytest.mark.parametrize(
    ("frequency", "population", "size"),
    [
        ("annual", 1, 1), ("annual", 5, 1), ("quarterly", 4, 2), ("monthly", 12, 2), ("weekly", 52, 5),
        ("daily", 365, 25), ("continuous", 5000, 40), ("daily", 10, 10), ("weekly", 0, 0),
        ("ad_hoc", 7, 7), ("ad_hoc", 10, 10), ("ad_hoc", 11, 8), ("ad_hoc", 50, 8), ("ad_hoc", 51, 15),
        ("ad_hoc", 250, 15), ("ad_hoc", 251, 25), ("ad_hoc", 0, 0),
    ],
)
def test_sample_size_table(frequency: str, population: int, size: int) -> None:
    assert sample_size(frequency, population) == size  # type: ignore[arg-type]


def test_audit_firm_override(tmp_path: Path) -> None:
    path = tmp_path / "firm.yaml"
    path.write_text("sizes: {daily: 30}\nad_hoc: [[5, null], [null, 10]]\n")
    table = load_sample_sizes(path)
    assert sample_size("daily", 365, table) == 30
    assert sample_size("weekly", 52, table) == 5
    assert sample_size("ad_hoc", 5, table) == 5
    assert sample_size("ad_hoc", 100, table) == 10


@pytest.mark.parametrize("text", ["sizes: {hourly: 3}\n", "sizes: [1]\n", "sizes: {daily: x}\n"])
def test_bad_override_names_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "firm.yaml"
    path.write_text(text)
    with pytest.raises(ComplianceError, match=r"firm\.yaml"):
        load_sample_sizes(path)


@pytest.mark.parametrize("text", ["2026-01-01", "2026-02-01..2026-01-01", "x..y", "..2026-01-01"])
def test_bad_periods(text: str) -> None:
    with pytest.raises(UsageError):
        parse_period(text)


def test_period_includes_the_whole_last_day() -> None:
    period = parse_period("2026-01-01..2026-01-31")
    assert period.start == datetime(2026, 1, 1, tzinfo=UTC)
    assert period.end == datetime(2026, 2, 1, tzinfo=UTC)


PERIOD = Period(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))


def _items(offsets: list[int]) -> list[dict[str, object]]:
    return [
        {"id": str(i), "time": format_rfc3339(PERIOD.start + timedelta(minutes=m)), "kind": "x"}
        for i, m in enumerate(sorted(offsets))
    ]


@settings(max_examples=60, deadline=None)
@given(
    offsets=st.lists(st.integers(min_value=0, max_value=525_000), min_size=0, max_size=300),
    size=st.integers(min_value=1, max_value=40),
    seed=st.binary(min_size=32, max_size=32),
)
def test_pick_is_a_reproducible_subset_of_the_right_size(offsets: list[int], size: int, seed: bytes) -> None:
    items = _items(offsets)
    first = _pick(items, size, seed, PERIOD)
    assert first == _pick(items, size, seed, PERIOD)
    assert len(first) == min(size, len(items))
    assert len({i["id"] for i in first}) == len(first)
    assert all(i in items for i in first)


def test_pick_spreads_over_the_period() -> None:
    # Daily occurrences for a year; a sample of 25 takes one from each ~2-week slice.
    items = _items([d * 1440 for d in range(365)])
    chosen = _pick(items, 25, b"\x01" * 32, PERIOD)
    days = sorted(int(i["id"]) for i in chosen)
    assert len(days) == 25
    slices = {int(d / 365 * 25) for d in days}
    assert len(slices) == 25


def test_different_seed_different_sample() -> None:
    items = _items([d * 1440 for d in range(365)])
    assert _pick(items, 25, b"\x01" * 32, PERIOD) != _pick(items, 25, b"\x02" * 32, PERIOD)
