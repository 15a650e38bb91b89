"""``assay ledger ...``: append, verify, checkpoints, keys, proofs and export."""

from __future__ import annotations

import base64
import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from assay.cli._common import DataDirOption, JsonOption, console, instance_for
from assay.errors import UsageError

app = typer.Typer(help="The tamper-evident audit ledger.", no_args_is_help=True)


def _register_doctor_check() -> None:
    from assay.doctor import register_check
    from assay.ledger.health import ledger_check

    register_check(ledger_check)


_register_doctor_check()

if TYPE_CHECKING:  # keeps `assay --help` from importing the storage layer
    from assay.ledger.log import AuditLog


@contextmanager
def _opened(data_dir: Path | None) -> Iterator[AuditLog]:
    from assay.ledger.log import AuditLog

    instance = instance_for(data_dir)
    log = AuditLog.open(instance)
    try:
        yield log
    finally:
        log.close()
        instance.close()


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=console, transient=True,
    )


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        location = ".".join(str(p) for p in error.get("loc", ()))
        message = str(error.get("msg", "")).removeprefix("Value error, ")
        parts.append(message if location and message.startswith(location) else f"{location}: {message}")
    return "; ".join(parts)


def _parse_events(lines: list[str], default_actor: str) -> list[Any]:
    from assay.ledger.events import Event

    events, problems = [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise ValueError("expected a JSON object")
            data.setdefault("actor", default_actor)
            events.append(Event.model_validate(data))
        except ValidationError as exc:
            problems.append(f"line {number}: {_validation_message(exc)}")
        except ValueError as exc:
            problems.append(f"line {number}: not a JSON event object ({exc})")
    if problems:
        shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
        raise UsageError(
            f"{len(problems)} bad line(s); nothing was written:\n" + "\n".join(shown),
            hint="Each line must be one JSON event: {\"type\": \"a.b\", \"actor\": ..., \"attributes\": {...}}.",
        )
    return events


@app.command()
def append(
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
    actor: Annotated[str | None, typer.Option(help="Actor for lines without one (default cli:<os user>).")] = None,
) -> None:
    """Read JSON events from stdin, one per line, and record them all (or none)."""
    events = _parse_events(sys.stdin.read().splitlines(), actor or f"cli:{getpass.getuser()}")
    if not events:
        raise UsageError("no events on stdin", hint='Pipe JSON lines, e.g. echo \'{"type":"a.b"}\' | assay ledger append')
    with _opened(data_dir) as log:
        indices = log.append_batch(events)
    if as_json:
        typer.echo(json.dumps({"indices": indices}))
    else:
        typer.echo("\n".join(str(i) for i in indices))


@app.command()
def verify(data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """Recompute the whole tree from the database and check every checkpoint."""
    with _opened(data_dir) as log:
        total = log.size()
        with _progress() as progress:
            task = progress.add_task("verifying entries", total=total)
            report = log.verify(lambda n: progress.advance(task, n))
    summary = {
        "entries": report.entries, "checkpoints": report.checkpoints, "tiles": report.tiles,
        "root": base64.b64encode(report.root).decode(), "seconds": round(report.seconds, 3),
    }
    if as_json:
        typer.echo(json.dumps({"ok": True, **summary}))
        return
    table = Table(title="assay ledger verify: OK")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        table.add_row(key, str(value))
    console.print(table)


@app.command()
def checkpoint(
    data_dir: DataDirOption = None,
    new: Annotated[bool, typer.Option("--new", help="Sign a checkpoint covering every entry now.")] = False,
) -> None:
    """Print the latest signed checkpoint (C2SP signed-note text)."""
    with _opened(data_dir) as log:
        typer.echo(log.checkpoint(new=new).note, nl=False)


@app.command("public-key")
def public_key(data_dir: DataDirOption = None) -> None:
    """Print the verifier key (vkey) auditors use to check checkpoints."""
    with _opened(data_dir) as log:
        typer.echo(log.vkey)


@app.command()
def prove(index: Annotated[int, typer.Argument(help="Entry index.")], data_dir: DataDirOption = None) -> None:
    """Print a c2sp.org/tlog-proof@v1 proof of one entry against the latest checkpoint."""
    with _opened(data_dir) as log:
        typer.echo(log.prove(index), nl=False)


@app.command()
def consistency(
    old_size: Annotated[int, typer.Argument(help="Older tree size.")],
    new_size: Annotated[int, typer.Argument(help="Newer tree size.")],
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print an RFC 6962 consistency proof between two tree sizes (base64, one hash a line)."""
    with _opened(data_dir) as log:
        proof = log.consistency_proof(old_size, new_size)
        roots = (log.root(old_size), log.root(new_size))
    lines = [base64.b64encode(item).decode() for item in proof]
    if as_json:
        typer.echo(json.dumps({
            "old_size": old_size, "new_size": new_size,
            "old_root": base64.b64encode(roots[0]).decode(), "new_root": base64.b64encode(roots[1]).decode(),
            "proof": lines,
        }))
    else:
        typer.echo("\n".join(lines))


@app.command()
def export(
    directory: Annotated[Path, typer.Argument(help="New or empty directory to write.")],
    data_dir: DataDirOption = None,
    proofs: Annotated[bool, typer.Option("--proofs", help="Also write proofs/<index>.tlog-proof.")] = False,
    latest_only: Annotated[
        bool, typer.Option("--latest-only", help="Only the latest checkpoint (no checkpoint history).")
    ] = False,
) -> None:
    """Write the tiled log (checkpoints, tiles, entry bundles) and the vkey to DIRECTORY."""
    from assay.ledger.export import export_log

    with _opened(data_dir) as log:
        with _progress() as progress:
            task = progress.add_task("exporting entries", total=log.size())
            report = export_log(
                log, directory, proofs=proofs, latest_only=latest_only,
                progress=lambda n: progress.advance(task, n),
            )
        vkey = log.vkey
    console.print(
        f"Exported {report.entries} entries, {report.checkpoints} checkpoints ({report.files} files) to {directory}"
    )
    console.print(f"Verify offline: python -m assay.ledger.verify {directory} --vkey {vkey}", soft_wrap=True)
