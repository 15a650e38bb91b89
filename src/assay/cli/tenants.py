"""``assay tenants ...`` and ``assay subjects erase``: tenants and crypto-shredding."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from assay.cli._common import DataDirOption, JsonOption, console
from assay.cli._keyring import cli_actor, crypto_context

app = typer.Typer(help="Tenants: create, list, erase (crypto-shredding).", no_args_is_help=True)
subjects_app = typer.Typer(help="Data subjects: erase one person's data.", no_args_is_help=True)

YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Tenant name (lower-case letters, digits, '-').")],
    retention_days: Annotated[int, typer.Option(help="Days transcripts are kept.")] = 30,
    data_dir: DataDirOption = None,
) -> None:
    """Create tenant NAME with its own key in the KMS."""
    with crypto_context(data_dir) as ctx:
        tenant = ctx.tenants.create(name, cli_actor(), retention_days=retention_days)
    console.print(
        f"Tenant {tenant.name} created (key version 1, retention {tenant.retention_days} days)."
    )


@app.command("list")
def list_tenants(as_json: JsonOption = False, data_dir: DataDirOption = None) -> None:
    """Show every tenant, erased ones included."""
    with crypto_context(data_dir) as ctx:
        found = ctx.tenants.list()
    if as_json:
        console.print_json(json.dumps([t.as_dict() for t in found]))
        return
    table = Table(title="assay tenants list")
    for column in ("tenant", "key version", "retention days", "transcripts", "created", "erased"):
        table.add_column(column)
    for t in found:
        row = t.as_dict()
        table.add_row(
            t.name,
            str(t.key_version),
            str(t.retention_days),
            str(t.transcripts),
            row["created_at"],
            row["erased_at"] or "",
        )
    console.print(table)


@app.command("erase")
def erase(
    name: Annotated[str, typer.Argument(help="Tenant to erase.")],
    yes: YesOption = False,
    data_dir: DataDirOption = None,
) -> None:
    """Destroy every key of tenant NAME: all its encrypted data becomes unreadable, for good."""
    if not yes:
        typer.confirm(
            f"Erase tenant {name}? All of its encrypted data becomes permanently unreadable",
            abort=True,
        )
    with crypto_context(data_dir) as ctx:
        counts = ctx.tenants.erase(name, cli_actor())
    console.print(
        f"Tenant {name} erased: {counts['data_keys']} data keys and {counts['key_versions']} key "
        f"versions destroyed; {counts['transcripts']} transcripts are now unreadable."
    )


@subjects_app.command("erase")
def erase_subject(
    subject_id: Annotated[
        str, typer.Argument(help="The data subject's id as the gateway knows it.")
    ],
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant the subject belongs to.")],
    data_dir: DataDirOption = None,
) -> None:
    """Destroy the keys of one data subject; their records become unreadable."""
    with crypto_context(data_dir) as ctx:
        counts = ctx.keyring.erase_subject(tenant, subject_id, cli_actor())
    console.print(
        f"Subject erased from tenant {tenant}: {counts['data_keys']} data keys destroyed; "
        f"{counts['transcripts']} transcripts are now unreadable."
    )
