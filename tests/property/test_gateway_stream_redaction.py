"""However an answer is split into deltas, the streamed text equals the whole-text redaction."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.gateway._controls import RequestRedactor
from assay.gateway.policy import default_policy

pii = pytest.importorskip("assay.pii")

DETECTOR = pii.Detector()
POLICY = default_policy()
PIECES = ["Write to jane.roe@example.com ", "or call +1 415 555 0134. ", "Card 4111 1111 1111 1111 ", "ok. ", "SSN 536-22-1234. "]


def _redactor() -> RequestRedactor:
    return RequestRedactor(
        inbound_policy=pii.RedactionPolicy(actions=dict(POLICY.inbound)),
        outbound_policy=pii.RedactionPolicy(actions=dict(POLICY.outbound)),
        detector=DETECTOR,
        pseudonyms=pii.PseudonymMap(),
        restore=True,
    )


def _split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    return [text[a:b] for a, b in itertools.pairwise(points)]


@settings(max_examples=60, deadline=None)
@given(order=st.permutations(PIECES), cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12))
def test_streamed_answer_matches_whole_answer(order: list[str], cuts: list[int]) -> None:
    text = "".join(order)
    whole = _redactor().outbound(text)
    redactor = _redactor()
    stream: Any = redactor.stream()
    streamed = "".join(stream.feed(delta) for delta in _split(text, cuts)) + stream.finish()
    assert streamed == whole
    for secret in ("jane.roe@example.com", "4111 1111 1111 1111", "536-22-1234"):
        assert secret not in streamed
