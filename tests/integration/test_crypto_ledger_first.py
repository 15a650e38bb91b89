"""Key management is ledger-first: with the ledger down nothing changes; a change that fails
after its event is recorded is cancelled by a ``crypto.step_aborted`` event."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from tests.crypto_support import RecordingAudit

from assay.compliance import build_sample, check_registry, load_library, parse_period
from assay.crypto import Keyring, TenantStore, management
from assay.errors import LedgerError, UsageError
from assay.instance import Instance

PLAIN = b"order 5521 was refunded"

Action = Callable[[TenantStore, Keyring], object]

ACTIONS_WITH_LEDGER_DOWN = [
    pytest.param(lambda tenants, _: tenants.create("globex", "cli:alice"), id="create tenant"),
    pytest.param(lambda _, keyring: keyring.rotate("acme", "cli:alice"), id="rotate"),
    pytest.param(lambda tenants, _: tenants.erase("acme", "cli:alice"), id="erase tenant"),
    pytest.param(
        lambda _, keyring: keyring.erase_subject("acme", "user-7", "cli:alice"),
        id="erase subject",
    ),
]


@pytest.mark.parametrize("action", ACTIONS_WITH_LEDGER_DOWN)
def test_ledger_down_changes_nothing(
    action: Action, audit: RecordingAudit, tenants: TenantStore, keyring: Keyring
) -> None:
    tenants.create("acme", "cli:alice")
    envelope = keyring.encrypt("acme", "message", "m1", PLAIN, subject="user-7")
    before = [(k.version, k.state) for k in keyring.list_keys()]
    recorded = len(audit.events)
    audit.inner.close()

    with pytest.raises(LedgerError):
        action(tenants, keyring)

    assert len(audit.events) == recorded
    assert [(k.version, k.state) for k in keyring.list_keys()] == before
    assert [t.name for t in tenants.list()] == ["acme"]
    keyring.forget("acme")
    assert keyring.decrypt("acme", "message", "m1", envelope) == PLAIN


def test_failed_provisioning_is_cancelled_in_the_ledger(
    monkeypatch: pytest.MonkeyPatch, instance: Instance, audit: RecordingAudit, tenants: TenantStore
) -> None:
    tenants.create("acme", "cli:alice")
    # Simulate losing the race to a concurrent creator: the name check passes, the insert fails.
    monkeypatch.setattr(management, "_refuse_taken_name", lambda keyring, name: None)
    first = len(audit.events)

    with pytest.raises(UsageError, match="already exists"):
        tenants.create("acme", "cli:bob")

    types = [e.type for e in audit.events[first:]]
    assert types == ["tenant.created", "key.created", "crypto.step_aborted"]
    aborted = audit.events[-1]
    assert aborted.attributes == {"cause": "IntegrityError"}
    assert aborted.object_ids["event_index"].count(",") == 1
    assert tenants.get("acme").created_by == "cli:alice"

    # The cancelled events leave the population auditors sample (privileged actions).
    today = instance.clock.now()
    period = parse_period(f"{today:%Y-%m-%d}..{today + timedelta(days=1):%Y-%m-%d}")
    sample = build_sample(instance, load_library(), check_registry(), "AS-ACC-10", period)
    population = {int(item["id"]) for item in sample["population"]["items"]}
    cancelled = {int(i) for i in aborted.object_ids["event_index"].split(",")}
    assert population and not population & cancelled


def test_erasure_is_recorded_before_keys_are_destroyed(
    audit: RecordingAudit, tenants: TenantStore, keyring: Keyring
) -> None:
    tenants.create("acme", "cli:alice")
    keyring.encrypt("acme", "message", "m1", PLAIN, subject="user-7")
    keyring.encrypt("acme", "message", "m2", PLAIN, subject="user-8")

    counts = keyring.erase_subject("acme", "user-7", "cli:alice")

    assert counts == {"data_keys": 1, "transcripts": 0}
    event = audit.of_type("subject.erased")[-1]
    assert event.attributes == counts
