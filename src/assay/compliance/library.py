"""The control library: frameworks (criteria) and controls, loaded from YAML.

The built-in library ships as package data under ``assay/compliance/library``.
Users add their own files or directories; each file is validated by a pydantic
schema and every error names the file and the field that is wrong.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from assay.errors import ComplianceError

__all__ = [
    "AI_RMF",
    "FREQUENCIES",
    "ISO_42001",
    "TSC",
    "Control",
    "ControlLibrary",
    "Frequency",
    "Population",
    "Requirement",
    "load_library",
]

TSC = "tsc-2017"
ISO_42001 = "iso-42001"
AI_RMF = "nist-ai-rmf"

Frequency = Literal["continuous", "daily", "weekly", "monthly", "quarterly", "annual", "ad_hoc"]
FREQUENCIES: tuple[Frequency, ...] = (
    "continuous", "daily", "weekly", "monthly", "quarterly", "annual", "ad_hoc",
)
Category = Literal["security", "availability", "confidentiality", "processing_integrity", "privacy"]
NonEmpty = Annotated[str, Field(min_length=1)]
ControlId = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$", max_length=40)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TestProcedures(_Strict):
    """How an auditor tests the control: design (Type I) and operation over time (Type II)."""

    type1: NonEmpty
    type2: NonEmpty


class Population(_Strict):
    """Where the occurrences of a control come from when an auditor samples it."""

    source: Literal["checks", "evidence", "ledger"]
    event_types: list[NonEmpty] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ledger_needs_types(self) -> Population:
        if self.source == "ledger" and not self.event_types:
            raise ValueError("a ledger population needs at least one entry in event_types")
        return self


class Control(_Strict):
    id: ControlId
    title: NonEmpty
    statement: NonEmpty
    criteria: list[NonEmpty] = Field(min_length=1)
    frequency: Frequency
    automated: bool
    owner: NonEmpty
    evidence: list[NonEmpty] = Field(min_length=1)
    tests: TestProcedures
    ai: bool = False
    mappings: dict[str, list[NonEmpty]] = Field(default_factory=dict)
    population: Population | None = None

    @model_validator(mode="after")
    def _ai_is_mapped(self) -> Control:
        if self.ai:
            missing = [f for f in (ISO_42001, AI_RMF) if not self.mappings.get(f)]
            if missing:
                raise ValueError(f"an AI control needs mappings for {', '.join(missing)}")
        return self

    @property
    def population_source(self) -> Population:
        if self.population is not None:
            return self.population
        return Population(source="checks" if self.automated else "evidence")


class Requirement(_Strict):
    id: NonEmpty
    title: str | None = None
    category: Category | None = None


class FrameworkInfo(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    name: NonEmpty
    criteria_framework: bool = False


class FrameworkFile(_Strict):
    kind: Literal["framework"]
    framework: FrameworkInfo
    series: dict[str, str] = Field(default_factory=dict)
    requirements: list[Requirement] = Field(min_length=1)


class ControlsFile(_Strict):
    kind: Literal["controls"]
    controls: list[Control] = Field(min_length=1)


@dataclass(frozen=True)
class Framework:
    info: FrameworkInfo
    requirements: dict[str, Requirement]
    series: dict[str, str]
    source: str


@dataclass
class ControlLibrary:
    """Every framework and control, cross-checked. Controls keep file order."""

    frameworks: dict[str, Framework] = field(default_factory=dict)
    controls: dict[str, Control] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def criteria(self) -> list[Requirement]:
        """The Trust Services Criteria in library order."""
        return list(self.frameworks[TSC].requirements.values())

    def criterion(self, criterion_id: str) -> Requirement:
        found = self.frameworks[TSC].requirements.get(criterion_id.upper())
        if found is None:
            raise ComplianceError(
                f"unknown criterion {criterion_id!r}",
                hint="List the criteria with `assay criteria list`.",
            )
        return found

    def series_of(self, criterion_id: str) -> str:
        """``CC6.1`` -> ``CC6``; ``P4.2`` -> ``P4``."""
        return criterion_id.split(".", 1)[0]

    def series_title(self, criterion_id: str) -> str:
        return self.frameworks[TSC].series.get(self.series_of(criterion_id), "")

    def control(self, control_id: str) -> Control:
        found = self.controls.get(control_id.upper())
        if found is None:
            raise ComplianceError(
                f"unknown control {control_id!r}",
                hint="List the controls with `assay controls list`.",
            )
        return found

    def controls_for(self, criterion_id: str) -> list[Control]:
        wanted = self.criterion(criterion_id).id
        return [c for c in self.controls.values() if wanted in c.criteria]

    @property
    def ai_controls(self) -> list[Control]:
        return [c for c in self.controls.values() if c.ai]


def _field_path(loc: Sequence[int | str]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _parse_file(text: str, source: str) -> FrameworkFile | ControlsFile:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ComplianceError(
            f"{source}: not valid YAML: {exc}", hint="Fix the YAML syntax in that file."
        ) from exc
    if not isinstance(raw, dict) or raw.get("kind") not in ("framework", "controls"):
        raise ComplianceError(
            f"{source}: field kind must be 'framework' or 'controls'",
            hint="Start the file with `kind: controls` (or `kind: framework`).",
        )
    model: type[FrameworkFile | ControlsFile] = (
        FrameworkFile if raw["kind"] == "framework" else ControlsFile
    )
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = _field_path(first["loc"])
        ident = _item_id(raw, first["loc"])
        raise ComplianceError(
            f"{source}: field {where}{ident} is invalid: {first['msg']}",
            hint="Correct that field; `assay controls show AS-GOV-01` prints a valid control.",
        ) from exc


def _item_id(raw: dict[str, object], loc: Sequence[int | str]) -> str:
    if len(loc) >= 2 and isinstance(loc[1], int):
        items = raw.get(str(loc[0]))
        if isinstance(items, list) and loc[1] < len(items) and isinstance(items[loc[1]], dict):
            ident = items[loc[1]].get("id")
            if ident:
                return f" (id {ident})"
    return ""


@functools.lru_cache(maxsize=1)
def _builtin_files() -> tuple[tuple[str, FrameworkFile | ControlsFile], ...]:
    folder = resources.files("assay.compliance") / "library"
    parsed = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".yaml", ".yml")):
            source = f"assay/compliance/library/{entry.name}"
            parsed.append((source, _parse_file(entry.read_text(encoding="utf-8"), source)))
    return tuple(parsed)


def _user_files(paths: Iterable[Path]) -> list[tuple[str, FrameworkFile | ControlsFile]]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted([*path.glob("*.yaml"), *path.glob("*.yml")]))
        elif path.is_file():
            found.append(path)
        else:
            raise ComplianceError(
                f"control library path {path} does not exist",
                hint="Fix ASSAY_CONTROL_LIBRARY or the path given on the command line.",
            )
    return [(str(p), _parse_file(p.read_text(encoding="utf-8"), str(p))) for p in found]


def load_library(extra: Iterable[Path] = ()) -> ControlLibrary:
    """The built-in library plus ``extra`` files or directories, cross-checked."""
    library = ControlLibrary()
    files = [*_builtin_files(), *_user_files(extra)]
    for source, parsed in files:
        if isinstance(parsed, FrameworkFile):
            _add_framework(library, parsed, source)
    for source, parsed in files:
        if isinstance(parsed, ControlsFile):
            for index, control in enumerate(parsed.controls):
                _add_control(library, control, source, index)
    if TSC not in library.frameworks:
        raise ComplianceError("the Trust Services Criteria framework is missing")
    return library


def _add_framework(library: ControlLibrary, parsed: FrameworkFile, source: str) -> None:
    ident = parsed.framework.id
    if ident in library.frameworks:
        raise ComplianceError(
            f"{source}: field framework.id {ident!r} is already defined in "
            f"{library.frameworks[ident].source}",
            hint="Give your framework its own id.",
        )
    requirements: dict[str, Requirement] = {}
    for index, req in enumerate(parsed.requirements):
        if req.id in requirements:
            raise ComplianceError(
                f"{source}: field requirements[{index}].id {req.id!r} is duplicated",
                hint="Each requirement id must appear once.",
            )
        requirements[req.id] = req
    library.frameworks[ident] = Framework(parsed.framework, requirements, parsed.series, source)


def _add_control(library: ControlLibrary, control: Control, source: str, index: int) -> None:
    where = f"{source}: field controls[{index}]"
    if control.id in library.controls:
        raise ComplianceError(
            f"{where}.id {control.id!r} is already defined in {library.sources[control.id]}",
            hint="Give the control a unique id (your own prefix avoids clashes).",
        )
    known = library.frameworks[TSC].requirements
    for pos, criterion in enumerate(control.criteria):
        if criterion not in known:
            raise ComplianceError(
                f"{where}.criteria[{pos}] names unknown criterion {criterion!r} (id {control.id})",
                hint="Use a Trust Services Criteria id such as CC6.1; see `assay criteria list`.",
            )
    for framework_id, ids in control.mappings.items():
        _check_mapping(library, where, control.id, framework_id, ids)
    library.controls[control.id] = control
    library.sources[control.id] = source


def _check_mapping(
    library: ControlLibrary, where: str, control_id: str, framework_id: str, ids: list[str]
) -> None:
    framework = library.frameworks.get(framework_id)
    if framework is None:
        raise ComplianceError(
            f"{where}.mappings names unknown framework {framework_id!r} (id {control_id})",
            hint=f"Known frameworks: {', '.join(sorted(library.frameworks))}.",
        )
    for pos, ident in enumerate(ids):
        if ident not in framework.requirements:
            raise ComplianceError(
                f"{where}.mappings.{framework_id}[{pos}] names unknown id {ident!r} "
                f"(id {control_id})",
                hint=f"Use an id defined in {framework.source}.",
            )
