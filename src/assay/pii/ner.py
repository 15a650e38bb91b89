"""Named-entity backends for ``PERSON`` and ``LOCATION``: optional, local, never downloaded.

A backend is anything with ``entity_types`` and ``analyze(text) -> Sequence[Span]``
(:class:`assay.pii.NerBackend`). Two ways to get one:

* :class:`SpacyBackend` runs a spaCy pipeline the user has installed (a package
  name such as ``en_core_web_sm``) or saved to disk (a directory), with the
  optional extra ``pip install 'assay[ner]'``. spaCy's ``PERSON`` becomes
  ``PERSON``; ``GPE``, ``LOC`` and ``FAC`` become ``LOCATION``.
* :func:`load_ner_backend` turns a setting (``ASSAY_PII_NER``) into a backend:
  ``spacy:<package-or-path>``, or ``<name>:<argument>`` for a backend another
  package registers under the entry-point group ``assay.pii_ner`` (a callable
  taking the argument and returning a backend).

Nothing here downloads anything: a pipeline that is not installed is an error
that says how to install it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from typing import Any

from assay.errors import PIIError
from assay.pii.detector import NerBackend
from assay.pii.spans import Span

__all__ = ["ENTRY_POINT_GROUP", "SpacyBackend", "load_ner_backend"]

ENTRY_POINT_GROUP = "assay.pii_ner"
# spaCy's labels (OntoNotes and WikiNER schemes) -> Assay's types.
SPACY_LABELS = {"PERSON": "PERSON", "PER": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION", "FAC": "LOCATION"}
_INSTALL_HINT = (
    "Install the optional extra (`pip install 'assay[ner]'`) and a spaCy pipeline package, or pass "
    "the directory of a pipeline saved with `nlp.to_disk()`; Assay never downloads one."
)


class SpacyBackend:
    """``PERSON`` and ``LOCATION`` from a loaded spaCy pipeline (calls are serialised by a lock)."""

    def __init__(self, nlp: Any, *, score: float = 0.85, name: str = "spacy") -> None:
        labels = {label for component_labels in nlp.pipe_labels.values() for label in component_labels}
        types = frozenset(SPACY_LABELS[label] for label in labels if label in SPACY_LABELS)
        if not types:
            raise PIIError(
                f"the spaCy pipeline {name!r} labels no people or places",
                hint=f"Use a pipeline whose entity labels include one of {', '.join(sorted(SPACY_LABELS))}.",
            )
        self._nlp = nlp
        self._types = types
        self._score = score
        self._recognizer = f"ner.{name}"
        self._lock = threading.Lock()

    @classmethod
    def load(cls, name_or_path: str, *, score: float = 0.85) -> SpacyBackend:
        """Load an installed pipeline package or a saved pipeline directory (never a download)."""
        if "://" in name_or_path:
            raise PIIError(f"{name_or_path!r} looks like a URL", hint=_INSTALL_HINT)
        try:
            import spacy
        except ImportError as exc:
            raise PIIError("spaCy is not installed, so no named-entity backend can run", hint=_INSTALL_HINT) from exc
        try:
            nlp = spacy.load(name_or_path)
        except (OSError, ValueError) as exc:
            raise PIIError(f"no spaCy pipeline {name_or_path!r} is installed or saved there", hint=_INSTALL_HINT) from exc
        return cls(nlp, score=score, name="spacy")

    @property
    def entity_types(self) -> frozenset[str]:
        return self._types

    def analyze(self, text: str) -> Sequence[Span]:
        with self._lock:
            doc = self._nlp(text)
        found = []
        for entity in doc.ents:
            kind = SPACY_LABELS.get(entity.label_)
            if kind is not None:
                found.append(Span(entity.start_char, entity.end_char, kind, self._score, self._recognizer))
        return found


def load_ner_backend(spec: str) -> NerBackend:
    """The backend a setting names: ``spacy:<package-or-path>`` or ``<entry point>:<argument>``."""
    scheme, _, argument = spec.partition(":")
    if not argument:
        raise PIIError(
            f"named-entity backend {spec!r} is not of the form <backend>:<argument>",
            hint="For example ASSAY_PII_NER=spacy:en_core_web_sm or spacy:/srv/models/ner.",
        )
    if scheme == "spacy":
        return SpacyBackend.load(argument)
    factories = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    if scheme not in factories:
        known = ", ".join(["spacy", *sorted(factories)])
        raise PIIError(f"unknown named-entity backend {scheme!r}", hint=f"Use one of: {known}.")
    factory: Callable[[str], Any] = factories[scheme].load()
    backend = factory(argument)
    if not isinstance(backend, NerBackend):
        raise PIIError(
            f"the {scheme!r} backend factory returned {type(backend).__name__}, not a named-entity backend",
            hint="It must return an object with `entity_types` and `analyze(text)`.",
        )
    return backend
