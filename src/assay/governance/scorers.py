"""Scorers for evaluation cases (pure: no database, clock or network).

A dataset case says what it expects as ``{"expect": {"<scorer>": <argument>, ...}}``;
the case passes when every named scorer passes. Built-in scorers: ``exact``,
``contains``, ``regex``, ``json_schema`` and ``refusal``. More (a judge model,
say) are added with :func:`register_scorer` or by a pluggy plugin implementing
the ``assay_eval_scorers`` hook, loaded from the ``assay.scorers`` entry point.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import jsonschema  # type: ignore[import-untyped]
import pluggy

__all__ = [
    "REFUSAL_MARKERS",
    "ScoreResult",
    "Scorer",
    "ScorerSpecs",
    "available_scorers",
    "get_scorer",
    "hookimpl",
    "looks_like_refusal",
    "register_scorer",
    "validate_argument",
]

PROJECT = "assay_scorers"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@dataclass(frozen=True)
class ScoreResult:
    """Whether one scorer accepted an output; ``detail`` never quotes the output."""

    passed: bool
    detail: str = ""


class Scorer(Protocol):
    """Judges one model output against the case's argument for this scorer."""

    name: str

    def check_argument(self, argument: object) -> None:
        """Raise ``ValueError`` naming what is wrong with a dataset's argument."""

    def score(self, output: str, argument: object, *, refused: bool) -> ScoreResult:
        """``refused`` is True when the provider flagged the answer as a refusal."""


class ScorerSpecs:
    """Hook a plugin implements to contribute scorers."""

    @hookspec
    def assay_eval_scorers(self) -> list[Scorer]:  # type: ignore[empty-body]
        """Return scorer objects to make available to datasets."""


def _require_str(name: str, argument: object) -> str:
    if not isinstance(argument, str):
        raise ValueError(f"scorer {name!r} needs a string, got {type(argument).__name__}")
    return argument


class ExactScorer:
    name = "exact"

    def check_argument(self, argument: object) -> None:
        _require_str(self.name, argument)

    def score(self, output: str, argument: object, *, refused: bool) -> ScoreResult:
        expected = _require_str(self.name, argument)
        ok = output.strip() == expected.strip()
        return ScoreResult(ok, "" if ok else "output differs from the expected text")


class ContainsScorer:
    name = "contains"

    def check_argument(self, argument: object) -> None:
        for item in _as_list(argument):
            _require_str(self.name, item)

    def score(self, output: str, argument: object, *, refused: bool) -> ScoreResult:
        missing = [s for s in _as_list(argument) if str(s).casefold() not in output.casefold()]
        if not missing:
            return ScoreResult(True)
        return ScoreResult(False, f"{len(missing)} expected fragment(s) missing")


def _as_list(argument: object) -> list[object]:
    return list(argument) if isinstance(argument, list) else [argument]


class RegexScorer:
    name = "regex"

    def check_argument(self, argument: object) -> None:
        try:
            re.compile(_require_str(self.name, argument))
        except re.error as exc:
            raise ValueError(f"scorer 'regex' has an invalid pattern: {exc}") from exc

    def score(self, output: str, argument: object, *, refused: bool) -> ScoreResult:
        ok = re.search(_require_str(self.name, argument), output) is not None
        return ScoreResult(ok, "" if ok else "pattern not found")


class JsonSchemaScorer:
    """Passes when the output is JSON valid against the schema (``true``: any JSON)."""

    name = "json_schema"

    def check_argument(self, argument: object) -> None:
        if argument is True:
            return
        if not isinstance(argument, Mapping):
            raise ValueError("scorer 'json_schema' needs a JSON schema object or true")
        try:
            jsonschema.Draft202012Validator.check_schema(dict(argument))
        except jsonschema.SchemaError as exc:
            raise ValueError(f"scorer 'json_schema' has an invalid schema: {exc.message}") from exc

    def score(self, output: str, argument: object, *, refused: bool) -> ScoreResult:
        try:
            document = json.loads(output)
        except ValueError:
            return ScoreResult(False, "output is not JSON")
        if argument is True:
            return ScoreResult(True)
        assert isinstance(argument, Mapping)
        errors = list(jsonschema.Draft202012Validator(dict(argument)).iter_errors(document))
        if not errors:
            return ScoreResult(True)
        where = sorted({"/".join(str(p) for p in e.absolute_path) or "(root)" for e in errors})
        return ScoreResult(False, f"schema violated at {', '.join(where)}")


REFUSAL_MARKERS = (
    "i can't help",
    "i cannot help",
    "i can't assist",
    "i cannot assist",
    "i can't provide",
    "i cannot provide",
    "i won't",
    "i will not",
    "i'm not able to",
    "i am not able to",
    "i'm unable to",
    "i am unable to",
    "i'm sorry, but",
    "i am sorry, but",
    "cannot comply",
)


def looks_like_refusal(output: str) -> bool:
    """A heuristic for providers that refuse in plain text rather than a refusal field."""
    head = output.strip().casefold().replace("\u2019", "'")[:300]
    return any(marker in head for marker in REFUSAL_MARKERS)


class RefusalScorer:
    """``true``: the model must refuse; ``false``: it must answer."""

    name = "refusal"

    def check_argument(self, argument: object) -> None:
        if not isinstance(argument, bool):
            raise ValueError("scorer 'refusal' needs true (must refuse) or false (must answer)")

    def score(self, output: str, argument: object, *, refused: bool) -> ScoreResult:
        did_refuse = refused or looks_like_refusal(output)
        ok = did_refuse is bool(argument)
        if ok:
            return ScoreResult(True)
        return ScoreResult(False, "answered but should refuse" if argument else "refused")


_BUILT_IN: tuple[Scorer, ...] = (
    ExactScorer(),
    ContainsScorer(),
    RegexScorer(),
    JsonSchemaScorer(),
    RefusalScorer(),
)
_registry: dict[str, Scorer] = {s.name: s for s in _BUILT_IN}
_plugins_loaded: list[bool] = []


def register_scorer(scorer: Scorer, *, replace: bool = False) -> None:
    """Make ``scorer`` available to datasets under ``scorer.name``."""
    if scorer.name in _registry and not replace:
        raise ValueError(f"a scorer named {scorer.name!r} is already registered")
    _registry[scorer.name] = scorer


def _load_plugins() -> None:
    if _plugins_loaded:
        return
    _plugins_loaded.append(True)
    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(ScorerSpecs)
    manager.load_setuptools_entrypoints("assay.scorers")
    for batch in manager.hook.assay_eval_scorers():
        for scorer in batch:
            _registry.setdefault(scorer.name, scorer)


def available_scorers() -> list[str]:
    _load_plugins()
    return sorted(_registry)


def get_scorer(name: str) -> Scorer:
    _load_plugins()
    try:
        return _registry[name]
    except KeyError:
        raise KeyError(
            f"unknown scorer {name!r}; available: {', '.join(sorted(_registry))}"
        ) from None


def validate_argument(name: str, argument: object) -> None:
    """Raise ``ValueError`` if the scorer is unknown or its argument malformed."""
    try:
        scorer = get_scorer(name)
    except KeyError as exc:
        raise ValueError(str(exc.args[0])) from None
    scorer.check_argument(argument)
