"""Real processes: SIGKILL crash safety, and two processes appending to one PostgreSQL log."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from assay.config import Settings
from assay.instance import init_instance, open_instance
from assay.ledger import AuditLog
from assay.ledger.check import verify_database

WORKER = """
import sys, threading, time
from pathlib import Path
from assay.config import Settings
from assay.instance import open_instance
from assay.ledger import AuditLog, Event

data_dir, url, threads, count, tag = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
instance = open_instance(Settings(data_dir=Path(data_dir), database_url=url))
log = AuditLog.open(instance)
lock = threading.Lock()
line = Path(sys.argv[6]) if len(sys.argv) > 6 else None
if line is not None:  # start line: say ready, wait for the go file, so both processes append at once
    (line / f"ready-{tag}").touch()
    while not (line / "go").exists():
        time.sleep(0.005)
def wait_for_the_other():
    # After its first append, each thread waits until the other process has appended too, so
    # the two processes' appends interleave however fast either of them runs.
    (line / f"first-{tag}").touch()
    other = line / ("first-b" if tag == "a" else "first-a")
    while not other.exists():
        time.sleep(0.002)
def work(worker):
    n = 0
    while count == 0 or n < count:
        index = log.append(Event(type="test.append", actor="system", attributes={"p": tag, "w": worker, "n": n}))
        with lock:
            sys.stdout.write(f"{worker} {n} {index}\\n")
            sys.stdout.flush()
        if n == 0 and line is not None:
            wait_for_the_other()
        n += 1
pool = [threading.Thread(target=work, args=(w,)) for w in range(threads)]
for t in pool: t.start()
for t in pool: t.join()
log.close()
"""


def _spawn(
    settings: Settings, threads: int, count: int, tag: str, start_line: Path | None = None
) -> subprocess.Popen[str]:
    args = [str(settings.data_dir), settings.sqlalchemy_url, str(threads), str(count), tag]
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, *args, *([str(start_line)] if start_line else [])],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _drain(proc: subprocess.Popen[str], lines: list[str]) -> None:
    assert proc.stdout is not None
    lines.extend(iter(proc.stdout.readline, ""))


def _acknowledged(lines: list[str]) -> list[tuple[int, int, int]]:
    return [tuple(int(x) for x in line.split()) for line in lines if line.endswith("\n")]  # type: ignore[misc]


def _verify(settings: Settings) -> int:
    instance = open_instance(settings)
    log = AuditLog.open(instance)
    try:
        report = verify_database(instance.db, log.vkey, log.origin)
        return report.entries
    finally:
        log.close()
        instance.close()


@pytest.mark.slow
def test_sigkill_never_loses_an_acknowledged_index(settings: Settings) -> None:
    init_instance(settings)
    rng = random.Random(20260101)
    acknowledged: set[int] = set()
    for _ in range(3):
        proc = _spawn(settings, threads=4, count=0, tag="crash")
        assert proc.stdout is not None
        first = proc.stdout.readline()
        lines = [first]
        reader = threading.Thread(target=_drain, args=(proc, lines))
        reader.start()
        time.sleep(rng.uniform(0.05, 0.8))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        reader.join()
        error = proc.stderr.read() if proc.stderr else ""
        proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()
        assert proc.returncode == -signal.SIGKILL, error
        acknowledged |= {index for _, _, index in _acknowledged(lines)}
        size = _verify(settings)
        assert acknowledged and max(acknowledged) < size
    instance = open_instance(settings)
    try:
        log = AuditLog.open(instance)
        present = set(range(log.size()))
        log.close()
    finally:
        instance.close()
    assert acknowledged <= present


def _two_processes_append(settings: Settings, threads: int, count: int) -> None:
    """Two OS processes append concurrently to one log; then check what each caller was told."""
    init_instance(settings)
    start_line = settings.data_dir / "start-line"
    start_line.mkdir()
    procs = {tag: _spawn(settings, threads, count, tag, start_line) for tag in ("a", "b")}
    while not all((start_line / f"ready-{tag}").exists() for tag in procs):
        assert all(proc.poll() is None for proc in procs.values()), "a worker exited before starting"
        time.sleep(0.01)
    (start_line / "go").touch()
    results = {}
    for tag, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        results[tag] = _acknowledged(out.splitlines(keepends=True))
    every = [index for rows in results.values() for _, _, index in rows]
    assert len(every) == 2 * threads * count
    assert len(set(every)) == len(every)  # no index handed out twice
    a, b = ({index for _, _, index in rows} for rows in results.values())
    assert min(max(a), max(b)) > max(min(a), min(b)), "the two processes did not append at the same time"
    for rows in results.values():
        for worker in range(threads):
            mine = [index for w, _, index in sorted(rows, key=lambda r: (r[0], r[1])) if w == worker]
            assert mine == sorted(mine)  # each caller's appends land in the order made
    instance = open_instance(settings)
    log = AuditLog.open(instance)
    try:
        size = log.size()
        kinds = {i: log.entry(i) for i in range(size)}
        report = verify_database(instance.db, log.vkey, log.origin)
    finally:
        log.close()
        instance.close()
    records = {i for i, row in kinds.items() if row.event_type == "ledger.checkpoint"}
    assert sorted([*every, *records]) == list(range(size))  # no gap: every entry is an append or a checkpoint record
    for tag, rows in results.items():
        for worker, n, index in rows:  # every returned index holds exactly that caller's event
            assert json.loads(kinds[index].leaf)["attributes"] == {"p": tag, "w": worker, "n": n}
    assert report.entries == size


@pytest.mark.postgres
def test_two_processes_append_to_one_postgres_log(postgres_url: str, tmp_path: Path) -> None:
    _two_processes_append(Settings(data_dir=tmp_path / "data", database_url=postgres_url), threads=3, count=60)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_two_processes_append_to_one_sqlite_log(settings: Settings) -> None:
    _two_processes_append(settings, threads=3, count=60)
