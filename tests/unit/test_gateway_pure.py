"""Pure gateway pieces: routes, circuit breaker, document walking, error shapes."""

from __future__ import annotations

import asyncio
from typing import Any

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


@pytest.mark.parametrize(
    ("settings", "warned"),
    [
        ({"upstream": "https://api.example.com/v1"}, set()),
        ({"upstream": "http://127.0.0.1:9000/v1"}, set()),
        ({"upstream": "http://api.example.com/v1"}, {"link upstream"}),
        ({"upstream": "https://a.example/v1", "redis_url": "redis://cache.example:6379/0"}, {"link redis"}),
        ({"upstream": "https://a.example/v1", "redis_url": "rediss://cache.example:6379/0"}, set()),
        ({"upstream": "https://a.example/v1", "host": "0.0.0.0"}, {"serve TLS"}),
        ({}, {"upstreams"}),
    ],
)
def test_doctor_reports_plain_http_links(settings: dict[str, str], warned: set[str]) -> None:
    from assay.config import Settings
    from assay.gateway.checks import transport_security

    findings = transport_security(Settings(**settings))  # type: ignore[arg-type]
    assert {f.check for f in findings if f.status == "warn"} == warned


def test_pool_accepts_any_route_shaped_object() -> None:
    """A registry resolver may return its own dataclass (no fallbacks field)."""
    import asyncio
    from dataclasses import dataclass

    from assay.gateway.demo import DemoTransport
    from assay.gateway.upstream import UpstreamPool

    @dataclass(frozen=True)
    class OtherRoute:
        alias: str
        upstream: str
        provider_model: str

    pool = UpstreamPool([DemoTransport()])
    reply = asyncio.run(pool.post(OtherRoute("x", "assay-demo", "assay-demo"), "chat/completions", {"messages": [{"role": "user", "content": "hi"}]}))  # type: ignore[arg-type]
    assert reply.status == 200
    assert orjson.loads(reply.body)["choices"][0]["message"]["content"].endswith("hi")


@pytest.mark.parametrize(
    ("channel", "expected"),
    [
        ("choice:0", (0, {"content": "tail"})),
        ("choice:2", (2, {"content": "tail"})),
        ("choice:1:tool:3", (1, {"tool_calls": [{"index": 3, "function": {"arguments": "tail"}}]})),
    ],
)
def test_held_back_text_goes_back_to_its_channel(channel: str, expected: tuple[int, dict[str, object]]) -> None:
    from assay.gateway.streaming import _chat_tail, _tail_delta

    assert _tail_delta(channel, "tail") == expected
    chunk = _chat_tail(channel, "tail", {"id": "c", "model": "m", "choices": [], "usage": {"total_tokens": 1}})
    assert chunk["id"] == "c" and "usage" not in chunk
    assert chunk["choices"][0]["delta"] == expected[1]


# -- the breaker inside the pool: a half-open probe is claimed only when sent, and always resolved


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _Fake:
    """A transport that answers, fails (connection refused), hangs until cancelled, or breaks."""

    breaker_threshold = 1
    breaker_cooldown_s = 10.0

    def __init__(self, name: str) -> None:
        self.name = name
        self.mode = "ok"
        self.calls = 0
        self.entered: asyncio.Event | None = None

    async def _answer(self) -> tuple[int, bytes]:
        from assay.gateway.upstream import UpstreamConnectError

        self.calls += 1
        if self.mode == "fail":
            raise UpstreamConnectError("refused")
        if self.mode == "bug":
            raise RuntimeError("unexpected")
        if self.mode == "hang":
            assert self.entered is not None
            self.entered.set()
            await asyncio.Event().wait()
        return 200, b"{}"

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        return await self._answer()

    async def stream(self, path: str, body: bytes) -> tuple[int, bytes, None]:
        status, content = await self._answer()
        return status, content, None

    async def aclose(self) -> None:
        return None


def _pool(*names: str) -> tuple[Any, dict[str, _Fake], _Clock]:
    from assay.gateway.upstream import UpstreamPool

    fakes = {n: _Fake(n) for n in names}
    clock = _Clock()
    return UpstreamPool(list(fakes.values()), monotonic=clock), fakes, clock


def _route(*names: str) -> ResolvedRoute:
    return ResolvedRoute("gpt", names[0], "m", fallbacks=tuple(Target(n, "m") for n in names[1:]))


async def _send(pool: Any, route: ResolvedRoute, method: str) -> str:
    """Who answered, or which 502: 'none answered' (tried, all failed), 'none available' (none tried)."""
    from assay.gateway.upstream import UpstreamUnavailableError

    try:
        reply = await getattr(pool, method)(route, "chat/completions", {"messages": []})
    except UpstreamUnavailableError as exc:
        return "none available" if "no upstream is available" in exc.message else "none answered"
    return str(reply.target.upstream)


# Each step: seconds to wait first, primary's mode, fallback's mode, who answers. Threshold 1, cooldown 10 s.
_FAILOVER_TABLE = {
    "fallback probe not leaked when the primary answers": [
        (0, "fail", "fail", "none answered"),
        (10, "ok", "ok", "primary"),  # both half-open: only the primary's probe is sent
        (0, "fail", "ok", "fallback"),  # the fallback's probe was never claimed, so it goes now
    ],
    "failed primary probe, fallback probe answers": [
        (0, "fail", "fail", "none answered"),
        (10, "fail", "ok", "fallback"),
        (0, "ok", "ok", "fallback"),  # primary reopened at its failed probe
        (10, "ok", "ok", "primary"),
    ],
    "both open: nothing tried": [
        (0, "fail", "fail", "none answered"),
        (5, "ok", "ok", "none available"),
        (5, "ok", "ok", "primary"),
    ],
    "failed probe of the fallback reopens it": [
        (0, "fail", "fail", "none answered"),
        (10, "fail", "fail", "none answered"),
        (0, "ok", "ok", "none available"),
    ],
}


@pytest.mark.parametrize("method", ["post", "stream"])
@pytest.mark.parametrize("steps", list(_FAILOVER_TABLE.values()), ids=list(_FAILOVER_TABLE))
def test_pool_claims_a_probe_only_for_the_target_it_sends_to(method: str, steps: list[tuple[int, str, str, str]]) -> None:
    pool, fakes, clock = _pool("primary", "fallback")
    route = _route("primary", "fallback")

    async def run() -> list[str]:
        answers = []
        for wait, primary, fallback, _ in steps:
            clock.now += wait
            fakes["primary"].mode, fakes["fallback"].mode = primary, fallback
            answers.append(await _send(pool, route, method))
        return answers

    assert asyncio.run(run()) == [step[3] for step in steps]


@pytest.mark.parametrize("method", ["post", "stream"])
@pytest.mark.parametrize("how", ["cancelled", "unexpected error"])
def test_an_abandoned_probe_is_released(method: str, how: str) -> None:
    pool, fakes, clock = _pool("primary")
    route = _route("primary")
    fake = fakes["primary"]

    async def run() -> list[str]:
        fake.mode = "fail"
        answers = [await _send(pool, route, method)]
        clock.now += 10  # half-open
        if how == "cancelled":
            fake.mode, fake.entered = "hang", asyncio.Event()
            task = asyncio.create_task(_send(pool, route, method))
            await fake.entered.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        else:
            fake.mode = "bug"
            with pytest.raises(RuntimeError):
                await _send(pool, route, method)
        assert pool.breakers["primary"].state(clock()) == "half_open"
        fake.mode = "ok"
        answers.append(await _send(pool, route, method))  # the probe went back: this one may go
        return answers

    assert asyncio.run(run()) == ["none answered", "primary"]
    assert fake.calls == 3


@pytest.mark.parametrize(
    ("events", "claims"),
    [
        # claim at t=10 (cooldown passed), then: is a probe allowed at each later time?
        (["claim@10"], {"claim@11": False, "claim@129": False, "claim@130": True}),
        (["claim@10", "release"], {"claim@10": True}),
        (["claim@10", "claim@130", "release-first"], {"claim@131": False}),  # a stale ticket frees nothing
        (["claim@10", "fail@12"], {"claim@21": False, "claim@22": True}),
        (["claim@10", "ok"], {"claim@10": True, "claim@11": True}),
    ],
)
def test_probe_claims_releases_and_timeout(events: list[str], claims: dict[str, bool]) -> None:
    breaker = Breaker(threshold=1, cooldown_s=10, probe_timeout_s=120)
    breaker.failure(0)
    tickets: list[int | None] = []
    for event in events:
        name, _, at = event.partition("@")
        if name == "claim":
            tickets.append(breaker.claim(float(at)))
        elif name == "release":
            breaker.release(tickets[-1])
        elif name == "release-first":
            breaker.release(tickets[0])
        elif name == "fail":
            breaker.failure(float(at))
        elif name == "ok":
            breaker.success()
    assert all(t for t in tickets if t is not None)
    for claim, allowed in claims.items():
        assert (breaker.claim(float(claim.partition("@")[2])) is not None) is allowed, claim


@pytest.mark.parametrize(
    ("steps", "gauge"),
    [
        ([], 0),  # closed
        (["fail"], 2),  # open
        (["fail", "wait"], 1),  # half-open, before any request
        (["fail", "wait", "probe"], 1),  # half-open, probe in flight
        (["fail", "wait", "ok"], 0),  # probe answered: closed
        (["fail", "wait", "fail"], 2),  # probe failed: open again
    ],
)
def test_breaker_gauge_reports_each_state(steps: list[str], gauge: int) -> None:
    from assay.gateway import metrics

    name = "gauge-upstream"
    pool, fakes, clock = _pool(name)
    route = _route(name)
    fake = fakes[name]

    async def run() -> None:
        for step in steps:
            if step == "wait":
                clock.now += 10
            elif step == "probe":
                fake.mode, fake.entered = "hang", asyncio.Event()
                task = asyncio.create_task(_send(pool, route, "post"))
                await fake.entered.wait()
                assert metrics.REGISTRY.get_sample_value("assay_gateway_breaker_state", {"upstream": name}) == gauge
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
            else:
                fake.mode = step
                await _send(pool, route, "post")

    asyncio.run(run())
    assert metrics.REGISTRY.get_sample_value("assay_gateway_breaker_state", {"upstream": name}) == gauge
