"""Gateway figures for the dashboard, read from the ``gateway.request`` ledger events.

The ledger is durable and shared by every replica, so these figures survive restarts and
cover the whole deployment (the Prometheus counters at ``/metrics`` are per process). Only
the newest served requests of the window are read (``MAX_EVENTS``; evaluation requests met on
the way are counted apart and do not use up the sample); the page says when it sampled.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from assay.ledger.models import LedgerEntry
from assay.store import Database

__all__ = ["MAX_EVENTS", "GatewayFigures", "UpstreamFigures", "gateway_figures"]

MAX_EVENTS = 20_000
EVENT_TYPE = "gateway.request"
#: Events read per query, and at most this many pages: a window of mostly evaluation requests
#: still renders in bounded time (and says it sampled).
_PAGE = 5_000
_MAX_PAGES = 16


@dataclass
class UpstreamFigures:
    name: str
    requests: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    @property
    def p95_ms(self) -> float | None:
        return percentile(self.latencies_ms, 95)

    @property
    def health(self) -> str:
        if not self.requests:
            return "no traffic"
        return "degraded" if self.error_rate >= 0.05 else "healthy"


@dataclass
class GatewayFigures:
    since: datetime
    requests: int
    sampled: bool
    per_hour: list[tuple[str, float]]
    statuses: dict[str, int]
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    overhead_p50_ms: float | None
    overhead_p95_ms: float | None
    redactions: list[tuple[str, float]]
    upstreams: list[UpstreamFigures]
    #: Requests made by model evaluations (``assay eval run``): shown apart, not in the figures above.
    evaluation_requests: int = 0


def percentile(values: list[float], pct: int) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-pct * len(ordered) // 100))
    return ordered[rank - 1]


def gateway_figures(
    db: Database, now: datetime, configured: list[str], hours: int = 24
) -> GatewayFigures:
    since = now - timedelta(hours=hours)
    served, evaluations, sampled = _newest_requests(db, since)
    buckets = Counter((now - when) // timedelta(hours=1) for when, _ in served)
    per_hour = [
        ((now - timedelta(hours=back)).strftime("%m-%d %H:00"), float(buckets.get(back, 0)))
        for back in range(hours - 1, -1, -1)
    ]
    figures = _summarise([attrs for _, attrs in served], since, per_hour, configured, sampled)
    figures.evaluation_requests = evaluations
    return figures


def _newest_requests(db: Database, since: datetime) -> tuple[list[tuple[datetime, dict[str, Any]]], int, bool]:
    """(the newest served requests since ``since``, at most ``MAX_EVENTS``; how many evaluation
    requests were met reading them; whether the window may hold more than was read)."""
    served: list[tuple[datetime, dict[str, Any]]] = []
    evaluations = 0
    before: int | None = None
    with db.session() as s:
        for _ in range(_MAX_PAGES):
            query = select(LedgerEntry.idx, LedgerEntry.event_time, LedgerEntry.leaf).where(
                LedgerEntry.event_type == EVENT_TYPE, LedgerEntry.event_time >= since
            )
            if before is not None:
                query = query.where(LedgerEntry.idx < before)
            rows = s.execute(query.order_by(LedgerEntry.idx.desc()).limit(_PAGE)).all()
            for _, when, leaf in rows:
                attrs = _attributes(leaf)
                if "evaluation" in attrs:
                    evaluations += 1
                    continue
                served.append((when, attrs))
                if len(served) >= MAX_EVENTS:
                    return served, evaluations, True
            if len(rows) < _PAGE:
                return served, evaluations, False
            before = rows[-1][0]
    return served, evaluations, True


def _attributes(leaf: bytes) -> dict[str, Any]:
    try:
        attrs = json.loads(leaf).get("attributes", {})
    except (ValueError, AttributeError):
        return {}
    return attrs if isinstance(attrs, dict) else {}


def _summarise(
    events: list[dict[str, Any]],
    since: datetime,
    per_hour: list[tuple[str, float]],
    configured: list[str],
    sampled: bool,
) -> GatewayFigures:
    statuses: Counter[str] = Counter()
    redactions: Counter[str] = Counter()
    latency: list[float] = []
    overhead: list[float] = []
    upstreams = {name: UpstreamFigures(name) for name in configured}
    for attrs in events:
        status = _int(attrs.get("status"))
        statuses[str(status) if status else "unknown"] += 1
        total, upstream_us = _int(attrs.get("latency_us")), _int(attrs.get("upstream_latency_us"))
        if total:
            latency.append(total / 1000)
            overhead.append(max(total - upstream_us, 0) / 1000)
        for key, count in (attrs.get("redactions") or {}).items():
            redactions[str(key).rpartition(".")[2] or str(key)] += _int(count)
        name = attrs.get("upstream")
        if isinstance(name, str) and name:
            figures = upstreams.setdefault(name, UpstreamFigures(name))
            figures.requests += 1
            figures.errors += 1 if status >= 500 else 0
            if upstream_us:
                figures.latencies_ms.append(upstream_us / 1000)
    return GatewayFigures(
        since=since,
        requests=len(events),
        sampled=sampled,
        per_hour=per_hour,
        statuses=dict(sorted(statuses.items())),
        latency_p50_ms=percentile(latency, 50),
        latency_p95_ms=percentile(latency, 95),
        overhead_p50_ms=percentile(overhead, 50),
        overhead_p95_ms=percentile(overhead, 95),
        redactions=[(k, float(v)) for k, v in redactions.most_common(12)],
        upstreams=sorted(upstreams.values(), key=lambda u: u.name),
    )


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
