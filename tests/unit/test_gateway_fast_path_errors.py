"""An unexpected failure on the model endpoints' fast path: an OpenAI-shaped 500, then raised on."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from assay.gateway.wiring import GatewayFastPath, serving_app


def _broken_application() -> Starlette:
    application = Starlette()
    application.state.gateway = None  # a process whose gateway never started: not an AssayError
    return application


@pytest.mark.parametrize("entry", ["serving", "inside"])
def test_unexpected_error_becomes_an_openai_500_with_the_request_id(entry: str) -> None:
    application = _broken_application()
    app = serving_app(application) if entry == "serving" else application
    if entry == "inside":
        application.add_middleware(GatewayFastPath)  # the fast path inside the application
    client = TestClient(app, raise_server_exceptions=False)
    response = client.post("/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 500
    assert response.json()["error"]["type"] == "server_error"
    assert len(response.headers["x-assay-request-id"]) == 32


def test_the_error_is_raised_on_to_the_server() -> None:
    client = TestClient(serving_app(_broken_application()))
    with pytest.raises(AttributeError):
        client.post("/v1/embeddings", json={"model": "m", "input": "hi"})


def test_other_requests_reach_the_application() -> None:
    client = TestClient(serving_app(_broken_application()))
    assert client.get("/v1/chat/completions").status_code == 404  # not a POST: the app's router
