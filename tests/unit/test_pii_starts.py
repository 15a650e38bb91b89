"""``pattern_starts``: where the combined pattern may match, so the engine tries it only there (ADR 0039)."""

from __future__ import annotations

import pytest
from tests.pii_support import reference_matches

from assay.pii import _patterns, _starts
from assay.pii.detector import matches_at_starts, searched_matches

TEXTS = [
    "",
    "plain prose with nothing in it at all",
    "mail a@b.io or first.last+tag@mail.example.co.uk, call +1 (415) 555-2671 or (020) 7946 0958",
    "four one one one, um, one one one one one one one one one one one one",
    "FOUR one two \u017fix seven tr\u0131ple nine",  # case-insensitive matches of non-ASCII letters
    "Agent: AGENT: ASIA AKIAIOSFODNN7EXAMPLE AIzaSyA1234567890abcdefghijklmnopqrstu",
    "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z rk_live_abcdefghijklmnop1234 ghp_" + "a1" * 18,
    "xoxb-1234567890-abcdefghij https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXX",
    "token=github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz and [github_pat_22BCDEFGH1234567890abcdef]",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOjF9.sig ftp://user:s3cret@host.example postgres://a:b@c",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY----- [EMAIL_ADDRESS] <PERSON_2>",
    "ip fe80::1, ::1, 2001:db8::8a2e:370:7334, ab:cd:ef, 203.0.113.7 and 1.2.3.4.5",
    "born March 5, 1984; Mar. 12, 1990; 5th of May 2001; 04/12/1990, 1990-12-04, may 3 1985",
    "GB82 WEST 1234 5698 7654 32 and DE89370400440532013000",
    "john dot smith at gmail dot com, reach me at mail.example.org, at home",
    "key=Xk9#mP2$vL8qR4nZ token: abcdefghijklmnopQRST/+ OPENAI_API_KEY=sk_live_x padded==",
    "aGVsbG8gd29ybGQgdGhpcyBpcyBiYXNlNjQ=== x" + "A1b2" * 70,
    "numbers \u0663\u0664\u0665-\u0661\u0662 and \u00e94111 1111 1111 1111 and \u212a9",
    "x" * 300 + " 12 " + "+" * 20 + "abc123def456ghi",
]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("fraction", [0, 1 / 3, 1 / 2, 1])
def test_trying_the_pattern_at_the_starts_finds_what_a_search_finds(text: str, fraction: float) -> None:
    pos = int(len(text) * fraction)
    expected = reference_matches(text, pos)
    assert [(m.start(), m.end(), m.lastgroup) for m in matches_at_starts(text, pos)] == expected
    assert [(m.start(), m.end(), m.lastgroup) for m in searched_matches(text, pos)] == expected


@pytest.mark.parametrize("text", TEXTS)
def test_starts_are_ascending_unique_and_from_pos(text: str) -> None:
    for pos in (0, len(text) // 2):
        starts: list[int] = []
        _starts.pattern_starts(text, pos, starts)
        assert starts == sorted(set(starts))
        assert all(pos <= s < len(text) for s in starts)


def test_starts_are_appended_after_what_the_list_holds() -> None:
    starts = [-7]
    _starts.pattern_starts("call 555 0100", 0, starts)
    assert starts[0] == -7 and starts[1:] == [5, 9]


def test_family_bits_follow_the_optional_families_order() -> None:
    bits = [_starts.DIGIT_FAMILY, _starts.COLON_FAMILY, _starts.EMAIL_FAMILY, _starts.PROVIDER_FAMILY]
    assert bits == [1 << i for i in range(len(_patterns._OPTIONAL))]
    assert _patterns._OPTIONAL == ("digit", "colon", "email", "provider")


@pytest.mark.parametrize(
    ("text", "families"),
    [
        ("nothing here", set()),
        ("call 5", {"digit"}),
        ("Agent: hello", set()),
        ("ip ::1", {"colon", "digit"}),
        ("a@b", {"email"}),
        ("ghp_", {"provider"}),
        ("https://x y", {"colon"}),
        ("\u0663", {"digit"}),
    ],
)
def test_families_reported_with_the_starts(text: str, families: set[str]) -> None:
    mask = _starts.pattern_starts(text, 0, [])
    assert {name for i, name in enumerate(_patterns._OPTIONAL) if mask >> i & 1} == families

