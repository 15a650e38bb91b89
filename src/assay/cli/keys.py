"""``assay keys ...``: tenant key versions — rotate, rewrap, list."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from assay.cli._common import DataDirOption, JsonOption, console
from assay.cli._keyring import cli_actor, crypto_context

app = typer.Typer(
    help="Encryption keys: rotate, re-wrap and list tenant key versions.", no_args_is_help=True
)

TenantOption = Annotated[str, typer.Option("--tenant", help="Tenant name.")]
OptionalTenant = Annotated[str | None, typer.Option("--tenant", help="Only this tenant.")]


@app.command("rotate")
def rotate(tenant: TenantOption, data_dir: DataDirOption = None) -> None:
    """Make a new key version primary for TENANT; existing data stays readable."""
    with crypto_context(data_dir) as ctx:
        version = ctx.keyring.rotate(tenant, cli_actor())
    console.print(f"Tenant {tenant}: key version {version} is now primary.")
    console.print(f"Next: assay keys rewrap --tenant {tenant}")


@app.command("rewrap")
def rewrap(tenant: OptionalTenant = None, data_dir: DataDirOption = None) -> None:
    """Re-wrap data keys under each tenant's primary key version (ciphertext untouched)."""
    with crypto_context(data_dir) as ctx, Progress(console=console, transient=True) as progress:
        task = progress.add_task("re-wrapping data keys", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        counts = ctx.keyring.rewrap(tenant, cli_actor(), advance)
    table = Table(title="assay keys rewrap")
    table.add_column("tenant")
    table.add_column("data keys re-wrapped", justify="right")
    for name, count in counts.items():
        table.add_row(name, str(count))
    console.print(table)


@app.command("list")
def list_keys(
    tenant: OptionalTenant = None, as_json: JsonOption = False, data_dir: DataDirOption = None
) -> None:
    """Show key versions, their KMS, state and how many data keys each wraps."""
    with crypto_context(data_dir) as ctx:
        keys = ctx.keyring.list_keys(tenant)
    if as_json:
        console.print_json(json.dumps([k.as_dict() for k in keys]))
        return
    table = Table(title="assay keys list")
    for column in ("tenant", "version", "state", "kms", "data keys", "created", "destroyed"):
        table.add_column(column)
    for k in keys:
        row = k.as_dict()
        table.add_row(
            k.tenant,
            str(k.version),
            k.state,
            k.kms,
            str(k.data_keys),
            row["created_at"],
            row["destroyed_at"] or "",
        )
    console.print(table)
