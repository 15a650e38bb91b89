"""Handing results from the sequencer thread back to waiting threads and event loops."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

__all__ = ["Deliver", "LoopDeliver", "deliver_results", "future_deliver"]

Deliver = Callable[[Any, BaseException | None], None]


def future_deliver(future: Future[Any]) -> Deliver:
    def deliver(result: Any, error: BaseException | None) -> None:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    return deliver


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class LoopDeliver:
    """Resolves an asyncio future; the sequencer batches these per event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any]) -> None:
        self.loop = loop
        self.future = future

    def __call__(self, result: Any, error: BaseException | None) -> None:
        _deliver_to_loop(self.loop, [(self.future, result, error)])


def _settle_all(items: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for future, result, error in items:
        _settle(future, result, error)


def _deliver_to_loop(
    loop: asyncio.AbstractEventLoop, items: list[tuple[asyncio.Future[Any], Any, BaseException | None]]
) -> None:
    # One wake-up per loop and batch, not per event. A closed loop means nobody waits any more.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(_settle_all, items)


def deliver_results(outcomes: list[tuple[Deliver, Any, BaseException | None]]) -> None:
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any, BaseException | None]]] = {}
    for deliver, result, error in outcomes:
        if isinstance(deliver, LoopDeliver):
            by_loop.setdefault(deliver.loop, []).append((deliver.future, result, error))
        else:
            deliver(result, error)
    for loop, items in by_loop.items():
        _deliver_to_loop(loop, items)
