"""Crash and scale-out: SIGKILL under load loses no acknowledged record; two servers share
one PostgreSQL ledger and one Redis budget."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from tests.gateway_helpers import (
    DataDir,
    assert_ledger_intact,
    init_data_dir,
    requests_in,
    sqlite_url,
)
from tests.helpers import running_server
from tests.servers import RedisServer, free_port, wait_for_port

pytest.importorskip("assay.pii")
pytest.importorskip("assay.crypto")

BODY = {"model": "assay-demo", "messages": [{"role": "user", "content": "write to jane.roe@example.com"}]}


@contextmanager
def _server(data: DataDir) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "assay", "serve", "--data-dir", str(data.path), "--port", str(port)],
        env={**os.environ, **data.env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout=60)
        yield f"http://127.0.0.1:{port}", proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


@pytest.mark.slow
def test_sigkill_under_load_keeps_every_acknowledged_record(tmp_path: Path) -> None:
    data = init_data_dir(tmp_path)
    key = data.create_key("acme")
    acknowledged: list[tuple[int, str]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(base: str) -> None:
        with httpx.Client(base_url=base, headers={"authorization": f"Bearer {key}"}, timeout=30) as http:
            while not stop.is_set():
                try:
                    response = http.post("/v1/chat/completions", json=BODY)
                except httpx.HTTPError:
                    return  # the server died mid-request: that request was never acknowledged
                if response.status_code == 200:
                    with lock:
                        acknowledged.append((int(response.headers["x-assay-ledger-index"]), response.headers["x-assay-request-id"]))

    with _server(data) as (base, proc):
        threads = [threading.Thread(target=client, args=(base,)) for _ in range(8)]
        for thread in threads:
            thread.start()
        while True:  # kill once a fair number of answers went out, while requests are in flight
            with lock:
                if len(acknowledged) >= 60:
                    break
            threads[0].join(timeout=0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        stop.set()
        for thread in threads:
            thread.join()

    events = assert_ledger_intact(sqlite_url(data))
    by_index = dict(enumerate(events))
    for index, request_id in acknowledged:
        assert index in by_index, f"acknowledged request {request_id} has no ledger entry {index}"
        assert by_index[index]["object_ids"]["request"] == request_id  # type: ignore[index]


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.redis
def test_two_servers_share_one_ledger_and_one_budget(tmp_path: Path, postgres_url: str, redis_server: RedisServer) -> None:
    data = init_data_dir(tmp_path, postgres_url, ASSAY_REDIS_URL=redis_server.url)
    key = data.create_key("acme", "app", "--rpm", "12")
    statuses: list[int] = []
    with ExitStack() as stack:
        bases = [stack.enter_context(running_server(data.path, env=data.env)) for _ in range(2)]
        for i in range(18):
            response = httpx.post(
                bases[i % 2] + "/v1/chat/completions", json=BODY,
                headers={"authorization": f"Bearer {key}"}, timeout=30,
            )
            statuses.append(response.status_code)
            if response.status_code == 429:
                assert int(response.headers["retry-after"]) >= 1
    if statuses.count(200) != 12:  # a minute boundary passed mid-test: the budget restarted
        assert statuses.count(200) > 12
    else:
        assert statuses.count(429) == 6
    served = requests_in(assert_ledger_intact(postgres_url))
    assert len(served) == statuses.count(200)
    assert len({e["object_ids"]["request"] for e in served}) == len(served)  # type: ignore[index]
    verify = data.cli("ledger", "verify")
    assert "ok" in verify.lower() or "verified" in verify.lower()
