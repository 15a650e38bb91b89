"""The gateway asks for an inline ledger commit only for a lone request (ADR 0047)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from tests.governance_helpers import AppStack, app_stack

from assay.ledger import AuditLog, Event

pytest.importorskip("assay.gateway")
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the choice is the gateway's

PAIR = threading.Barrier(2, timeout=10)


def _answer(model: str, messages: list[dict[str, str]]) -> str | None:
    if messages[-1]["content"] == "fail":
        return None  # the upstream answers 500
    if messages[-1]["content"] == "together":
        PAIR.wait()  # both requests are at the upstream, so both are open when either records
    return "fine"


@pytest.fixture
def stack(tmp_path: Path, database_url: str) -> Iterator[AppStack]:
    PAIR.reset()
    with app_stack(tmp_path / "data", database_url, _answer, "chat-1") as built:
        yield built


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """The ``inline`` flag of every ledger append the gateway makes."""
    flags: list[bool] = []
    original = AuditLog.append_async

    async def append_async(self: AuditLog, event: Event, companions: Any = (), *, inline: bool = False) -> int:
        if event.type == "gateway.request":
            flags.append(inline)
        index: int = await original(self, event, companions, inline=inline)
        return index

    monkeypatch.setattr(AuditLog, "append_async", append_async)
    return flags


def _chat(stack: AppStack, content: str) -> Any:
    return stack.client.post(
        "/v1/chat/completions", headers={"Authorization": f"Bearer {stack.key}"},
        json={"model": "support", "messages": [{"role": "user", "content": content}]},
    )


def test_requests_one_at_a_time_commit_inline(stack: AppStack, asked: list[bool]) -> None:
    for n in range(3):
        response = _chat(stack, f"hello {n}")
        assert response.status_code == 200, response.text
    assert asked == [True, True, True]
    assert stack.audit.verify().entries > 3


def test_a_request_with_company_is_queued(stack: AppStack, asked: list[bool]) -> None:
    with ThreadPoolExecutor(2) as pool:
        responses = list(pool.map(lambda _: _chat(stack, "together"), range(2)))
    assert [r.status_code for r in responses] == [200, 200]
    assert len(asked) == 2
    assert asked[0] is False  # the first to record saw the other request still open
    indices = sorted(int(r.headers["x-assay-ledger-index"]) for r in responses)
    assert indices[1] == indices[0] + 1
    assert stack.audit.verify().entries > indices[1]


def test_a_failed_request_does_not_stay_open(stack: AppStack, asked: list[bool]) -> None:
    gateway = stack.client.app.state.gateway
    assert _chat(stack, "fail").status_code >= 500
    assert len(gateway._open) == 0
    assert _chat(stack, "hello").status_code == 200
    assert asked[-1] is True
