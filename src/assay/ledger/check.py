"""Full verification of the log as stored in the database (``assay ledger verify``).

Recomputes every leaf hash and tile from the stored leaves, checks the plain
columns against the signed leaf, every stored checkpoint's signature and root,
and the consistency between successive checkpoints. The first fault found is
raised as a :class:`VerificationError` that names the entry, tile or checkpoint.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
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
_CHUNK = 20_000
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
        self.pending: list[bytes] = []
        if 0 in checkpoint_sizes:
            self.roots[0] = EMPTY_ROOT

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
    """Per entry: position, leaf hash, columns; per tile: the stored tile (see _Walk.flush)."""
    sha, wanted, pending = _sha256, walk.wanted, walk.pending
    last_actor, prefix, last_key, suffix = None, b"", None, b""
    for idx, raw_leaf, stored_hash, event_type, tenant, actor, when in chunk:
        leaf = raw_leaf if type(raw_leaf) is bytes else bytes(raw_leaf)
        expected = walk.builder.size + len(pending)
        if idx != expected:
            raise _fail(f"entry {expected}", f"is missing (the next stored entry is {idx})")
        digest = sha(b"\x00" + leaf).digest()
        if stored_hash != digest:
            raise _fail(f"entry {idx}", "the stored leaf_hash does not match the leaf bytes")
        pending.append(digest)
        if actor != last_actor:  # consecutive entries mostly share these: skip the lookups
            last_actor, prefix = actor, _head(actor)
        key = (tenant, when, event_type)
        if key != last_key:
            last_key, suffix = key, _tail(tenant, _time_text(when), event_type)
        if not (leaf.startswith(prefix) and leaf.endswith(suffix)):
            _check_columns(idx, leaf, (event_type, tenant, actor, _time_text(when)))
        if (idx + 1) % TILE_WIDTH == 0 or idx + 1 in wanted:
            walk.flush()
            pending = walk.pending


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
