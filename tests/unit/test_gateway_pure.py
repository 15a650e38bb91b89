"""Pure gateway pieces: routes, circuit breaker, document walking, error shapes."""

from __future__ import annotations

import orjson
import pytest

from assay.errors import NotFoundError, PIIError, UsageError
from assay.gateway._walk import walk_strings
from assay.gateway.breaker import Breaker
from assay.gateway.keys import KeyRejectedError
from assay.gateway.limits import RateLimitedError
from assay.gateway.openai_errors import openai_error
from assay.gateway.routing import (
    ModelNotFoundError,
    ResolvedRoute,
    RouteResolver,
    StaticRouteResolver,
    Target,
)
from assay.gateway.upstream import check_upstream_url, is_loopback_url


def test_static_resolver_orders_fallbacks_by_configuration() -> None:
    resolver = StaticRouteResolver.from_models(
        [("primary", "gpt", "gpt-4o"), ("backup", "gpt", "gpt-4o-mini"), ("primary", "emb", "text-emb")]
    )
    route = resolver.resolve("gpt")
    assert (route.upstream, route.provider_model) == ("primary", "gpt-4o")
    assert route.targets == (Target("primary", "gpt-4o"), Target("backup", "gpt-4o-mini"))
    assert resolver.aliases() == ["emb", "gpt"]
    assert isinstance(resolver, RouteResolver)


def test_unknown_alias_is_a_not_found_error() -> None:
    with pytest.raises(NotFoundError) as caught:
        StaticRouteResolver({}).resolve("nope")
    assert isinstance(caught.value, ModelNotFoundError)
    assert caught.value.status == 404


def test_resolved_route_defaults_are_immutable() -> None:
    route = ResolvedRoute(alias="a", upstream="u", provider_model="m")
    assert dict(route.params) == {}
    with pytest.raises(TypeError):
        route.params["x"] = 1  # type: ignore[index]


@pytest.mark.parametrize(
    ("events", "state"),
    [
        ([], "closed"),
        (["fail"] * 2, "closed"),
        (["fail"] * 3, "open"),
        (["fail", "fail", "ok", "fail", "fail"], "closed"),
        (["fail"] * 3 + ["wait"], "half_open"),
        (["fail"] * 3 + ["wait", "probe", "ok"], "closed"),
        (["fail"] * 3 + ["wait", "probe", "fail"], "open"),
    ],
)
def test_breaker_states(events: list[str], state: str) -> None:
    breaker = Breaker(threshold=3, cooldown_s=10)
    now = 0.0
    for event in events:
        if event == "fail":
            breaker.failure(now)
        elif event == "ok":
            breaker.success()
        elif event == "wait":
            now += 10
        elif event == "probe":
            assert breaker.allow(now)
    assert breaker.state(now) == state


def test_half_open_breaker_lets_exactly_one_probe_through() -> None:
    breaker = Breaker(threshold=1, cooldown_s=5)
    breaker.failure(0)
    assert not breaker.allow(1)
    assert breaker.allow(5)
    assert not breaker.allow(5)


def test_walk_redacts_free_text_and_keeps_structure() -> None:
    doc = {
        "model": "gpt-x",
        "messages": [
            {"role": "user", "content": "hi bob"},
            {"role": "user", "content": [{"type": "text", "text": "bob again"}]},
            {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"who\": \"bob\"}"}}]},
        ],
        "tools": [{"type": "function", "function": {"name": "bob"}}],
        "user": "bob@example.com",
        "temperature": 0.5,
    }
    out = walk_strings(doc, lambda s: s.replace("bob", "X"))
    assert isinstance(out, dict)
    assert out["model"] == "gpt-x"
    assert out["messages"][0] == {"role": "user", "content": "hi X"}
    assert out["messages"][1]["content"][0] == {"type": "text", "text": "X again"}
    assert out["messages"][2]["tool_calls"][0]["function"]["arguments"] == "{\"who\": \"X\"}"
    assert out["messages"][2]["tool_calls"][0]["id"] == "c1"
    assert out["tools"] == doc["tools"]
    assert out["user"] == "X@example.com"
    assert out["temperature"] == 0.5


@pytest.mark.parametrize(
    ("error", "status", "kind", "code"),
    [
        (UsageError("bad json"), 400, "invalid_request_error", "usage"),
        (KeyRejectedError("no key", code="missing_api_key"), 401, "authentication_error", "missing_api_key"),
        (ModelNotFoundError("no model"), 404, "invalid_request_error", "model_not_found"),
        (RateLimitedError("slow down", retry_after=7), 429, "rate_limit_error", "rate_limit_exceeded"),
        (PIIError("detector down"), 503, "server_error", "service_unavailable"),
    ],
)
def test_errors_have_openai_shape(error: Exception, status: int, kind: str, code: str) -> None:
    from assay.errors import AssayError

    assert isinstance(error, AssayError)
    response = openai_error(error, "rid")
    body = orjson.loads(bytes(response.body))
    assert response.status_code == status
    assert body["error"]["type"] == kind
    assert body["error"]["code"] == code
    assert error.message in body["error"]["message"]
    assert response.headers["x-assay-request-id"] == "rid"
    if status == 429:
        assert response.headers["retry-after"] == "7"


@pytest.mark.parametrize(
    ("url", "allow", "ok"),
    [
        ("https://api.example.com/v1", False, True),
        ("http://127.0.0.1:9000/v1", False, True),
        ("http://localhost:9000/v1", False, True),
        ("http://[::1]:9000/v1", False, True),
        ("http://api.example.com/v1", False, False),
        ("http://api.example.com/v1", True, True),
        ("ftp://api.example.com/v1", True, False),
    ],
)
def test_upstream_urls_must_be_https_off_loopback(url: str, allow: bool, ok: bool) -> None:
    from assay.errors import ConfigError

    if ok:
        check_upstream_url("u", url, allow)
    else:
        with pytest.raises(ConfigError):
            check_upstream_url("u", url, allow)
    assert is_loopback_url("http://127.0.0.2/") is True
