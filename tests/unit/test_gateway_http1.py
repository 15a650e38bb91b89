"""The lean upstream client (``assay.gateway._http1``) against real loopback servers.

Each server is a few lines of asyncio that answers with exact bytes, so framing, keep-alive,
content codings and every failure before an answer can be produced on purpose.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import Awaitable, Callable

import pytest

from assay.gateway._http1 import Http1Pool, Http1TimeoutError, Http1TransportError

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
BODY = b'{"ok":true}'


async def _read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return head, await reader.readexactly(length)


def _answer(body: bytes, *headers: bytes) -> bytes:
    extra = b"".join(h + b"\r\n" for h in headers)
    return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n" + extra + b"\r\n" + body


def _length(body: bytes) -> bytes:
    return b"content-length: %d" % len(body)


def _chunked(body: bytes) -> bytes:
    half = len(body) // 2
    parts = [body[:half], body[half:]]
    return b"".join(b"%x\r\n%b\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


ANSWERS: dict[str, tuple[bytes, bool]] = {
    # name: (bytes the server writes, whether the connection may be reused)
    "content-length": (_answer(BODY, _length(BODY)), True),
    "chunked": (_answer(_chunked(BODY), b"transfer-encoding: chunked"), True),
    "gzip": (_answer(gzip.compress(BODY), _length(gzip.compress(BODY)), b"content-encoding: gzip"), True),
    "connection close": (_answer(BODY, _length(BODY), b"connection: close"), False),
}


async def _serve(handler: Handler) -> tuple[asyncio.Server, str, list[int]]:
    accepted: list[int] = []

    async def counted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        try:
            await handler(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(counted, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/v1", accepted


def _run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(test())


@pytest.mark.parametrize("name", list(ANSWERS))
def test_answers_are_read_and_connections_reused_when_allowed(name: str) -> None:
    raw, reusable = ANSWERS[name]
    seen: list[tuple[bytes, bytes]] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            seen.append(await _read_request(reader))
            writer.write(raw)
            await writer.drain()
            if not reusable:
                return

    async def test() -> None:
        server, base, accepted = await _serve(handler)
        pool = Http1Pool(base, {"authorization": "Bearer up-key", "content-type": "application/json"})
        for _ in range(3):
            assert await pool.post("chat/completions", b'{"a":1}', timeout_s=5, connect_s=5) == (200, BODY)
        await pool.aclose()
        server.close()
        await server.wait_closed()
        assert len(accepted) == (1 if reusable else 3)

    _run(test)
    head, body = seen[0]
    assert head.startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
    assert b"authorization: Bearer up-key\r\n" in head and b"host: 127.0.0.1:" in head
    assert body == b'{"a":1}'


def test_an_answer_ended_by_the_connection_closing_is_complete() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 500 Internal Server Error\r\nconnection: close\r\n\r\n" + BODY)
        await writer.drain()

    async def test() -> None:
        server, base, _ = await _serve(handler)
        pool = Http1Pool(base, {})
        assert await pool.post("x", b"{}", timeout_s=5, connect_s=5) == (500, BODY)
        await pool.aclose()
        server.close()

    _run(test)


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_request(reader)
    await asyncio.sleep(30)


async def _cut_mid_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_request(reader)
    writer.write(_answer(BODY, b"content-length: 500"))  # promises more than it sends
    await writer.drain()


async def _garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_request(reader)
    writer.write(b"NOT HTTP AT ALL\r\n\r\n")
    await writer.drain()
    await asyncio.sleep(1)


async def _unknown_coding(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_request(reader)
    writer.write(_answer(BODY, _length(BODY), b"content-encoding: br"))
    await writer.drain()


FAILURES: dict[str, tuple[Handler, type[Exception]]] = {
    "no answer in time": (_silent, Http1TimeoutError),
    "closed mid-answer": (_cut_mid_answer, Http1TransportError),
    "not HTTP": (_garbage, Http1TransportError),
    "unsupported content coding": (_unknown_coding, Http1TransportError),
}


@pytest.mark.parametrize("name", list(FAILURES))
def test_failures_before_a_complete_answer_raise_and_the_connection_is_dropped(name: str) -> None:
    handler, error = FAILURES[name]

    async def test() -> None:
        server, base, accepted = await _serve(handler)
        pool = Http1Pool(base, {})
        with pytest.raises(error):
            await pool.post("x", b"{}", timeout_s=0.3, connect_s=1)
        with pytest.raises(error):
            await pool.post("x", b"{}", timeout_s=0.3, connect_s=1)
        assert len(accepted) == 2  # a failed exchange's connection is never reused
        await pool.aclose()
        server.close()

    _run(test)


def test_a_refused_connection_is_a_transport_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused

        async def test() -> None:
            pool = Http1Pool(f"http://127.0.0.1:{port}", {})
            with pytest.raises(Http1TransportError, match="cannot connect"):
                await pool.post("x", b"{}", timeout_s=2, connect_s=2)

        _run(test)


def test_a_cancelled_request_never_leaves_its_connection_for_reuse() -> None:
    async def test() -> None:
        server, base, accepted = await _serve(_silent)
        pool = Http1Pool(base, {})
        task = asyncio.create_task(pool.post("x", b"{}", timeout_s=10, connect_s=1))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        with pytest.raises(Http1TimeoutError):
            await pool.post("x", b"{}", timeout_s=0.2, connect_s=1)
        assert len(accepted) == 2
        await pool.aclose()
        server.close()

    _run(test)


@pytest.mark.parametrize("url", ["ftp://example.com", "not a url", "http://"])
def test_only_http_urls_are_accepted(url: str) -> None:
    with pytest.raises(ValueError, match="not an http"):
        Http1Pool(url, {})
