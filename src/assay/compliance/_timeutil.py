"""Small time helpers: aware datetimes from database values, period parsing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from assay.clock import format_rfc3339
from assay.errors import UsageError

__all__ = ["Period", "aware", "parse_day_or_time", "parse_period"]


def aware(value: Any) -> Any:
    """Database datetimes as aware UTC (SQLite raw SQL returns naive values or strings)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return value


def parse_day_or_time(text: str, *, end_of_day: bool = False) -> datetime:
    """``2026-01-31`` or an RFC 3339 time, as aware UTC."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime.combine(day, time.min, tzinfo=UTC)
            return moment + timedelta(days=1) if end_of_day else moment
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise UsageError(
            f"{text!r} is not a date", hint="Use YYYY-MM-DD or an RFC 3339 time such as 2026-01-31T00:00:00Z."
        ) from exc
    if parsed.tzinfo is None:
        raise UsageError(f"{text!r} has no time zone", hint="Add Z for UTC.")
    return parsed.astimezone(UTC)


@dataclass(frozen=True)
class Period:
    """A half-open time range [start, end)."""

    start: datetime
    end: datetime

    def as_json(self) -> dict[str, str]:
        return {"from": format_rfc3339(self.start), "to": format_rfc3339(self.end)}

    @property
    def label(self) -> str:
        return f"{self.start.date().isoformat()}..{(self.end - timedelta(microseconds=1)).date().isoformat()}"


def parse_period(text: str) -> Period:
    """``FROM..TO`` with inclusive dates (the whole TO day counts)."""
    start_text, sep, end_text = text.partition("..")
    if not sep or not start_text or not end_text:
        raise UsageError(f"period {text!r} is not FROM..TO", hint="Write it like 2026-01-01..2026-03-31.")
    start = parse_day_or_time(start_text)
    end = parse_day_or_time(end_text, end_of_day=True)
    if end <= start:
        raise UsageError(f"period {text!r} ends before it starts", hint="Put the earlier date first.")
    return Period(start, end)
