"""What the pages show from the other components, read through one narrow adapter each.

A component that is not part of this build yields ``Missing`` with a sentence saying so;
the page then shows an empty state — never invented numbers.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

__all__ = ["COMPONENTS", "Missing", "component_present", "missing"]

COMPONENTS = {
    "ledger": ("assay.ledger", "The audit ledger"),
    "crypto": ("assay.crypto", "The tenant key store"),
    "gateway": ("assay.gateway", "The trust gateway"),
    "compliance": ("assay.compliance", "The compliance engine"),
    "governance": ("assay.governance", "The model registry"),
}


@dataclass(frozen=True)
class Missing:
    component: str
    sentence: str


def component_present(name: str) -> bool:
    module, _ = COMPONENTS[name]
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def missing(name: str) -> Missing | None:
    """None when the component is installed; otherwise what to tell the reader."""
    if component_present(name):
        return None
    _, label = COMPONENTS[name]
    return Missing(name, f"{label} is not part of this build yet, so there is no data to show.")
