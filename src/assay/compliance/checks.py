"""Automated control checks as pluggy plugins, and their stored history.

A check is one small function ``(CheckContext) -> CheckResult`` wrapped by the
:func:`check` decorator. Modules contribute checks through the
``assay_compliance_checks`` hook (see :class:`CheckHooks`); the built-in module,
in-tree areas that ship a ``checks`` module, and entry points in the
``assay.checks`` group are all loaded. Every run is stored in ``check_results``
with its time, so each check has a history an assessment can read.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import pluggy
import rfc8785
from sqlalchemy import inspect, text

from assay.compliance.models import CheckResultRow
from assay.errors import AssayError, ComplianceError
from assay.instance import Instance

__all__ = [
    "STATUSES",
    "CheckContext",
    "CheckHooks",
    "CheckResult",
    "CheckSpec",
    "CheckStatus",
    "StoredResult",
    "check",
    "check_history",
    "check_registry",
    "hookimpl",
    "hookspec",
    "register_check_plugin",
    "run_checks",
]

CheckStatus = Literal["pass", "fail", "not_applicable", "error"]
STATUSES: tuple[CheckStatus, ...] = ("pass", "fail", "not_applicable", "error")

hookspec = pluggy.HookspecMarker("assay")
hookimpl = pluggy.HookimplMarker("assay")

# Areas that keep their checks in their own package; loaded when installed.
_IN_TREE_PLUGINS = ("assay.compliance.builtin_checks", "assay.governance.checks")
_ENTRY_POINT_GROUP = "assay.checks"
_extra_plugins: list[object] = []


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check run, with what it looked at and how to fix a failure."""

    status: CheckStatus
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)
    remediation: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown check status {self.status!r}")


@dataclass
class CheckContext:
    """What a check may read: the instance's database, settings and clock."""

    instance: Instance
    now: datetime
    _tables: set[str] | None = None

    def has_table(self, name: str) -> bool:
        if self._tables is None:
            self._tables = set(inspect(self.instance.db.engine).get_table_names())
        return name in self._tables

    def scalar(self, sql: str, **params: Any) -> Any:
        """Run one aggregate query and return its single value."""
        with self.instance.db.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()

    def rows(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        with self.instance.db.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(text(sql), params)]


CheckFunction = Callable[[CheckContext], CheckResult]


@dataclass(frozen=True)
class CheckSpec:
    """A registered check: its id, what it tests, and the function."""

    id: str
    title: str
    controls: tuple[str, ...]
    run: CheckFunction
    requires: tuple[str, ...] = ()


def check(
    check_id: str, *, title: str, controls: Sequence[str], requires: Sequence[str] = ()
) -> Callable[[CheckFunction], CheckSpec]:
    """Decorator: turn a function into a :class:`CheckSpec`.

    ``requires`` names tables the check reads; when one is missing (the area is
    not installed or not initialised) the result is ``not_applicable``.
    """

    def wrap(function: CheckFunction) -> CheckSpec:
        return CheckSpec(check_id, title, tuple(controls), function, tuple(requires))

    return wrap


class CheckHooks:
    """The hook specification other packages implement to contribute checks."""

    @hookspec
    def assay_compliance_checks(self) -> list[CheckSpec]:  # type: ignore[empty-body]
        """Return the checks this plugin provides."""


def register_check_plugin(plugin: object) -> None:
    """Add a plugin object or module (with an ``assay_compliance_checks`` hookimpl)."""
    if plugin not in _extra_plugins:
        _extra_plugins.append(plugin)


def _plugin_manager() -> pluggy.PluginManager:
    manager = pluggy.PluginManager("assay")
    manager.add_hookspecs(CheckHooks)
    for name in _IN_TREE_PLUGINS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and name.startswith(exc.name):
                continue  # that area is not part of this installation
            raise
        manager.register(module, name=name)
    manager.load_setuptools_entrypoints(_ENTRY_POINT_GROUP)
    for plugin in _extra_plugins:
        if not manager.is_registered(plugin):
            manager.register(plugin)
    return manager


def check_registry() -> dict[str, CheckSpec]:
    """Every check from every plugin, by id. Duplicate ids are refused."""
    found: dict[str, CheckSpec] = {}
    for batch in _plugin_manager().hook.assay_compliance_checks():
        for spec in batch:
            if spec.id in found:
                raise ComplianceError(
                    f"two plugins register the check id {spec.id!r}",
                    hint="Rename one of the checks; ids must be unique.",
                )
            found[spec.id] = spec
    return dict(sorted(found.items()))


@dataclass(frozen=True)
class StoredResult:
    check_id: str
    title: str
    controls: tuple[str, ...]
    ran_at: datetime
    result: CheckResult
    duration_ms: int


def _execute(spec: CheckSpec, ctx: CheckContext) -> CheckResult:
    missing = [t for t in spec.requires if not ctx.has_table(t)]
    if missing:
        return CheckResult(
            "not_applicable",
            f"the data this check reads is not present (table {', '.join(missing)})",
            {"missing_tables": missing},
            "Install and initialise the area that provides it, or ignore if unused.",
        )
    try:
        return spec.run(ctx)
    except AssayError as exc:
        return CheckResult("error", exc.message, {"error": type(exc).__name__}, exc.hint)
    except Exception as exc:  # noqa: BLE001 - one broken check must not stop the others
        return CheckResult(
            "error",
            f"the check raised {type(exc).__name__}: {exc}",
            {"error": type(exc).__name__},
            "Fix the check or the data it reads, then run `assay checks run` again.",
        )


def canonical(value: object) -> bytes:
    """RFC 8785 bytes of JSON-compatible data (floats avoided by callers)."""
    return rfc8785.dumps(json.loads(json.dumps(value, default=str)))


def run_checks(
    instance: Instance, only: Iterable[str] | None = None, *, store: bool = True
) -> list[StoredResult]:
    """Run the selected checks (all by default) and record each result with its time."""
    registry = check_registry()
    wanted = list(registry) if only is None else list(only)
    unknown = [w for w in wanted if w not in registry]
    if unknown:
        raise ComplianceError(
            f"unknown check {unknown[0]!r}", hint="List the checks with `assay checks list`."
        )
    ctx = CheckContext(instance, instance.clock.now())
    results = []
    for check_id in wanted:
        spec = registry[check_id]
        started = time.perf_counter()
        outcome = _execute(spec, ctx)
        elapsed = int((time.perf_counter() - started) * 1000)
        results.append(StoredResult(spec.id, spec.title, spec.controls, ctx.now, outcome, elapsed))
    if store:
        _store(instance, results)
    return results


def _store(instance: Instance, results: list[StoredResult]) -> None:
    with instance.db.session() as session:
        for item in results:
            body = canonical(item.result.evidence)
            session.add(
                CheckResultRow(
                    check_id=item.check_id,
                    status=item.result.status,
                    ran_at=item.ran_at,
                    summary=item.result.summary[:2000],
                    evidence=body.decode(),
                    evidence_sha256=hashlib.sha256(body).hexdigest(),
                    remediation=item.result.remediation[:2000],
                )
            )


def check_history(instance: Instance, check_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """The newest ``limit`` stored results of one check, newest first."""
    from sqlalchemy import select

    from assay.clock import format_rfc3339

    query = (
        select(CheckResultRow)
        .where(CheckResultRow.check_id == check_id)
        .order_by(CheckResultRow.ran_at.desc(), CheckResultRow.id.desc())
        .limit(limit)
    )
    with instance.db.session() as session:
        return [
            {"time": format_rfc3339(r.ran_at), "status": r.status, "summary": r.summary,
             "evidence_sha256": r.evidence_sha256, "remediation": r.remediation}
            for r in session.scalars(query)
        ]
