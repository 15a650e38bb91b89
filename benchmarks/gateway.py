"""Gateway benchmark: direct to a local upstream, through Assay with every control on, through LiteLLM.

Load comes from ``wrk`` (an out-of-process generator). Every server runs as one process with
one worker. Assay runs with auth, redaction both ways, an encrypted transcript per request
and a durable ledger record before each answer. LiteLLM is measured when ``make bench-peers``
has installed it into ``.venv-peers``; otherwise ``litellm_rps_c16`` is null.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
PEERS = ROOT / ".venv-peers"
PROMPT = "Please email jane.roe@example.com about order 1234 and call +1 415 555 0134 tomorrow."
BODY = '{"model":"bench-model","messages":[{"role":"user","content":"' + PROMPT + '"}]}'

_LUA = """
wrk.method = "POST"
wrk.body = [[%(body)s]]
wrk.headers["Content-Type"] = "application/json"
%(auth)s
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout + summary.errors.status
  io.write(string.format("RESULT %%d %%d %%d %%d %%d\\n", summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), errors))
end
"""


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(url: str, timeout: float = 60.0, headers: dict[str, str] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2, headers=headers).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def _process(cmd: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wrk(url: str, connections: int, seconds: int, key: str | None, workdir: Path) -> dict[str, float]:
    """Run wrk; return requests/s, p50 and p99 latency in ms, and the error count."""
    script = workdir / f"post-{connections}.lua"
    auth = f'wrk.headers["Authorization"] = "Bearer {key}"' if key else ""
    script.write_text(_LUA % {"body": BODY, "auth": auth})
    threads = min(2, connections)
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url],
        capture_output=True, text=True, check=True, timeout=seconds + 60,
    ).stdout
    match = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) (\d+)", out)
    if match is None:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    requests, duration_us, p50_us, p99_us, errors = (int(g) for g in match.groups())
    return {"rps": requests / (duration_us / 1e6), "p50_ms": p50_us / 1000, "p99_ms": p99_us / 1000, "errors": errors}


def _assay(*args: str, env: dict[str, str]) -> str:
    out = subprocess.run([sys.executable, "-m", "assay", *args], env={**os.environ, **env}, capture_output=True, text=True, check=True, cwd=ROOT)
    return out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""


def _cpu_s(pid: int | None) -> float:
    """User + system CPU seconds of a process (all its threads), from /proc; 0 where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError, TypeError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measured(url: str, connections: int, seconds: int, key: str | None, workdir: Path, pid: int | None) -> dict[str, float]:
    """One wrk run, plus the server's CPU time per request over it (robust to a noisy machine)."""
    before = _cpu_s(pid)
    result = wrk(url, connections, seconds, key, workdir)
    served = result["rps"] * seconds
    result["cpu_ms_per_request"] = (_cpu_s(pid) - before) / served * 1000 if served and pid else 0.0
    return result


def _measure_all(url: str, key: str | None, seconds: int, workdir: Path, pid: int | None = None) -> dict[str, dict[str, float]]:
    wrk(url, 1, 1, key, workdir)  # warm-up: connections, caches, the first ledger batch
    return {
        "c1": _measured(url, 1, seconds, key, workdir, pid),
        "c16": _measured(url, 16, seconds, key, workdir, pid),
    }


def _litellm(upstream: str, seconds: int, workdir: Path) -> dict[str, float] | None:
    """LiteLLM's proxy with default settings, one worker, in front of the same upstream."""
    binary = PEERS / "bin" / "litellm"
    if not binary.exists():
        return None
    config = workdir / "litellm.yaml"
    config.write_text(
        "model_list:\n  - model_name: bench-model\n    litellm_params:\n"
        f"      model: openai/bench-model\n      api_base: {upstream}/v1\n      api_key: none\n"
    )
    port = _free_port()
    master = "sk-bench-" + os.urandom(16).hex()  # LiteLLM refuses to start without one
    with _process([str(binary), "--config", str(config), "--port", str(port), "--num_workers", "1"],
                  env={"LITELLM_MASTER_KEY": master}, cwd=workdir):
        _wait(f"http://127.0.0.1:{port}/health/liveliness", timeout=180)
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        wrk(url, 16, 2, master, workdir)
        return {**wrk(url, 1, seconds, master, workdir), "c16": wrk(url, 16, seconds, master, workdir)["rps"]}


def run(*, quick: bool) -> dict[str, object]:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    seconds = 3 if quick else 10
    workdir = Path(tempfile.mkdtemp(prefix="assay-bench-gw-"))
    up_port, gw_port = _free_port(), _free_port()
    upstream = f"http://127.0.0.1:{up_port}"
    data = workdir / "data"
    env = {"ASSAY_LOG_LEVEL": "warning", "ASSAY_DATA_DIR": str(data)}
    try:
        with _process([sys.executable, "-m", "benchmarks._fast_upstream", str(up_port)]):
            _wait(upstream + "/v1/models")
            direct = _measure_all(upstream + "/v1/chat/completions", None, seconds, workdir)
            _assay("init", env=env)
            key = _assay("keys", "create", "--tenant", "bench", "--role", "app", env=env)
            serve = [sys.executable, "-m", "assay", "serve", "--port", str(gw_port), "--upstream", upstream]
            with _process(serve, env=env) as server:
                _wait(f"http://127.0.0.1:{gw_port}/readyz")
                gateway = _measure_all(f"http://127.0.0.1:{gw_port}/v1/chat/completions", key, seconds, workdir, server.pid)
            litellm = _litellm(upstream, seconds, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    litellm_rps = round(litellm["c16"], 1) if litellm else None
    return {
        "overhead_p50_ms": round(max(0.0, gateway["c1"]["p50_ms"] - direct["c1"]["p50_ms"]), 3),
        "overhead_p99_ms": round(max(0.0, gateway["c1"]["p99_ms"] - direct["c1"]["p99_ms"]), 3),
        "rps_c1": round(gateway["c1"]["rps"], 1),
        "rps_c16": round(gateway["c16"]["rps"], 1),
        "direct_rps_c16": round(direct["c16"]["rps"], 1),
        "litellm_rps_c16": litellm_rps,
        "direct_rps_c1": round(direct["c1"]["rps"], 1),
        "latency_c1_p50_ms": gateway["c1"]["p50_ms"],
        "latency_c1_p99_ms": gateway["c1"]["p99_ms"],
        "direct_latency_c1_p50_ms": direct["c1"]["p50_ms"],
        "gateway_vs_direct_c16": round(gateway["c16"]["rps"] / direct["c16"]["rps"], 3),
        "litellm_rps_c1": round(litellm["rps"], 1) if litellm else None,
        "litellm_latency_c1_p50_ms": litellm["p50_ms"] if litellm else None,
        "gateway_vs_litellm_c16": round(gateway["c16"]["rps"] / litellm["c16"], 2) if litellm else None,
        "errors": int(gateway["c1"]["errors"] + gateway["c16"]["errors"]),
        "cpu_ms_per_request_c1": round(gateway["c1"]["cpu_ms_per_request"], 3),
        "cpu_ms_per_request_c16": round(gateway["c16"]["cpu_ms_per_request"], 3),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "controls": "auth, inbound+outbound redaction, encrypted transcript, durable ledger record",
        "seconds_per_run": seconds,
    }
