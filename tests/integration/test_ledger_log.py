"""AuditLog on both engines: appends, batches, async, proofs, checkpoints, schema."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import BigInteger, Column, MetaData, String, Table, select

from assay.errors import LedgerError, NotFoundError, UsageError
from assay.instance import Instance
from assay.ledger import LEDGER_INDEX, AuditLog, Event, LedgerEntry
from assay.ledger.merkle import leaf_hash, verify_consistency, verify_inclusion
from assay.ledger.note import Verifier, open_checkpoint
from assay.store.models import Base, UTCDateTime

LEDGER_TABLES = {"ledger_entries", "ledger_tiles", "ledger_checkpoints"}


def _event(n: int, tenant: str | None = "acme") -> Event:
    return Event(type="gateway.request", actor="apikey:k1", tenant=tenant, attributes={"n": n})


@pytest.fixture
def log(instance: Instance) -> AuditLog:
    opened = AuditLog.open(instance)
    yield opened  # type: ignore[misc]
    opened.close()


def test_models_and_migration_agree(instance: Instance) -> None:
    import assay.ledger.models  # noqa: F401 - registers the tables on Base.metadata

    with instance.db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "include_object": lambda obj, name, kind, *_: kind != "table" or name in LEDGER_TABLES,
            },
        )
        diffs = compare_metadata(context, Base.metadata)
    relevant = [d for d in diffs if LEDGER_TABLES & set(str(d).split("'"))]
    assert relevant == []
    reflected = MetaData()
    reflected.reflect(instance.db.engine, only=sorted(LEDGER_TABLES))
    assert set(reflected.tables) == LEDGER_TABLES


def test_append_returns_consecutive_indices_and_columns(log: AuditLog, instance: Instance) -> None:
    assert log.size() == 0
    assert log.append(_event(0)) == 0
    assert log.append_batch([_event(1), _event(2, tenant=None)]) == [1, 2]
    assert log.size() == 3
    with instance.db.session() as session:
        rows = session.scalars(select(LedgerEntry).order_by(LedgerEntry.idx)).all()
    assert [r.idx for r in rows] == [0, 1, 2]
    assert rows[2].tenant is None and rows[0].tenant == "acme"
    assert rows[0].event_type == "gateway.request" and rows[0].actor == "apikey:k1"
    assert rows[0].event_time.tzinfo is not None
    assert rows[0].leaf_hash == leaf_hash(rows[0].leaf)
    assert rows[0].leaf.startswith(b'{"actor":"apikey:k1","attributes":{"n":0}')


def test_concurrent_appends_get_unique_indices(log: AuditLog) -> None:
    results: list[int] = []
    lock = threading.Lock()

    def worker(offset: int) -> None:
        got = [log.append(_event(offset + k)) for k in range(40)]
        with lock:
            results.extend(got)

    threads = [threading.Thread(target=worker, args=(t * 100,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == list(range(320))


def test_append_async_does_not_block_and_returns_index(log: AuditLog) -> None:
    async def main() -> list[int]:
        return list(await asyncio.gather(*(log.append_async(_event(n)) for n in range(50))))

    assert sorted(asyncio.run(main())) == list(range(50))


def test_proofs_verify_against_signed_checkpoint(log: AuditLog) -> None:
    log.append_batch([_event(n) for n in range(700)])
    checkpoint = log.checkpoint(new=True)  # 700 events and the checkpoint's own record
    verifier = Verifier.from_vkey(log.vkey)
    parsed = open_checkpoint(checkpoint.note, verifier)
    assert parsed.size == 701 and parsed.root == checkpoint.root == log.root(701)
    for index in (0, 255, 256, 511, 699, 700):
        proof = log.inclusion_proof(index, 701)
        verify_inclusion(leaf_hash(log.entry(index).leaf), index, 701, proof, parsed.root)
    for old in (1, 256, 300, 700, 701):
        verify_consistency(old, 701, log.root(old), parsed.root, log.consistency_proof(old, 701))


def test_checkpoints_are_all_kept_and_close_signs_the_last(instance: Instance) -> None:
    log = AuditLog.open(instance)
    log.append(_event(0))
    first = log.checkpoint(new=True)  # entry 1 is its record
    assert log.append(_event(1)) == 2
    log.close()  # signs checkpoint 4, ending with record entry 3
    reopened = AuditLog.open(instance)
    try:
        sizes = [c.size for c in reopened.checkpoints()]
        assert sizes == [first.size, 4] == [2, 4]
        assert reopened.append(_event(2)) == 4
    finally:
        reopened.close()


def test_time_is_filled_by_the_clock_and_kept_when_given(log: AuditLog) -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    index = log.append(Event(type="policy.changed", actor="user:u1", time=when))
    assert b'"time":"2026-01-02T03:04:05Z"' in log.entry(index).leaf


def test_errors_name_the_problem(log: AuditLog) -> None:
    with pytest.raises(NotFoundError):
        log.entry(5)
    with pytest.raises(NotFoundError):
        log.inclusion_proof(0, 1)
    with pytest.raises(UsageError):
        log.append_batch(["not an event"])  # type: ignore[list-item]
    big = Event(type="gateway.request", actor="system", attributes={"blob": "a" * 70000})
    with pytest.raises(UsageError, match="limit is 65535"):
        log.append(big)
    assert log.size() == 0


def test_closed_log_refuses_appends(instance: Instance) -> None:
    log = AuditLog.open(instance)
    log.close()
    with pytest.raises(LedgerError, match="closed"):
        log.append(_event(0))


def test_checkpoints_are_signed_periodically_while_the_log_grows(instance: Instance) -> None:
    import time

    from assay.ledger.note import Signer

    log = AuditLog(instance.db, Signer("assay.ledger/periodic", bytes(32)), instance.clock, checkpoint_interval_s=0.05)
    try:
        log.append(_event(0))
        deadline = time.monotonic() + 30
        while not log.checkpoints() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [c.size for c in log.checkpoints()] == [2]  # the event and the checkpoint's record
        log.append_batch([_event(1), _event(2)])
        while len(log.checkpoints()) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [c.size for c in log.checkpoints()] == [2, 5]
    finally:
        log.close()
    assert [c.size for c in log.checkpoints()] == [2, 5]  # nothing new (a record alone is no growth)


def test_a_second_log_object_continues_the_same_tree(instance: Instance) -> None:
    first, second = AuditLog.open(instance), AuditLog.open(instance)
    try:
        assert first.append_batch([_event(n) for n in range(300)])[-1] == 299
        assert second.append(_event(300)) == 300
        assert first.append(_event(301)) == 301
        assert first.root(302) == second.root(302)
    finally:
        first.close()
        second.close()
    from assay.ledger.check import verify_database

    assert verify_database(instance.db, first.vkey, first.origin).entries == 303  # and the closing record


NOTES = Table(
    "ledger_test_notes",
    MetaData(),
    Column("id", String(20), primary_key=True),
    Column("note", String(20), default="none"),
    Column("written_at", UTCDateTime(), nullable=True),
)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("row", "stored"),
    [
        ({"id": "a", "note": "given", "written_at": datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)}, ("a", "given")),
        ({"id": "b"}, ("b", "none")),  # the column default: written through SQLAlchemy
    ],
)
def test_companion_rows_are_stored_with_their_types_and_defaults(
    log: AuditLog, instance: Instance, row: dict[str, object], stored: tuple[str, str]
) -> None:
    NOTES.create(instance.db.engine)

    async def append() -> int:
        index: int = await log.append_async(_event(0), [(NOTES, row)])
        return index

    assert asyncio.run(append()) == 0
    with instance.db.engine.begin() as conn:
        found = conn.execute(select(NOTES.c.id, NOTES.c.note, NOTES.c.written_at)).one()
        stored_raw = conn.exec_driver_sql("SELECT note, written_at FROM ledger_test_notes").one()
        conn.execute(NOTES.insert(), [{**row, "id": "twin"}])  # the same row through SQLAlchemy
        twin_raw = conn.exec_driver_sql("SELECT note, written_at FROM ledger_test_notes WHERE id = 'twin'").one()
    assert tuple(found[:2]) == stored
    assert found[2] == row.get("written_at")  # read back through the column's type: same instant
    assert tuple(stored_raw) == tuple(twin_raw)  # byte for byte what SQLAlchemy stores (text form of times)
    log.verify()


CITES = Table(
    "ledger_test_cites",
    MetaData(),
    Column("id", String(20), primary_key=True),
    Column("ledger_index", BigInteger, nullable=True),
    Column("note", String(20), default="none"),
)


@pytest.mark.parametrize("with_default", [False, True], ids=["plain-insert", "through-sqlalchemy"])
def test_a_companion_row_cites_the_index_its_event_gets(log: AuditLog, instance: Instance, with_default: bool) -> None:
    CITES.create(instance.db.engine)
    log.append(_event(99))  # the batch below starts past 0, so an offset alone would be wrong

    async def append_together() -> list[int]:
        rows = [{"id": f"r{n}", "ledger_index": LEDGER_INDEX, **({} if with_default else {"note": "given"})} for n in range(24)]
        rows[5]["ledger_index"] = 7  # a row without the marker keeps its value
        return list(await asyncio.gather(*(log.append_async(_event(n), [(CITES, row)]) for n, row in enumerate(rows))))

    indices = asyncio.run(append_together())
    with instance.db.engine.begin() as conn:
        stored = {row[0]: row[1] for row in conn.execute(select(CITES.c.id, CITES.c.ledger_index))}
    expected = {f"r{n}": index for n, index in enumerate(indices)}
    expected["r5"] = 7
    assert stored == expected
    assert sorted(indices) == list(range(1, 25))
    log.verify()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_sequencer_replaces_its_connection_after_a_failed_commit(
    log: AuditLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = log._sqlite
    assert writer is not None
    log.append(_event(0))
    first_connection = writer.connection()
    failures = [sqlite3.OperationalError("disk I/O error")]
    original = writer.write

    def write_or_fail(*args: Any) -> None:
        if failures:
            raise failures.pop()
        original(*args)

    monkeypatch.setattr(writer, "write", write_or_fail)
    with pytest.raises(LedgerError, match="disk I/O error"):
        log.append(_event(1))
    assert log.append(_event(2)) == 1  # nothing of the failed commit was kept
    assert writer.connection() is not first_connection
    assert log.verify().entries == 2
