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
from assay.ledger._screen import (
    MAX_DEPTH,
    MAX_SAFE_INT,
    PII_FIELD_NAMES,
    name_problem,
    storable,
    string_problem,
)

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
#: Any JSON value except floats (floats have no single canonical form worth trusting).
JsonValue = Any

_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9][a-z0-9_-]*)+$")
_ACTOR = re.compile(r"^(system|(cli|apikey|user):[A-Za-z0-9._@:-]{1,200})$")
_IDENT = re.compile(r"^[A-Za-z0-9._:/-]{1,200}$")
def _check_name(path: str, key: str) -> None:
    problem = name_problem(key)
    if problem is not None:
        raise ValueError(f"{path}: {problem}")


def _check_string(path: str, value: str) -> None:
    problem = string_problem(value)
    if problem is not None:
        raise ValueError(f"{path}: {problem}")


def _check_json(path: str, value: object) -> None:
    """Raise a ValueError naming where ``value`` holds something the ledger may not store.

    Events are checked on every append, and nearly all pass: the compiled walk that accepts
    them builds no paths; only a refused value is walked again here to name the place.
    """
    if not storable(value, 0):
        _name_fault(path, value, 0)
        # The two walks agree (tested); should they ever not, the event is still refused.
        raise ValueError(f"{path}: the value cannot be stored in the ledger")


def _name_fault(path: str, value: object, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ValueError(f"{path}: nested deeper than {MAX_DEPTH} levels")
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INT:
            raise ValueError(f"{path}: integer {value} is outside ±(2**53-1); store it as a string")
    elif isinstance(value, str):
        _check_string(path, value)
    elif isinstance(value, float):
        raise ValueError(f"{path}: floats are not allowed in hashed payloads; use an integer or a string")
    elif isinstance(value, list | tuple):
        for position, item in enumerate(value):
            _name_fault(f"{path}[{position}]", item, depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_name(path, key)
            _name_fault(f"{path}.{key}", item, depth + 1)
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
