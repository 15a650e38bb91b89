"""Full verification of the log as stored in the database (``assay ledger verify``).

Recomputes every leaf hash and tile from the stored leaves, checks the plain
columns against the signed leaf, every stored checkpoint's signature and root,
and the consistency between successive checkpoints. The first fault found is
raised as a :class:`VerificationError` that names the entry, tile or checkpoint.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import itertools
import json
import operator
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from assay.clock import format_rfc3339
from assay.errors import VerificationError
from assay.ledger.merkle import (
    EMPTY_ROOT,
    ProofError,
    consistency_proof,
    range_hash,
    verify_consistency,
)
from assay.ledger.models import LedgerCheckpoint, LedgerTile
from assay.ledger.note import NoteError, Verifier, open_checkpoint
from assay.ledger.tiles import TILE_WIDTH, TileBuilder, TileCache
from assay.store.db import Database

__all__ = ["VerifyReport", "verify_database"]

Progress = Callable[[int], None]
_CHUNK = 2_000  # small enough that a fetched chunk stays in the CPU caches
_sha256 = hashlib.sha256
_HINT = "Treat the log as tampered with from the named place on; compare with an earlier export."


@dataclass
class VerifyReport:
    entries: int
    checkpoints: int
    tiles: int
    root: bytes
    seconds: float


def _fail(place: str, what: str) -> VerificationError:
    return VerificationError(f"{place}: {what}", hint=_HINT)


def _check_columns(idx: int, leaf: bytes, columns: tuple[str, str | None, str, str]) -> None:
    try:
        doc = json.loads(leaf)
    except ValueError as exc:
        raise _fail(f"entry {idx}", "the leaf is not canonical JSON of an event") from exc
    if not isinstance(doc, dict):
        raise _fail(f"entry {idx}", "the leaf is not an event object")
    expected = (doc.get("type"), doc.get("tenant"), doc.get("actor"), doc.get("time"))
    stored = columns
    for column, want, got in zip(("event_type", "tenant", "actor", "event_time"), expected, stored, strict=True):
        if want != got:
            raise _fail(f"entry {idx}", f"column {column} says {got!r} but the signed leaf says {want!r}")


@functools.lru_cache(maxsize=4096)
def _head(actor: str) -> bytes:
    return b'{"actor":' + json.dumps(actor, ensure_ascii=False).encode() + b',"attributes":'


@functools.lru_cache(maxsize=65536)
def _tail(tenant: str | None, when: str, event_type: str) -> bytes:
    parts = (',"tenant":', json.dumps(tenant, ensure_ascii=False), ',"time":"', when, '","type":')
    return ("".join(parts) + json.dumps(event_type, ensure_ascii=False) + "}").encode()


@functools.lru_cache(maxsize=65536)
def _time_text(raw: object) -> str:
    """RFC 3339 text of a stored event_time (SQLite text or a PostgreSQL datetime)."""
    if isinstance(raw, datetime):
        return format_rfc3339(raw)
    text = str(raw)
    seconds, _, fraction = text[:26].partition(".")
    fraction = fraction if fraction.strip("0") else ""
    return seconds.replace(" ", "T") + (f".{fraction}" if fraction else "") + "Z"


class _Walk:
    """State of one pass over the entries."""

    def __init__(self, tiles: dict[tuple[int, int], bytes], checkpoint_sizes: set[int]) -> None:
        self.tiles = tiles
        self.builder = TileBuilder()
        self.roots: dict[int, bytes] = {}
        self.wanted = checkpoint_sizes
        self.stops = sorted(checkpoint_sizes)
        self.pending: list[bytes] = []
        if 0 in checkpoint_sizes:
            self.roots[0] = EMPTY_ROOT

    def add(self, digests: list[bytes]) -> None:
        """Queue leaf hashes, flushing at every tile boundary and checkpoint size on the way."""
        position = 0
        while position < len(digests):
            size = self.builder.size + len(self.pending)
            boundary = self._next_stop(size)
            take = min(boundary - size, len(digests) - position)
            self.pending += digests[position : position + take]
            position += take
            if size + take == boundary:
                self.flush()

    def _next_stop(self, size: int) -> int:
        tile_end = (size // TILE_WIDTH + 1) * TILE_WIDTH
        later = bisect.bisect_right(self.stops, size)
        return min(tile_end, self.stops[later]) if later < len(self.stops) else tile_end

    def flush(self) -> None:
        """Compare the pending leaf hashes with their level-0 tile, then grow the tree."""
        if not self.pending:
            return
        first = self.builder.size
        offset = (first % TILE_WIDTH) * 32
        block = b"".join(self.pending)
        stored = self.tiles.get((0, first // TILE_WIDTH), b"")[offset : offset + len(block)]
        if stored != block:
            position = next(
                (i for i, h in enumerate(self.pending) if stored[i * 32 : i * 32 + 32] != h), len(self.pending)
            )
            raise _fail(
                f"entry {first + position}",
                f"its hash differs from tile 0/{first // TILE_WIDTH} (entry replaced, moved or tile altered)",
            )
        self.builder.extend(self.pending)
        self.pending = []
        for level, index, data in self.builder.completed:
            self._compare_tile(level, index, data)
        self.builder.completed.clear()
        if self.builder.size in self.wanted:
            self.roots[self.builder.size] = self._root()

    def root_now(self) -> bytes:
        cache = TileCache(lambda level, index: self.tiles[(level, index)])
        return range_hash(0, self.builder.size, cache.node)

    def _root(self) -> bytes:
        return range_hash(0, self.builder.size, TileCache(self.builder.read_tile, capacity=64).node)

    def _compare_tile(self, level: int, index: int, data: bytes) -> None:
        stored = self.tiles.get((level, index))
        if stored != data:
            raise _fail(f"tile {level}/{index}", "does not match the hashes recomputed from the entries")

    def finish(self) -> None:
        self.flush()
        _, partial = self.builder.drain()
        for level, index, data in partial:
            self._compare_tile(level, index, data)
        expected = {(level, index) for level, index, _ in partial}
        expected |= {
            (level, index)
            for level in range(8)
            for index in range(self.builder.size >> (8 * (level + 1)))
        }
        for level, index in sorted(set(self.tiles) - expected):
            raise _fail(f"tile {level}/{index}", f"is not part of a log of {self.builder.size} entries")


def _load_tiles(conn: Connection) -> dict[tuple[int, int], bytes]:
    rows = conn.execute(select(LedgerTile.level, LedgerTile.tile_index, LedgerTile.width, LedgerTile.hashes))
    tiles: dict[tuple[int, int], bytes] = {}
    for level, index, width, hashes in rows:
        if len(hashes) != width * 32:
            raise _fail(f"tile {level}/{index}", f"stores {len(hashes)} bytes but claims width {width}")
        tiles[(level, index)] = bytes(hashes)
    return tiles


_SELECT = "SELECT idx, leaf, leaf_hash, event_type, tenant, actor, event_time FROM ledger_entries ORDER BY idx"


def _stream(conn: Connection, walk: _Walk, progress: Progress | None) -> None:
    # Plain DB-API cursor (server-side on PostgreSQL): this loop is the verifier's hot path.
    raw: Any = conn.connection.dbapi_connection
    cursor = raw.cursor(name="assay_ledger_verify") if conn.dialect.name == "postgresql" else raw.cursor()
    try:
        cursor.execute(_SELECT)
        while chunk := cursor.fetchmany(_CHUNK):
            _check_chunk(walk, chunk)
            if progress is not None:
                progress(len(chunk))
    finally:
        cursor.close()


def _check_chunk(walk: _Walk, chunk: list[tuple[Any, ...]]) -> None:
    """Check a chunk of rows column-wise: every loop below runs in C (comprehension or ``map``).

    The first bad entry is found per check, the earliest one wins, and the tiles of every
    entry before it are still checked first, so the error is the one a row-by-row pass
    would raise (see :meth:`_Walk.add` and :meth:`_Walk.flush`).
    """
    first = walk.builder.size + len(walk.pending)
    ids, raw_leaves, stored, types, tenants, actors, whens = zip(*chunk, strict=True)
    leaves: list[bytes] = list(map(bytes, raw_leaves))  # bytes(b) is b itself for SQLite blobs
    sha = _sha256
    digests = [sha(b"\x00" + leaf).digest() for leaf in leaves]
    bad = _first_bad_entry(first, ids, stored, digests)
    heads = map(bytes.startswith, leaves, map(_head, actors))
    tails = map(bytes.endswith, leaves, map(_tail, tenants, map(_time_text, whens), types))
    fits = list(map(operator.and_, heads, tails))
    if not all(fits):
        limit = len(fits) if bad is None else bad[0]
        for position in itertools.compress(range(limit), map(operator.not_, fits[:limit])):
            row = chunk[position]
            try:
                _check_columns(first + position, leaves[position], (row[3], row[4], row[5], _time_text(row[6])))
            except VerificationError as exc:
                bad = (position, exc)
                break
    walk.add(digests if bad is None else digests[: bad[0]])
    if bad is not None:
        raise bad[1]


def _first_bad_entry(
    first: int, ids: tuple[Any, ...], stored: tuple[Any, ...], digests: list[bytes]
) -> tuple[int, VerificationError] | None:
    """The first missing entry or wrong stored ``leaf_hash`` of a chunk (bulk comparisons)."""
    missing = hashes = len(ids)
    if ids != tuple(range(first, first + len(ids))):
        missing = next(i for i, idx in enumerate(ids) if idx != first + i)
    if list(stored) != digests:
        hashes = next(i for i, (got, want) in enumerate(zip(stored, digests, strict=True)) if got != want)
    if missing <= hashes and missing < len(ids):
        return missing, _fail(f"entry {first + missing}", f"is missing (the next stored entry is {ids[missing]})")
    if hashes < len(ids):
        return hashes, _fail(f"entry {first + hashes}", "the stored leaf_hash does not match the leaf bytes")
    return None


@dataclass(frozen=True)
class _StoredCheckpoint:
    size: int
    root_hash: bytes
    note: str


def _check_truncation(rows: list[_StoredCheckpoint], size: int) -> None:
    for row in rows:
        if row.size > size:
            raise _fail(
                f"checkpoint {row.size}",
                f"covers entries the log no longer has (it has {size}): entries were removed",
            )


def _check_checkpoints(
    rows: list[_StoredCheckpoint], walk: _Walk, verifier: Verifier, origin: str
) -> None:
    size = walk.builder.size
    for row in rows:
        place = f"checkpoint {row.size}"
        if row.size > size:
            raise _fail(place, f"covers entries the log no longer has (it has {size}): entries were removed")
        try:
            parsed = open_checkpoint(row.note, verifier, origin)
        except NoteError as exc:
            raise _fail(place, f"the signed note does not verify: {exc}") from exc
        if parsed.size != row.size or parsed.root != row.root_hash:
            raise _fail(place, "the stored size or root differs from the signed note")
        if parsed.root != walk.roots[row.size]:
            raise _fail(place, "the signed root does not match the entries")
    cache = TileCache(lambda level, index: walk.tiles[(level, index)])
    previous = [row for row in rows if row.size > 0]
    for old, new in itertools.pairwise(previous):
        try:
            proof = consistency_proof(old.size, new.size, cache.node)
            verify_consistency(old.size, new.size, old.root_hash, new.root_hash, proof)
        except ProofError as exc:
            raise _fail(f"checkpoint {new.size}", f"is not consistent with checkpoint {old.size}: {exc}") from exc


def verify_database(db: Database, vkey: str, origin: str, progress: Progress | None = None) -> VerifyReport:
    """Verify the whole stored log; raise :class:`VerificationError` at the first fault."""
    started = time.perf_counter()
    verifier = Verifier.from_vkey(vkey)
    with db.engine.connect() as conn:
        tiles = _load_tiles(conn)
        checkpoints = [
            _StoredCheckpoint(size, bytes(root), note)
            for size, root, note in conn.execute(
                select(LedgerCheckpoint.size, LedgerCheckpoint.root_hash, LedgerCheckpoint.note)
                .order_by(LedgerCheckpoint.size)
            )
        ]
        walk = _Walk(tiles, {row.size for row in checkpoints})
        _stream(conn, walk, progress)
    walk.flush()
    _check_truncation(checkpoints, walk.builder.size)
    walk.finish()
    _check_checkpoints(checkpoints, walk, verifier, origin)
    root = walk.roots.get(walk.builder.size) or walk.root_now()
    return VerifyReport(walk.builder.size, len(checkpoints), len(tiles), root, time.perf_counter() - started)
