"""A revocation reaches other replicas' key caches through Redis at once."""

from __future__ import annotations

import asyncio
import socket

import pytest
from tests.servers import RedisServer

from assay.gateway._audit import ledger_sink
from assay.gateway.keys import ApiKeyStore, KeyRejectedError
from assay.gateway.revocations import RevocationListener
from assay.instance import Instance

HOUR = 3600.0  # the replica's cache would keep the row this long without the channel


async def _until_rejected(store: ApiKeyStore, secret: str) -> None:
    while True:
        try:
            store.verify(secret)
        except KeyRejectedError:
            return
        await asyncio.sleep(0.02)


@pytest.mark.redis
def test_a_revocation_elsewhere_empties_this_replicas_cache(instance: Instance, redis_server: RedisServer) -> None:
    sink = ledger_sink(instance)
    admin = ApiKeyStore(instance.db, instance.clock, sink, redis_url=redis_server.url)
    replica = ApiKeyStore(instance.db, instance.clock, cache_s=HOUR)

    async def scenario() -> None:
        key, secret = await admin.create("acme", "app", actor="cli:test")
        assert replica.verify(secret).id == key.id  # now cached for an hour
        listener = RevocationListener(redis_server.url, replica.forget)
        listener.start()
        try:
            await asyncio.wait_for(listener.subscribed.wait(), 10)
            await admin.revoke(key.id, actor="cli:test")
            await asyncio.wait_for(_until_rejected(replica, secret), 10)
        finally:
            await listener.stop()

    try:
        asyncio.run(scenario())
    finally:
        sink.close()


def test_an_unreachable_redis_never_fails_the_revocation(instance: Instance) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, not listening: Redis refuses
        url = f"redis://127.0.0.1:{sock.getsockname()[1]}/0"
        sink = ledger_sink(instance)
        store = ApiKeyStore(instance.db, instance.clock, sink, redis_url=url)

        async def scenario() -> None:
            key, secret = await store.create("acme", "app", actor="cli:test")
            revoked = await store.revoke(key.id, actor="cli:test")
            assert revoked.revoked_at is not None
            with pytest.raises(KeyRejectedError):
                store.verify(secret)

        try:
            asyncio.run(scenario())
        finally:
            sink.close()
