"""Readiness per trust category from an assessment report, and its daily trend.

``category_scores`` is pure: it reads the ``criteria`` of a compliance assessment report
(each with a ``category`` and a rolled-up ``status``) and scores each category the way the
overall readiness score is computed: passing 1, at risk ½, failing or not tested 0, not
applicable left out.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from assay.instance import Instance
from assay.web.models import ReadinessSnapshot

__all__ = ["CATEGORY_LABELS", "category_scores", "record_snapshot", "trend"]

CATEGORY_LABELS = {
    "security": "Security",
    "availability": "Availability",
    "processing_integrity": "Processing integrity",
    "confidentiality": "Confidentiality",
    "privacy": "Privacy",
}
_POINTS = {"passing": 1.0, "at_risk": 0.5, "failing": 0.0, "not_tested": 0.0}


def category_scores(report: Mapping[str, Any]) -> dict[str, float | None]:
    """Score 0-100 per category (None when nothing in it applies), in the usual order."""
    statuses: dict[str, list[str]] = defaultdict(list)
    for criterion in report.get("criteria", []):
        statuses[str(criterion.get("category"))].append(str(criterion.get("status")))
    scores: dict[str, float | None] = {}
    for key in CATEGORY_LABELS:
        counted = [_POINTS[s] for s in statuses.get(key, []) if s in _POINTS]
        scores[key] = round(100 * sum(counted) / len(counted), 1) if counted else None
    return scores


def record_snapshot(
    instance: Instance, day: date, overall: float, scores: Mapping[str, float | None]
) -> None:
    """Keep today's figures (the last computation of the day wins)."""
    body = json.dumps({"overall": overall, "categories": dict(scores)}, sort_keys=True)
    now = instance.clock.now()
    with instance.db.session() as s:
        row = s.get(ReadinessSnapshot, day.isoformat())
        if row is None:
            s.add(ReadinessSnapshot(day=day.isoformat(), scores=body, taken_at=now))
        else:
            row.scores, row.taken_at = body, now


def trend(instance: Instance, today: date, days: int = 30) -> list[tuple[str, float]]:
    """``(day, overall score)`` for the days in the window that have a snapshot."""
    first = (today - timedelta(days=days - 1)).isoformat()
    with instance.db.session() as s:
        query = select(ReadinessSnapshot).where(ReadinessSnapshot.day >= first)
        rows = s.scalars(query.order_by(ReadinessSnapshot.day)).all()
        return [(row.day, float(json.loads(row.scores)["overall"])) for row in rows]
