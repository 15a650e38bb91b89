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

from assay.pii.spans import entity_types

# Streaming: how far from its start an entity must be recognisable, and how much
# already-emitted text later matches may look back on (context words, look-behind).
MAX_RECOGNITION = 400
CONTEXT_BEFORE = 64
CONTEXT_AFTER = 24
# Words that lower a score must be this close (before, after).
NEAR_BEFORE = 24
NEAR_AFTER = 8

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
_CREDENTIAL = (
    r"(?<![+/.~!#$%^&*@-])(?=(?P<token>[A-Za-z0-9+/_.~!#$%^&*@-]{12,256}={0,2})(?![A-Za-z0-9+/_.~!#$%^&*@=-]))"
)
TOKEN_SYMBOLS = frozenset("+/_.~!#$%^&*@-=")

# Alternatives are grouped by their first character so that most positions are
# rejected by one character test instead of trying every alternative in turn.
# (family, alternative): a family's alternatives can only match if its hint is in the text.
_DIGIT_START: tuple[tuple[str, str], ...] = (
    ("email", rf"""(?=[A-Za-z0-9._%+-]*+@)(?P<email>[A-Za-z0-9][A-Za-z0-9._%+-]{{0,63}}@{_LABEL}(?:\.{_LABEL}){{0,3}}\.[A-Za-z]{{2,24}})(?![A-Za-z0-9-])"""),
    ("digit", rf"""(?P<date_text>\d{{1,2}}(?:st|nd|rd|th)?[ \t](?:of[ \t])?{_MONTH}\.?,?[ \t](?:19|20)\d{{2}})(?!\d)"""),
    ("digit", rf"""{_INNER}"""),
    ("colon", r"""(?P<ipv6>[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:(?<=:)\d{1,3}(?:\.\d{1,3}){3})?)(?![\w:])"""),
    ("digit", rf"""(?P<num>\d(?:{_DIGIT_SEP}?\d)*)(?![\dA-Za-z])"""),
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
    ("spoken", rf"""(?=[ZzOoTtFfSsEeNnDd][ehnwoiuhr][rvxgnoiue]?)(?P<spoken>(?i:{_NUM_WORD}(?:(?:[ \t,.-]{{1,5}}|[ \t,.]{{0,5}}[ \t]{_FILLER}[ \t,.]{{1,5}})(?:{_NUM_WORD})){{2,}}))(?![A-Za-z])"""),
)

_SYMBOL_START: tuple[tuple[str, str], ...] = (
    ("always", rf"""(?P<placeholder>{PLACEHOLDER})"""),
    ("always", r"""(?P<pem>-----BEGIN[A-Z0-9 ]{0,40}PRIVATE\ KEY-----(?:[A-Za-z0-9+/=\s:,-]*?-----END[A-Z0-9 ]{0,40}PRIVATE\ KEY-----|[A-Za-z0-9+/=\s]*))"""),
    ("always", rf"""(?<![\w+])(?P<num_sym>(?:\+|\()\d(?:{_DIGIT_SEP}?\d)*)(?![\dA-Za-z])"""),
    ("colon", r"""(?<![\w:])(?P<ipv6_sym>::(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){0,6})?(?:(?<=:)\d{1,3}(?:\.\d{1,3}){3})?)(?![\w:])"""),
)


_PROVIDER_PREFIXES = (
    "sk-", "sk_", "rk_", "gh", "github_pat_", "xox", "hooks.slack.com", "AKIA", "ASIA", "ABIA", "ACCA",
    "AIDA", "AROA", "AGPA", "ANPA", "ANVA", "AIPA", "AIza", "eyJ",
)
_NUMBER_WORDS = ("zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "double", "triple")
_ANY_DIGIT = re.compile(r"\d")
_LONG_WORD = re.compile(r"\S{12}")


def families(text: str) -> frozenset[str]:
    """Families whose alternatives could match somewhere in ``text`` (cheap necessary conditions)."""
    present = ["always"]
    if "@" in text:
        present.append("email")
    if any(map(text.__contains__, _PROVIDER_PREFIXES)):
        present.append("provider")
    if _ANY_DIGIT.search(text) is not None:
        present.append("digit")
    if ":" in text:
        present.append("colon")
    if _LONG_WORD.search(text) is not None:
        present.append("credential")
    if any(map(text.lower().__contains__, _NUMBER_WORDS)):
        present.append("spoken")
    return frozenset(present)


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
    if "credential" in present:
        word.append(_CREDENTIAL)
    if word:
        branches.append(r"(?<![A-Za-z0-9_])(?:" + "|".join(word) + ")")
    return re.compile("|".join(branches) or r"(?!)", re.VERBOSE)


ALL_FAMILIES = frozenset(f for group in (_DIGIT_START, _LETTER_START, _SYMBOL_START) for f, _ in group) | {"credential"}
COMBINED = _build(ALL_FAMILIES)
_VARIANTS: dict[frozenset[str], re.Pattern[str]] = {ALL_FAMILIES: COMBINED}


def compile_variants() -> None:
    """Compile every variant now (64 small patterns), so none is compiled inside a request."""
    optional = sorted(ALL_FAMILIES - {"always"})
    for mask in range(1 << len(optional)):
        present = frozenset({"always"} | {f for i, f in enumerate(optional) if mask >> i & 1})
        if present not in _VARIANTS:
            _VARIANTS[present] = _build(present)


def combined_for(text: str) -> re.Pattern[str]:
    """The combined pattern without the alternatives that cannot match in ``text``.

    Dropping an alternative that never matches changes no other match, so every
    variant finds exactly what ``COMBINED`` finds, with less work per position.
    """
    present = families(text)
    pattern = _VARIANTS.get(present)
    if pattern is None:
        pattern = _VARIANTS.setdefault(present, _build(present))
    return pattern


INNER = re.compile(_INNER, re.VERBOSE)
TOKEN = re.compile(_CREDENTIAL)

SPOKEN_DIGITS = {
    "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}
SPOKEN_WORD = re.compile(r"[A-Za-z]+")
# The local part before a spelled-out "at example dot com".
SPOKEN_LOCAL = re.compile(
    r"(?<![A-Za-z0-9_])[A-Za-z0-9][A-Za-z0-9._-]{0,30}"
    r"(?:[ \t](?:dot|underscore|dash|hyphen)[ \t][A-Za-z0-9]{1,20}){0,3}[ \t]\Z"
)
DIGIT_GROUP = re.compile(r"\d+")
PLACEHOLDER_RE = re.compile(PLACEHOLDER)


def _words(*words: str) -> re.Pattern[str]:
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(words) + r")(?![a-z0-9])")


# Context words: found near a candidate (same lower-cased window), they raise or lower its score.
POSITIVE_CONTEXT: dict[str, re.Pattern[str]] = {
    "PHONE_NUMBER": _words(
        "phone", "call", "calling", "mobile", "cell", "tel", "telephone", "number", "reach",
        "contact", "fax", "text", "whatsapp", "ring", "dial", "landline", "extension",
    ),
    "CREDIT_CARD": _words(
        "card", "credit", "debit", "visa", "mastercard", "amex", "payment", "pay", "cc", "pan",
    ),
    "US_SSN": _words("ssn", "social security", "social", "tax id", "tin", "ss#", "itin"),
    "IP_ADDRESS": _words("ip", "ips", "ipv4", "ipv6", "address", "host", "server", "client", "from", "src", "dst"),
    "DATE_OF_BIRTH": _words(
        "born", "birth", "birthday", "dob", "d\\.o\\.b\\.?", "b-day", "bday", "date of birth", "birthdate",
    ),
    "SECRET": _words(
        "key", "keys", "token", "secret", "password", "passwd", "pwd", "passphrase", "pass",
        "api[_ -]?key", "apikey", "access[_ -]?key", "auth", "authorization", "bearer",
        "credential", "credentials", "private", "client[_ -]?secret", "signing",
        "[a-z0-9]+_(?:key|token|secret|password)",
    ),
}
NEGATIVE_CONTEXT: dict[str, re.Pattern[str]] = {
    "digits": _words(
        "order", "invoice", "tracking", "reference", "ref", "ticket", "case", "serial", "sku",
        "isbn", "confirmation", "booking", "part", "model", "po", "batch", "version",
    ),
    "IP_ADDRESS": _words("version", "v", "ver", "release", "build", "firmware", "package", "section"),
    "DATE_OF_BIRTH": _words(
        "order", "ordered", "delivery", "delivered", "appointment", "due", "expires", "expiry",
        "issued", "invoice", "shipped", "meeting", "started", "joined", "renewal",
    ),
}
