"""Dashboard settings an admin edits: the public trust page switch and its content."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from assay.instance import Instance
from assay.web.models import WebSetting

__all__ = ["TRUST_CATEGORIES", "Subprocessor", "TrustSettings", "load_trust", "save_trust"]

TRUST_CATEGORIES = (
    "Security",
    "Availability",
    "Processing integrity",
    "Confidentiality",
    "Privacy",
)
_KEY = "trust_page"


@dataclass(frozen=True)
class Subprocessor:
    name: str
    purpose: str
    data_terms: str


@dataclass(frozen=True)
class TrustSettings:
    enabled: bool = False
    company: str = ""
    categories: tuple[str, ...] = ("Security",)
    subprocessors: tuple[Subprocessor, ...] = field(default_factory=tuple)

    def subprocessor_lines(self) -> str:
        return "\n".join(f"{s.name} | {s.purpose} | {s.data_terms}" for s in self.subprocessors)


def parse_subprocessors(text: str) -> tuple[Subprocessor, ...]:
    """One per line: ``name | purpose | data terms``; blank lines are skipped."""
    found = []
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        parts += [""] * (3 - len(parts))
        found.append(Subprocessor(parts[0][:120], parts[1][:200], " | ".join(parts[2:])[:400]))
    return tuple(found)


def load_trust(instance: Instance) -> TrustSettings:
    with instance.db.session() as s:
        row = s.get(WebSetting, _KEY)
        raw = row.value if row is not None else None
    if raw is None:
        return TrustSettings()
    data = json.loads(raw)
    return TrustSettings(
        enabled=bool(data.get("enabled", False)),
        company=str(data.get("company", "")),
        categories=tuple(c for c in data.get("categories", []) if c in TRUST_CATEGORIES),
        subprocessors=tuple(Subprocessor(**s) for s in data.get("subprocessors", [])),
    )


def save_trust(instance: Instance, value: TrustSettings, actor: str) -> None:
    data = {
        "enabled": value.enabled,
        "company": value.company,
        "categories": list(value.categories),
        "subprocessors": [s.__dict__ for s in value.subprocessors],
    }
    now = instance.clock.now()
    with instance.db.session() as s:
        row = s.get(WebSetting, _KEY)
        if row is None:
            s.add(WebSetting(key=_KEY, value=json.dumps(data), updated_at=now, updated_by=actor))
        else:
            row.value, row.updated_at, row.updated_by = json.dumps(data), now, actor
