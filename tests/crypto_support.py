"""Fixtures shared by the confidentiality tests (imported by the test modules)."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from assay.crypto import Keyring, TenantStore, TranscriptVault
from assay.instance import Instance


@dataclass
class RecordedEvent:
    type: str
    actor: str
    tenant: str | None
    object_ids: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)


class RecordingAudit:
    """Forwards to the real ledger when present and keeps a copy to assert on."""

    def __init__(self, inner: Any | None) -> None:
        self.inner = inner
        self.events: list[Any] = []

    def append(self, event: Any) -> int:
        index = self.inner.append(event) if self.inner is not None else len(self.events)
        self.events.append(event)
        return int(index)

    def of_type(self, type_: str) -> list[Any]:
        return [e for e in self.events if e.type == type_]


def ledger_available() -> bool:
    try:
        importlib.import_module("assay.ledger")
    except ModuleNotFoundError:
        return False
    return True


@pytest.fixture
def audit(instance: Instance, monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingAudit]:
    if ledger_available():
        from assay.ledger import AuditLog  # type: ignore[import-not-found,unused-ignore]

        log = AuditLog.open(instance)
        try:
            yield RecordingAudit(log)
        finally:
            log.close()
        return
    monkeypatch.setattr("assay.crypto._audit._event_class", lambda: RecordedEvent)
    yield RecordingAudit(None)


@pytest.fixture
def keyring(instance: Instance, audit: RecordingAudit) -> Keyring:
    return Keyring.open(instance, audit)


@pytest.fixture
def tenants(instance: Instance, audit: RecordingAudit, keyring: Keyring) -> TenantStore:
    return TenantStore(instance, audit, keyring)


@pytest.fixture
def vault(instance: Instance, audit: RecordingAudit, keyring: Keyring) -> TranscriptVault:
    return TranscriptVault(instance, keyring, audit)


@pytest.fixture
def cli_audit(monkeypatch: pytest.MonkeyPatch) -> RecordingAudit | None:
    """Before the ledger exists in this build, CLI commands record into memory instead."""
    if ledger_available():
        return None
    memory = RecordingAudit(None)
    monkeypatch.setattr("assay.crypto._audit._event_class", lambda: RecordedEvent)
    monkeypatch.setattr("assay.cli._keyring.open_audit", lambda _instance: memory)
    return memory
