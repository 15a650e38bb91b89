"""The ledger's hashing loops: the verifier's per-row work and the tree's node hashing.

For a chunk of rows: leaf hashes, the stored hashes and the column fragments each leaf must
start and end with; for the tiles: the parents of a level of hashes. Compiled with mypyc at
install time (``setup.py``; ADR 0015); without the extension this same source runs as Python
with the same results. Standard library only (the offline verifier uses it through ``tiles``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any, Final

#: SHA-256 state after the RFC 6962 leaf prefix (copied per leaf: no ``b"\x00" + leaf`` copy).
_LEAF_START: Final = hashlib.sha256(b"\x00")

#: SHA-256 state after the RFC 6962 node prefix; copying it is cheaper than hashing ``0x01 + l + r``.
_NODE_START: Final = hashlib.sha256(b"\x01")
# The hash object's methods, called through their type: no method look-up per call.
_HASH: Final = type(_LEAF_START)
_copy: Final = _HASH.copy
_update: Final = _HASH.update
_digest: Final = _HASH.digest

#: ``(head, tail)`` a leaf must start and end with, for one row's column key.
Fragments = tuple[bytes, bytes]
#: ``(head, tail before the time, tail after the time)`` for ``[actor, tenant, event_type]``.
Parts = tuple[bytes, bytes, bytes]
#: Builds the ``Parts`` of a ``[actor, tenant, event_type]`` JSON array (None if malformed).
PartsOf = Callable[[bytes], "Parts | None"]

#: ``event_time`` as SQLite stores it (what the log and SQLAlchemy write) and PostgreSQL renders
#: it for the verifier, with every digit read as 0.
_STORED_FORM: Final = b"0000-00-00 00:00:00.000000"
_DIGITS_AS_ZERO: Final = bytes.maketrans(b"123456789", b"000000000")
TIME_WIDTH: Final = 26
#: A key ends ``,"<event_time>"]``: the time as the last string of the JSON array.
_TIME_END: Final = TIME_WIDTH + 4


def leaf_time_bytes(stored: bytes) -> bytes | None:
    """The RFC 3339 text a leaf holds for a stored ``event_time`` text, or None if not in stored form."""
    if len(stored) != TIME_WIDTH or stored.translate(_DIGITS_AS_ZERO) != _STORED_FORM:
        return None
    if stored.endswith(b".000000"):  # format_rfc3339 writes no fraction for a whole second
        return stored[:10] + b"T" + stored[11:19] + b"Z"
    return stored[:10] + b"T" + stored[11:] + b"Z"


def leaf_time(stored: object) -> str | None:
    """:func:`leaf_time_bytes` for a text value (None for anything else)."""
    if not isinstance(stored, str) or not stored.isascii():
        return None
    when = leaf_time_bytes(stored.encode())
    return None if when is None else when.decode()


class FragmentCache:
    """The leaf prefix and suffix each row's columns require, cached per distinct key.

    A key is the JSON array ``[actor, tenant, event_type, event_time]`` (the time as stored);
    events of one group commit share a clock reading, so keys repeat. A new key costs a
    rewrite of its time: the fragments of its first three values are cached separately.
    """

    def __init__(self, parts_of: PartsOf, never: bytes, limit: int) -> None:
        self.pairs: dict[object, Fragments] = {}
        self._parts: dict[bytes, Parts | None] = {}
        self._parts_of = parts_of
        self._never = never
        self._limit = limit

    def pair(self, key: object) -> Fragments:
        found = self.pairs.get(key)
        return self.fill(key) if found is None else found

    def fill(self, key: object) -> Fragments:
        if len(self.pairs) >= self._limit:
            self.pairs.clear()
            self._parts.clear()
        pair = (self._never, self._never)
        # A time with no character JSON escapes sits between the last ``,"`` and the closing ``"]``.
        if isinstance(key, bytes) and key.endswith(b'"]') and key[-_TIME_END : -TIME_WIDTH - 2] == b',"':
            when = leaf_time_bytes(key[-TIME_WIDTH - 2 : -2])
            columns = key[:-_TIME_END]
            if columns in self._parts:
                parts = self._parts[columns]
            else:
                parts = self._parts[columns] = self._parts_of(columns + b"]")
            if parts is not None and when is not None:
                pair = parts[0], parts[1] + when + parts[2]
        self.pairs[key] = pair
        return pair


def check_rows(rows: list[tuple[Any, ...]], cache: FragmentCache) -> tuple[list[bytes], int, int]:
    """Leaf hashes of ``(leaf, leaf_hash, key)`` rows, the first row whose stored hash differs,
    and the first row whose leaf does not start and end with its key's fragments (``len(rows)``
    when there is none). Leaves must be ``bytes``.
    """
    pairs = cache.pairs
    digests: list[bytes] = []
    count = len(rows)
    bad_hash = bad_columns = count
    for position in range(count):
        row = rows[position]
        leaf: bytes = row[0]
        state = _copy(_LEAF_START)
        _update(state, leaf)
        digest: bytes = _digest(state)
        digests.append(digest)
        if row[1] != digest and bad_hash == count:
            bad_hash = position
        key: object = row[2]
        pair = pairs.get(key)
        if pair is None:
            pair = cache.fill(key)
        if not (leaf.startswith(pair[0]) and leaf.endswith(pair[1])) and bad_columns == count:
            bad_columns = position
    return digests, bad_hash, bad_columns


def next_level(hashes: Sequence[bytes]) -> list[bytes]:
    """The parents of each complete pair of ``hashes`` (a trailing odd hash has none yet)."""
    parents: list[bytes] = []
    for position in range(0, len(hashes) - 1, 2):
        node = _copy(_NODE_START)  # most of the tree's hashing: no per-node concatenation
        _update(node, hashes[position])
        _update(node, hashes[position + 1])
        parents.append(_digest(node))
    return parents
