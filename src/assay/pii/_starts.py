"""Where the combined pattern can start: one pass over the characters.  (pure)

The combined pattern (``_patterns``) can only match at a few positions of a text: a digit or
letter that starts a word, the start of a run of credential characters, a handful of symbols.
``pattern_starts`` lists a superset of those positions in one pass over the characters (compiled
with mypyc: native integers, table look-ups), so the engine tries the pattern there instead of
letting ``re`` try it at every position (ADR 0039). Trying the pattern at each listed position,
skipping the ones inside the previous match, finds exactly what a search finds, since the
pattern cannot match anywhere else. The rules mirror each alternative's first characters and
look-behind; the property tests check the equality on generated texts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:  # native integers when compiled; annotations only, so no run-time dependency
    from mypy_extensions import i64

# Whether this module runs compiled: only then is a pass over the characters cheaper than ``re``.
COMPILED: Final = not __file__.endswith((".py", ".pyc"))

# Character classes of the ASCII codes, as bit flags (one byte per code).
_WORD: Final = 1  # [A-Za-z0-9_]: what the pattern's ``(?<![A-Za-z0-9_])`` looks behind for
_TOKEN: Final = 2  # [A-Za-z0-9+/_.~!#$%^&*@-]: a credential token's characters
_LOCAL: Final = 4  # [A-Za-z0-9._%+-]: an e-mail address's local part
_LETTER: Final = 8  # [A-Za-z]
_DIGIT: Final = 16  # [0-9]
_HEX: Final = 32  # [0-9A-Fa-f]
_SCHEME: Final = 64  # [a-z0-9+.-]: a URL scheme
_SYMBOL: Final = 128  # [<-+(:@: an alternative starts at it, or it reveals one behind it
# Letters that may start (or continue) a word some alternative needs: a second table.
_MONTH_FIRST: Final = 1  # (?=[JjFfMmAaSsOoNnDd]): a month name
_SPOKEN_FIRST: Final = 2  # (?=[ZzOoTtFfSsEeNnDd][ehnwoiuhr]): a spoken digit
_SPOKEN_SECOND: Final = 4
_PROVIDER_FIRST: Final = 8  # (?=[srgxhAe]): a provider key's prefix
_AWS_SECOND: Final = 16  # AKIA, ASIA, ABIA, ACCA, AIDA, AROA, AGPA, ANPA, ANVA, AIPA, AIza

# What ``pattern_starts`` returns: the optional families (``_patterns._OPTIONAL`` order) whose
# cheap necessary condition holds from ``pos`` on.
DIGIT_FAMILY: Final = 1
COLON_FAMILY: Final = 2
EMAIL_FAMILY: Final = 4
PROVIDER_FAMILY: Final = 8
_FAMILIES: Final = 15
# Per-position flags of the rules, above the family bits.
_HERE: Final = 16  # the pattern may start at this position
_BEHIND: Final = 32  # positions before this one were appended (the list needs sorting)

_UPPER: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LOWER: Final = "abcdefghijklmnopqrstuvwxyz"
_DIGITS: Final = "0123456789"


def _table(*sets: tuple[int, str]) -> bytes:
    table = bytearray(128)
    for flag, members in sets:
        for char in members:
            table[ord(char)] |= flag
    return bytes(table)


_CLASS: Final = _table(
    (_WORD, _UPPER + _LOWER + _DIGITS + "_"),
    (_TOKEN, _UPPER + _LOWER + _DIGITS + "+/_.~!#$%^&*@-"),
    (_LOCAL, _UPPER + _LOWER + _DIGITS + "._%+-"),
    (_LETTER, _UPPER + _LOWER),
    (_DIGIT, _DIGITS),
    (_HEX, _DIGITS + "abcdefABCDEF"),
    (_SCHEME, _LOWER + _DIGITS + "+.-"),
    (_SYMBOL, "[<-+(:@"),
)
_LETTERS: Final = _table(
    (_MONTH_FIRST, "JjFfMmAaSsOoNnDd"),
    (_SPOKEN_FIRST, "ZzOoTtFfSsEeNnDd"),
    (_SPOKEN_SECOND, "ehnwoiuhr"),
    (_PROVIDER_FIRST, "srgxhAe"),
    (_AWS_SECOND, "KSBCIRGN"),
)


def _word_key(word: str) -> int:
    """A lower-case ASCII word of up to seven letters as a number (five bits a letter)."""
    key = 0
    for char in word[:7]:
        key = key * 32 + ord(char) - 96
    return key


# Spoken digits: the first word is one of these, whole (a separator must follow it), and so is the
# next one, perhaps after a filler word.
_NUMBER_WORDS: Final = (
    "zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "double", "triple",
)
_FILLERS: Final = ("um", "uh", "er", "erm", "ah", "hmm")
_MONTHS: Final = ("jan", "feb", "mar", "may", "apr", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_NUMBER_KEYS: Final = frozenset(map(_word_key, _NUMBER_WORDS))
_FILLER_KEYS: Final = frozenset(map(_word_key, _FILLERS))
_AT_KEY: Final = _word_key("at")
# By ``_word_key`` of a word's first three letters (below 32768): what the word may be. A table
# look-up, so most words are rejected without a set look-up.
_MONTH: Final = 1
_NUMBER: Final = 2
_FILLER: Final = 4


def _prefixes() -> bytes:
    table = bytearray(1 << 15)
    for flag, words in ((_MONTH, _MONTHS), (_NUMBER, _NUMBER_WORDS), (_FILLER, _FILLERS)):
        for word in words:
            table[_word_key(word[:3])] |= flag
    return bytes(table)


_PREFIXES: Final = _prefixes()
_AWS_PREFIXES: Final = ("AKIA", "ASIA", "ABIA", "ACCA", "AIDA", "AROA", "AGPA", "ANPA", "ANVA", "AIPA", "AIza")
_SLACK_HOOK: Final = "https://hooks.slack.com/"
_GITHUB_PAT: Final = "github_pat_"
_PEM: Final = "-----BEGIN"
_MIN_TOKEN: Final = 12
_MAX_TOKEN: Final = 256
_MAX_LOCAL: Final = 64  # an address starts at most this far before its "@"
_MAX_SCHEME: Final = 20  # a URL scheme is at most this long


def pattern_starts(text: str, pos: int, out: list[int]) -> int:
    """Appends to ``out``, ascending, every position from ``pos`` on where the combined pattern may
    match (a superset); returns the optional families that may match (``*_FAMILY`` bits)."""
    n: i64 = len(text)
    start: i64 = pos
    first: i64 = len(out)
    colon = text.find(":", start) >= 0
    prev: i64 = _class_at(text, start - 1) if start > 0 else 0
    flags: i64 = 0
    run_start: i64 = -1  # where the current run of token characters started
    run_index: i64 = 0  # where in ``out`` a candidate at ``run_start`` belongs
    p: i64 = start
    while p < n:
        c: i64 = ord(text[p])
        cls: i64 = _CLASS[c] if c < 128 else 0
        if cls & _TOKEN:
            if not prev & _TOKEN:
                run_start, run_index = p, len(out)
        elif run_start >= 0:
            _token_run(text, out, run_start, run_index, p)
            run_start = -1
        if cls & _LETTER and not prev & _WORD:  # a word: its letters are looked at once, here
            end, key, prefix = _letter_run(text, p)
            found: i64 = _word(text, p, c, end - p, key=key, prefix=prefix, colon=colon)
            prev = _CLASS[ord(text[end - 1])]
            if found & _HERE:
                out.append(p)
            flags |= found
            p = end
            continue
        if cls & _DIGIT:
            flags |= DIGIT_FAMILY
        if cls & _SYMBOL or c >= 128 or (cls & _DIGIT and not prev & _WORD):
            found = _position(text, p, c, prev, start=start, out=out)
            if found & _HERE:
                out.append(p)
            flags |= found
        prev = cls
        p += 1
    if run_start >= 0:
        _token_run(text, out, run_start, run_index, n)
    if flags & _BEHIND:
        out[first:] = sorted(set(out[first:]))
    return flags & _FAMILIES


def _token_run(text: str, out: list[int], run_start: i64, run_index: i64, end: i64) -> None:
    """A run of token characters ended: one that may hold a credential may start one.

    The token is ``[...]{12,256}={0,2}`` and no token character or ``=`` may follow it.
    """
    if not _MIN_TOKEN <= end - run_start <= _MAX_TOKEN or not _credential_like(text, run_start, end):
        return
    padding = end
    while _code_at(text, padding) == 61:  # "="
        padding += 1
    if padding - end > 2 or _ascii_flags(_CLASS, text, padding) & _TOKEN:
        return
    if run_index == len(out) or out[run_index] != run_start:
        out.insert(run_index, run_start)


def _credential_like(text: str, begin: i64, end: i64) -> bool:
    """A digit, or a capital and a symbol: what the credential look-ahead requires of a token."""
    upper = symbol = False
    index = begin
    while index < end:
        cls: i64 = _CLASS[ord(text[index])]
        if cls & _DIGIT:
            return True
        if cls & _LETTER:
            upper = upper or ord(text[index]) < 97
        else:
            symbol = True
        index += 1
    return upper and symbol


def _position(text: str, p: i64, c: i64, prev: i64, *, start: i64, out: list[int]) -> i64:
    """The rules at a symbol, a digit that starts a word or a non-ASCII character."""
    if c >= 128:
        if not text[p].isdecimal():  # only a Unicode digit starts a match, by ``(?=\\d)``
            return 0
        return (_HERE | DIGIT_FAMILY) if not prev & _WORD else DIGIT_FAMILY
    if 48 <= c <= 57:
        return _HERE
    return _symbol(text, p, c, start, out)


def _class_at(text: str, index: i64) -> i64:
    c: i64 = ord(text[index])
    return _CLASS[c] if c < 128 else 0


def _code_at(text: str, index: i64) -> i64:
    """The character code at ``index``, or -1 past the end."""
    if index >= len(text):
        return -1
    return ord(text[index])


def _ascii_flags(table: bytes, text: str, index: i64) -> i64:
    """``table``'s flags of the character at ``index``; none past the end or for non-ASCII."""
    c = _code_at(text, index)
    return table[c] if 0 <= c < 128 else 0


def _is_decimal(text: str, index: i64) -> bool:
    """Whether the character at ``index`` is one ``\\d`` matches (any Unicode decimal digit)."""
    c = _code_at(text, index)
    if c < 128:
        return 48 <= c <= 57
    return text[index].isdecimal()


def _run(text: str, begin: i64, flag: i64) -> i64:
    """Length of the run of ASCII characters of class ``flag`` from ``begin``."""
    n: i64 = len(text)
    end = begin
    while end < n:
        c: i64 = ord(text[end])
        if c >= 128 or not _CLASS[c] & flag:
            break
        end += 1
    return end - begin


def _symbol(text: str, p: i64, c: i64, start: i64, out: list[int]) -> i64:
    """``[<-+(:@``: a placeholder, PEM header, ``+``/``(`` number, ``::``; an e-mail address or
    URL password that starts before it."""
    following = _code_at(text, p + 1)
    if c in (91, 60):  # "[" or "<": a placeholder's type name is in capitals
        return _HERE if 65 <= following <= 90 else 0
    if c == 45:  # "-"
        return _HERE if following == 45 and text.startswith(_PEM, p) else 0
    if c in (43, 40):  # "+" or "("
        return _HERE if _is_decimal(text, p + 1) else 0
    if c == 64:  # "@"
        return EMAIL_FAMILY | _walk_back(text, p, start, flag=_LOCAL, limit=_MAX_LOCAL, out=out)
    return _colon(text, p, following, start, out)


def _colon(text: str, p: i64, following: i64, start: i64, out: list[int]) -> i64:
    """``::`` starts an IPv6 address; ``:``, up to four hex digits and ``:`` may be inside one;
    ``://`` ends a URL scheme, where a password may start."""
    if following == 58:  # "::"
        return _HERE | COLON_FAMILY
    if following == 47 and _code_at(text, p + 2) == 47:  # "://"
        return COLON_FAMILY | _walk_back(text, p, start, flag=_SCHEME, limit=_MAX_SCHEME, out=out)
    hex_digits = _run(text, p + 1, _HEX)
    return COLON_FAMILY if hex_digits <= 4 and _code_at(text, p + 1 + hex_digits) == 58 else 0


def _walk_back(text: str, p: i64, start: i64, *, flag: i64, limit: i64, out: list[int]) -> i64:
    """Appends the word-starting letters within ``limit`` characters before ``p`` that reach it
    through characters of class ``flag`` only (an address's local part, a URL scheme)."""
    found: i64 = 0
    index = p - 1
    while index >= start and p - index <= limit:
        cls = _ascii_flags(_CLASS, text, index)
        if not cls & flag:
            break
        if cls & _LETTER and (index == 0 or not _ascii_flags(_CLASS, text, index - 1) & _WORD):
            out.append(index)
            found = _BEHIND
        index -= 1
    return found


def _word(text: str, p: i64, c: i64, length: i64, *, key: i64, prefix: i64, colon: bool) -> i64:
    """A word of ``length`` ASCII letters from ``p``: provider prefixes, IBANs, month names, spoken
    digits, IPv6 groups and spelled-out e-mail addresses can start here."""
    kinds: i64 = _LETTERS[c]
    if kinds & _PROVIDER_FIRST and _provider(text, p, c):
        return _HERE | PROVIDER_FAMILY
    after = p + length
    if length == 2 and _is_decimal(text, after) and _is_decimal(text, after + 1):
        return _HERE  # an IBAN's country code and check digits
    if 3 <= length <= 9 and _PREFIXES[prefix] & _MONTH and _day_follows(text, after):
        return _HERE
    if kinds & _SPOKEN_FIRST and _spoken(text, p, length, key, prefix):
        return _HERE
    if colon and _CLASS[c] & _HEX:  # an IPv6 group of hex letters, then ":"
        hex_digits = _run(text, p, _HEX)
        if hex_digits <= 4 and _code_at(text, p + hex_digits) == 58:
            return _HERE
    if key == _AT_KEY and _spelled_domain(text, after):
        return _HERE
    return 0


def _letter_run(text: str, begin: i64) -> tuple[i64, i64, i64]:
    """Where the run of ASCII letters from ``begin`` ends, and ``_word_key`` of its first seven
    letters and of its first three."""
    n: i64 = len(text)
    end = begin
    key: i64 = 0
    prefix: i64 = 0
    while end < n:
        c: i64 = ord(text[end])
        if c >= 128 or not _CLASS[c] & _LETTER:
            break
        if end - begin < 7:
            key = key * 32 + (c | 32) - 96
            if end - begin < 3:
                prefix = key
        end += 1
    return end, key, prefix


def _day_follows(text: str, after: i64) -> bool:
    """``\\.?[ \\t]\\d`` at ``after``: what follows a month name in a date."""
    if _code_at(text, after) == 46:  # "."
        after += 1
    gap = _code_at(text, after)
    return gap in (32, 9) and _is_decimal(text, after + 1)


def _spoken(text: str, p: i64, length: i64, key: i64, prefix: i64) -> bool:
    """A spoken digit word, then separators and another one (the pattern needs three)."""
    if not (2 <= length <= 6 and _ascii_flags(_LETTERS, text, p + 1) & _SPOKEN_SECOND):
        return False
    after = p + length
    if _code_at(text, after) >= 128:  # a non-ASCII letter may match case-insensitively (a long s for "s")
        return True
    return bool(_PREFIXES[prefix] & _NUMBER) and key in _NUMBER_KEYS and _number_word_at(text, after)


def _number_word_at(text: str, index: i64) -> bool:
    """After separators (``[ \\t,.-]``, perhaps around a filler word), a spoken digit word may follow."""
    index = _skip_separators(text, index)
    end, key, prefix = _letter_run(text, index)
    if end > index and _PREFIXES[prefix] & _FILLER and key in _FILLER_KEYS and _code_at(text, end) < 128:
        index = _skip_separators(text, end)
        end, key, prefix = _letter_run(text, index)
    if _code_at(text, end) >= 128:  # a non-ASCII letter may match case-insensitively
        return True
    return end > index and bool(_PREFIXES[prefix] & _NUMBER) and key in _NUMBER_KEYS


def _skip_separators(text: str, index: i64) -> i64:
    while True:
        c = _code_at(text, index)
        if c not in (32, 9, 44, 46, 45):  # " \t,.-"
            return index
        index += 1


def _spelled_domain(text: str, after: i64) -> bool:
    """What follows "at" in a spelled-out address: ``[ \\t][a-z0-9-]+``, then "." or " dot"."""
    gap = _code_at(text, after)
    if gap not in (32, 9):
        return False
    index = after + 1
    while True:
        c = _code_at(text, index)
        if not (97 <= c <= 122 or 48 <= c <= 57 or c == 45):
            break
        index += 1
    if index == after + 1:
        return False
    c = _code_at(text, index)
    return c == 46 or (c in (32, 9) and text.startswith("dot", index + 1))


def _provider(text: str, p: i64, c: i64) -> bool:
    """A provider key's prefix: sk-, sk_, rk_, gh, github_pat_, xox, the Slack webhook URL, AWS and Google, eyJ."""
    following = _code_at(text, p + 1)
    third = _code_at(text, p + 2)
    if c in (115, 114):  # "s", "r"
        return following == 107 and (third == 95 or (third == 45 and c == 115))
    if c == 103:  # "g": gh?_ or github_pat_
        return following == 104 or (following == 105 and text.startswith(_GITHUB_PAT, p))
    if c == 120:  # "x"
        return following == 111 and third == 120
    if c == 104:  # "h"
        return following == 116 and text.startswith(_SLACK_HOOK, p)
    if c == 65:  # "A"
        return bool(_ascii_flags(_LETTERS, text, p + 1) & _AWS_SECOND) and text.startswith(_AWS_PREFIXES, p)
    return following == 121 and third == 74  # "eyJ"
