"""Upstream providers: pooled HTTP clients, fallbacks, safe retries, circuit breakers.

Safe retries: a request moves to the next target only when the previous one
failed *before an answer started* (connection refused, timeout, 5xx, 429). A
streamed answer that has started is never retried: its failure ends the stream.
"""

from __future__ import annotations

import ipaddress
import os
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol
from urllib.parse import urlsplit

import aiohttp
import httpx
import yarl

from assay.config import Settings, UpstreamSettings
from assay.errors import ConfigError, GatewayError
from assay.gateway import metrics
from assay.gateway._http1 import Http1Pool, Http1TimeoutError, Http1TransportError
from assay.gateway.breaker import STATE_CODES, Breaker
from assay.gateway.demo import DemoTransport
from assay.gateway.routing import DEMO_MODEL, DEMO_UPSTREAM, ResolvedRoute, Target, targets_of
from assay.logs import get_logger

__all__ = [
    "HttpTransport",
    "Transport",
    "UpstreamPool",
    "UpstreamReply",
    "UpstreamStream",
    "UpstreamUnavailableError",
    "is_loopback_url",
]

_log = get_logger("assay.gateway.upstream")
_RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class UpstreamUnavailableError(GatewayError):
    """No upstream could answer (502/503 to the client, OpenAI ``upstream_error``)."""

    status = 502
    title = "Upstream unavailable"


@dataclass
class UpstreamReply:
    status: int
    body: bytes
    target: Target


@dataclass
class UpstreamStream:
    """An answer being streamed: ``status`` 200 with ``chunks`` of SSE ``data:`` payloads."""

    target: Target
    chunks: AsyncIterator[bytes]
    close: object = field(default=None, repr=False)

    async def aclose(self) -> None:
        closer = self.close
        if closer is not None:
            await closer()  # type: ignore[operator]


class Transport(Protocol):
    name: str
    breaker_threshold: int
    breaker_cooldown_s: float

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]: ...

    async def stream(self, path: str, body: bytes) -> tuple[int, bytes, UpstreamStream | None]: ...

    async def aclose(self) -> None: ...


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_upstream_url(name: str, url: str, allow_plain_http: bool) -> None:
    scheme = urlsplit(url).scheme
    if scheme not in ("http", "https"):
        raise ConfigError(f"upstream {name} has URL {url!r}, which is not http(s)")
    if scheme == "http" and not (allow_plain_http or is_loopback_url(url)):
        raise ConfigError(
            f"upstream {name} uses plain HTTP to a non-loopback host ({url})",
            hint="Use https, or set allow_plain_http = true for this upstream if the link is trusted.",
        )


class UpstreamTimeoutError(Exception):
    """The upstream did not answer in time (a failure before the answer started)."""


class UpstreamConnectError(Exception):
    """The upstream could not be reached or broke the connection before answering."""


class HttpTransport:
    """One OpenAI-compatible provider: plain calls through a lean keep-alive HTTP/1.1 pool
    (``_http1``, ADR 0042), streams through a pooled :class:`aiohttp.ClientSession`.

    aiohttp rather than httpx: in front of the same local upstream it carried about ten
    times the requests per second at concurrency 16 (ADR 0040).
    """

    def __init__(
        self,
        name: str,
        base_url: str,
        api_key: str | None,
        timeout_s: float,
        breaker: tuple[int, float] = (5, 30.0),
    ) -> None:
        self.name = name
        self.breaker_threshold, self.breaker_cooldown_s = breaker
        self._base = base_url.rstrip("/") + "/"
        self._headers = {"content-type": "application/json"}
        if api_key:
            self._headers["authorization"] = f"Bearer {api_key}"
        self._timeout_s = timeout_s
        connect = min(timeout_s, 5.0)
        # Built once: a timeout object and a parsed URL per request cost more than the send.
        self._timeouts = (
            aiohttp.ClientTimeout(total=timeout_s, connect=connect),
            # a stream may run long; each read must arrive within the timeout
            aiohttp.ClientTimeout(total=None, connect=connect, sock_read=timeout_s),
        )
        self._urls: dict[str, yarl.URL] = {}
        self._session: aiohttp.ClientSession | None = None
        self._lean: Http1Pool | None = None

    def _client(self) -> aiohttp.ClientSession:
        # Created on first use, inside the server's event loop.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers=self._headers,
                connector=aiohttp.TCPConnector(limit=256, limit_per_host=256, keepalive_timeout=30),
                read_bufsize=1 << 20,
                auto_decompress=True,
            )
        return self._session

    def _url(self, path: str) -> yarl.URL:
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = yarl.URL(self._base + path.lstrip("/"))
        return url

    async def _send(self, path: str, body: bytes, stream: bool) -> aiohttp.ClientResponse:
        try:
            return await self._client().post(self._url(path), data=body, timeout=self._timeouts[stream])
        except TimeoutError as exc:
            raise UpstreamTimeoutError(str(exc)) from exc
        except aiohttp.ClientError as exc:
            raise UpstreamConnectError(type(exc).__name__) from exc

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self._lean is None:  # created on first use, inside the server's event loop
            self._lean = Http1Pool(self._base, self._headers, limit=256, idle_s=30.0)
        try:
            return await self._lean.post(path, body, timeout_s=self._timeout_s, connect_s=min(self._timeout_s, 5.0))
        except Http1TimeoutError as exc:
            raise UpstreamTimeoutError(str(exc)) from exc
        except Http1TransportError as exc:
            raise UpstreamConnectError(str(exc)) from exc

    async def stream(self, path: str, body: bytes) -> tuple[int, bytes, UpstreamStream | None]:
        response = await self._send(path, body, stream=True)
        if response.status != 200:
            try:
                content = await response.read()
            except (TimeoutError, aiohttp.ClientError) as exc:
                raise UpstreamConnectError(type(exc).__name__) from exc
            finally:
                response.release()
            return response.status, content, None

        async def close() -> None:
            response.close()

        return 200, b"", UpstreamStream(target=Target(self.name, ""), chunks=_sse_data(response), close=close)

    async def aclose(self) -> None:
        if self._lean is not None:
            await self._lean.aclose()
        if self._session is not None:
            await self._session.close()


async def _sse_data(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """The ``data:`` payloads of a server-sent event stream, one per event."""
    async for line in response.content:
        if line.startswith(b"data:"):
            yield line[5:].strip()


class UpstreamPool:
    """Every transport by name, each with its breaker; sends a request along a route."""

    def __init__(self, transports: Sequence[Transport], *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.transports = {t.name: t for t in transports}
        self._now = monotonic
        self.breakers = {
            t.name: Breaker(threshold=t.breaker_threshold, cooldown_s=t.breaker_cooldown_s)
            for t in transports
        }
        for name, breaker in self.breakers.items():
            # Read at scrape time: half-open comes with the passing of time, not with an event.
            metrics.child(metrics.BREAKER_STATE, name).set_function(partial(_state_code, breaker, monotonic))

    def _targets(self, route: ResolvedRoute) -> list[tuple[Target, Transport]]:
        """The route's targets that have a transport, in order; breakers are asked per attempt."""
        found = [(t, self.transports[t.upstream]) for t in targets_of(route) if t.upstream in self.transports]
        if not found:
            raise self._none_available(route)
        return found

    @staticmethod
    def _none_available(route: ResolvedRoute) -> UpstreamUnavailableError:
        return UpstreamUnavailableError(
            f"no upstream is available for model {route.alias!r} (all circuit breakers open)",
            hint="Retry shortly; `assay doctor` and /metrics show upstream health.",
        )

    def _failed(self, target: Target, reason: str) -> None:
        breaker = self.breakers[target.upstream]
        now = self._now()
        breaker.failure(now)
        metrics.UPSTREAM_FAILURES.labels(upstream=target.upstream, reason=reason).inc()
        _log.warning("upstream_failed", upstream=target.upstream, reason=reason, breaker=breaker.state(now))

    def _succeeded(self, target: Target) -> None:
        self.breakers[target.upstream].success()

    def _transport_failed(self, target: Target, exc: Exception) -> str:
        """Count a timeout or refused connection against ``target``; return why, for the error."""
        if isinstance(exc, UpstreamTimeoutError):
            self._failed(target, "timeout")
            return f"{target.upstream} timed out"
        self._failed(target, "connect")
        return f"{target.upstream} unreachable ({exc})"

    def _status_failed(self, target: Target, status: int) -> str:
        self._failed(target, f"http_{status}")
        return f"{target.upstream} answered {status}"

    async def post(self, route: ResolvedRoute, path: str, payload: dict[str, object]) -> UpstreamReply:
        """Send to the first target that answers; fall back on failures before an answer."""
        last: str | None = None
        for target, transport in self._targets(route):
            # Asked only now, just before the attempt: a half-open breaker gives its single
            # probe to a request that is really sent, and the ticket always comes back.
            breaker = self.breakers[target.upstream]
            ticket = breaker.claim(self._now())
            if ticket is None:
                continue
            try:
                body = _with_model(payload, target.provider_model)
                try:
                    status, content = await transport.post(path, body)
                except (UpstreamTimeoutError, UpstreamConnectError) as exc:
                    last = self._transport_failed(target, exc)
                    continue
                if status in _RETRYABLE_STATUS:
                    last = self._status_failed(target, status)
                    continue
                self._succeeded(target)
                return UpstreamReply(status, content, target)
            finally:
                breaker.release(ticket)  # a no-op once resolved; frees it on cancellation or a bug
        if last is None:
            raise self._none_available(route)
        raise UpstreamUnavailableError(f"no upstream answered for model {route.alias!r}: {last}")

    async def stream(self, route: ResolvedRoute, path: str, payload: dict[str, object]) -> UpstreamStream | UpstreamReply:
        """Open a stream on the first target that starts one; errors before the start fall back.

        Returns an :class:`UpstreamReply` when the upstream refused with a client error.
        """
        last: str | None = None
        for target, transport in self._targets(route):
            breaker = self.breakers[target.upstream]
            ticket = breaker.claim(self._now())
            if ticket is None:
                continue
            try:
                body = _with_model(payload, target.provider_model)
                try:
                    status, content, opened = await transport.stream(path, body)
                except (UpstreamTimeoutError, UpstreamConnectError) as exc:
                    last = self._transport_failed(target, exc)
                    continue
                if opened is None:
                    if status in _RETRYABLE_STATUS:
                        last = self._status_failed(target, status)
                        continue
                    self._succeeded(target)
                    return UpstreamReply(status, content, target)
                self._succeeded(target)
                opened.target = target
                return opened
            finally:
                breaker.release(ticket)
        if last is None:
            raise self._none_available(route)
        raise UpstreamUnavailableError(f"no upstream answered for model {route.alias!r}: {last}")

    async def aclose(self) -> None:
        for transport in self.transports.values():
            await transport.aclose()


def _state_code(breaker: Breaker, monotonic: Callable[[], float]) -> int:
    return STATE_CODES[breaker.state(monotonic())]


def _with_model(payload: dict[str, object], provider_model: str) -> bytes:
    import orjson

    return orjson.dumps({**payload, "model": provider_model})


def _api_key(upstream: UpstreamSettings) -> str | None:
    if upstream.api_key_env is None:
        return None
    value = os.environ.get(upstream.api_key_env)
    if not value:
        raise ConfigError(
            f"upstream {upstream.name} reads its key from ${upstream.api_key_env}, which is not set",
            hint=f"Export {upstream.api_key_env} before `assay serve`.",
        )
    return value


@dataclass
class UpstreamConfig:
    """Transports and the (upstream, alias, provider_model) rows that become routes."""

    transports: list[Transport]
    models: list[tuple[str, str, str]]
    demo: bool


def build_upstreams(settings: Settings) -> UpstreamConfig:
    """Transports for the configured upstreams, ``--upstream URL``, or the demo model."""
    transports: list[Transport] = []
    models: list[tuple[str, str, str]] = []
    for up in settings.upstreams:
        check_upstream_url(up.name, up.base_url, up.allow_plain_http)
        transports.append(
            HttpTransport(
                up.name, up.base_url, _api_key(up), up.timeout_s,
                (up.breaker_threshold, up.breaker_cooldown_s),
            )
        )
        models.extend((up.name, alias, provider) for alias, provider in up.models.items())
    if settings.upstream:
        single = _discover(settings.upstream, settings)
        transports.append(single[0])
        models.extend(single[1])
    if not transports and settings.demo_model:
        _log.warning("demo_model", model=DEMO_MODEL, note="no upstream configured; serving the built-in demo model")
        return UpstreamConfig([DemoTransport()], [(DEMO_UPSTREAM, DEMO_MODEL, DEMO_MODEL)], True)
    return UpstreamConfig(transports, models, False)


def _discover(url: str, settings: Settings) -> tuple[HttpTransport, list[tuple[str, str, str]]]:
    """``assay serve --upstream URL``: serve the models the upstream lists under their own names."""
    check_upstream_url("default", url, settings.upstream_allow_plain_http)
    key = os.environ.get("ASSAY_UPSTREAM_API_KEY") or None
    base = _v1(url)
    headers = {"authorization": f"Bearer {key}"} if key else {}
    try:
        response = httpx.get(base + "/models", headers=headers, timeout=settings.upstream_timeout_s)
        response.raise_for_status()
        listing = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ConfigError(
            f"could not list the models of upstream {url}: {exc}",
            hint="Check that the upstream is running and serves GET /v1/models.",
        ) from exc
    data = listing.get("data") if isinstance(listing, dict) else None
    ids = [m["id"] for m in data or [] if isinstance(m, dict) and isinstance(m.get("id"), str)]
    if not ids:
        raise ConfigError(f"upstream {url} lists no models at /v1/models")
    _log.info("upstream_models", upstream=url, models=ids)
    transport = HttpTransport("default", base, key, settings.upstream_timeout_s)
    return transport, [("default", mid, mid) for mid in ids]


def _v1(url: str) -> str:
    trimmed = url.rstrip("/")
    return trimmed if trimmed.endswith("/v1") else trimmed + "/v1"
