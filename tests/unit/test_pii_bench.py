"""The PII benchmark's scoring and its behaviour without the peer virtualenv."""

from __future__ import annotations

from pathlib import Path

import pytest
from benchmarks import pii


def test_scores_precision_recall_f2() -> None:
    samples = [
        {"text": "", "spans": [{"start": 0, "end": 5, "type": "EMAIL_ADDRESS"}, {"start": 10, "end": 15, "type": "EMAIL_ADDRESS"}]},
        {"text": "", "spans": []},
    ]
    predictions = [
        [{"start": 1, "end": 4, "type": "EMAIL_ADDRESS"}, {"start": 10, "end": 15, "type": "PHONE_NUMBER"}],
        [{"start": 0, "end": 3, "type": "EMAIL_ADDRESS"}],
    ]
    email = pii.scores(samples, predictions)["EMAIL_ADDRESS"]
    assert (email["precision"], email["recall"], email["support"]) == (0.5, 0.5, 2)
    assert email["f2"] == pytest.approx(0.5)


def test_presidio_is_null_without_the_peer_virtualenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(pii, "PEER_PYTHON", tmp_path / "missing" / "python")
    assert pii.presidio(10) is None


def test_dataset_is_large_and_well_formed() -> None:
    samples = pii.load()
    assert len(samples) >= 2000
    for sample in samples:
        for span in sample["spans"]:
            assert 0 <= span["start"] < span["end"] <= len(sample["text"])
            assert span["type"] in pii.TYPES


@pytest.mark.parametrize(
    ("ratios", "median"),
    [([60.0], 60.0), ([43.7, 71.8, 58.9], 58.9), ([50.0, 40.0, 70.0, 65.0], 50.0)],
)
def test_throughput_is_the_median_round(ratios: list[float], median: float) -> None:
    rounds = [pii.SpeedRound(ratio * 0.1, 1.0, 0.1) for ratio in ratios]
    assert pii.median_round(rounds).ratio == pytest.approx(median)


def test_rounds_without_the_peer_still_measure_assay(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(pii, "PEER_PYTHON", tmp_path / "missing" / "python")
    rounds, peer = pii.speed_rounds(["mail jane@example.com", "call +1 415 555 0134"], 2, 0.01, 10)
    assert peer is None
    assert len(rounds) == 2
    assert all(r.presidio_mb_per_s is None and r.ratio is None and r.assay_mb_per_s > 0 for r in rounds)
    assert pii.median_round(rounds) in rounds
