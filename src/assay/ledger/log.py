"""AuditLog: group-committed durable appends, tiles, proofs and signed checkpoints.

One sequencer thread per process owns writing. Callers hand it validated events
and wait; it takes everything queued (up to ``max_batch`` entries), turns them
into leaves and writes them in one transaction, so many concurrent appends share
one commit and one fsync, and each caller learns its index only after that
commit returned. Inside the transaction
the sequencer takes the log's write lock (``BEGIN IMMEDIATE`` on SQLite, a
transaction-scoped advisory lock on PostgreSQL), re-reads the size, and reloads
its in-memory right edge of the tree if another process appended meanwhile; so
several processes share one ordered log without gaps or duplicates.

A caller that knows more appends are about to come (the gateway, of requests whose fast
upstream has not answered yet) tells the sequencer with :meth:`AuditLog.add_siblings`; having
taken a job, it then waits up to ``commit_delay_s`` for them, so they share the commit
(PostgreSQL's ``commit_delay`` and ``commit_siblings``; ADR 0080).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import operator
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from itertools import repeat
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Table, func, select
from sqlalchemy.exc import IntegrityError

from assay.clock import Clock, SystemClock
from assay.errors import AssayError, ConfigError, LedgerError, NotFoundError, UsageError
from assay.ledger._delivery import Deliver, LoopDeliver, deliver_results, future_deliver
from assay.ledger._storage import (
    CHECKPOINTS,
    STORED_SIZE,
    Prepared,
    SqliteWriter,
    WouldWait,
    builder_from_tiles,
    insert_entries,
    lock,
    stored_size,
    stored_tile,
    upsert_tiles,
)
from assay.ledger.events import (
    MAX_LEAF_BYTES,
    RECORD_TYPE,
    Event,
    canonical_leaf,
    checkpoint_record,
)
from assay.ledger.merkle import (
    NodeReader,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    range_hash,
)
from assay.ledger.models import LedgerCheckpoint, LedgerEntry, LedgerTile
from assay.ledger.note import Checkpoint, Signer
from assay.ledger.proof import format_tlog_proof
from assay.ledger.tiles import TILE_WIDTH, TileBuilder, TileCache, TileError
from assay.secrets import LEDGER_KEY, read_secret
from assay.store.db import Database

if TYPE_CHECKING:
    from assay.instance import Instance
    from assay.ledger.check import VerifyReport

__all__ = ["LEDGER_INDEX", "AuditLog", "CompanionRow", "SignedCheckpoint", "ledger_origin"]

#: A row of another table stored in the same transaction as an event (durable together or not at all).
CompanionRow = tuple[Table, Mapping[str, Any]]


class _LedgerIndex:
    """The value of a companion row's column that stores its event's ledger index."""

    def __repr__(self) -> str:
        return "LEDGER_INDEX"


#: Put as a companion row's value, replaced by the index its event gets (known only when the
#: sequencer writes the batch), so a row can cite its event in the same transaction.
LEDGER_INDEX: Any = _LedgerIndex()


def ledger_origin(instance_id: str) -> str:
    """Checkpoint origin and key name of an instance's log."""
    return f"assay.ledger/{instance_id}"


@dataclass(frozen=True)
class SignedCheckpoint:
    size: int
    root: bytes
    note: str
    created_at: datetime


@dataclass
class _Job:
    # Events are prepared by whoever commits them (the sequencer, or an inline commit);
    # prepared leaves come from the conformance path. None on both: a checkpoint request.
    events: Sequence[Event] | None
    deliver: Deliver
    prepared: list[Prepared] | None = None
    companions: Sequence[CompanionRow] = ()

    @property
    def is_append(self) -> bool:
        return self.events is not None or self.prepared is not None

    @property
    def count(self) -> int:
        return len(self.events or self.prepared or ())




class AuditLog:
    """The tamper-evident audit log of one Assay instance."""

    def __init__(
        self,
        db: Database,
        signer: Signer,
        clock: Clock | None = None,
        *,
        checkpoint_interval_s: float = 10.0,
        max_batch: int = 20_000,
        record_checkpoints: bool = True,
        commit_delay_s: float = 0.001,
    ) -> None:
        self._db = db
        self._signer = signer
        self._clock = clock or SystemClock()
        self._interval = checkpoint_interval_s
        self._max_batch = max_batch
        self._record_checkpoints = record_checkpoints
        self._commit_delay = commit_delay_s
        self._siblings: list[Callable[[], int]] = []
        self._queue: deque[_Job] = deque()
        self._cond = threading.Condition()
        # Held while the log's writer, tree edge and checkpoints are used: by the sequencer for
        # each round of jobs, or by an event loop committing a lone request inline.
        self._writing = threading.Lock()
        self._closing = False
        self._builder: TileBuilder | None = None
        self._sqlite = SqliteWriter(db) if db.is_sqlite else None
        self._known_size = 0
        self._cache_lock = threading.Lock()
        self._cache = TileCache(self._read_stored_tile)
        self._thread = threading.Thread(target=self._run, name="assay-ledger-sequencer", daemon=True)
        self._thread.start()

    @classmethod
    def open(cls, instance: Instance) -> AuditLog:
        """The log of ``instance``: its database, ``ledger.key`` seed and clock."""
        seed = read_secret(instance.data_dir, LEDGER_KEY)
        if len(seed) != 32:
            raise ConfigError(
                f"{instance.data_dir / LEDGER_KEY} holds {len(seed)} bytes; the ledger key is a 32-byte seed",
                hint="Restore ledger.key from backup; a new key cannot sign for the existing log.",
            )
        signer = Signer(ledger_origin(instance.instance_id), seed)
        return cls(
            instance.db, signer, instance.clock,
            checkpoint_interval_s=instance.settings.checkpoint_interval_s,
            commit_delay_s=instance.settings.ledger_commit_delay_ms / 1000,
        )

    @classmethod
    def shared(cls, instance: Instance) -> AuditLog:
        """The process's one log of ``instance`` (opened on first use, closed with it)."""
        return instance.shared("assay.ledger.AuditLog", lambda: cls.open(instance))

    # -- identity ---------------------------------------------------------------

    @property
    def origin(self) -> str:
        return self._signer.name

    @property
    def vkey(self) -> str:
        """The verifier key auditors use (c2sp.org/signed-note vkey)."""
        return self._signer.vkey

    # -- appending --------------------------------------------------------------

    def _prepare(self, events: Sequence[Event]) -> list[Prepared]:
        now = self._clock.now()
        prepared = []
        sha = hashlib.sha256  # leaf_hash inlined: this loop runs once per appended event
        for position, event in enumerate(events):
            when = event.time or now
            leaf = canonical_leaf(event, when)
            if len(leaf) > MAX_LEAF_BYTES:
                raise UsageError(
                    f"event {position} is {len(leaf)} bytes as canonical JSON; the limit is {MAX_LEAF_BYTES}",
                    hint="Record ids and hashes, not content.",
                )
            prepared.append(Prepared(leaf, sha(b"\x00" + leaf).digest(), event.type, event.tenant, event.actor, when))
        return prepared

    def _submit(self, job: _Job) -> None:
        with self._cond:
            if self._closing:
                raise LedgerError("the audit log is closed", hint="Open it again with AuditLog.open.")
            self._queue.append(job)
            self._cond.notify()

    def _wait(self, events: Sequence[Event] | None, prepared: list[Prepared] | None = None) -> Any:
        future: Future[Any] = Future()
        self._submit(_Job(events, future_deliver(future), prepared))
        return future.result()

    def append(self, event: Event) -> int:
        """Record ``event``; returns its index once it is durable."""
        _require_event(event, 0)
        indices: list[int] = self._wait([event])
        return indices[0]

    def append_batch(self, events: Sequence[Event]) -> list[int]:
        """Record all of ``events`` in one transaction, or none of them."""
        if not events:
            return []
        batch = list(events)
        for position, event in enumerate(batch):
            _require_event(event, position)
        indices: list[int] = self._wait(batch)
        return indices

    async def append_async(
        self, event: Event, companions: Sequence[CompanionRow] = (), *, inline: bool = False
    ) -> int:
        """Like :meth:`append`, without blocking the event loop (unless ``inline``).

        ``companions`` are rows of other tables (an encrypted transcript the event cites)
        inserted in the same transaction: they share the batch's one commit and are durable
        exactly when the event is.

        ``inline`` is for a caller whose event loop has nothing else to do (a lone request).
        If the log is idle then, the event is committed on the calling thread, without the
        hand-off to the sequencer thread and back (ADR 0047). That blocks the loop for one
        commit, so it is done only on SQLite (a local file, never a network round trip) and
        never waits for a lock: when another writer is busy the event is queued as usual.
        """
        _require_event(event, 0)
        if inline:
            indices = self._commit_inline(event, companions)
            if indices is not None:
                return indices[0]
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[int]] = loop.create_future()
        self._submit(_Job([event], LoopDeliver(loop, future), companions=companions))
        indices = await future
        return indices[0]

    def _commit_inline(self, event: Event, companions: Sequence[CompanionRow]) -> list[int] | None:
        """Commit ``event`` on this thread if nothing else is writing; None means queue it instead."""
        if self._sqlite is None or self._queue or not self._writing.acquire(blocking=False):
            return None
        outcome: list[tuple[Any, BaseException | None]] = []
        try:
            with self._db.free_write_turn() as free:
                if not free or self._closing:
                    return None
                job = _Job([event], lambda result, error: outcome.append((result, error)), companions=companions)
                self._commit_appends([job], wait=False)
        except WouldWait:
            return None
        finally:
            self._writing.release()
        result, error = outcome[0]
        if error is not None:
            raise error
        indices: list[int] = result
        return indices

    def _append_raw(self, leaves: Sequence[bytes], when: datetime) -> list[int]:
        """Append arbitrary leaf data (conformance tests against other logs' vectors)."""
        prepared = [Prepared(leaf, leaf_hash(leaf), "raw.leaf", None, "system", when) for leaf in leaves]
        indices: list[int] = self._wait(None, prepared)
        return indices

    def add_siblings(self, due: Callable[[], int]) -> Callable[[], None]:
        """Report appends on their way: ``due()`` is how many will be queued soon.

        Having taken a job, the sequencer waits up to ``commit_delay_s`` while any hint reports
        some due, so they share its commit. ``due`` is called on the sequencer's thread and must
        be cheap; one that raises counts as none. Returns the function that removes the hint.
        """
        with self._cond:
            self._siblings.append(due)

        def remove() -> None:
            with self._cond:
                if due in self._siblings:
                    self._siblings.remove(due)

        return remove

    def close(self) -> None:
        """Finish queued appends, sign a final checkpoint if the log grew, stop."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the sequencer ----------------------------------------------------------

    def _take(self, deadline: float) -> tuple[list[_Job], bool]:
        with self._cond:
            while not self._queue and not self._closing:
                remaining = deadline - self._clock.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            if self._queue and self._siblings and self._commit_delay > 0:
                self._linger()
            jobs: list[_Job] = []
            count = 0
            while self._queue and count < self._max_batch:
                job = self._queue.popleft()
                jobs.append(job)
                count += job.count
            return jobs, self._closing and not self._queue

    def _linger(self) -> None:
        """Wait (holding ``self._cond``) up to the commit delay while appends are reported due.

        Real time, not the log's clock: this is about when other threads' work arrives.
        Each queued append notifies the condition, so the hints are asked again at once.
        """
        deadline = time.monotonic() + self._commit_delay
        while not self._closing and self._due() > 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._cond.wait(remaining)

    def _due(self) -> int:
        due = 0
        for hint in self._siblings:
            with suppress(Exception):  # a hint is advice: a broken one must not stop commits
                due += hint()
        return due

    def _run(self) -> None:
        try:
            self._sequence()
        finally:
            self._fail_waiting()
            if self._sqlite is not None:
                with self._writing:
                    self._sqlite.close()

    def _fail_waiting(self) -> None:
        """If the sequencer stops for any reason, nobody may wait forever."""
        with self._cond:
            self._closing = True
            jobs, self._queue = list(self._queue), deque()
        error = LedgerError("the audit log stopped before recording this event", hint="Reopen the log and retry.")
        for job in jobs:
            job.deliver(None, error)

    def _sequence(self) -> None:
        next_checkpoint = self._clock.monotonic() + self._interval
        while True:
            jobs, finished = self._take(next_checkpoint)
            with self._writing:
                self._run_jobs(jobs)
                if finished or self._clock.monotonic() >= next_checkpoint:
                    self._periodic_checkpoint()
                    next_checkpoint = self._clock.monotonic() + self._interval
            if finished:
                return

    def _run_jobs(self, jobs: list[_Job]) -> None:
        appends = [job for job in jobs if job.is_append]
        if appends:
            self._commit_appends(appends)
        for job in jobs:
            if not job.is_append:
                self._run_checkpoint_job(job)

    def _prepared(self, jobs: list[_Job]) -> list[tuple[_Job, list[Prepared]]]:
        """Prepare every job's leaves; a job that cannot be prepared fails alone."""
        ready = []
        for job in jobs:
            try:
                leaves = job.prepared if job.prepared is not None else self._prepare(job.events or ())
            except AssayError as exc:
                job.deliver(None, exc)
            else:
                ready.append((job, leaves))
        return ready

    def _commit_appends(self, jobs: list[_Job], *, wait: bool = True) -> None:
        """Commit ``jobs`` in one transaction and deliver each its indices or its error.

        Without ``wait`` (one job, committed inline) a write that would wait raises
        :class:`WouldWait` and nothing is delivered.
        """
        ready = self._prepared(jobs)
        entries = [entry for _, leaves in ready for entry in leaves]
        if not entries:
            return
        try:
            first = self._write(entries, _companions_with_offsets(ready), wait=wait)
        except WouldWait:
            raise
        except (IntegrityError, sqlite3.IntegrityError) as exc:
            self._builder = None
            if len(ready) == 1:
                ready[0][0].deliver(None, _as_ledger_error(exc, "could not record the audit event"))
                return
            for job, _ in ready:  # one refused companion row must not fail the others
                self._commit_appends([job], wait=wait)
            return
        except Exception as exc:  # noqa: BLE001 - every waiting caller must hear about it
            self._builder = None
            error = _as_ledger_error(exc, f"could not record {len(entries)} audit event(s)")
            deliver_results([(job.deliver, None, error) for job, _ in ready])
            return
        outcomes: list[tuple[Deliver, Any, BaseException | None]] = []
        position = first
        for job, leaves in ready:
            outcomes.append((job.deliver, list(range(position, position + len(leaves))), None))
            position += len(leaves)
        deliver_results(outcomes)

    def _run_checkpoint_job(self, job: _Job) -> None:
        try:
            result = self._checkpoint(force=True)
        except Exception as exc:  # noqa: BLE001
            self._builder = None
            job.deliver(None, _as_ledger_error(exc, "could not sign a checkpoint"))
        else:
            job.deliver(result, None)

    def _periodic_checkpoint(self) -> None:
        try:
            self._checkpoint(force=False)
        except Exception:  # noqa: BLE001 - retried at the next tick; appends stay durable
            self._builder = None

    # -- storage (holding self._writing: the sequencer, or an inline commit) ------------

    def _sync(self, conn: Connection) -> TileBuilder:
        """The right edge of the tree at the stored size (reloaded if another process appended)."""
        return self._edge_at(stored_size(conn), functools.partial(stored_tile, conn))

    def _edge_at(self, size: int, read_tile: Callable[[int, int], bytes | None]) -> TileBuilder:
        """The right edge at ``size``: the one in memory, or reloaded from the stored tiles."""
        builder = self._builder
        if builder is None or builder.size != size:
            builder = self._builder = builder_from_tiles(size, read_tile)
        return builder

    def _write(
        self, entries: list[Prepared], companions: Sequence[tuple[int, CompanionRow]] = (), *, wait: bool = True
    ) -> int:
        """Store ``entries`` and their companion rows (each with its event's offset in ``entries``)."""
        plans = None if self._sqlite is None else self._sqlite.plans([row for _, row in companions])
        if self._sqlite is not None and plans is not None:  # else a companion table with column defaults
            return self._write_sqlite(self._sqlite, entries, companions, plans, wait=wait)
        if not wait:
            raise WouldWait  # the SQLAlchemy path waits for the pool and the database's locks
        with self._db.write_turn(), self._db.engine.connect() as conn:
            lock(self._db, conn)
            builder = self._sync(conn)
            first = builder.size
            insert_entries(self._db, conn, first, entries)
            _insert_companions(conn, _indexed(companions, first))
            builder.extend([entry.leaf_hash for entry in entries])
            full, partial = builder.drain()
            upsert_tiles(self._db, conn, full + partial)
            conn.commit()
        self._known_size = max(self._known_size, builder.size)
        return first

    def _write_sqlite(
        self, writer: SqliteWriter, entries: list[Prepared], companions: Sequence[tuple[int, CompanionRow]],
        plans: list[Any], *, wait: bool,
    ) -> int:
        """``_write`` on SQLite in plain DB-API calls on the log's own writer connection."""
        with self._db.write_turn():
            raw = writer.begin(wait=wait)
            try:
                builder = self._edge_at(int(raw.execute(STORED_SIZE).fetchone()[0]), writer.read_tile)
                first = builder.size
                writer.write(builder, entries, _indexed(companions, first), plans)
                raw.commit()
            except BaseException as exc:
                self._builder = None  # it may hold hashes of entries that were not committed
                raw.rollback()
                if not isinstance(exc, sqlite3.IntegrityError):
                    writer.discard()
                raise
        self._known_size = max(self._known_size, builder.size)
        return first

    def _checkpoint(self, *, force: bool) -> SignedCheckpoint | None:
        with self._db.write_turn(), self._db.engine.connect() as conn:
            lock(self._db, conn)
            builder = self._sync(conn)
            previous = conn.execute(
                select(LedgerCheckpoint.size, LedgerCheckpoint.root_hash).order_by(LedgerCheckpoint.size.desc()).limit(1)
            ).first()
            last = None if previous is None else int(previous[0])
            if last is not None and last >= builder.size:
                conn.commit()
                return self._stored_checkpoint(builder.size) if force else None
            if last is None and builder.size == 0 and not force:
                conn.commit()
                return None
            if self._record_checkpoints:
                self._record(conn, builder, None if previous is None else (last, bytes(previous[1])))
            root = range_hash(0, builder.size, TileCache(builder.read_tile, capacity=64).node)
            note = self._signer.sign(Checkpoint(self.origin, builder.size, root).text)
            signed = SignedCheckpoint(builder.size, root, note, self._clock.now())
            conn.execute(
                CHECKPOINTS.insert(),
                {"size": signed.size, "root_hash": root, "note": note, "created_at": signed.created_at},
            )
            conn.commit()
        self._known_size = max(self._known_size, signed.size)
        return signed

    def _record(self, conn: Connection, builder: TileBuilder, previous: tuple[int | None, bytes] | None) -> None:
        """Append the ``ledger.checkpoint`` entry the checkpoint about to be signed will end with.

        It names that checkpoint's size and the previous checkpoint's size and root, so the log
        itself lists every checkpoint ever signed and a deleted checkpoint row is named by
        ``assay ledger verify`` (ADR 0014).
        """
        when = self._clock.now()
        leaf = canonical_leaf(checkpoint_record(builder.size + 1, previous), when)
        entry = Prepared(leaf, hashlib.sha256(b"\x00" + leaf).digest(), RECORD_TYPE, None, "system", when)
        insert_entries(self._db, conn, builder.size, [entry])
        builder.extend([entry.leaf_hash])
        full, partial = builder.drain()
        upsert_tiles(self._db, conn, full + partial)

    # -- reading ------------------------------------------------------------------

    def size(self) -> int:
        """Number of durable entries."""
        with self._db.session() as session:
            current = int(session.scalar(select(func.coalesce(func.max(LedgerEntry.idx) + 1, 0))) or 0)
        self._known_size = max(self._known_size, current)
        return current

    def _read_stored_tile(self, level: int, index: int) -> bytes:
        with self._db.session() as session:
            row = session.get(LedgerTile, (level, index))
        if row is None:
            raise LedgerError(
                f"ledger tile {level}/{index} is missing",
                hint="Run `assay ledger verify`; the database may have been altered.",
            )
        return row.hashes

    @contextmanager
    def _tiles(self) -> Iterator[NodeReader]:
        """The tile cache as a node reader, held for one whole proof."""
        with self._cache_lock:
            try:
                yield self._cache.node
            except TileError as exc:
                raise LedgerError(str(exc), hint="Run `assay ledger verify`.") from exc

    def root(self, size: int) -> bytes:
        """The Merkle root of the first ``size`` entries."""
        self._require_size(size)
        with self._tiles() as read:
            return range_hash(0, size, read)

    def _require_size(self, size: int) -> None:
        if 0 <= size <= self._known_size:
            return  # the log only grows: a size seen once stays valid
        current = self.size()
        if not 0 <= size <= current:
            raise NotFoundError(
                f"tree size {size} is outside the log (it has {current} entries)",
                hint="Ask for a size between 0 and the current size.",
            )

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 6962 inclusion proof of entry ``index`` in the tree of ``size``."""
        self._require_size(size)
        if not 0 <= index < size:
            raise NotFoundError(f"entry {index} is not in a tree of size {size}")
        with self._tiles() as read:
            return inclusion_proof(index, size, read)

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """RFC 6962 consistency proof between two tree sizes."""
        self._require_size(new_size)
        if not 0 < old_size <= new_size:
            raise UsageError(
                f"no consistency proof from size {old_size} to size {new_size}",
                hint="Use 0 < OLD_SIZE <= NEW_SIZE <= the log size.",
            )
        with self._tiles() as read:
            return consistency_proof(old_size, new_size, read)

    def checkpoint(self, *, new: bool = False) -> SignedCheckpoint:
        """The latest signed checkpoint; with ``new``, one covering every durable entry."""
        if new:
            signed: SignedCheckpoint = self._wait(None)
            return signed
        latest = self.latest_checkpoint()
        if latest is None:
            signed = self._wait(None)
            return signed
        return latest

    def prove(self, index: int) -> str:
        """A ``c2sp.org/tlog-proof@v1`` document for entry ``index`` against the latest checkpoint."""
        latest = self.latest_checkpoint()
        if latest is None or latest.size <= index:
            latest = self.checkpoint(new=True)
        if not 0 <= index < latest.size:
            raise NotFoundError(
                f"ledger entry {index} does not exist (the log has {latest.size} entries)",
                hint="Check the index with `assay ledger checkpoint`.",
            )
        return format_tlog_proof(index, self.inclusion_proof(index, latest.size), latest.note)

    def verify(self, progress: Callable[[int], None] | None = None) -> VerifyReport:
        """Recompute and check the whole stored log (see :func:`verify_database`)."""
        from assay.ledger.check import verify_database

        return verify_database(self._db, self.vkey, self.origin, progress)

    def latest_checkpoint(self) -> SignedCheckpoint | None:
        with self._db.session() as session:
            row = session.scalars(
                select(LedgerCheckpoint).order_by(LedgerCheckpoint.size.desc()).limit(1)
            ).first()
        return None if row is None else _signed(row)

    def checkpoints(self) -> list[SignedCheckpoint]:
        """Every checkpoint ever signed, oldest first."""
        with self._db.session() as session:
            rows = session.scalars(select(LedgerCheckpoint).order_by(LedgerCheckpoint.size)).all()
        return [_signed(row) for row in rows]

    def _stored_checkpoint(self, size: int) -> SignedCheckpoint:
        with self._db.session() as session:
            row = session.get(LedgerCheckpoint, size)
        if row is None:
            raise NotFoundError(f"no checkpoint at size {size}")
        return _signed(row)

    def entry(self, index: int) -> LedgerEntry:
        with self._db.session() as session:
            row = session.get(LedgerEntry, index)
        if row is None:
            raise NotFoundError(f"ledger entry {index} does not exist", hint="Check the index.")
        return row

    def tile(self, level: int, index: int, width: int = TILE_WIDTH) -> bytes:
        """Tile bytes as served by c2sp.org/tlog-tiles (a prefix for partial tiles)."""
        with self._db.session() as session:
            row = session.get(LedgerTile, (level, index))
        if row is None or row.width < width:
            raise NotFoundError(f"tile {level}/{index} of width {width} does not exist")
        return row.hashes[: width * 32]

    def entry_leaves(self, start: int, end: int) -> list[bytes]:
        with self._db.session() as session:
            rows = session.execute(
                select(LedgerEntry.leaf)
                .where(LedgerEntry.idx >= start, LedgerEntry.idx < end)
                .order_by(LedgerEntry.idx)
            ).scalars().all()
        return list(rows)


def _companions_with_offsets(ready: list[tuple[_Job, list[Prepared]]]) -> list[tuple[int, CompanionRow]]:
    """Every job's companion rows with the offset of the job's first event in the batch."""
    rows = []
    offset = 0
    for job, leaves in ready:
        rows += [(offset, row) for row in job.companions]
        offset += len(leaves)
    return rows


def _indexed(companions: Sequence[tuple[int, CompanionRow]], first: int) -> list[CompanionRow]:
    """The companion rows with :data:`LEDGER_INDEX` replaced by their event's index."""
    return [
        (table, {k: first + offset if v is LEDGER_INDEX else v for k, v in row.items()})
        if any(map(operator.is_, row.values(), repeat(LEDGER_INDEX))) else (table, row)
        for offset, (table, row) in companions
    ]


def _insert_companions(conn: Connection, companions: Sequence[CompanionRow]) -> None:
    by_table: dict[Table, list[Mapping[str, Any]]] = {}
    for table, row in companions:
        by_table.setdefault(table, []).append(row)
    for table, rows in by_table.items():
        conn.execute(table.insert(), rows)


def _require_event(event: object, position: int) -> None:
    if not isinstance(event, Event):
        raise UsageError(f"item {position} is a {type(event).__name__}, not an Event")


def _signed(row: LedgerCheckpoint) -> SignedCheckpoint:
    return SignedCheckpoint(row.size, row.root_hash, row.note, row.created_at)


def _as_ledger_error(exc: BaseException, what: str) -> AssayError:
    if isinstance(exc, AssayError):
        return exc
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    reason = detail[0] if detail else type(exc).__name__
    error = LedgerError(f"{what}: {reason}", hint="Check the database with `assay doctor`; nothing was recorded.")
    error.__cause__ = exc
    return error
