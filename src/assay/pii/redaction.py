"""Redaction policy and actions, whole-text redaction, and the fail-open/closed decision."""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from assay.errors import PIIError
from assay.pii.detector import Detector
from assay.pii.pseudonyms import PseudonymMap
from assay.pii.spans import Span

__all__ = [
    "Action",
    "RedactionPolicy",
    "RedactionResult",
    "fail_closed_total",
    "fail_open_total",
    "redact",
]

_MIN_HASH_KEY = 16
T = TypeVar("T")


class Action(StrEnum):
    """What happens to a detected value of a type."""

    MASK = "mask"  # [EMAIL_ADDRESS]
    PARTIAL = "partial"  # [CREDIT_CARD ****1111]: the last four characters stay
    HASH = "hash"  # [EMAIL_ADDRESS:<16 hex of HMAC-SHA256 with the tenant key>]
    PSEUDONYM = "pseudonym"  # <EMAIL_ADDRESS_1>, reversible with the conversation's PseudonymMap
    DROP = "drop"  # removed
    ALLOW = "allow"  # left as it is


DEFAULT_INBOUND: dict[str, Action] = {
    "SECRET": Action.MASK,
    "EMAIL_ADDRESS": Action.MASK,
    "PHONE_NUMBER": Action.MASK,
    "CREDIT_CARD": Action.PARTIAL,
    "US_SSN": Action.MASK,
    "IBAN_CODE": Action.MASK,
}


@dataclass(frozen=True)
class RedactionPolicy:
    """Per-tenant redaction: an action per type (unlisted types are allowed), and the limits."""

    actions: Mapping[str, Action]
    hash_key: bytes | None = None
    min_score: float = 0.5
    fail_open: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "actions", {k: Action(a) for k, a in self.actions.items()})
        if not 0.0 <= self.min_score <= 1.0:
            raise PIIError(f"min_score {self.min_score} is outside 0..1", hint="Use a score between 0 and 1 (default 0.5).")
        needs_key = Action.HASH in self.actions.values()
        if needs_key and (self.hash_key is None or len(self.hash_key) < _MIN_HASH_KEY):
            raise PIIError(
                "the HASH action needs a tenant hash key of at least 16 bytes",
                hint="Pass hash_key (a per-tenant secret); unsalted hashes of personal data are not allowed.",
            )

    @classmethod
    def default_inbound(cls, hash_key: bytes | None = None) -> RedactionPolicy:
        """The secure default for text leaving for a provider: secrets and contact/financial ids."""
        return cls(actions=dict(DEFAULT_INBOUND), hash_key=hash_key)

    def action_for(self, entity_type: str) -> Action:
        return self.actions.get(entity_type, Action.ALLOW)

    def applies_to(self, span: Span) -> bool:
        return span.score >= self.min_score and self.action_for(span.type) is not Action.ALLOW


@dataclass(frozen=True)
class RedactionResult:
    text: str
    counts: dict[str, int] = field(default_factory=dict)
    spans: list[Span] = field(default_factory=list)
    failed_open: bool = False


class _Counters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.fail_open = 0
        self.fail_closed = 0

    def add(self, *, opened: bool) -> None:
        with self._lock:
            if opened:
                self.fail_open += 1
            else:
                self.fail_closed += 1


_COUNTERS = _Counters()


def fail_open_total() -> int:
    """Times detection failed and a fail-open policy let the text through (for /metrics)."""
    return _COUNTERS.fail_open


def fail_closed_total() -> int:
    """Times detection failed and the text was refused."""
    return _COUNTERS.fail_closed


def replacement(span: Span, value: str, policy: RedactionPolicy, pseudonyms: PseudonymMap | None) -> str:
    action = policy.action_for(span.type)
    if action is Action.MASK:
        return f"[{span.type}]"
    if action is Action.PARTIAL:
        tail = "".join(c for c in value if c.isalnum())[-4:]
        return f"[{span.type} ****{tail}]" if tail else f"[{span.type}]"
    if action is Action.HASH:
        assert policy.hash_key is not None  # checked by RedactionPolicy
        message = f"{span.type}\x00{_normalise(span.type, value)}".encode()
        digest = hmac.new(policy.hash_key, message, hashlib.sha256).hexdigest()[:16]
        return f"[{span.type}:{digest}]"
    if action is Action.PSEUDONYM:
        if pseudonyms is None:
            raise PIIError(
                f"the policy pseudonymises {span.type} but no PseudonymMap was given",
                hint="Pass the conversation's PseudonymMap to redact() / StreamRedactor.",
            )
        return pseudonyms.pseudonym_for(span.type, value)
    if action is Action.DROP:
        return ""
    return value


def _normalise(entity_type: str, value: str) -> str:
    """The same value in another format hashes the same (digits only, lower-case e-mail)."""
    if entity_type in ("CREDIT_CARD", "PHONE_NUMBER", "US_SSN"):
        return "".join(c for c in value if c.isdigit())
    if entity_type in ("EMAIL_ADDRESS", "IBAN_CODE"):
        return value.replace(" ", "").lower()
    return value


def render(
    text: str, region: tuple[int, int], spans: list[Span], policy: RedactionPolicy, pseudonyms: PseudonymMap | None
) -> tuple[str, dict[str, int], list[Span]]:
    """``text[start:end]`` with every applicable span replaced; spans must lie inside and not overlap."""
    start, end = region
    pieces: list[str] = []
    counts: dict[str, int] = {}
    applied: list[Span] = []
    position = start
    for span in spans:
        if not policy.applies_to(span):
            continue
        pieces.append(text[position : span.start])
        pieces.append(replacement(span, text[span.start : span.end], policy, pseudonyms))
        counts[span.type] = counts.get(span.type, 0) + 1
        applied.append(span)
        position = span.end
    pieces.append(text[position:end])
    return "".join(pieces), counts, applied


def guarded(policy: RedactionPolicy, detection: Callable[[], T]) -> T | None:
    """``detection()``, or ``None`` when it failed and the policy fails open (counted either way)."""
    try:
        return detection()
    except Exception as exc:
        _COUNTERS.add(opened=policy.fail_open)
        if policy.fail_open:
            return None
        raise PIIError(
            "PII detection failed, so the text was not passed on",
            hint="Retry; if it persists, check the detector (and any NER backend) or set fail_open in the policy.",
        ) from exc


def redact(
    text: str, policy: RedactionPolicy, detector: Detector, pseudonyms: PseudonymMap | None = None
) -> RedactionResult:
    """Replace what ``detector`` finds per ``policy``; fail closed (PIIError) unless ``policy.fail_open``."""
    spans = guarded(policy, lambda: detector.detect(text))
    if spans is None:
        return RedactionResult(text, {}, [], failed_open=True)
    if not spans:
        return RedactionResult(text, {}, [])
    redacted, counts, applied = render(text, (0, len(text)), spans, policy, pseudonyms)
    return RedactionResult(redacted, counts, applied)
