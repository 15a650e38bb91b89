"""Output validation for structured outputs (pure).

A route may declare a JSON schema its answers must satisfy. The schema carries
what to do with a violation in the vendor keyword ``x-assay-on-violation``:
``block`` (default: the answer is withheld, fail closed) or ``flag`` (the answer
is delivered and the violation counted). Error descriptions name schema paths and
keywords only, never values, so they can be stored without leaking content.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import jsonschema  # type: ignore[import-untyped]

__all__ = [
    "ON_VIOLATION_KEY",
    "OutputVerdict",
    "SchemaCarrier",
    "check_output_schema",
    "validate_output",
    "violation_action",
]

ON_VIOLATION_KEY = "x-assay-on-violation"
Action = Literal["allow", "flag", "block"]


class SchemaCarrier(Protocol):
    """Anything with an ``output_schema`` (the gateway's ``ResolvedRoute``, a route view)."""

    @property
    def output_schema(self) -> Mapping[str, object] | None: ...


@dataclass(frozen=True)
class OutputVerdict:
    """The result of checking one answer; ``action`` tells the gateway what to do."""

    checked: bool
    valid: bool
    action: Action
    errors: tuple[str, ...] = field(default_factory=tuple)

    @property
    def blocked(self) -> bool:
        return self.action == "block"


_UNCHECKED = OutputVerdict(checked=False, valid=True, action="allow")


def violation_action(schema: Mapping[str, object]) -> Literal["flag", "block"]:
    value = schema.get(ON_VIOLATION_KEY, "block")
    return "flag" if value == "flag" else "block"


def check_output_schema(schema: Mapping[str, object]) -> None:
    """Raise ``ValueError`` if ``schema`` is not a usable output schema."""
    if not isinstance(schema, Mapping):
        raise ValueError("the output schema must be a JSON object")
    action = schema.get(ON_VIOLATION_KEY, "block")
    if action not in ("block", "flag"):
        raise ValueError(f"{ON_VIOLATION_KEY} must be 'block' or 'flag', got {action!r}")
    try:
        jsonschema.Draft202012Validator.check_schema(dict(schema))
    except jsonschema.SchemaError as exc:
        raise ValueError(f"the output schema is not a valid JSON schema: {exc.message}") from exc


def validate_output(route: SchemaCarrier, text: str) -> OutputVerdict:
    """Check ``text`` against the route's schema; routes without one always pass."""
    schema = route.output_schema
    if not schema:
        return _UNCHECKED
    errors = _errors(schema, text)
    if not errors:
        return OutputVerdict(checked=True, valid=True, action="allow")
    return OutputVerdict(
        checked=True, valid=False, action=violation_action(schema), errors=tuple(errors)
    )


_validators: dict[int, tuple[Mapping[str, object], Any]] = {}
_MAX_CACHED = 256


def _validator(schema: Mapping[str, object]) -> Any:
    """A compiled validator per schema object (routes keep theirs while they are live)."""
    cached = _validators.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    if len(_validators) >= _MAX_CACHED:
        _validators.clear()
    validator = jsonschema.Draft202012Validator(dict(schema))
    _validators[id(schema)] = (schema, validator)
    return validator


def _errors(schema: Mapping[str, object], text: str) -> list[str]:
    try:
        document = json.loads(text)
    except ValueError:
        return ["(root): not JSON"]
    validator = _validator(schema)
    if validator.is_valid(document):
        return []
    found = {
        f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.validator}"
        for e in validator.iter_errors(document)
    }
    return sorted(found)[:20]
