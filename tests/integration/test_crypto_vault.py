"""Transcript vault, crypto-shredding and retention on both engines."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.crypto_support import RecordingAudit, assert_ledger_verifies

from assay.clock import FixedClock
from assay.crypto import Keyring, TenantStore, TranscriptVault, run_retention
from assay.crypto.models import DataKeyRow, LocalKekRow
from assay.errors import ErasedError, NotFoundError, UsageError
from assay.instance import Instance

SECRET = b"Jane Roe, card 4111 1111 1111 1111, asked to cancel: marker-7f3a9c"


def _raw_storage(instance: Instance, request: pytest.FixtureRequest) -> bytes:
    """Every byte the database keeps on disk (SQLite file and WAL, or the PostgreSQL cluster)."""
    if instance.db.is_sqlite:
        files = list(instance.data_dir.glob("assay.db*"))
    else:
        instance.db.engine.dispose()
        server = request.getfixturevalue("postgres_server")
        with instance.db.engine.connect() as conn:
            conn.exec_driver_sql("CHECKPOINT")
        files = [p for p in Path(server.datadir).rglob("*") if p.is_file()]
    return b"".join(_read_if_present(p) for p in files)


def _read_if_present(path: Path) -> bytes:
    # A running PostgreSQL removes temporary files (pg_internal.init, ...) while we scan.
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


def test_store_read_list(
    tenants: TenantStore, vault: TranscriptVault, audit: RecordingAudit
) -> None:
    tenants.create("acme", "cli:alice", retention_days=10)
    stored = vault.store("acme", "conv-1", SECRET, subject="jane@example.com")
    assert len(stored.ciphertext_sha256) == 64
    assert vault.read(stored.id, actor="cli:bob", reason="ticket 42") == SECRET
    [info] = vault.list("acme")
    assert (info.id, info.conversation_id, info.has_subject) == (stored.id, "conv-1", True)
    assert info.retention_deadline - info.created_at == timedelta(days=10)
    [event] = audit.of_type("transcript.accessed")
    assert event.actor == "cli:bob" and event.attributes["reason"] == "ticket 42"
    assert event.object_ids["transcript_id"] == stored.id


def test_read_needs_a_reason_and_an_existing_id(
    tenants: TenantStore, vault: TranscriptVault
) -> None:
    tenants.create("acme", "cli:alice")
    stored = vault.store("acme", "conv-1", SECRET)
    with pytest.raises(UsageError, match="reason"):
        vault.read(stored.id, actor="cli:bob", reason="  ")
    with pytest.raises(NotFoundError):
        vault.read("0" * 32, actor="cli:bob", reason="x")
    with pytest.raises(NotFoundError):
        vault.store("nobody", "conv-1", SECRET)


def test_tenant_erase_shreds_everything(
    request: pytest.FixtureRequest,
    instance: Instance,
    audit: RecordingAudit,
    tenants: TenantStore,
    vault: TranscriptVault,
) -> None:
    tenants.create("acme", "cli:alice")
    tenants.create("globex", "cli:alice")
    erased = [
        vault.store("acme", f"c{i}", SECRET + bytes([i]), subject=f"u{i % 2}") for i in range(4)
    ]
    kept = vault.store("globex", "g1", b"globex keeps this")
    with instance.db.session() as session:
        wrapped = [
            k
            for k in session.scalars(
                select(DataKeyRow.wrapped_key).where(DataKeyRow.tenant == "acme")
            )
            if k
        ]
        local_keks = [r.wrapped for r in session.scalars(select(LocalKekRow))]
    counts = tenants.erase("acme", "cli:alice")
    assert counts == {"data_keys": 3, "key_versions": 1, "transcripts": 4}
    for stored in erased:
        with pytest.raises(ErasedError, match=r"erased on \d{4}-\d{2}-\d{2}"):
            vault.read(stored.id, actor="cli:bob", reason="after erase")
    fresh = Keyring.open(instance, audit)
    with pytest.raises(ErasedError):
        fresh.encrypt("acme", "transcript", "new", b"x")
    assert vault.read(kept.id, actor="cli:bob", reason="other tenant") == b"globex keeps this"
    [event] = audit.of_type("tenant.erased")
    assert event.attributes == counts and "alice" not in str(event.object_ids)
    assert_ledger_verifies(audit)
    raw = _raw_storage(instance, request)
    assert b"marker-7f3a9c" not in raw
    if instance.db.is_sqlite:  # secure_delete + WAL checkpoint leave no wrapped key behind
        assert all(k not in raw for k in wrapped)
        assert sum(k in raw for k in local_keks) == 1  # only globex's KEK remains


def test_subject_erase_shreds_one_person(
    request: pytest.FixtureRequest,
    instance: Instance,
    audit: RecordingAudit,
    tenants: TenantStore,
    vault: TranscriptVault,
    keyring: Keyring,
) -> None:
    tenants.create("acme", "cli:alice")
    jane = vault.store("acme", "c1", SECRET, subject="jane@example.com")
    john = vault.store("acme", "c2", b"john's conversation", subject="john@example.com")
    anon = vault.store("acme", "c3", b"anonymous conversation")
    counts = keyring.erase_subject("acme", "jane@example.com", "cli:alice")
    assert counts == {"data_keys": 1, "transcripts": 1}
    with pytest.raises(ErasedError, match="erased on"):
        vault.read(jane.id, actor="cli:bob", reason="x")
    assert vault.read(john.id, actor="cli:bob", reason="x") == b"john's conversation"
    assert vault.read(anon.id, actor="cli:bob", reason="x") == b"anonymous conversation"
    [event] = audit.of_type("subject.erased")
    assert "jane" not in repr(event.object_ids) + repr(event.attributes)
    assert_ledger_verifies(audit)
    assert b"marker-7f3a9c" not in _raw_storage(instance, request)
    assert b"jane@example.com" not in _raw_storage(instance, request)
    with pytest.raises(NotFoundError):
        keyring.erase_subject("acme", "jane@example.com", "cli:alice")


def test_retention_deletes_expired_records_with_evidence(
    instance: Instance,
    audit: RecordingAudit,
    tenants: TenantStore,
    vault: TranscriptVault,
) -> None:
    clock = FixedClock(instance.clock.now())
    instance.clock = clock
    tenants.create("acme", "cli:alice", retention_days=1)
    short = [vault.store("acme", f"c{i}", SECRET) for i in range(3)]
    long = vault.store("acme", "keep", SECRET, retention_days=30)
    assert run_retention(instance, audit) == {"deleted": 0, "events": 0}
    clock.set(clock.now() + timedelta(days=1, seconds=1))
    assert run_retention(instance, audit, batch=2) == {"deleted": 3, "events": 2}
    assert [t.id for t in vault.list("acme")] == [long.id]
    deleted = [
        i for e in audit.of_type("retention.deleted") for i in e.attributes["transcript_ids"]
    ]
    assert sorted(deleted) == sorted(s.id for s in short)
    assert all(e.actor == "system" for e in audit.of_type("retention.deleted"))
    with pytest.raises(NotFoundError):
        vault.read(short[0].id, actor="cli:bob", reason="x")


def test_retention_scheduler_runs_and_stops(
    instance: Instance,
    audit: RecordingAudit,
    tenants: TenantStore,
    vault: TranscriptVault,
) -> None:
    import time

    from assay.crypto import start_retention_scheduler

    tenants.create("acme", "cli:alice")
    vault.store("acme", "c0", SECRET, retention_days=0)
    scheduler = start_retention_scheduler(instance, 3600.0, audit)
    try:
        for _ in range(600):  # the first run starts at once; wait for it to finish
            if scheduler.runs:
                break
            time.sleep(0.05)
    finally:
        scheduler.stop()
    assert scheduler.runs == 1
    assert vault.list("acme") == []
    assert len(audit.of_type("retention.deleted")) == 1


def test_scheduler_opens_and_closes_its_own_ledger(instance: Instance) -> None:
    import time

    from assay.crypto import start_retention_scheduler

    scheduler = start_retention_scheduler(instance, 3600.0)
    try:
        for _ in range(600):
            if scheduler.runs:
                break
            time.sleep(0.05)
    finally:
        scheduler.stop()
    assert scheduler.runs == 1
    assert not scheduler._thread.is_alive()
