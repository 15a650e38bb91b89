"""A lean HTTP/1.1 client for the non-streamed upstream calls (ADR 0042).

One request shape: ``POST`` of a complete body, the whole answer read into memory. The general
client (aiohttp) builds request and response objects, header multidicts, a timer and a task
per call; for a proxy whose upstream answers in under a millisecond that was about a fifth of
the gateway's event-loop time. Here a request is one ``transport.write`` of pre-built header
bytes and the body; the answer is parsed by ``httptools`` (the C parser the ASGI server uses);
one timer handle bounds the whole exchange. Connections are kept alive and reused
most-recent-first; a connection whose exchange did not end cleanly is closed, never reused.
Streams keep using aiohttp (their per-call cost is spread over the whole stream).
"""

from __future__ import annotations

import asyncio
import ssl
import time
import zlib
from collections import deque
from typing import cast
from urllib.parse import urlsplit

import httptools

__all__ = ["Http1Pool", "Http1TimeoutError", "Http1TransportError"]


class Http1TransportError(Exception):
    """The upstream could not be reached, or broke the connection before its answer ended."""


class Http1TimeoutError(Exception):
    """The upstream did not answer within the timeout."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection; at most one exchange at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.chunks: list[bytes] = []
        self.encoding = b""
        self.delimited = False  # a content-length or chunked coding ends the body; else EOF does
        self.headers_done = False
        self.reusable = True
        self.complete = False
        self.idle_since = 0.0
        self.lost = asyncio.get_running_loop().create_future()

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's class is not a subclass

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.fail(Http1TransportError(f"malformed answer ({exc})"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.reusable = False
        if not self.lost.done():
            self.lost.set_result(None)
        if self.headers_done and not self.delimited and not self.complete and exc is None:
            self.on_message_complete()  # an answer without a length ends with the connection
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(Http1TransportError("the connection closed before the answer ended"))

    # -- httptools callbacks ---------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        lowered = name.lower()
        if lowered == b"content-encoding":
            self.encoding = value.strip().lower()
        elif lowered in (b"content-length", b"transfer-encoding"):
            self.delimited = True
        elif lowered == b"connection" and b"close" in value.lower():
            self.reusable = False

    def on_headers_complete(self) -> None:
        self.headers_done = True
        if self.parser.get_status_code() in (204, 304):
            self.delimited = True

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        self.complete = True
        if not self.parser.should_keep_alive():
            self.reusable = False
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            try:
                waiter.set_result((self.parser.get_status_code(), _decoded(b"".join(self.chunks), self.encoding)))
            except Http1TransportError as exc:
                self.reusable = False
                waiter.set_exception(exc)

    # -- the exchange ----------------------------------------------------------------------

    def start(self, request: bytes, loop: asyncio.AbstractEventLoop) -> asyncio.Future[tuple[int, bytes]]:
        self.waiter = waiter = loop.create_future()
        self.chunks = []
        self.encoding = b""
        self.delimited = self.headers_done = self.complete = False
        assert self.transport is not None
        self.transport.write(request)
        return waiter

    def fail(self, exc: Exception) -> None:
        self.reusable = False
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)
        if self.transport is not None:
            self.transport.close()

    def usable(self, now: float, idle_s: float) -> bool:
        transport = self.transport
        return (
            self.reusable and transport is not None and not transport.is_closing()
            and now - self.idle_since < idle_s
        )


def _decoded(body: bytes, encoding: bytes) -> bytes:
    """The body without its content coding (none is asked for; gzip and deflate are undone)."""
    if not encoding or encoding == b"identity":
        return body
    if encoding in (b"gzip", b"x-gzip", b"deflate"):
        try:
            return zlib.decompress(body, 47)  # 32 + 15: accept a zlib or gzip header
        except zlib.error as exc:
            raise Http1TransportError(f"the answer's {encoding.decode()} body is corrupt") from exc
    raise Http1TransportError(f"the answer uses an unsupported content coding ({encoding.decode()})")


class Http1Pool:
    """Keep-alive connections to one origin (``http`` or ``https``) for POST requests."""

    def __init__(
        self, base_url: str, headers: dict[str, str], *, limit: int = 256, idle_s: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self._host = parts.hostname
        self._tls = parts.scheme == "https"
        self._port = parts.port or (443 if self._tls else 80)
        self._ssl = (ssl_context or ssl.create_default_context()) if self._tls else None
        self._prefix = (parts.path or "/").rstrip("/") + "/"
        authority = parts.netloc.rpartition("@")[2]
        fixed = {"host": authority, "user-agent": "assay-gateway", **{k.lower(): v for k, v in headers.items()}}
        self._fixed = "".join(f"{name}: {value}\r\n" for name, value in fixed.items())
        self._heads: dict[str, bytes] = {}
        self._idle: deque[_Connection] = deque()
        self._slots = asyncio.Semaphore(limit)
        self._idle_s = idle_s
        self._closed = False

    def _head(self, path: str) -> bytes:
        head = self._heads.get(path)
        if head is None:
            target = self._prefix + path.lstrip("/")
            head = self._heads[path] = f"POST {target} HTTP/1.1\r\n{self._fixed}content-length: ".encode("latin-1")
        return head

    async def _connect(self, loop: asyncio.AbstractEventLoop, connect_s: float) -> _Connection:
        try:
            async with asyncio.timeout(connect_s):
                _, protocol = await loop.create_connection(
                    _Connection, self._host, self._port, ssl=self._ssl,
                    server_hostname=self._host if self._tls else None,
                )
        except TimeoutError as exc:
            raise Http1TimeoutError(f"connecting to {self._host}:{self._port} timed out") from exc
        except OSError as exc:
            raise Http1TransportError(f"cannot connect to {self._host}:{self._port} ({exc})") from exc
        return protocol

    def _take_idle(self) -> _Connection | None:
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()  # most recently used first: the likeliest to be alive
            if conn.usable(now, self._idle_s):
                return conn
            if conn.transport is not None:
                conn.transport.close()
        return None

    async def post(self, path: str, body: bytes, *, timeout_s: float, connect_s: float) -> tuple[int, bytes]:
        """(status, body) of one POST; raises :class:`Http1TimeoutError` or :class:`Http1TransportError`."""
        if self._closed:
            raise Http1TransportError("the upstream client is closed")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        async with self._slots:
            conn = self._take_idle() or await self._connect(loop, min(connect_s, timeout_s))
            request = b"%b%d\r\n\r\n%b" % (self._head(path), len(body), body)
            waiter = conn.start(request, loop)
            timer = loop.call_at(deadline, conn.fail, Http1TimeoutError(f"no answer within {timeout_s:g} s"))
            try:
                return await waiter
            finally:
                timer.cancel()
                self._release(conn)

    def _release(self, conn: _Connection) -> None:
        conn.waiter = None
        if conn.complete and conn.reusable and not self._closed and conn.transport is not None:
            conn.idle_since = time.monotonic()
            self._idle.append(conn)
        elif conn.transport is not None:
            conn.transport.close()  # cancelled, failed or told to close: never reuse

    async def aclose(self) -> None:
        """Close the idle connections and wait (briefly) until their sockets are released."""
        self._closed = True
        closing = []
        while self._idle:
            conn = self._idle.pop()
            if conn.transport is not None:
                conn.transport.close()
                closing.append(conn.lost)
        if closing:
            await asyncio.wait(closing, timeout=2.0)
