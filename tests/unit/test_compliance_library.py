"""The control library: criteria ids, coverage, AI mappings, schema errors naming file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.compliance import load_library
from assay.compliance.library import AI_RMF, ISO_42001
from assay.errors import ComplianceError

EXPECTED_CRITERIA = (
    [f"CC1.{i}" for i in range(1, 6)] + [f"CC2.{i}" for i in range(1, 4)] + [f"CC3.{i}" for i in range(1, 5)]
    + ["CC4.1", "CC4.2"] + [f"CC5.{i}" for i in range(1, 4)] + [f"CC6.{i}" for i in range(1, 9)]
    + [f"CC7.{i}" for i in range(1, 6)] + ["CC8.1", "CC9.1", "CC9.2"]
    + ["A1.1", "A1.2", "A1.3", "C1.1", "C1.2"] + [f"PI1.{i}" for i in range(1, 6)]
    + ["P1.1", "P2.1", "P3.1", "P3.2", "P4.1", "P4.2", "P4.3", "P5.1", "P5.2"]
    + [f"P6.{i}" for i in range(1, 8)] + ["P7.1", "P8.1"]
)


def test_exactly_the_61_criteria_with_their_ids() -> None:
    library = load_library()
    ids = [c.id for c in library.criteria]
    assert len(EXPECTED_CRITERIA) == 61
    assert ids == EXPECTED_CRITERIA
    assert all(c.title and c.category for c in library.criteria)
    assert sum(1 for i in ids if i.startswith("CC")) == 33


@pytest.mark.parametrize(
    ("prefix", "category"),
    [("CC", "security"), ("A1", "availability"), ("C1", "confidentiality"), ("PI", "processing_integrity"), ("P", "privacy")],
)
def test_criteria_categories(prefix: str, category: str) -> None:
    library = load_library()
    chosen = [c for c in library.criteria if c.id.startswith(prefix) and not (prefix == "P" and c.id.startswith("PI"))]
    assert chosen and all(c.category == category for c in chosen)


def test_every_control_maps_and_every_criterion_is_covered() -> None:
    library = load_library()
    assert len(library.controls) >= 100
    for control in library.controls.values():
        assert control.criteria, control.id
        assert control.evidence and control.tests.type1 and control.tests.type2 and control.owner
    for criterion in library.criteria:
        assert library.controls_for(criterion.id), f"{criterion.id} is not covered"


def test_ai_controls_have_iso_42001_and_ai_rmf_mappings() -> None:
    library = load_library()
    ai = library.ai_controls
    assert len(ai) >= 15
    assert len(library.controls) - len(ai) >= 85
    for control in ai:
        assert control.mappings.get(ISO_42001), control.id
        assert control.mappings.get(AI_RMF), control.id
    assert len(library.frameworks[ISO_42001].requirements) == 38
    assert len(library.frameworks[AI_RMF].requirements) == 72


def test_titles_are_not_the_published_wording() -> None:
    library = load_library()
    # A couple of well-known sentences of the published criteria must not appear.
    for c in library.criteria:
        assert "The entity demonstrates a commitment" not in (c.title or "")
        assert "COSO" not in (c.title or "")


GOOD = """kind: controls
controls:
  - id: ACME-01
    title: Badge audit
    statement: Badges are reviewed.
    criteria: [CC6.4]
    frequency: quarterly
    automated: false
    owner: Facilities
    evidence: [Badge list]
    tests: {type1: Inspect., type2: Sample.}
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD.replace("    frequency: quarterly\n", ""), "controls[0].frequency"),
        (GOOD.replace("quarterly", "hourly"), "controls[0].frequency"),
        (GOOD.replace("[CC6.4]", "[CC6.9]"), "controls[0].criteria[0]"),
        (GOOD.replace("[CC6.4]", "[]"), "controls[0].criteria"),
        (GOOD.replace("    owner: Facilities\n", "    owner: Facilities\n    colour: red\n"), "controls[0].colour"),
        (GOOD.replace("ACME-01", "acme 01"), "controls[0].id"),
        (GOOD.replace("ACME-01", "AS-GOV-01"), "controls[0].id"),
        (GOOD.replace("    automated: false\n", "    automated: false\n    ai: true\n"), "controls[0]"),
        (GOOD.replace("    automated: false\n", "    automated: false\n    mappings: {iso-42001: [A.99]}\n"), "controls[0].mappings.iso-42001[0]"),
        (GOOD.replace("    automated: false\n", "    automated: false\n    mappings: {nope: [X]}\n"), "controls[0].mappings"),
        (GOOD.replace("kind: controls", "kind: widgets"), "field kind"),
        ("kind: controls\ncontrols: [\n", "not valid YAML"),
    ],
)
def test_malformed_control_file_names_file_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "acme-controls.yaml"
    path.write_text(text)
    with pytest.raises(ComplianceError) as info:
        load_library([path])
    assert str(path) in info.value.message
    assert expected in info.value.message


def test_user_files_and_frameworks_load(tmp_path: Path) -> None:
    (tmp_path / "fw.yaml").write_text(
        "kind: framework\nframework: {id: acme-policy, name: ACME policy}\nrequirements:\n  - {id: ACME.1}\n"
    )
    (tmp_path / "controls.yaml").write_text(GOOD.replace("    owner: Facilities\n", "    owner: Facilities\n    mappings: {acme-policy: [ACME.1]}\n"))
    library = load_library([tmp_path])
    assert "acme-policy" in library.frameworks
    assert library.control("acme-01").mappings == {"acme-policy": ["ACME.1"]}
    assert library.sources["ACME-01"].endswith("controls.yaml")


def test_missing_user_path_is_named(tmp_path: Path) -> None:
    with pytest.raises(ComplianceError, match="does not exist"):
        load_library([tmp_path / "nope"])


def test_unknown_ids_are_errors() -> None:
    library = load_library()
    with pytest.raises(ComplianceError, match="unknown control"):
        library.control("AS-NOPE-01")
    with pytest.raises(ComplianceError, match="unknown criterion"):
        library.criterion("CC10.1")
