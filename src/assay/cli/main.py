"""Entry point: one Typer app; AssayError becomes one line plus a hint, here only."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from assay import __version__
from assay.cli._common import DataDirOption, console, err_console, settings_for
from assay.errors import AssayError

app = typer.Typer(
    name="assay",
    help="Assay: SOC 2-ready by construction for AI platforms.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

_state = {"debug": False}


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    _state["debug"] = debug


@app.command()
def version() -> None:
    """Print the Assay version."""
    console.print(f"assay {__version__}")


@app.command()
def init(data_dir: DataDirOption = None) -> None:
    """Create (or update) the data directory, database and local secrets. Idempotent."""
    from assay.instance import init_instance
    from assay.store.db import redact_url

    report = init_instance(settings_for(data_dir))
    state = "created" if report.created_dir else "already present"
    console.print(f"Data directory {report.data_dir.resolve()} ({state}, mode 0700)")
    console.print(f"Database {redact_url(report.database)} migrated to the current schema")
    if report.created_secrets:
        console.print(f"Created local secrets: {', '.join(report.created_secrets)} (mode 0600)")
    console.print(f"Instance {report.instance_id} is ready. Next: assay serve")


@app.command()
def doctor(data_dir: DataDirOption = None) -> None:
    """Check the data directory, database, migrations and permissions."""
    from assay.doctor import run_checks

    findings = run_checks(settings_for(data_dir))
    table = Table(title="assay doctor")
    for column in ("check", "status", "detail", "hint"):
        table.add_column(column)
    colours = {"ok": "green", "warn": "yellow", "fail": "red"}
    for f in findings:
        status = f"[{colours[f.status]}]{f.status}[/]"
        table.add_row(f.check, status, escape(f.detail), escape(f.hint))
    console.print(table)
    if any(f.status == "fail" for f in findings):
        raise typer.Exit(1)


@app.command()
def serve(  # noqa: PLR0917 - one parameter per CLI option
    data_dir: DataDirOption = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    upstream: Annotated[
        str | None, typer.Option(help="One OpenAI-compatible upstream; its models are served.")
    ] = None,
    tls_cert: Annotated[Path | None, typer.Option(help="PEM certificate (TLS 1.2+).")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="PEM private key for --tls-cert.")] = None,
) -> None:
    """Run the API, gateway and dashboard."""
    from assay.server import serve as run_server

    run_server(
        settings_for(
            data_dir, host=host, port=port, upstream=upstream, tls_cert=tls_cert, tls_key=tls_key
        )
    )


# (command name, module, attribute): one line per group so areas add lines, not edit them.
_GROUPS: tuple[tuple[str, str, str], ...] = (
    ("audit", "assay.cli.compliance", "audit_app"),
    ("changes", "assay.cli.governance", "changes_app"),
    ("checks", "assay.cli.compliance", "checks_app"),
    ("controls", "assay.cli.compliance", "controls_app"),
    ("criteria", "assay.cli.compliance", "criteria_app"),
    ("eval", "assay.cli.governance", "eval_app"),
    ("evidence", "assay.cli.compliance", "evidence_app"),
    ("keys", "assay.cli.keys", "app"),
    ("ledger", "assay.cli.ledger", "app"),
    ("models", "assay.cli.governance", "models_app"),
    ("pii", "assay.cli.pii", "app"),
    ("policy", "assay.cli.policy", "app"),
    ("requests", "assay.cli.governance", "requests_app"),
    ("retention", "assay.cli.transcripts", "retention_app"),
    ("routes", "assay.cli.governance", "routes_app"),
    ("subjects", "assay.cli.tenants", "subjects_app"),
    ("tenants", "assay.cli.tenants", "app"),
    ("transcripts", "assay.cli.transcripts", "app"),
    ("users", "assay.cli.users", "app"),
)


def _register_commands() -> None:
    """Command groups of the component packages (each lives in its own module)."""
    import importlib

    from assay.cli import apikeys, bench

    app.command("bench")(bench.bench)
    for name, module, attribute in _GROUPS:
        app.add_typer(getattr(importlib.import_module(module), attribute), name=name)
    apikeys.register(app)  # create/revoke/api-list join the `keys` group
    importlib.import_module("assay.gateway.checks")  # registers the gateway's doctor findings
    app.command("assess")(importlib.import_module("assay.cli.compliance").assess)


_register_commands()


def _report(exc: AssayError) -> int:
    err_console.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False, soft_wrap=True)
    if exc.hint:
        err_console.print(f"[dim]hint:[/] {escape(exc.hint)}", highlight=False, soft_wrap=True)
    return exc.exit_code


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code instead of raising it (for tests too)."""
    # Files Assay creates (database, WAL, exports of secrets) are private by default.
    os.umask(0o077)
    try:
        result = app(args=argv, standalone_mode=False, prog_name="assay")
    except AssayError as exc:
        if _state["debug"]:
            raise
        return _report(exc)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.TyperException as exc:  # click's usage errors, as vendored by Typer
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        return int(getattr(exc, "exit_code", 2))
    except typer.Abort:
        err_console.print("aborted")
        return 1
    return result if isinstance(result, int) else 0


def entry() -> None:  # pragma: no cover - thin console-script shim
    sys.exit(main())
