"""`assay users ...` end to end through the CLI entry point."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from tests.helpers import run_cli


@pytest.fixture
def data(tmp_path: Path) -> str:
    path = tmp_path / "data"
    assert run_cli("init", "--data-dir", str(path)).exit_code == 0
    return str(path)


def test_create_prints_a_setup_link_and_list_shows_the_person(data: str) -> None:
    created = run_cli("users", "create", "--email", "lee@example.com", "--role", "auditor", "--data-dir", data)
    assert created.exit_code == 0, created.stderr
    assert re.search(r"http://127\.0\.0\.1:8000/setup/[A-Za-z0-9_-]{40,}", created.stdout)
    listed = run_cli("users", "list", "--json", "--data-dir", data)
    rows = json.loads(listed.stdout)
    assert rows == [{"email": "lee@example.com", "role": "auditor", "state": "setup pending", "last_sign_in": None}]


def test_link_replaces_the_previous_one(data: str) -> None:
    first = run_cli("users", "create", "--email", "kim@example.com", "--role", "viewer", "--data-dir", data)
    again = run_cli("users", "link", "--email", "kim@example.com", "--data-dir", data)
    assert again.exit_code == 0
    old = re.search(r"/setup/(\S+)", first.stdout).group(1)  # type: ignore[union-attr]
    new = re.search(r"/setup/(\S+)", again.stdout).group(1)  # type: ignore[union-attr]
    assert old != new


@pytest.mark.parametrize("args,exit_code,needle", [
    (("create", "--email", "x@example.com", "--role", "root"), 2, "unknown role"),
    (("create", "--email", "nonsense", "--role", "viewer"), 2, "not an e-mail"),
    (("link", "--email", "ghost@example.com"), 1, "no user"),
    (("unlock", "--email", "ghost@example.com"), 1, "no user"),
])
def test_bad_requests_explain_themselves(data: str, args: tuple[str, ...], exit_code: int, needle: str) -> None:
    result = run_cli("users", *args, "--data-dir", data)
    assert result.exit_code == exit_code
    assert needle in result.stderr and "hint:" in result.stderr


def test_duplicate_is_refused(data: str) -> None:
    args = ("users", "create", "--email", "dup@example.com", "--role", "viewer", "--data-dir", data)
    assert run_cli(*args).exit_code == 0
    again = run_cli(*args)
    assert again.exit_code == 2 and "already exists" in again.stderr
