"""The process's write turn: the steady writers queue for it instead of sleeping in SQLite's busy handler."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import nullcontext
from pathlib import Path

import pytest
from sqlalchemy import func, select

from assay.governance import DecisionRecord, DecisionRecorder
from assay.governance.models import DecisionRecordRow
from assay.instance import Instance
from assay.ledger import AuditLog, Event
from assay.store import open_database


def _event() -> Event:
    return Event(type="gateway.request", actor="apikey:k1", tenant="acme", attributes={"n": 1})


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite: the engine with one writer at a time, where the turn matters."""
    return f"sqlite:///{tmp_path / 'data' / 'assay.db'}"


def test_sqlite_has_one_reentrant_turn(instance: Instance) -> None:
    first, second = instance.db.write_turn(), instance.db.write_turn()
    assert first is second
    with first, second:  # re-entrant: a writer that nests does not deadlock itself
        pass


@pytest.mark.postgres
def test_postgres_has_no_turn(postgres_url: str) -> None:
    db = open_database(postgres_url)  # PostgreSQL locks rows: there is no process-wide turn to hold
    try:
        assert isinstance(db.write_turn(), nullcontext)
    finally:
        db.dispose()


def test_ledger_commits_wait_for_the_turn(instance: Instance) -> None:
    log = AuditLog.open(instance)
    try:
        log.append(_event())  # the sequencer is up and has committed once
        with ThreadPoolExecutor(1) as pool:
            with instance.db.write_turn():
                pending = pool.submit(log.append, _event())
                with pytest.raises(FutureTimeout):
                    pending.result(timeout=0.3)
            assert pending.result(timeout=30) == 1
    finally:
        log.close()


def test_decision_records_wait_for_the_turn(instance: Instance) -> None:
    recorder = DecisionRecorder(instance, max_batch=1, max_delay_s=0.0)
    try:
        with ThreadPoolExecutor(1) as pool:
            with instance.db.write_turn():
                recorder.submit(DecisionRecord(request_id="req_turn", alias="demo", tenant="acme"))
                flushed = pool.submit(recorder.flush)
                with pytest.raises(FutureTimeout):
                    flushed.result(timeout=0.3)
            flushed.result(timeout=30)
        with instance.db.session() as session:
            assert session.scalar(select(func.count()).select_from(DecisionRecordRow)) == 1
    finally:
        recorder.close()
