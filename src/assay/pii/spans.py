"""Entity types and the detection result (a span of text with a type and a score).  (pure)"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol, runtime_checkable

__all__ = [
    "NER_TYPES",
    "STRUCTURED_TYPES",
    "EntityType",
    "NerBackend",
    "Span",
    "entity_types",
]


class Span(NamedTuple):
    """One detection: ``text[start:end]`` is an entity of ``type`` found by ``recognizer``.

    ``start``/``end`` are Python string offsets; ``score`` is a confidence in [0, 1].
    """

    start: int
    end: int
    type: str
    score: float
    recognizer: str


@dataclass(frozen=True, slots=True)
class EntityType:
    """An entity type Assay knows, and what finds it."""

    name: str
    description: str
    needs_ner: bool


_TYPES: tuple[EntityType, ...] = (
    EntityType("EMAIL_ADDRESS", "E-mail addresses, also spelled out (`jane dot doe at example dot com`)", False),
    EntityType("PHONE_NUMBER", "Phone numbers in international and national formats (phonenumbers)", False),
    EntityType("CREDIT_CARD", "Payment card numbers: Luhn checksum and known issuer ranges", False),
    EntityType("US_SSN", "US social security numbers; impossible areas, groups and serials rejected", False),
    EntityType("IBAN_CODE", "International bank account numbers with a valid checksum", False),
    EntityType("IP_ADDRESS", "IPv4 and IPv6 addresses", False),
    EntityType("SECRET", "Provider API keys and tokens, JWTs, PEM private keys, credentials next to key words", False),
    EntityType("DATE_OF_BIRTH", "Dates that are said to be a birth date", False),
    EntityType("PERSON", "Names of people (needs a named-entity backend)", True),
    EntityType("LOCATION", "Places and addresses (needs a named-entity backend)", True),
)

STRUCTURED_TYPES: frozenset[str] = frozenset(t.name for t in _TYPES if not t.needs_ner)
NER_TYPES: frozenset[str] = frozenset(t.name for t in _TYPES if t.needs_ner)


def entity_types() -> tuple[EntityType, ...]:
    """Every entity type Assay can report, in display order."""
    return _TYPES


# Here rather than in detector.py, which may be compiled: a compiled class cannot be a Protocol.
@runtime_checkable
class NerBackend(Protocol):
    """A named-entity recogniser (for PERSON, LOCATION, ...) plugged into a :class:`Detector`.

    ``analyze`` returns spans with offsets into the text it was given. It must not
    download anything; a backend whose model is missing should raise at construction.
    """

    @property
    def entity_types(self) -> frozenset[str]: ...

    def analyze(self, text: str) -> Sequence[Span]: ...
