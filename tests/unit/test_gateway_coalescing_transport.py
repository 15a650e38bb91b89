"""The serving process's coalescing transport: one write per loop turn, same bytes, same order."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from assay.gateway._uvicorn import CoalescingTransport


class RecordingTransport(asyncio.Transport):
    """Stands in for the operating system's socket transport: records what reaches it."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.events: list[str] = []
        self.closing = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))
        self.events.append("write")

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True
        self.events.append("close")

    def abort(self) -> None:
        self.closing = True
        self.events.append("abort")

    def write_eof(self) -> None:
        self.events.append("eof")

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.events.append("protocol")

    def get_write_buffer_size(self) -> int:
        return 7

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 1)}.get(name, default)


def _run(check: Callable[[RecordingTransport, CoalescingTransport], Awaitable[None]]) -> RecordingTransport:
    """Run ``check`` on a fresh pair inside an event loop; return the recording transport."""
    raw = RecordingTransport()

    async def main() -> None:
        await check(raw, CoalescingTransport(raw, asyncio.get_running_loop()))
        await asyncio.sleep(0)  # let any scheduled flush run

    asyncio.run(main())
    return raw


def test_writes_of_one_turn_leave_as_one_write_in_order() -> None:
    seen: list[list[bytes]] = []

    async def check(raw: RecordingTransport, transport: CoalescingTransport) -> None:
        transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        transport.write(b"")
        transport.write(memoryview(b"ok"))
        seen.append(list(raw.writes))  # nothing before the turn ends
        await asyncio.sleep(0)
        transport.writelines([b"a", b"b"])

    raw = _run(check)
    assert seen == [[]]
    assert raw.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", b"ab"]


@pytest.mark.parametrize(
    ("action", "events", "written"),
    [
        ("close", ["write", "close"], [b"tail"]),
        ("write_eof", ["write", "eof"], [b"tail"]),
        ("set_protocol", ["write", "protocol"], [b"tail"]),
        ("abort", ["abort"], []),
    ],
)
def test_closing_flushes_first_and_abort_drops(action: str, events: list[str], written: list[bytes]) -> None:
    async def check(raw: RecordingTransport, transport: CoalescingTransport) -> None:
        transport.write(b"tail")
        if action == "set_protocol":
            transport.set_protocol(asyncio.Protocol())
        else:
            getattr(transport, action)()

    raw = _run(check)  # the scheduled flush then finds nothing left to write
    assert raw.events == events
    assert raw.writes == written


def test_nothing_is_written_after_the_transport_closed() -> None:
    async def check(raw: RecordingTransport, transport: CoalescingTransport) -> None:
        transport.write(b"late")
        raw.closing = True  # the peer went away within the turn

    assert _run(check).writes == []


def test_other_transport_calls_reach_the_socket_transport() -> None:
    async def check(raw: RecordingTransport, transport: CoalescingTransport) -> None:
        transport.write(b"abc")
        assert transport.get_write_buffer_size() == 7 + 3
        assert transport.get_extra_info("peername") == ("127.0.0.1", 1)
        assert transport.is_closing() is False

    assert _run(check).writes == [b"abc"]
