"""Inline commits (ADR 0047): a lone caller's event committed on its own thread, or queued.

Every case checks which thread wrote the entry, that the log verifies, and that a write that
would have to wait was handed to the sequencer instead of blocking the caller's event loop.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest
from sqlalchemy import Column, MetaData, String, Table, select

from assay.errors import LedgerError, UsageError
from assay.instance import Instance
from assay.ledger import LEDGER_INDEX, AuditLog, Event
from assay.ledger._storage import WouldWait
from assay.store.db import SQLITE_BUSY_TIMEOUT_MS

NOTES = Table(
    "ledger_inline_notes",
    MetaData(),
    Column("id", String(20), primary_key=True),
    Column("ledger_index", String(20), nullable=True),
)
DEFAULTED = Table(
    "ledger_inline_defaulted",
    MetaData(),
    Column("id", String(20), primary_key=True),
    Column("note", String(20), default="none"),  # a column default: the SQLAlchemy path
)


def _event(n: int, **attributes: object) -> Event:
    return Event(type="gateway.request", actor="apikey:k1", tenant="acme", attributes={"n": n, **attributes})


@pytest.fixture
def log(instance: Instance) -> Iterator[AuditLog]:
    NOTES.create(instance.db.engine)
    DEFAULTED.create(instance.db.engine)
    opened = AuditLog.open(instance)
    yield opened
    opened.close()


@pytest.fixture
def writers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of the thread that committed each write of entries, in order."""
    seen: list[str] = []
    original = AuditLog._write

    def write(self: AuditLog, *args: Any, **kwargs: Any) -> int:
        result: int = original(self, *args, **kwargs)
        seen.append(threading.current_thread().name)
        return result

    monkeypatch.setattr(AuditLog, "_write", write)
    return seen


def _append(log: AuditLog, event: Event, companions: list[tuple[Table, dict[str, Any]]] | None = None) -> int:
    async def run() -> int:
        return await log.append_async(event, companions or [], inline=True)

    return asyncio.run(run())


SEQUENCER = "assay-ledger-sequencer"


def _sequencer_settled(log: AuditLog) -> None:
    """Wait for the sequencer to leave the round that delivered the last queued event.

    It delivers results before it releases the writer lock; an inline append made in between
    is (rightly) queued, which would make a test of the inline path depend on timing.
    """
    with log._writing:
        pass


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_lone_append_commits_on_the_calling_thread_with_its_companion(
    log: AuditLog, instance: Instance, writers: list[str]
) -> None:
    log.append(_event(0))
    _sequencer_settled(log)
    index = _append(log, _event(1), [(NOTES, {"id": "n1", "ledger_index": LEDGER_INDEX})])
    assert index == 1
    assert writers == [SEQUENCER, threading.current_thread().name]
    with instance.db.engine.begin() as conn:
        assert conn.execute(select(NOTES.c.ledger_index)).scalar_one() == "1"
    assert log.verify().entries == 2
    assert log.size() == 2


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_without_inline_the_sequencer_commits(log: AuditLog, writers: list[str]) -> None:
    async def run() -> int:
        return await log.append_async(_event(0))

    assert asyncio.run(run()) == 0
    assert writers == [SEQUENCER]


@contextmanager
def _held_by_another_thread(take: Callable[[], AbstractContextManager[object]]) -> Iterator[threading.Event]:
    """Hold ``take()`` on another thread until the yielded event is set."""
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with take():
            held.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    assert held.wait(10)
    try:
        yield release
    finally:
        release.set()
        thread.join()


def _other_writer(instance: Instance) -> sqlite3.Connection:
    """A connection holding SQLite's write lock, as another process would hold it."""
    other = sqlite3.connect(str(instance.db.engine.url.database), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    return other


def _queued_while(log: AuditLog, event: Event, release: Callable[[], None]) -> int:
    """Append inline while something blocks the writer; the loop must stay free to release it."""

    async def run() -> int:
        append = asyncio.ensure_future(log.append_async(event, inline=True))
        await asyncio.sleep(0.05)  # runs only if the append did not block the loop
        assert not append.done()
        release()
        return await append

    return asyncio.run(run())


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("blocker", ["write turn", "sequencer busy", "another process"])
def test_an_inline_append_that_would_wait_is_queued_instead(
    log: AuditLog, instance: Instance, writers: list[str], blocker: str
) -> None:
    log.append(_event(0))
    if blocker == "another process":
        other = _other_writer(instance)
        index = _queued_while(log, _event(1), lambda: other.execute("ROLLBACK"))
        other.close()
    else:
        take = instance.db.write_turn if blocker == "write turn" else (lambda: log._writing)
        with _held_by_another_thread(take) as release:
            index = _queued_while(log, _event(1), release.set)
    assert index == 1
    assert writers == [SEQUENCER, SEQUENCER]
    writer = log._sqlite
    assert writer is not None
    assert writer.connection().execute("PRAGMA busy_timeout").fetchone()[0] == SQLITE_BUSY_TIMEOUT_MS
    assert log.verify().entries == 2


def test_inline_is_refused_where_the_write_could_wait(
    log: AuditLog, instance: Instance, writers: list[str]
) -> None:
    """PostgreSQL (a network round trip) and companion tables with defaults go to the sequencer."""
    index = _append(log, _event(0), [(DEFAULTED, {"id": "d1"})])
    assert index == 0
    assert writers == [SEQUENCER]
    _sequencer_settled(log)
    assert _append(log, _event(1)) == 1  # no companions: inline on SQLite only
    assert writers[-1] == (threading.current_thread().name if instance.db.is_sqlite else SEQUENCER)
    with instance.db.engine.begin() as conn:
        assert conn.execute(select(DEFAULTED.c.note)).scalar_one() == "none"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_refused_inline_append_leaves_nothing_and_raises(log: AuditLog, instance: Instance) -> None:
    assert _append(log, _event(0), [(NOTES, {"id": "taken", "ledger_index": None})]) == 0
    with pytest.raises(LedgerError, match="could not record the audit event"):
        _append(log, _event(1), [(NOTES, {"id": "taken", "ledger_index": LEDGER_INDEX})])
    with pytest.raises(UsageError, match="canonical JSON; the limit is"):
        _append(log, _event(2, padding="x" * 70_000))
    assert _append(log, _event(3)) == 1  # neither refusal took an index or left a row
    with instance.db.engine.begin() as conn:
        assert conn.execute(select(NOTES.c.id)).scalars().all() == ["taken"]
    assert log.verify().entries == 2


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_closed_log_refuses_inline_appends(instance: Instance) -> None:
    log = AuditLog.open(instance)
    log.append(_event(0))
    log.close()
    with pytest.raises(LedgerError, match="closed"):
        _append(log, _event(1))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_begin_without_waiting_restores_the_busy_timeout(log: AuditLog, instance: Instance) -> None:
    writer = log._sqlite
    assert writer is not None
    with log._writing, instance.db.write_turn():
        raw = writer.begin(wait=False)
        raw.rollback()
        other = _other_writer(instance)
        try:
            with pytest.raises(WouldWait):
                writer.begin(wait=False)
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert raw.execute("PRAGMA busy_timeout").fetchone()[0] == SQLITE_BUSY_TIMEOUT_MS


def test_free_write_turn_says_whether_it_was_taken(instance: Instance) -> None:
    with instance.db.free_write_turn() as free:
        assert free
    if instance.db.is_sqlite:  # PostgreSQL has no process-wide turn: always free
        with _held_by_another_thread(instance.db.write_turn), instance.db.free_write_turn() as free:
            assert not free
    with instance.db.free_write_turn() as free:
        assert free  # and released again
