"""The compliance commands end to end through the CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.helpers import run_cli


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    assert run_cli("init", "--data-dir", str(path)).exit_code == 0
    return path


def test_library_commands() -> None:
    listed = run_cli("controls", "list", "--json")
    assert listed.exit_code == 0
    controls = json.loads(listed.stdout)
    assert len(controls) >= 100
    only = json.loads(run_cli("controls", "list", "--criterion", "cc8.1", "--json").stdout)
    assert only and all("CC8.1" in c["criteria"] for c in only)
    criteria = json.loads(run_cli("criteria", "list", "--json").stdout)
    assert len(criteria) == 61 and all(c["controls"] for c in criteria)
    shown = run_cli("controls", "show", "AS-AI-03")
    assert shown.exit_code == 0 and "A.7.4" in shown.stdout and "redaction.personal_data" in shown.stdout
    table = run_cli("criteria", "list")
    assert "P8.1" in table.stdout


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (("controls", "show", "AS-NOPE-9"), 1, "unknown control"),
        (("controls", "list", "--criterion", "CC42.1"), 1, "unknown criterion"),
        (("assess", "--format", "pdf"), 2, "unknown format"),
    ],
)
def test_errors_are_one_line_with_a_hint(data_dir: Path, args: tuple[str, ...], code: int, text: str) -> None:
    result = run_cli(*args, "--data-dir", str(data_dir))
    assert result.exit_code == code
    assert text in result.stderr and "hint:" in result.stderr


def test_user_control_file_error_names_file(data_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "mine.yaml"
    bad.write_text("kind: controls\ncontrols:\n  - {id: MY-01, title: x}\n")
    result = run_cli("controls", "list", "--data-dir", str(data_dir), env={"ASSAY_COMPLIANCE__LIBRARY": json.dumps([str(bad)])})
    assert result.exit_code == 1
    assert "mine.yaml" in result.stderr and "controls[0]" in result.stderr


def test_checks_evidence_assess_sample_export(data_dir: Path, tmp_path: Path) -> None:
    ran = run_cli("checks", "run", "--json", "--data-dir", str(data_dir))
    assert ran.exit_code == 0, ran.stderr
    assert {r["id"] for r in json.loads(ran.stdout)} >= {"ledger.integrity", "transcripts.encrypted"}
    history = run_cli("checks", "history", "ledger.integrity", "--json", "--data-dir", str(data_dir))
    assert history.exit_code == 0 and len(json.loads(history.stdout)) == 1
    assert run_cli("checks", "history", "nope", "--data-dir", str(data_dir)).exit_code == 2
    doc = tmp_path / "policy.md"
    doc.write_text("# Security policy\n")
    added = run_cli("evidence", "add", str(doc), "--control", "AS-GOV-08", "--effective", "2026-01-15",
                    "--owner", "Security Lead", "--json", "--data-dir", str(data_dir))
    assert added.exit_code == 0, added.stderr
    assert json.loads(added.stdout)["ledger_index"] is not None
    bad = run_cli("evidence", "add", str(doc), "--control", "AS-GOV-08", "--effective", "15/01/2026",
                  "--owner", "x", "--data-dir", str(data_dir))
    assert bad.exit_code == 2 and "not a date" in bad.stderr
    listed = run_cli("evidence", "list", "--json", "--data-dir", str(data_dir))
    assert len(json.loads(listed.stdout)) == 1
    for fmt, marker in (("json", '"summary"'), ("md", "# Readiness assessment"), ("html", "<html")):
        out = tmp_path / f"report.{fmt}"
        done = run_cli("assess", "--format", fmt, "--out", str(out), "--data-dir", str(data_dir))
        assert done.exit_code == 0, done.stderr
        assert marker in out.read_text()
    report = json.loads(run_cli("assess", "--no-run", "--data-dir", str(data_dir)).stdout)
    assert len(report["criteria"]) == 61
    type2 = json.loads(run_cli("assess", "--period", "2026-01-01..2026-12-31", "--data-dir", str(data_dir)).stdout)
    assert type2["summary"]["kind"] == "type2"
    args = ("audit", "sample", "--control", "AS-GOV-08", "--period", "2026-01-01..2026-12-31", "--json", "--data-dir", str(data_dir))
    first, second = run_cli(*args), run_cli(*args)
    assert first.exit_code == 0 and first.stdout == second.stdout
    assert json.loads(first.stdout)["population"]["size"] == 1
    package = tmp_path / "audit.zip"
    exported = run_cli("audit", "export", "--period", "2026-01-01..2026-12-31", "--out", str(package), "--data-dir", str(data_dir))
    assert exported.exit_code == 0, exported.stderr
    verified = run_cli("audit", "verify", str(package))
    assert verified.exit_code == 0 and "ledger verifies" in verified.stdout
    raw = bytearray(package.read_bytes())
    tampered = tmp_path / "tampered.zip"
    tampered.write_bytes(bytes(raw[:-30]))
    assert run_cli("audit", "verify", str(tampered)).exit_code == 1
