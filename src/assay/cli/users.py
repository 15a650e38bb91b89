"""`assay users ...`: people who sign in to the dashboard (not API keys)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape
from rich.table import Table

from assay.cli._common import DataDirOption, JsonOption, console, instance_for
from assay.cli._keyring import cli_actor
from assay.clock import format_rfc3339
from assay.instance import Instance
from assay.ledger import AuditLog
from assay.web import Accounts
from assay.web.audit import record

app = typer.Typer(help="People who sign in to the dashboard.", no_args_is_help=True)

EmailOption = Annotated[str, typer.Option("--email", help="The person's e-mail address.")]
RoleOption = Annotated[str, typer.Option("--role", help="admin, compliance, auditor or viewer.")]


def _record(instance: Instance, event_type: str, actor: str, **fields: Any) -> None:
    with AuditLog.open(instance) as log:
        record(log, event_type, actor, **fields)


def _open(data_dir: Path | None) -> tuple[Instance, Accounts]:
    from assay.web._secrets import WebKeys

    instance = instance_for(data_dir)
    return instance, Accounts(instance, WebKeys.load(instance.data_dir))


def _link(instance: Instance, token: str) -> str:
    settings = instance.settings
    base = settings.public_url or f"http://{settings.host}:{settings.port}"
    return f"{base.rstrip('/')}/setup/{token}"


@app.command("create")
def create(email: EmailOption, role: RoleOption, data_dir: DataDirOption = None) -> None:
    """Create a person and print their one-time setup link (valid 72 hours)."""
    instance, accounts = _open(data_dir)
    try:
        user_id, token = accounts.create(email, role)
        _record(
            instance,
            "user.created",
            cli_actor(),
            object_ids={"user": user_id},
            attributes={"role": role},
        )
    finally:
        instance.close()
    console.print(f"Created {escape(email.strip())} ({role}). One-time setup link, valid 72 h:")
    console.print(_link(instance, token), soft_wrap=True, highlight=False)


@app.command("link")
def link(email: EmailOption, data_dir: DataDirOption = None) -> None:
    """Issue a new one-time setup link (the old one stops working); resets the password."""
    instance, accounts = _open(data_dir)
    try:
        user = accounts.find(email)
        token = accounts.new_setup_link(user.id)
        _record(instance, "user.link", cli_actor(), object_ids={"user": user.id})
    finally:
        instance.close()
    console.print(_link(instance, token), soft_wrap=True, highlight=False)


@app.command("unlock")
def unlock(email: EmailOption, data_dir: DataDirOption = None) -> None:
    """Lift a lock-out after repeated failed sign-ins."""
    instance, accounts = _open(data_dir)
    try:
        user = accounts.find(email)
        accounts.unlock(user.id)
        _record(instance, "user.unlock", cli_actor(), object_ids={"user": user.id})
    finally:
        instance.close()
    console.print(f"Unlocked {escape(user.email)}")


@app.command("list")
def list_users(data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """List people, their roles and sign-in state."""
    instance, accounts = _open(data_dir)
    try:
        users = accounts.list()
    finally:
        instance.close()
    rows = [
        {
            "email": u.email,
            "role": u.role,
            "state": "disabled"
            if u.disabled
            else "locked"
            if u.locked
            else "active"
            if u.active
            else "setup pending",
            "last_sign_in": format_rfc3339(u.last_sign_in_at) if u.last_sign_in_at else None,
        }
        for u in users
    ]
    if as_json:
        console.print_json(orjson.dumps(rows).decode())
        return
    table = Table(title="users")
    for column in ("email", "role", "state", "last sign-in"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            escape(str(row["email"])),
            str(row["role"]),
            str(row["state"]),
            str(row["last_sign_in"] or "—"),
        )
    console.print(table)
