"""Revoked API keys reach every replica through Redis at once (ADR 0042).

Each serving process reuses a verified key's row for up to ``KEY_CACHE_S`` (one second). With
``ASSAY_REDIS_URL`` set, a revocation (CLI, dashboard or API, in any process) is published on
:data:`CHANNEL` after it is committed, and every serving process drops that key from its cache
when the message arrives, so the next request reads the revoked row. Redis is an accelerator
here, not a dependency: when it is unreachable the one-second bound still holds, and a failed
publication is logged, never a failed revocation.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import redis
import redis.asyncio as aioredis

from assay.logs import get_logger

__all__ = ["CHANNEL", "RevocationListener", "publish_revocation"]

CHANNEL = "assay:apikeys:revoked"
_log = get_logger("assay.gateway.revocations")


def publish_revocation(redis_url: str, key_id: str) -> None:
    """Tell every serving process that ``key_id`` was revoked (best effort, logged on failure)."""
    try:
        client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        try:
            client.publish(CHANNEL, key_id)
        finally:
            client.close()
    except redis.RedisError as exc:
        _log.warning("revocation_not_published", key_id=key_id, error=type(exc).__name__,
                     note="other replicas stop accepting the key within the one-second cache bound")


class RevocationListener:
    """Subscribes to :data:`CHANNEL` inside the server's event loop and calls ``forget(key_id)``."""

    def __init__(self, redis_url: str, forget: Callable[[str], None], *, retry_s: float = 1.0) -> None:
        self._url = redis_url
        self._forget = forget
        self._retry_s = retry_s
        self._task: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="assay-revocations")

    async def _run(self) -> None:
        while True:
            try:
                await self._listen()
            except (redis.RedisError, OSError) as exc:
                self.subscribed.clear()
                _log.warning("revocation_channel_lost", error=type(exc).__name__, retry_s=self._retry_s)
            await asyncio.sleep(self._retry_s)

    async def _listen(self) -> None:
        client = aioredis.Redis.from_url(self._url)
        try:
            async with client.pubsub() as pubsub:
                await pubsub.subscribe(CHANNEL)
                self.subscribed.set()
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    data = message.get("data")
                    if isinstance(data, bytes):
                        self._forget(data.decode("utf-8", "replace"))
        finally:
            await client.aclose()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
