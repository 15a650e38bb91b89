"""Assessment benchmark: a full readiness assessment over a large data directory.

The data directory holds one million ``gateway.request`` ledger entries (a
proper Merkle log with tiles and a signed checkpoint, written through the
ledger's batch writer with pre-built canonical leaves), a year of hourly
results for every check, transcripts and key versions. Timed:

- ``assess_seconds_1m_events``: point-in-time assessment, running every check
  first (the ledger is verified end to end, requests are reconciled);
- ``assess_type2_seconds``: Type II assessment over the year of history.

Baselines measured in the same run: one full ``COUNT(*)`` scan of the ledger
table (the floor for anything that looks at every entry) and the ledger's own
full verification, which the ``ledger.integrity`` check performs.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from assay.clock import FixedClock, format_rfc3339
from assay.compliance import assess, check_registry, load_library, parse_period, run_assessment
from assay.config import Settings
from assay.instance import Instance, init_instance, open_instance
from assay.ledger import AuditLog
from assay.ledger.check import verify_database
from assay.ledger.log import _Prepared
from assay.ledger.merkle import leaf_hash

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
YEAR_START = NOW - timedelta(days=365)
BATCH = 20_000


# Canonical (RFC 8785) JSON written directly: keys sorted, no floats, no spaces.
_LEAF = (
    '{"actor":"apikey:key_%02d","attributes":{"model":"gpt-4o","policy_version":3,'
    '"redactions":{"inbound.email":%d},"status":200,"transcript_sha256":"%s"},'
    '"object_ids":{"request":"req%09d","transcript_id":"tr%09d"},"tenant":"tenant-%d",'
    '"time":"%s","type":"gateway.request"}'
)


def _leaf(n: int, when: datetime) -> bytes:
    digest = hashlib.sha256(n.to_bytes(8, "big")).hexdigest()
    values = (n % 20, n % 3, digest, n, n, n % 7, format_rfc3339(when))
    return (_LEAF % values).encode()


def _fill_ledger(instance: Instance, count: int) -> None:
    step = (NOW - YEAR_START) / count
    log = AuditLog.open(instance)
    try:
        for start in range(0, count, BATCH):
            batch = []
            for n in range(start, min(count, start + BATCH)):
                when = YEAR_START + step * n
                leaf = _leaf(n, when)
                batch.append(_Prepared(leaf, leaf_hash(leaf), "gateway.request", f"tenant-{n % 7}", f"apikey:key_{n % 20:02d}", when))
            log._wait(batch)
        log.checkpoint(new=True)
    finally:
        log.close()


def _fill_history(instance: Instance, hours: int) -> None:
    checks = [c for c in check_registry() if not c.startswith("test.")]
    rows = []
    for h in range(hours):
        when = YEAR_START + timedelta(hours=h)
        for index, check_id in enumerate(checks):
            status = "fail" if (h + index) % 997 == 0 else "pass"
            rows.append({"c": check_id, "s": status, "t": when, "m": f"{status} at hour {h}"})
    with instance.db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO check_results (check_id, status, ran_at, summary, evidence, evidence_sha256, remediation) "
                "VALUES (:c, :s, :t, :m, '{}', '" + "0" * 64 + "', '')"
            ),
            rows,
        )


def _fill_crypto(instance: Instance, transcripts: int) -> None:
    with instance.db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO crypto_keks (tenant, version, kms, key_ref, state, created_at) "
                "VALUES (:t, 1, 'local', :r, 'primary', :c)"
            ),
            [{"t": f"tenant-{i}", "r": f"k{i}", "c": NOW - timedelta(days=30)} for i in range(7)],
        )
        blob = b"AE\x01\x01" + os.urandom(80)
        conn.execute(
            text(
                "INSERT INTO crypto_transcripts (id, tenant, subject_ref, conversation_id, created_at, "
                "retention_deadline, ciphertext, ciphertext_sha256) VALUES (:i, :t, NULL, 'c', :c, :d, :b, :h)"
            ),
            [{"i": f"x{i}", "t": "tenant-1", "c": NOW - timedelta(days=2), "d": NOW + timedelta(days=28),
              "b": blob, "h": hashlib.sha256(blob).hexdigest()} for i in range(transcripts)],
        )


def _timed(work: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def run(*, quick: bool = False) -> dict[str, object]:
    events = 50_000 if quick else 1_000_000
    hours = 24 * (30 if quick else 365)
    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(data_dir=Path(scratch) / "data")
        init_instance(settings)
        instance = open_instance(settings, FixedClock(NOW))
        try:
            setup_s, _ = _timed(lambda: (_fill_ledger(instance, events), _fill_history(instance, hours), _fill_crypto(instance, 1_000)))
            library, registry = load_library(), check_registry()
            with instance.db.engine.connect() as conn:
                scan_s, _ = _timed(lambda: conn.execute(text("SELECT COUNT(*), MAX(event_time) FROM ledger_entries")).one())
            log = AuditLog.open(instance)
            vkey, origin = log.vkey, log.origin
            log.close()
            verify_s, _ = _timed(lambda: verify_database(instance.db, vkey, origin))
            assess_s, report = _timed(lambda: run_assessment(instance, library, registry))
            period = parse_period(f"{YEAR_START.date()}..{(NOW - timedelta(days=1)).date()}")
            type2_s, type2 = _timed(lambda: assess(instance, library, registry, period))
        finally:
            instance.close()
    return {
        "assess_seconds_1m_events": round(assess_s, 2),
        "assess_type2_seconds": round(type2_s, 2),
        "ledger_verify_seconds": round(verify_s, 2),
        "count_scan_seconds": round(scan_s, 3),
        "assess_vs_verify": round(assess_s / verify_s, 2),
        "assess_vs_count_scan": round(assess_s / scan_s, 1),
        "events": events,
        "check_results": hours * len([c for c in registry if not c.startswith("test.")]),
        "type2_exceptions": type2["summary"]["exceptions"],
        "readiness_score": report["summary"]["readiness_score"],
        "setup_seconds": round(setup_s, 1),
        "target_seconds": 10,
        "conditions": f"SQLite WAL on local disk, {os.cpu_count()} cores shared; ledger written through "
        f"the batch writer ({BATCH} leaves per transaction); hourly results for every check over "
        f"{hours // 24} days",
    }
