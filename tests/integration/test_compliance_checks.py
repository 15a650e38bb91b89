"""Each built-in check on fixture data where it passes and where it fails (both engines)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from assay.clock import FixedClock
from assay.compliance import run_checks
from assay.config import UpstreamSettings
from assay.crypto.models import KekRow, TranscriptRow
from assay.instance import Instance
from assay.ledger import AuditLog, Event

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
Setup = Callable[[Instance, Path], None]


def _events(instance: Instance, events: list[tuple[str, dict[str, str], datetime]]) -> list[int]:
    log = AuditLog.open(instance)
    try:
        indexes = []
        for event_type, ids, when in events:
            instance.clock = FixedClock(when)
            log = _reopen(log, instance)
            indexes.append(log.append(Event(type=event_type, actor="system", tenant="acme", object_ids=ids, attributes={})))
        log.checkpoint(new=True)
        return indexes
    finally:
        log.close()
        instance.clock = FixedClock(NOW)


def _reopen(log: AuditLog, instance: Instance) -> AuditLog:
    log.close()
    return AuditLog.open(instance)


def _transcript(instance: Instance, tid: str, *, created: datetime, deadline: datetime, blob: bytes | None = None) -> None:
    body = blob if blob is not None else b"AE" + b"\x01\x01" + os.urandom(60)
    with instance.db.session() as session:
        session.add(TranscriptRow(id=tid, tenant="acme", subject_ref=None, conversation_id="c1", created_at=created,
                                  retention_deadline=deadline, ciphertext=body,
                                  ciphertext_sha256=hashlib.sha256(body).hexdigest()))


def _kek(instance: Instance, created: datetime) -> None:
    with instance.db.session() as session:
        session.add(KekRow(tenant="acme", version=1, kms="local", key_ref="k1", state="primary", created_at=created, destroyed_at=None))


# --- scenarios: (check id, setup, expected status) -----------------------------------------


def ledger_ok(instance: Instance, _: Path) -> None:
    _events(instance, [("policy.changed", {}, NOW - timedelta(minutes=5))])


def ledger_tampered(instance: Instance, _: Path) -> None:
    _events(instance, [("policy.changed", {}, NOW - timedelta(minutes=5)), ("key.created", {}, NOW - timedelta(minutes=4))])
    with instance.db.engine.begin() as conn:
        leaf = bytes(conn.execute(text("SELECT leaf FROM ledger_entries WHERE idx = 0")).scalar_one())
        conn.execute(text("UPDATE ledger_entries SET leaf = :l WHERE idx = 0"), {"l": leaf.replace(b"policy", b"polica")})


def ledger_stale(instance: Instance, _: Path) -> None:
    _events(instance, [("policy.changed", {}, NOW - timedelta(hours=5)), ("key.created", {}, NOW - timedelta(hours=4))])
    with instance.db.engine.begin() as conn:
        conn.execute(text("DELETE FROM ledger_checkpoints WHERE size = (SELECT MAX(size) FROM ledger_checkpoints)"))
        conn.execute(text("UPDATE ledger_checkpoints SET created_at = :t"), {"t": NOW - timedelta(hours=5)})


def reconciled(instance: Instance, _: Path) -> None:
    _transcript(instance, "t1", created=NOW - timedelta(hours=2), deadline=NOW + timedelta(days=30))
    _events(instance, [("gateway.request", {"transcript_id": "t1", "request": "r1"}, NOW - timedelta(hours=2))])


def unreconciled(instance: Instance, _: Path) -> None:
    reconciled(instance, _)
    _transcript(instance, "t2", created=NOW - timedelta(hours=1), deadline=NOW + timedelta(days=30))


def encrypted(instance: Instance, _: Path) -> None:
    _transcript(instance, "t1", created=NOW, deadline=NOW + timedelta(days=1))


def plaintext(instance: Instance, _: Path) -> None:
    encrypted(instance, _)
    _transcript(instance, "t2", created=NOW, deadline=NOW + timedelta(days=1), blob=b'{"messages": [{"role": "user", "content": "hello there, this is plain"}]}')


def young_key(instance: Instance, _: Path) -> None:
    _kek(instance, NOW - timedelta(days=30))


def old_key(instance: Instance, _: Path) -> None:
    _kek(instance, NOW - timedelta(days=400))


def retention_ok(instance: Instance, _: Path) -> None:
    _transcript(instance, "t1", created=NOW - timedelta(days=2), deadline=NOW + timedelta(days=28))
    _events(instance, [("retention.deleted", {"tenant": "acme"}, NOW - timedelta(hours=1))])


def retention_overdue(instance: Instance, _: Path) -> None:
    retention_ok(instance, _)
    _transcript(instance, "t2", created=NOW - timedelta(days=40), deadline=NOW - timedelta(days=10))


def _upstreams(instance: Instance) -> None:
    instance.settings = instance.settings.model_copy(
        update={"upstreams": [UpstreamSettings(name="openai", base_url="https://api.openai.com/v1")]}
    )


def inventoried(instance: Instance, _: Path) -> None:
    _upstreams(instance)
    (instance.data_dir / "providers.yaml").write_text(
        "providers:\n  - {name: openai, trains_on_customer_data: false, retention_days: 0, reviewed_on: 2026-10-01}\n"
    )


def not_inventoried(instance: Instance, _: Path) -> None:
    _upstreams(instance)
    (instance.data_dir / "providers.yaml").write_text("providers:\n  - {name: openai, retention_days: 30}\n")


def checks_history(instance: Instance, _: Path) -> None:
    instance.clock = FixedClock(NOW - timedelta(hours=20))
    run_checks(instance)
    instance.clock = FixedClock(NOW)


def checks_gap(instance: Instance, _: Path) -> None:
    instance.clock = FixedClock(NOW - timedelta(hours=20))
    run_checks(instance, ["transcripts.encrypted"])
    instance.clock = FixedClock(NOW)


SCENARIOS: list[tuple[str, Setup, str]] = [
    ("ledger.integrity", ledger_ok, "pass"),
    ("ledger.integrity", ledger_tampered, "fail"),
    ("ledger.integrity", ledger_stale, "fail"),
    ("gateway.request_reconciliation", reconciled, "pass"),
    ("gateway.request_reconciliation", unreconciled, "fail"),
    ("transcripts.encrypted", encrypted, "pass"),
    ("transcripts.encrypted", plaintext, "fail"),
    ("keys.rotation_age", young_key, "pass"),
    ("keys.rotation_age", old_key, "fail"),
    ("retention.enforced", retention_ok, "pass"),
    ("retention.enforced", retention_overdue, "fail"),
    ("providers.inventoried", inventoried, "pass"),
    ("providers.inventoried", not_inventoried, "fail"),
    ("monitoring.checks_current", checks_history, "pass"),
    ("monitoring.checks_current", checks_gap, "fail"),
]


@pytest.mark.parametrize(("check_id", "setup", "expected"), SCENARIOS, ids=[f"{c}-{s.__name__}" for c, s, _ in SCENARIOS])
def test_check_on_fixture(instance: Instance, tmp_path: Path, check_id: str, setup: Setup, expected: str) -> None:
    instance.clock = FixedClock(NOW)
    setup(instance, tmp_path)
    [result] = run_checks(instance, [check_id])
    assert result.result.status == expected, result.result
    if expected == "fail":
        assert result.result.remediation
    assert result.result.evidence


@pytest.mark.parametrize(
    "check_id",
    ["transcripts.encrypted", "keys.rotation_age", "providers.inventoried", "monitoring.checks_current",
     "gateway.request_reconciliation"],
)
def test_checks_without_data_are_not_applicable(instance: Instance, check_id: str) -> None:
    instance.clock = FixedClock(NOW)
    [result] = run_checks(instance, [check_id])
    assert result.result.status == "not_applicable"
