"""The typed audit event and its canonical leaf bytes.

An event commits to metadata only: who did what, to which objects, with which
outcome. Personal data never enters the ledger in plaintext, so validation
refuses fields declared as personal data and values that look like e-mail
addresses, phone numbers or payment card numbers. Record an id, or the SHA-256
of the ciphertext, instead.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
from typing import Any

import orjson
import rfc8785
from pydantic import BaseModel, ConfigDict, Field, field_validator

from assay.clock import format_rfc3339

__all__ = [
    "MAX_LEAF_BYTES",
    "PII_FIELD_NAMES",
    "RECORD_TYPE",
    "Event",
    "JsonValue",
    "canonical_json",
    "checkpoint_record",
]

#: Entry bundles (c2sp.org/tlog-tiles) prefix each entry with a big-endian uint16 length.
MAX_LEAF_BYTES = 65535
#: Type of the entry the sequencer appends with every checkpoint it signs (ADR 0014); reserved.
RECORD_TYPE = "ledger.checkpoint"
#: Integers beyond this lose precision in RFC 8785 (IEEE 754 doubles); refuse them.
_MAX_SAFE_INT = 2**53 - 1
_MAX_DEPTH = 16

#: Any JSON value except floats (floats have no single canonical form worth trusting).
JsonValue = Any

#: Field names (anywhere in an event, compared case-insensitively with ``-``/`` ``
#: read as ``_``) whose values are personal data or user content.
PII_FIELD_NAMES = frozenset(
    {
        "email", "e_mail", "email_address", "mail",
        "phone", "phone_number", "telephone", "mobile", "fax",
        "prompt", "prompts", "content", "contents", "text", "message", "messages",
        "completion", "body", "transcript", "input", "output",
        "name", "first_name", "last_name", "full_name", "given_name", "family_name",
        "display_name", "surname",
        "address", "street", "street_address", "home_address", "postal_address", "postcode",
        "zip", "zip_code",
        "ssn", "social_security_number", "national_id", "passport", "passport_number",
        "tax_id", "dob", "date_of_birth", "birthdate", "birth_date",
        "credit_card", "card_number", "pan", "iban", "password", "secret",
    }
)

_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9][a-z0-9_-]*)+$")
_ACTOR = re.compile(r"^(system|(cli|apikey|user):[A-Za-z0-9._@:-]{1,200})$")
_IDENT = re.compile(r"^[A-Za-z0-9._:/-]{1,200}$")
_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_PHONE = re.compile(r"(^|[^\w])(\+\d[\d ().-]{6,18}\d|\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4})($|[^\w])")
_UUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
_CARD = re.compile(r"(?<![0-9A-Za-z])(\d[ -]?){12,18}\d(?![0-9A-Za-z])")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _looks_personal(value: str) -> str | None:
    """Name the kind of personal data ``value`` looks like, or None."""
    if value.isascii() and value.isalnum() and not value.isdigit():
        # Letters and digits only, at least one letter (hashes, ids): no "@", no "+" and no
        # separator, so no pattern can match, and a card number would have to be the whole
        # string. Most of an event's strings are such; the searches cost microseconds.
        return None
    return _matching_pattern(value)


def _matching_pattern(value: str) -> str | None:
    """The personal-data patterns, in order (what :func:`_looks_personal` applies)."""
    if "@" in value and _EMAIL.search(value):
        return "an e-mail address"
    if _PHONE.search(value):
        return "a phone number"
    # A UUID's last two groups can be 16 digits that pass Luhn: never a card number.
    uuids = [match.span() for match in _UUID.finditer(value)] if "-" in value else []
    for match in _CARD.finditer(value):
        if any(start <= match.start() and match.end() <= end for start, end in uuids):
            continue
        digits = re.sub(r"\D", "", match.group(0))
        if 13 <= len(digits) <= 19 and _luhn_ok(digits):
            return "a payment card number"
    return None


#: Keys that passed :func:`_check_name` (a pure function of the key): events repeat a few
#: dozen keys, and the two regular expressions per key were a third of an event's validation.
_ACCEPTED_NAMES: set[str] = set()


def _check_name(path: str, key: str) -> None:
    if key in _ACCEPTED_NAMES:
        return
    _check_new_name(path, key)
    if len(_ACCEPTED_NAMES) < 4096:  # bounded: arbitrary keys cannot grow it without limit
        _ACCEPTED_NAMES.add(key)


def _check_new_name(path: str, key: str) -> None:
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise ValueError(f"{path}: key {key!r} must be 1-64 characters of A-Z a-z 0-9 _ . -")
    if re.sub(r"[-. ]", "_", key.lower()) in PII_FIELD_NAMES:
        raise ValueError(
            f"{path}: field name {key!r} is declared personal data and may not be stored "
            "in the ledger; record an id or the SHA-256 of the ciphertext instead"
        )


def _check_string(path: str, value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"{path}: the string is not valid Unicode text") from exc
    kind = _looks_personal(value)
    if kind is not None:
        raise ValueError(
            f"{path}: the value looks like {kind}; the ledger never stores personal data "
            "in plaintext (record an id or the SHA-256 of the ciphertext)"
        )


def _check_json(path: str, value: object, depth: int = 0) -> None:
    if depth > _MAX_DEPTH:
        raise ValueError(f"{path}: nested deeper than {_MAX_DEPTH} levels")
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if abs(value) > _MAX_SAFE_INT:
            raise ValueError(f"{path}: integer {value} is outside ±(2**53-1); store it as a string")
    elif isinstance(value, str):
        _check_string(path, value)
    elif isinstance(value, float):
        raise ValueError(f"{path}: floats are not allowed in hashed payloads; use an integer or a string")
    elif isinstance(value, list | tuple):
        for position, item in enumerate(value):
            _check_json(f"{path}[{position}]", item, depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_name(path, key)
            _check_json(f"{path}.{key}", item, depth + 1)
    else:
        raise ValueError(f"{path}: {type(value).__name__} is not a JSON value")


class Event(BaseModel):
    """One audit event. Immutable; the log's clock fills ``time`` when it is None."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)

    type: str = Field(description="Dotted lowercase, e.g. gateway.request or external.github.deploy.")
    actor: str = Field(description="cli:<os user>, apikey:<key id>, user:<user id> or system.")
    tenant: str | None = None
    time: datetime | None = None
    object_ids: dict[str, str] = Field(default_factory=dict)
    attributes: dict[str, JsonValue] = Field(default_factory=dict)

    @field_validator("type")
    @classmethod
    def _valid_type(cls, value: str) -> str:
        if len(value) > 128 or not _TYPE.fullmatch(value):
            raise ValueError(
                f"event type {value!r} must be dotted lowercase words such as "
                "'gateway.request' or 'external.github.deploy'"
            )
        if value == RECORD_TYPE:
            raise ValueError(f"event type {value!r} is reserved for the log's own checkpoint records")
        return value

    @field_validator("actor")
    @classmethod
    def _valid_actor(cls, value: str) -> str:
        if not _ACTOR.fullmatch(value):
            raise ValueError(
                f"actor {value!r} must be 'system' or cli:<os user>, apikey:<key id>, user:<user id>"
            )
        _check_string("actor", value)
        return value

    @field_validator("tenant")
    @classmethod
    def _valid_tenant(cls, value: str | None) -> str | None:
        if value is not None:
            if not _IDENT.fullmatch(value):
                raise ValueError(f"tenant {value!r} must be 1-200 characters of A-Z a-z 0-9 . _ : / -")
            _check_string("tenant", value)
        return value

    @field_validator("time")
    @classmethod
    def _utc_time(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("time must be timezone-aware (UTC); add a Z or +00:00 offset")
        return value.astimezone(UTC)

    @field_validator("object_ids")
    @classmethod
    def _valid_ids(cls, value: dict[str, str]) -> dict[str, str]:
        for key, item in value.items():
            _check_name("object_ids", key)
            if len(item) > 512:
                raise ValueError(f"object_ids.{key}: ids are at most 512 characters")
            _check_string(f"object_ids.{key}", item)
        return value

    @field_validator("attributes")
    @classmethod
    def _valid_attributes(cls, value: dict[str, Any]) -> dict[str, Any]:
        _check_json("attributes", value)
        return value

    def at(self, when: datetime) -> Event:
        """This event with ``time`` set (used by the log's clock)."""
        return self.model_copy(update={"time": when.astimezone(UTC)})

    def as_json(self, default_time: datetime | None = None) -> dict[str, Any]:
        """The JSON object that is hashed; ``time`` (or ``default_time``) must be set."""
        when = self.time or default_time
        if when is None:
            raise ValueError("the event has no time yet; the log's clock sets it")
        return _document(self, when)

    def leaf_bytes(self, default_time: datetime | None = None) -> bytes:
        """RFC 8785 canonical JSON of :meth:`as_json`: the Merkle leaf data."""
        return canonical_json(self.as_json(default_time))


def checkpoint_record(size: int, previous: tuple[int | None, bytes] | None) -> Event:
    """The ``ledger.checkpoint`` event ending the checkpoint of ``size`` entries.

    ``previous`` is the size and root of the checkpoint signed before it (None for the
    first). Built without validation: every value is an integer, hex or null, set here.
    """
    last_size, last_root = previous if previous is not None else (None, None)
    attributes = {
        "checkpoint_size": size,
        "previous_root": None if last_root is None else last_root.hex(),
        "previous_size": last_size,
    }
    return Event.model_construct(
        type=RECORD_TYPE, actor="system", tenant=None, time=None, object_ids={}, attributes=attributes
    )


def canonical_leaf(event: Event, default_time: datetime) -> bytes:
    """:meth:`Event.leaf_bytes` in one call: the sequencer runs this once per appended event."""
    return canonical_json(_document(event, event.time or default_time))


def _document(event: Event, when: datetime) -> dict[str, Any]:
    return {
        "actor": event.actor,
        "attributes": event.attributes,
        "object_ids": event.object_ids,
        "tenant": event.tenant,
        "time": _rfc3339(when),
        "type": event.type,
    }


@functools.lru_cache(maxsize=4096)
def _rfc3339(value: datetime) -> str:
    return format_rfc3339(value)


def _keys_sort_alike(value: object) -> bool:
    """True when Python's code-point key order equals RFC 8785's UTF-16 order."""
    if isinstance(value, dict):
        return all(k < "\ud800" and _keys_sort_alike(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(_keys_sort_alike(v) for v in value)
    return True


_dumps = orjson.dumps
_SORT_KEYS = orjson.OPT_SORT_KEYS


def canonical_json(value: object) -> bytes:
    """RFC 8785 canonical JSON for float-free values.

    For such values orjson's sorted, compact, non-ASCII-escaping output is
    byte-identical to RFC 8785 unless a key holds characters at or above
    U+D800 (where UTF-16 and code-point order differ); those go through the
    ``rfc8785`` library. A property test holds the two paths equal.
    """
    data = _dumps(value, option=_SORT_KEYS)
    if data.isascii() or _keys_sort_alike(value):
        return data
    return bytes(rfc8785.dumps(value))  # type: ignore[arg-type]
