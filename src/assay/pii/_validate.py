"""Checks that turn a pattern match into a detection: checksums, ranges, entropy.  (pure)"""

from __future__ import annotations

import ipaddress
import math
import re
import threading
from datetime import date
from typing import Final

import phonenumbers
from stdnum import numdb

# Issuer (IIN) prefix ranges and the lengths each issuer uses.
_CARD_RANGES: Final[tuple[tuple[int, int, frozenset[int]], ...]] = (
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
_INVALID_SSNS: Final = frozenset({"078051120", "219099999", "457555462", "123456789"})


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum, with character codes as digit values (the scan may hand over any Unicode
    digits; for ASCII digits these are their values). A native loop when compiled (ADR 0039)."""
    total = 0
    doubled = False
    for index in range(len(digits) - 1, -1, -1):
        value = ord(digits[index]) - 48
        if doubled:
            value *= 2
            if value > 9:
                value -= 9
        total += value
        doubled = not doubled
    return total % 10 == 0


def _ranges_by_first_digit() -> dict[str, tuple[tuple[int, int, int, frozenset[int]], ...]]:
    """``_CARD_RANGES`` grouped by the first digit they can start with, each with its prefix width."""
    table: dict[str, list[tuple[int, int, int, frozenset[int]]]] = {}
    for low, high, lengths in _CARD_RANGES:
        width = len(str(low))
        for first in sorted({str(low)[0], str(high)[0]}):
            table.setdefault(first, []).append((width, low, high, lengths))
    return {first: tuple(ranges) for first, ranges in table.items()}


_RANGES_BY_FIRST_DIGIT: Final = _ranges_by_first_digit()


def card_ok(digits: str) -> bool:
    """A card number: a known issuer range with that issuer's length, and the Luhn check."""
    ranges = _RANGES_BY_FIRST_DIGIT.get(digits[:1])
    if ranges is None or not 12 <= len(digits) <= 19 or digits.count(digits[0]) == len(digits):
        return False
    for width, low, high, lengths in ranges:
        if len(digits) in lengths and low <= int(digits[:width]) <= high:
            return luhn_ok(digits)
    return False


def ssn_ok(digits: str) -> bool:
    """A US SSN that could have been issued: area not 000/666/9xx, group not 00, serial not 0000."""
    if len(digits) != 9 or digits in _INVALID_SSNS or len(set(digits)) == 1:
        return False
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return area not in {"000", "666"} and area[0] != "9" and group != "00" and serial != "0000"


# Letters as the two-digit numbers of ISO 7064 mod 97-10 (A = 10 ... Z = 35).
_BASE36: Final = str.maketrans({chr(code): str(code - 55) for code in range(65, 91)})
_IBAN_DB: Final = numdb.get("iban")
_LAYOUT_PART: Final = re.compile(r"([1-9][0-9]*)!([nac])")
_LAYOUT_CLASS: Final = {"n": "[0-9]", "a": "[A-Z]", "c": "[A-Za-z0-9]"}
_layouts: Final[dict[str, re.Pattern[str] | None]] = {}  # at most one entry per two-letter code
_layouts_lock = threading.Lock()


def _bban_layout(country: str) -> re.Pattern[str] | None:
    """The account-number layout python-stdnum's IBAN registry gives ``country``, if it knows it."""
    if country in _layouts:
        return _layouts[country]
    first, props = _IBAN_DB.info(country)[0]
    layout = None
    if first == country and props:
        parts = _LAYOUT_PART.sub(lambda m: f"{_LAYOUT_CLASS[m.group(2)]}{{{m.group(1)}}}", props.get("bban", ""))
        layout = re.compile(parts)
    with _layouts_lock:
        _layouts[country] = layout
    return layout


def iban_ok(compact: str) -> bool:
    """An IBAN (upper-case, no spaces): the mod-97 checksum holds and the layout is its country's.

    The same decision as ``stdnum.iban.validate(number, check_country=False)`` (tested),
    without its per-call registry look-up, which cost more than everything else here.
    """
    rotated = (compact[4:] + compact[:4]).translate(_BASE36)
    if not (rotated.isascii() and rotated.isdigit()) or int(rotated) % 97 != 1:
        return False
    layout = _bban_layout(compact[:2])
    return layout is not None and layout.fullmatch(compact[4:]) is not None


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


_TYPE_DESCS: Final = (
    "fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost", "personal_number",
    "voip", "pager", "uan", "voicemail",
)
_plans: Final[dict[str, re.Pattern[str] | None]] = {}
_plans_lock = threading.Lock()


def _plan(region: str) -> re.Pattern[str] | None:
    """One compiled pattern for every valid national number of ``region`` (phonenumbers metadata).

    Matching it is what ``phonenumbers.is_valid_number_for_region`` decides, without the
    per-call parsing and per-type loop.
    """
    plan = _plans.get(region, _MISSING)
    if plan is not _MISSING:
        return plan
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    patterns = []
    if metadata is not None:
        for name in _TYPE_DESCS:
            desc = getattr(metadata, name, None)
            if desc is not None and desc.national_number_pattern:
                patterns.append(f"(?:{desc.national_number_pattern})")
    compiled = re.compile("|".join(patterns)) if patterns else None
    with _plans_lock:
        _plans[region] = compiled
    return compiled


_MISSING: Final = re.compile("")


def preload_phone_metadata() -> None:
    """Compile every region's numbering plan now, not lazily inside a latency-sensitive call."""
    if not _plans:
        phonenumbers.PhoneMetadata.load_all()
        for code, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items():
            for region in regions:
                _plan(region)
            _country_plan(code)
        _national_plan()


def _valid_national(national: str, region: str) -> bool:
    plan = _plan(region)
    return plan is not None and plan.fullmatch(national) is not None


def _valid_international(digits: str) -> bool:
    """``digits`` after a ``+``: a country calling code, then a valid national number there.

    "+49 030 ..." (a trunk prefix kept after the country code) is accepted too.
    """
    for size in (1, 2, 3):
        plan = _country_plans.get(int(digits[:size]), _MISSING)
        if plan is _MISSING:
            plan = _country_plan(int(digits[:size]))
        if plan is not None:
            return plan.fullmatch(digits[size:]) is not None
        if phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(digits[:size])):
            return False  # a country whose regions have no plan
    return False


_country_plans: Final[dict[int, re.Pattern[str] | None]] = {}


def _country_plan(code: int) -> re.Pattern[str] | None:
    """One pattern for what any region of a calling code accepts, with or without its trunk prefix:
    the same decision as trying ``_valid_national`` and ``_valid_trunk`` region by region."""
    parts = []
    for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code, ()):
        plan = _plan(region) if region != "001" else None
        if plan is None:
            continue
        parts.append(f"(?:{plan.pattern})")
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        prefix = metadata.national_prefix if metadata is not None else None
        if prefix:
            parts.append(f"{re.escape(prefix)}(?:{plan.pattern})")
    compiled = re.compile("|".join(parts)) if parts else None
    with _plans_lock:
        _country_plans[code] = compiled
    return compiled


_NATIONAL_REGIONS: Final = ("GB", "DE", "FR", "AU", "IN", "IT", "ES", "NL")
_national_plans: Final[list[re.Pattern[str] | None]] = []


def _national_plan() -> re.Pattern[str] | None:
    """One pattern for ``_valid_trunk(number, r)`` over ``_NATIONAL_REGIONS``: a region's plan after
    its trunk prefix when the number starts with that prefix, else over the whole number."""
    if _national_plans:
        return _national_plans[0]
    parts = []
    for region in _NATIONAL_REGIONS:
        plan = _plan(region)
        if plan is None:
            continue
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        prefix = re.escape(metadata.national_prefix) if metadata is not None and metadata.national_prefix else ""
        parts.append(f"{prefix}(?:{plan.pattern})|(?!{prefix})(?:{plan.pattern})" if prefix else f"(?:{plan.pattern})")
    compiled = re.compile("|".join(parts)) if parts else None
    with _plans_lock:
        if not _national_plans:
            _national_plans.append(compiled)
    return _national_plans[0]


def phone_ok(number: str, *, international: bool) -> bool:
    """A dialable number: ``+`` numbers by their country code, others as US/Canada or a 0-prefixed national number."""
    if international:
        return _valid_international(number.lstrip("+"))
    if number[0] == "0":
        if number.startswith("00"):  # "0049 30 ...": the international call prefix instead of "+"
            return _valid_international(number[2:])
        plan = _national_plan()
        return plan is not None and plan.fullmatch(number) is not None
    national = number[1:] if len(number) == 11 else number
    return _valid_national(national, "US") or _valid_national(national, "CA")


def _valid_trunk(number: str, region: str) -> bool:
    """A national number as dialled inside ``region`` (with its trunk prefix, where it has one)."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    prefix = metadata.national_prefix if metadata is not None else None
    national = number[len(prefix) :] if prefix and number.startswith(prefix) else number
    return _valid_national(national, region)


def shannon_entropy(text: str) -> float:
    """Bits per character."""
    length = len(text)
    # Counted in a dict (compiled, a native loop) rather than by ``Counter``; summed in the same
    # first-occurrence order, so the result is the same float.
    counts: dict[str, int] = {}
    for char in text:
        counts[char] = counts.get(char, 0) + 1
    total = 0.0
    for n in counts.values():
        total += n / length * math.log2(n / length)
    return -total


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


_MONTHS: Final = {
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
