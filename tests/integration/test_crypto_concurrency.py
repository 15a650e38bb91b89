"""Rotation and re-wrapping while writers and readers run: no failure, everything readable."""

from __future__ import annotations

import random
import threading

from tests.crypto_support import RecordingAudit

from assay.crypto import Keyring, TenantStore
from assay.instance import Instance

WRITERS, READERS, PER_WRITER, ROTATIONS = 4, 2, 150, 4


def test_rotation_under_concurrent_writers_and_readers(
    instance: Instance, audit: RecordingAudit, tenants: TenantStore
) -> None:
    tenants.create("acme", "cli:alice")
    # Two keyrings stand for two processes; small leases force frequent budget renewals.
    writer_ring = Keyring.open(instance, audit, lease_size=16, nonce_budget=64)
    reader_ring = Keyring.open(instance, audit, cache_ttl_s=0.05)
    admin_ring = Keyring.open(instance, audit)
    written: list[tuple[str, bytes, bytes]] = []
    failures: list[BaseException] = []
    lock = threading.Lock()
    done = threading.Event()
    rotated = threading.Event()

    def guarded(body):  # type: ignore[no-untyped-def]
        def run() -> None:
            try:
                body()
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                failures.append(exc)

        return run

    def writer(n: int) -> None:
        for i in range(PER_WRITER):
            if i == PER_WRITER // 2:
                rotated.wait(60)  # guarantee the writes span at least one rotation
            record_id, text = f"w{n}-{i}", f"writer {n} record {i}".encode()
            subject = f"user-{i % 3}" if n % 2 else None
            envelope = writer_ring.encrypt("acme", "transcript", record_id, text, subject)
            with lock:
                written.append((record_id, text, envelope))

    def reader() -> None:
        rng = random.Random(7)
        while not done.is_set() or not written:
            with lock:
                sample = rng.sample(written, min(5, len(written))) if written else []
            for record_id, text, envelope in sample:
                assert reader_ring.decrypt("acme", "transcript", record_id, envelope) == text

    def rotator() -> None:
        for _ in range(ROTATIONS):
            admin_ring.rotate("acme", "cli:alice")
            rotated.set()
            admin_ring.rewrap("acme", "cli:alice")

    threads = [threading.Thread(target=guarded(lambda n=n: writer(n))) for n in range(WRITERS)]
    threads += [threading.Thread(target=guarded(reader)) for _ in range(READERS)]
    rotation = threading.Thread(target=guarded(rotator))
    for thread in [*threads, rotation]:
        thread.start()
    for thread in [*threads[:WRITERS], rotation]:
        thread.join()
    done.set()
    for thread in threads[WRITERS:]:
        thread.join()
    assert failures == []
    assert len(written) == WRITERS * PER_WRITER
    fresh = Keyring.open(instance, audit)
    for record_id, text, envelope in written:
        assert fresh.decrypt("acme", "transcript", record_id, envelope) == text
    versions = {int.from_bytes(e[4:8], "big") for _, _, e in written}
    assert len(versions) >= 2  # writes really spanned rotations
    assert fresh.list_keys("acme")[-1].version == 1 + ROTATIONS
