"""Recognizers, one behaviour table per entity type."""

from __future__ import annotations

import itertools

import pytest

from assay.errors import PIIError
from assay.pii import Action, Detector, RedactionPolicy, Span, redact

DETECTOR = Detector()


def found(text: str, min_score: float = 0.5) -> list[tuple[str, str]]:
    return [(s.type, text[s.start : s.end]) for s in DETECTOR.detect(text) if s.score >= min_score]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail jane.doe@example.com now", [("EMAIL_ADDRESS", "jane.doe@example.com")]),
        ("a+tag@sub.example.co.uk.", [("EMAIL_ADDRESS", "a+tag@sub.example.co.uk")]),
        ("reach me at john dot smith at gmail dot com", [("EMAIL_ADDRESS", "john dot smith at gmail dot com")]),
        ("not an email: a..b@example.com", []),
        ("user@localhost has no domain", []),
    ],
)
def test_email(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("card 4111 1111 1111 1111 thanks", [("CREDIT_CARD", "4111 1111 1111 1111")]),
        ("4111-1111-1111-1111", [("CREDIT_CARD", "4111-1111-1111-1111")]),
        ("amex 378282246310005", [("CREDIT_CARD", "378282246310005")]),
        ("mc 5555555555554444 and discover 6011111111111117", [("CREDIT_CARD", "5555555555554444"), ("CREDIT_CARD", "6011111111111117")]),
        ("card 4111 1111 1111 1112 fails Luhn", []),
        ("9111111111111111 is no issuer", []),
        ("card 4 1 1 1 - 1 1 1 1 - 1 1 1 1 - 1 1 1 1", [("CREDIT_CARD", "4 1 1 1 - 1 1 1 1 - 1 1 1 1 - 1 1 1 1")]),
        ("it's 4111 1111, um, 1111 1111", [("CREDIT_CARD", "4111 1111, um, 1111 1111")]),
        (
            "Customer: four one one one one one one one one one one one one one one one",
            [("CREDIT_CARD", "four one one one one one one one one one one one one one one one")],
        ),
    ],
)
def test_credit_card(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SSN 536-22-1234", [("US_SSN", "536-22-1234")]),
        ("ssn: 536 22 1234", [("US_SSN", "536 22 1234")]),
        ("my social security number is 536221234", [("US_SSN", "536221234")]),
        ("536221234", []),  # nine bare digits without context are not enough
        ("SSN 000-12-3456", []),
        ("SSN 666-12-3456", []),
        ("SSN 912-12-3456", []),
        ("SSN 536-00-1234", []),
        ("SSN 536-22-0000", []),
        ("SSN 078-05-1120", []),
        ("Agent: and your social? Customer: five three six, two two, one two three four",
         [("US_SSN", "five three six, two two, one two three four")]),
    ],
)
def test_ssn(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call +1 (415) 555-2671.", [("PHONE_NUMBER", "+1 (415) 555-2671")]),
        ("phone: (415) 555-2671", [("PHONE_NUMBER", "(415) 555-2671")]),
        ("415.555.2671", [("PHONE_NUMBER", "415.555.2671")]),
        ("UK +44 20 7946 0958", [("PHONE_NUMBER", "+44 20 7946 0958")]),
        ("call me on 020 7946 0958", [("PHONE_NUMBER", "020 7946 0958")]),
        ("Berlin +49 30 901820", [("PHONE_NUMBER", "+49 30 901820")]),
        ("order number 4155552671", []),
        ("my number is four one five, five five five, two six seven one",
         [("PHONE_NUMBER", "four one five, five five five, two six seven one")]),
        ("the year 2024 had 365 days", []),
        ("my number is four one five... five five five ... uh ... two six seven one",
         [("PHONE_NUMBER", "four one five... five five five ... uh ... two six seven one")]),
    ],
)
def test_phone(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("IBAN GB82 WEST 1234 5698 7654 32 please", [("IBAN_CODE", "GB82 WEST 1234 5698 7654 32")]),
        ("DE89370400440532013000", [("IBAN_CODE", "DE89370400440532013000")]),
        ("GB82 WEST 1234 5698 7654 32 THEN", [("IBAN_CODE", "GB82 WEST 1234 5698 7654 32")]),
        ("GB83 WEST 1234 5698 7654 32", []),
        ("iban gb82 west 1234 5698 7654 32", [("IBAN_CODE", "gb82 west 1234 5698 7654 32")]),
    ],
)
def test_iban(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("client ip 203.0.113.7 connected", [("IP_ADDRESS", "203.0.113.7")]),
        ("from 2001:db8::8a2e:370:7334", [("IP_ADDRESS", "2001:db8::8a2e:370:7334")]),
        ("host ::1 is local", [("IP_ADDRESS", "::1")]),
        ("version 1.2.3.4 released", []),
        ("999.1.1.1", []),
        ("at 10:30:45 sharp", []),
    ],
)
def test_ip(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("sk-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z", "secret.openai"),
        ("sk-ant-api03-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z_-AA", "secret.anthropic"),
        ("AKIAIOSFODNN7EXAMPLE", "secret.aws_access_key"),
        ("ghp_" + "a" * 20 + "B" * 16, "secret.github"),
        ("xoxb-1234567890-abcdefghij", "secret.slack"),
        ("sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc", "secret.stripe"),
        ("AIza" + "SyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", "secret.google_api_key"),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "secret.jwt"),
        ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----", "secret.pem_private_key"),
        ("password: Xk9#mP2$vL8qR4nZ", "secret.keyword_entropy"),
        ("postgres://app:S3cr3t!pw@db.internal:5432/app", "secret.url_password"),
        ("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "secret.keyword_entropy"),
    ],
)
def test_secrets(text: str, kind: str) -> None:
    spans = [s for s in DETECTOR.detect(text) if s.type == "SECRET"]
    assert [s.recognizer for s in spans] == [kind]


@pytest.mark.parametrize(
    "text",
    [
        "the request id is 3f2a9c1e7b4d8a6f0e5c2b1a",  # random-looking, but no key word near
        "see https://example.com/docs/getting-started/install",
        "password: hunter",  # too short to be a credential
    ],
)
def test_no_secret(text: str) -> None:
    assert [s for s in DETECTOR.detect(text) if s.type == "SECRET"] == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I was born on March 5, 1984.", [("DATE_OF_BIRTH", "March 5, 1984")]),
        ("DOB: 04/12/1990", [("DATE_OF_BIRTH", "04/12/1990")]),
        ("date of birth 1990-12-04", [("DATE_OF_BIRTH", "1990-12-04")]),
        ("born 5th of March 1984", [("DATE_OF_BIRTH", "5th of March 1984")]),
        ("the meeting is on 2023-01-02", []),
        ("born in Ohio; order date 2023-01-02", []),
        ("DOB: 31/02/1990", []),
    ],
)
def test_date_of_birth(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I was born on the fourth of July nineteen eighty-two.", [("DATE_OF_BIRTH", "fourth of July nineteen eighty-two")]),
        ("my date of birth is March third, 1985", [("DATE_OF_BIRTH", "March third, 1985")]),
        ("Customer: D.O.B. twelve oh three eighty-five", [("DATE_OF_BIRTH", "twelve oh three eighty-five")]),
        ("born March the twenty-first, two thousand and five", [("DATE_OF_BIRTH", "March the twenty-first, two thousand and five")]),
        ("DOB is the 4th of July nineteen eighty two", [("DATE_OF_BIRTH", "4th of July nineteen eighty two")]),
        ("birthday: thirtieth of Sept. twenty oh one", [("DATE_OF_BIRTH", "thirtieth of Sept. twenty oh one")]),
        ("born twenty first of May nineteen ninety", [("DATE_OF_BIRTH", "twenty first of May nineteen ninety")]),
        ("Customer: born, um, one two oh three one nine eight five", [("DATE_OF_BIRTH", "one two oh three one nine eight five")]),
        ("date of birth: three twelve eighty-five (UK order)", [("DATE_OF_BIRTH", "three twelve eighty-five")]),
        ("BORN ON THE FIFTH OF NOVEMBER NINETEEN SEVENTY", [("DATE_OF_BIRTH", "FIFTH OF NOVEMBER NINETEEN SEVENTY")]),
        ("Zoë was born on the Fifth of November nineteen seventy", [("DATE_OF_BIRTH", "Fifth of November nineteen seventy")]),
        ("born the \u0663rd of March 1985", [("DATE_OF_BIRTH", "\u0663rd of March 1985")]),  # an Arabic-Indic 3
        # No birth word, no date of birth.
        ("we met on the fourth of July nineteen eighty-two", []),
        ("the contract renews March third, 2026", []),
        ("meeting twelve oh three twenty twenty-five", []),
        # Not a date.
        ("born on February thirtieth, 1990", []),
        ("born thirteen oh three eighty-five", [("DATE_OF_BIRTH", "thirteen oh three eighty-five")]),  # 13 March 1985
        ("born thirteen fourteen eighty-five", []),
        ("DOB: one two three four five six", []),
    ],
)
def test_date_of_birth_in_words(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize(
    "text",
    ["double double double", "triple double, um, double", "Customer: oh double triple", "1", "born double triple one"],
)
def test_number_words_without_digits_find_nothing(text: str) -> None:
    assert [s for s in DETECTOR.detect(text) if s.type != "PHONE_NUMBER"] == []


def test_spelled_dates_follow_the_enabled_types() -> None:
    detector = Detector(enabled_types=["EMAIL_ADDRESS"])
    assert detector.detect("born on the fourth of July nineteen eighty-two") == []


def test_spans_are_sorted_non_overlapping_and_scored() -> None:
    text = "jane@example.com +1 415 555 2671 4111111111111111 536-22-1234 sk_live_4eC39HqLyjWDarjtT1zdp7dc"
    spans = DETECTOR.detect(text)
    assert [s.start for s in spans] == sorted(s.start for s in spans)
    assert all(a.end <= b.start for a, b in itertools.pairwise(spans))
    assert all(isinstance(s, Span) and 0.0 <= s.score <= 1.0 and s.recognizer for s in spans)
    assert len(spans) == 5


def test_context_words_raise_and_lower() -> None:
    (plain,) = DETECTOR.detect("4155552671")
    (raised,) = DETECTOR.detect("call me 4155552671")
    (lowered,) = DETECTOR.detect("order 4155552671")
    assert lowered.score < plain.score < raised.score


@pytest.mark.parametrize(
    ("text", "score"),
    [
        # Only one kind of word near the value: it decides.
        ("+1 415 555 0134", 0.75),
        ("call +1 415 555 0134", 1.0),
        ("order +1 415 555 0134", 0.4),
        # Both kinds: the nearer one decides.
        ("order 1234 and call +1 415 555 0134", 1.0),
        ("order 12 and call 4155552671", 0.7),
        ("call about order 4155552671", 0.05),
        ("call +1 415 555 0134 about the order", 1.0),
        ("order: 4155552671, call it", 0.05),
        # A tie lowers: the value may be the order's.
        ("order 4155552671 call", 0.05),
        # A positive word that completes a negative one names the same thing.
        ("order number 4155552671", 0.05),
        ("case-number 4155552671", 0.05),
        ("order # number 4155552671", 0.05),
        ("order 12, phone number 4155552671", 0.7),
    ],
)
def test_the_nearer_context_word_decides(text: str, score: float) -> None:
    (phone,) = DETECTOR.detect(text)
    assert phone.type == "PHONE_NUMBER"
    assert phone.score == score


def test_the_gateway_benchmark_prompt_has_both_its_entities_redacted() -> None:
    """An order number before "call" does not hide the number to call (it did until the
    nearer context word decided), so the benchmark's "redaction both ways" covers both."""
    from benchmarks.gateway import PROMPT

    assert [(s.type, s.score >= RedactionPolicy.default_inbound().min_score) for s in DETECTOR.detect(PROMPT)] == [
        ("EMAIL_ADDRESS", True),
        ("PHONE_NUMBER", True),
    ]


def test_enabled_types_limit_detection() -> None:
    detector = Detector(enabled_types=["EMAIL_ADDRESS"])
    assert [s.type for s in detector.detect("a@example.com 536-22-1234")] == ["EMAIL_ADDRESS"]


def test_unknown_type_is_a_clear_error() -> None:
    with pytest.raises(PIIError, match="unknown entity type 'EMAIL'") as info:
        Detector(enabled_types=["EMAIL"])
    assert "EMAIL_ADDRESS" in info.value.hint


def test_placeholders_are_not_detected() -> None:
    text = "[EMAIL_ADDRESS] [CREDIT_CARD ****1111] [SECRET:0123456789abcdef] <PHONE_NUMBER_3>"
    assert DETECTOR.detect(text) == []


def test_ner_types_uncovered_without_backend() -> None:
    assert {"PERSON", "LOCATION"} <= Detector().uncovered_types
    assert "EMAIL_ADDRESS" in Detector().covered_types


def test_phone_plans_agree_with_phonenumbers() -> None:
    """The compiled numbering plans decide like phonenumbers' own validation."""
    import random

    import phonenumbers

    from assay.pii._validate import phone_ok

    rng = random.Random(7)
    agree = total = 0
    for _ in range(3000):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(9, 11)))
        number = "+" + rng.choice(["1", "44", "49", "33", "91", "61"]) + digits[:9]
        parsed = phonenumbers.parse(number)
        total += 1
        agree += phone_ok(number, international=True) == phonenumbers.is_valid_number(parsed)
    us = "".join(rng.choice("23456789") for _ in range(1)) + "15555" + "2671"
    assert phone_ok(us, international=False) == phonenumbers.is_valid_number(phonenumbers.parse(us, "US"))
    assert agree / total >= 0.995


@pytest.mark.parametrize(
    "text",
    [
        "plain prose with nothing in it at all",
        "mail a@b.io, call +1 (415) 555-2671, ip fe80::1, key sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        "four one one one one one one one one one one one one one one one",
        "password: Xk9#mP2$vL8qR4nZ -----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----",
        "[EMAIL_ADDRESS] <PERSON_2> 2024-01-01 GB82 WEST 1234 5698 7654 32",
        "though the high road is configuration-heavy, Configuration.Value and x9f2Kq81Lm3Z4 remain",
        "token ghp_abcdefghijklmnopqrstuvwxyz0123456789 and eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOjF9.sig",
        "no digits here but a Mixed-Case/TokenWith+Symbols and  AKIAIOSFODNN7EXAMPLE",
    ],
)
def test_pattern_variants_match_like_the_full_pattern(text: str) -> None:
    from assay.pii._patterns import COMBINED, combined_for

    def shape(pattern: object) -> list[tuple[int, int, str | None]]:
        return [(m.start(), m.end(), m.lastgroup) for m in pattern.finditer(text)]  # type: ignore[attr-defined]

    assert shape(combined_for(text)) == shape(COMBINED)


def test_every_alternative_belongs_to_a_known_family() -> None:
    from assay.pii import _patterns

    groups = (_patterns._DIGIT_START, _patterns._LETTER_START, _patterns._SYMBOL_START)
    assert {family for group in groups for family, _ in group} <= _patterns.ALL_FAMILIES


def test_iban_check_decides_like_python_stdnum() -> None:
    """``iban_ok`` (own checksum and cached country layouts) agrees with stdnum's validate."""
    import random
    import re
    import string

    from stdnum import iban, numdb
    from stdnum.exceptions import ValidationError

    from assay.pii._validate import iban_ok

    def stdnum_ok(number: str) -> bool:
        try:
            iban.validate(number, check_country=False)
        except ValidationError:
            return False
        return True

    rng = random.Random(11)
    registry = numdb.get("iban")
    classes = {"n": string.digits, "a": string.ascii_uppercase, "c": string.ascii_uppercase + string.digits}
    decided = []
    for country in (a + b for a in string.ascii_uppercase for b in string.ascii_uppercase):
        layout = registry.info(country)[0][1].get("bban", "4!c10!n")
        for _ in range(4):
            body = "".join(
                "".join(rng.choice(classes[kind] if rng.random() > 0.05 else string.digits + "Q") for _ in range(int(n)))
                for n, kind in re.findall(r"(\d+)!([nac])", layout)
            )
            check = iban.calc_check_digits(country + "00" + body) if rng.random() < 0.8 else f"{rng.randint(0, 99):02d}"
            number = country + check + body
            assert iban_ok(number) == stdnum_ok(number), number
            decided.append(stdnum_ok(number))
    assert 150 < sum(decided) < len(decided)  # valid and invalid numbers both tried


def test_country_plans_decide_like_region_by_region_checks() -> None:
    """One pattern per calling code accepts exactly what its regions' plans accept, region by region."""
    import random

    import phonenumbers

    from assay.pii._validate import _valid_national, _valid_trunk, phone_ok, preload_phone_metadata

    preload_phone_metadata()
    rng = random.Random(5)
    accepted = 0
    for code, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items():
        for _ in range(12):
            example = phonenumbers.example_number(regions[0]) if rng.random() < 0.5 else None
            national = str(example.national_number) if example is not None else ""
            national = national or "".join(rng.choice("0123456789") for _ in range(rng.randint(4, 12)))
            if rng.random() < 0.3:
                national = "0" + national
            expected = any(_valid_national(national, r) or _valid_trunk(national, r) for r in regions if r != "001")
            assert phone_ok(f"+{code}{national}", international=True) == expected, (code, national)
            accepted += expected
    assert accepted > 300


def test_national_plan_decides_like_region_by_region_checks() -> None:
    import random

    from assay.pii._validate import _NATIONAL_REGIONS, _valid_trunk, phone_ok

    rng = random.Random(9)
    accepted = 0
    for _ in range(4000):
        number = "0" + "".join(rng.choice("0123456789") for _ in range(rng.randint(9, 10)))
        if number.startswith("00"):
            continue
        expected = any(_valid_trunk(number, region) for region in _NATIONAL_REGIONS)
        assert phone_ok(number, international=False) == expected, number
        accepted += expected
    assert accepted > 100


def test_every_literal_context_word_holds_one_of_its_type_hints() -> None:
    from assay.pii._patterns import _LITERAL_WORD, _POSITIVE_WORDS, POSITIVE_HINTS

    assert set(_POSITIVE_WORDS) == set(POSITIVE_HINTS)
    for name, words in _POSITIVE_WORDS.items():
        for word in words:
            if _LITERAL_WORD.fullmatch(word):
                assert any(hint in word for hint in POSITIVE_HINTS[name]), (name, word)


@pytest.mark.parametrize(
    "text",
    [
        "password: 00011234567/ 415-555-2671 ",  # the run of digit groups hid the credential
        "password: 00011234567/ [PHONE_NUMBER] ",  # ... which the run then ending at "/" showed
        "token 00011234567/abc",
    ],
)
def test_digits_opening_a_credential_are_found_wherever_the_run_ends(text: str) -> None:
    secrets = [s for s in DETECTOR.detect(text) if s.type == "SECRET"]
    assert [(s.start, s.recognizer) for s in secrets] == [(text.index("000"), "secret.keyword_entropy")]


def test_redacting_a_credential_before_a_phone_number_twice_changes_nothing() -> None:
    """Found by the idempotence property: redacting the phone number used to expose the credential."""


    policy = RedactionPolicy(actions=dict.fromkeys(DETECTOR.covered_types, Action.MASK))
    once = redact("password: 00011234567/ 415-555-2671 ", policy, DETECTOR).text
    assert once == "password: [SECRET] [PHONE_NUMBER] "
    assert redact(once, policy, DETECTOR).text == once
