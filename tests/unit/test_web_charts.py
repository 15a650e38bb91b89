"""The SVG chart helper: accessible, escaped, honest about empty data."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assay.web.charts import bar_chart, line_chart
from assay.web.roles import CAPABILITIES, Capability, Role, allowed


@pytest.mark.parametrize("chart", [line_chart, bar_chart])
def test_empty_data_says_so(chart: object) -> None:
    svg = chart([], title="Nothing")  # type: ignore[operator]
    assert "No data yet" in svg and 'role="img"' in svg
    ET.fromstring(svg)


@given(st.lists(st.tuples(st.text(max_size=20), st.floats(0, 1e6, allow_nan=False)), max_size=30),
       st.text(max_size=30))
def test_any_labels_give_well_formed_escaped_svg(points: list[tuple[str, float]], title: str) -> None:
    cleaned = [("".join(c for c in label if c.isprintable()), value) for label, value in points]
    title = "".join(c for c in title if c.isprintable())
    for chart in (line_chart, bar_chart):
        svg = chart(cleaned, title=title)
        root = ET.fromstring(svg)
        assert root.get("aria-label") == title
        assert "<script" not in svg


def test_values_are_clamped_to_the_axis() -> None:
    svg = line_chart([("a", -5.0), ("b", 250.0)], title="t", y_max=100, unit="%")
    assert "100%" in svg and "<polyline" in svg


@pytest.mark.parametrize("role,capability,expected", [
    ("admin", Capability.READ_TRANSCRIPTS, True),
    ("auditor", Capability.READ_TRANSCRIPTS, False),
    ("auditor", Capability.DOWNLOAD_PROOF, True),
    ("auditor", Capability.UPLOAD_EVIDENCE, False),
    ("auditor", Capability.VIEW_EVIDENCE, True),
    ("compliance", Capability.MANAGE_TENANTS, False),
    ("viewer", Capability.VIEW_LEDGER, True),
    ("viewer", Capability.DOWNLOAD_PROOF, False),
    ("root", Capability.VIEW_OVERVIEW, False),
])
def test_role_matrix_facts(role: str, capability: Capability, expected: bool) -> None:
    assert allowed(role, capability) is expected


def test_only_admin_reads_transcripts_or_manages_people() -> None:
    for role in Role:
        holders = CAPABILITIES[role]
        if role is not Role.ADMIN:
            assert not {Capability.READ_TRANSCRIPTS, Capability.MANAGE_USERS} & holders
