"""A real spaCy pipeline built on disk for the named-entity tests (nothing downloaded)."""

from __future__ import annotations

from pathlib import Path


def build_pipeline(path: Path) -> Path:
    """A blank English pipeline whose entity ruler knows a few people and places."""
    import spacy

    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns(  # type: ignore[attr-defined]
        [
            {"label": "PERSON", "pattern": "Jane Doe"},
            {"label": "PERSON", "pattern": [{"LOWER": "john"}, {"LOWER": "smith"}]},
            {"label": "GPE", "pattern": "Paris"},
            {"label": "FAC", "pattern": "Golden Gate Bridge"},
            {"label": "ORG", "pattern": "Acme"},
        ]
    )
    nlp.to_disk(path)
    return path
