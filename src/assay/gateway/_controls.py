"""Adapters from the gateway to the redaction (``assay.pii``) and vault (``assay.crypto``) areas.

Each adapter is opened lazily and raises the owning area's error when its
component is missing or failing, so the pipeline can fail closed (default) or,
when the tenant's policy says so, pass and count the bypass.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from assay.errors import AssayError, CryptoError, PIIError
from assay.gateway.policy import TenantPolicy
from assay.instance import Instance

__all__ = ["Redaction", "RequestRedactor", "SealedRecord", "StoredRecord", "Vault"]

_HASH_PURPOSE = "pii-hash"


_LOADED: dict[str, Any] = {}


def _pii() -> Any:
    pii = _LOADED.get("pii")  # looked up per redacted string: keep it a dict read
    if pii is not None:
        return pii
    try:
        pii = _LOADED["pii"] = importlib.import_module("assay.pii")
    except ImportError as exc:
        raise PIIError(
            "the redaction component is not available in this installation",
            hint="Install Assay with the PII component; requests are refused until then.",
        ) from exc
    return pii


def _pii_policy(pii: Any, actions: Mapping[str, str], hash_key: bytes | None, policy: TenantPolicy) -> Any:
    """The detector policy for one direction of a tenant policy."""
    try:
        return pii.RedactionPolicy(
            actions=dict(actions), hash_key=hash_key, fail_open=policy.on_failure == "open", min_score=policy.min_score
        )
    except AssayError:
        raise
    except Exception as exc:
        raise PIIError(f"the tenant's redaction policy is not usable: {exc}") from exc


@dataclass
class RequestRedactor:
    """Redaction for one request: both directions share one pseudonym map and one tally."""

    inbound_policy: Any
    outbound_policy: Any
    detector: Any
    pseudonyms: Any
    restore: bool
    counts: dict[str, int] = field(default_factory=dict)
    failed_open: bool = False

    def _run(self, text: str, policy: Any, direction: str, tally: bool = True) -> str:
        try:
            result = _pii().redact(text, policy, self.detector, self.pseudonyms)
        except AssayError:
            raise
        except Exception as exc:
            raise PIIError(f"redaction failed: {type(exc).__name__}") from exc
        if result.failed_open:
            self.failed_open = True
        if not tally:
            return str(result.text)
        for kind, n in result.counts.items():
            key = f"{direction}.{kind}"
            self.counts[key] = self.counts.get(key, 0) + int(n)
        return str(result.text)

    def inbound(self, text: str) -> str:
        return self._run(text, self.inbound_policy, "in")

    def outbound(self, text: str) -> str:
        return self._run(text, self.outbound_policy, "out")

    def outbound_repeat(self, text: str) -> str:
        """Outbound redaction of text already counted once (a stream's summary events)."""
        return self._run(text, self.outbound_policy, "out", tally=False)

    @functools.cached_property
    def redacts_outbound(self) -> bool:
        """Whether any type is redacted on the way out (token log-probabilities are then withheld)."""
        return any(str(action) != "allow" for action in self.outbound_policy.actions.values())

    def restored(self, text: str) -> str:
        """The client's own values put back where inbound pseudonymised them."""
        return str(self.pseudonyms.restore(text)) if self.restore else text

    def stream(self) -> Any:
        """A streaming-safe outbound redactor for one text channel."""
        return _pii().StreamRedactor(self.outbound_policy, self.detector, self.pseudonyms)

    def stream_restorer(self) -> Any:
        """Restores pseudonyms in a stream of redacted deltas (None when the policy keeps them)."""
        return _pii().PseudonymRestorer(self.pseudonyms) if self.restore else None


class Redaction:
    """Builds a :class:`RequestRedactor` per request from the tenant's policy."""

    def __init__(self, keyring_factory: Callable[[], Any], ner_spec: str | None = None) -> None:
        self._keyring_factory = keyring_factory
        self._ner_spec = ner_spec  # ASSAY_PII_NER: PERSON/LOCATION backend, loaded on first use
        self._detector: Any = None
        self._policies: dict[tuple[str, int], tuple[Any, Any]] = {}

    def _hash_key(self, tenant: str, policy: TenantPolicy) -> bytes | None:
        """The tenant's keyed-hash secret, needed only when the policy hashes something."""
        if "hash" not in {*policy.inbound.values(), *policy.outbound.values()}:
            return None
        return bytes(self._keyring_factory().derive_key(tenant, _HASH_PURPOSE))

    def detector(self) -> Any:
        """The one detector every request shares, built on first use (about half a second)."""
        if self._detector is None:
            pii = _pii()
            backend = pii.load_ner_backend(self._ner_spec) if self._ner_spec else None
            self._detector = pii.Detector(ner_backend=backend)
        return self._detector

    def for_request(self, tenant: str, policy_version: int, policy: TenantPolicy) -> RequestRedactor:
        pii = _pii()
        detector = self.detector()
        pair = self._policies.get((tenant, policy_version))
        if pair is None:
            hash_key = self._hash_key(tenant, policy)
            pair = (
                _pii_policy(pii, policy.inbound, hash_key, policy),
                _pii_policy(pii, policy.outbound, hash_key, policy),
            )
            self._policies[(tenant, policy_version)] = pair
        return RequestRedactor(
            inbound_policy=pair[0],
            outbound_policy=pair[1],
            detector=detector,
            pseudonyms=pii.PseudonymMap(),
            restore=policy.restore_pseudonyms,
        )


@dataclass(frozen=True)
class StoredRecord:
    transcript_id: str
    ciphertext_sha256: str


@dataclass(frozen=True)
class SealedRecord:
    """An encrypted transcript and the row that stores it (with the ledger event, or alone)."""

    record: StoredRecord
    companion: tuple[Any, dict[str, Any]]


class Vault:
    """The tenant-encrypted transcript store (``assay.crypto.TranscriptVault``)."""

    def __init__(self, instance: Instance, audit_log: Callable[[], Any]) -> None:
        self._instance = instance
        self._audit_log = audit_log
        self._keyring: Any = None
        self._vault: Any = None
        self._tenants: Any = None
        self._known_tenants: set[str] = set()
        # SQLite takes one writer at a time: one writer thread queues transcripts instead of
        # several threads contending (and backing off) on the database lock.
        workers = 1 if instance.db.is_sqlite else 8
        self._writer = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="assay-vault")

    def keyring(self) -> Any:
        if self._keyring is None:
            try:
                crypto = importlib.import_module("assay.crypto")
            except ImportError as exc:
                raise CryptoError(
                    "the key store is not available in this installation",
                    hint="Install Assay with the crypto component; requests are refused until then.",
                ) from exc
            self._keyring = _wrap(lambda: crypto.Keyring.shared(self._instance))
        return self._keyring

    def _open(self) -> Any:
        if self._vault is None:
            keyring = self.keyring()
            crypto = importlib.import_module("assay.crypto")
            self._tenants = crypto.TenantStore(self._instance, self._audit_log())
            self._vault = _wrap(lambda: crypto.TranscriptVault(self._instance, keyring, self._audit_log()))
        return self._vault

    def ready(self) -> None:
        """Raise :class:`CryptoError` unless transcripts can be stored."""
        self._open()

    def seal(self, tenant: str, conversation_id: str, transcript: bytes, retention_days: int) -> SealedRecord:
        """Encrypt under the tenant's key (microseconds with a cached key); nothing is stored yet."""
        vault = self._open()
        try:
            sealed = vault.seal(tenant, conversation_id, transcript, retention_days=retention_days)
        except AssayError:
            raise
        except Exception as exc:
            raise CryptoError(f"the transcript could not be encrypted: {exc}") from exc
        crypto = importlib.import_module("assay.crypto")
        record = StoredRecord(str(sealed.stored.id), str(sealed.stored.ciphertext_sha256))
        return SealedRecord(record, (crypto.TRANSCRIPTS, sealed.row))

    async def insert(self, sealed: SealedRecord) -> None:
        """Store a sealed transcript on its own (when no ledger event carries it)."""
        db = self._instance.db
        table, row = sealed.companion

        def work() -> None:
            with db.session() as session:
                session.execute(table.insert(), [row])

        try:
            await asyncio.get_running_loop().run_in_executor(self._writer, work)
        except Exception as exc:
            raise CryptoError(f"the transcript could not be stored: {exc}") from exc

    def close(self) -> None:
        """Finish queued transcript writes."""
        self._writer.shutdown(wait=True)

    def ensure_tenant(self, tenant: str, actor: str) -> None:
        """Create the tenant in the crypto area's tenant table if it is not there yet."""
        if tenant in self._known_tenants:
            return
        self._open()
        from assay.errors import NotFoundError

        try:
            self._tenants.get(tenant)
        except NotFoundError:
            self._tenants.create(tenant, actor)
        self._known_tenants.add(tenant)


def _wrap(factory: Callable[[], Any]) -> Any:
    try:
        return factory()
    except CryptoError:
        raise
    except AssayError as exc:  # e.g. a master key with loose permissions: unavailable, 503
        raise CryptoError(f"the key store could not be opened: {exc.message}", hint=exc.hint) from exc
    except Exception as exc:
        raise CryptoError(f"the key store could not be opened: {exc}") from exc
