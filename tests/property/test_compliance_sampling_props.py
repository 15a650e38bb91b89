"""Properties of sample selection: reproducible, right-sized subsets spread over the period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from assay.clock import format_rfc3339
from assay.compliance import sample_size
from assay.compliance._timeutil import Period
from assay.compliance.library import FREQUENCIES
from assay.compliance.sampling import _pick

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


@given(frequency=st.sampled_from(FREQUENCIES), population=st.integers(min_value=0, max_value=100_000))
def test_sample_size_never_exceeds_the_population(frequency: str, population: int) -> None:
    size = sample_size(frequency, population)  # type: ignore[arg-type]
    assert 0 <= size <= population
    assert (size == 0) == (population == 0)
