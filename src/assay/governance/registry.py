"""The model registry: every model version the platform may serve, with its terms.

A registered version is immutable. Registering the same content again is a
no-op; different content under an existing id is refused (register a new id).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from assay.errors import GovernanceError, NotFoundError, UsageError
from assay.governance._audit import AuditSink, emit
from assay.governance._common import canonical_sha256, check_identifier, sha256_text
from assay.governance.models import ModelVersionRow, PromptTemplateRow
from assay.instance import Instance

__all__ = [
    "RISK_RATINGS",
    "ModelSpec",
    "ModelVersion",
    "ProviderTerms",
    "get_model",
    "list_models",
    "register_model",
]

RISK_RATINGS = ("low", "medium", "high", "unrated")
_RESERVED_PARAMS = frozenset({"model", "messages", "stream", "n", "user"})


@dataclass(frozen=True)
class ProviderTerms:
    """The provider's data terms for this model, as the compliance engine checks them."""

    training_opt_out: bool | None = None
    retention_days: int | None = None
    region: str | None = None

    @property
    def complete(self) -> bool:
        return None not in (self.training_opt_out, self.retention_days, self.region)


@dataclass(frozen=True)
class ModelSpec:
    """What a person registers. ``id`` defaults to ``provider/provider_model@snapshot``."""

    provider: str
    provider_model: str
    snapshot: str
    intended_use: str
    risk_rating: str
    owner: str
    terms: ProviderTerms = field(default_factory=ProviderTerms)
    upstream: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    system_prompt: str | None = None
    prompt_name: str | None = None
    id: str | None = None

    @property
    def version_id(self) -> str:
        return self.id or f"{self.provider}/{self.provider_model}@{self.snapshot}"


@dataclass(frozen=True)
class ModelVersion:
    """A registered model version as read back from the registry."""

    id: str
    provider: str
    upstream: str
    provider_model: str
    snapshot: str
    params: Mapping[str, Any]
    params_sha256: str
    prompt_template_id: str | None
    prompt_sha256: str | None
    system_prompt: str | None
    intended_use: str
    risk_rating: str
    owner: str
    terms: ProviderTerms
    source: str
    registered_at: datetime
    registered_by: str


def _validate(spec: ModelSpec) -> None:
    check_identifier("model version id", spec.version_id)
    for name, value in (("provider", spec.provider), ("provider model", spec.provider_model),
                        ("snapshot", spec.snapshot), ("owner", spec.owner)):
        if not value.strip():
            raise UsageError(f"{name} must not be empty", hint=f"Pass the {name}.")
    if spec.risk_rating not in RISK_RATINGS:
        raise UsageError(
            f"risk rating {spec.risk_rating!r} is not one of {', '.join(RISK_RATINGS)}",
            hint="Pass --risk low, medium or high.",
        )
    reserved = sorted(_RESERVED_PARAMS & set(spec.params))
    if reserved:
        raise UsageError(
            f"parameters {', '.join(reserved)} are set by the gateway, not the registry",
            hint="Remove them from the parameters (e.g. temperature, max_tokens are fine).",
        )
    if spec.terms.retention_days is not None and spec.terms.retention_days < 0:
        raise UsageError("retention days must be 0 or more", hint="Pass --retention-days 0..N.")
    if spec.system_prompt is not None and not spec.system_prompt.strip():
        raise UsageError("the system prompt is empty", hint="Give a non-empty prompt file.")


def _content(spec: ModelSpec) -> dict[str, object]:
    return {
        "provider": spec.provider,
        "upstream": spec.upstream or spec.provider,
        "provider_model": spec.provider_model,
        "snapshot": spec.snapshot,
        "params_sha256": canonical_sha256(spec.params),
        "prompt_sha256": sha256_text(spec.system_prompt) if spec.system_prompt else None,
        "intended_use": spec.intended_use,
        "risk_rating": spec.risk_rating,
        "owner": spec.owner,
        "training_opt_out": spec.terms.training_opt_out,
        "retention_days": spec.terms.retention_days,
        "region": spec.terms.region,
    }


def register_model(
    instance: Instance, audit: AuditSink, spec: ModelSpec, *, actor: str, source: str = "manual"
) -> ModelVersion:
    """Register ``spec``; the ledger event ``model.registered`` is written first."""
    _validate(spec)
    content = _content(spec)
    content_hash = canonical_sha256(content)
    with instance.db.session() as session:
        existing = session.get(ModelVersionRow, spec.version_id)
        if existing is not None:
            if existing.content_sha256 == content_hash:
                return _view(session, existing)
            raise GovernanceError(
                f"model version {spec.version_id} is already registered with other content",
                hint="Registered versions are immutable; register the change under a new --id.",
            )
        prompt_id, prompt_new = _prompt_template_id(session, spec)
    attributes = {k: v for k, v in content.items() if k != "intended_use"}
    attributes |= {"prompt_template": prompt_id, "source": source}
    index = emit(audit, "model.registered", actor=actor,
                 object_ids={"model_version": spec.version_id}, attributes=attributes)
    now = instance.clock.now()
    try:
        with instance.db.session() as session:
            if prompt_new and spec.system_prompt is not None and prompt_id is not None:
                _add_prompt(session, spec, prompt_id, actor, now)
                session.flush()  # the model row refers to it
            row = _row(spec, content, content_hash=content_hash, prompt_id=prompt_id,
                       source=source, actor=actor, now=now, index=index)
            session.add(row)
            session.flush()
            return _view(session, row)
    except IntegrityError as exc:
        raise GovernanceError(
            f"model version {spec.version_id} was registered concurrently",
            hint="Run `assay models show` to see it; retry with a new --id if it differs.",
        ) from exc


def _prompt_template_id(session: Session, spec: ModelSpec) -> tuple[str | None, bool]:
    """The template id for the spec's prompt: an existing version, or the next one."""
    if spec.system_prompt is None:
        return None, False
    name = check_identifier("prompt name", spec.prompt_name or spec.version_id.replace("@", "-"))
    digest = sha256_text(spec.system_prompt)
    same = session.scalar(
        select(PromptTemplateRow.id).where(
            PromptTemplateRow.name == name, PromptTemplateRow.sha256 == digest
        )
    )
    if same is not None:
        return same, False
    latest = session.scalar(
        select(func.max(PromptTemplateRow.version)).where(PromptTemplateRow.name == name)
    )
    return f"{name}@v{(latest or 0) + 1}", True


def _add_prompt(session: Session, spec: ModelSpec, prompt_id: str, actor: str, now: datetime) -> None:
    assert spec.system_prompt is not None
    name, _, version = prompt_id.rpartition("@v")
    session.add(PromptTemplateRow(
        id=prompt_id, name=name, version=int(version), text=spec.system_prompt,
        sha256=sha256_text(spec.system_prompt), created_at=now, created_by=actor,
    ))


def _row(spec: ModelSpec, content: Mapping[str, Any], *, content_hash: str,
         prompt_id: str | None, source: str, actor: str, now: datetime, index: int) -> ModelVersionRow:
    return ModelVersionRow(
        id=spec.version_id, provider=spec.provider, upstream=content["upstream"],
        provider_model=spec.provider_model, snapshot=spec.snapshot, params=dict(spec.params),
        params_sha256=content["params_sha256"], prompt_template_id=prompt_id,
        intended_use=spec.intended_use, risk_rating=spec.risk_rating, owner=spec.owner,
        training_opt_out=spec.terms.training_opt_out, retention_days=spec.terms.retention_days,
        region=spec.terms.region, source=source, content_sha256=content_hash,
        registered_at=now, registered_by=actor, ledger_index=index,
    )


def _view(session: Session, row: ModelVersionRow) -> ModelVersion:
    prompt = session.get(PromptTemplateRow, row.prompt_template_id) if row.prompt_template_id else None
    return ModelVersion(
        id=row.id, provider=row.provider, upstream=row.upstream,
        provider_model=row.provider_model, snapshot=row.snapshot, params=dict(row.params),
        params_sha256=row.params_sha256, prompt_template_id=row.prompt_template_id,
        prompt_sha256=prompt.sha256 if prompt else None,
        system_prompt=prompt.text if prompt else None, intended_use=row.intended_use,
        risk_rating=row.risk_rating, owner=row.owner,
        terms=ProviderTerms(row.training_opt_out, row.retention_days, row.region),
        source=row.source, registered_at=row.registered_at, registered_by=row.registered_by,
    )


def get_model(instance: Instance, model_version_id: str) -> ModelVersion:
    with instance.db.session() as session:
        return get_model_in(session, model_version_id)


def get_model_in(session: Session, model_version_id: str) -> ModelVersion:
    row = session.get(ModelVersionRow, model_version_id)
    if row is None:
        raise NotFoundError(
            f"model version {model_version_id} is not registered",
            hint="Register it with `assay models register`, or list them with `assay models list`.",
        )
    return _view(session, row)


def list_models(instance: Instance) -> list[ModelVersion]:
    with instance.db.session() as session:
        rows = session.scalars(select(ModelVersionRow).order_by(ModelVersionRow.id)).all()
        return [_view(session, row) for row in rows]


def quickstart_specs(upstream_name: str, models: Mapping[str, str] | Iterable[str]) -> dict[str, ModelSpec]:
    """Alias -> spec for models found by the single-upstream quick start."""
    pairs = models.items() if isinstance(models, Mapping) else ((m, m) for m in models)
    return {
        alias: ModelSpec(
            provider=upstream_name, upstream=upstream_name, provider_model=provider_model,
            snapshot="unpinned", risk_rating="unrated", owner="unassigned",
            intended_use="Registered by the single-upstream quick start; review and complete.",
            id=f"{upstream_name}/{provider_model}",
        )
        for alias, provider_model in pairs
    }
