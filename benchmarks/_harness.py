"""Small timing helpers shared by the benchmark modules."""

from __future__ import annotations

import time
from collections.abc import Callable


def rate(operation: Callable[[], int], *, min_seconds: float = 1.0) -> float:
    """Operations per second: call ``operation`` (which returns how many it did) repeatedly."""
    done = 0
    start = time.perf_counter()
    while True:
        done += operation()
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return done / elapsed


def percentile(samples: list[float], pct: float) -> float:
    """The ``pct`` percentile (0-100) by nearest rank."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]
