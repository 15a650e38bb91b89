"""Hypothesis: any single change to the stored log or to an export is caught and named."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Table, delete, insert, select, text, update

from assay.errors import VerificationError
from assay.instance import Instance
from assay.ledger import AuditLog, Event
from assay.ledger.check import verify_database
from assay.ledger.export import export_log
from assay.ledger.models import LedgerCheckpoint, LedgerEntry, LedgerTile
from assay.ledger.verify import Problem, verify_directory

STEPS = (100, 200, 300)  # events appended before each checkpoint; each checkpoint adds its record entry
CHECKPOINTS = (101, 302, 603)
SIZE = CHECKPOINTS[-1]
ENTRIES: Table = LedgerEntry.__table__  # type: ignore[assignment]
TILES: Table = LedgerTile.__table__  # type: ignore[assignment]
CPS: Table = LedgerCheckpoint.__table__  # type: ignore[assignment]
_FN_SCOPED = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def filled(instance: Instance) -> Iterator[AuditLog]:
    log = AuditLog.open(instance)
    written = 0
    for count in STEPS:
        events = [
            Event(type="gateway.request", actor="apikey:k", tenant=f"t{n % 3}", attributes={"n": n})
            for n in range(written, written + count)
        ]
        log.append_batch(events)
        log.checkpoint(new=True)
        written += count
    assert tuple(c.size for c in log.checkpoints()) == CHECKPOINTS
    try:
        yield log
    finally:
        log.close()


def _flip(data: bytes, position: int, mask: int = 1) -> bytes:
    changed = bytearray(data)
    changed[position % len(changed)] ^= mask
    return bytes(changed)


def _expect_failure(log: AuditLog, place: str) -> None:
    with pytest.raises(VerificationError) as caught:
        verify_database(log._db, log.vkey, log.origin)
    assert caught.value.message.startswith(place + ":"), caught.value.message


def _entry_row(log: AuditLog, idx: int) -> dict[str, object]:
    with log._db.engine.connect() as conn:
        return dict(conn.execute(select(ENTRIES).where(ENTRIES.c.idx == idx)).mappings().one())


def _run(log: AuditLog, change: Callable[[object], None], undo: Callable[[object], None], place: str) -> None:
    with log._db.engine.begin() as conn:
        change(conn)
    try:
        _expect_failure(log, place)
    finally:
        with log._db.engine.begin() as conn:
            undo(conn)


def test_untouched_log_verifies(filled: AuditLog) -> None:
    report = verify_database(filled._db, filled.vkey, filled.origin)
    assert (report.entries, report.checkpoints) == (SIZE, len(CHECKPOINTS))


COLUMNS = ("leaf", "leaf_hash", "event_type", "tenant", "actor", "event_time")


@_FN_SCOPED
@given(idx=st.integers(0, SIZE - 1), column=st.sampled_from(COLUMNS), position=st.integers(0, 10_000))
def test_changing_one_entry_column_is_named(filled: AuditLog, idx: int, column: str, position: int) -> None:
    row = _entry_row(filled, idx)
    original = row[column]
    if isinstance(original, bytes):
        changed: object = _flip(original, position)
    elif isinstance(original, datetime):
        changed = original + timedelta(microseconds=1 + position)
    else:
        changed = str(original) + "x"
    where = ENTRIES.c.idx == idx
    _run(
        filled,
        lambda conn: conn.execute(update(ENTRIES).where(where).values({column: changed})),  # type: ignore[attr-defined]
        lambda conn: conn.execute(update(ENTRIES).where(where).values({column: original})),  # type: ignore[attr-defined]
        f"entry {idx}",
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("column", ["actor", "tenant", "event_type", "event_time"])
def test_a_column_turned_binary_is_named(filled: AuditLog, column: str) -> None:
    """SQLite lets any column hold a blob; the pass names it instead of failing to read."""
    _run(
        filled,
        lambda conn: conn.execute(text(f"UPDATE ledger_entries SET {column} = CAST({column} AS BLOB) WHERE idx = 150")),  # type: ignore[attr-defined]
        lambda conn: conn.execute(text(f"UPDATE ledger_entries SET {column} = CAST({column} AS TEXT) WHERE idx = 150")),  # type: ignore[attr-defined]
        "entry 150",
    )


@_FN_SCOPED
@given(idx=st.integers(0, SIZE - 2))
def test_deleting_an_entry_is_named(filled: AuditLog, idx: int) -> None:
    row = _entry_row(filled, idx)
    _run(
        filled,
        lambda conn: conn.execute(delete(ENTRIES).where(ENTRIES.c.idx == idx)),  # type: ignore[attr-defined]
        lambda conn: conn.execute(insert(ENTRIES).values(row)),  # type: ignore[attr-defined]
        f"entry {idx}",
    )


@_FN_SCOPED
@given(first=st.integers(0, SIZE - 1), second=st.integers(0, SIZE - 1))
def test_reordering_two_entries_is_named(filled: AuditLog, first: int, second: int) -> None:
    if first == second:
        return
    rows = {i: _entry_row(filled, i) for i in (first, second)}

    def put(conn: object, mapping: dict[int, int]) -> None:
        for target, source in mapping.items():
            values = {k: v for k, v in rows[source].items() if k != "idx"}
            conn.execute(update(ENTRIES).where(ENTRIES.c.idx == target).values(values))  # type: ignore[attr-defined]

    _run(
        filled,
        lambda conn: put(conn, {first: second, second: first}),
        lambda conn: put(conn, {first: first, second: second}),
        f"entry {min(first, second)}",
    )


@_FN_SCOPED
@given(cut=st.integers(1, 200))
def test_truncating_the_log_is_named(filled: AuditLog, cut: int) -> None:
    rows = [_entry_row(filled, i) for i in range(SIZE - cut, SIZE)]
    _run(
        filled,
        lambda conn: conn.execute(delete(ENTRIES).where(ENTRIES.c.idx >= SIZE - cut)),  # type: ignore[attr-defined]
        lambda conn: conn.execute(insert(ENTRIES), rows),  # type: ignore[attr-defined]
        f"checkpoint {SIZE}",
    )


@_FN_SCOPED
@given(tile_index=st.integers(0, 2), position=st.integers(0, 8191), mask=st.integers(1, 255))
def test_changing_a_stored_tile_hash_is_named(filled: AuditLog, tile_index: int, position: int, mask: int) -> None:
    where = (TILES.c.level == 0) & (TILES.c.tile_index == tile_index)
    with filled._db.engine.connect() as conn:
        original = conn.execute(select(TILES.c.hashes).where(where)).scalar_one()
    position %= len(original)
    _run(
        filled,
        lambda conn: conn.execute(update(TILES).where(where).values(hashes=_flip(original, position, mask))),  # type: ignore[attr-defined]
        lambda conn: conn.execute(update(TILES).where(where).values(hashes=original)),  # type: ignore[attr-defined]
        f"entry {tile_index * 256 + position // 32}",
    )


@_FN_SCOPED
@given(size=st.sampled_from(CHECKPOINTS), column=st.sampled_from(["note", "root_hash"]), position=st.integers(0, 300))
def test_replacing_a_checkpoint_or_signature_is_named(filled: AuditLog, size: int, column: str, position: int) -> None:
    where = CPS.c.size == size
    with filled._db.engine.connect() as conn:
        original = conn.execute(select(CPS.c[column]).where(where)).scalar_one()
    if column == "note":
        chars = list(original)
        at = position % len(chars)
        chars[at] = "A" if chars[at] != "A" else "B"
        changed: object = "".join(chars)
    else:
        changed = _flip(original, position)
    _run(
        filled,
        lambda conn: conn.execute(update(CPS).where(where).values({column: changed})),  # type: ignore[attr-defined]
        lambda conn: conn.execute(update(CPS).where(where).values({column: original})),  # type: ignore[attr-defined]
        f"checkpoint {size}",
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@_FN_SCOPED
@given(data=st.data())
def test_any_single_byte_change_in_an_export_is_named(filled: AuditLog, data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        clean = Path(scratch) / "clean"
        export_log(filled, clean, proofs=False)
        verify_directory(clean, filled.vkey)
        files = sorted(p.relative_to(clean).as_posix() for p in clean.rglob("*") if p.is_file())
        name = data.draw(st.sampled_from(files))
        target = clean / name
        content = target.read_bytes()
        target.write_bytes(_flip(content, data.draw(st.integers(0, len(content) - 1)), data.draw(st.integers(1, 255))))
        with pytest.raises(Problem) as caught:
            verify_directory(clean, filled.vkey)
        assert name in str(caught.value)
        shutil.rmtree(clean)


@_FN_SCOPED
@given(size=st.sampled_from(CHECKPOINTS))
def test_deleting_a_checkpoint_is_named(filled: AuditLog, size: int) -> None:
    where = CPS.c.size == size
    with filled._db.engine.connect() as conn:
        row = dict(conn.execute(select(CPS).where(where)).mappings().one())
    _run(
        filled,
        lambda conn: conn.execute(delete(CPS).where(where)),  # type: ignore[attr-defined]
        lambda conn: conn.execute(insert(CPS).values(row)),  # type: ignore[attr-defined]
        f"checkpoint {size}",
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "rewrite",
    [
        "replace(event_time, ' ', 'T')",  # same instant, not the stored form
        "substr(event_time, 1, 19)",  # fraction dropped
        "event_time || 'Z'",
        "'2026-02-30 25:61:00.000000'",  # stored form, but no such instant
    ],
)
def test_event_time_must_keep_its_stored_form(filled: AuditLog, rewrite: str) -> None:
    idx = 150
    original = _entry_row(filled, idx)["event_time"]
    _run(
        filled,
        lambda conn: conn.exec_driver_sql(f"UPDATE ledger_entries SET event_time = {rewrite} WHERE idx = {idx}"),  # type: ignore[attr-defined]
        lambda conn: conn.execute(update(ENTRIES).where(ENTRIES.c.idx == idx).values(event_time=original)),  # type: ignore[attr-defined]
        f"entry {idx}",
    )
