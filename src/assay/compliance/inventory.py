"""The model-provider inventory: which upstreams are used and on what data terms.

A small YAML file (default ``<data_dir>/providers.yaml``) the compliance lead
keeps; the ``providers.inventoried`` check compares it with the upstreams the
gateway is configured to call.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assay.config import Settings
from assay.errors import ComplianceError

__all__ = ["Provider", "ProviderInventory", "configured_upstreams", "load_inventory"]


class Provider(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=1)]
    trains_on_customer_data: bool | None = Field(
        default=None, description="Whether the provider's terms allow training on our traffic."
    )
    retention_days: int | None = Field(
        default=None, ge=0, description="How long the provider keeps prompts (0 = zero retention)."
    )
    terms_url: str | None = None
    reviewed_on: date | None = None


class ProviderInventory(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    providers: list[Provider] = Field(default_factory=list)

    def by_name(self) -> dict[str, Provider]:
        return {p.name: p for p in self.providers}


def inventory_path(settings: Settings) -> Path:
    return settings.compliance.provider_inventory or settings.data_dir / "providers.yaml"


def load_inventory(settings: Settings) -> ProviderInventory | None:
    """The inventory, or None when the file does not exist."""
    path = inventory_path(settings)
    if not path.is_file():
        return None
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return ProviderInventory.model_validate(raw)
    except (yaml.YAMLError, ValidationError) as exc:
        raise ComplianceError(
            f"{path}: the provider inventory is invalid: {exc}",
            hint="Each entry needs name, trains_on_customer_data and retention_days.",
        ) from exc


def configured_upstreams(settings: Settings) -> list[str]:
    """Names of the providers the gateway may call, from the settings."""
    names = [u.name for u in settings.upstreams]
    if settings.upstream and settings.upstream not in names:
        names.append(settings.upstream)
    return sorted(names)
