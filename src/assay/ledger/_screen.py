"""The ledger's personal-data screen: what an event may hold (ADR 0012), as plain functions.

Compiled with mypyc (``setup.py``): every appended event is walked, and in the interpreter the
walk's calls cost more than its regular expressions. :mod:`assay.ledger.events` names the place
of a refused value; the functions here only decide, so an event that passes builds no paths.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "MAX_DEPTH",
    "MAX_SAFE_INT",
    "PII_FIELD_NAMES",
    "looks_personal",
    "matching_pattern",
    "name_problem",
    "storable",
]

#: Integers beyond this lose precision in RFC 8785 (IEEE 754 doubles); refuse them.
MAX_SAFE_INT: Final = 2**53 - 1
MAX_DEPTH: Final = 16

#: Field names (anywhere in an event, compared case-insensitively with ``-``/`` ``
#: read as ``_``) whose values are personal data or user content.
PII_FIELD_NAMES: Final = frozenset(
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

_KEY: Final = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_SEPARATORS: Final = re.compile(r"[-. ]")
_EMAIL: Final = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_PHONE: Final = re.compile(r"(^|[^\w])(\+\d[\d ().-]{6,18}\d|\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4})($|[^\w])")
_UUID: Final = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
_CARD: Final = re.compile(r"(?<![0-9A-Za-z])(\d[ -]?){12,18}\d(?![0-9A-Za-z])")
_NOT_DIGIT: Final = re.compile(r"\D")

#: Keys and short strings already found acceptable (pure functions of the value). Events repeat
#: a few dozen keys and a few model, upstream and endpoint names; bounded, and emptied when
#: full, so arbitrary values cannot grow them without limit.
_ACCEPTED_NAMES: set[str] = set()
_CLEAN_STRINGS: set[str] = set()
_CACHE_LIMIT: Final = 4096
_CACHED_LENGTH: Final = 128


def _luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def looks_personal(value: str) -> str | None:
    """Name the kind of personal data ``value`` looks like, or None."""
    if value.isascii() and value.isalnum() and not value.isdigit():
        # Letters and digits only, at least one letter (hashes, ids): no "@", no "+" and no
        # separator, so no pattern can match, and a card number would have to be the whole
        # string. Most of an event's strings are such; the searches cost microseconds.
        return None
    return matching_pattern(value)


def matching_pattern(value: str) -> str | None:
    """The personal-data patterns, in order (what :func:`looks_personal` applies)."""
    if "@" in value and _EMAIL.search(value):
        return "an e-mail address"
    if _PHONE.search(value):
        return "a phone number"
    # A UUID's last two groups can be 16 digits that pass Luhn: never a card number.
    uuids = [match.span() for match in _UUID.finditer(value)] if "-" in value else []
    for match in _CARD.finditer(value):
        if any(start <= match.start() and match.end() <= end for start, end in uuids):
            continue
        digits = _NOT_DIGIT.sub("", match.group(0))
        if 13 <= len(digits) <= 19 and _luhn_ok(digits):
            return "a payment card number"
    return None


def name_problem(key: object) -> str | None:
    """Why ``key`` may not name a field of an event, or None."""
    if isinstance(key, str) and key in _ACCEPTED_NAMES:
        return None
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        return f"key {key!r} must be 1-64 characters of A-Z a-z 0-9 _ . -"
    if _SEPARATORS.sub("_", key.lower()) in PII_FIELD_NAMES:
        return (
            f"field name {key!r} is declared personal data and may not be stored in the ledger; "
            "record an id or the SHA-256 of the ciphertext instead"
        )
    _remember(_ACCEPTED_NAMES, key)
    return None


def _remember(cache: set[str], value: str) -> None:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache.add(value)


def string_problem(value: str) -> str | None:
    """Why ``value`` may not be stored: not Unicode text, or the kind of personal data it holds."""
    if value in _CLEAN_STRINGS:
        return None
    if not value.isascii():  # ASCII always encodes; only lone surrogates fail
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "the string is not valid Unicode text"
    kind = looks_personal(value)
    if kind is not None:
        return (
            f"the value looks like {kind}; the ledger never stores personal data in plaintext "
            "(record an id or the SHA-256 of the ciphertext)"
        )
    if len(value) <= _CACHED_LENGTH:
        _remember(_CLEAN_STRINGS, value)
    return None


def storable(value: object, depth: int) -> bool:
    """True when ``value`` (at nesting ``depth``) is JSON the ledger may store: no floats, integers
    within ±(2**53-1), at most :data:`MAX_DEPTH` levels, no personal data in keys or strings."""
    if depth > MAX_DEPTH:
        return False
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -MAX_SAFE_INT <= value <= MAX_SAFE_INT
    if isinstance(value, str):
        return string_problem(value) is None
    if isinstance(value, float):
        return False
    if isinstance(value, list | tuple):
        return all(storable(item, depth + 1) for item in value)
    if isinstance(value, dict):
        for key, item in value.items():
            if name_problem(key) is not None or not storable(item, depth + 1):
                return False
        return True
    return False
