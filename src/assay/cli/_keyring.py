"""Opening the instance, ledger and keyring for the confidentiality commands."""

from __future__ import annotations

import getpass
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from assay.cli._common import instance_for
from assay.crypto import Keyring, TenantStore, TranscriptVault
from assay.crypto._audit import AuditSink
from assay.instance import Instance
from assay.ledger import AuditLog


@dataclass
class CryptoContext:
    instance: Instance
    audit: AuditSink
    keyring: Keyring

    @property
    def tenants(self) -> TenantStore:
        return TenantStore(self.instance, self.audit, self.keyring)

    @property
    def vault(self) -> TranscriptVault:
        return TranscriptVault(self.instance, self.keyring, self.audit)


def cli_actor() -> str:
    """``cli:<os user>``: who ran the command, as recorded in the ledger."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return "cli:" + (re.sub(r"[^A-Za-z0-9._-]", "_", user)[:200] or "unknown")


@contextmanager
def crypto_context(data_dir: Path | None) -> Iterator[CryptoContext]:
    instance = instance_for(data_dir)
    try:
        yield CryptoContext(instance, AuditLog.shared(instance), Keyring.shared(instance))
    finally:
        instance.close()
