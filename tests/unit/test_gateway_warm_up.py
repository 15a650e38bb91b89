"""The serving process builds the shared PII detector before the first request arrives."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import structlog

from assay.errors import PIIError
from assay.gateway._controls import Redaction
from assay.gateway.wiring import _warm_up


def _no_keyring() -> Any:
    raise AssertionError("warming up needs no tenant key")


def test_warm_up_builds_the_detector_every_request_then_shares() -> None:
    redaction = Redaction(_no_keyring)
    _warm_up(SimpleNamespace(redaction=redaction))  # type: ignore[arg-type]
    built = redaction.detector()
    assert built is not None and redaction.detector() is built


def test_a_broken_detector_is_reported_at_start_and_still_fails_requests_closed() -> None:
    redaction = Redaction(_no_keyring, ner_spec="spacy:/nonexistent/pipeline")
    with structlog.testing.capture_logs() as logs:
        _warm_up(SimpleNamespace(redaction=redaction))  # type: ignore[arg-type]
    assert [entry["event"] for entry in logs] == ["redaction not ready"]
    with pytest.raises(PIIError, match="no spaCy pipeline"):
        redaction.detector()
