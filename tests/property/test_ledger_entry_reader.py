"""The C row reader never changes a verdict: it gives the Python reader's on any stored log (ADR 0015).

``assay ledger verify`` on SQLite reads the entries through ``_entry_reader`` when it is built.
The reader only confirms rows; whatever it cannot confirm, the Python checks decide. These tests
change one stored value to a random value of any SQLite type and compare the two readers' verdicts.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from assay.errors import VerificationError
from assay.instance import Instance
from assay.ledger import AuditLog, Event, check
from assay.ledger.merkle import leaf_hash

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
IN_CI = os.environ.get("CI") == "true"
PURE_PYTHON_BUILD = os.environ.get("ASSAY_PURE_PYTHON") == "1"
SIZE = 700  # two checkpoints: 350 events, its record, 348 events, its record
COLUMNS = ("leaf", "leaf_hash", "event_type", "tenant", "actor", "event_time")
_EXAMPLES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

#: Values of every storage class, and texts that test the reader's JSON and time rules.
VALUES = st.one_of(
    st.none(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    st.binary(max_size=40),
    st.text(max_size=30),
    st.sampled_from(
        [
            'apikey:"k"', "apikey:k\\", "apikey:k\n", "apikey:kÿ", "t\x7f", "",
            "2026-11-26 18:57:22.000000", "2026-11-26 18:57:22.100000", "2026-11-26T18:57:22Z",
            "2026-11-26 18:57:22", "gateway.request", "ledger.checkpoint", "t1", "null",
        ]
    ),
)


@pytest.fixture
def native_reader() -> None:
    if check.EntryReader is None:
        if IN_CI and not PURE_PYTHON_BUILD:
            pytest.fail("the C row reader is not built: run `make dev` (needs libsqlite3-dev and libssl-dev)")
        pytest.skip("the C row reader is not built on this machine")


@pytest.fixture
def filled(instance: Instance, native_reader: None) -> Iterator[AuditLog]:
    log = AuditLog.open(instance)
    whole_second = datetime(2026, 11, 26, 18, 57, 22, tzinfo=UTC)
    for half in range(2):
        log.append_batch(
            [
                Event(
                    type="gateway.request",
                    actor="apikey:k",
                    tenant=None if n % 5 == 0 else f"t{n % 3}",
                    time=whole_second if n % 7 == 0 else None,  # no fraction in the leaf's time
                    attributes={"n": n},
                )
                for n in range(half * 350, half * 350 + (350 if half == 0 else 348))
            ]
        )
        log.checkpoint(new=True)
    try:
        yield log
    finally:
        log.close()


def _verdict(log: AuditLog, monkeypatch: pytest.MonkeyPatch, *, native: bool) -> str:
    with monkeypatch.context() as patched:
        if not native:
            patched.setattr(check, "EntryReader", None)
        try:
            report = check.verify_database(log._db, log.vkey, log.origin)
        except VerificationError as exc:
            return exc.message
    return f"verified {report.entries} entries, root {report.root.hex()}"


def test_an_intact_log_verifies_in_the_reader_alone(filled: AuditLog, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every row of a log the gateway writes is confirmed in C: no chunk goes back to Python."""
    rechecked: list[int] = []
    original = check._recheck_chunk
    monkeypatch.setattr(check, "_recheck_chunk", lambda *args: rechecked.append(args[3]) or original(*args))
    verdict = _verdict(filled, monkeypatch, native=True)
    assert verdict == _verdict(filled, monkeypatch, native=False)
    assert verdict.startswith(f"verified {SIZE} entries")
    assert rechecked == []


@_EXAMPLES
@given(idx=st.integers(0, SIZE - 1), column=st.sampled_from(COLUMNS), value=VALUES)
def test_any_stored_value_gets_the_same_verdict(
    filled: AuditLog, monkeypatch: pytest.MonkeyPatch, idx: int, column: str, value: object
) -> None:
    with filled._db.engine.connect() as conn:
        original = conn.exec_driver_sql(f"SELECT {column} FROM ledger_entries WHERE idx = ?", (idx,)).scalar()
    try:
        with filled._db.engine.begin() as conn:
            conn.exec_driver_sql(f"UPDATE ledger_entries SET {column} = ? WHERE idx = ?", (value, idx))
    except sa_exc.IntegrityError:
        assume(False)  # NOT NULL refused the change: nothing was stored
    try:
        native = _verdict(filled, monkeypatch, native=True)
        assert native == _verdict(filled, monkeypatch, native=False)
        if value != original:
            assert native.startswith(f"entry {idx}:"), native
    finally:
        with filled._db.engine.begin() as conn:
            conn.exec_driver_sql(f"UPDATE ledger_entries SET {column} = ? WHERE idx = ?", (original, idx))


@pytest.mark.parametrize(
    "change",
    [
        "DELETE FROM ledger_entries WHERE idx = 300",
        "UPDATE ledger_entries SET idx = 5000 WHERE idx = 0",
        "DELETE FROM ledger_entries WHERE idx >= 650",
        "UPDATE ledger_entries SET leaf = CAST(leaf AS TEXT) WHERE idx = 511",
        "UPDATE ledger_entries SET leaf_hash = substr(leaf_hash, 1, 31) WHERE idx = 256",
        "UPDATE ledger_tiles SET hashes = zeroblob(length(hashes)) WHERE level = 0 AND tile_index = 1",
    ],
)
def test_structural_changes_get_the_same_verdict(
    filled: AuditLog, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    with filled._db.engine.begin() as conn:
        conn.execute(text(change))
    native = _verdict(filled, monkeypatch, native=True)
    assert native == _verdict(filled, monkeypatch, native=False)
    assert not native.startswith("verified"), native


def test_the_reader_hashes_every_leaf_as_rfc_6962_does(filled: AuditLog) -> None:
    assert check.EntryReader is not None
    path = str(filled._db.engine.url.database)
    with filled._db.engine.connect() as conn:
        leaves = [bytes(row[0]) for row in conn.exec_driver_sql("SELECT leaf FROM ledger_entries ORDER BY idx")]
    reader = check.EntryReader(path)
    digests: list[bytes] = []
    while True:
        chunk, rows = reader.read(100)
        assert len(chunk) == rows
        if not rows:
            break
        digests += chunk
    reader.close()
    assert digests == [leaf_hash(leaf) for leaf in leaves]
    assert reader.read(10) == ([], 0)  # closed: nothing more


def test_the_reader_refuses_a_missing_file_and_a_negative_limit(filled: AuditLog, tmp_path: object) -> None:
    assert check.EntryReader is not None
    with pytest.raises(check.ReaderError, match="opening the database"):
        check.EntryReader(f"{tmp_path}/no-such.db")
    reader = check.EntryReader(str(filled._db.engine.url.database))
    with pytest.raises(ValueError, match="must not be negative"):
        reader.read(-1)
    reader.close()
