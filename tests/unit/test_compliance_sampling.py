"""Sample sizes by frequency, audit-firm overrides, and the seeded spread selection."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from assay.compliance import load_sample_sizes, parse_period, sample_size
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
