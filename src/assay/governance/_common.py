"""Small helpers shared by the governance modules."""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Mapping
from typing import Any

import rfc8785

from assay.errors import UsageError
from assay.ids import hex_id

__all__ = [
    "DEFAULT_MAX_REGRESSION_BP",
    "DEFAULT_MIN_PASS_RATE_BP",
    "canonical_sha256",
    "check_identifier",
    "local_epoch",
    "new_id",
    "notify_local_change",
    "same_person",
    "sha256_text",
]

DEFAULT_MIN_PASS_RATE_BP = 9000  # 90.00 %
DEFAULT_MAX_REGRESSION_BP = 500  # 5.00 percentage points

_IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$")


def canonical_sha256(value: Mapping[str, Any]) -> str:
    """SHA-256 of the RFC 8785 canonical JSON of ``value``."""
    try:
        return hashlib.sha256(rfc8785.dumps(dict(value))).hexdigest()
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise UsageError(
            f"value cannot be canonicalised as JSON: {exc}",
            hint="Use JSON objects, strings, integers, booleans and finite numbers only.",
        ) from exc


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def new_id(prefix: str) -> str:
    return f"{prefix}_{hex_id()}"


def check_identifier(kind: str, value: str) -> str:
    if not _IDENTIFIER.match(value):
        raise UsageError(
            f"{kind} {value!r} is not a valid identifier",
            hint="Use 1-200 letters, digits and . _ : / @ + - (starting with a letter or digit).",
        )
    return value


def _principal_name(actor: str) -> str:
    kind, sep, name = actor.strip().partition(":")
    return (name if sep else kind).strip().casefold()


def same_person(a: str, b: str) -> bool:
    """Actors compare by name without case, space or kind prefix.

    So ``cli:Bob`` cannot approve a change ``user:bob`` requested: when in
    doubt the two are treated as one person (separation of duties fails safe).
    """
    return _principal_name(a) == _principal_name(b)


_epoch = [0]  # moved by route changes made in this process; resolvers re-check at once
_epoch_lock = threading.Lock()


def notify_local_change() -> None:
    with _epoch_lock:
        _epoch[0] += 1


def local_epoch() -> int:
    return _epoch[0]
