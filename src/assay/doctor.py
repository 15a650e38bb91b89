"""Installation checks shown by ``assay doctor``: pure findings, rendered by the CLI."""

from __future__ import annotations

import stat
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from assay._compiled import COMPILED_MODULES, missing_compiled_modules
from assay.config import Settings
from assay.errors import AssayError
from assay.secrets import LOCAL_SECRETS, check_private
from assay.store import current_heads, expected_heads, open_database
from assay.store.db import redact_url

__all__ = ["Finding", "register_check", "run_checks"]

Status = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Finding:
    check: str
    status: Status
    detail: str
    hint: str = ""


DoctorCheck = Callable[[Settings], list[Finding]]
_EXTRA_CHECKS: list[DoctorCheck] = []


def register_check(check: DoctorCheck) -> DoctorCheck:
    """Let a component add its own doctor check (decorator)."""
    _EXTRA_CHECKS.append(check)
    return check


def _data_dir(settings: Settings) -> list[Finding]:
    path = settings.data_dir
    if not path.is_dir():
        return [Finding("data directory", "fail", f"{path} does not exist", "Run `assay init`.")]
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        return [
            Finding("data directory", "warn", f"{path} has mode {mode:04o}", f"chmod 700 {path}")
        ]
    return [Finding("data directory", "ok", f"{path.resolve()} (mode 0700)")]


def _secrets(settings: Settings) -> list[Finding]:
    found: list[Finding] = []
    for name in LOCAL_SECRETS:
        path = settings.data_dir / name
        if not path.is_file():
            found.append(Finding(f"secret {name}", "fail", "missing", "Run `assay init`."))
            continue
        try:
            check_private(path)
            found.append(Finding(f"secret {name}", "ok", "present, mode 0600"))
        except AssayError as exc:
            found.append(Finding(f"secret {name}", "fail", exc.message, exc.hint))
    return found


def _database(settings: Settings) -> list[Finding]:
    url = settings.sqlalchemy_url
    db = open_database(url)
    try:
        db.ping()
    except AssayError as exc:
        db.dispose()
        return [Finding("database", "fail", exc.message, exc.hint)]
    try:
        found = [
            Finding("database", "ok", f"{redact_url(url)} reachable ({db.engine.dialect.name})")
        ]
        current, expected = current_heads(db), expected_heads(db)
        if current == expected:
            found.append(Finding("migrations", "ok", f"at {', '.join(sorted(current))}"))
        else:
            missing = ", ".join(sorted(expected - current)) or "unknown"
            found.append(Finding("migrations", "fail", f"pending: {missing}", "Run `assay init`."))
        if db.is_postgres and "sslmode=require" not in url and "sslmode=verify" not in url:
            found.append(
                Finding(
                    "database TLS",
                    "warn",
                    "connection does not require TLS",
                    "Add ?sslmode=verify-full to ASSAY_DATABASE_URL for non-local servers.",
                )
            )
        return found
    finally:
        db.dispose()


def _compiled(_settings: Settings) -> list[Finding]:
    missing = missing_compiled_modules()
    if not missing:
        return [Finding("compiled modules", "ok", f"all {len(COMPILED_MODULES)} built")]
    slower = sorted({COMPILED_MODULES[module] for module in missing})
    return [
        Finding(
            "compiled modules",
            "warn",
            f"{len(missing)} of {len(COMPILED_MODULES)} run as Python ({', '.join(missing)}): "
            f"same results, slower {' and '.join(slower)}",
            "Reinstall where gcc, the Python headers, libsqlite3-dev and libssl-dev are present"
            " (`make install`), without ASSAY_PURE_PYTHON=1.",
        )
    ]


_CORE_CHECKS: tuple[DoctorCheck, ...] = (_data_dir, _secrets, _database, _compiled)


def run_checks(settings: Settings) -> list[Finding]:
    findings: list[Finding] = []
    for check in (*_CORE_CHECKS, *_EXTRA_CHECKS):
        try:
            findings.extend(check(settings))
        except AssayError as exc:
            findings.append(
                Finding(getattr(check, "__name__", "check"), "fail", exc.message, exc.hint)
            )
    return findings
