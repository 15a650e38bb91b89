"""Storage of the ledger: the write lock, entry inserts, tile upserts, the tree's right edge.

Used by the sequencer only, inside its transaction. The entry insert bypasses the
ORM because it is the append path's hot loop.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Table, select, text

from assay.errors import LedgerError
from assay.ledger.models import LedgerCheckpoint, LedgerEntry, LedgerTile
from assay.ledger.tiles import TILE_HEIGHT, TILE_WIDTH, TileBuilder
from assay.store.db import SQLITE_BUSY_TIMEOUT_MS, Database

__all__ = [
    "ADVISORY_LOCK_KEY",
    "CHECKPOINTS",
    "ENTRIES",
    "STORED_SIZE",
    "TILES",
    "Prepared",
    "SqliteWriter",
    "WouldWait",
    "builder_from_tiles",
    "insert_entries",
    "lock",
    "stored_size",
    "stored_tile",
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
TILE_HASHES = "SELECT hashes FROM ledger_tiles WHERE level = ? AND tile_index = ?"
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
    for start in range(0, len(entries), SQLITE_ROWS):
        conn.exec_driver_sql(*_sqlite_entry_rows(first + start, entries[start : start + SQLITE_ROWS]))


def _sqlite_entry_rows(first: int, chunk: list[Prepared]) -> tuple[str, tuple[object, ...]]:
    """One multi-row ``INSERT`` of ``chunk`` at ``first`` and its parameters."""
    stamp = sqlite_time
    params = [  # Prepared.values unrolled: one method call less per entry
        value
        for i, (leaf, digest, kind, tenant, actor, when) in enumerate(chunk, start=first)
        for value in (i, kind, tenant, actor, stamp(when), leaf, digest)
    ]
    return sqlite_insert(len(chunk)), tuple(params)


def upsert_tiles(db: Database, conn: Connection, tiles: list[tuple[int, int, bytes]]) -> None:
    """Write full tiles and the grown partial tiles (one row per tile)."""
    if not tiles:
        return
    rows = [(level, index, len(data) // 32, data) for level, index, data in tiles]
    conn.exec_driver_sql(UPSERT_TILE_PG if db.is_postgres else UPSERT_TILE_SQLITE, rows)


def stored_tile(conn: Connection, level: int, index: int) -> bytes | None:
    """The stored hashes of tile ``level/index`` (None when there is no such row)."""
    row = conn.execute(select(TILES.c.hashes).where(TILES.c.level == level, TILES.c.tile_index == index)).scalar()
    return None if row is None else bytes(row)


def builder_from_tiles(size: int, read: Callable[[int, int], bytes | None]) -> TileBuilder:
    """The right edge of a tree of ``size``, its partial tiles read with ``read(level, index)``."""
    builder = TileBuilder(size=size)
    level = 0
    while size >> (TILE_HEIGHT * level):
        count = size >> (TILE_HEIGHT * level)
        width, index = count % TILE_WIDTH, count // TILE_WIDTH
        data = b""
        if width:
            row = read(level, index)
            if row is None or len(row) < width * 32:
                raise LedgerError(
                    f"ledger tile {level}/{index} is missing or shorter than the log needs",
                    hint="Run `assay ledger verify`; the database may have been altered.",
                )
            data = row[: width * 32]
        builder.partial.append(bytearray(data))
        level += 1
    return builder


class WouldWait(Exception):  # noqa: N818 - a signal to hand the work to the sequencer, never shown
    """The write would have to wait (another process holds SQLite's lock) and the caller must not."""


class SqliteWriter:
    """The log's own SQLite writer connection, written through plain DB-API calls.

    Used by whoever holds the log's writer lock: the sequencer, or an inline commit (ADR 0047).

    Each commit of a group used to check a connection out of the pool and run its seven
    statements through SQLAlchemy, about 15 us of interpreter time each on top of SQLite's own
    work; at one request at a time that was a third of the sequencer's time per commit.
    The connection stays checked out for the log's life (its page cache stays warm); one that
    raised anything but a constraint violation is closed and replaced on the next commit.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._fairy: Any = None
        self._companions: dict[tuple[Table, tuple[str, ...]], _CompanionInsert | None] = {}

    def connection(self) -> Any:
        if self._fairy is None:
            self._fairy = self._db.engine.raw_connection()
            self._fairy.dbapi_connection.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        return self._fairy.dbapi_connection

    def begin(self, *, wait: bool) -> Any:
        """``BEGIN IMMEDIATE`` on the writer's connection, which it returns.

        Without ``wait``, a database another process is writing raises :class:`WouldWait` at
        once instead of sleeping in SQLite's busy handler (the caller may be an event loop).
        """
        raw = self.connection()
        if wait:
            raw.execute("BEGIN IMMEDIATE")
            return raw
        raw.execute("PRAGMA busy_timeout=0")
        try:
            raw.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY:
                raise WouldWait from exc
            raise
        finally:
            raw.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        return raw

    def discard(self) -> None:
        fairy, self._fairy = self._fairy, None
        if fairy is not None:
            fairy.invalidate()

    def close(self) -> None:
        fairy, self._fairy = self._fairy, None
        if fairy is not None:
            fairy.close()

    def read_tile(self, level: int, index: int) -> bytes | None:
        row = self.connection().execute(TILE_HASHES, (level, index)).fetchone()
        return None if row is None else bytes(row[0])

    def plans(self, companions: Sequence[tuple[Table, Mapping[str, Any]]]) -> list[_CompanionInsert] | None:
        """A plain insert per companion row, or None when one needs SQLAlchemy (column defaults)."""
        plans = []
        for table, row in companions:
            key = (table, tuple(row))
            if key not in self._companions:
                self._companions[key] = _CompanionInsert.build(table, key[1], self._db.engine.dialect)
            plan = self._companions[key]
            if plan is None:
                return None
            plans.append(plan)
        return plans

    def write(
        self,
        builder: TileBuilder,
        entries: list[Prepared],
        companions: Sequence[tuple[Table, Mapping[str, Any]]],
        plans: list[_CompanionInsert],
    ) -> None:
        """Insert the entries at ``builder.size`` with their companion rows and the grown tiles."""
        raw = self.connection()
        first = builder.size
        for start in range(0, len(entries), SQLITE_ROWS):
            raw.execute(*_sqlite_entry_rows(first + start, entries[start : start + SQLITE_ROWS]))
        by_statement: dict[str, list[list[Any]]] = {}  # one executemany per table, rows in order
        for plan, (_, row) in zip(plans, companions, strict=True):
            by_statement.setdefault(plan.sql, []).append(plan.values(row))
        for sql, rows in by_statement.items():
            raw.executemany(sql, rows)
        builder.extend([entry.leaf_hash for entry in entries])
        full, partial = builder.drain()
        raw.executemany(UPSERT_TILE_SQLITE, [(level, index, len(data) // 32, data) for level, index, data in full + partial])


@dataclass(frozen=True)
class _CompanionInsert:
    """A plain ``INSERT`` for a companion row of given keys, with each column's bind processing."""

    sql: str
    keys: tuple[str, ...]
    #: (position, bind processor) of the columns whose type converts the value
    processed: tuple[tuple[int, Callable[[Any], Any]], ...]

    @classmethod
    def build(cls, table: Table, keys: tuple[str, ...], dialect: Any) -> _CompanionInsert | None:
        columns = [table.c[key] for key in keys]
        skipped = [column for column in table.c if column.key not in keys]
        if any(column.default is not None or column.onupdate is not None for column in skipped):
            return None  # SQLAlchemy fills those defaults; this plain insert would not
        # Names from the table's own metadata, never from the row's data.
        names, marks = ", ".join(c.name for c in columns), ", ".join("?" * len(columns))
        sql = f"INSERT INTO {table.name} ({names}) VALUES ({marks})"  # noqa: S608
        # The dialect's own type (SQLite's DATETIME text form, not the generic one): what SQLAlchemy binds.
        processors = [column.type.dialect_impl(dialect).bind_processor(dialect) for column in columns]
        return cls(sql, keys, tuple((at, process) for at, process in enumerate(processors) if process is not None))

    def values(self, row: Mapping[str, Any]) -> list[Any]:
        values = [row[key] for key in self.keys]
        for at, process in self.processed:
            values[at] = process(values[at])
        return values
