"""An Assay installation: its data directory, database and local secrets.

``init_instance`` creates one (idempotently); ``open_instance`` opens an existing
one and refuses a directory that was never initialised or is out of date.
"""

from __future__ import annotations

import os
import stat
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy import select

from assay.clock import Clock, SystemClock
from assay.config import Settings
from assay.errors import ConfigError, StoreError
from assay.secrets import LOCAL_SECRETS, ensure_secret
from assay.store import Database, Meta, current_heads, expected_heads, open_database, upgrade

_T = TypeVar("_T")

__all__ = ["InitReport", "Instance", "ensure_data_dir", "init_instance", "open_instance"]


@dataclass
class InitReport:
    data_dir: Path
    database: str
    created_dir: bool
    created_secrets: list[str] = field(default_factory=list)
    instance_id: str = ""


@dataclass
class Instance:
    """What every component needs to find its state."""

    settings: Settings
    db: Database
    clock: Clock
    instance_id: str
    _shared: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _shared_lock: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False)

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir

    def shared(self, name: str, factory: Callable[[], _T]) -> _T:
        """The one object called ``name`` in this process, made by ``factory`` on first use.

        Components that hold caches or a background thread (the ledger's sequencer, the key
        cache) are shared this way, so the gateway, the web pages, the API and the retention
        job of one server use one of each. They are closed, newest first, by :meth:`close`.
        """
        with self._shared_lock:
            if name not in self._shared:
                self._shared[name] = factory()
            return cast(_T, self._shared[name])

    def close(self) -> None:
        with self._shared_lock:
            services = list(self._shared.values())
            self._shared.clear()
        for service in reversed(services):
            closer = getattr(service, "close", None)
            if callable(closer):
                closer()
        self.db.dispose()


def ensure_data_dir(path: Path) -> bool:
    """Create ``path`` with mode 0700, or tighten an existing one. Returns True if created."""
    if path.exists() and not path.is_dir():
        raise ConfigError(
            f"data directory {path} exists but is not a directory",
            hint="Choose another --data-dir or move the file away.",
        )
    created = not path.exists()
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        if stat.S_IMODE(path.stat().st_mode) != 0o700:
            path.chmod(0o700)
    except OSError as exc:
        raise ConfigError(
            f"cannot create data directory {path}: {exc.strerror}",
            hint="Choose a directory you can write to with --data-dir or ASSAY_DATA_DIR.",
        ) from exc
    _require_writable(path)
    return created


def _require_writable(path: Path) -> None:
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(
            f"data directory {path} is not writable by this user",
            hint="Fix its owner and permissions (chmod 700) or choose another --data-dir.",
        )


def _existing_secrets(data_dir: Path) -> set[str]:
    return {name for name in LOCAL_SECRETS if (data_dir / name).exists()}


def init_instance(settings: Settings, clock: Clock | None = None) -> InitReport:
    """Create or update the installation. Running it twice changes nothing."""
    clock = clock or SystemClock()
    data_dir = settings.data_dir
    created = ensure_data_dir(data_dir)
    before = _existing_secrets(data_dir)
    for name in LOCAL_SECRETS:
        ensure_secret(data_dir, name)
    db = open_database(settings.sqlalchemy_url)
    try:
        db.ping()
        upgrade(db)
        instance_id = _ensure_instance_id(db, clock)
    finally:
        db.dispose()
    return InitReport(
        data_dir=data_dir,
        database=db.url,
        created_dir=created,
        created_secrets=sorted(set(LOCAL_SECRETS) - before),
        instance_id=instance_id,
    )


def _ensure_instance_id(db: Database, clock: Clock) -> str:
    with db.session() as session:
        row = session.get(Meta, "instance_id")
        if row is not None:
            return row.value
        value = uuid.uuid4().hex
        session.add(Meta(key="instance_id", value=value, updated_at=clock.now()))
        return value


def open_instance(settings: Settings, clock: Clock | None = None) -> Instance:
    """Open an initialised installation, or raise with the command that fixes it."""
    data_dir = settings.data_dir
    init_hint = f"Run `assay init --data-dir {data_dir}` first."
    if not data_dir.is_dir():
        raise ConfigError(f"data directory {data_dir} does not exist", hint=init_hint)
    _require_writable(data_dir)
    db = open_database(settings.sqlalchemy_url)
    try:
        db.ping()
        if current_heads(db) != expected_heads(db):
            raise StoreError(
                "the database schema is not at the current version",
                hint=init_hint.replace("first", "to migrate it"),
            )
        with db.session() as session:
            row = session.scalar(select(Meta).where(Meta.key == "instance_id"))
    except Exception:
        db.dispose()
        raise
    if row is None:
        db.dispose()
        raise StoreError("the database was never initialised", hint=init_hint)
    return Instance(settings=settings, db=db, clock=clock or SystemClock(), instance_id=row.value)
