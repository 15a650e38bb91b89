"""Event validation: good events pass, personal data and bad shapes are refused by name."""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from assay.ledger import _screen as screen
from assay.ledger.events import Event, canonical_json

GOOD: list[dict[str, Any]] = [
    {"type": "gateway.request", "actor": "apikey:k_123"},
    {"type": "key.rotated", "actor": "system", "tenant": "acme"},
    {"type": "policy.changed", "actor": "user:u-9", "object_ids": {"policy_id": "p1"}},
    {"type": "external.github.deploy", "actor": "cli:alice", "attributes": {"sha": "ab" * 20}},
    {"type": "gateway.request", "actor": "system", "attributes": {"content_sha256": "00" * 32, "tokens": 12}},
    {"type": "gateway.request", "actor": "system", "attributes": {"model_name": "gpt-4o", "ok": True, "x": None}},
    {"type": "gateway.request", "actor": "system", "attributes": {"ids": ["a", "b"], "nested": {"k": [1, 2]}}},
    {"type": "gateway.request", "actor": "system", "attributes": {"request_id": "20240101123456789"}},
]

BAD: list[tuple[dict[str, Any], str]] = [
    ({"type": "Gateway.Request", "actor": "system"}, "dotted lowercase"),
    ({"type": "ledger.checkpoint", "actor": "system"}, "reserved for the log's own checkpoint records"),
    ({"type": "gateway", "actor": "system"}, "dotted lowercase"),
    ({"type": "gateway.request", "actor": "root"}, "actor 'root'"),
    ({"type": "gateway.request", "actor": "system", "attributes": {"email": "x"}}, "attributes: field name 'email'"),
    ({"type": "gateway.request", "actor": "system", "attributes": {"Prompt": "x"}}, "field name 'Prompt'"),
    ({"type": "gateway.request", "actor": "system", "attributes": {"meta": {"first-name": "x"}}}, "attributes.meta: field name 'first-name'"),
    ({"type": "gateway.request", "actor": "system", "attributes": {"who": "bob@example.com"}}, "attributes.who: the value looks like an e-mail"),
    ({"type": "gateway.request", "actor": "system", "attributes": {"to": ["+44 20 7946 0958"]}}, r"attributes.to\[0\]: the value looks like a phone"),
    ({"type": "gateway.request", "actor": "system", "attributes": {"ref": "4111 1111 1111 1111"}}, "payment card"),
    ({"type": "gateway.request", "actor": "system", "attributes": {"ratio": 0.5}}, "floats are not allowed"),
    ({"type": "gateway.request", "actor": "system", "attributes": {"big": 2**60}}, "outside"),
    ({"type": "gateway.request", "actor": "system", "object_ids": {"user": "ann@example.org"}}, "object_ids.user"),
    ({"type": "gateway.request", "actor": "system", "object_ids": {"name": "x"}}, "field name 'name'"),
    ({"type": "gateway.request", "actor": "cli:bob@example.com"}, "e-mail"),
    ({"type": "gateway.request", "actor": "system", "tenant": "has space"}, "tenant"),
    ({"type": "gateway.request", "actor": "system", "time": datetime(2026, 1, 1)}, "timezone-aware"),  # noqa: DTZ001
    ({"type": "gateway.request", "actor": "system", "unknown": 1}, "unknown"),
]


@pytest.mark.parametrize("fields", GOOD)
def test_good_events_are_accepted(fields: dict[str, Any]) -> None:
    event = Event(**fields).at(datetime(2026, 1, 1, tzinfo=UTC))
    assert event.leaf_bytes() == rfc8785.dumps(event.as_json())


@pytest.mark.parametrize(("fields", "message"), BAD)
def test_bad_events_are_refused_naming_the_field(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Event(**fields)


@pytest.mark.parametrize("key", ["email", "Prompt", "first-name", "bad key!", ""])
def test_a_refused_key_is_refused_every_time_next_to_accepted_ones(key: str) -> None:
    """Accepted keys are remembered; refused ones never are."""
    for _ in range(3):
        Event(type="gateway.request", actor="system", attributes={"tokens": 1, "model_name": "m"})
        with pytest.raises(ValidationError, match=r"key|field name"):
            Event(type="gateway.request", actor="system", attributes={"tokens": 1, key: "x"})


def test_time_is_normalised_to_utc_with_z() -> None:
    plus_two = timezone(timedelta(hours=2))
    event = Event(type="a.b", actor="system", time=datetime(2026, 1, 1, 12, tzinfo=plus_two))
    assert event.as_json()["time"] == "2026-01-01T10:00:00Z"


def test_event_without_time_cannot_be_hashed() -> None:
    with pytest.raises(ValueError, match="no time"):
        Event(type="a.b", actor="system").leaf_bytes()


def test_events_are_frozen() -> None:
    event = Event(type="a.b", actor="system")
    with pytest.raises(ValidationError):
        event.type = "c.d"  # type: ignore[misc]


@pytest.mark.parametrize("value", [{"\ue000": 1, "\U0001f600": 2}, {"é": "\u2028", "a": "\x7f\x01"}, [None, True, -5]])
def test_canonical_json_matches_rfc8785(value: object) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


@settings(max_examples=3000, deadline=None)
@given(
    st.one_of(
        st.text(alphabet=string.ascii_letters + string.digits, max_size=40),
        st.text(alphabet=string.hexdigits + "@+-. ()_", max_size=40),
        st.text(max_size=40),
        st.sampled_from(["4111111111111111", "41111111111111110", "a4111111111111111", "x_4111111111111111"]),
    )
)
def test_the_shortcut_for_plain_strings_never_changes_a_verdict(value: str) -> None:
    assert screen.looks_personal(value) == screen.matching_pattern(value)


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("24c69f50-d6d8-bf0e-2399-588574335013", None),  # last groups: 16 digits passing Luhn
        ("apikey:24c69f50-d6d8-bf0e-2399-588574335013", None),
        ("card 4111-1111-1111-1111", "a payment card number"),
        ("24c69f50-d6d8-bf0e-2399-588574335013 4111 1111 1111 1111", "a payment card number"),
    ],
)
def test_a_uuid_is_not_a_card_number_but_a_card_next_to_one_is(value: str, kind: str | None) -> None:
    assert screen.looks_personal(value) == kind
