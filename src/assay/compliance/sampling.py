"""Populations and reproducible samples for Type II testing.

A population is every occurrence of a control in a period, produced by one
recorded query; its SHA-256 (over RFC 8785 JSON of the query and the items)
seeds the sample, so the same population always yields the same sample. The
period is cut into as many equal slices as the sample size and one item is
drawn from each slice, so the sample is spread over the period.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Connection, bindparam, inspect, text

from assay.clock import format_rfc3339, parse_rfc3339
from assay.compliance._timeutil import Period, aware
from assay.compliance.checks import CheckSpec, canonical
from assay.compliance.library import Control, ControlLibrary, Frequency
from assay.errors import ComplianceError
from assay.instance import Instance

__all__ = ["DEFAULT_SIZES", "SampleSizes", "build_sample", "load_sample_sizes", "sample_size"]

DEFAULT_SIZES: dict[str, int] = {
    "annual": 1,
    "quarterly": 2,
    "monthly": 2,
    "weekly": 5,
    "daily": 25,
    "continuous": 40,
}
# Ad hoc controls: (largest population, sample size); None = test every occurrence.
DEFAULT_AD_HOC: list[tuple[int | None, int | None]] = [(10, None), (50, 8), (250, 15), (None, 25)]


class SampleSizes(BaseModel):
    """An audit firm's sample size table (overrides the defaults)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sizes: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_SIZES))
    ad_hoc: list[tuple[int | None, int | None]] = Field(
        default_factory=lambda: list(DEFAULT_AD_HOC)
    )


def load_sample_sizes(path: Path | None) -> SampleSizes:
    if path is None:
        return SampleSizes()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        given = SampleSizes.model_validate(raw)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ComplianceError(
            f"{path}: sample size table is invalid: {exc}",
            hint="Write `sizes: {daily: 30}` and optionally `ad_hoc: [[10, null], [50, 8]]`.",
        ) from exc
    unknown = set(given.sizes) - set(DEFAULT_SIZES)
    if unknown:
        raise ComplianceError(
            f"{path}: field sizes names unknown frequency {sorted(unknown)[0]!r}",
            hint=f"Use {', '.join(DEFAULT_SIZES)} (ad hoc goes under ad_hoc).",
        )
    return SampleSizes(sizes={**DEFAULT_SIZES, **given.sizes}, ad_hoc=given.ad_hoc)


def sample_size(frequency: Frequency, population: int, table: SampleSizes | None = None) -> int:
    table = table or SampleSizes()
    if frequency == "ad_hoc":
        for limit, size in table.ad_hoc:
            if limit is None or population <= limit:
                return population if size is None else min(size, population)
        return population
    return min(table.sizes[frequency], population)


@dataclass(frozen=True)
class _Query:
    source: str
    sql: str
    params: dict[str, Any]


def _query(control: Control, registry: dict[str, CheckSpec], period: Period) -> _Query:
    source = control.population_source
    bounds = {"start": format_rfc3339(period.start), "end": format_rfc3339(period.end)}
    if source.source == "ledger":
        sql = (
            "SELECT idx AS id, event_time AS time, event_type AS kind FROM ledger_entries "
            "WHERE event_type IN :types AND event_time >= :start AND event_time < :end ORDER BY event_time, idx"
        )
        return _Query("ledger", sql, {"types": sorted(source.event_types), **bounds})
    if source.source == "evidence":
        sql = (
            "SELECT id, effective_at AS time, kind FROM compliance_evidence WHERE control_id = :control "
            "AND effective_at >= :start AND effective_at < :end ORDER BY effective_at, id"
        )
        return _Query("evidence", sql, {"control": control.id, **bounds})
    checks = sorted(s.id for s in registry.values() if control.id in s.controls)
    sql = (
        "SELECT id, ran_at AS time, status AS kind FROM check_results WHERE check_id IN :checks "
        "AND ran_at >= :start AND ran_at < :end ORDER BY ran_at, id"
    )
    return _Query("checks", sql, {"checks": checks, **bounds})


def _run(instance: Instance, query: _Query, period: Period) -> list[dict[str, Any]]:
    table = {
        "ledger": "ledger_entries",
        "evidence": "compliance_evidence",
        "checks": "check_results",
    }[query.source]
    if table not in inspect(instance.db.engine).get_table_names():
        return []
    params: dict[str, Any] = {**query.params, "start": period.start, "end": period.end}
    statement = text(query.sql)
    for name in ("types", "checks"):
        if name in params:
            statement = statement.bindparams(bindparam(name, expanding=True))
            if not params[name]:
                return []
    with instance.db.engine.connect() as conn:
        rows = conn.execute(statement, params)
        items = [
            {"id": str(r.id), "time": format_rfc3339(aware(r.time)), "kind": r.kind} for r in rows
        ]
        if query.source == "ledger":
            cancelled = cancelled_indices(conn)
            items = [item for item in items if item["id"] not in cancelled]
    return items


def cancelled_indices(conn: Connection) -> set[str]:
    """Ledger indices a later ``crypto.step_aborted`` event cancels (ADR 0022)."""
    leaves = conn.execute(
        text("SELECT leaf FROM ledger_entries WHERE event_type = 'crypto.step_aborted'")
    )
    cited: set[str] = set()
    for (leaf,) in leaves:
        cited.update(str(json.loads(bytes(leaf))["object_ids"].get("event_index", "")).split(","))
    return cited - {""}


def _pick(
    items: list[dict[str, Any]], size: int, seed: bytes, period: Period
) -> list[dict[str, Any]]:
    """One item per equal slice of the period, chosen by SHA-256(seed || slice number)."""
    if size >= len(items):
        return list(items)
    span = (period.end - period.start).total_seconds()
    slices: list[list[int]] = [[] for _ in range(size)]
    for position, item in enumerate(items):
        offset = (parse_rfc3339(item["time"]) - period.start).total_seconds()
        slices[min(size - 1, int(offset / span * size))].append(position)
    chosen: list[int] = []
    for number, members in enumerate(slices):
        if members:
            chosen.append(members[_draw(seed, number, len(members))])
    rest = [i for i in range(len(items)) if i not in set(chosen)]
    draw = size
    while len(chosen) < size:  # some slices were empty: fill from the rest, still seeded
        chosen.append(rest.pop(_draw(seed, draw, len(rest))))
        draw += 1
    return [items[i] for i in sorted(chosen)]


def _draw(seed: bytes, number: int, modulus: int) -> int:
    digest = hashlib.sha256(seed + number.to_bytes(8, "big")).digest()
    return int.from_bytes(digest[:8], "big") % modulus


def build_sample(
    instance: Instance,
    library: ControlLibrary,
    registry: dict[str, CheckSpec],
    control_id: str,
    period: Period,
    *,
    sizes: SampleSizes | None = None,
) -> dict[str, Any]:
    """The population of a control in ``period`` and its reproducible sample."""
    control = library.control(control_id)
    query = _query(control, registry, period)
    items = _run(instance, query, period)
    population = {
        "control": control.id,
        "period": period.as_json(),
        "source": query.source,
        "query": query.sql,
        "parameters": query.params,
        "items": items,
    }
    digest = hashlib.sha256(canonical(population)).hexdigest()
    size = sample_size(control.frequency, len(items), sizes)
    chosen = _pick(items, size, bytes.fromhex(digest), period)
    return {
        "control": control.id,
        "title": control.title,
        "frequency": control.frequency,
        "period": period.as_json(),
        "population": {
            "source": query.source,
            "query": query.sql,
            "parameters": query.params,
            "size": len(items),
            "sha256": digest,
            "items": items,
        },
        "sample": {
            "size": len(chosen),
            "method": "one item per equal slice of the period; index = SHA-256(population hash || "
            "slice number as 8-byte big-endian) mod slice size",
            "seed": digest,
            "items": chosen,
        },
    }
