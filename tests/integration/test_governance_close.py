"""Rejecting and withdrawing change requests: every state against both actions, both engines."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from tests.governance_helpers import DATASET, capitals_answer, ledger_events, local_upstream, spec

from assay.errors import GovernanceError, UsageError
from assay.governance import (
    GOVERNANCE_CHECKS,
    ChangeRequest,
    HttpTarget,
    activate_change,
    approve_change,
    evaluate_change,
    get_change,
    list_changes,
    load_dataset,
    propose_change,
    register_model,
    reject_change,
    rollback_change,
    withdraw_change,
)
from assay.instance import Instance
from assay.ledger import AuditLog

REQUESTER, REVIEWER = "user:alice", "user:bob"  # verified people, as the CLI and API record them


@pytest.fixture
def audit(instance: Instance) -> Iterator[AuditLog]:
    log = AuditLog.open(instance)
    yield log
    log.close()


class Flow:
    """Drives a change on route ``support`` to a named state."""

    def __init__(self, instance: Instance, audit: AuditLog, url: str) -> None:
        self.instance, self.audit = instance, audit
        self.target = HttpTarget(lambda _upstream: url)
        self.good = register_model(instance, audit, spec("good"), actor=REQUESTER).id
        self.bad = register_model(instance, audit, spec("bad"), actor=REQUESTER).id

    def propose(self, model: str | None = None, *, emergency: bool = False) -> ChangeRequest:
        return propose_change(self.instance, self.audit, alias="support",
                              model_version_id=model or self.good, reason="better answers",
                              actor=REQUESTER, emergency=emergency)

    def evaluate(self, change: ChangeRequest) -> None:
        evaluate_change(self.instance, self.audit, change.id, dataset=load_dataset(DATASET),
                        actor=REQUESTER, target=self.target)

    def reach(self, state: str) -> ChangeRequest:
        return getattr(self, "_" + state)()

    def _proposed(self) -> ChangeRequest:
        return self.propose()

    def _evaluation_failed(self) -> ChangeRequest:
        change = self.propose(self.bad)
        self.evaluate(change)
        return change

    def _evaluated(self) -> ChangeRequest:
        change = self.propose()
        self.evaluate(change)
        return change

    def _approved(self) -> ChangeRequest:
        change = self._evaluated()
        approve_change(self.instance, self.audit, change.id, actor=REVIEWER)
        return change

    def _activated(self) -> ChangeRequest:
        change = self._approved()
        activate_change(self.instance, self.audit, change.id, actor=REQUESTER)
        return change

    def _awaiting_post_approval(self) -> ChangeRequest:
        change = self.propose(emergency=True)
        activate_change(self.instance, self.audit, change.id, actor=REQUESTER)
        return change

    def _rolled_back(self) -> ChangeRequest:
        self._activated()
        change = self._activated()
        rollback_change(self.instance, self.audit, change.id, actor=REVIEWER, reason="worse")
        return change

    def _rejected(self) -> ChangeRequest:
        change = self.propose()
        reject_change(self.instance, self.audit, change.id, actor=REVIEWER, reason="not now")
        return change

    def _withdrawn(self) -> ChangeRequest:
        change = self.propose()
        withdraw_change(self.instance, self.audit, change.id, actor=REQUESTER)
        return change


@pytest.fixture
def flow(instance: Instance, audit: AuditLog) -> Iterator[Flow]:
    with local_upstream(capitals_answer({"bad": {"France", "Japan", "Italy", "Spain"}})) as (
        url, _log
    ):
        made = Flow(instance, audit, url)
        yield made
        made.target.close()


def _reject(flow: Flow, change: ChangeRequest) -> ChangeRequest:
    return reject_change(flow.instance, flow.audit, change.id, actor=REVIEWER, reason="risky")


def _withdraw(flow: Flow, change: ChangeRequest) -> ChangeRequest:
    return withdraw_change(flow.instance, flow.audit, change.id, actor=REQUESTER, reason="later")


Action = Callable[[Flow, ChangeRequest], ChangeRequest]
STATES = ["proposed", "evaluation_failed", "evaluated", "approved", "activated",
          "awaiting_post_approval", "rolled_back", "rejected", "withdrawn"]
OPEN = {"proposed", "evaluation_failed", "evaluated", "approved"}
ACTIONS: dict[str, tuple[Action, str]] = {"reject": (_reject, "rejected"),
                                          "withdraw": (_withdraw, "withdrawn")}


@pytest.mark.parametrize("action", sorted(ACTIONS))
@pytest.mark.parametrize("state", STATES)
def test_state_by_action(flow: Flow, state: str, action: str) -> None:
    change = flow.reach(state)
    before = get_change(flow.instance, change.id)
    act, closed = ACTIONS[action]
    if state in OPEN:
        after = act(flow, change)
        assert after.state == closed
        event = ledger_events(flow.instance)[-1]
        assert event["type"] == f"change.{closed}"
        assert event["object_ids"]["change"] == change.id
        assert event["attributes"]["previous_state"] == state
        assert event["attributes"]["actor_verified_by"] == "self_declared"
        return
    count = len(ledger_events(flow.instance))
    hint = "rollback" if state in ("activated", "awaiting_post_approval") else "propose a new"
    with pytest.raises(GovernanceError) as refused:
        act(flow, change)
    assert "has not gone live" in refused.value.message
    assert hint in (refused.value.hint or "").lower()
    assert get_change(flow.instance, change.id) == before  # nothing changed
    assert len(ledger_events(flow.instance)) == count  # nothing recorded


@pytest.mark.parametrize(
    ("action", "actor", "message"),
    [
        ("reject", REQUESTER, "cannot reject"),
        ("reject", " CLI:Alice", "cannot reject"),
        ("withdraw", REVIEWER, "only the requester"),
    ],
)
def test_separation_of_duties(flow: Flow, action: str, actor: str, message: str) -> None:
    change = flow.propose()
    with pytest.raises(GovernanceError, match=message):
        if action == "reject":
            reject_change(flow.instance, flow.audit, change.id, actor=actor, reason="no")
        else:
            withdraw_change(flow.instance, flow.audit, change.id, actor=actor)
    assert get_change(flow.instance, change.id).state == "proposed"


def test_rejection_needs_a_reason(flow: Flow) -> None:
    change = flow.propose()
    with pytest.raises(UsageError, match="needs a reason"):
        reject_change(flow.instance, flow.audit, change.id, actor=REVIEWER, reason="  ")


@pytest.mark.parametrize("closing", ["rejected", "withdrawn"])
def test_a_closed_change_never_goes_live(flow: Flow, closing: str) -> None:
    change = flow.propose(emergency=True)  # an emergency change could otherwise go live at once
    if closing == "rejected":
        _reject(flow, change)
    else:
        _withdraw(flow, change)
    with pytest.raises(GovernanceError, match=closing):
        activate_change(flow.instance, flow.audit, change.id, actor=REQUESTER)
    with pytest.raises(GovernanceError, match="no longer be evaluated"):
        flow.evaluate(change)
    with pytest.raises(GovernanceError, match="only an evaluated change"):
        approve_change(flow.instance, flow.audit, change.id, actor=REVIEWER)
    assert [c.id for c in list_changes(flow.instance, state=closing)] == [change.id]


def test_closed_changes_are_in_the_population_but_no_exception(flow: Flow) -> None:
    _reject(flow, flow._evaluated())
    _withdraw(flow, flow.propose())
    live = flow._activated()
    start = live.created_at - timedelta(days=1)
    end = flow.instance.clock.now() + timedelta(days=1)
    findings = {f.check_id: f for f in (check(flow.instance, start, end)
                                         for check in GOVERNANCE_CHECKS)}
    routes = findings["gov.route-changes-approved"]
    assert routes.status == "pass", routes.exceptions
    outcomes = sorted(str(item.get("outcome", "activated")) for item in routes.population)
    assert outcomes == ["activated", "rejected", "withdrawn"]
    [activated] = [i for i in routes.population if "outcome" not in i]
    assert (activated["requested_by"], activated["approved_by"]) == ("person", "person")
    assert findings["gov.emergency-changes-approved"].status == "pass"
