"""``assay transcripts ...`` and ``assay retention run``: the transcript vault."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from assay.cli._common import DataDirOption, JsonOption, console
from assay.cli._keyring import cli_actor, crypto_context
from assay.crypto import run_retention

app = typer.Typer(help="Encrypted conversation transcripts.", no_args_is_help=True)
retention_app = typer.Typer(
    help="Retention: delete records past their deadline.", no_args_is_help=True
)


@app.command("list")
def list_transcripts(
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant name.")],
    as_json: JsonOption = False,
    data_dir: DataDirOption = None,
) -> None:
    """List a tenant's transcripts (metadata only, never content)."""
    with crypto_context(data_dir) as ctx:
        ctx.tenants.get(tenant)
        found = ctx.vault.list(tenant)
    if as_json:
        console.print_json(json.dumps([t.as_dict() for t in found]))
        return
    table = Table(title=f"transcripts of {tenant}")
    for column in ("id", "conversation", "subject", "created", "retention deadline", "bytes"):
        table.add_column(column)
    for t in found:
        row = t.as_dict()
        table.add_row(
            t.id,
            t.conversation_id,
            "yes" if t.has_subject else "",
            row["created_at"],
            row["retention_deadline"],
            str(t.size),
        )
    console.print(table)


@app.command("show")
def show(
    transcript_id: Annotated[
        str, typer.Argument(help="Transcript id from `assay transcripts list`.")
    ],
    reason: Annotated[
        str, typer.Option("--reason", help="Why you are reading it (recorded in the ledger).")
    ],
    data_dir: DataDirOption = None,
) -> None:
    """Decrypt one transcript for a person; the access is recorded in the ledger."""
    with crypto_context(data_dir) as ctx:
        text = ctx.vault.read(transcript_id, actor=cli_actor(), reason=reason)
    sys.stdout.write(text.decode("utf-8", errors="replace"))
    if not text.endswith(b"\n"):
        sys.stdout.write("\n")
    sys.stdout.flush()


@retention_app.command("run")
def run(as_json: JsonOption = False, data_dir: DataDirOption = None) -> None:
    """Delete every transcript past its retention deadline, with a ledger record."""
    with crypto_context(data_dir) as ctx:
        counts = run_retention(ctx.instance, ctx.audit)
    if as_json:
        console.print_json(json.dumps(counts))
        return
    console.print(
        f"Retention: {counts['deleted']} transcripts deleted ({counts['events']} ledger events)."
    )
