"""`assay init`, `doctor`, `serve` error paths and `version`, through the real entry point."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from tests.helpers import assay_subprocess, run_cli


def test_version() -> None:
    result = run_cli("version")
    assert result.exit_code == 0
    assert result.stdout.startswith("assay ")


def test_init_twice_is_harmless(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = run_cli("init", "--data-dir", str(data))
    assert first.exit_code == 0, first.stderr
    secrets = {p.name: p.read_bytes() for p in data.glob("*.key")}
    assert set(secrets) == {"master.key", "ledger.key", "session.key"}
    second = run_cli("init", "--data-dir", str(data))
    assert second.exit_code == 0, second.stderr
    assert "already present" in second.stdout
    assert {p.name: p.read_bytes() for p in data.glob("*.key")} == secrets
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for path in data.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path


def test_init_tightens_an_existing_loose_directory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    assert run_cli("init", "--data-dir", str(data)).exit_code == 0
    assert stat.S_IMODE(data.stat().st_mode) == 0o700


def test_doctor_reports_a_healthy_install(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run_cli("init", "--data-dir", str(data))
    result = run_cli("doctor", "--data-dir", str(data))
    assert result.exit_code == 0, result.stdout
    assert "migrations" in result.stdout
    assert "fail" not in result.stdout


def test_doctor_fails_on_an_uninitialised_dir(tmp_path: Path) -> None:
    result = run_cli("doctor", "--data-dir", str(tmp_path / "none"))
    assert result.exit_code == 1
    assert "assay init" in result.stdout


def test_doctor_flags_a_loose_secret(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run_cli("init", "--data-dir", str(data))
    (data / "master.key").chmod(0o644)
    result = run_cli("doctor", "--data-dir", str(data))
    assert result.exit_code == 1
    assert "chmod 600" in result.stdout


def _one_error_line(stderr: str) -> list[str]:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert "Traceback" not in stderr
    assert lines[0].startswith("error: ")
    assert lines[1].startswith("hint: ")
    return lines


def test_serve_on_an_uninitialised_dir_fails_with_hint(tmp_path: Path) -> None:
    result = run_cli("serve", "--data-dir", str(tmp_path / "never"))
    assert result.exit_code == 2
    lines = _one_error_line(result.stderr)
    assert "does not exist" in lines[0]
    assert "assay init" in lines[1]


def test_serve_on_a_file_instead_of_a_dir(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    result = run_cli("init", "--data-dir", str(target))
    assert result.exit_code == 2
    assert "not a directory" in _one_error_line(result.stderr)[0]


def test_init_in_an_unwritable_place(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run_cli("init", "--data-dir", str(blocker / "sub"))
    assert result.exit_code == 2
    assert "cannot create data directory" in _one_error_line(result.stderr)[0]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere; covered by the test above")
def test_serve_on_a_read_only_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run_cli("init", "--data-dir", str(data))
    data.chmod(0o500)
    try:
        result = run_cli("serve", "--data-dir", str(data))
        assert result.exit_code == 2
        assert "not writable" in _one_error_line(result.stderr)[0]
    finally:
        data.chmod(0o700)


def test_serve_with_an_unknown_database_scheme(tmp_path: Path) -> None:
    result = run_cli("serve", "--data-dir", str(tmp_path), env={"ASSAY_DATABASE_URL": "mysql://db/x"})
    assert result.exit_code == 2
    line = _one_error_line(result.stderr)[0]
    assert "ASSAY_DATABASE_URL" in line


def test_serve_with_an_unreachable_database(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run_cli("init", "--data-dir", str(data))
    url = "postgresql+psycopg://nobody:secretpw@127.0.0.1:1/none?connect_timeout=2"
    result = run_cli("serve", "--data-dir", str(data), env={"ASSAY_DATABASE_URL": url})
    assert result.exit_code == 1
    lines = _one_error_line(result.stderr)
    assert "not reachable" in lines[0]
    assert "secretpw" not in result.stderr


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = assay_subprocess("--debug", "serve", "--data-dir", str(tmp_path / "never"))
    assert result.returncode != 0
    assert "Traceback" in result.stderr


def test_usage_error_exits_2() -> None:
    result = assay_subprocess("init", "--no-such-flag")
    assert result.returncode == 2


def test_doctor_warns_when_the_database_link_does_not_require_tls(tmp_path: Path, database_url: str) -> None:
    env = {"ASSAY_DATABASE_URL": database_url}
    data = tmp_path / "data"
    assert run_cli("init", "--data-dir", str(data), env=env).exit_code == 0
    result = run_cli("doctor", "--data-dir", str(data), env=env)
    if database_url.startswith("postgresql"):
        assert "database TLS" in result.stdout and "sslmode=verify-full" in result.stdout
    else:  # a local file: no link to protect
        assert "database TLS" not in result.stdout
