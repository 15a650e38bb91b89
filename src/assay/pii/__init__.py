"""PII and secret detection and redaction: offline, one combined scan, streaming-safe.

Public API (the gateway and the CLI use only these names)::

    detector = Detector()                      # compiled once, immutable, thread-safe
    spans = detector.detect(text)              # [Span(start, end, type, score, recognizer)]
    policy = RedactionPolicy.default_inbound(hash_key)
    result = redact(text, policy, detector)    # RedactionResult(text, counts, spans)
    stream = StreamRedactor(policy, detector)  # .feed(delta) -> str, .finish() -> str

    # PERSON / LOCATION need a named-entity backend (optional extra ``assay[ner]``):
    detector = Detector(ner_backend=load_ner_backend("spacy:en_core_web_sm"))
"""

from __future__ import annotations

from assay.pii.detector import Detector, NerBackend
from assay.pii.ner import SpacyBackend, load_ner_backend
from assay.pii.pseudonyms import PseudonymMap, PseudonymRestorer
from assay.pii.redaction import (
    Action,
    RedactionPolicy,
    RedactionResult,
    fail_closed_total,
    fail_open_total,
    redact,
)
from assay.pii.spans import NER_TYPES, STRUCTURED_TYPES, EntityType, Span, entity_types
from assay.pii.stream import StreamRedactor

__all__ = [
    "NER_TYPES",
    "STRUCTURED_TYPES",
    "Action",
    "Detector",
    "EntityType",
    "NerBackend",
    "PseudonymMap",
    "PseudonymRestorer",
    "RedactionPolicy",
    "RedactionResult",
    "SpacyBackend",
    "Span",
    "StreamRedactor",
    "entity_types",
    "fail_closed_total",
    "fail_open_total",
    "load_ner_backend",
    "redact",
]
