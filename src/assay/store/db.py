"""Engine and session factory for SQLite (WAL) or PostgreSQL (psycopg 3)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from assay.errors import StoreError

__all__ = ["Database", "open_database", "redact_url"]


def redact_url(url: str) -> str:
    """The URL with any password replaced, safe to log or show."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is shown as its scheme only
        return url.split(":", 1)[0] + "://…"


#: How long a SQLite connection waits for another process's write lock before it gives up.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL makes every commit durable across power loss, not just process crash.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


@dataclass
class Database:
    """An engine plus a session factory; one per process and data directory."""

    url: str
    engine: Engine
    sessions: sessionmaker[Session]
    _write_turn: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def write_turn(self) -> AbstractContextManager[object]:
        """Hold this process's turn to write (SQLite); take it before beginning a write transaction.

        SQLite has one writer at a time, and a connection that finds the database locked
        sleeps in its busy handler (1, 2, 5 ms ...) instead of waking when the lock is free.
        The process's steady writers (the ledger's sequencer, the decision recorder) queue
        here instead, and the next one starts as soon as the previous one has committed; on
        the gateway this removed 1 ms sleeps from about one request in ten at concurrency 1
        (ADR 0044). Other processes still meet SQLite's own lock and busy timeout.
        PostgreSQL locks rows, not the database: nothing to take.
        """
        return self._write_turn if self.is_sqlite else nullcontext()

    @contextmanager
    def free_write_turn(self) -> Iterator[bool]:
        """Take the write turn only if nobody holds it; yields whether it was taken."""
        if not self.is_sqlite:
            yield True
            return
        taken = self._write_turn.acquire(blocking=False)
        try:
            yield taken
        finally:
            if taken:
                self._write_turn.release()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction, committed on success, rolled back on error."""
        with self.sessions.begin() as session:
            yield session

    def ping(self) -> None:
        """Raise :class:`StoreError` unless a trivial query succeeds."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            raise StoreError(
                f"database {redact_url(self.url)} is not reachable: {_first_line(exc)}",
                hint="Check ASSAY_DATABASE_URL and that the server is running.",
            ) from exc

    def dispose(self) -> None:
        self.engine.dispose()


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__


def open_database(url: str, *, pool_size: int = 10) -> Database:
    """Create the engine for ``url``; nothing is connected until first use."""
    try:
        if url.startswith("sqlite"):
            # LIFO: a thread that commits again and again (the ledger's sequencer) gets back the
            # connection it just used, whose page cache is still valid; FIFO handed out each
            # pooled connection in turn, and every switch re-read the pages the other had changed
            # (about 24 of 30 read system calls per gateway request at concurrency 1).
            engine = create_engine(
                url, connect_args={"check_same_thread": False, "timeout": 30}, pool_use_lifo=True
            )
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(
                url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
            )
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise StoreError(
            f"cannot use database URL {redact_url(url)}: {exc}",
            hint="Use sqlite:///PATH or postgresql+psycopg://USER:PASS@HOST/DB.",
        ) from exc
    return Database(url=url, engine=engine, sessions=sessionmaker(engine, expire_on_commit=False))
