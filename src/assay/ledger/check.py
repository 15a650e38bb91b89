"""Full verification of the log as stored in the database (``assay ledger verify``).

Recomputes every leaf hash and tile from the stored leaves, checks the plain
columns against the signed leaf, every stored checkpoint's signature and root,
and the consistency between successive checkpoints. The first fault found is
raised as a :class:`VerificationError` that names the entry, tile or checkpoint.
"""

from __future__ import annotations

import bisect
import itertools
import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, select, text

from assay.clock import format_rfc3339
from assay.errors import VerificationError
from assay.ledger._rows import FragmentCache, Parts, check_rows, leaf_time
from assay.ledger.events import MAX_LEAF_BYTES, RECORD_TYPE
from assay.ledger.merkle import (
    EMPTY_ROOT,
    ProofError,
    consistency_proof,
    range_hash,
    verify_consistency,
)
from assay.ledger.models import LedgerCheckpoint, LedgerEntry, LedgerTile
from assay.ledger.note import NoteError, Verifier, open_checkpoint
from assay.ledger.tiles import TILE_WIDTH, TileBuilder, TileCache
from assay.store.db import Database

try:  # the C row reader, built when the SQLite and OpenSSL headers were present (setup.py)
    from assay.ledger._entry_reader import EntryReader, ReaderError
except ImportError:  # pragma: no cover - exercised by the pure-Python build
    EntryReader = None  # type: ignore[assignment,misc]
    ReaderError = RuntimeError  # type: ignore[assignment,misc]

__all__ = ["VerifyReport", "verify_database"]

Progress = Callable[[int], None]
_CHUNK = 256  # one tile: a fetched chunk and its hashes stay in the CPU caches (measured best)
_quote = orjson.dumps  # RFC 8785 form of a string or null (what canonical_json writes)
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


#: A prefix no leaf can start with (longer than the largest leaf): the mark of unreadable columns.
_NEVER = b"\xff" * (MAX_LEAF_BYTES + 1)
_FRAGMENT_CACHE = 65_536
def _parts(columns: bytes) -> Parts | None:
    """Leaf fragments fixed by ``[actor, tenant, event_type]``: the head, and the tail around the time.

    RFC 8785 sorts keys, so an event's leaf starts ``{"actor":A,"attributes":`` and ends
    ``,"tenant":T,"time":"W","type":Y}``. A JSON string token is read unambiguously from either
    end, so a leaf with both ends matching holds exactly these column values.
    """
    try:
        actor, tenant, kind = json.loads(columns)
    except (ValueError, TypeError):
        return None
    if not (isinstance(actor, str) and isinstance(kind, str) and isinstance(tenant, str | None)):
        return None
    head = b'{"actor":' + _quote(actor) + b',"attributes":'
    return head, b',"tenant":' + _quote(tenant) + b',"time":"', b'","type":' + _quote(kind) + b"}"


def _column_problem(leaf: bytes, columns: Sequence[Any]) -> str | None:
    """Why the row's real columns ``(actor, tenant, event_time, event_type)`` disagree with its leaf."""
    try:
        doc = json.loads(leaf)
    except ValueError:
        return "the leaf is not canonical JSON of an event"
    if not isinstance(doc, dict):
        return "the leaf is not an event object"
    actor, tenant, when, kind = columns
    for column, got, want in (
        ("event_type", kind, doc.get("type")),
        ("tenant", tenant, doc.get("tenant")),
        ("actor", actor, doc.get("actor")),
    ):
        if got != want:
            return f"column {column} says {got!r} but the signed leaf says {want!r}"
    expected = format_rfc3339(when) if isinstance(when, datetime) and when.tzinfo else leaf_time(when)
    if expected is None or expected != doc.get("time"):
        return f"column event_time says {when!r} but the signed leaf says {doc.get('time')!r}"
    return None


class _Walk:
    """State of one pass over the entries."""

    def __init__(
        self,
        tiles: dict[tuple[int, int], bytes],
        checkpoint_sizes: set[int],
        explain: Callable[[int], str | None] = lambda _: None,
    ) -> None:
        self.tiles = tiles
        self.explain = explain
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
            why = self.explain(first + position)
            raise _fail(
                f"entry {first + position}",
                why or f"its hash differs from tile 0/{first // TILE_WIDTH} (entry replaced, moved or tile altered)",
            )
        if len(self.pending) == TILE_WIDTH:
            self.builder.add_full_tile(self.pending)  # aligned: flush() stops at every tile boundary
        else:
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


# The plain columns travel as one value: the JSON array ``[actor, tenant, event_type, event_time]``
# (the time in its stored text form), as bytes - one value per row to fetch instead of four, and
# a key under which repeated column tuples are compared once (see FragmentCache).
_SELECT = {
    "sqlite": "SELECT leaf, leaf_hash, CAST(json_array(actor, tenant, event_type, event_time) AS BLOB)"
    " FROM ledger_entries",
    # Built with the same ``,"<time>"]`` ending as SQLite's (json_build_array writes ", ").
    "postgresql": "SELECT leaf, leaf_hash, convert_to(rtrim(json_build_array(actor, tenant, event_type)::text, ']')"
    """ || ',"' || to_char(event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '"]', 'UTF8')"""
    " FROM ledger_entries",
}
#: One row's real columns, for naming a fault exactly (raw driver values: SQLite's text as stored).
_ROW_COLUMNS = text(
    "SELECT actor, tenant, event_time, event_type FROM ledger_entries ORDER BY idx LIMIT 1 OFFSET :position"
)
_ORDER = " ORDER BY idx"
_MMAP_BYTES = 1 << 30  # SQLite reads the file through a mapping: no read() copy per page


def _stream(conn: Connection, walk: _Walk, progress: Progress | None) -> None:
    # Plain DB-API cursor (server-side on PostgreSQL): this loop is the verifier's hot path.
    raw: Any = conn.connection.dbapi_connection
    dialect = conn.dialect.name
    if dialect not in _SELECT:
        raise VerificationError(f"verifying a ledger stored in {dialect} is not supported")
    sqlite = dialect == "sqlite"
    reader = _open_reader(raw) if sqlite else None
    if reader is not None:
        _stream_natively(reader, conn, walk, progress)
        return
    cursor = raw.cursor() if sqlite else raw.cursor(name="assay_ledger_verify")
    mapped = _map_file(raw) if sqlite else None
    fragments = FragmentCache(_parts, _NEVER, _FRAGMENT_CACHE)
    try:
        cursor.execute(_SELECT[dialect] + _ORDER)
        while chunk := cursor.fetchmany(_CHUNK):
            _check_chunk(walk, chunk, fragments, conn)
            if progress is not None:
                progress(len(chunk))
    except sqlite3.Error as exc:  # json_array() refuses a blob: SQLite lets any column hold one
        raise _binary_column(conn, exc) from exc
    finally:
        cursor.close()
        if mapped is not None:
            raw.execute(f"PRAGMA mmap_size={int(mapped)}")


def _open_reader(raw: Any) -> EntryReader | None:
    """The C row reader on the database file ``raw`` has open (None: not built, or no file)."""
    if EntryReader is None:
        return None
    path = next((row[2] for row in raw.execute("PRAGMA database_list") if row[1] == "main"), "")
    if not path:  # an in-memory database: no second connection can see it
        return None
    try:
        return EntryReader(path)
    except ReaderError:
        return None  # e.g. a file this process may read but not lock: the Python reader decides


def _stream_natively(reader: EntryReader, conn: Connection, walk: _Walk, progress: Progress | None) -> None:
    """Hash and check the entries in the C reader; a chunk it cannot confirm is checked again in Python."""
    fragments = FragmentCache(_parts, _NEVER, _FRAGMENT_CACHE)
    try:
        while True:
            first = walk.builder.size + len(walk.pending)
            try:
                digests, rows = reader.read(_CHUNK)
            except ReaderError as exc:
                raise VerificationError(f"the entries could not be read: {exc}", hint=_HINT) from exc
            if not rows:
                return
            if len(digests) == rows:
                walk.add(digests)
            else:
                _recheck_chunk(conn, walk, fragments, first, rows)
            if progress is not None:
                progress(rows)
    finally:
        reader.close()


#: The rows of one chunk by position, for the Python checks (which name a fault exactly).
_CHUNK_ROWS = _SELECT["sqlite"] + _ORDER + " LIMIT ? OFFSET ?"


def _recheck_chunk(conn: Connection, walk: _Walk, fragments: FragmentCache, first: int, rows: int) -> None:
    raw: Any = conn.connection.dbapi_connection
    try:
        chunk = raw.execute(_CHUNK_ROWS, (rows, first)).fetchall()
    except sqlite3.Error as exc:
        raise _binary_column(conn, exc) from exc
    if len(chunk) != rows:
        raise VerificationError(
            f"entries {first}-{first + rows - 1} changed while they were verified",
            hint="Run the verification again; it reads a log that another process is altering.",
        )
    _check_chunk(walk, chunk, fragments, conn)


_BINARY_COLUMN = text(
    "SELECT idx, typeof(actor), typeof(tenant), typeof(event_type), typeof(event_time) FROM ledger_entries"
    " WHERE 'blob' IN (typeof(actor), typeof(tenant), typeof(event_type), typeof(event_time)) ORDER BY idx LIMIT 1"
)


def _binary_column(conn: Connection, exc: sqlite3.Error) -> VerificationError:
    """Name the first entry whose plain column holds binary data (what makes the pass's query fail)."""
    row = conn.execute(_BINARY_COLUMN).first()
    if row is None:
        return VerificationError(f"the entries could not be read: {exc}", hint=_HINT)
    column = ("actor", "tenant", "event_type", "event_time")[list(row[1:]).index("blob")]
    return _fail(f"entry {row[0]}", f"column {column} holds binary data, not the text the signed leaf says")


def _map_file(raw: Any) -> int:
    """Memory-map the database file for the pass; returns the setting to restore."""
    previous = int(raw.execute("PRAGMA mmap_size").fetchone()[0])
    raw.execute(f"PRAGMA mmap_size={_MMAP_BYTES}")
    return previous


def _check_chunk(walk: _Walk, chunk: list[tuple[Any, ...]], fragments: FragmentCache, conn: Connection) -> None:
    """Check a chunk of ``(leaf, leaf_hash, key)`` rows in one compiled loop (:func:`check_rows`).

    The first bad entry is found per check, the earliest one wins, and the tiles of every
    entry before it are still checked first, so the error is the one a row-by-row pass
    would raise (see :meth:`_Walk.add` and :meth:`_Walk.flush`).
    """
    first = walk.builder.size + len(walk.pending)
    chunk, bad = _binary_leaves(chunk, first)
    digests, limit, misfit = check_rows(chunk, fragments)
    if limit < len(digests):
        bad = limit, _fail(f"entry {first + limit}", "the stored leaf_hash does not match the leaf bytes")
    if misfit < limit:
        rows = chunk[:limit]
        leaves, keys = [row[0] for row in rows], [row[2] for row in rows]
        bad = _first_column_fault(first, leaves, keys, fragments, conn) or bad
    walk.add(digests if bad is None else digests[: bad[0]])
    if bad is not None:
        raise bad[1]


def _binary_leaves(
    chunk: list[tuple[Any, ...]], first: int
) -> tuple[list[tuple[Any, ...]], tuple[int, VerificationError] | None]:
    """The rows as ``bytes`` leaves, up to the first leaf that is not binary (SQLite lets any column
    hold text or a number), and the fault that names that row."""
    if all(type(row[0]) is bytes for row in chunk):
        return chunk, None
    rows: list[tuple[Any, ...]] = []
    for position, (leaf, stored, key) in enumerate(chunk):
        if not isinstance(leaf, bytes | bytearray | memoryview):  # a driver's buffer type is hashed as bytes
            kind = "no value" if leaf is None else f"a {type(leaf).__name__} value"
            return rows, (position, _fail(f"entry {first + position}", f"column leaf holds {kind}, not the signed leaf's bytes"))
        rows.append((bytes(leaf), stored, key))
    return rows, None


def _first_column_fault(
    first: int, leaves: Sequence[bytes], keys: Sequence[object], fragments: FragmentCache, conn: Connection
) -> tuple[int, VerificationError] | None:
    """The first row whose columns really disagree with its leaf (the exact check confirms the fast one)."""
    for position, (leaf, key) in enumerate(zip(leaves, keys, strict=True)):
        head, tail = fragments.pair(key)
        if leaf.startswith(head) and leaf.endswith(tail):
            continue
        row = conn.execute(_ROW_COLUMNS, {"position": first + position}).one()
        problem = _column_problem(leaf, tuple(row))
        if problem is not None:
            return position, _fail(f"entry {first + position}", problem)
    return None


def _explainer(conn: Connection) -> Callable[[int], str | None]:
    def explain(position: int) -> str | None:
        """Say so when the row at ``position`` (in index order) is not entry ``position``: rows were removed."""
        row = conn.execute(select(LedgerEntry.idx).order_by(LedgerEntry.idx).limit(1).offset(position)).first()
        if row is None or int(row[0]) != position:
            following = "none" if row is None else str(row[0])
            return f"is missing (the next stored entry is {following})"
        return None

    return explain


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


def _record_fields(idx: int, leaf: bytes) -> tuple[int, int | None, str | None]:
    """``(checkpoint_size, previous_size, previous_root)`` of a ``ledger.checkpoint`` entry."""
    try:
        attributes = json.loads(leaf)["attributes"]
        size, previous_size, previous_root = (
            attributes["checkpoint_size"], attributes["previous_size"], attributes["previous_root"]
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise _fail(f"entry {idx}", "is a ledger.checkpoint entry without its checkpoint fields") from exc
    if not isinstance(size, int) or not isinstance(previous_size, int | None):
        raise _fail(f"entry {idx}", "is a ledger.checkpoint entry with malformed sizes")
    return size, previous_size, previous_root if isinstance(previous_root, str) else None


def _check_records(conn: Connection, rows: list[_StoredCheckpoint]) -> None:
    """Every checkpoint the log records as signed must still be stored (ADR 0014).

    The sequencer ends each checkpoint with a ``ledger.checkpoint`` entry naming it and the
    checkpoint before it, so a deleted checkpoint row is named by the entries that record it.
    The entries are found by their ``event_type`` column, already checked against each leaf.
    """
    stored = {row.size: row.root_hash for row in rows}
    records = conn.execute(
        select(LedgerEntry.idx, LedgerEntry.leaf).where(LedgerEntry.event_type == RECORD_TYPE).order_by(LedgerEntry.idx)
    )
    for idx, leaf in records:
        size, previous_size, previous_root = _record_fields(idx, bytes(leaf))
        if size != idx + 1:
            raise _fail(f"entry {idx}", f"records checkpoint {size}, but a checkpoint record is its checkpoint's last entry")
        if size not in stored:
            raise _fail(f"checkpoint {size}", f"is missing: entry {idx} records that it was signed")
        if previous_size is None:
            continue
        if previous_size not in stored:
            raise _fail(
                f"checkpoint {previous_size}",
                f"is missing: entry {idx} records it as the checkpoint signed before checkpoint {size}",
            )
        if stored[previous_size].hex() != previous_root:
            raise _fail(f"checkpoint {previous_size}", f"its root differs from the root entry {idx} records")


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
        walk = _Walk(tiles, {row.size for row in checkpoints}, _explainer(conn))
        _stream(conn, walk, progress)
        walk.flush()
        _check_truncation(checkpoints, walk.builder.size)
        walk.finish()
        _check_checkpoints(checkpoints, walk, verifier, origin)
        _check_records(conn, checkpoints)
    root = walk.roots.get(walk.builder.size) or walk.root_now()
    return VerifyReport(walk.builder.size, len(checkpoints), len(tiles), root, time.perf_counter() - started)
