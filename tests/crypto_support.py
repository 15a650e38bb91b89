"""Fixtures shared by the confidentiality tests (registered in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from assay.crypto import Keyring, TenantStore, TranscriptVault
from assay.instance import Instance
from assay.ledger import AuditLog, Event


class RecordingAudit:
    """The real ledger, plus a copy of each appended event to assert on."""

    def __init__(self, inner: AuditLog) -> None:
        self.inner = inner
        self.events: list[Event] = []

    def append(self, event: Event) -> int:
        index = self.inner.append(event)
        self.events.append(event)
        return index

    def append_batch(self, events: Sequence[Event]) -> list[int]:
        indices = self.inner.append_batch(events)
        self.events.extend(events)
        return indices

    def of_type(self, type_: str) -> list[Event]:
        return [e for e in self.events if e.type == type_]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def audit(instance: Instance) -> Iterator[RecordingAudit]:
    log = AuditLog.open(instance)
    try:
        yield RecordingAudit(log)
    finally:
        log.close()


@pytest.fixture
def keyring(instance: Instance, audit: RecordingAudit) -> Keyring:
    return Keyring.open(instance, audit)


@pytest.fixture
def tenants(instance: Instance, audit: RecordingAudit, keyring: Keyring) -> TenantStore:
    return TenantStore(instance, audit, keyring)


@pytest.fixture
def vault(instance: Instance, audit: RecordingAudit, keyring: Keyring) -> TranscriptVault:
    return TranscriptVault(instance, keyring, audit)


def assert_ledger_verifies(audit: RecordingAudit) -> None:
    """Every stored leaf re-hashes to a freshly signed checkpoint whose signature verifies."""
    from assay.ledger.merkle import leaf_hash, root_from_leaf_hashes
    from assay.ledger.note import Verifier, open_checkpoint

    log = audit.inner
    signed = log.checkpoint(new=True)
    leaves = log.entry_leaves(0, signed.size)
    assert len(leaves) == signed.size
    assert root_from_leaf_hashes([leaf_hash(leaf) for leaf in leaves]) == signed.root
    checkpoint = open_checkpoint(signed.note, Verifier.from_vkey(log.vkey), log.origin)
    assert checkpoint.size == signed.size
