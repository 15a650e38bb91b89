"""Redaction properties over generated texts mixing real entities, fragments and noise."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.pii_support import reference_matches

from assay.pii import Action, Detector, PseudonymMap, RedactionPolicy, StreamRedactor, redact

DETECTOR = Detector()
KEY = b"k" * 32

ENTITIES = [
    "jane.doe@example.com", "john dot smith at gmail dot com", "+1 (415) 555-2671", "415-555-2671",
    "020 7946 0958", "4111 1111 1111 1111", "378282246310005", "4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1",
    "four one one one one one one one one one one one one one one one", "536-22-1234", "536221234",
    "GB82 WEST 1234 5698 7654 32", "DE89370400440532013000", "203.0.113.7", "2001:db8::8a2e:370:7334",
    "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z", "AKIAIOSFODNN7EXAMPLE", "xoxb-1234567890-abcdefghij",
    "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----",
    "Xk9#mP2$vL8qR4nZ", "March 5, 1984", "04/12/1990", "1990-12-04",
    "the fourth of July nineteen eighty-two", "March third, 1985", "twelve oh three eighty-five",
    "one two oh three one nine eight five",
]
WORDS = [
    "call", "me", "at", "card", "ssn", "social", "password:", "key=", "token", "born", "DOB:", "order",
    "version", "ip", "Agent:", "Customer:", "um,", "and", "the", "number", "is", "\n", "[EMAIL_ADDRESS]",
    "<PERSON_1>", "[", "]", "<", ">", "-", ".", ",", "@", "+", "(", ")", "0", "1", "4", "5", "42", "dot",
    "one", "four", "double", "oh", "sk-", "eyJ", "-----BEGIN RSA PRIVATE KEY-----", "GB82", "::",
    "D.O.B.", "birthday", "of", "July", "nineteen", "eighty-five", "third", "twelve", "double triple",
    "\u0663rd",
]
pieces = st.one_of(
    st.sampled_from(ENTITIES),
    st.sampled_from(WORDS),
    st.text(alphabet="0123456789 -.()+@:abcdefxyzABC/=_", max_size=12),
    st.text(max_size=6),
)
texts = st.lists(pieces, max_size=24).flatmap(
    lambda parts: st.lists(st.sampled_from([" ", "", "\n", ", "]), min_size=len(parts), max_size=len(parts)).map(
        lambda seps: "".join(p + s for p, s in zip(parts, seps, strict=True))
    )
)
# Long fillers push texts past the 400-character hold-back, so cuts happen mid-stream.
FILLERS = ["lorem ipsum dolor sit amet " * 8, "x" * 120 + " ", "call me later " * 12, "1 2 3 " * 20, "\n" * 5]
long_texts = st.lists(st.one_of(pieces, st.sampled_from(FILLERS)), min_size=8, max_size=40).map(" ".join)

POLICIES = {
    "default": RedactionPolicy.default_inbound(),
    "all-mask": RedactionPolicy(actions=dict.fromkeys(DETECTOR.covered_types, Action.MASK)),
    "hash": RedactionPolicy(actions=dict.fromkeys(DETECTOR.covered_types, Action.HASH), hash_key=KEY),
    "partial": RedactionPolicy(actions=dict.fromkeys(DETECTOR.covered_types, Action.PARTIAL)),
    "pseudonym": RedactionPolicy(actions=dict.fromkeys(DETECTOR.covered_types, Action.PSEUDONYM)),
}
policy_names = st.sampled_from(sorted(POLICIES))
SETTINGS = settings(max_examples=int(os.environ.get("PII_EXAMPLES", "300")), deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(texts, policy_names)
def test_redaction_is_idempotent(text: str, policy_name: str) -> None:
    policy = POLICIES[policy_name]
    pseudonyms = PseudonymMap()
    once = redact(text, policy, DETECTOR, pseudonyms).text
    assert redact(once, policy, DETECTOR, pseudonyms).text == once


@SETTINGS
@given(texts, policy_names)
def test_redacted_text_contains_no_redacted_span(text: str, policy_name: str) -> None:
    policy = POLICIES[policy_name]
    result = redact(text, policy, DETECTOR, PseudonymMap())
    again = [s for s in DETECTOR.detect(result.text) if policy.applies_to(s)]
    assert not again, (text, result.text, again)


@SETTINGS
@given(texts, st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=60), policy_names)
def test_streaming_equals_whole_text(text: str, sizes: list[int], policy_name: str) -> None:
    policy = POLICIES[policy_name]
    whole = redact(text, policy, DETECTOR, PseudonymMap()).text
    stream = StreamRedactor(policy, DETECTOR, PseudonymMap())
    out, position, index = [], 0, 0
    while position < len(text):
        size = sizes[index % len(sizes)]
        out.append(stream.feed(text[position : position + size]))
        position += size
        index += 1
    out.append(stream.finish())
    assert "".join(out) == whole


@SETTINGS
@given(long_texts, st.lists(st.integers(min_value=1, max_value=120), min_size=1, max_size=30), policy_names)
def test_streaming_long_texts_equals_whole_text(text: str, sizes: list[int], policy_name: str) -> None:
    policy = POLICIES[policy_name]
    whole = redact(text, policy, DETECTOR, PseudonymMap()).text
    stream = StreamRedactor(policy, DETECTOR, PseudonymMap())
    out, position, index = [], 0, 0
    while position < len(text):
        size = sizes[index % len(sizes)]
        out.append(stream.feed(text[position : position + size]))
        position += size
        index += 1
    out.append(stream.finish())
    assert "".join(out) == whole


_TOKEN_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/_.~!#$%^&*@-"


@given(st.text(alphabet=_TOKEN_CHARS, min_size=12, max_size=40))
@SETTINGS
def test_credential_look_ahead_keeps_every_token_the_entropy_check_accepts(token: str) -> None:
    from assay.pii._patterns import TOKEN
    from assay.pii._validate import looks_random

    if looks_random(token):
        match = TOKEN.match(" " + token + " ", 1)
        assert match is not None and match.group("token") == token




@SETTINGS
@given(st.one_of(texts, long_texts), st.integers(min_value=0, max_value=400))
def test_scan_with_family_hints_equals_the_full_pattern_scan(text: str, offset: int) -> None:
    """The pattern variant a text's hints pick finds exactly what the full pattern finds, from any position."""
    from assay.pii.detector import _raw_matches

    pos = min(offset, len(text))
    fast = [(m.start(), m.end(), m.lastgroup) for m in _raw_matches(text, pos)]
    assert fast == reference_matches(text, pos)


# Fragments that sit on the edges of ``pattern_starts``' rules: letters that match others
# case-insensitively, Unicode digits, "=" after a token, words that almost start an alternative.
_EDGES = [
    "\u017fix", "tr\u0131ple", "\u212a", "\u0663\u0664", "\u00e9", "==", "===", "x=", "at ", "at\tmail.io",
    "at foo dot", "Mar. 5", "May 12", "Agent:", "AGPA", "AIza", "ab:", "fe80::", "://", "ftp://u:p@h",
    "one, um, two", "oh-oh-oh", "zero\u00a0", "GB82", "sk-", "rk_", "ghp_", "github_pat_", "xoxb-", "eyJ", "[A", "<P",
    "-----BEGIN", "+1", "(4", "_", "~", "Ab+", "aB/", "@x.io", "a.b@c.de",
]
edgy_texts = st.lists(st.one_of(pieces, st.sampled_from(_EDGES)), max_size=24).map("".join)


@SETTINGS
@given(st.one_of(texts, long_texts, edgy_texts), st.integers(min_value=0, max_value=400))
def test_both_scan_strategies_equal_the_full_pattern_scan(text: str, offset: int) -> None:
    """Trying the pattern only where ``pattern_starts`` says it may start (compiled builds) and
    searching for it (pure Python) both find exactly what the full pattern's search finds."""
    from assay.pii.detector import matches_at_starts, searched_matches

    pos = min(offset, len(text))
    reference = reference_matches(text, pos)
    assert [(m.start(), m.end(), m.lastgroup) for m in matches_at_starts(text, pos)] == reference
    assert [(m.start(), m.end(), m.lastgroup) for m in searched_matches(text, pos)] == reference


_WINDOW_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789 #-._:\x00\u00e9"


@SETTINGS
@given(st.lists(st.one_of(st.sampled_from(["card", "ssn", "social security", "d.o.b", "dob", "born", "order",
                                           "api key", "my_token", "tel", "v", "ip", "date of birth"]),
                           st.text(alphabet=_WINDOW_CHARS, max_size=6)), max_size=12).map("".join))
def test_context_words_found_from_word_starts_as_with_look_behind(window: str) -> None:
    """Context patterns that consume the character before a word find a word exactly when the
    look-behind form of the same words does."""
    import re

    from assay.pii import _patterns

    for pattern in [*_patterns.POSITIVE_CONTEXT.values(), *_patterns.NEGATIVE_CONTEXT.values()]:
        assert pattern.pattern.startswith("[^a-z0-9](?:") and pattern.pattern.endswith(")(?![a-z0-9])")
        alternatives = pattern.pattern.removeprefix("[^a-z0-9](?:").removesuffix(")(?![a-z0-9])")
        look_behind = re.compile(rf"(?<![a-z0-9])(?:{alternatives})(?![a-z0-9])")
        assert (pattern.search(" " + window) is not None) == (look_behind.search(window) is not None)


_NEAR_WORDS = ["order", "reorder", "v", "v2", "version", "due", "part", "po", "invoice", "isbn", "expires"]


@SETTINGS
@given(
    st.lists(st.one_of(st.sampled_from(_NEAR_WORDS), st.text(alphabet=_WINDOW_CHARS + "\u212a", max_size=6)), max_size=14).map("".join),
    st.integers(min_value=0, max_value=80),
    st.integers(min_value=0, max_value=20),
    st.integers(min_value=0, max_value=80),
)
def test_negative_words_checked_once_per_text_decide_like_the_window_search(text: str, at: int, size: int, floor: int) -> None:
    """Skipping the window search when the whole text lacks every word of a negative list changes no decision."""
    from assay.pii import _patterns
    from assay.pii.detector import _ABSENT, _Context, _Fences

    start = min(at, len(text))
    end = min(start + size, len(text))
    context = _Context(text, text.lower(), _Fences([(start, end)], min(floor, start), len(text)))
    left, right = max(min(floor, start), start - _patterns.NEAR_BEFORE), min(len(text), end + _patterns.NEAR_AFTER)
    window = " " + text[left:start].lower() + " \x00 " + text[end : max(right, end)].lower()
    for name, pattern in _patterns.NEGATIVE_CONTEXT.items():
        fences = (min(floor, start), len(text))
        assert (context._against(name, start, end, *fences) != _ABSENT) == (pattern.search(window) is not None)


@SETTINGS
@given(st.one_of(texts, long_texts, edgy_texts))
def test_texts_the_spelled_date_gate_skips_hold_no_spelled_date(text: str) -> None:
    """The substring gate before the spelled-out date search only skips texts the search finds nothing in."""
    from assay.pii._classify import _may_hold_spelled_date
    from assay.pii._patterns import SPELLED_DATE_LOWER

    lowered = text.lower()
    if text.isascii() and not _may_hold_spelled_date(lowered):
        assert SPELLED_DATE_LOWER.search(" " + lowered) is None


_RUN_CHARS = "0123456789 \t-./(),+umhera"


@SETTINGS
@given(st.text(alphabet=_RUN_CHARS, max_size=40), st.integers(min_value=0, max_value=40))
def test_digit_runs_taken_whole_match_like_digit_by_digit(text: str, offset: int) -> None:
    """``\\d++(?:SEP\\d++)*`` (the number alternatives) matches exactly where and as far as
    ``\\d(?:SEP?\\d)*`` does: a separator never starts with a digit."""
    import re

    from assay.pii._patterns import _DIGIT_SEP

    whole = re.compile(rf"\d++(?:{_DIGIT_SEP}\d++)*(?![\dA-Za-z])")
    by_digit = re.compile(rf"\d(?:{_DIGIT_SEP}?\d)*(?![\dA-Za-z])")
    for pos in range(min(offset, len(text)) + 1):
        a, b = whole.match(text, pos), by_digit.match(text, pos)
        assert (a and a.span()) == (b and b.span())


_CONTEXT_VOCABULARY = [
    "api", "key", "access", "client", "secret", "my", "token", "password", "d", "o", "b", "birth", "social",
    "security", "tax", "id", "ss#", "ip", "v4", "cell", "phone", "card", "pay", "pan", "x9", "from", "born",
]


@SETTINGS
@given(st.lists(st.one_of(st.sampled_from(_CONTEXT_VOCABULARY), st.sampled_from(list(" _-.#"))), max_size=10).map("".join))
def test_every_context_word_holds_one_of_its_type_hints(window: str) -> None:
    """A window in which a type's context words are found holds one of that type's hints, so a text
    without the hints can skip the window searches."""
    from assay.pii._patterns import POSITIVE_CONTEXT, POSITIVE_HINTS

    for name, pattern in POSITIVE_CONTEXT.items():
        if pattern.search(" " + window) is not None:
            assert any(hint in window for hint in POSITIVE_HINTS[name]), name


@SETTINGS
@given(st.text(min_size=1, max_size=60))
def test_entropy_counted_in_a_dict_equals_the_counter_formula(text: str) -> None:
    import math
    from collections import Counter

    from assay.pii._validate import shannon_entropy

    length = len(text)
    assert shannon_entropy(text) == -sum(n / length * math.log2(n / length) for n in Counter(text).values())


@SETTINGS
@given(st.text(alphabet="0123456789", min_size=1, max_size=25))
def test_luhn_loop_equals_the_digit_string_formula(digits: str) -> None:
    from assay.pii._validate import luhn_ok

    doubled = digits[-2::-2].translate(str.maketrans("0123456789", "0246813579"))
    assert luhn_ok(digits) == (sum(map(int, digits[-1::-2] + doubled)) % 10 == 0)


_CONTEXT_PIECES = st.one_of(st.sampled_from(["order", "call", "phone", "number", " ", "-"]), st.text(alphabet=_WINDOW_CHARS, max_size=4))


@SETTINGS
@given(
    st.lists(_CONTEXT_PIECES, max_size=10).map("".join),
    st.lists(_CONTEXT_PIECES, max_size=4).map("".join),
)
def test_nearest_context_word_distance_matches_a_plain_search(before: str, after: str) -> None:
    """The distance to the nearest context word is what searching every word start finds."""
    import re

    from assay.pii import _patterns
    from assay.pii.detector import _ABSENT, _nearest

    before, after = before.lower(), after.lower()
    window = " " + before + " \x00 " + after
    for pattern in [*_patterns.POSITIVE_CONTEXT.values(), *_patterns.NEGATIVE_CONTEXT.values()]:
        words = pattern.pattern.removeprefix("[^a-z0-9](?:").removesuffix(")(?![a-z0-9])")
        word = re.compile(rf"(?<![a-z0-9])(?:{words})(?![a-z0-9])")
        distances = [len(before) - m.end() for i in range(len(before)) if (m := word.match(before, i))]
        distances += [m.start() for i in range(len(after)) if (m := word.match(after, i))]
        assert _nearest(pattern, window, len(before)) == min(distances, default=_ABSENT)
