"""A real `assay serve` process: health, readiness, OpenAPI, problem+json."""

from __future__ import annotations

from pathlib import Path

import httpx
from tests.helpers import run_cli, running_server


def test_server_is_ready_and_documents_itself(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert run_cli("init", "--data-dir", str(data)).exit_code == 0
    with running_server(data) as base:
        ready = httpx.get(f"{base}/readyz", timeout=30)
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"database": "ok", "migrations": "ok"}
        assert ready.headers["x-assay-request-id"]
        assert httpx.get(f"{base}/healthz", timeout=30).json() == {"status": "ok"}
        spec = httpx.get(f"{base}/openapi.json", timeout=30).json()
        assert "/readyz" in spec["paths"]
        missing = httpx.get(f"{base}/no-such-page", timeout=30)
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        problem = missing.json()
        assert problem["status"] == 404
        assert problem["request_id"] == missing.headers["x-assay-request-id"]
