"""Change management for routes: propose, evaluate, approve, activate, roll back.

Rules enforced here (not left to the interface):
- a normal change activates only when approved, and it can be approved only
  after a passing evaluation is attached;
- nobody approves their own change (separation of duties);
- an emergency change may activate at once, but stays awaiting post-approval
  until someone other than the requester approves it;
- every step is a ledger event appended before the step takes effect.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from assay.errors import GovernanceError, NotFoundError, UsageError
from assay.governance._audit import AuditSink, emit
from assay.governance._common import (
    DEFAULT_MAX_REGRESSION_BP,
    DEFAULT_MIN_PASS_RATE_BP,
    check_identifier,
    new_id,
    notify_local_change,
    same_person,
)
from assay.governance.models import (
    ChangeRequestRow,
    ChangeStepRow,
    EvaluationRow,
    ModelVersionRow,
    RouteRow,
    RouteStateRow,
    RouteVersionRow,
)
from assay.governance.registry import get_model_in
from assay.governance.validation import check_output_schema
from assay.instance import Instance

__all__ = [
    "SELF_DECLARED",
    "STATES",
    "ChangeRequest",
    "ChangeStep",
    "Thresholds",
    "activate_change",
    "approve_change",
    "attach_evaluation",
    "change_steps",
    "get_change",
    "list_changes",
    "propose_change",
    "reject_change",
    "rollback_change",
    "thresholds_for",
    "withdraw_change",
]

STATES = ("proposed", "evaluation_failed", "evaluated", "approved", "activated", "rolled_back",
          "rejected", "withdrawn")
_EVALUABLE = ("proposed", "evaluation_failed", "evaluated")
#: States from which a change can still be rejected or withdrawn: it has not gone live.
_OPEN = ("proposed", "evaluation_failed", "evaluated", "approved")
_CLOSED = ("rejected", "withdrawn")
#: How the actor of a step was established (recorded as ``actor_verified_by``).
SELF_DECLARED = "self_declared"


@dataclass(frozen=True)
class Thresholds:
    """What an evaluation must reach, in basis points (10000 = 100 %)."""

    min_pass_rate_bp: int = DEFAULT_MIN_PASS_RATE_BP
    max_regression_bp: int = DEFAULT_MAX_REGRESSION_BP

    def judge(self, pass_rate_bp: int, baseline_bp: int | None) -> tuple[bool, str]:
        if pass_rate_bp < self.min_pass_rate_bp:
            return False, f"pass rate {_pct(pass_rate_bp)} is below {_pct(self.min_pass_rate_bp)}"
        if baseline_bp is not None and baseline_bp - pass_rate_bp > self.max_regression_bp:
            return False, (
                f"pass rate {_pct(pass_rate_bp)} regresses more than "
                f"{_pct(self.max_regression_bp)} from the current version's {_pct(baseline_bp)}"
            )
        return True, f"pass rate {_pct(pass_rate_bp)} meets {_pct(self.min_pass_rate_bp)}"


def _pct(bp: int) -> str:
    return f"{bp // 100}.{bp % 100:02d}%"


@dataclass(frozen=True)
class ChangeRequest:
    id: str
    alias: str
    model_version_id: str
    reason: str
    requester: str
    emergency: bool
    kind: str
    state: str
    evaluation_id: str | None
    approver: str | None
    post_approval_pending: bool
    activated_by: str | None
    activated_at: datetime | None
    activated_route_version: int | None
    previous_route_version: int | None
    thresholds: Thresholds
    output_schema: Mapping[str, Any] | None
    created_at: datetime
    updated_at: datetime


def _view(row: ChangeRequestRow, thresholds: Thresholds) -> ChangeRequest:
    return ChangeRequest(
        id=row.id, alias=row.alias, model_version_id=row.model_version_id, reason=row.reason,
        requester=row.requester, emergency=row.emergency, kind=row.kind, state=row.state,
        evaluation_id=row.evaluation_id, approver=row.approver,
        post_approval_pending=row.post_approval_pending, activated_by=row.activated_by,
        activated_at=row.activated_at, activated_route_version=row.activated_route_version,
        previous_route_version=row.previous_route_version, thresholds=thresholds,
        output_schema=row.output_schema, created_at=row.created_at, updated_at=row.updated_at,
    )


def thresholds_for(session: Session, alias: str, row: ChangeRequestRow | None = None) -> Thresholds:
    """The change's own thresholds, else the route's, else the defaults."""
    route = session.get(RouteRow, alias)
    base = Thresholds(route.min_pass_rate_bp, route.max_regression_bp) if route else Thresholds()
    if row is None:
        return base
    return Thresholds(
        row.min_pass_rate_bp if row.min_pass_rate_bp is not None else base.min_pass_rate_bp,
        row.max_regression_bp if row.max_regression_bp is not None else base.max_regression_bp,
    )


def _load(session: Session, change_id: str) -> ChangeRequestRow:
    row = session.get(ChangeRequestRow, change_id)
    if row is None:
        raise NotFoundError(
            f"change request {change_id} does not exist",
            hint="List change requests with `assay changes list`.",
        )
    return row


def get_change(instance: Instance, change_id: str) -> ChangeRequest:
    with instance.db.session() as session:
        row = _load(session, change_id)
        return _view(row, thresholds_for(session, row.alias, row))


@dataclass(frozen=True)
class ChangeStep:
    step: str
    actor: str
    at: datetime
    note: str
    ledger_index: int | None


def change_steps(instance: Instance, change_id: str) -> list[ChangeStep]:
    """The recorded steps of a change, oldest first, each with its ledger index."""
    with instance.db.session() as session:
        _load(session, change_id)
        rows = session.scalars(
            select(ChangeStepRow).where(ChangeStepRow.change_id == change_id)
            .order_by(ChangeStepRow.id)
        ).all()
        return [ChangeStep(r.step, r.actor, r.at, r.note, r.ledger_index) for r in rows]


def list_changes(
    instance: Instance, *, state: str | None = None, alias: str | None = None
) -> list[ChangeRequest]:
    query = select(ChangeRequestRow).order_by(ChangeRequestRow.created_at, ChangeRequestRow.id)
    if state is not None:
        if state not in (*STATES, "awaiting-post-approval"):
            raise UsageError(f"unknown state {state!r}", hint=f"Use one of {', '.join(STATES)}.")
        query = (
            query.where(ChangeRequestRow.post_approval_pending.is_(True))
            if state == "awaiting-post-approval"
            else query.where(ChangeRequestRow.state == state)
        )
    if alias is not None:
        query = query.where(ChangeRequestRow.alias == alias)
    with instance.db.session() as session:
        return [_view(r, thresholds_for(session, r.alias, r)) for r in session.scalars(query)]


def _check_bp(name: str, value: int | None) -> None:
    if value is not None and not 0 <= value <= 10000:
        raise UsageError(f"{name} must be between 0 and 10000 basis points", hint="100% = 10000.")


def propose_change(
    instance: Instance,
    audit: AuditSink,
    *,
    alias: str,
    model_version_id: str,
    reason: str,
    actor: str,
    emergency: bool = False,
    min_pass_rate_bp: int | None = None,
    max_regression_bp: int | None = None,
    output_schema: Mapping[str, Any] | None = None,
    clear_output_schema: bool = False,
    verified_by: str = SELF_DECLARED,
) -> ChangeRequest:
    """Record a proposal to point ``alias`` at ``model_version_id``."""
    check_identifier("route alias", alias)
    if not reason.strip():
        raise UsageError("a change needs a reason", hint="Pass --reason 'why this change'.")
    _check_bp("min pass rate", min_pass_rate_bp)
    _check_bp("max regression", max_regression_bp)
    if output_schema is not None:
        try:
            check_output_schema(output_schema)
        except ValueError as exc:
            raise UsageError(str(exc), hint="Fix the schema file.") from exc
    with instance.db.session() as session:
        get_model_in(session, model_version_id)
    change_id = new_id("chg")
    index = emit(
        audit, "change.proposed", actor=actor,
        object_ids={"change": change_id, "route": alias, "model_version": model_version_id},
        attributes={"emergency": emergency, "reason_present": True,
                    "output_schema_set": output_schema is not None,
                    "actor_verified_by": verified_by},
    )
    now = instance.clock.now()
    with instance.db.session() as session:
        row = ChangeRequestRow(
            id=change_id, alias=alias, model_version_id=model_version_id,
            min_pass_rate_bp=min_pass_rate_bp, max_regression_bp=max_regression_bp,
            output_schema=dict(output_schema) if output_schema is not None else None,
            clear_output_schema=clear_output_schema, reason=reason.strip(), requester=actor,
            emergency=emergency, kind="change", state="proposed", post_approval_pending=False,
            created_at=now, updated_at=now,
        )
        session.add(row)
        _step(session, change_id, "proposed", actor, at=now,
              note=reason.strip(), index=index)
        session.flush()
        return _view(row, thresholds_for(session, alias, row))


def _step(session: Session, change_id: str, step: str, actor: str, *, at: datetime,
          note: str, index: int | None) -> None:
    session.add(ChangeStepRow(change_id=change_id, step=step, actor=actor, at=at,
                              note=note, ledger_index=index))


def _transition(session: Session, row: ChangeRequestRow, expected_state: str,
                values: Mapping[str, object]) -> None:
    """Compare-and-set: fails if another process moved the change meanwhile."""
    result = session.execute(
        update(ChangeRequestRow)
        .where(ChangeRequestRow.id == row.id, ChangeRequestRow.state == expected_state,
               ChangeRequestRow.updated_at == row.updated_at)
        .values(**values)
        .execution_options(synchronize_session="fetch")
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise GovernanceError(
            f"change request {row.id} was changed by someone else meanwhile",
            hint="Look at it again with `assay changes list`, then retry.",
        )


def attach_evaluation(
    instance: Instance, audit: AuditSink, change_id: str, evaluation_id: str, *, actor: str
) -> ChangeRequest:
    """Attach an evaluation run; the change becomes ``evaluated`` only if it passes."""
    with instance.db.session() as session:
        row = _load(session, change_id)
        evaluation = session.get(EvaluationRow, evaluation_id)
        if evaluation is None:
            raise NotFoundError(f"evaluation {evaluation_id} does not exist",
                                hint="Run one with `assay eval run`.")
        _require_evaluable(row, evaluation)
        thresholds = thresholds_for(session, row.alias, row)
    passed, verdict = thresholds.judge(evaluation.pass_rate_bp, evaluation.baseline_pass_rate_bp)
    new_state = "evaluated" if passed else "evaluation_failed"
    if row.state in ("activated", "approved"):
        new_state = row.state  # an emergency change gets its evaluation after the fact
    index = emit(
        audit, "change.evaluated", actor=actor,
        object_ids={"change": change_id, "route": row.alias, "evaluation": evaluation_id,
                    "model_version": row.model_version_id},
        attributes={"passed": passed, "pass_rate_bp": evaluation.pass_rate_bp,
                    "min_pass_rate_bp": thresholds.min_pass_rate_bp,
                    "baseline_pass_rate_bp": evaluation.baseline_pass_rate_bp},
    )
    now = instance.clock.now()
    with instance.db.session() as session:
        _transition(session, row, row.state, {"state": new_state, "evaluation_id": evaluation_id,
                                               "updated_at": now})
        _step(session, change_id, "evaluated", actor, at=now,
              note=verdict, index=index)
    return get_change(instance, change_id)


def _require_evaluable(row: ChangeRequestRow, evaluation: EvaluationRow) -> None:
    if row.state not in _EVALUABLE and not (row.emergency and row.state == "activated"):
        raise GovernanceError(f"change {row.id} is {row.state}; it can no longer be evaluated",
                              hint="Propose a new change.")
    if evaluation.alias != row.alias or evaluation.candidate_model_version_id != row.model_version_id:
        raise GovernanceError(
            f"evaluation {evaluation.id} is of {evaluation.candidate_model_version_id} on "
            f"{evaluation.alias}, not of this change's {row.model_version_id} on {row.alias}",
            hint="Run `assay changes evaluate CHANGE --dataset FILE` for this change.",
        )


def _passing_evaluation(session: Session, row: ChangeRequestRow) -> bool:
    if row.evaluation_id is None:
        return False
    evaluation = session.get(EvaluationRow, row.evaluation_id)
    if evaluation is None:
        return False
    thresholds = thresholds_for(session, row.alias, row)
    return thresholds.judge(evaluation.pass_rate_bp, evaluation.baseline_pass_rate_bp)[0]


def approve_change(
    instance: Instance, audit: AuditSink, change_id: str, *, actor: str, note: str = "",
    verified_by: str = SELF_DECLARED,
) -> ChangeRequest:
    """Approve a change (or post-approve an emergency one). Never by the requester."""
    with instance.db.session() as session:
        row = _load(session, change_id)
        if same_person(row.requester, actor):
            raise GovernanceError(
                f"{actor} requested change {change_id} and cannot approve it",
                hint="Separation of duties: another person must approve it.",
            )
        post = row.post_approval_pending
        if not post and row.state != "evaluated":
            raise GovernanceError(
                f"change {change_id} is {row.state}; only an evaluated change can be approved",
                hint=_next_step_hint(row),
            )
        if not post and not _passing_evaluation(session, row):
            raise GovernanceError(f"change {change_id} has no passing evaluation",
                                  hint="Run `assay changes evaluate` first.")
    event = "change.post_approved" if post else "change.approved"
    index = emit(audit, event, actor=actor,
                 object_ids={"change": change_id, "route": row.alias,
                             "model_version": row.model_version_id},
                 attributes={"emergency": row.emergency, "requester_differs": True,
                             "actor_verified_by": verified_by})
    now = instance.clock.now()
    values: dict[str, object] = {"approver": actor, "approved_at": now, "updated_at": now,
                                 "post_approval_pending": False}
    if not post:
        values["state"] = "approved"
    with instance.db.session() as session:
        _transition(session, row, row.state, values)
        _step(session, change_id, "post_approved" if post else "approved", actor, at=now,
              note=note, index=index)
    return get_change(instance, change_id)


def _require_open(row: ChangeRequestRow, action: str) -> None:
    if row.state in _OPEN and not row.post_approval_pending:
        return
    hint = _next_step_hint(row)
    if row.state == "activated":
        hint = "It is live; undo it with `assay changes rollback CHANGE --reason ...`."
    raise GovernanceError(f"change {row.id} is {row.state}; only a change that has not gone "
                          f"live can be {action}", hint=hint)


def _close(instance: Instance, audit: AuditSink, row: ChangeRequestRow, *, state: str,
           actor: str, reason: str, verified_by: str) -> ChangeRequest:
    """Ledger first, then the compare-and-set to the closed ``state``."""
    index = emit(audit, f"change.{state}", actor=actor,
                 object_ids={"change": row.id, "route": row.alias,
                             "model_version": row.model_version_id},
                 attributes={"previous_state": row.state, "emergency": row.emergency,
                             "reason_present": True, "actor_verified_by": verified_by})
    now = instance.clock.now()
    with instance.db.session() as session:
        _transition(session, row, row.state, {"state": state, "updated_at": now})
        _step(session, row.id, state, actor, at=now, note=reason, index=index)
    return get_change(instance, row.id)


def reject_change(
    instance: Instance, audit: AuditSink, change_id: str, *, actor: str, reason: str,
    verified_by: str = SELF_DECLARED,
) -> ChangeRequest:
    """A reviewer other than the requester turns the change down; it can never go live."""
    if not reason.strip():
        raise UsageError("a rejection needs a reason", hint="Pass --reason 'why not'.")
    with instance.db.session() as session:
        row = _load(session, change_id)
    if same_person(row.requester, actor):
        raise GovernanceError(
            f"{actor} requested change {change_id} and cannot reject it",
            hint="Withdraw your own change with `assay changes withdraw` instead.",
        )
    _require_open(row, "rejected")
    return _close(instance, audit, row, state="rejected", actor=actor, reason=reason.strip(),
                  verified_by=verified_by)


def withdraw_change(
    instance: Instance, audit: AuditSink, change_id: str, *, actor: str, reason: str = "",
    verified_by: str = SELF_DECLARED,
) -> ChangeRequest:
    """The requester takes back a change that has not gone live."""
    with instance.db.session() as session:
        row = _load(session, change_id)
    if not same_person(row.requester, actor):
        raise GovernanceError(
            f"only the requester ({row.requester}) can withdraw change {change_id}",
            hint="A reviewer turns a change down with `assay changes reject`.",
        )
    _require_open(row, "withdrawn")
    return _close(instance, audit, row, state="withdrawn", actor=actor,
                  reason=reason.strip() or "withdrawn by the requester", verified_by=verified_by)


def _next_step_hint(row: ChangeRequestRow) -> str:
    return {
        "proposed": "Evaluate it first: `assay changes evaluate CHANGE --dataset FILE`.",
        "evaluation_failed": "Its evaluation failed; fix the candidate and evaluate again.",
        "approved": "It is already approved; activate it with `assay changes activate`.",
        "activated": "It is already live.",
        "rolled_back": "It was rolled back; propose a new change.",
        "rejected": "It was rejected; propose a new change.",
        "withdrawn": "It was withdrawn; propose a new change.",
    }.get(row.state, "See `assay changes list`.")


def activate_change(
    instance: Instance, audit: AuditSink, change_id: str, *, actor: str
) -> ChangeRequest:
    """Make the change live: a new route version the gateway serves at once."""
    with instance.db.session() as session:
        row = _load(session, change_id)
        _require_activatable(session, row)
        model = session.get(ModelVersionRow, row.model_version_id)
        assert model is not None  # foreign key
        route = session.get(RouteRow, row.alias)
        thresholds = thresholds_for(session, row.alias, row)
        schema = _new_schema(row, route)
    pending = row.emergency and row.state != "approved"
    previous = route.route_version if route else None
    new_version = (previous or 0) + 1
    index = emit(
        audit, "route.activated", actor=actor,
        object_ids={"change": change_id, "route": row.alias, "model_version": row.model_version_id},
        attributes={
            "route_version": new_version, "previous_route_version": previous,
            "previous_model_version": route.model_version_id if route else None,
            "emergency": row.emergency, "post_approval_pending": pending,
            "evaluation": row.evaluation_id, "approver": row.approver,
            "params_sha256": model.params_sha256, "prompt_template": model.prompt_template_id,
            "min_pass_rate_bp": thresholds.min_pass_rate_bp,
        },
    )
    now = instance.clock.now()
    kind = "bootstrap" if row.kind == "bootstrap" else ("emergency" if pending else "change")
    with instance.db.session() as session:
        _write_route(session, row.alias, previous, RouteVersionRow(
            alias=row.alias, route_version=new_version, model_version_id=row.model_version_id,
            min_pass_rate_bp=thresholds.min_pass_rate_bp,
            max_regression_bp=thresholds.max_regression_bp, output_schema=schema,
            change_id=change_id, kind=kind, activated_at=now, activated_by=actor,
            ledger_index=index,
        ))
        _transition(session, row, row.state, {
            "state": "activated", "activated_by": actor, "activated_at": now,
            "activated_route_version": new_version, "previous_route_version": previous,
            "post_approval_pending": pending, "updated_at": now,
        })
        _step(session, change_id, "activated", actor, at=now,
              note="emergency: awaiting post-approval" if pending else "", index=index)
    notify_local_change()
    return get_change(instance, change_id)


def _require_activatable(session: Session, row: ChangeRequestRow) -> None:
    if row.state in ("activated", "rolled_back", *_CLOSED):
        raise GovernanceError(f"change {row.id} is {row.state}", hint=_next_step_hint(row))
    if row.emergency:
        return
    if row.state != "approved":
        raise GovernanceError(
            f"change {row.id} is {row.state}; only an approved change can be activated",
            hint=_next_step_hint(row) if row.state != "evaluated"
            else "Another person must approve it: `assay changes approve CHANGE`.",
        )
    if not _passing_evaluation(session, row):
        raise GovernanceError(f"change {row.id} has no passing evaluation",
                              hint="Run `assay changes evaluate` first.")


def _new_schema(row: ChangeRequestRow, route: RouteRow | None) -> dict[str, Any] | None:
    if row.clear_output_schema:
        return None
    if row.output_schema is not None:
        return dict(row.output_schema)
    return dict(route.output_schema) if route and route.output_schema else None


def _write_route(session: Session, alias: str, previous: int | None,
                 version: RouteVersionRow) -> None:
    """Insert the route version and point the route at it (compare-and-set)."""
    values = {
        "model_version_id": version.model_version_id, "route_version": version.route_version,
        "min_pass_rate_bp": version.min_pass_rate_bp,
        "max_regression_bp": version.max_regression_bp, "output_schema": version.output_schema,
        "change_id": version.change_id, "updated_at": version.activated_at,
    }
    if previous is None:
        if session.get(RouteRow, alias) is not None:
            _route_conflict(alias)
        session.add(RouteRow(alias=alias, **values))
    else:
        result = session.execute(
            update(RouteRow)
            .where(RouteRow.alias == alias, RouteRow.route_version == previous)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            _route_conflict(alias)
    session.add(version)
    bump_generation(session)


def _route_conflict(alias: str) -> None:
    raise GovernanceError(f"route {alias} was changed by someone else meanwhile",
                          hint="Check `assay routes show`, then retry.")


def bump_generation(session: Session) -> None:
    state = session.get(RouteStateRow, 1)
    if state is None:
        session.add(RouteStateRow(id=1, generation=1))
    else:
        state.generation += 1


def rollback_change(
    instance: Instance, audit: AuditSink, change_id: str, *, actor: str, reason: str
) -> ChangeRequest:
    """Put the route back to the version it had before this change went live."""
    if not reason.strip():
        raise UsageError("a rollback needs a reason", hint="Pass --reason.")
    with instance.db.session() as session:
        row = _load(session, change_id)
        route = session.get(RouteRow, row.alias)
        prior = _rollback_target(session, row, route)
    assert route is not None
    new_version = route.route_version + 1
    index = emit(
        audit, "route.rolled_back", actor=actor,
        object_ids={"change": change_id, "route": row.alias,
                    "model_version": prior.model_version_id},
        attributes={"route_version": new_version, "restored_route_version": prior.route_version,
                    "rolled_back_model_version": row.model_version_id},
    )
    now = instance.clock.now()
    with instance.db.session() as session:
        _write_route(session, row.alias, route.route_version, RouteVersionRow(
            alias=row.alias, route_version=new_version, model_version_id=prior.model_version_id,
            min_pass_rate_bp=prior.min_pass_rate_bp, max_regression_bp=prior.max_regression_bp,
            output_schema=prior.output_schema, change_id=change_id, kind="rollback",
            activated_at=now, activated_by=actor, ledger_index=index,
        ))
        _transition(session, row, "activated", {"state": "rolled_back", "updated_at": now})
        _step(session, change_id, "rolled_back", actor, at=now,
              note=reason.strip(), index=index)
    notify_local_change()
    return get_change(instance, change_id)


def _rollback_target(session: Session, row: ChangeRequestRow,
                     route: RouteRow | None) -> RouteVersionRow:
    if row.state != "activated":
        raise GovernanceError(f"change {row.id} is {row.state}; only a live change rolls back",
                              hint=_next_step_hint(row))
    if route is None or route.route_version != row.activated_route_version:
        raise GovernanceError(
            f"a later change is live on {row.alias}; change {row.id} is not the current version",
            hint="Roll back the latest change first, or propose a new change.",
        )
    if row.previous_route_version is None:
        raise GovernanceError(
            f"change {row.id} created route {row.alias}; there is no earlier version",
            hint="Propose a change to another model version instead.",
        )
    prior = session.get(RouteVersionRow, (row.alias, row.previous_route_version))
    assert prior is not None
    return prior
