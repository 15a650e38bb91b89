"""Scorers and output validation (pure modules)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assay.governance import OutputVerdict, ScoreResult, register_scorer, validate_output
from assay.governance.scorers import get_scorer, looks_like_refusal, validate_argument
from assay.governance.validation import check_output_schema


@pytest.mark.parametrize(
    ("scorer", "argument", "output", "refused", "passed"),
    [
        ("exact", "Paris", " Paris\n", False, True),
        ("exact", "Paris", "paris", False, False),
        ("contains", "paris", "It is Paris.", False, True),
        ("contains", ["Paris", "France"], "Paris", False, False),
        ("regex", r"^\d{3}$", "123", False, True),
        ("regex", r"^\d{3}$", "1234", False, False),
        ("json_schema", True, '{"a": 1}', False, True),
        ("json_schema", True, "not json", False, False),
        ("json_schema", {"type": "object", "required": ["a"]}, '{"b": 1}', False, False),
        ("json_schema", {"type": "array"}, "[1, 2]", False, True),
        ("refusal", True, "I'm sorry, but I can't help with that.", False, True),
        ("refusal", True, "Sure, here it is", False, False),
        ("refusal", True, "", True, True),
        ("refusal", False, "Sure, here it is", False, True),
        ("refusal", False, "I cannot help with that", False, False),
    ],
)
def test_built_in_scorers(scorer: str, argument: object, output: str, refused: bool,
                          passed: bool) -> None:
    assert get_scorer(scorer).score(output, argument, refused=refused).passed is passed


def test_score_details_never_quote_the_output() -> None:
    secret = "Jane Roe lives at 1 Main St"
    for name, argument in [("exact", "x"), ("contains", "x"), ("regex", "^x$"),
                           ("json_schema", {"type": "object"}), ("refusal", True)]:
        detail = get_scorer(name).score(secret, argument, refused=False).detail
        assert "Jane" not in detail and "Main" not in detail


@dataclass
class LengthScorer:
    name: str = "max_length"

    def check_argument(self, argument: object) -> None:
        if not isinstance(argument, int):
            raise ValueError("max_length needs an integer")

    def score(self, output: str, argument: object, *, refused: bool) -> ScoreResult:
        assert isinstance(argument, int)
        return ScoreResult(len(output) <= argument, "too long")


def test_a_registered_scorer_is_usable_and_names_are_unique() -> None:
    register_scorer(LengthScorer(), replace=True)
    validate_argument("max_length", 10)
    assert get_scorer("max_length").score("short", 10, refused=False).passed
    with pytest.raises(ValueError, match="already registered"):
        register_scorer(LengthScorer())
    with pytest.raises(ValueError, match="integer"):
        validate_argument("max_length", "ten")


@given(st.text(max_size=200))
def test_refusal_heuristic_never_crashes(text: str) -> None:
    assert looks_like_refusal(text) in (True, False)


@dataclass(frozen=True)
class Route:
    output_schema: Mapping[str, object] | None


SCHEMA = {"type": "object", "required": ["answer"],
          "properties": {"answer": {"type": "integer"}}}


@pytest.mark.parametrize(
    ("schema", "text", "verdict"),
    [
        (None, "anything", OutputVerdict(checked=False, valid=True, action="allow")),
        (SCHEMA, '{"answer": 1}', OutputVerdict(checked=True, valid=True, action="allow")),
        (SCHEMA, '{"answer": "Jane"}',
         OutputVerdict(checked=True, valid=False, action="block", errors=("answer: type",))),
        ({**SCHEMA, "x-assay-on-violation": "flag"}, "not json",
         OutputVerdict(checked=True, valid=False, action="flag", errors=("(root): not JSON",))),
        (SCHEMA, "{}",
         OutputVerdict(checked=True, valid=False, action="block", errors=("(root): required",))),
    ],
)
def test_validate_output(schema: Mapping[str, object] | None, text: str,
                         verdict: OutputVerdict) -> None:
    result = validate_output(Route(schema), text)
    assert result == verdict
    assert "Jane" not in json.dumps(result.errors)


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": "object", "x-assay-on-violation": "drop"}, "must be 'block' or 'flag'"),
        ({"type": "nonsense"}, "not a valid JSON schema"),
    ],
)
def test_bad_output_schemas_are_refused(schema: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_output_schema(schema)


@given(st.text(max_size=100))
def test_validation_always_decides(text: str) -> None:
    verdict = validate_output(Route(SCHEMA), text)
    assert verdict.checked and verdict.action in ("allow", "block")
    assert verdict.valid is (verdict.action == "allow")


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("cli:alice", "cli:alice", True),
        ("cli:Alice ", "cli:alice", True),
        ("cli:alice", "user:alice", True),
        ("cli:alice", "cli:bob", False),
        ("system", "cli:alice", False),
        ("apikey:k1", "apikey:k2", False),
    ],
)
def test_separation_of_duties_compares_people_not_prefixes(a: str, b: str, same: bool) -> None:
    from assay.governance._common import same_person

    assert same_person(a, b) is same
