"""``assay keys create|revoke|api-list``: gateway API keys (registered onto the ``keys`` group)."""

from __future__ import annotations

import asyncio
import getpass
import importlib
import importlib.util
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from assay.cli._common import DataDirOption, JsonOption, console, instance_for
from assay.errors import UsageError

__all__ = ["cli_actor", "register"]

T = TypeVar("T")


def cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def run_with_ledger(data_dir: Any, work: Callable[[Any, Any], Awaitable[T]]) -> T:
    """Open the instance and its ledger, run ``work(instance, sink)``, close both."""
    from assay.gateway._audit import ledger_sink

    instance = instance_for(data_dir)
    try:

        async def main() -> T:
            sink = ledger_sink(instance)
            try:
                return await work(instance, sink)
            finally:
                sink.close()

        return asyncio.run(main())
    finally:
        instance.close()


def _parse_date(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise UsageError(
            f"--expires {value!r} is not a date", hint="Use YYYY-MM-DD or an RFC 3339 time."
        ) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def create(  # noqa: PLR0917 - one parameter per CLI option
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant the key belongs to.")],
    role: Annotated[str, typer.Option("--role", help="app, admin or auditor.")] = "app",
    name: Annotated[str | None, typer.Option("--name", help="A label for people.")] = None,
    expires: Annotated[str | None, typer.Option("--expires", help="Expiry date (UTC).")] = None,
    models: Annotated[str | None, typer.Option("--models", help="Comma-separated allowed model aliases.")] = None,
    rpm: Annotated[int | None, typer.Option("--rpm", help="Requests per minute.")] = None,
    tpm: Annotated[int | None, typer.Option("--tpm", help="Tokens per minute.")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Create an API key. The key is printed once, as the last line: store it now."""
    from assay.gateway._controls import Vault
    from assay.gateway.keys import ApiKeyStore

    allowed = [m.strip() for m in models.split(",") if m.strip()] if models else None
    expires_at = _parse_date(expires)

    async def work(instance: Any, sink: Any) -> tuple[Any, str]:
        store = ApiKeyStore(instance.db, instance.clock, sink)
        store.check_new(tenant, role, expires_at, rpm, tpm)
        _ensure_tenant(Vault(instance, lambda: sink.log), tenant)
        key, secret = await store.create(
            tenant, role, actor=cli_actor(), name=name, expires_at=expires_at,
            allowed_models=allowed, rpm_limit=rpm, tpm_limit=tpm,
        )
        return key, secret

    key, secret = run_with_ledger(data_dir, work)
    console.print(f"Created key {key.id} ({key.role}) for tenant {key.tenant}. It is shown only once:")
    typer.echo(secret)  # a plain last line, so scripts can read it with `tail -1`


def _ensure_tenant(vault: Any, tenant: str) -> None:
    """Register the tenant with the key store when that component is installed."""
    if importlib.util.find_spec("assay.crypto") is None:
        return
    vault.ensure_tenant(tenant, cli_actor())


def revoke(
    key_id: Annotated[str, typer.Argument(help="The key id (shown by create and api-list).")],
    data_dir: DataDirOption = None,
) -> None:
    """Revoke an API key at once (every later request with it gets 401)."""
    from assay.gateway.keys import ApiKeyStore

    async def work(instance: Any, sink: Any) -> Any:
        store = ApiKeyStore(instance.db, instance.clock, sink, redis_url=instance.settings.redis_url)
        return await store.revoke(key_id, actor=cli_actor())

    key = run_with_ledger(data_dir, work)
    console.print(f"Revoked key {key.id} of tenant {key.tenant}")


def api_list(
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant.")] = None,
    as_json: JsonOption = False,
    data_dir: DataDirOption = None,
) -> None:
    """List API keys (never their secrets)."""
    from assay.gateway.keys import ApiKeyStore

    instance = instance_for(data_dir)
    try:
        keys = ApiKeyStore(instance.db, instance.clock).list(tenant)
    finally:
        instance.close()
    if as_json:
        typer.echo(json.dumps([k.as_dict() for k in keys]))
        return
    table = Table(title="API keys")
    for column in ("id", "tenant", "role", "name", "prefix", "expires", "revoked", "last used"):
        table.add_column(column)
    for k in keys:
        d = k.as_dict()
        table.add_row(k.id, k.tenant, k.role, k.name or "", k.prefix, str(d["expires_at"] or ""),
                      str(d["revoked_at"] or ""), str(d["last_used_at"] or ""))
    console.print(table)


def register(root: typer.Typer) -> None:
    """Add the API-key commands to the ``keys`` group (created here if no other module owns it)."""
    try:  # the key-store commands own the group when they are installed
        group: typer.Typer = importlib.import_module("assay.cli.keys").app
    except ImportError:
        group = typer.Typer(help="API keys and the key store.", no_args_is_help=True)
        root.add_typer(group, name="keys")
    group.command("create")(create)
    group.command("revoke")(revoke)
    group.command("api-list")(api_list)
