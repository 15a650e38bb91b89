"""Random ids recorded in the ledger are never a run of digits its screen would refuse."""

from __future__ import annotations

import pytest

import assay.ids
from assay.governance._common import new_id
from assay.ids import hex_id
from assay.ledger import Event


@pytest.mark.parametrize(
    ("draws", "expected"),
    [
        (["0123456789abcdef"], "0123456789abcdef"),
        (["5895902531660557", "00000000000000a1"], "00000000000000a1"),  # Luhn-valid: drawn again
        (["1111111111111111", "2222222222222222", "f000000000000000"], "f000000000000000"),
    ],
)
def test_an_all_digit_draw_is_made_again(
    monkeypatch: pytest.MonkeyPatch, draws: list[str], expected: str
) -> None:
    sequence = iter(draws)
    monkeypatch.setattr(assay.ids.secrets, "token_hex", lambda n: next(sequence))
    assert hex_id() == expected


def test_the_ledger_takes_the_ids_and_refuses_the_digits() -> None:
    Event(type="t.x", actor="cli:a", object_ids={"apikey": hex_id(), "change": new_id("chg")})
    with pytest.raises(ValueError, match="payment card"):
        Event(type="t.x", actor="cli:a", object_ids={"change": "chg_5895902531660557"})


def test_ids_are_sixteen_hex_characters() -> None:
    for _ in range(2000):
        drawn = hex_id()
        assert len(drawn) == 16 and set(drawn) <= set("0123456789abcdef") and not drawn.isdigit()
