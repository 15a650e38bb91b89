"""`assay pii scan|redact|types` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.helpers import assay_subprocess, run_cli


def lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_scan_reports_line_and_string_offsets(tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("nothing here\néé mail jane@example.com\ncard 4111 1111 1111 1111\n", encoding="utf-8")
    result = run_cli("pii", "scan", str(source))
    assert result.exit_code == 0, result.stderr
    assert lines(result.stdout) == [
        {"line": 1, "start": 8, "end": 24, "type": "EMAIL_ADDRESS", "score": 0.95},
        {"line": 2, "start": 5, "end": 24, "type": "CREDIT_CARD", "score": 1.0},
    ]


@pytest.mark.parametrize("args", [(), ("-",)])
def test_scan_reads_standard_input(args: tuple[str, ...]) -> None:
    result = run_cli("pii", "scan", *args, input="call +44 20 7946 0958\n")
    assert [r["type"] for r in lines(result.stdout)] == ["PHONE_NUMBER"]


def test_scan_jsonl_uses_the_text_field() -> None:
    payload = json.dumps({"id": 7, "text": "ssn 536-22-1234"}) + "\n\n" + json.dumps({"text": "none"}) + "\n"
    result = run_cli("pii", "scan", "--jsonl", input=payload)
    assert lines(result.stdout) == [{"line": 0, "start": 4, "end": 15, "type": "US_SSN", "score": 1.0}]


def test_scan_types_filter() -> None:
    result = run_cli("pii", "scan", "--types", "email_address", input="a@b.io 536-22-1234\n")
    assert [r["type"] for r in lines(result.stdout)] == ["EMAIL_ADDRESS"]


def test_redact_plain_and_jsonl() -> None:
    plain = run_cli("pii", "redact", input="mail a@b.io\ncard 4111111111111111\n")
    assert plain.stdout == "mail [EMAIL_ADDRESS]\ncard [CREDIT_CARD ****1111]\n"
    jsonl = run_cli("pii", "redact", "--jsonl", input='{"id": 1, "text": "mail a@b.io"}\n')
    assert lines(jsonl.stdout) == [{"id": 1, "text": "mail [EMAIL_ADDRESS]"}]


def test_types_lists_coverage() -> None:
    result = run_cli("pii", "types", "--json")
    rows = {r["type"]: r["covered"] for r in json.loads(result.stdout)}
    assert rows["EMAIL_ADDRESS"] is True and rows["PERSON"] is False and len(rows) == 10


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("pii", "scan", "--jsonl"), "not json\n", "line 0: not valid JSON"),
        (("pii", "scan", "--jsonl"), '{"body": "x"}\n', 'line 0: no string "text" field'),
        (("pii", "scan", "/nonexistent/file.txt"), "", "cannot read /nonexistent/file.txt"),
        (("pii", "scan", "--types", "EMAIL"), "", "unknown entity type 'EMAIL'"),
    ],
)
def test_errors_name_the_problem(args: tuple[str, ...], stdin: str, message: str) -> None:
    result = run_cli(*args, input=stdin)
    assert result.exit_code != 0
    assert message in result.stderr
    assert "hint:" in result.stderr


def test_scan_streams_large_input_in_a_subprocess(tmp_path: Path) -> None:
    source = tmp_path / "big.txt"
    with source.open("w") as handle:
        for i in range(20000):
            handle.write(f"row {i} contact user{i}@example.com\n")
    proc = assay_subprocess("pii", "scan", str(source))
    assert proc.returncode == 0, proc.stderr
    found = proc.stdout.splitlines()
    assert len(found) == 20000 and json.loads(found[-1])["line"] == 19999


def test_non_utf8_input_is_a_clear_error(tmp_path: Path) -> None:
    source = tmp_path / "latin1.txt"
    source.write_bytes("caf\xe9 jane@example.com\n".encode("latin-1"))
    result = run_cli("pii", "scan", str(source))
    assert result.exit_code == 2
    assert "is not UTF-8 text" in result.stderr


def test_jsonl_line_that_is_not_an_object() -> None:
    result = run_cli("pii", "redact", "--jsonl", input="[1, 2]\n")
    assert result.exit_code == 2
    assert 'line 0: no string "text" field' in result.stderr


def test_min_score_filters_scan() -> None:
    low = run_cli("pii", "scan", input="4155552671\n")
    high = run_cli("pii", "scan", "--min-score", "0.5", input="4155552671\n")
    assert [r["type"] for r in lines(low.stdout)] == ["PHONE_NUMBER"]
    assert lines(high.stdout) == []
