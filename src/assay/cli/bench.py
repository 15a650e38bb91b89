"""``assay bench NAME``: run one benchmark (or all) and show figures as a table or JSON."""

from __future__ import annotations

import importlib
import json
from typing import Annotated, Any

import typer
from rich.table import Table

from assay.cli._common import JsonOption, console
from assay.errors import UsageError

# name -> module in the top-level `benchmarks` package exposing run(quick=...) -> dict
BENCHMARKS: dict[str, str] = {
    "ledger": "benchmarks.ledger",
    "crypto": "benchmarks.crypto",
    "pii": "benchmarks.pii",
    "gateway": "benchmarks.gateway",
    "assess": "benchmarks.assess",
    "governance": "benchmarks.governance",
}

QuickOption = Annotated[bool, typer.Option("--quick", help="Shorter runs (noisier figures).")]


def _run_one(name: str, quick: bool) -> dict[str, Any]:
    try:
        module = importlib.import_module(BENCHMARKS[name])
    except ModuleNotFoundError as exc:
        raise UsageError(
            f"benchmark {name!r} is not available in this installation ({exc.name} missing)",
            hint="Run from a source checkout with `make bench`.",
        ) from exc
    result: dict[str, Any] = module.run(quick=quick)
    return result


def _print(name: str, result: dict[str, Any]) -> None:
    table = Table(title=f"assay bench {name}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in result.items():
        shown = json.dumps(value) if isinstance(value, dict | list) else str(value)
        table.add_row(key, shown)
    console.print(table)


def bench(
    name: Annotated[str, typer.Argument(help=f"One of: {', '.join(BENCHMARKS)}, or all.")],
    as_json: JsonOption = False,
    quick: QuickOption = False,
) -> None:
    """Measure NAME (or `all`) against baselines taken in the same run."""
    names = list(BENCHMARKS) if name == "all" else [name]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise UsageError(f"unknown benchmark {unknown[0]!r}", hint=f"Choose one of: {', '.join(BENCHMARKS)}.")
    results = {n: _run_one(n, quick) for n in names}
    if as_json:
        payload = results[name] if name != "all" else results
        console.print_json(json.dumps(payload))
        return
    for n, result in results.items():
        _print(n, result)
