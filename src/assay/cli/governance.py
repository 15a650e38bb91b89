"""``assay models``, ``routes``, ``changes``, ``eval`` and ``requests``: model governance."""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from assay.cli._common import DataDirOption, JsonOption, console, instance_for
from assay.errors import UsageError
from assay.instance import Instance
from assay.ledger import AuditLog

models_app = typer.Typer(help="The model registry: model versions the platform may use.",
                         no_args_is_help=True)
routes_app = typer.Typer(help="Routes: what each model alias points to.", no_args_is_help=True)
changes_app = typer.Typer(help="Change requests for routes (propose, evaluate, approve, "
                          "activate, roll back).", no_args_is_help=True)
eval_app = typer.Typer(help="Evaluations of model versions against golden datasets.",
                       no_args_is_help=True)
requests_app = typer.Typer(help="Decision records of gateway requests.", no_args_is_help=True)

ActorOption = Annotated[
    str | None,
    typer.Option("--actor", help="Who acts (default: cli:<OS user>). Recorded in the ledger.",
                 show_default=False),
]
UpstreamUrlOption = Annotated[
    str | None,
    typer.Option("--upstream-url", help="Base URL (…/v1) that replaces the configured URL of "
                 "every registered model's upstream (e.g. a local test endpoint).",
                 show_default=False),
]
TenantOption = Annotated[
    str,
    typer.Option("--tenant", help="Tenant whose stored policy (redaction, transcripts, "
                 "allowed models) the cases go through, as its live traffic would."),
]


UserOption = Annotated[
    str | None,
    typer.Option("--user", envvar="ASSAY_USER", show_default=False,
                 help="Your e-mail as a registered person (`assay users`); env ASSAY_USER."),
]
TotpOption = Annotated[
    str | None,
    typer.Option("--totp", envvar="ASSAY_TOTP", show_default=False,
                 help="A current authenticator code (prompted when missing); env ASSAY_TOTP."),
]


def _verified(instance: Instance, audit: AuditLog, user: str | None, code: str | None, *,
              purpose: str, roles: frozenset[str] | None = None) -> Any:
    """The registered person behind ``--user``, proven with a one-time code."""
    from assay.api.governance_identity import APPROVER_ROLES, verify_person

    if not user:
        raise UsageError(f"to {purpose} you must prove who you are",
                         hint="Pass --user EMAIL (a person created with `assay users create`) "
                         "and a code from your authenticator app with --totp or when prompted.")
    if code is None:
        code = typer.prompt("Authenticator code", hide_input=True)
    return verify_person(instance, audit, user=user, code=code, purpose=purpose,
                         roles=roles if roles is not None else APPROVER_ROLES)


def _as_reviewer(data_dir: Path | None, user: str | None, code: str | None, purpose: str,
                 step: Callable[[Instance, AuditLog, Any], Any]) -> Any:
    """Run a reviewing step (approve, reject) as the verified person behind ``--user``."""
    with _opened(data_dir) as (instance, audit):
        return step(instance, audit, _verified(instance, audit, user, code, purpose=purpose))


def _who(instance: Instance, audit: AuditLog, actor: str | None, user: str | None,
         code: str | None, *, purpose: str) -> tuple[str, str]:
    """(actor, how it was established): a verified person if ``--user`` is given."""
    from assay.governance import SELF_DECLARED
    from assay.web.roles import ROLES

    if user:
        person = _verified(instance, audit, user, code, purpose=purpose, roles=frozenset(ROLES))
        return person.actor, person.verified_by
    return actor_of(actor), SELF_DECLARED


def actor_of(given: str | None) -> str:
    """``--actor NAME`` becomes ``cli:NAME``; without it, the OS user."""
    name = given if given is not None else os.environ.get("ASSAY_ACTOR") or getpass.getuser()
    name = name.strip()
    if not name:
        raise UsageError("the actor is empty", hint="Pass --actor NAME.")
    return name if name.startswith(("cli:", "user:", "apikey:")) else f"cli:{name}"


@contextmanager
def _opened(data_dir: Path | None) -> Iterator[tuple[Instance, AuditLog]]:
    instance = instance_for(data_dir)
    try:
        yield instance, AuditLog.shared(instance)  # closed with the instance
    finally:
        instance.close()


def _pct(bp: int | None) -> str:
    return "-" if bp is None else f"{bp // 100}.{bp % 100:02d}%"


def _bp(value: float | None, option: str) -> int | None:
    if value is None:
        return None
    if not 0 <= value <= 100:
        raise UsageError(f"{option} must be a percentage between 0 and 100",
                         hint=f"E.g. {option} 90.")
    return round(value * 100)


def _print_json(value: Any) -> None:
    console.print_json(json.dumps(value, default=str))


# -- models -----------------------------------------------------------------------------------


def _params(pairs: list[str], params_file: Path | None) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if params_file is not None:
        loaded = json.loads(_read(params_file))
        if not isinstance(loaded, dict):
            raise UsageError(f"{params_file} is not a JSON object", hint="E.g. {\"temperature\": 0}.")
        params.update(loaded)
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--param {pair!r} is not KEY=VALUE", hint="E.g. --param temperature=0.2")
        try:
            params[key] = json.loads(raw)
        except ValueError:
            params[key] = raw
    return params


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}", hint="Check the path.") from exc


@models_app.command("register")
def models_register(
    *,
    provider: Annotated[str, typer.Option(help="Provider, e.g. openai.")],
    model: Annotated[str, typer.Option("--model", help="The provider's model id.")],
    snapshot: Annotated[str, typer.Option(help="The provider's snapshot or version.")],
    intended_use: Annotated[str, typer.Option(help="What this model version is for.")],
    risk: Annotated[str, typer.Option(help="Risk rating: low, medium or high.")],
    owner: Annotated[str, typer.Option(help="Accountable owner (team or role).")],
    id_: Annotated[str | None, typer.Option("--id", help="Version id (default "
                   "provider/model@snapshot).", show_default=False)] = None,
    upstream: Annotated[str | None, typer.Option(help="Configured upstream that serves it "
                        "(default: the provider).", show_default=False)] = None,
    param: Annotated[list[str] | None, typer.Option(help="Parameter KEY=VALUE (repeatable).",
                     show_default=False)] = None,
    params_file: Annotated[Path | None, typer.Option(help="Parameters as a JSON object.",
                           show_default=False)] = None,
    system_prompt_file: Annotated[Path | None, typer.Option(help="System-prompt template file.",
                                  show_default=False)] = None,
    prompt_name: Annotated[str | None, typer.Option(help="Name of the prompt template "
                           "(versions are numbered per name).", show_default=False)] = None,
    training_opt_out: Annotated[bool | None, typer.Option(
        "--training-opt-out/--training-allowed",
        help="Whether the provider is contractually barred from training on the data.",
        show_default=False)] = None,
    retention_days: Annotated[int | None, typer.Option(help="Provider retention of inputs, days.",
                              show_default=False)] = None,
    region: Annotated[str | None, typer.Option(help="Processing region, e.g. eu.",
                      show_default=False)] = None,
    actor: ActorOption = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register a model version (immutable; re-registering the same content is a no-op)."""
    from assay.governance import ModelSpec, ProviderTerms, register_model

    spec = ModelSpec(
        provider=provider, provider_model=model, snapshot=snapshot, intended_use=intended_use,
        risk_rating=risk, owner=owner, upstream=upstream, id=id_,
        params=_params(param or [], params_file),
        system_prompt=_read(system_prompt_file) if system_prompt_file else None,
        prompt_name=prompt_name,
        terms=ProviderTerms(training_opt_out, retention_days, region),
    )
    with _opened(data_dir) as (instance, audit):
        registered = register_model(instance, audit, spec, actor=actor_of(actor))
    if as_json:
        _print_json(_model_dict(registered))
        return
    console.print(f"Registered model version [bold]{escape(registered.id)}[/]"
                  + (f" with prompt {registered.prompt_template_id}"
                     if registered.prompt_template_id else ""))
    if not registered.terms.complete:
        console.print("[yellow]Provider data terms are incomplete; the CC9.2 check will flag "
                      "this version.[/]")


def _model_dict(model: Any) -> dict[str, Any]:
    data = {k: v for k, v in model.__dict__.items() if k not in ("terms", "system_prompt")}
    data["params"] = dict(model.params)
    data["terms"] = dict(model.terms.__dict__)
    data["registered_at"] = model.registered_at.isoformat().replace("+00:00", "Z")
    return data


@models_app.command("list")
def models_list(data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """List registered model versions."""
    from assay.governance import list_models

    instance = instance_for(data_dir)
    try:
        models = list_models(instance)
    finally:
        instance.close()
    if as_json:
        _print_json([_model_dict(m) for m in models])
        return
    table = Table(title="Model versions")
    for column in ("id", "provider model", "snapshot", "risk", "owner", "prompt", "terms"):
        table.add_column(column)
    for m in models:
        table.add_row(escape(m.id), escape(m.provider_model), escape(m.snapshot), m.risk_rating,
                      escape(m.owner), escape(m.prompt_template_id or "-"),
                      "complete" if m.terms.complete else "[yellow]incomplete[/]")
    console.print(table)


@models_app.command("show")
def models_show(
    model_version_id: Annotated[str, typer.Argument(help="Model version id.")],
    show_prompt: Annotated[bool, typer.Option("--prompt", help="Print the system prompt.")] = False,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one model version with its parameters, prompt hash and provider terms."""
    from assay.governance import get_model

    instance = instance_for(data_dir)
    try:
        model = get_model(instance, model_version_id)
    finally:
        instance.close()
    data = _model_dict(model)
    if as_json:
        _print_json(data)
        return
    table = Table(title=f"Model version {escape(model.id)}", show_header=False)
    for key, value in data.items():
        table.add_row(key, escape(json.dumps(value) if isinstance(value, dict) else str(value)))
    console.print(table)
    if show_prompt and model.system_prompt:
        console.print(escape(model.system_prompt))


# -- routes -----------------------------------------------------------------------------------


@routes_app.command("list")
def routes_list(data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """List live routes."""
    from assay.governance import list_routes

    instance = instance_for(data_dir)
    try:
        routes = list_routes(instance)
    finally:
        instance.close()
    if as_json:
        _print_json([{"alias": r.alias, "model_version_id": r.model_version_id,
                      "route_version": r.route_version, "change_id": r.change_id,
                      "min_pass_rate_bp": r.min_pass_rate_bp,
                      "output_schema": r.output_schema} for r in routes])
        return
    table = Table(title="Routes")
    for column in ("alias", "model version", "version", "min pass rate", "schema", "change"):
        table.add_column(column)
    for r in routes:
        table.add_row(escape(r.alias), escape(r.model_version_id), str(r.route_version),
                      _pct(r.min_pass_rate_bp), "yes" if r.output_schema else "-", r.change_id)
    console.print(table)


@routes_app.command("show")
def routes_show(
    alias: Annotated[str, typer.Argument(help="Route alias.")],
    data_dir: DataDirOption = None,
) -> None:
    """Show a route and every version it has had."""
    from assay.governance import get_route

    instance = instance_for(data_dir)
    try:
        route = get_route(instance, alias)
    finally:
        instance.close()
    table = Table(title=f"Route {escape(alias)} (live: version {route.route_version})")
    for column in ("version", "model version", "kind", "change", "activated at", "by"):
        table.add_column(column)
    for v in route.history:
        table.add_row(str(v.route_version), escape(v.model_version_id), v.kind, v.change_id,
                      v.activated_at.isoformat(), escape(v.activated_by))
    console.print(table)


# -- changes ----------------------------------------------------------------------------------


def _load_schema(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        loaded = json.loads(_read(path))
    except ValueError as exc:
        raise UsageError(f"{path} is not JSON: {exc}", hint="Give a JSON schema file.") from exc
    if not isinstance(loaded, dict):
        raise UsageError(f"{path} is not a JSON object", hint="Give a JSON schema file.")
    return loaded


def _change_line(change: Any) -> str:
    pending = " (awaiting post-approval)" if change.post_approval_pending else ""
    return f"Change {change.id} on {escape(change.alias)}: {change.state}{pending}"


@changes_app.command("propose")
def changes_propose(
    *,
    route: Annotated[str, typer.Option("--route", help="Alias the gateway serves.")],
    model: Annotated[str, typer.Option("--model", help="Registered model version id.")],
    reason: Annotated[str, typer.Option(help="Why the change is needed.")],
    emergency: Annotated[bool, typer.Option(help="May go live before evaluation and approval; "
                         "stays awaiting post-approval.")] = False,
    min_pass_rate: Annotated[float | None, typer.Option(help="Evaluation threshold, percent.",
                             show_default=False)] = None,
    max_regression: Annotated[float | None, typer.Option(help="Largest allowed drop from the "
                              "current version, percentage points.", show_default=False)] = None,
    output_schema: Annotated[Path | None, typer.Option(help="JSON schema answers must satisfy.",
                             show_default=False)] = None,
    clear_output_schema: Annotated[bool, typer.Option(help="Remove the route's schema.")] = False,
    actor: ActorOption = None,
    user: UserOption = None,
    totp: TotpOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Propose pointing a route at a model version (as a verified person with --user)."""
    from assay.governance import propose_change

    with _opened(data_dir) as (instance, audit):
        who, verified_by = _who(instance, audit, actor, user, totp, purpose="propose a change")
        change = propose_change(
            instance, audit, alias=route, model_version_id=model, reason=reason,
            actor=who, emergency=emergency, verified_by=verified_by,
            min_pass_rate_bp=_bp(min_pass_rate, "--min-pass-rate"),
            max_regression_bp=_bp(max_regression, "--max-regression"),
            output_schema=_load_schema(output_schema), clear_output_schema=clear_output_schema,
        )
    console.print(_change_line(change))
    console.print("Next: " + ("assay changes activate " + change.id if emergency
                              else f"assay changes evaluate {change.id} --dataset FILE.jsonl"))


@contextmanager
def _target(instance: Instance, upstream_url: str | None, tenant: str) -> Iterator[Any]:
    """Cases go through the gateway pipeline under ``tenant``'s policy."""
    from sqlalchemy import select

    from assay.api.governance_eval import evaluation_gateway
    from assay.governance.models import ModelVersionRow

    urls: dict[str, str] = {}
    if upstream_url:
        with instance.db.session() as session:
            names = session.scalars(select(ModelVersionRow.upstream).distinct()).all()
        urls = dict.fromkeys(names, upstream_url)
    with evaluation_gateway(instance, tenant=tenant, upstream_urls=urls) as target:
        yield target


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int, int], None]]:
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


def _dataset(path: Path) -> Any:
    from assay.governance import load_dataset

    try:
        content = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}", hint="Check the path.") from exc
    return load_dataset(content, path.name)


@changes_app.command("evaluate")
def changes_evaluate(
    change_id: Annotated[str, typer.Argument(help="Change request id.")],
    *,
    dataset: Annotated[Path | None, typer.Option(help="Golden dataset (JSON Lines).",
                       show_default=False)] = None,
    evaluation: Annotated[str | None, typer.Option(help="Attach an existing evaluation instead.",
                          show_default=False)] = None,
    upstream_url: UpstreamUrlOption = None,
    tenant: TenantOption = "default",
    actor: ActorOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Evaluate the change's candidate (or attach an evaluation) against its thresholds."""
    from assay.governance import attach_evaluation, evaluate_change, get_evaluation

    if (dataset is None) == (evaluation is None):
        raise UsageError("give exactly one of --dataset and --evaluation",
                         hint="E.g. --dataset golden.jsonl")
    with _opened(data_dir) as (instance, audit):
        who = actor_of(actor)
        if evaluation is not None:
            change = attach_evaluation(instance, audit, change_id, evaluation, actor=who)
            result = get_evaluation(instance, evaluation)
        else:
            assert dataset is not None
            with _target(instance, upstream_url, tenant) as target, \
                    _progress("evaluating") as progress:
                result = evaluate_change(instance, audit, change_id, dataset=_dataset(dataset),
                                         actor=who, target=target, progress=progress)
            from assay.governance import get_change

            change = get_change(instance, change_id)
    _print_evaluation(result)
    console.print(_change_line(change))
    if change.state == "evaluation_failed":
        raise typer.Exit(1)


@changes_app.command("approve")
def changes_approve(
    change_id: Annotated[str, typer.Argument(help="Change request id.")],
    note: Annotated[str, typer.Option(help="Why you approve.")] = "",
    user: UserOption = None,
    totp: TotpOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Approve an evaluated change, or post-approve a live emergency change.

    Needs a registered person (--user) with a current authenticator code.
    """
    from assay.governance import approve_change

    change = _as_reviewer(data_dir, user, totp, "approve a change", lambda i, a, person: approve_change(
        i, a, change_id, actor=person.actor, note=note, verified_by=person.verified_by))
    console.print(_change_line(change) + f", approved by {escape(change.approver or '')}")


@changes_app.command("reject")
def changes_reject(
    change_id: Annotated[str, typer.Argument(help="Change request id.")],
    reason: Annotated[str, typer.Option(help="Why it is turned down.")],
    user: UserOption = None,
    totp: TotpOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Turn down a change that has not gone live (not by its requester).

    Needs a registered person (--user) with a current authenticator code.
    """
    from assay.governance import reject_change

    change = _as_reviewer(data_dir, user, totp, "reject a change", lambda i, a, person: reject_change(
        i, a, change_id, actor=person.actor, reason=reason, verified_by=person.verified_by))
    console.print(_change_line(change))


@changes_app.command("withdraw")
def changes_withdraw(
    change_id: Annotated[str, typer.Argument(help="Change request id.")],
    *,
    reason: Annotated[str, typer.Option(help="Why it is taken back.")] = "",
    actor: ActorOption = None,
    user: UserOption = None,
    totp: TotpOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Take back your own change before it goes live (same identity as when proposed)."""
    from assay.governance import withdraw_change

    with _opened(data_dir) as (instance, audit):
        who, verified_by = _who(instance, audit, actor, user, totp, purpose="withdraw a change")
        change = withdraw_change(instance, audit, change_id, actor=who, reason=reason,
                                 verified_by=verified_by)
    console.print(_change_line(change))


@changes_app.command("activate")
def changes_activate(
    change_id: Annotated[str, typer.Argument(help="Change request id.")],
    actor: ActorOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Make an approved (or emergency) change live."""
    from assay.governance import activate_change

    with _opened(data_dir) as (instance, audit):
        change = activate_change(instance, audit, change_id, actor=actor_of(actor))
    console.print(_change_line(change) + f", route version {change.activated_route_version}")


@changes_app.command("rollback")
def changes_rollback(
    change_id: Annotated[str, typer.Argument(help="The live change to undo.")],
    reason: Annotated[str, typer.Option(help="Why it is rolled back.")],
    actor: ActorOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Put the route back to the version it had before this change."""
    from assay.governance import get_route, rollback_change

    with _opened(data_dir) as (instance, audit):
        change = rollback_change(instance, audit, change_id, actor=actor_of(actor), reason=reason)
        route = get_route(instance, change.alias)
    console.print(_change_line(change) + f"; {escape(route.alias)} is back on "
                  f"{escape(route.model_version_id)} (route version {route.route_version})")


@changes_app.command("show")
def changes_show(
    change_id: Annotated[str, typer.Argument(help="Change request id.")],
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a change request and each recorded step with its ledger index."""
    from assay.governance import change_steps, get_change

    instance = instance_for(data_dir)
    try:
        change = get_change(instance, change_id)
        steps = change_steps(instance, change_id)
    finally:
        instance.close()
    if as_json:
        _print_json({**{k: v for k, v in change.__dict__.items() if k != "thresholds"},
                     "min_pass_rate_bp": change.thresholds.min_pass_rate_bp,
                     "steps": [s.__dict__ for s in steps]})
        return
    console.print(_change_line(change))
    console.print(f"{escape(change.model_version_id)}; requested by {escape(change.requester)}: "
                  f"{escape(change.reason)}")
    table = Table(title="Steps")
    for column in ("step", "actor", "at", "ledger index", "note"):
        table.add_column(column)
    for step in steps:
        table.add_row(step.step, escape(step.actor), step.at.isoformat(),
                      str(step.ledger_index), escape(step.note))
    console.print(table)


@changes_app.command("list")
def changes_list(
    state: Annotated[str | None, typer.Option(help="Only this state (or awaiting-post-approval).",
                     show_default=False)] = None,
    route: Annotated[str | None, typer.Option("--route", help="Only this alias.",
                     show_default=False)] = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """List change requests."""
    from assay.governance import list_changes

    instance = instance_for(data_dir)
    try:
        changes = list_changes(instance, state=state, alias=route)
    finally:
        instance.close()
    if as_json:
        _print_json([{k: v for k, v in c.__dict__.items() if k != "thresholds"}
                     | {"min_pass_rate_bp": c.thresholds.min_pass_rate_bp} for c in changes])
        return
    table = Table(title="Change requests")
    for column in ("id", "route", "model version", "state", "requester", "approver", "flags"):
        table.add_column(column)
    for c in changes:
        flags = ", ".join(f for f, on in (("emergency", c.emergency),
                                          ("awaiting post-approval", c.post_approval_pending),
                                          ("quick start", c.kind == "bootstrap")) if on)
        table.add_row(c.id, escape(c.alias), escape(c.model_version_id), c.state,
                      escape(c.requester), escape(c.approver or "-"), flags or "-")
    console.print(table)


# -- eval -------------------------------------------------------------------------------------


def _print_evaluation(result: Any) -> None:
    table = Table(title=f"Evaluation {result.id}: {escape(result.candidate)} on "
                  f"{escape(result.alias)}")
    table.add_column("case")
    table.add_column("result")
    table.add_column("detail")
    for case in result.cases:
        detail = case.error or "; ".join(
            f"{s['scorer']}: {s['detail']}" for s in case.scores if not s["passed"])
        table.add_row(escape(case.case_id), "[green]pass[/]" if case.passed else "[red]fail[/]",
                      escape(detail))
    console.print(table)
    baseline = (f" (current version {escape(result.baseline)}: "
                f"{_pct(result.baseline_pass_rate_bp)})" if result.baseline else "")
    colour = "green" if result.passed else "red"
    console.print(f"{result.cases_passed}/{len(result.cases)} passed, "
                  f"{_pct(result.pass_rate_bp)}{baseline}; "
                  f"[{colour}]{'PASS' if result.passed else 'FAIL'}[/]: {escape(result.verdict)}")


def _evaluation_dict(result: Any) -> dict[str, Any]:
    return {
        "id": result.id, "route": result.alias, "candidate": result.candidate,
        "baseline": result.baseline, "dataset_sha256": result.dataset_sha256,
        "cases_total": len(result.cases), "cases_passed": result.cases_passed,
        "pass_rate_bp": result.pass_rate_bp, "baseline_pass_rate_bp": result.baseline_pass_rate_bp,
        "min_pass_rate_bp": result.thresholds.min_pass_rate_bp, "passed": result.passed,
        "verdict": result.verdict,
        "cases": [{"id": c.case_id, "passed": c.passed, "scores": list(c.scores),
                   "error": c.error} for c in result.cases],
    }


@eval_app.command("run")
def eval_run(
    *,
    route: Annotated[str, typer.Option("--route", help="Route alias the candidate is for.")],
    candidate: Annotated[str, typer.Option(help="Registered model version to evaluate.")],
    dataset: Annotated[Path, typer.Option(help="Golden dataset (JSON Lines).")],
    min_pass_rate: Annotated[float | None, typer.Option(help="Threshold, percent (default: the "
                             "route's).", show_default=False)] = None,
    compare: Annotated[bool, typer.Option("--compare/--no-compare", help="Also run the route's "
                       "current version for comparison.")] = True,
    upstream_url: UpstreamUrlOption = None,
    tenant: TenantOption = "default",
    actor: ActorOption = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run a golden dataset against a candidate through the gateway; exit 1 if it misses
    the thresholds."""
    from assay.governance import Thresholds, run_evaluation
    from assay.governance.changes import thresholds_for

    cases = _dataset(dataset)
    with _opened(data_dir) as (instance, audit):
        limits = None
        if min_pass_rate is not None:
            with instance.db.session() as session:
                base = thresholds_for(session, route)
            limits = Thresholds(_bp(min_pass_rate, "--min-pass-rate") or 0, base.max_regression_bp)
        with _target(instance, upstream_url, tenant) as target, \
                _progress("evaluating") as progress:
            result = run_evaluation(instance, audit, alias=route, candidate=candidate,
                                    dataset=cases, actor=actor_of(actor), target=target,
                                    compare_current=compare, thresholds=limits,
                                    progress=progress)
    if as_json:
        _print_json(_evaluation_dict(result))
    else:
        _print_evaluation(result)
    if not result.passed:
        raise typer.Exit(1)


@eval_app.command("show")
def eval_show(
    evaluation_id: Annotated[str, typer.Argument(help="Evaluation id.")],
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show an evaluation's per-case results and aggregate."""
    from assay.governance import get_evaluation

    instance = instance_for(data_dir)
    try:
        result = get_evaluation(instance, evaluation_id)
    finally:
        instance.close()
    if as_json:
        _print_json(_evaluation_dict(result))
    else:
        _print_evaluation(result)


@eval_app.command("schedule")
def eval_schedule(
    *,
    route: Annotated[str, typer.Option("--route", help="Live route to re-evaluate.")],
    dataset: Annotated[Path, typer.Option(help="Golden dataset (JSON Lines); stored.")],
    every: Annotated[int, typer.Option(help="Interval in seconds (at least 60).")] = 86400,
    tenant: TenantOption = "default",
    actor: ActorOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Re-evaluate a live route on a schedule; drift raises an eval.drift_detected event."""
    from assay.gateway.keys import validate_tenant
    from assay.governance import schedule_evaluation

    with _opened(data_dir) as (instance, audit):
        next_run = schedule_evaluation(instance, audit, alias=route, dataset=_dataset(dataset),
                                       interval_s=every, actor=actor_of(actor),
                                       tenant=validate_tenant(tenant))
    console.print(f"Route {escape(route)} will be re-evaluated every {every}s under tenant "
                  f"{escape(tenant)}'s policy; next at {next_run.isoformat()}")


@eval_app.command("run-due")
def eval_run_due(
    upstream_url: UpstreamUrlOption = None,
    tenant: TenantOption = "default",
    data_dir: DataDirOption = None,
) -> None:
    """Run scheduled re-evaluations that are due now (for cron; the server runs them too).

    Each runs under the tenant it was scheduled for; --tenant is for schedules that name none.
    """
    from assay.governance import run_due_evaluations

    with _opened(data_dir) as (instance, audit), _target(instance, upstream_url, tenant) as target:
        results = run_due_evaluations(instance, audit, target)
    for result in results:
        state = "[red]DRIFT[/]" if result.drift else "ok"
        console.print(f"{escape(result.alias)}: {_pct(result.pass_rate_bp)} {state}")
    if any(r.drift for r in results):
        raise typer.Exit(1)


# -- requests ---------------------------------------------------------------------------------


@requests_app.command("explain")
def requests_explain(
    request_id: Annotated[str, typer.Argument(help="The X-Request-Id of a gateway request.")],
    actor: ActorOption = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show how a request was answered (the viewing is recorded in the ledger)."""
    from assay.governance import explain_request

    with _opened(data_dir) as (instance, audit):
        explanation = explain_request(instance, audit, request_id, actor=actor_of(actor))
    data = explanation.as_dict()
    if as_json:
        _print_json(data)
        return
    table = Table(title=f"Request {escape(request_id)}", show_header=False)
    for key, value in data.items():
        text = json.dumps(value, default=str) if isinstance(value, dict | list | tuple) else str(value)
        table.add_row(key, escape(text))
    console.print(table)
