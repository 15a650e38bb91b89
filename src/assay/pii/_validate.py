"""Checks that turn a pattern match into a detection: checksums, ranges, entropy.  (pure)"""

from __future__ import annotations

import ipaddress
import math
from collections import Counter
from datetime import date

import phonenumbers
from stdnum import iban as stdnum_iban
from stdnum.exceptions import ValidationError as StdnumValidationError

# Issuer (IIN) prefix ranges and the lengths each issuer uses.
_CARD_RANGES: tuple[tuple[int, int, frozenset[int]], ...] = (
    (4, 4, frozenset({13, 16, 19})),  # Visa
    (51, 55, frozenset({16})),  # Mastercard
    (2221, 2720, frozenset({16})),  # Mastercard 2-series
    (34, 34, frozenset({15})),  # American Express
    (37, 37, frozenset({15})),
    (300, 305, frozenset({14, 16, 19})),  # Diners Club
    (36, 36, frozenset({14, 16, 19})),
    (38, 39, frozenset({16, 19})),
    (6011, 6011, frozenset({16, 19})),  # Discover
    (644, 649, frozenset({16, 19})),
    (65, 65, frozenset({16, 19})),
    (3528, 3589, frozenset({16, 17, 18, 19})),  # JCB
    (62, 62, frozenset({16, 17, 18, 19})),  # UnionPay
    (50, 50, frozenset(range(12, 20))),  # Maestro
    (56, 58, frozenset(range(12, 20))),
    (2200, 2204, frozenset({16, 17, 18, 19})),  # Mir
)

# Published as examples or otherwise never issued.
_INVALID_SSNS = frozenset({"078051120", "219099999", "457555462", "123456789"})


def luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def card_ok(digits: str) -> bool:
    """A card number: a known issuer range with that issuer's length, and the Luhn check."""
    if not 12 <= len(digits) <= 19 or len(set(digits)) < 2:
        return False
    for low, high, lengths in _CARD_RANGES:
        width = len(str(low))
        if low <= int(digits[:width]) <= high and len(digits) in lengths:
            return luhn_ok(digits)
    return False


def ssn_ok(digits: str) -> bool:
    """A US SSN that could have been issued: area not 000/666/9xx, group not 00, serial not 0000."""
    if len(digits) != 9 or digits in _INVALID_SSNS or len(set(digits)) == 1:
        return False
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return area not in {"000", "666"} and area[0] != "9" and group != "00" and serial != "0000"


def iban_ok(compact: str) -> bool:
    try:
        stdnum_iban.validate(compact)
    except StdnumValidationError:
        return False
    return True


def ipv4_ok(text: str) -> bool:
    parts = text.split(".")
    return len(parts) == 4 and all(p.isdigit() and int(p) <= 255 and (p == "0" or p[0] != "0") for p in parts)


def ipv6_ok(text: str) -> bool:
    if text.count(":") < 2 or text.strip(":") == "":
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


_NATIONAL_REGIONS = ("GB", "DE", "FR", "AU", "IN", "IT", "ES", "NL")


def phone_ok(number: str, *, international: bool) -> bool:
    """A dialable number: ``+`` numbers by their country code, others as US or a 0-prefixed national number."""
    regions: tuple[str | None, ...]
    if international:
        regions = (None,)
    elif number[0] == "0":
        regions = _NATIONAL_REGIONS
    else:
        regions = ("US",)
    for region in regions:
        try:
            parsed = phonenumbers.parse(number, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            return True
    return False


def shannon_entropy(text: str) -> float:
    """Bits per character."""
    length = len(text)
    return -sum(n / length * math.log2(n / length) for n in Counter(text).values())


def looks_random(token: str) -> bool:
    """A credential-like token: long enough, several character classes, high entropy."""
    if len(token) < 12:
        return False
    classes = sum(
        (
            any(c.islower() for c in token),
            any(c.isupper() for c in token),
            any(c.isdigit() for c in token),
            any(not c.isalnum() for c in token),
        )
    )
    if classes < 2 or not any(c.isdigit() for c in token):
        return classes >= 3 and shannon_entropy(token) >= 3.5
    return shannon_entropy(token) >= 3.0


_MONTHS = {
    name: index
    for index, names in enumerate(
        (
            ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
            ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
            ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"), ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}


def month_number(name: str) -> int:
    return _MONTHS.get(name.lower().rstrip("."), 0)


def date_ok(year: int, month: int, day: int) -> bool:
    if year < 100:
        year += 1900 if year > 30 else 2000
    if not 1900 <= year <= 2030:
        return False
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True
