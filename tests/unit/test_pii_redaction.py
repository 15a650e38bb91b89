"""Redaction actions, policies, pseudonyms, fail-open/closed and streaming."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

import pytest

from assay.errors import PIIError
from assay.pii import (
    Action,
    Detector,
    PseudonymMap,
    PseudonymRestorer,
    RedactionPolicy,
    Span,
    StreamRedactor,
    fail_closed_total,
    fail_open_total,
    redact,
)

DETECTOR = Detector()
KEY = bytes(range(32))
TEXT = "Mail jane@example.com, card 4111 1111 1111 1111, ip 203.0.113.7"


def policy(action: Action, **kw: object) -> RedactionPolicy:
    return RedactionPolicy(actions={"EMAIL_ADDRESS": action, "CREDIT_CARD": action}, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (Action.MASK, "Mail [EMAIL_ADDRESS], card [CREDIT_CARD], ip 203.0.113.7"),
        (Action.PARTIAL, "Mail [EMAIL_ADDRESS ****ecom], card [CREDIT_CARD ****1111], ip 203.0.113.7"),
        (Action.DROP, "Mail , card , ip 203.0.113.7"),
        (Action.ALLOW, TEXT),
    ],
)
def test_actions(action: Action, expected: str) -> None:
    assert redact(TEXT, policy(action), DETECTOR).text == expected


def test_hash_is_keyed_and_normalised() -> None:
    result = redact("card 4111 1111 1111 1111 or 4111-1111-1111-1111", policy(Action.HASH, hash_key=KEY), DETECTOR)
    digest = hmac.new(KEY, b"CREDIT_CARD\x004111111111111111", hashlib.sha256).hexdigest()[:16]
    assert result.text == f"card [CREDIT_CARD:{digest}] or [CREDIT_CARD:{digest}]"
    other = redact("card 4111 1111 1111 1111", policy(Action.HASH, hash_key=b"x" * 32), DETECTOR)
    assert digest not in other.text


@pytest.mark.parametrize("key", [None, b"short"])
def test_hash_without_a_tenant_key_is_refused(key: bytes | None) -> None:
    with pytest.raises(PIIError, match="hash key") as info:
        policy(Action.HASH, hash_key=key)
    assert "unsalted" in info.value.hint


def test_min_score_out_of_range_is_refused() -> None:
    with pytest.raises(PIIError, match="min_score"):
        RedactionPolicy(actions={}, min_score=1.5)


def test_default_inbound_policy() -> None:
    text = "a@b.io 4111111111111111 536-22-1234 +1 415 555 2671 GB82WEST12345698765432 sk_live_4eC39HqLyjWDarjtT1zdp7dc 10.0.0.1"
    result = redact(text, RedactionPolicy.default_inbound(), DETECTOR)
    assert result.text == (
        "[EMAIL_ADDRESS] [CREDIT_CARD ****1111] [US_SSN] [PHONE_NUMBER] [IBAN_CODE] [SECRET] 10.0.0.1"
    )
    assert result.counts == {"EMAIL_ADDRESS": 1, "CREDIT_CARD": 1, "US_SSN": 1, "PHONE_NUMBER": 1, "IBAN_CODE": 1, "SECRET": 1}
    assert [s.type for s in result.spans] == list(result.counts)


def test_pseudonyms_are_stable_and_reversible() -> None:
    pseudonyms = PseudonymMap()
    p = policy(Action.PSEUDONYM)
    first = redact("jane@example.com and bob@example.com", p, DETECTOR, pseudonyms).text
    second = redact("again jane@example.com", p, DETECTOR, pseudonyms).text
    assert first == "<EMAIL_ADDRESS_1> and <EMAIL_ADDRESS_2>"
    assert second == "again <EMAIL_ADDRESS_1>"
    reply = "I wrote to <EMAIL_ADDRESS_2> and <EMAIL_ADDRESS_9>"
    assert pseudonyms.restore(reply) == "I wrote to bob@example.com and <EMAIL_ADDRESS_9>"
    copy = PseudonymMap.from_bytes(pseudonyms.to_bytes())
    assert copy.restore(first) == "jane@example.com and bob@example.com"
    assert copy.pseudonym_for("EMAIL_ADDRESS", "new@example.com") == "<EMAIL_ADDRESS_3>"


def test_pseudonym_restorer_handles_split_tokens() -> None:
    pseudonyms = PseudonymMap()
    token = pseudonyms.pseudonym_for("PERSON", "Ada")
    restorer = PseudonymRestorer(pseudonyms)
    text = f"Hi {token}, a<b and {token}!"
    out = "".join(restorer.feed(c) for c in text) + restorer.finish()
    assert out == "Hi Ada, a<b and Ada!"


@pytest.mark.parametrize(
    "data",
    [b"not json", b'{"v": 2, "entries": []}', b'{"v": 1, "entries": [["PERSON", "x", "<EMAIL_ADDRESS_1>"]]}', b'{"v": 1, "entries": [1]}'],
)
def test_bad_pseudonym_bytes_are_refused(data: bytes) -> None:
    with pytest.raises(PIIError, match="pseudonym map"):
        PseudonymMap.from_bytes(data)


def test_pseudonym_policy_without_map_is_an_error() -> None:
    with pytest.raises(PIIError, match="PseudonymMap"):
        redact("jane@example.com", policy(Action.PSEUDONYM), DETECTOR)


class _BrokenBackend:
    entity_types = frozenset({"PERSON"})

    def analyze(self, text: str) -> Sequence[Span]:
        raise RuntimeError("model crashed")


def test_detection_failure_fails_closed_and_is_counted() -> None:
    detector = Detector(ner_backend=_BrokenBackend())
    before = fail_closed_total()
    with pytest.raises(PIIError, match="not passed on"):
        redact("jane@example.com", RedactionPolicy.default_inbound(), detector)
    assert fail_closed_total() == before + 1


def test_fail_open_policy_passes_text_and_counts() -> None:
    detector = Detector(ner_backend=_BrokenBackend())
    open_policy = RedactionPolicy(actions={"EMAIL_ADDRESS": Action.MASK}, fail_open=True)
    before = fail_open_total()
    result = redact("jane@example.com", open_policy, detector)
    assert (result.text, result.failed_open) == ("jane@example.com", True)
    assert fail_open_total() == before + 1


class _Names:
    entity_types = frozenset({"PERSON"})

    def analyze(self, text: str) -> Sequence[Span]:
        index = text.find("Ada Lovelace")
        return [Span(index, index + 12, "PERSON", 0.85, "test-ner")] if index >= 0 else []


def test_ner_backend_covers_person() -> None:
    detector = Detector(ner_backend=_Names())
    assert "PERSON" in detector.covered_types and "LOCATION" in detector.uncovered_types
    result = redact("Ada Lovelace wrote a@b.io", RedactionPolicy(actions={"PERSON": Action.MASK, "EMAIL_ADDRESS": Action.MASK}), detector)
    assert result.text == "[PERSON] wrote [EMAIL_ADDRESS]"


def test_stream_holds_back_only_a_tail() -> None:
    stream = StreamRedactor(RedactionPolicy.default_inbound(), DETECTOR)
    emitted = "".join(stream.feed("plain words without anything personal. ") for _ in range(100))
    assert len(emitted) > 3000
    assert stream.held_back <= 400 + 40
    assert emitted + stream.finish() == "plain words without anything personal. " * 100


def test_stream_never_lets_a_split_entity_through() -> None:
    stream = StreamRedactor(RedactionPolicy.default_inbound(), DETECTOR)
    text = "x " * 300 + "my card is 4111 1111 1111 1111 ok " + "y " * 300
    out = [stream.feed(ch) for ch in text]
    out.append(stream.finish())
    assert all("4111" not in piece for piece in out)
    assert "".join(out) == redact(text, RedactionPolicy.default_inbound(), DETECTOR).text


def test_stream_fail_open_passes_the_rest() -> None:
    detector = Detector(ner_backend=_BrokenBackend())
    stream = StreamRedactor(RedactionPolicy(actions={}, fail_open=True), _ScanFails(detector))  # type: ignore[arg-type]
    assert stream.feed("a" * 500) + stream.finish() == "a" * 500


class _ScanFails:
    def __init__(self, inner: Detector) -> None:
        self.inner = inner

    def scan(self, text: str, pos: int, floor: int = 0) -> object:
        raise RuntimeError("broken")


def test_stream_applies_the_ner_backend() -> None:
    detector = Detector(ner_backend=_Names())
    policy = RedactionPolicy(actions={"PERSON": Action.MASK})
    stream = StreamRedactor(policy, detector)
    text = "Ada Lovelace wrote the first program. " + "More words follow here. " * 30
    out = "".join(stream.feed(text[i : i + 7]) for i in range(0, len(text), 7)) + stream.finish()
    assert out.startswith("[PERSON] wrote")


def test_detector_is_safe_to_share_between_threads() -> None:
    from concurrent.futures import ThreadPoolExecutor

    texts = [f"user{i}@example.com called +1 415 555 {2600 + i:04d} with card 4111 1111 1111 1111" for i in range(40)]
    expected = [DETECTOR.detect(t) for t in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(DETECTOR.detect, texts * 5)) == expected * 5
