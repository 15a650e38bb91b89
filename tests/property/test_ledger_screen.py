"""The ledger's personal-data screen (``assay.ledger._screen``): the walk that accepts events
agrees with the walk that names a refused value, compiled or not."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.helpers import python_source_of

import assay.ledger._screen as screen
from assay.ledger import events

PURE = python_source_of(screen)

_TEXT = st.one_of(
    st.text(alphabet=string.ascii_letters + string.digits + "._-", max_size=20),
    st.text(alphabet=string.digits + " -+()@.abc", max_size=30),
    st.sampled_from(["bob@example.com", "+44 20 7946 0958", "4111 1111 1111 1111", "\ud800", "gpt-4o"]),
    st.text(max_size=12),
)
_KEYS = st.one_of(
    st.sampled_from(["model", "usage", "email", "First-Name", "in.EMAIL_ADDRESS", "", "a b", "x" * 65]),
    st.text(alphabet=string.ascii_letters + "_.- ", min_size=0, max_size=8),
)
_SCALARS = st.one_of(
    st.none(), st.booleans(), _TEXT, st.floats(allow_nan=False),
    st.integers(min_value=-(2**54), max_value=2**54), st.binary(max_size=3),
)
_JSON = st.recursive(
    _SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(_KEYS, children, max_size=4),
    ),
    max_leaves=20,
)


def _deep(levels: int) -> object:
    value: object = "x"
    for _ in range(levels):
        value = {"k": value}
    return value


def _named_fault(value: object) -> str | None:
    try:
        events._name_fault("attributes", value, 0)
    except ValueError as exc:
        return str(exc)
    return None


@settings(max_examples=400, deadline=None)
@given(_JSON)
def test_the_accepting_walk_agrees_with_the_naming_walk(value: object) -> None:
    fault = _named_fault(value)
    assert screen.storable(value, 0) is (fault is None)
    assert PURE.storable(value, 0) is (fault is None)


@pytest.mark.parametrize("levels", [15, 16, 17, 40])
def test_depth_limit_is_the_same_in_both_walks(levels: int) -> None:
    value = _deep(levels)
    assert screen.storable(value, 0) is (_named_fault(value) is None)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"a": {"b": ["x", "mail me at bob@example.com"]}}, r"attributes.a.b\[1\]: the value looks like an e-mail"),
        ({"meta": {"first-name": "x"}}, "attributes.meta: field name 'first-name'"),
        ({"bad key": 1}, "attributes: key 'bad key' must be"),
        ({"n": 2**53}, "outside"),
        ({"s": "\ud800"}, "attributes.s: the string is not valid Unicode text"),
        ({"b": b"x"}, "bytes is not a JSON value"),
    ],
)
def test_a_refused_value_is_named_with_its_path(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        events._check_json("attributes", value)


@given(_TEXT)
def test_the_clean_string_cache_never_changes_a_verdict(value: str) -> None:
    first = screen.string_problem(value)
    assert screen.string_problem(value) == first  # the second answer may come from the cache
    assert PURE.string_problem(value) == first


def test_the_caches_are_bounded() -> None:
    for position in range(PURE._CACHE_LIMIT + 10):
        assert PURE.string_problem(f"model-{position}") is None
        assert PURE.name_problem(f"key-{position}") is None
    assert len(PURE._CLEAN_STRINGS) <= PURE._CACHE_LIMIT
    assert len(PURE._ACCEPTED_NAMES) <= PURE._CACHE_LIMIT
    assert PURE.string_problem("x" * 200) is None
    assert "x" * 200 not in PURE._CLEAN_STRINGS  # long strings are screened every time
