"""``assay policy show|set``: the versioned tenant policy enforced by the gateway."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from assay.cli._common import DataDirOption, JsonOption, console, instance_for
from assay.errors import UsageError

app = typer.Typer(help="Tenant policy: redaction, transcripts, retention, fail mode.", no_args_is_help=True)


@app.command()
def show(
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant name.")],
    as_json: JsonOption = False,
    data_dir: DataDirOption = None,
) -> None:
    """Show the policy in force for TENANT (version 0 is the secure default)."""
    from assay.gateway.policy import PolicyStore

    instance = instance_for(data_dir)
    try:
        stored = PolicyStore(instance.db, instance.clock).current(tenant)
    finally:
        instance.close()
    body = stored.policy.model_dump(mode="json")
    if as_json:
        typer.echo(json.dumps(body, indent=2, sort_keys=True))
        return
    console.print(f"Tenant {tenant}: policy version {stored.version}" + (" (default)" if stored.version == 0 else f" set by {stored.actor}"))
    console.print_json(json.dumps(body, sort_keys=True))


def _apply_fields(base: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    out = dict(base)
    for item in fields:
        name, sep, raw = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--field {item!r} is not NAME=VALUE", hint="For example --field on_failure='\"open\"'.")
        try:
            out[name] = json.loads(raw)
        except json.JSONDecodeError:
            out[name] = raw
    return out


@app.command("set")
def set_policy(
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant name.")],
    file: Annotated[Path | None, typer.Option("--file", help="A JSON policy document.")] = None,
    field: Annotated[list[str] | None, typer.Option("--field", help="NAME=JSON value; repeatable.")] = None,
    loosen: Annotated[
        bool, typer.Option("--loosen", help="Confirm a change that protects less than the policy in force.")
    ] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Store a new policy version for TENANT (a `policy.changed` ledger event).

    A change that redacts less, needs a higher score to redact, or fails open is refused
    unless --loosen confirms it.
    """
    from assay.cli.apikeys import cli_actor, run_with_ledger
    from assay.gateway.policy import PolicyStore, parse_policy

    if file is None and not field:
        raise UsageError("nothing to change", hint="Give --file POLICY.json or one or more --field NAME=VALUE.")

    async def work(instance: Any, sink: Any) -> Any:
        store = PolicyStore(instance.db, instance.clock, sink)
        if file is not None:
            try:
                base = json.loads(file.read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise UsageError(f"cannot read policy file {file}: {exc}") from exc
        else:
            base = store.current(tenant).policy.model_dump(mode="json")
        policy = parse_policy(json.dumps(_apply_fields(base, field or [])))
        return await store.set(tenant, policy, actor=cli_actor(), allow_loosening=loosen)

    stored = run_with_ledger(data_dir, work)
    console.print(f"Tenant {tenant}: policy version {stored.version} is now in force")
    if stored.loosened:
        console.print(f"It loosens the previous version: {', '.join(stored.loosened)}", style="yellow")
