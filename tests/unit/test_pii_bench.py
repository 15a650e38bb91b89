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
