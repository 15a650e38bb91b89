"""AssayError -> RFC 9457 problem+json, through the application factory."""

from __future__ import annotations

from fastapi.testclient import TestClient

from assay.api import create_app
from assay.errors import GatewayError
from assay.instance import Instance


def test_assay_error_becomes_problem_json(instance: Instance) -> None:
    app = create_app(instance)

    @app.get("/boom")
    def boom() -> None:
        raise GatewayError("upstream x failed", hint="check x")

    with TestClient(app) as client:
        response = client.get("/boom")
    assert response.status_code == 502
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["title"] == "Gateway error"
    assert body["detail"] == "upstream x failed"
    assert body["hint"] == "check x"
    assert body["type"].endswith("/gateway")
    assert body["request_id"] == response.headers["x-assay-request-id"]
