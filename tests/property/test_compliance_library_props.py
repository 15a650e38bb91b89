"""Any malformed control file yields a ComplianceError naming the file, never a crash."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.compliance import load_library
from assay.errors import ComplianceError

BASE: dict[str, Any] = {
    "id": "ACME-01", "title": "t", "statement": "s", "criteria": ["CC6.1"], "frequency": "annual",
    "automated": False, "owner": "o", "evidence": ["e"], "tests": {"type1": "a", "type2": "b"},
}
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=12), st.lists(st.text(max_size=6), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
)


@settings(max_examples=80, deadline=None)
@given(field=st.sampled_from([*BASE, "mappings", "population", "ai", "extra"]), value=VALUES)
def test_mutated_control_loads_or_names_the_file(field: str, value: object) -> None:
    control = {**BASE, field: value}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "acme.yaml"
        path.write_text(yaml.safe_dump({"kind": "controls", "controls": [control]}))
        try:
            library = load_library([path])
        except ComplianceError as exc:
            assert str(path) in exc.message
        else:
            assert "ACME-01" in library.controls
