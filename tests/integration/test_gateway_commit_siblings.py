"""The gateway tells the ledger which records are on their way (ADR 0080).

A plain request at an upstream that answers fast is due: a commit may wait for it. Every path
out of the request stops counting it, and a slow upstream is never waited for.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.governance_helpers import AppStack, app_stack

pytest.importorskip("assay.gateway")
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the accounting is the gateway's

SEEN: list[int] = []  # records_due() as the upstream saw it, one per request


def _answer(model: str, messages: list[dict[str, str]]) -> str | None:
    SEEN.append(GATEWAY[0].records_due() if GATEWAY else -1)
    return None if messages[-1]["content"] == "fail" else "fine"


GATEWAY: list[Any] = []


@pytest.fixture
def stack(tmp_path: Path, database_url: str) -> Iterator[AppStack]:
    SEEN.clear()
    with app_stack(tmp_path / "data", database_url, _answer, "chat-1") as built:
        GATEWAY[:] = [built.client.app.state.gateway]
        yield built
    GATEWAY.clear()


def _send(stack: AppStack, content: str, **extra: Any) -> Any:
    return stack.client.post(
        "/v1/chat/completions", headers={"Authorization": f"Bearer {stack.key}"},
        json={"model": "support", "messages": [{"role": "user", "content": content}], **extra},
    )


def _pin_average(monkeypatch: pytest.MonkeyPatch, gateway: Any, seconds: float) -> None:
    """Hold the upstream average where the test wants it (a loaded machine's slow call must not move it)."""
    gateway._upstream_avg_s = seconds
    monkeypatch.setattr(gateway, "upstream_answered", lambda elapsed: None)


def test_a_request_at_a_fast_upstream_is_due_until_its_record_is_queued(
    stack: AppStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway = GATEWAY[0]
    assert gateway.records_due() == 0
    assert _send(stack, "first").status_code == 200
    assert SEEN == [0]  # no upstream timing yet: nothing is waited for
    _pin_average(monkeypatch, gateway, 0.001)
    for n in range(2):
        assert _send(stack, f"hello {n}").status_code == 200
        assert gateway.records_due() == 0
    assert SEEN == [0, 1, 1]


def test_the_average_follows_the_upstream(stack: AppStack) -> None:
    gateway = GATEWAY[0]
    gateway.upstream_answered(0.002)
    assert gateway._upstream_avg_s == pytest.approx(0.002)
    gateway.upstream_answered(0.012)
    assert gateway._upstream_avg_s == pytest.approx(0.003)  # a tenth of the way to each new call


def test_every_way_out_stops_counting_the_request(stack: AppStack, monkeypatch: pytest.MonkeyPatch) -> None:
    gateway = GATEWAY[0]
    _pin_average(monkeypatch, gateway, 0.001)
    assert _send(stack, "hello").status_code == 200
    assert _send(stack, "fail").status_code == 502  # no upstream answered: recorded, then refused
    assert _send(stack, "hello", stream=True).status_code == 200  # streams are not counted
    assert gateway._records_due == 0
    assert SEEN == [1, 1, 0]


@pytest.mark.parametrize(
    ("average_s", "due"),
    [
        (0.001, 1),
        (0.0039, 1),  # within four commit delays (1 ms by default)
        (0.0045, 0),
        (0.5, 0),  # a model that answers in half a second
    ],
)
def test_only_a_fast_upstream_is_waited_for(stack: AppStack, average_s: float, due: int) -> None:
    gateway = GATEWAY[0]
    for _ in range(100):
        gateway.upstream_answered(average_s)
    assert _send(stack, "hello").status_code == 200
    assert [due] == SEEN
    assert gateway.records_due() == 0


def test_no_commit_delay_means_nothing_is_due(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_LEDGER_COMMIT_DELAY_MS", "0")
    with app_stack(tmp_path / "data", database_url, _answer, "chat-1") as built:
        gateway = built.client.app.state.gateway
        GATEWAY[:] = [gateway]
        gateway.upstream_answered(0.0001)
        assert _send(built, "hello").status_code == 200
    GATEWAY.clear()
    assert SEEN[-1] == 0


def test_the_gateway_hint_reaches_the_ledger_and_leaves_with_it(tmp_path: Path, database_url: str) -> None:
    with app_stack(tmp_path / "data", database_url, _answer, "chat-1") as built:
        gateway = built.client.app.state.gateway
        assert _send(built, "hello").status_code == 200
        log = gateway.audit().log
        assert gateway.records_due in log._siblings
    assert gateway.records_due not in log._siblings


def test_an_answer_whose_redaction_fails_closed_is_recorded_and_not_due(
    stack: AppStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assay.errors import PIIError
    from assay.gateway._controls import RequestRedactor

    gateway = GATEWAY[0]
    log = gateway.audit().log
    before = log.size()

    def failing(self: RequestRedactor, text: str) -> str:
        raise PIIError("the detector failed")

    monkeypatch.setattr(RequestRedactor, "outbound", failing)
    response = _send(stack, "hello")
    assert response.status_code == 503
    assert "the detector failed" in response.json()["error"]["message"]
    assert log.size() == before + 1  # the prompt reached the upstream: its attempt is on record
    assert gateway._records_due == 0


def test_an_unexpected_failure_at_the_upstream_stops_counting(stack: AppStack, monkeypatch: pytest.MonkeyPatch) -> None:
    gateway = GATEWAY[0]

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug in the upstream client")

    monkeypatch.setattr(gateway.pool, "post", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        _send(stack, "hello")
    assert gateway._records_due == 0
