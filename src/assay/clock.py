"""The one source of time. UTC, RFC 3339 with ``Z``; injectable for tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["Clock", "FixedClock", "SystemClock", "format_rfc3339", "parse_rfc3339"]


class Clock:
    """Base clock; subclasses provide :meth:`now`."""

    def now(self) -> datetime:
        raise NotImplementedError

    def monotonic(self) -> float:
        return time.monotonic()


class SystemClock(Clock):
    """Wall-clock UTC time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock(Clock):
    """A clock that only moves when told to (tests, reproducible exports)."""

    def __init__(self, start: datetime, tick: Callable[[datetime], datetime] | None = None) -> None:
        if start.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self._now = start.astimezone(UTC)
        self._tick = tick

    def now(self) -> datetime:
        current = self._now
        if self._tick is not None:
            self._now = self._tick(current)
        return current

    def set(self, value: datetime) -> None:
        self._now = value.astimezone(UTC)


def format_rfc3339(value: datetime) -> str:
    """``2026-01-02T03:04:05.123456Z`` (microseconds only when present)."""
    if value.tzinfo is None:
        raise ValueError("refusing to format a naive datetime; use UTC")
    utc = value.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}"
    return text + "Z"


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 timestamp; naive values are rejected."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no timezone; use a Z suffix")
    return parsed.astimezone(UTC)
