"""Helpers for gateway tests: a recording upstream process and an initialised data directory."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from tests.helpers import run_cli
from tests.servers import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class RecordingUpstream:
    url: str
    record: Path
    process: subprocess.Popen[bytes]

    def received(self) -> list[dict[str, str]]:
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines() if line]

    def received_text(self) -> str:
        return "\n".join(r["body"] for r in self.received())

    def set(self, **state: object) -> None:
        httpx.post(self.url + "/_control", json=state, timeout=10).raise_for_status()


@contextmanager
def recording_upstream(workdir: Path, *, models: str = "gpt-test", mode: str = "ok") -> Iterator[RecordingUpstream]:
    port = free_port()
    record = workdir / f"upstream-{port}.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.gateway_upstream", "--port", str(port), "--record", str(record),
         "--models", models, "--mode", mode],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout=30)
        yield RecordingUpstream(f"http://127.0.0.1:{port}", record, proc)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@dataclass
class DataDir:
    path: Path
    env: dict[str, str] = field(default_factory=dict)

    def cli(self, *args: str) -> str:
        result = run_cli(*args, "--data-dir", str(self.path), env=self.env)
        assert result.exit_code == 0, result.stdout + result.stderr
        return result.stdout

    def create_key(self, tenant: str, role: str = "app", *extra: str) -> str:
        out = self.cli("keys", "create", "--tenant", tenant, "--role", role, *extra)
        return out.strip().splitlines()[-1]


def init_data_dir(tmp_path: Path, database_url: str | None = None, **env: str) -> DataDir:
    full_env = dict(env)
    if database_url:
        full_env["ASSAY_DATABASE_URL"] = database_url
    data = DataDir(tmp_path / "data", full_env)
    result = run_cli("init", "--data-dir", str(data.path), env=full_env)
    assert result.exit_code == 0, result.stderr
    return data


def server_env(data: DataDir, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {**os.environ, **data.env, **(extra or {})}


def ledger_rows(database_url: str) -> list[tuple[int, str, bytes, bytes]]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT idx, event_type, leaf, leaf_hash FROM ledger_entries ORDER BY idx"))
            return [(int(r[0]), str(r[1]), bytes(r[2]), bytes(r[3])) for r in rows]
    finally:
        engine.dispose()


def assert_ledger_intact(database_url: str) -> list[dict[str, object]]:
    """Indexes 0..n-1 with no gap or duplicate, every leaf hash right; returns the events."""
    rows = ledger_rows(database_url)
    assert [r[0] for r in rows] == list(range(len(rows)))
    for _, _, leaf, leaf_hash in rows:
        assert hashlib.sha256(b"\x00" + leaf).digest() == leaf_hash
    return [json.loads(r[2]) for r in rows]


def requests_in(events: list[dict[str, object]]) -> list[dict[str, object]]:
    return [e for e in events if e.get("type") == "gateway.request"]


def sqlite_url(data: DataDir) -> str:
    return data.env.get("ASSAY_DATABASE_URL") or f"sqlite:///{data.path / 'assay.db'}"


def plaintext_anywhere(data: DataDir, needles: list[str]) -> list[str]:
    """Which of ``needles`` occur in any file of the data directory or any database row."""
    found: set[str] = set()
    for file in data.path.rglob("*"):
        if file.is_file():
            blob = file.read_bytes()
            found.update(n for n in needles if n.encode() in blob)
    engine = create_engine(sqlite_url(data))
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                tables = [r[0] for r in conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname='public'"))]
            else:
                tables = [r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))]
            for table in tables:
                for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                    blob = repr(tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)).encode()
                    found.update(n for n in needles if n.encode() in blob)
    finally:
        engine.dispose()
    return sorted(found)
