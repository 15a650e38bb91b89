"""The verifier's per-row loops (``assay.ledger._rows``): exact results, compiled or not."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from tests.helpers import python_source_of

import assay.ledger._rows as rows
from assay.ledger.events import Event
from assay.ledger.merkle import leaf_hash, node_hash

NEVER = b"\xff" * 8


PURE = python_source_of(rows)
IMPLEMENTATIONS = [pytest.param(rows, id="installed"), pytest.param(PURE, id="source")]


def _parts(columns: bytes) -> tuple[bytes, bytes, bytes] | None:
    actor, tenant, kind = json.loads(columns)
    head = b'{"actor":' + orjson.dumps(actor) + b',"attributes":'
    return head, b',"tenant":' + orjson.dumps(tenant) + b',"time":"', b'","type":' + orjson.dumps(kind) + b"}"


def _key(actor: str, tenant: str | None, kind: str, stored_time: object) -> bytes:
    return json.dumps([actor, tenant, kind, stored_time], separators=(",", ":"), ensure_ascii=False).encode()


def _event(when: datetime, tenant: str | None = "t1") -> bytes:
    return Event(type="key.rotated", actor="user:ana", tenant=tenant, attributes={"n": 1}).at(when).leaf_bytes()


@pytest.mark.parametrize("module", IMPLEMENTATIONS)
@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        (b"2026-11-26 12:30:05.123456", b"2026-11-26T12:30:05.123456Z"),
        (b"2026-11-26 12:30:05.000000", b"2026-11-26T12:30:05Z"),
        (b"2026-11-26 12:30:05.000001", b"2026-11-26T12:30:05.000001Z"),
        (b"2026-11-26T12:30:05.123456", None),  # not the stored form
        (b"2026-11-26 12:30:05.12345", None),
        (b"2026-11-26 12:30:05.1234567", None),
        (b"2026-11-2a 12:30:05.123456", None),
        (b"2026-11-26 12:30:05,123456", None),
        (b"2026-11-26 12:30:05.12345\"", None),
        (b"", None),
    ],
)
def test_stored_times_become_leaf_times_exactly(module: Any, stored: bytes, expected: bytes | None) -> None:
    assert module.leaf_time_bytes(stored) == expected
    assert module.leaf_time(stored.decode()) == (None if expected is None else expected.decode())


@pytest.mark.parametrize("module", IMPLEMENTATIONS)
@pytest.mark.parametrize("value", [None, 5, b"2026-11-26 12:30:05.123456", "2026-11-26 12:30:05.12345\u00e9"])
def test_a_leaf_time_needs_ascii_text(module: Any, value: object) -> None:
    assert module.leaf_time(value) is None


@pytest.mark.parametrize("module", IMPLEMENTATIONS)
@pytest.mark.parametrize(
    ("leaf_tenant", "leaf_micro", "tenant", "stored", "fits"),
    [
        ("t1", 123456, "t1", "2026-11-26 12:30:05.123456", True),
        (None, 123456, None, "2026-11-26 12:30:05.123456", True),
        ("t1", 0, "t1", "2026-11-26 12:30:05.000000", True),
        ("t1", 123456, "t2", "2026-11-26 12:30:05.123456", False),  # another tenant
        ("t1", 123456, None, "2026-11-26 12:30:05.123456", False),
        (None, 123456, "t1", "2026-11-26 12:30:05.123456", False),
        ("t1", 123456, "t1", "2026-11-26 12:30:05.123457", False),  # another time
        ("t1", 0, "t1", "2026-11-26 12:30:05", False),  # a time not in stored form
        ("t1", 123456, "t1", "2026-11-26T12:30:05.123456", False),
        ("t1", 123456, "t1", 'x","2026-11-26 12:30:05.123456', False),  # escapes around the time
        ("t1", 123456, "t1", None, False),
    ],
)
def test_fragments_fit_only_the_leaf_of_the_same_columns(
    module: Any, leaf_tenant: str | None, leaf_micro: int, tenant: str | None, stored: object, fits: bool
) -> None:
    leaf = _event(datetime(2026, 11, 26, 12, 30, 5, leaf_micro, tzinfo=UTC), leaf_tenant)
    cache = module.FragmentCache(_parts, NEVER, 100)
    head, tail = cache.pair(_key("user:ana", tenant, "key.rotated", stored))
    assert (leaf.startswith(head) and leaf.endswith(tail)) is fits


@pytest.mark.parametrize("module", IMPLEMENTATIONS)
def test_unreadable_keys_get_fragments_no_leaf_has(module: Any) -> None:
    cache = module.FragmentCache(_parts, NEVER, 100)
    for key in (None, "text", b"", b'["a"]', b'["a","t","k","2026-11-26 12:30:05.123456"'):
        assert cache.pair(key) == (NEVER, NEVER)


@pytest.mark.parametrize("module", IMPLEMENTATIONS)
def test_the_fragment_cache_is_bounded(module: Any) -> None:
    cache = module.FragmentCache(_parts, NEVER, 3)
    for second in range(10):
        cache.pair(_key("user:ana", "t1", "key.rotated", f"2026-11-26 12:30:{second:02d}.000000"))
        assert len(cache.pairs) <= 3


def _chunk(count: int) -> list[tuple[Any, ...]]:
    chunk: list[tuple[Any, ...]] = []
    for n in range(count):
        when = datetime(2026, 11, 26, 12, 0, n, tzinfo=UTC)
        leaf = _event(when)
        chunk.append((leaf, leaf_hash(leaf), _key("user:ana", "t1", "key.rotated", f"2026-11-26 12:00:{n:02d}.000000")))
    return chunk


@pytest.mark.parametrize("module", IMPLEMENTATIONS)
@pytest.mark.parametrize(("bad_hash", "bad_columns"), [(None, None), (3, None), (None, 2), (5, 1), (1, 5)])
def test_check_rows_names_the_first_bad_hash_and_the_first_misfit(
    module: Any, bad_hash: int | None, bad_columns: int | None
) -> None:
    chunk = _chunk(8)
    if bad_hash is not None:
        leaf, _, key = chunk[bad_hash]
        chunk[bad_hash] = (leaf, b"\x00" * 32, key)
    if bad_columns is not None:
        leaf, stored, key = chunk[bad_columns]
        chunk[bad_columns] = (leaf, stored, key.replace(b'"t1"', b'"t9"'))
    digests, first_bad_hash, first_misfit = module.check_rows(chunk, module.FragmentCache(_parts, NEVER, 100))
    assert digests == [leaf_hash(row[0]) for row in chunk]
    assert first_bad_hash == (8 if bad_hash is None else bad_hash)
    assert first_misfit == (8 if bad_columns is None else bad_columns)


@pytest.mark.parametrize("module", IMPLEMENTATIONS)
@pytest.mark.parametrize("count", [0, 1, 2, 3, 256])
def test_next_level_hashes_complete_pairs(module: Any, count: int) -> None:
    hashes = [hashlib.sha256(n.to_bytes(2, "big")).digest() for n in range(count)]
    expected = [node_hash(hashes[i], hashes[i + 1]) for i in range(0, count - 1, 2)]
    assert module.next_level(hashes) == expected
