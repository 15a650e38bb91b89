"""A commit waits, within its delay, for appends reported on their way (ADR 0080).

The hints here are plain functions, so the sequencer's choices are deterministic: it asks them
again only when an append is queued or its delay runs out.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from assay.instance import Instance
from assay.ledger import AuditLog, Event

LONG = 30.0  # a delay no passing test waits out


def _event(n: int) -> Event:
    return Event(type="gateway.request", actor="apikey:k1", tenant="acme", attributes={"n": n})


@pytest.fixture
def commits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many entries each commit of the sequencer wrote, in order."""
    sizes: list[int] = []
    original = AuditLog._write

    def write(self: AuditLog, entries: list[Any], *args: Any, **kwargs: Any) -> int:
        first: int = original(self, entries, *args, **kwargs)
        sizes.append(len(entries))
        return first

    monkeypatch.setattr(AuditLog, "_write", write)
    return sizes


@pytest.fixture
def make_log(instance: Instance) -> Iterator[Callable[[float], AuditLog]]:
    opened: list[AuditLog] = []

    def make(delay_s: float) -> AuditLog:
        log = AuditLog.open(instance)
        log._commit_delay = delay_s  # the setting's bound (50 ms) is for servers, not for tests
        opened.append(log)
        return log

    yield make
    for log in opened:
        log.close()


def _append_in_thread(log: AuditLog, n: int) -> tuple[threading.Thread, list[int]]:
    got: list[int] = []
    thread = threading.Thread(target=lambda: got.append(log.append(_event(n))))
    thread.start()
    return thread, got


def _queued(log: AuditLog, count: int) -> None:
    """Wait until the sequencer has taken ``count`` jobs or holds them (it lingers with them queued)."""
    for _ in range(1000):
        with log._cond:
            if len(log._queue) >= count:
                return
        threading.Event().wait(0.005)
    raise AssertionError(f"{count} job(s) never queued")


def test_an_append_reported_due_shares_the_commit(make_log: Callable[[float], AuditLog], commits: list[int]) -> None:
    log = make_log(LONG)
    due = [1]
    log.add_siblings(lambda: due[0])
    first, got = _append_in_thread(log, 0)
    _queued(log, 1)
    assert commits == []  # lingering: the sibling has not come
    due[0] = 0  # as the gateway does, just before it queues the record
    second = log.append(_event(1))
    first.join(timeout=10)
    assert not first.is_alive()
    assert commits == [2]
    assert sorted([got[0], second]) == [0, 1]


def test_a_sibling_that_never_comes_only_delays_the_commit(
    make_log: Callable[[float], AuditLog], commits: list[int]
) -> None:
    log = make_log(0.2)
    log.add_siblings(lambda: 1)
    thread, got = _append_in_thread(log, 0)
    thread.join(timeout=10)
    assert not thread.is_alive() and got == [0] and commits == [1]


def _broken() -> int:
    raise RuntimeError("a hint that fails")


@pytest.mark.parametrize(
    ("delay_s", "hints", "why"),
    [
        (0.0, [lambda: 1], "a delay of 0 never waits"),
        (LONG, [], "no hint, nothing due"),
        (LONG, [lambda: 0], "nothing due"),
        (LONG, [_broken], "a hint that raises counts as none"),
    ],
)
def test_commits_at_once_when_nothing_is_due(
    make_log: Callable[[float], AuditLog], commits: list[int], delay_s: float, hints: list[Callable[[], int]], why: str
) -> None:
    log = make_log(delay_s)
    for hint in hints:
        log.add_siblings(hint)
    thread, got = _append_in_thread(log, 0)
    thread.join(timeout=10)
    assert not thread.is_alive(), why
    assert got == [0] and commits == [1]


def test_a_removed_hint_is_not_asked(make_log: Callable[[float], AuditLog], commits: list[int]) -> None:
    log = make_log(LONG)
    remove = log.add_siblings(lambda: 1)
    remove()
    remove()  # twice is harmless
    thread, got = _append_in_thread(log, 0)
    thread.join(timeout=10)
    assert not thread.is_alive() and got == [0]


def test_closing_ends_the_wait_and_commits(instance: Instance, commits: list[int]) -> None:
    log = AuditLog.open(instance)
    log._commit_delay = LONG
    log.add_siblings(lambda: 1)
    thread, got = _append_in_thread(log, 0)
    _queued(log, 1)
    closer = threading.Thread(target=log.close)
    closer.start()
    closer.join(timeout=10)
    thread.join(timeout=10)
    assert not closer.is_alive() and not thread.is_alive()
    assert got == [0] and commits[0] == 1
