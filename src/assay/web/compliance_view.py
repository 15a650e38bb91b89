"""What the compliance pages show, read from the compliance engine.

The assessment is computed from stored check results and evidence (no check is run by
viewing a page); the overview keeps one snapshot a day for the trend chart.
"""

from __future__ import annotations

import functools
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assay.compliance import (
    ControlLibrary,
    EvidenceInfo,
    add_evidence,
    assess,
    check_registry,
    export_package,
    list_evidence,
    load_library,
    parse_period,
    run_checks,
)
from assay.compliance.checks import check_history
from assay.errors import NotFoundError
from assay.instance import Instance
from assay.web.readiness import CATEGORY_LABELS, category_scores, record_snapshot

__all__ = [
    "ControlFilter",
    "assessment",
    "build_export",
    "control_detail",
    "evidence_items",
    "filter_controls",
    "library",
    "overview_figures",
    "run_all_checks",
    "store_upload",
]


@functools.cache
def library() -> ControlLibrary:
    """The built-in control library (parsed and cross-checked once per process)."""
    return load_library()


def assessment(instance: Instance) -> dict[str, Any]:
    return assess(instance, library(), check_registry())


def overview_figures(instance: Instance) -> dict[str, Any]:
    report = assessment(instance)
    scores = category_scores(report)
    overall = float(report["summary"]["readiness_score"])
    record_snapshot(instance, instance.clock.now().date(), overall, scores)
    categories = [
        {
            "name": CATEGORY_LABELS[key],
            "score": score,
            "status": report["summary"]["categories"].get(key, "not_tested"),
        }
        for key, score in scores.items()
    ]
    return {
        "overall": overall,
        "categories": categories,
        "gaps": report["gaps"][:15],
        "counts": report["summary"]["controls"],
    }


def _category_of(report: dict[str, Any]) -> dict[str, set[str]]:
    """Control id -> the categories of the criteria it serves."""
    found: dict[str, set[str]] = {}
    for criterion in report["criteria"]:
        for control_id in criterion["controls"]:
            found.setdefault(control_id, set()).add(CATEGORY_LABELS.get(criterion["category"], ""))
    return found


@dataclass(frozen=True)
class ControlFilter:
    category: str = ""
    criterion: str = ""
    status: str = ""


_ORDER = {"failing": 0, "at_risk": 1, "not_tested": 2, "passing": 3, "not_applicable": 4}


def filter_controls(report: dict[str, Any], wanted: ControlFilter) -> list[dict[str, Any]]:
    """Controls matching the filter, failing first."""
    categories = _category_of(report)
    rows = []
    for control in report["controls"]:
        cats = categories.get(control["id"], set())
        if wanted.category and wanted.category not in cats:
            continue
        if wanted.criterion and not any(
            c.upper().startswith(wanted.criterion.strip().upper()) for c in control["criteria"]
        ):
            continue
        if wanted.status and control["status"] != wanted.status:
            continue
        rows.append({**control, "categories": sorted(c for c in cats if c)})
    return sorted(rows, key=lambda c: (_ORDER.get(c["status"], 9), c["id"]))


def control_detail(instance: Instance, control_id: str) -> dict[str, Any]:
    report = assessment(instance)
    for control in report["controls"]:
        if control["id"] == control_id:
            definition = library().controls[control_id]
            history = {
                check["id"]: check_history(instance, check["id"], limit=30)
                for check in control["checks"]
            }
            evidence = list_evidence(instance, control_id)
            return {
                "view": control,
                "definition": definition,
                "history": history,
                "evidence": evidence,
            }
    raise NotFoundError(
        f"there is no control {control_id!r}", hint="Pick one from the controls list."
    )


def run_all_checks(instance: Instance) -> int:
    return len(run_checks(instance))


def store_upload(
    instance: Instance,
    filename: str,
    content: bytes,
    *,
    control_id: str,
    effective: datetime,
    owner: str,
    actor: str,
) -> EvidenceInfo:
    """Write the upload to a private temporary file and add it as evidence."""
    safe = Path(filename).name or "evidence"
    with tempfile.TemporaryDirectory(prefix="assay-upload-") as folder:
        path = Path(folder) / safe
        path.write_bytes(content)
        return add_evidence(
            instance,
            library(),
            str(path),
            control_id=control_id,
            effective=effective,
            owner=owner,
            actor=actor,
        )


def build_export(
    instance: Instance, start: str, end: str, folder: Path
) -> tuple[Path, dict[str, Any]]:
    period = parse_period(f"{start}..{end}")
    out = folder / f"assay-audit-{start}-{end}.zip"
    result = export_package(instance, library(), period, out)
    return out, result


def effective_of(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def evidence_items(instance: Instance) -> list[EvidenceInfo]:
    """All evidence, newest effective date first."""
    return sorted(list_evidence(instance), key=lambda e: e.effective_at, reverse=True)
