"""Storage of the ledger: the write lock, entry inserts, tile upserts, the tree's right edge.

Used by the sequencer only, inside its transaction. The entry insert bypasses the
ORM because it is the append path's hot loop.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Table, select, text

from assay.errors import LedgerError
from assay.ledger.models import LedgerCheckpoint, LedgerEntry, LedgerTile
from assay.ledger.tiles import TILE_HEIGHT, TILE_WIDTH, TileBuilder
from assay.store.db import Database

__all__ = [
    "ADVISORY_LOCK_KEY",
    "CHECKPOINTS",
    "ENTRIES",
    "TILES",
    "Prepared",
    "insert_entries",
    "load_builder",
    "lock",
    "stored_size",
    "upsert_tiles",
]

#: Constant key of the PostgreSQL advisory lock that makes one sequencer at a time.
ADVISORY_LOCK_KEY = 0x4C454447_45520001
SQLITE_CACHE_KIB = 64 * 1024
ENTRIES: Table = LedgerEntry.__table__  # type: ignore[assignment]
TILES: Table = LedgerTile.__table__  # type: ignore[assignment]
CHECKPOINTS: Table = LedgerCheckpoint.__table__  # type: ignore[assignment]


class Prepared(NamedTuple):
    """One entry ready to insert (a tuple: cheaper to build than a frozen dataclass, per event)."""

    leaf: bytes
    leaf_hash: bytes
    event_type: str
    tenant: str | None
    actor: str
    event_time: datetime

    def values(self, idx: int, when: object) -> tuple[object, ...]:
        return (idx, self.event_type, self.tenant, self.actor, when, self.leaf, self.leaf_hash)


INSERT_ENTRY = (
    "INSERT INTO ledger_entries (idx, event_type, tenant, actor, event_time, leaf, leaf_hash) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s)"
)


COPY_ENTRIES = (
    "COPY ledger_entries (idx, event_type, tenant, actor, event_time, leaf, leaf_hash) FROM STDIN"
)
SQLITE_ROWS = 128  # 7 columns x 128 rows stays under SQLite's oldest 999-parameter limit


@functools.lru_cache(maxsize=SQLITE_ROWS + 1)
def sqlite_insert(rows: int) -> str:
    head = INSERT_ENTRY.split(" VALUES ", maxsplit=1)[0]
    return head + " VALUES " + ",".join(["(?,?,?,?,?,?,?)"] * rows)


@functools.lru_cache(maxsize=4096)
def sqlite_time(value: datetime) -> str:
    utc = value.astimezone(UTC)
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d} "
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}.{utc.microsecond:06d}"
    )


def lock(db: Database, conn: Connection) -> None:
    """Take the log's write lock for this transaction (one sequencer at a time)."""
    if db.is_sqlite:
        # A bigger page cache keeps the three secondary indexes' hot pages in memory
        # as the log grows (SQLite's default is 2 MiB per connection).
        conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif db.is_postgres:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})


STORED_SIZE = "SELECT COALESCE(MAX(idx) + 1, 0) FROM ledger_entries"
# Plain SQL for the two statements every commit runs: building and compiling the SQLAlchemy
# constructs cost about a third of the sequencer's CPU per commit (and the garbage they leave
# behind set off the collector under load).
UPSERT_TILE = (
    "INSERT INTO ledger_tiles (level, tile_index, width, hashes) VALUES ({p}, {p}, {p}, {p}) "
    "ON CONFLICT (level, tile_index) DO UPDATE SET width = excluded.width, hashes = excluded.hashes"
)
UPSERT_TILE_SQLITE = UPSERT_TILE.format(p="?")
UPSERT_TILE_PG = UPSERT_TILE.format(p="%s")


def stored_size(conn: Connection) -> int:
    """Number of stored entries (max index + 1)."""
    return int(conn.exec_driver_sql(STORED_SIZE).scalar_one())


def insert_entries(db: Database, conn: Connection, first: int, entries: list[Prepared]) -> None:
    """The hot path, in plain DB-API calls.

    PostgreSQL: one ``COPY`` in the transaction. SQLite: multi-row statements, one call (and one
    GIL release) per 128 rows, with the timestamp in the exact text form SQLAlchemy's
    DateTime writes, so ORM reads agree.
    """
    if db.is_postgres:
        raw: Any = conn.connection.dbapi_connection
        with raw.cursor() as cursor, cursor.copy(COPY_ENTRIES) as copy:
            for i, e in enumerate(entries, start=first):
                copy.write_row(e.values(i, e.event_time))
        return
    if not db.is_sqlite:
        rows = [e.values(first + i, e.event_time) for i, e in enumerate(entries)]
        conn.exec_driver_sql(INSERT_ENTRY, rows)
        return
    stamp = sqlite_time
    for start in range(0, len(entries), SQLITE_ROWS):
        chunk = entries[start : start + SQLITE_ROWS]
        params = [  # Prepared.values unrolled: one method call less per entry
            value
            for i, (leaf, digest, kind, tenant, actor, when) in enumerate(chunk, start=first + start)
            for value in (i, kind, tenant, actor, stamp(when), leaf, digest)
        ]
        conn.exec_driver_sql(sqlite_insert(len(chunk)), tuple(params))


def upsert_tiles(db: Database, conn: Connection, tiles: list[tuple[int, int, bytes]]) -> None:
    """Write full tiles and the grown partial tiles (one row per tile)."""
    if not tiles:
        return
    rows = [(level, index, len(data) // 32, data) for level, index, data in tiles]
    conn.exec_driver_sql(UPSERT_TILE_PG if db.is_postgres else UPSERT_TILE_SQLITE, rows)


def load_builder(conn: Connection, size: int) -> TileBuilder:
    """Rebuild the right edge (the partial tiles) of a tree of ``size`` from storage."""
    builder = TileBuilder(size=size)
    level = 0
    while size >> (TILE_HEIGHT * level):
        count = size >> (TILE_HEIGHT * level)
        width, index = count % TILE_WIDTH, count // TILE_WIDTH
        data = b""
        if width:
            row = conn.execute(
                select(TILES.c.hashes).where(TILES.c.level == level, TILES.c.tile_index == index)
            ).scalar()
            if row is None or len(row) < width * 32:
                raise LedgerError(
                    f"ledger tile {level}/{index} is missing or shorter than the log needs",
                    hint="Run `assay ledger verify`; the database may have been altered.",
                )
            data = bytes(row[: width * 32])
        builder.partial.append(bytearray(data))
        level += 1
    return builder
