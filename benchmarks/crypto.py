"""Envelope encryption vs raw AES-256-GCM on 4 KiB records, warm caches, same run.

Each operation is one encrypt plus one decrypt. The envelope path goes through
``Keyring`` (header, associated data binding tenant/kind/record id, nonce
budget accounting, key cache); the baseline calls ``cryptography``'s AESGCM
directly with a random nonce and the same associated data length.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

RECORD = 4096
TARGET_RATIO = 0.70


def _setup(root: Path) -> tuple[Any, Any, Any]:
    from assay.config import Settings
    from assay.crypto import Keyring, TenantStore
    from assay.instance import init_instance, open_instance
    from assay.ledger import AuditLog

    settings = Settings(data_dir=root / "data")
    init_instance(settings)
    instance = open_instance(settings)
    audit = AuditLog.open(instance)
    keyring = Keyring.open(instance, audit)
    TenantStore(instance, audit, keyring).create("bench", "system")
    return instance, audit, keyring


def _envelope_op(keyring: Any, payload: bytes, batch: int) -> Any:
    encrypt, decrypt = keyring.encrypt, keyring.decrypt

    def op() -> int:
        for _ in range(batch):
            sealed = encrypt("bench", "transcript", "record-000001", payload)
            decrypt("bench", "transcript", "record-000001", sealed)
        return batch

    return op


def _raw_op(payload: bytes, batch: int) -> Any:
    aead = AESGCM(AESGCM.generate_key(bit_length=256))
    aad = os.urandom(24 + 4 * 3 + len("bench") + len("transcript") + len("record-000001"))

    urandom = os.urandom

    def op() -> int:
        for _ in range(batch):
            nonce = urandom(12)
            sealed = aead.encrypt(nonce, payload, aad)
            aead.decrypt(nonce, sealed, aad)
        return batch

    return op


def _cpu_rate(op: Callable[[], int], slice_s: float) -> float:
    """Operations per CPU-second of this process (robust on a shared, noisy machine)."""
    done, start = 0, time.process_time()
    while True:
        done += op()
        spent = time.process_time() - start
        if spent >= slice_s:
            return done / spent


def run(*, quick: bool) -> dict[str, object]:
    """Many short interleaved slices of both paths; medians of rates and of per-slice ratios."""
    payload = os.urandom(RECORD)
    slices, slice_s, batch = (15, 0.05, 100) if quick else (60, 0.1, 200)
    with tempfile.TemporaryDirectory(prefix="assay-bench-crypto-") as tmp:
        instance, audit, keyring = _setup(Path(tmp))
        try:
            envelope, raw = _envelope_op(keyring, payload, batch), _raw_op(payload, batch)
            envelope()  # warm-up: unwrap the data key, reserve nonce budget
            raw()
            env_rates, raw_rates = [], []
            for _ in range(slices):
                env_rates.append(_cpu_rate(envelope, slice_s))
                raw_rates.append(_cpu_rate(raw, slice_s))
        finally:
            audit.close()
            instance.close()
    ratio = statistics.median(e / r for e, r in zip(env_rates, raw_rates, strict=True))
    return {
        "envelope_per_s": round(statistics.median(env_rates)),
        "raw_aesgcm_per_s": round(statistics.median(raw_rates)),
        "ratio": round(ratio, 3),
        "target_ratio": TARGET_RATIO,
        "meets_target": ratio >= TARGET_RATIO,
        "record_bytes": RECORD,
        "operation": "encrypt+decrypt",
        "timing": "process CPU time, interleaved slices",
        "slices": slices,
    }
