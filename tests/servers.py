"""Throwaway PostgreSQL and Redis servers started from the OS binaries on loopback.

Locally a missing binary skips the tests that need it, with the reason shown;
under ``CI=true`` it fails them instead, so CI never passes by skipping.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def missing(what: str) -> None:
    """Skip locally, fail under CI."""
    message = f"{what} not found; install it (see .ci/run) to run these tests"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


def _as_service_user(cmd: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root; drop to the `postgres` user.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@dataclass
class PostgresServer:
    port: int
    datadir: Path
    pg_ctl: str

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        subprocess.run(
            _as_service_user([self.pg_ctl, "-D", str(self.datadir), "-m", "immediate", "stop"]),
            check=False,
            capture_output=True,
        )


def start_postgres() -> Iterator[PostgresServer]:
    initdb, pg_ctl = find_binary("initdb"), find_binary("pg_ctl")
    if not initdb or not pg_ctl:
        missing("PostgreSQL server binaries (initdb, pg_ctl)")
        return
    root = Path(tempfile.mkdtemp(prefix="assay-pg-"))
    datadir, sockets = root / "data", root / "sock"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    subprocess.run(
        _as_service_user([initdb, "-D", str(datadir), "-U", "postgres", "--auth=trust", "-E", "UTF8"]),
        check=True,
        capture_output=True,
    )
    port = free_port()
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets} -c fsync=on -c max_connections=200"
    subprocess.run(
        _as_service_user([pg_ctl, "-D", str(datadir), "-o", options, "-l", str(root / "log"), "-w", "start"]),
        check=True,
        capture_output=True,
    )
    server = PostgresServer(port=port, datadir=datadir, pg_ctl=pg_ctl)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class RedisServer:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


def start_redis() -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    if not binary:
        missing("redis-server")
        return
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="assay-redis-")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", workdir],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port)
    try:
        yield RedisServer(port=port, process=process)
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


def wait_for_port(port: int, timeout: float = 20.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")
