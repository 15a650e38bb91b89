"""Confidentiality: envelope encryption, keyring and KMS backends, rotation,
crypto-shredding, tenants and the transcript vault."""

from __future__ import annotations

from assay.crypto import doctor as _doctor  # noqa: F401 - registers the `assay doctor` KMS finding
from assay.crypto.envelope import Envelope
from assay.crypto.keyring import Keyring, KeyVersionInfo
from assay.crypto.kms import KMS, AwsKMS, LocalKMS, open_kms
from assay.crypto.tenants import Tenant, TenantStore
from assay.crypto.vault import (
    TRANSCRIPTS,
    RetentionScheduler,
    SealedTranscript,
    StoredTranscript,
    TranscriptInfo,
    TranscriptVault,
    run_retention,
    start_retention_scheduler,
)
from assay.errors import CryptoError, ErasedError

__all__ = [
    "KMS",
    "TRANSCRIPTS",
    "AwsKMS",
    "CryptoError",
    "Envelope",
    "ErasedError",
    "KeyVersionInfo",
    "Keyring",
    "LocalKMS",
    "RetentionScheduler",
    "SealedTranscript",
    "StoredTranscript",
    "Tenant",
    "TenantStore",
    "TranscriptInfo",
    "TranscriptVault",
    "open_kms",
    "run_retention",
    "start_retention_scheduler",
]
