"""PERSON and LOCATION through a real spaCy pipeline saved to disk (built here, nothing downloaded)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import spacy
from tests.helpers import run_cli
from tests.ner_support import build_pipeline

from assay.errors import PIIError
from assay.pii import (
    Action,
    Detector,
    NerBackend,
    PseudonymMap,
    RedactionPolicy,
    SpacyBackend,
    StreamRedactor,
    load_ner_backend,
    redact,
)

TEXT = "Jane Doe flew from Paris to the Golden Gate Bridge; write to jane@example.com or John Smith."


@pytest.fixture(scope="module")
def pipeline_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_pipeline(tmp_path_factory.mktemp("ner") / "pipeline")


@pytest.fixture(scope="module")
def detector(pipeline_dir: Path) -> Detector:
    return Detector(ner_backend=load_ner_backend(f"spacy:{pipeline_dir}"))


def found(detector: Detector, text: str) -> list[tuple[str, str, str]]:
    return [(s.type, text[s.start : s.end], s.recognizer) for s in detector.detect(text)]


def test_backend_covers_person_and_location(detector: Detector, pipeline_dir: Path) -> None:
    assert {"PERSON", "LOCATION"} <= detector.covered_types
    assert detector.uncovered_types == frozenset()
    backend = SpacyBackend.load(str(pipeline_dir))
    assert isinstance(backend, NerBackend)
    assert backend.entity_types == frozenset({"PERSON", "LOCATION"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            TEXT,
            [
                ("PERSON", "Jane Doe", "ner.spacy"),
                ("LOCATION", "Paris", "ner.spacy"),
                ("LOCATION", "Golden Gate Bridge", "ner.spacy"),
                ("EMAIL_ADDRESS", "jane@example.com", "email"),
                ("PERSON", "John Smith", "ner.spacy"),
            ],
        ),
        ("Acme hired nobody", []),  # ORG is neither PERSON nor LOCATION
        ("Agent: is that john smith?", [("PERSON", "john smith", "ner.spacy")]),
        ("[PERSON] and <LOCATION_1> are placeholders", []),
    ],
)
def test_named_entities_join_the_pattern_types(detector: Detector, text: str, expected: list[tuple[str, str, str]]) -> None:
    assert found(detector, text) == expected


def test_redaction_masks_and_pseudonymises_names_and_places(detector: Detector) -> None:
    policy = RedactionPolicy(
        actions={"PERSON": Action.PSEUDONYM, "LOCATION": Action.MASK, "EMAIL_ADDRESS": Action.MASK}
    )
    pseudonyms = PseudonymMap()
    result = redact(TEXT, policy, detector, pseudonyms)
    assert result.text == (
        "<PERSON_1> flew from [LOCATION] to the [LOCATION]; write to [EMAIL_ADDRESS] or <PERSON_2>."
    )
    assert result.counts == {"PERSON": 2, "LOCATION": 2, "EMAIL_ADDRESS": 1}
    assert redact(result.text, policy, detector, pseudonyms).text == result.text  # idempotent
    assert pseudonyms.restore("Hello <PERSON_2>") == "Hello John Smith"


def test_streaming_with_the_backend_matches_whole_text(detector: Detector) -> None:
    policy = RedactionPolicy(actions={"PERSON": Action.MASK, "LOCATION": Action.MASK})
    text = (TEXT + " ") * 12
    stream = StreamRedactor(policy, detector)
    out = "".join(stream.feed(text[i : i + 7]) for i in range(0, len(text), 7)) + stream.finish()
    assert out == redact(text, policy, detector).text


def test_cli_types_scan_and_redact_use_the_setting(pipeline_dir: Path) -> None:
    env = {"ASSAY_PII_NER": f"spacy:{pipeline_dir}"}
    types = {row["type"]: row["covered"] for row in json.loads(run_cli("pii", "types", "--json", env=env).stdout)}
    assert types["PERSON"] is True and types["LOCATION"] is True
    without = {row["type"]: row["covered"] for row in json.loads(run_cli("pii", "types", "--json").stdout)}
    assert without["PERSON"] is False and without["LOCATION"] is False

    scan = run_cli("pii", "scan", env=env, input="ask Jane Doe in Paris\n")
    assert scan.exit_code == 0, scan.stderr
    assert [json.loads(line) for line in scan.stdout.splitlines()] == [
        {"line": 0, "start": 4, "end": 12, "type": "PERSON", "score": 0.85},
        {"line": 0, "start": 16, "end": 21, "type": "LOCATION", "score": 0.85},
    ]
    redacted = run_cli("pii", "redact", "--types", "PERSON,LOCATION", env=env, input="ask Jane Doe in Paris\n")
    assert redacted.stdout == "ask [PERSON] in [LOCATION]\n"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("spacy:/nonexistent/pipeline", "no spaCy pipeline '/nonexistent/pipeline' is installed or saved there"),
        ("spacy:en_core_web_nonexistent_sm", "no spaCy pipeline 'en_core_web_nonexistent_sm'"),
        ("spacy:https://example.com/model.tar.gz", "looks like a URL"),
        ("flair:ner-english", "unknown named-entity backend 'flair'"),
        ("spacy", "is not of the form <backend>:<argument>"),
    ],
)
def test_backend_errors_say_what_to_do(spec: str, message: str) -> None:
    with pytest.raises(PIIError) as info:
        load_ner_backend(spec)
    assert message in info.value.message
    assert info.value.hint


def test_cli_reports_a_missing_pipeline_and_a_malformed_setting() -> None:
    missing = run_cli("pii", "types", env={"ASSAY_PII_NER": "spacy:/nonexistent/pipeline"})
    assert missing.exit_code != 0
    assert "no spaCy pipeline" in missing.stderr and "never downloads" in missing.stderr
    malformed = run_cli("pii", "types", env={"ASSAY_PII_NER": "spacy"})
    assert malformed.exit_code != 0
    assert "ASSAY_PII_NER" in malformed.stderr


def test_pipeline_without_people_or_places_is_refused(tmp_path: Path) -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns([{"label": "ORG", "pattern": "Acme"}])  # type: ignore[attr-defined]
    nlp.to_disk(tmp_path / "orgs")
    with pytest.raises(PIIError, match="labels no people or places"):
        SpacyBackend.load(str(tmp_path / "orgs"))


def test_backends_registered_by_other_packages_load_by_name(
    pipeline_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A package registering an ``assay.pii_ner`` entry point is found by its name."""
    (tmp_path / "ruler_plugin.py").write_text(
        "from assay.pii import SpacyBackend\n\ndef make(argument):\n    return SpacyBackend.load(argument)\n\n"
        "def broken(argument):\n    return object()\n",
        encoding="utf-8",
    )
    info = tmp_path / "ruler_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ruler-plugin\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(
        "[assay.pii_ner]\nruler = ruler_plugin:make\nbroken = ruler_plugin:broken\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    backend = load_ner_backend(f"ruler:{pipeline_dir}")
    assert backend.entity_types == frozenset({"PERSON", "LOCATION"})
    with pytest.raises(PIIError, match="not a named-entity backend"):
        load_ner_backend("broken:x")
    monkeypatch.delitem(sys.modules, "ruler_plugin", raising=False)


def test_types_table_says_how_to_cover_names() -> None:
    result = run_cli("pii", "types")
    assert result.exit_code == 0, result.stderr
    assert "ASSAY_PII_NER" in result.stdout
