"""From one combined-pattern match to candidate spans with base scores.  (pure)"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import Final

from assay.pii import _validate as v
from assay.pii._patterns import (
    BIRTH_HINTS,
    DIGIT_GROUP,
    INNER,
    MONTH_PREFIXES,
    NUMBER_VALUES,
    SPELLED_DATE_ANY_CASE,
    SPELLED_DATE_LOWER,
    SPELLED_YEAR_WORDS,
    SPOKEN_DIGITS,
    SPOKEN_LOCAL,
    SPOKEN_WORD,
    TOKEN,
    TOKEN_SYMBOLS,
)
from assay.pii.spans import Span


# Plain classes with their own ``__init__``: compiled (ADR 0038), they are built without running
# Python code (a dataclass's generated ``__init__`` stays interpreted, ADR 0039); uncompiled, they
# cost about the same.
class Candidate:
    """A span before context scoring; ``context`` says which context rules apply."""

    __slots__ = ("context", "end", "recognizer", "score", "start", "type")

    def __init__(  # noqa: PLR0917 -- a record's fields, passed in order like the dataclass it replaced
        self, start: int, end: int, entity_type: str, score: float, recognizer: str, context: str
    ) -> None:
        self.start = start
        self.end = end
        self.type = entity_type
        self.score = score
        self.recognizer = recognizer
        self.context = context  # "digits", "ip", "birth", "secret", "" (none)

    def __repr__(self) -> str:
        return (
            f"Candidate({self.start}, {self.end}, {self.type!r}, {self.score}, {self.recognizer!r}, {self.context!r})"
        )


class _Group:
    __slots__ = ("digits", "end", "start")

    def __init__(self, digits: str, start: int, end: int) -> None:
        self.digits = digits
        self.start = start
        self.end = end


# Compiled once rather than looked up in ``re``'s cache at each call.
_ALPHANUMERIC_RUN: Final = re.compile(r"[A-Za-z0-9]+")
_DATE_SEPARATOR: Final = re.compile(r"[/.-]")
_MONTH_WORD: Final = re.compile(r"[A-Za-z]{3,}")
_ORDINAL_OR_OF: Final = re.compile(r"(?i)\d(?:st|nd|rd|th)|\bof\b")

_PROVIDER_SECRETS: Final = {
    "anthropic": "secret.anthropic",
    "openai": "secret.openai",
    "stripe": "secret.stripe",
    "github": "secret.github",
    "slack": "secret.slack",
    "slack_webhook": "secret.slack_webhook",
    "aws": "secret.aws_access_key",
    "google": "secret.google_api_key",
}


def classify(match: re.Match[str], out: list[Candidate]) -> None:
    """Appends the candidates inside ``match`` (absolute offsets) to ``out``; nothing for placeholders and rejects."""
    kind = match.lastgroup
    if kind is None:  # only the zero-width token look-ahead leaves lastgroup unset
        kind = "token"
    handler = _HANDLERS.get(kind)
    if handler is not None:
        handler(match, kind, out)


def _group_span(match: re.Match[str], kind: str) -> tuple[int, int, str]:
    return match.start(kind), match.end(kind), match.group(kind)


def _provider(match: re.Match[str], kind: str, out: list[Candidate]) -> None:
    start, end, _ = _group_span(match, kind)
    out.append(Candidate(start, end, "SECRET", 0.99, _PROVIDER_SECRETS[kind], ""))


def _url_password(match: re.Match[str], kind: str, out: list[Candidate]) -> None:
    start, end, _ = _group_span(match, "password")
    out.append(Candidate(start, end, "SECRET", 0.9, "secret.url_password", ""))


def _pem(match: re.Match[str], kind: str, out: list[Candidate]) -> None:
    start, _end, text = _group_span(match, kind)
    out.append(Candidate(start, start + len(text.rstrip()), "SECRET", 1.0, "secret.pem_private_key", ""))


def _jwt(match: re.Match[str], kind: str, out: list[Candidate]) -> None:
    start, end, text = _group_span(match, kind)
    parts = text.split(".")
    if len(parts) == 3 and len(parts[1]) >= 8 and len(parts[2]) >= 8:
        out.append(Candidate(start, end, "SECRET", 0.95, "secret.jwt", ""))
    elif len(parts[1]) >= 8:  # header and payload without signature still carry claims
        out.append(Candidate(start, end, "SECRET", 0.8, "secret.jwt", ""))


def _token(match: re.Match[str], kind: str, out: list[Candidate]) -> None:
    start, end, text = _group_span(match, kind)
    if v.looks_random(text.rstrip("=")):
        out.append(Candidate(start, end, "SECRET", 0.8, "secret.keyword_entropy", "secret"))


def _email(match: re.Match[str], kind: str, out: list[Candidate]) -> None:
    start, end, text = _group_span(match, kind)
    local = text.split("@", 1)[0]
    if not (local.startswith(".") or local.endswith(".") or ".." in text):
        out.append(Candidate(start, end, "EMAIL_ADDRESS", 0.95, "email", ""))


def _spoken_email(match: re.Match[str], kind: str, out: list[Candidate]) -> None:
    """``at example dot com`` found; the local part is the words just before it."""
    start, end, _ = _group_span(match, kind)
    # Every possible start of the local part: the longest wins unless it collides with
    # another entity, and then a shorter one still covers the words next to "at".
    position = max(0, start - 120)
    while (local := SPOKEN_LOCAL.search(match.string, position, start)) is not None:
        out.append(Candidate(local.start(), end, "EMAIL_ADDRESS", 0.75, "email.spoken", ""))
        position = local.start() + 1


def _iban(match: re.Match[str], kind: str, out: list[Candidate]) -> None:
    start, _, text = _group_span(match, kind)
    # The pattern may run into a following upper-case word: retry without trailing groups.
    pieces = list(_ALPHANUMERIC_RUN.finditer(text))
    for last in range(len(pieces), 0, -1):
        candidate = text[: pieces[last - 1].end()]
        compact = candidate.replace(" ", "").upper()
        if len(compact) >= 15 and v.iban_ok(compact):
            out.append(Candidate(start, start + len(candidate), "IBAN_CODE", 0.95, "iban", ""))
            return


def _ipv4(match: re.Match[str], kind: str, out: list[Candidate]) -> None:
    start, end, text = _group_span(match, kind)
    if v.ipv4_ok(text):
        out.append(Candidate(start, end, "IP_ADDRESS", 0.6, "ip.v4", "ip"))


def _ipv6(match: re.Match[str], kind: str, out: list[Candidate]) -> None:
    start, end, text = _group_span(match, kind)
    if v.ipv6_ok(text):
        out.append(Candidate(start, end, "IP_ADDRESS", 0.85, "ip.v6", "ip"))


def _date_num(match: re.Match[str], kind: str, out: list[Candidate]) -> None:
    start, end, text = _group_span(match, kind)
    parts = [int(p) for p in _DATE_SEPARATOR.split(text)]
    if len(str(parts[0])) == 4 or text[:4].isdigit():
        ok = v.date_ok(parts[0], parts[1], parts[2])
    else:  # month/day/year or day/month/year: either reading will do
        ok = v.date_ok(parts[2], parts[0], parts[1]) or v.date_ok(parts[2], parts[1], parts[0])
    if ok:
        out.append(Candidate(start, end, "DATE_OF_BIRTH", 0.85, "date_of_birth", "birth"))


def _date_text(match: re.Match[str], kind: str, out: list[Candidate]) -> None:
    start, end, text = _group_span(match, kind)
    numbers = [int(n) for n in DIGIT_GROUP.findall(text)]
    month_word = _MONTH_WORD.search(_ORDINAL_OR_OF.sub("", text))
    month = v.month_number(month_word.group()) if month_word else 0
    if len(numbers) == 2 and v.date_ok(numbers[1], month, numbers[0]):
        out.append(Candidate(start, end, "DATE_OF_BIRTH", 0.85, "date_of_birth", "birth"))


_INNER_SEPARATORS: Final = frozenset("./-")


def _digits(match: re.Match[str], kind: str, out: list[Candidate]) -> None:
    start, end, text = _group_span(match, kind)
    source = match.string
    after = source[end : end + 1]
    groups: list[_Group] | None = None
    if len(text) >= 7:  # fewer characters hold fewer than seven digits: nothing has so few
        groups = _digit_groups(text, start)
        _digit_windows(groups, source, out, spoken=False)
    # An address or a date inside the run (it may end past the run) needs a separator after a group.
    if after in _INNER_SEPARATORS or not _INNER_SEPARATORS.isdisjoint(text):
        for group in groups or _digit_groups(text, start):
            if source[group.end : group.end + 1] not in _INNER_SEPARATORS:
                continue
            inner = INNER.match(source, group.start)
            if inner is not None and inner.lastgroup is not None:
                _HANDLERS[inner.lastgroup](inner, inner.lastgroup, out)
    # Digits opening a credential. The run hides the credential's own alternative of the scan, so
    # look wherever one could start here: a symbol after the run or inside it ("00011234567/ 415").
    if (after and after in TOKEN_SYMBOLS) or not TOKEN_SYMBOLS.isdisjoint(text):
        token = TOKEN.match(source, start)
        if token is not None:
            _token(token, "token", out)


def _digit_groups(text: str, start: int) -> list[_Group]:
    if text.isascii():
        if text.isdigit():  # one group, the common case: no pattern run needed
            return [_Group(text, start, start + len(text))]
        return _ascii_digit_groups(text, start)
    return [_Group(m.group(), start + m.start(), start + m.end()) for m in DIGIT_GROUP.finditer(text)]


def _ascii_digit_groups(text: str, start: int) -> list[_Group]:
    """``DIGIT_GROUP.finditer`` for ASCII text (where ``\\d`` is [0-9]), without a match object per group."""
    groups: list[_Group] = []
    first, last = _next_run(text, 0, digits=True)
    while first < len(text):
        groups.append(_Group(text[first:last], start + first, start + last))
        first, last = _next_run(text, last, digits=True)
    return groups


def _next_run(text: str, index: int, *, digits: bool) -> tuple[int, int]:
    """The next run of ASCII digits (or letters) at or after ``index``; ``(len(text), len(text))`` if none."""
    n = len(text)
    while index < n and not _is_run_char(ord(text[index]), digits=digits):
        index += 1
    end = index
    while end < n and _is_run_char(ord(text[end]), digits=digits):
        end += 1
    return index, end


def _is_run_char(code: int, *, digits: bool) -> bool:
    if digits:
        return 48 <= code <= 57
    return 97 <= (code | 32) <= 122


def _spoken(match: re.Match[str], kind: str, out: list[Candidate]) -> None:
    start, _, text = _group_span(match, kind)
    groups: list[_Group] = []
    repeat = 1
    if text.isascii():  # words found without a match object each, as ``SPOKEN_WORD`` ([A-Za-z]+) finds them
        first, last = _next_run(text, 0, digits=False)
        while first < len(text):
            repeat = _spoken_word(text[first:last].lower(), start + first, start + last, groups, repeat)
            first, last = _next_run(text, last, digits=False)
    else:
        for word in SPOKEN_WORD.finditer(text):
            repeat = _spoken_word(word.group().lower(), start + word.start(), start + word.end(), groups, repeat)
    _digit_windows(groups, match.string, out, spoken=True)
    _spoken_date(groups, out)


def _spoken_word(lowered: str, start: int, end: int, groups: list[_Group], repeat: int) -> int:
    """Adds a spoken digit word's group (repeated after "double"/"triple"); returns the repeat for the next."""
    if lowered in ("double", "triple"):
        return 2 if lowered == "double" else 3
    digit = SPOKEN_DIGITS.get(lowered)
    if digit is None:
        return repeat  # a filler word
    groups.append(_Group(digit * repeat, start, end))
    return 1


def _spoken_date(groups: list[_Group], out: list[Candidate]) -> None:
    """Six or eight spoken digits that read as a date ("one two oh three one nine eight five")."""
    digits = "".join(g.digits for g in groups)
    if len(digits) not in (6, 8):
        return
    first, second, year = int(digits[:2]), int(digits[2:4]), int(digits[4:])
    if v.date_ok(year, first, second) or v.date_ok(year, second, first):
        out.append(Candidate(groups[0].start, groups[-1].end, "DATE_OF_BIRTH", 0.85, "date_of_birth.spoken", "birth"))


def _digit_windows(groups: list[_Group], source: str, out: list[Candidate], *, spoken: bool) -> None:
    """Every run of consecutive digit groups that validates as a card, SSN or phone number."""
    ends = list(itertools.accumulate([len(g.digits) for g in groups]))  # digits up to each group's end
    if not ends or ends[-1] < 7:  # no digits ("double triple double"), or fewer than anything has
        return
    total = ends[-1]
    joined = "".join([g.digits for g in groups])
    suffix = ".spoken" if spoken else ""
    offset = 0  # digits before ``first``
    for first, group in enumerate(groups):
        if total - offset < 7:  # every window from here on is shorter than anything has
            return
        start = group.start
        plus = not spoken and start > 0 and source[start - 1] == "+"
        # Lengths nothing can have are skipped: an SSN has 9 digits, a national phone number 10
        # or 11, a card 12 to 19 from an issuer digit, a "+" number 7 to 15.
        lowest = _first_end_above(ends, offset + (6 if plus else 8), first)
        highest = _first_end_above(ends, offset + 19, lowest)
        issuer = joined[offset] in "23456"
        for last in range(lowest, highest):
            count = ends[last] - offset
            if count > 11 and not issuer and not (plus and count <= 15):
                continue
            digits = joined[offset : ends[last]]
            end = groups[last].end
            if count >= 12:
                if v.card_ok(digits):
                    out.append(Candidate(start, end, "CREDIT_CARD", 0.9, "credit_card" + suffix, "digits"))
            elif count == 9 and v.ssn_ok(digits):
                score = _ssn_score(groups[first : last + 1], source, spoken=spoken)
                if score:
                    out.append(Candidate(start, end, "US_SSN", score, "us_ssn" + suffix, "digits"))
            # A national number has ten digits (not from 0 or 1), or eleven from 1, or ten or eleven
            # from 0; other lengths need a "+" before them.
            if plus:
                if count <= 15:
                    _phone(start, end, last > first, digits, out, source=source, spoken=spoken)
            elif (count == 10 and digits[0] != "1") or (count == 11 and digits[0] in "01"):
                _phone(start, end, last > first, digits, out, source=source, spoken=spoken)
        offset = ends[first]


def _first_end_above(ends: list[int], limit: int, index: int) -> int:
    """The first index from ``index`` whose end exceeds ``limit`` (``bisect_right``; the windows
    looked at span at most 19 digits, so a native scan beats the call)."""
    while index < len(ends) and ends[index] <= limit:
        index += 1
    return index


def _ssn_score(window: list[_Group], source: str, *, spoken: bool) -> float:
    if spoken:
        return 0.45
    shape = tuple(len(g.digits) for g in window)
    if shape == (9,):
        return 0.35
    if shape != (3, 2, 4):
        return 0.0
    separators = {source[window[0].end : window[1].start], source[window[1].end : window[2].start]}
    return 0.85 if separators == {"-"} else 0.6


def _phone(start: int, end: int, grouped: bool, digits: str, out: list[Candidate], *, source: str, spoken: bool) -> None:
    """A phone number from ``start`` to ``end``; ``grouped`` when written in more than one group."""
    before = source[start - 1] if start > 0 else ""
    if before == "+" and not spoken:
        if v.phone_ok("+" + digits, international=True):
            out.append(Candidate(start - 1, end, "PHONE_NUMBER", 0.75, "phone.international", "digits"))
        return
    national = (len(digits) == 10 and digits[0] not in "01") or (len(digits) == 11 and digits[0] == "1")
    national = national or (digits[0] == "0" and 10 <= len(digits) <= 11)
    if not national or not v.phone_ok(digits, international=False):
        return
    if spoken:
        score = 0.5
    elif grouped or before == "(":
        score = 0.65
    else:
        score = 0.4
    opening = start - 1 if before == "(" else start
    out.append(Candidate(opening, end, "PHONE_NUMBER", score, "phone" + (".spoken" if spoken else ""), "digits"))


def has_birth_word(lowered: str) -> bool:
    """Whether a text could hold a birth context word (a cheap necessary condition), given the
    text lower-cased."""
    return any(hint in lowered for hint in BIRTH_HINTS)


_NUMBER_WORD: Final = re.compile(r"[a-z]+")


def _spelled_number(words: str) -> int:
    """``"twenty-first"`` -> 21, ``"oh three"`` -> 3, ``"4th"`` -> 4."""
    digits = DIGIT_GROUP.match(words)  # any Unicode digits, as the pattern's \d takes them
    if digits is not None:
        return int(digits.group())
    return sum(NUMBER_VALUES.get(w, 0) for w in _NUMBER_WORD.findall(words.lower()))


def _spelled_year(words: str) -> int:
    """``"nineteen eighty-two"`` -> 1982, ``"two thousand and five"`` -> 2005, ``"eighty-five"`` -> 85."""
    if words[:1].isdigit():
        return int(words)
    parts = [w for w in _NUMBER_WORD.findall(words.lower()) if w != "and"]
    if "thousand" in parts:
        return 2000 + sum(NUMBER_VALUES.get(w, 0) for w in parts[parts.index("thousand") + 1 :])
    if len(parts) > 1 and parts[0] in ("nineteen", "twenty") and (parts[1] == "oh" or NUMBER_VALUES[parts[1]] >= 10):
        return NUMBER_VALUES[parts[0]] * 100 + sum(NUMBER_VALUES[w] for w in parts[1:])
    return sum(NUMBER_VALUES[w] for w in parts)  # two digits: ``date_ok`` reads them as 19xx or 20xx


def _spelled_candidate(match: re.Match[str]) -> Candidate | None:
    """A date-of-birth candidate from a ``SPELLED_DATE`` match in ``" " + text`` (offsets moved back by one)."""
    form = (match.lastgroup or "")[-2:]  # "of", "md" or "_n"
    if form == "_n":
        first, second = _spelled_number(match.group("first_n")), _spelled_number(match.group("second_n"))
        year = _spelled_year(match.group("year_n"))
        ok = v.date_ok(year, first, second) or v.date_ok(year, second, first)  # month first or day first
        start = match.start("first_n")
    else:
        key = "of" if form == "of" else "md"
        month = v.month_number(match.group(f"month_{key}"))
        day, year = _spelled_number(match.group(f"day_{key}")), _spelled_year(match.group(f"year_{key}"))
        ok = v.date_ok(year, month, day)
        start = match.start("day_of") if key == "of" else match.start("month_md")  # "the fourth of ...": not "the"
    if not ok:
        return None
    return Candidate(start - 1, match.end() - 1, "DATE_OF_BIRTH", 0.85, "date_of_birth.spelled", "birth")


def spelled_dates(
    text: str, lowered: str, pos: int, placeholders: list[tuple[int, int]]
) -> tuple[list[Candidate], list[tuple[int, int]]]:
    """Dates in words from ``pos`` on, and every match's extent (for the streaming cut); ``lowered``
    is ``text.lower()``.

    Like the combined scan, nothing is taken that starts right where a placeholder ends or
    ends right where one starts, so redacting a neighbour cannot create a date.
    """
    candidates: list[Candidate] = []
    extents: list[tuple[int, int]] = []
    if text.isascii():  # lower-casing keeps every offset
        if not _may_hold_spelled_date(lowered):
            return candidates, extents
        padded, search = " " + lowered, SPELLED_DATE_LOWER.search  # padded[i]: the character before text[i]
    else:
        padded, search = " " + text, SPELLED_DATE_ANY_CASE.search
    placeholder_ends = {end for _, end in placeholders}
    placeholder_starts = {start for start, _ in placeholders}
    while (match := search(padded, pos)) is not None:
        start, end = match.start(), match.end() - 1  # offsets into ``text``
        if start in placeholder_ends or end in placeholder_starts:
            pos = start + 1
            continue
        pos = end
        extents.append((start, end))
        candidate = _spelled_candidate(match)
        if candidate is not None:
            candidates.append(candidate)
    return candidates, extents


def _may_hold_spelled_date(lowered: str) -> bool:
    """A necessary condition for a ``SPELLED_DATE_LOWER`` match in lower-cased ASCII text: a year in
    words, or a year's first digits and a month name (substring tests, much cheaper than the search)."""
    if any(word in lowered for word in SPELLED_YEAR_WORDS):
        return True
    return ("19" in lowered or "20" in lowered) and any(month in lowered for month in MONTH_PREFIXES)


_Handler = Callable[[re.Match[str], str, list[Candidate]], None]
_HANDLERS: Final[dict[str, _Handler]] = {
    **dict.fromkeys(_PROVIDER_SECRETS, _provider),
    "pem": _pem,
    "url_password": _url_password,
    "jwt": _jwt,
    "token": _token,
    "email": _email,
    "email_": _email,
    "date_text_": _date_text,
    "ipv6_": _ipv6,
    "spoken_email": _spoken_email,
    "iban": _iban,
    "ipv4": _ipv4,
    "ipv6": _ipv6,
    "ipv6_sym": _ipv6,
    "date_num": _date_num,
    "date_text": _date_text,
    "num": _digits,
    "num_sym": _digits,
    "spoken": _spoken,
}

__all__ = ["Candidate", "Span", "classify", "has_birth_word", "spelled_dates"]
