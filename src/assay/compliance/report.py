"""Human renderings of an assessment: Markdown and HTML (autoescaped Jinja2)."""

from __future__ import annotations

import json
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from assay.compliance.assess import CONTROL_STATUSES

__all__ = ["render", "render_html", "render_json", "render_markdown"]


def _kind(report: dict[str, Any]) -> str:
    if report["summary"]["kind"] == "type2":
        return "Operating effectiveness over a period (Type II style)"
    return "Point in time (Type I style)"


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def render_markdown(report: dict[str, Any]) -> str:
    s = report["summary"]
    lines = ["# Readiness assessment", "", f"{_kind(report)}; generated {s['generated']}."]
    if s["period"]:
        lines.append(f"Period: {s['period']['from']} to {s['period']['to']}.")
    lines += ["", f"**Readiness score: {s['readiness_score']}%**", "", "| Status | Controls | Criteria |", "|---|---|---|"]
    lines += [f"| {st} | {s['controls'][st]} | {s['criteria'][st]} |" for st in CONTROL_STATUSES]
    lines += ["", "## Categories", "", "| Category | Status |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in s["categories"].items()]
    lines += ["", "## Gaps, most urgent first", "", "| # | Control | Status | Why | What to do |", "|---|---|---|---|---|"]
    lines += [
        f"| {g['rank']} | {g['control']} {_cell(g['title'])} | {g['status']} | {_cell(g['reason'])} | {_cell(g['todo'])} |"
        for g in report["gaps"]
    ]
    lines += ["", "## Criteria", "", "| Criterion | Title | Status | Controls |", "|---|---|---|---|"]
    lines += [f"| {c['id']} | {_cell(c['title'])} | {c['status']} | {', '.join(c['controls'])} |" for c in report["criteria"]]
    lines += ["", "## Controls", "", "| Control | Status | Frequency | Owner | Exceptions |", "|---|---|---|---|---|"]
    lines += [
        f"| {c['id']} {_cell(c['title'])} | {c['status']} | {c['frequency']} | {_cell(c['owner'])} | {len(c['exceptions'])} |"
        for c in report["controls"]
    ]
    exceptions = [(c["id"], e) for c in report["controls"] for e in c["exceptions"]]
    if exceptions:
        lines += ["", "## Exceptions", "", "| Control | Check | Time | Result |", "|---|---|---|---|"]
        lines += [f"| {cid} | {e['check']} | {e['time']} | {_cell(e['summary'])} |" for cid, e in exceptions]
    return "\n".join(lines) + "\n"


_ENV = Environment(
    loader=PackageLoader("assay.compliance", "templates"), autoescape=select_autoescape(["html"])
)


def render_html(report: dict[str, Any]) -> str:
    exceptions = [(c["id"], e) for c in report["controls"] for e in c["exceptions"]]
    return _ENV.get_template("assessment.html").render(
        report=report, s=report["summary"], kind_label=_kind(report), statuses=CONTROL_STATUSES,
        exceptions=exceptions,
    )


def render_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=False) + "\n"


def render(report: dict[str, Any], fmt: str) -> str:
    return {"json": render_json, "md": render_markdown, "html": render_html}[fmt](report)
