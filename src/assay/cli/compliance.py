"""CLI of the compliance engine: controls, criteria, checks, evidence, assess, audit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from assay.cli._common import (
    DataDirOption,
    JsonOption,
    console,
    err_console,
    instance_for,
    settings_for,
)
from assay.errors import UsageError

controls_app = typer.Typer(help="The control library.", no_args_is_help=True)
criteria_app = typer.Typer(help="Trust Services Criteria and their coverage.", no_args_is_help=True)
checks_app = typer.Typer(help="Automated control checks.", no_args_is_help=True)
evidence_app = typer.Typer(help="Evidence for controls, stored encrypted.", no_args_is_help=True)
audit_app = typer.Typer(help="Populations, samples and the auditor package.", no_args_is_help=True)

_COLOURS = {
    "pass": "green", "passing": "green", "fail": "red", "failing": "red", "error": "red",
    "at_risk": "yellow", "not_tested": "dim", "not_applicable": "dim",
}


def _coloured(status: str | None) -> str:
    if status is None:
        return "[dim]-[/]"
    return f"[{_COLOURS.get(status, 'white')}]{status}[/]"


def _library(data_dir: Path | None) -> Any:
    from assay.compliance import load_library

    return load_library(settings_for(data_dir).compliance.library)


def _print_json(value: object) -> None:
    typer.echo(json.dumps(value, indent=2))


@controls_app.command("list")
def controls_list(
    criterion: Annotated[str | None, typer.Option("--criterion", help="Only controls for this criterion.")] = None,
    as_json: JsonOption = False,
    data_dir: DataDirOption = None,
) -> None:
    """List the controls (optionally those addressing one criterion)."""
    library = _library(data_dir)
    controls = library.controls_for(criterion) if criterion else list(library.controls.values())
    if as_json:
        _print_json([c.model_dump(mode="json") for c in controls])
        return
    table = Table(title=f"{len(controls)} controls" + (f" for {criterion.upper()}" if criterion else ""))
    for column in ("id", "title", "criteria", "frequency", "kind", "owner"):
        table.add_column(column)
    for c in controls:
        kind = ("automated" if c.automated else "manual") + (" AI" if c.ai else "")
        table.add_row(c.id, escape(c.title), ", ".join(c.criteria), c.frequency, kind, escape(c.owner))
    console.print(table)


@controls_app.command("show")
def controls_show(
    control_id: Annotated[str, typer.Argument(help="Control id, e.g. AS-ACC-01.")],
    as_json: JsonOption = False,
    data_dir: DataDirOption = None,
) -> None:
    """Show one control with its criteria, mappings, evidence requests and test procedures."""
    from assay.compliance import check_registry

    library = _library(data_dir)
    control = library.control(control_id)
    checks = [s.id for s in check_registry().values() if control.id in s.controls]
    if as_json:
        _print_json({**control.model_dump(mode="json"), "checks": checks, "source": library.sources[control.id]})
        return
    console.print(f"[bold]{control.id}[/] {escape(control.title)}")
    console.print(escape(control.statement))
    rows = [
        ("criteria", ", ".join(control.criteria)),
        *((f"{k} mapping", ", ".join(v)) for k, v in control.mappings.items()),
        ("frequency", control.frequency),
        ("automated", "yes" if control.automated else "no"),
        ("owner", control.owner),
        ("checks", ", ".join(checks) or "-"),
        ("evidence requests", "; ".join(control.evidence)),
        ("Type I test", control.tests.type1),
        ("Type II test", control.tests.type2),
        ("defined in", library.sources[control.id]),
    ]
    table = Table(show_header=False)
    table.add_column("field")
    table.add_column("value")
    for name, value in rows:
        table.add_row(name, escape(value))
    console.print(table)


@criteria_app.command("list")
def criteria_list(as_json: JsonOption = False, data_dir: DataDirOption = None) -> None:
    """List the 61 criteria with the controls covering each."""
    library = _library(data_dir)
    rows = [
        {"id": c.id, "title": c.title, "category": c.category, "series": library.series_title(c.id),
         "controls": [x.id for x in library.controls_for(c.id)]}
        for c in library.criteria
    ]
    if as_json:
        _print_json(rows)
        return
    table = Table(title=f"{len(rows)} Trust Services Criteria")
    for column in ("id", "title", "category", "controls", "covered by"):
        table.add_column(column)
    for r in rows:
        table.add_row(r["id"], escape(r["title"] or ""), r["category"] or "", str(len(r["controls"])), ", ".join(r["controls"]))
    console.print(table)


@checks_app.command("list")
def checks_list(as_json: JsonOption = False) -> None:
    """List the registered checks and the controls they test."""
    from assay.compliance import check_registry

    registry = check_registry()
    if as_json:
        _print_json([{"id": s.id, "title": s.title, "controls": list(s.controls)} for s in registry.values()])
        return
    table = Table(title=f"{len(registry)} checks")
    for column in ("id", "title", "controls"):
        table.add_column(column)
    for s in registry.values():
        table.add_row(s.id, escape(s.title), ", ".join(s.controls))
    console.print(table)


@checks_app.command("run")
def checks_run(
    only: Annotated[list[str] | None, typer.Option("--check", help="Run only this check (repeatable).")] = None,
    as_json: JsonOption = False,
    data_dir: DataDirOption = None,
) -> None:
    """Run the checks now and store each result in the history."""
    from assay.compliance import run_checks

    instance = instance_for(data_dir)
    try:
        with err_console.status("running checks"):
            results = run_checks(instance, only)
    finally:
        instance.close()
    if as_json:
        _print_json([
            {"id": r.check_id, "status": r.result.status, "summary": r.result.summary,
             "evidence": r.result.evidence, "remediation": r.result.remediation, "controls": list(r.controls)}
            for r in results
        ])
    else:
        table = Table(title="check results")
        for column in ("check", "status", "summary", "remediation"):
            table.add_column(column)
        for r in results:
            table.add_row(r.check_id, _coloured(r.result.status), escape(r.result.summary), escape(r.result.remediation))
        console.print(table)
    if any(r.result.status in ("fail", "error") for r in results):
        raise typer.Exit(1)


@checks_app.command("history")
def checks_history(
    check_id: Annotated[str, typer.Argument(help="Check id, e.g. ledger.integrity.")],
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many results.")] = 20,
    as_json: JsonOption = False,
    data_dir: DataDirOption = None,
) -> None:
    """The stored results of one check, newest first."""
    from assay.compliance import check_registry
    from assay.compliance.checks import check_history

    if check_id not in check_registry():
        raise UsageError(f"unknown check {check_id!r}", hint="List the checks with `assay checks list`.")
    instance = instance_for(data_dir)
    try:
        rows = check_history(instance, check_id, limit)
    finally:
        instance.close()
    if as_json:
        _print_json(rows)
        return
    table = Table(title=f"{check_id}: last {len(rows)} results")
    for column in ("time", "status", "summary"):
        table.add_column(column)
    for r in rows:
        table.add_row(r["time"], _coloured(r["status"]), escape(r["summary"]))
    console.print(table)


@evidence_app.command("add")
def evidence_add(  # noqa: PLR0917 - one parameter per CLI option
    target: Annotated[str, typer.Argument(help="A file, or an https:// URL (recorded, not fetched).")],
    control: Annotated[str, typer.Option("--control", help="Control id the evidence is for.")],
    effective: Annotated[str, typer.Option("--effective", help="When it was true (YYYY-MM-DD or RFC 3339).")],
    owner: Annotated[str, typer.Option("--owner", help="Role or person owning this evidence.")],
    expires: Annotated[str | None, typer.Option("--expires", help="When it stops being valid.")] = None,
    as_json: JsonOption = False,
    data_dir: DataDirOption = None,
) -> None:
    """Store evidence encrypted and record its SHA-256 in the ledger."""
    from assay.compliance import add_evidence
    from assay.compliance._timeutil import parse_day_or_time

    library = _library(data_dir)
    instance = instance_for(data_dir)
    try:
        info = add_evidence(
            instance, library, target, control_id=control, effective=parse_day_or_time(effective),
            expires=parse_day_or_time(expires) if expires else None, owner=owner,
        )
    finally:
        instance.close()
    if as_json:
        _print_json(info.as_json())
        return
    where = f"ledger entry {info.ledger_index}" if info.ledger_index is not None else "no ledger in this installation"
    console.print(f"Evidence {info.id} for {info.control_id}: sha256 {info.sha256} ({where})")


@evidence_app.command("list")
def evidence_list(
    control: Annotated[str | None, typer.Option("--control", help="Only evidence for this control.")] = None,
    as_json: JsonOption = False,
    data_dir: DataDirOption = None,
) -> None:
    """List evidence records (metadata only)."""
    from assay.compliance import list_evidence

    instance = instance_for(data_dir)
    try:
        items = list_evidence(instance, control)
    finally:
        instance.close()
    if as_json:
        _print_json([i.as_json() for i in items])
        return
    table = Table(title=f"{len(items)} evidence records")
    for column in ("id", "control", "source", "effective", "expires", "owner", "sha256"):
        table.add_column(column)
    for i in items:
        j = i.as_json()
        table.add_row(i.id, i.control_id, escape(i.source), str(j["effective"]), str(j["expires"] or "-"), escape(i.owner), i.sha256[:16])
    console.print(table)


def assess(
    fmt: Annotated[str, typer.Option("--format", help="json, md or html.")] = "json",
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file instead of stdout.")] = None,
    period: Annotated[str | None, typer.Option("--period", help="FROM..TO for a Type II style assessment.")] = None,
    no_run: Annotated[bool, typer.Option("--no-run", help="Do not run the checks first.")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Readiness assessment: control status, criteria roll-up, score and ranked gaps."""
    from assay.compliance import check_registry, run_assessment
    from assay.compliance._timeutil import parse_period
    from assay.compliance.report import render

    if fmt not in ("json", "md", "html"):
        raise UsageError(f"unknown format {fmt!r}", hint="Use --format json, md or html.")
    library = _library(data_dir)
    parsed = parse_period(period) if period else None
    instance = instance_for(data_dir)
    try:
        with err_console.status("assessing"):
            report = run_assessment(instance, library, check_registry(), parsed, run_first=not no_run and parsed is None)
    finally:
        instance.close()
    text = render(report, fmt)
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    s = report["summary"]
    console.print(f"Readiness {s['readiness_score']}% ({s['controls']['passing']} passing, "
                  f"{s['controls']['failing']} failing); written to {out}")


@audit_app.command("sample")
def audit_sample(
    control: Annotated[str, typer.Option("--control", help="Control id.")],
    period: Annotated[str, typer.Option("--period", help="FROM..TO, e.g. 2026-01-01..2026-06-30.")],
    sizes: Annotated[Path | None, typer.Option("--sizes", help="Audit firm sample size table (YAML).")] = None,
    as_json: JsonOption = False,
    data_dir: DataDirOption = None,
) -> None:
    """The control's population in the period (query and hash) and a reproducible sample."""
    from assay.compliance import build_sample, check_registry, load_sample_sizes
    from assay.compliance._timeutil import parse_period

    library = _library(data_dir)
    table_sizes = load_sample_sizes(sizes)
    instance = instance_for(data_dir)
    try:
        result = build_sample(instance, library, check_registry(), control, parse_period(period), sizes=table_sizes)
    finally:
        instance.close()
    if as_json:
        _print_json(result)
        return
    pop, sample = result["population"], result["sample"]
    console.print(f"[bold]{result['control']}[/] {escape(result['title'])} ({result['frequency']})")
    console.print(f"population: {pop['size']} items from {pop['source']}, sha256 {pop['sha256']}")
    console.print(f"query: {escape(pop['query'])}")
    table = Table(title=f"sample of {sample['size']}")
    for column in ("id", "time", "kind"):
        table.add_column(column)
    for item in sample["items"]:
        table.add_row(item["id"], item["time"], str(item["kind"]))
    console.print(table)


@audit_app.command("export")
def audit_export(
    period: Annotated[str, typer.Option("--period", help="FROM..TO of the audit period.")],
    out: Annotated[Path, typer.Option("--out", help="The .zip to write.")],
    sizes: Annotated[Path | None, typer.Option("--sizes", help="Audit firm sample size table (YAML).")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Write the auditor package: assessment, evidence, samples, OSCAL, ledger proofs."""
    from assay.compliance import export_package, load_sample_sizes
    from assay.compliance._timeutil import parse_period

    library = _library(data_dir)
    table_sizes = load_sample_sizes(sizes)
    instance = instance_for(data_dir)
    try:
        summary = export_package(instance, library, parse_period(period), out, table_sizes, progress=console)
    finally:
        instance.close()
    console.print(f"Wrote {out} ({summary['files']} files, manifest sha256 {summary['manifest_sha256']})")


@audit_app.command("verify")
def audit_verify(
    package: Annotated[Path, typer.Argument(help="The .zip written by `assay audit export`.")],
    vkey: Annotated[str | None, typer.Option("--vkey", help="The ledger's verifier key, obtained separately.")] = None,
) -> None:
    """Check an auditor package offline: manifest hashes and ledger proofs."""
    from assay.compliance.package_verify import verify_package

    report = verify_package(package, vkey=vkey)
    for line in report:
        console.print(escape(line))
