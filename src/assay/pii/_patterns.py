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
_MONTH = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_DIGIT_SEP = (
    r"(?:[ \t]{0,2}[-./][ \t]{0,2}|[ \t]{1,3}|[ \t]?\([ \t]?|[ \t]?\)[ \t]?"
    rf"|,|,?[ \t]{_FILLER},?[ \t])"
)
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38}[A-Za-z0-9])?"

# Also searched inside digit runs, which may have swallowed an address or a date.
_INNER = r"""(?<![.])(?P<ipv4>\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(?!\.?\d)
| (?P<date_num>(?:19|20)\d{2}-\d{2}-\d{2}|\d{1,2}(?P<dsep>[/.-])\d{1,2}(?P=dsep)(?:\d{4}|\d{2}))(?![\d])"""

_WORD_START = rf"""
  (?P<email>[A-Za-z0-9][A-Za-z0-9._%+-]{{0,63}}@{_LABEL}(?:\.{_LABEL}){{0,3}}\.[A-Za-z]{{2,24}})(?![A-Za-z0-9-])
| (?P<anthropic>sk-ant-[a-z]{{2,8}}\d{{2}}-[A-Za-z0-9_-]{{20,}})
| (?P<openai>sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{{20,}})
| (?P<stripe>[rs]k_(?:live|test)_[A-Za-z0-9]{{16,}})
| (?P<github>gh[pousr]_[A-Za-z0-9]{{36,}}|github_pat_[A-Za-z0-9_]{{22,}})
| (?P<slack>xox[abposr]-[A-Za-z0-9-]{{10,}})
| (?P<slack_webhook>https://hooks\.slack\.com/services/[A-Za-z0-9/_-]{{20,}})
| (?P<aws>(?:AKIA|ASIA|ABIA|ACCA|AIDA|AROA|AGPA|ANPA|ANVA|AIPA)[A-Z0-9]{{16}})(?![A-Za-z0-9])
| (?P<google>AIza[0-9A-Za-z_-]{{35}})(?![A-Za-z0-9_-])
| (?P<jwt>eyJ[A-Za-z0-9_-]{{5,200}}\.eyJ[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*)?)
| (?P<iban>[A-Z]{{2}}\d{{2}}(?:\ ?[A-Z0-9]{{4}}){{2,7}}(?:\ ?[A-Z0-9]{{1,3}})?)(?![A-Za-z0-9])
| (?P<date_text>(?i:{_MONTH}\.?[ \t]\d{{1,2}}(?:st|nd|rd|th)?,?[ \t](?:19|20)\d{{2}}|\d{{1,2}}(?:st|nd|rd|th)?[ \t](?:of[ \t])?{_MONTH}\.?,?[ \t](?:19|20)\d{{2}}))(?!\d)
| {_INNER}
| (?P<ipv6>[0-9A-Fa-f]{{1,4}}(?::[0-9A-Fa-f]{{0,4}}){{2,7}}(?:(?<=:)\d{{1,3}}(?:\.\d{{1,3}}){{3}})?)(?![\w:])
| (?P<spoken_email>(?i:[a-z0-9][a-z0-9._-]{{0,30}}(?:[ \t](?:dot|underscore|dash|hyphen)[ \t][a-z0-9]{{1,20}}){{0,3}}[ \t]at[ \t][a-z0-9-]{{1,30}}(?:(?:[ \t]dot[ \t]|\.)[a-z0-9-]{{1,20}}){{0,2}}(?:[ \t]dot[ \t]|\.){_TLDS}))(?![A-Za-z0-9])
| (?P<spoken>(?i:{_NUM_WORD}(?:(?:[ \t,.-]{{1,3}}|,?[ \t]{_FILLER},?[ \t])(?:{_NUM_WORD})){{2,}}))(?![A-Za-z])
| (?P<num>\d(?:{_DIGIT_SEP}?\d)*)(?!\d)
| (?<![+/.~!#$%^&*@-])(?=(?P<token>[A-Za-z0-9][A-Za-z0-9+/_.~!#$%^&*@-]{{11,255}}={{0,2}})(?![A-Za-z0-9+/_.~!#$%^&*@=-]))
"""

_SYMBOL_START = rf"""
  (?P<placeholder>{PLACEHOLDER})
| (?P<pem>-----BEGIN[A-Z0-9 ]{{0,40}}PRIVATE\ KEY-----(?:[A-Za-z0-9+/=\s:,-]*?-----END[A-Z0-9 ]{{0,40}}PRIVATE\ KEY-----|[A-Za-z0-9+/=\s]*))
| (?<![\w+])(?P<num_sym>(?:\+|\()\d(?:{_DIGIT_SEP}?\d)*)(?!\d)
| (?<![\w:])(?P<ipv6_sym>::(?:[0-9A-Fa-f]{{1,4}}(?::[0-9A-Fa-f]{{1,4}}){{0,6}})?(?:(?<=:)\d{{1,3}}(?:\.\d{{1,3}}){{3}})?)(?![\w:])
"""

COMBINED = re.compile(
    rf"(?:{_SYMBOL_START}|(?<![A-Za-z0-9_])(?:{_WORD_START}))",
    re.VERBOSE,
)

INNER = re.compile(_INNER, re.VERBOSE)

SPOKEN_DIGITS = {
    "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}
SPOKEN_WORD = re.compile(r"[A-Za-z]+")
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
