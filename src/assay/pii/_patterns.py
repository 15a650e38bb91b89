"""The one combined pattern every scan runs, and the context word lists.  (pure)

Every alternative is a named group; the engine classifies a match by the group
that took part. Rules the streaming redactor relies on (see ADR 0032):

* each alternative becomes recognisable (matches a prefix) within
  ``MAX_RECOGNITION`` characters of where it starts; parts after that point may
  grow without bound (a PEM body, a JWT), because a match that still touches the
  end of the buffer is held back;
* look-behind is at most one character, so a scan can restart at any position
  with one character of history.
"""

from __future__ import annotations

import re
from typing import Final

from assay.pii.spans import entity_types

# Streaming: how far from its start an entity must be recognisable, and how much
# already-emitted text later matches may look back on (context words, look-behind).
MAX_RECOGNITION: Final = 400
CONTEXT_BEFORE: Final = 64
CONTEXT_AFTER: Final = 24
# Words that lower a score must be this close (before, after).
NEAR_BEFORE: Final = 24
NEAR_AFTER: Final = 8

_TYPE_NAMES = "|".join(t.name for t in entity_types())

# Exactly the tokens redaction writes; the scanner skips them so redaction is idempotent.
PLACEHOLDER = (
    rf"\[(?:{_TYPE_NAMES})(?:\ \*{{4}}[0-9A-Za-z]{{1,4}}|:[0-9a-f]{{16}})?\]"
    rf"|<(?:{_TYPE_NAMES})_[1-9][0-9]{{0,8}}>"
)

_NUM_WORD = r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|double|triple)"
_FILLER = r"(?:um|uh|er|erm|ah|hmm)"
_TLDS = r"(?:com|net|org|edu|gov|io|co|uk|de|fr|us|ca|au|info|biz|me|ai|dev)"
# Any capitalisation of a month's first three letters, then letters; the classifier checks the name.
_MONTH = r"(?:[Jj][Aa][Nn]|[Ff][Ee][Bb]|[Mm][Aa][RrYy]|[Aa][Pp][Rr]|[Jj][Uu][NnLl]|[Aa][Uu][Gg]|[Ss][Ee][Pp]|[Oo][Cc][Tt]|[Nn][Oo][Vv]|[Dd][Ee][Cc])[A-Za-z]{0,6}"
_DIGIT_SEP = (
    r"(?:[ \t]{0,2}[-./][ \t]{0,2}|[ \t]{1,3}|[ \t]?\([ \t]?|[ \t]?\)[ \t]?"
    rf"|,|,?[ \t]{_FILLER},?[ \t])"
)
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38}[A-Za-z0-9])?"

# Also searched inside digit runs, which may have swallowed an address or a date.
_INNER = r"""(?<![.])(?P<ipv4>\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(?!\.?\d)
| (?P<date_num>(?:19|20)\d{2}-\d{2}-\d{2}|\d{1,2}(?P<dsep>[/.-])\d{1,2}(?P=dsep)(?:\d{4}|\d{2}))(?![\d])"""

# A credential-like token; a zero-width look-ahead, so it never hides what starts inside it.
# Only a token with a digit, or with an upper-case letter and a symbol, can pass ``looks_random``
# (it needs a digit or three character classes): the last look-ahead skips the rest (prose words).
_CREDENTIAL = (
    r"(?<![+/.~!#$%^&*@-])(?=(?P<token>[A-Za-z0-9+/_.~!#$%^&*@-]{12,256}={0,2})(?![A-Za-z0-9+/_.~!#$%^&*@=-]))"
    r"(?=[A-Za-z+/_.~!#$%^&*@-]*[0-9]"
    r"|[a-z]*(?:[A-Z][A-Za-z]*[+/_.~!#$%^&*@-]|[+/_.~!#$%^&*@-][a-z+/_.~!#$%^&*@-]*[A-Z]))"
)
TOKEN_SYMBOLS: Final = frozenset("+/_.~!#$%^&*@-=")

# Alternatives are grouped by their first character so that most positions are
# rejected by one character test instead of trying every alternative in turn.
# (family, alternative): a family's alternatives can only match if its hint is in the text.
_DIGIT_START: tuple[tuple[str, str], ...] = (
    ("email", rf"""(?=[A-Za-z0-9._%+-]*+@)(?P<email>[A-Za-z0-9][A-Za-z0-9._%+-]{{0,63}}@{_LABEL}(?:\.{_LABEL}){{0,3}}\.[A-Za-z]{{2,24}})(?![A-Za-z0-9-])"""),
    ("digit", rf"""(?P<date_text>\d{{1,2}}(?:st|nd|rd|th)?[ \t](?:of[ \t])?{_MONTH}\.?,?[ \t](?:19|20)\d{{2}})(?!\d)"""),
    ("digit", rf"""{_INNER}"""),
    ("colon", r"""(?P<ipv6>[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:(?<=:)\d{1,3}(?:\.\d{1,3}){3})?)(?![\w:])"""),
    # Digit runs are taken whole (``\d++``): a separator never starts with a digit, so the match is
    # the one ``\d(?:SEP?\d)*`` finds, without a backtracking point per digit.
    ("digit", rf"""(?P<num>\d++(?:{_DIGIT_SEP}\d++)*)(?![\dA-Za-z])"""),
)

_LETTER_START: tuple[tuple[str, str], ...] = (
    ("email", rf"""(?=[A-Za-z0-9._%+-]*+@)(?P<email_>[A-Za-z0-9][A-Za-z0-9._%+-]{{0,63}}@{_LABEL}(?:\.{_LABEL}){{0,3}}\.[A-Za-z]{{2,24}})(?![A-Za-z0-9-])"""),
    ("colon", r"""(?=[a-z][a-z0-9+.-]{0,19}://[^\s:/@]{1,64}:)(?P<url_password>[a-z][a-z0-9+.-]{0,19}://[^\s:/@]{1,64}:(?P<password>[^\s@/]{1,128})@)"""),
    ("provider", r"""(?=[srgxhAe])(?:
    (?P<anthropic>sk-ant-[a-z]{2,8}\d{2}-[A-Za-z0-9_-]{20,})
  | (?P<openai>sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,})
  | (?P<stripe>[rs]k_(?:live|test)_[A-Za-z0-9]{16,})
  | (?P<github>gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})
  | (?P<slack>xox[abposr]-[A-Za-z0-9-]{10,})
  | (?P<slack_webhook>https://hooks\.slack\.com/services/[A-Za-z0-9/_-]{20,})
  | (?P<aws>(?:AKIA|ASIA|ABIA|ACCA|AIDA|AROA|AGPA|ANPA|ANVA|AIPA)[A-Z0-9]{16})(?![A-Za-z0-9])
  | (?P<google>AIza[0-9A-Za-z_-]{35})(?![A-Za-z0-9_-])
  | (?P<jwt>eyJ[A-Za-z0-9_-]{5,200}\.eyJ[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*)?)
  )"""),
    ("digit", r"""(?P<iban>[A-Za-z]{2}\d{2}(?:\ ?[A-Za-z0-9]{4}){2,7}(?:\ ?[A-Za-z0-9]{1,3})?)(?![A-Za-z0-9])"""),
    ("digit", rf"""(?=[JjFfMmAaSsOoNnDd])(?P<date_text_>{_MONTH}\.?[ \t]\d{{1,2}}(?:st|nd|rd|th)?,?[ \t](?:19|20)\d{{2}})(?!\d)"""),
    ("colon", r"""(?P<ipv6_>[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:(?<=:)\d{1,3}(?:\.\d{1,3}){3})?)(?![\w:])"""),
    ("always", rf"""(?P<spoken_email>at[ \t][a-z0-9-]{{1,30}}(?:(?:[ \t]dot[ \t]|\.)[a-z0-9-]{{1,20}}){{0,2}}(?:[ \t]dot[ \t]|\.){_TLDS})(?![A-Za-z0-9])"""),
    ("always", rf"""(?=[ZzOoTtFfSsEeNnDd][ehnwoiuhr][rvxgnoiue]?)(?P<spoken>(?i:{_NUM_WORD}(?:(?:[ \t,.-]{{1,5}}|[ \t,.]{{0,5}}[ \t]{_FILLER}[ \t,.]{{1,5}})(?:{_NUM_WORD})){{2,}}))(?![A-Za-z])"""),
)

_SYMBOL_START: tuple[tuple[str, str], ...] = (
    ("always", rf"""(?P<placeholder>{PLACEHOLDER})"""),
    ("always", r"""(?P<pem>-----BEGIN[A-Z0-9 ]{0,40}PRIVATE\ KEY-----(?:[A-Za-z0-9+/=\s:,-]*?-----END[A-Z0-9 ]{0,40}PRIVATE\ KEY-----|[A-Za-z0-9+/=\s]*))"""),
    ("always", rf"""(?<![\w+])(?P<num_sym>(?:\+|\()\d++(?:{_DIGIT_SEP}\d++)*)(?![\dA-Za-z])"""),
    ("colon", r"""(?<![\w:])(?P<ipv6_sym>::(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){0,6})?(?:(?<=:)\d{1,3}(?:\.\d{1,3}){3})?)(?![\w:])"""),
)


# Cheap necessary conditions, one per family (see ``families``).
# Each provider prefix holds a rarer character (``-``, ``_``, ``/``, a capital A or J): the search
# stops only at those and looks back for the rest.
_PROVIDER_HINT: Final = re.compile(
    r"-(?<=sk-)|-(?<=xox[abposr]-)|_(?<=[rs]k_)|_(?<=gh[pousr]_)|_(?<=github_)"
    r"|/(?<=hooks\.slack\.com/)|A(?:KIA|SIA|BIA|CCA|IDA|ROA|GPA|NPA|NVA|IPA|Iza)|J(?<=eyJ)"
)
# IPv6 needs two colons with at most four hex digits between; a password in a URL needs "://".
# Speaker turns ("Agent: ...") have neither, so transcripts skip those alternatives.
_COLON_HINT: Final = re.compile(r":[0-9A-Fa-f]{0,4}:|://")
_ASCII_DIGIT: Final = re.compile(r"[0-9]")  # twice as fast as \d, which tests Unicode categories
_ANY_DIGIT: Final = re.compile(r"\d")


def _has_digit(text: str) -> bool:
    if _ASCII_DIGIT.search(text) is not None:
        return True
    return not text.isascii() and _ANY_DIGIT.search(text) is not None


def _hints(text: str) -> tuple[bool, ...]:
    """Per optional family (in ``_OPTIONAL`` order), whether its cheap necessary condition holds."""
    return (
        _has_digit(text),
        ":" in text and _COLON_HINT.search(text) is not None,
        "@" in text,
        _PROVIDER_HINT.search(text) is not None,
    )


# Credential tokens have no hint: the look-ahead costs less on the texts without a 12-character
# run (about 1.4 ms per pass over the evaluation set) than looking for such a run in every text
# (about 5 ms), so it is always part of the pattern (ADR 0038).
_OPTIONAL: Final = ("digit", "colon", "email", "provider")


def families(text: str) -> frozenset[str]:
    """Families whose alternatives could match somewhere in ``text`` (cheap necessary conditions)."""
    return frozenset(["always", *(name for name, present in zip(_OPTIONAL, _hints(text), strict=True) if present)])


def _join(alternatives: tuple[tuple[str, str], ...], present: frozenset[str]) -> str:
    return "\n| ".join(text for family, text in alternatives if family in present)


def _build(present: frozenset[str]) -> re.Pattern[str]:
    branches = []
    symbol = _join(_SYMBOL_START, present)
    if symbol:
        branches.append(rf"(?=[\[<\-+(:])(?:{symbol})")
    word = []
    digit, letter = _join(_DIGIT_START, present), _join(_LETTER_START, present)
    if digit:
        word.append(rf"(?=\d)(?:{digit})")
    if letter:
        word.append(rf"(?=[A-Za-z])(?:{letter})")
    word.append(_CREDENTIAL)
    branches.append(r"(?<![A-Za-z0-9_])(?:" + "|".join(word) + ")")
    return re.compile("|".join(branches), re.VERBOSE)


ALL_FAMILIES: Final = frozenset({"always", *_OPTIONAL})
COMBINED: Final = _build(ALL_FAMILIES)
_VARIANTS: Final[dict[tuple[bool, ...], re.Pattern[str]]] = {(True,) * len(_OPTIONAL): COMBINED}


def _variant(key: tuple[bool, ...]) -> re.Pattern[str]:
    present = frozenset(["always", *(name for name, on in zip(_OPTIONAL, key, strict=True) if on)])
    return _VARIANTS.setdefault(key, _build(present))


def compile_variants() -> None:
    """Compile every variant now (16 small patterns), so none is compiled inside a request."""
    for mask in range(1 << len(_OPTIONAL)):
        key = tuple(bool(mask >> i & 1) for i in range(len(_OPTIONAL)))
        if key not in _VARIANTS:
            _variant(key)


_BY_MASK: Final[list[re.Pattern[str] | None]] = [None] * (1 << len(_OPTIONAL))


def combined_for_mask(mask: int) -> re.Pattern[str]:
    """The variant with the optional families whose bits are set in ``mask`` (bit i: ``_OPTIONAL[i]``)."""
    pattern = _BY_MASK[mask]
    if pattern is None:
        pattern = _BY_MASK[mask] = _variant(tuple(bool(mask >> i & 1) for i in range(len(_OPTIONAL))))
    return pattern


def combined_for(text: str) -> re.Pattern[str]:
    """The combined pattern without the alternatives that cannot match in ``text``.

    Dropping an alternative that never matches changes no other match, so every
    variant finds exactly what ``COMBINED`` finds, with less work per position.
    """
    key = _hints(text)
    pattern = _VARIANTS.get(key)
    return pattern if pattern is not None else _variant(key)


INNER: Final = re.compile(_INNER, re.VERBOSE)
TOKEN: Final = re.compile(_CREDENTIAL)

SPOKEN_DIGITS: Final = {
    "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}
SPOKEN_WORD: Final = re.compile(r"[A-Za-z]+")
# The local part before a spelled-out "at example dot com".
SPOKEN_LOCAL: Final = re.compile(
    r"(?<![A-Za-z0-9_])[A-Za-z0-9][A-Za-z0-9._-]{0,30}"
    r"(?:[ \t](?:dot|underscore|dash|hyphen)[ \t][A-Za-z0-9]{1,20}){0,3}[ \t]\Z"
)
DIGIT_GROUP: Final = re.compile(r"\d+")
PLACEHOLDER_RE: Final = re.compile(PLACEHOLDER)


_LITERAL_WORD = re.compile(r"[a-z0-9 #-]+")


def _words(*words: str) -> re.Pattern[str]:
    """Any of ``words`` (literals or small patterns) as a whole word, searched in ``" " + window``.

    The pattern consumes the character before the word (anything but a letter or digit), so
    the search only stops at word starts: a character-set prefix the engine skips to in C.
    A window therefore gets a leading space, standing for "nothing before".
    """
    fragments = [re.escape(w) if _LITERAL_WORD.fullmatch(w) else f"(?:{w})" for w in words]
    pattern = re.compile("[^a-z0-9](?:" + "|".join(fragments) + r")(?![a-z0-9])")
    return pattern




# Context words: found near a candidate (same lower-cased window), they raise or lower its score.
_POSITIVE_WORDS: dict[str, tuple[str, ...]] = {
    "PHONE_NUMBER": (
        "phone", "call", "calling", "mobile", "cell", "tel", "telephone", "number", "reach",
        "contact", "fax", "text", "whatsapp", "ring", "dial", "landline", "extension",
    ),
    "CREDIT_CARD": (
        "card", "credit", "debit", "visa", "mastercard", "amex", "payment", "pay", "cc", "pan",
    ),
    "US_SSN": ("ssn", "social security", "social", "tax id", "tin", "ss#", "itin"),
    "IP_ADDRESS": ("ip", "ips", "ipv4", "ipv6", "address", "host", "server", "client", "from", "src", "dst"),
    "DATE_OF_BIRTH": (
        "born", "birth", "birthday", "dob", "d\\.o\\.b\\.?", "b-day", "bday", "date of birth", "birthdate",
    ),
    "SECRET": (
        "key", "keys", "token", "secret", "password", "passwd", "pwd", "passphrase", "pass",
        "api[_ -]?key", "apikey", "access[_ -]?key", "auth", "authorization", "bearer",
        "credential", "credentials", "private", "client[_ -]?secret", "signing",
        "[a-z0-9]+_(?:key|token|secret|password)",
    ),
}
POSITIVE_CONTEXT: Final[dict[str, re.Pattern[str]]] = {name: _words(*words) for name, words in _POSITIVE_WORDS.items()}
# Substrings one of which every word above contains: a lower-cased ASCII text without any of a
# type's holds none of its words, and its windows need no search (ADR 0039).
POSITIVE_HINTS: Final[dict[str, tuple[str, ...]]] = {
    "PHONE_NUMBER": (
        "phone", "call", "mobile", "cell", "tel", "number", "reach", "contact", "fax", "text", "whatsapp", "ring",
        "dial", "landline", "extension",
    ),
    "CREDIT_CARD": ("card", "credit", "debit", "visa", "mastercard", "amex", "pay", "cc", "pan"),
    "US_SSN": ("ssn", "social", "tax id", "tin", "ss#", "itin"),
    "IP_ADDRESS": ("ip", "address", "host", "server", "client", "from", "src", "dst"),
    "DATE_OF_BIRTH": ("born", "birth", "dob", "d.o.b", "bday", "b-day"),
    "SECRET": ("key", "token", "secret", "pass", "pwd", "auth", "bearer", "credential", "private", "signing"),
}


_NEGATIVE_WORDS: dict[str, tuple[str, ...]] = {
    "digits": (
        "order", "invoice", "tracking", "reference", "ref", "ticket", "case", "serial", "sku",
        "isbn", "confirmation", "booking", "part", "model", "po", "batch", "version",
    ),
    "IP_ADDRESS": ("version", "v", "ver", "release", "build", "firmware", "package", "section"),
    "DATE_OF_BIRTH": (
        "order", "ordered", "delivery", "delivered", "appointment", "due", "expires", "expiry",
        "issued", "invoice", "shipped", "meeting", "started", "joined", "renewal",
    ),
}
NEGATIVE_CONTEXT: Final[dict[str, re.Pattern[str]]] = {name: _words(*words) for name, words in _NEGATIVE_WORDS.items()}
# A negative word at the very end of a text: the text before a positive word, its spaces,
# hyphens and "#" stripped, ends with one in "order number" or "case-number".
NEGATIVE_PHRASE: Final[dict[str, re.Pattern[str]]] = {
    name: re.compile(pattern.pattern + r"\Z") for name, pattern in NEGATIVE_CONTEXT.items()
}
PHRASE_JOINERS: Final = " \t-#"
LONGEST_NEGATIVE_WORD: Final = max(len(word) for words in _NEGATIVE_WORDS.values() for word in words)
# The last context word before a point: the greedy ``.*`` runs to the end in C and backs off
# one character at a time, so the nearest word is the first one tried.
LAST_CONTEXT: Final[dict[str, re.Pattern[str]]] = {
    pattern.pattern: re.compile("(?s).*(" + pattern.pattern + ")")
    for pattern in [*POSITIVE_CONTEXT.values(), *NEGATIVE_CONTEXT.values()]
}
# Words that lower a score are literals, so a window can hold one only if the lower-cased text
# holds it somewhere: one look per text then spares most per-candidate window searches. Substring
# tests (``in``, in C) answer that faster than one search for all the words (ADR 0039).
NEGATIVE_WORDS: Final[dict[str, tuple[str, ...]]] = _NEGATIVE_WORDS


# Dates said or written in words ("the fourth of July nineteen eighty-two", "March third, 1985",
# "twelve oh three eighty-five"). Not part of the combined pattern: a separate pass runs them only
# when the text holds a birth word (``BIRTH_HINTS``), since they are reported only with one.
_W = r"(?:[ \t]*-[ \t]*|[ \t]+)"  # between the words of a number: spaces or a hyphen
_UNIT = r"(?:one|two|three|four|five|six|seven|eight|nine)"
_TEEN = r"(?:ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen)"
_TENS = r"(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)"
_ORD_UNIT = r"(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth)"
_ORD_DAY = (
    rf"(?:(?:twenty|thirty){_W}{_ORD_UNIT}|twentieth|thirtieth|tenth|eleventh|twelfth"
    rf"|(?:thir|four|fif|six|seven|eigh|nine)teenth|{_ORD_UNIT}|\d{{1,2}}(?:st|nd|rd|th))"
)
_TWO_DIGITS = rf"(?:{_TENS}(?:{_W}{_UNIT})?|{_TEEN})"
_SPELLED_YEAR = (
    rf"(?:(?:nineteen|twenty){_W}(?:oh{_W}{_UNIT}|{_TWO_DIGITS})"
    rf"|two{_W}thousand(?:{_W}(?:and{_W})?(?:{_TWO_DIGITS}|{_UNIT}))?"
    rf"|{_TENS}(?:{_W}{_UNIT})?)"
)
_YEAR = rf"(?:(?:19|20)\d{{2}}|{_SPELLED_YEAR})"
_MONTH_NAME = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_FIRST_NUMBER = rf"(?:{_TEEN}|(?:twenty|thirty)(?:{_W}{_UNIT})?|{_UNIT}|{_ORD_DAY})"  # month, or day first
_DAY_NUMBER = rf"(?:oh{_W}{_UNIT}|{_ORD_DAY}|(?:twenty|thirty){_W}{_UNIT}|{_TEEN}|twenty|thirty|{_UNIT})"
# Searched in " " + text: it consumes the character before the date (so the search skips to
# word starts in C, like a look-behind would not), and the space stands for the text's start.
# ASCII text is lower-cased first and searched case-sensitively, which is several times faster
# than ignoring case (alternatives then start with a literal the engine can skip on).
_SPELLED_DATE = rf"""[^A-Za-z0-9_](?:
        (?:the[ \t]+)?(?P<day_of>{_ORD_DAY})[ \t]+of[ \t]+(?P<month_of>{_MONTH_NAME}),?[ \t]+(?P<year_of>{_YEAR})
      | (?P<month_md>{_MONTH_NAME})[ \t]+(?:the[ \t]+)?(?P<day_md>{_ORD_DAY}),?[ \t]+(?P<year_md>{_YEAR})
      | (?P<first_n>{_FIRST_NUMBER})[ \t,]+(?P<second_n>{_DAY_NUMBER})[ \t,]+(?P<year_n>{_SPELLED_YEAR})
    )(?![A-Za-z0-9])"""
SPELLED_DATE_LOWER: Final = re.compile(_SPELLED_DATE, re.VERBOSE)
SPELLED_DATE_ANY_CASE: Final = re.compile(_SPELLED_DATE.replace("[^A-Za-z0-9_](?:", "[^A-Za-z0-9_](?i:", 1), re.VERBOSE)
# Lower-case words one of which every birth context word contains.
BIRTH_HINTS: Final = ("born", "birth", "dob", "d.o.b", "bday", "b-day")
# Every spelled-out date has a year: in words, with one of these, or in digits ("19" or "20" and
# two more) after a month name. A lower-cased text without them holds no ``SPELLED_DATE`` match.
SPELLED_YEAR_WORDS: Final = (
    "nineteen", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety", "thousand",
)
MONTH_PREFIXES: Final = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
NUMBER_VALUES: Final = {
    "oh": 0, "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "first": 1, "second": 2, "third": 3,
    "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11,
    "twelfth": 12, "thirteenth": 13, "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17,
    "eighteenth": 18, "nineteenth": 19, "twentieth": 20, "thirtieth": 30,
}
