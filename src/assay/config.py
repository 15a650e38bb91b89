"""Settings: environment (``ASSAY_*``), then ``assay.toml``, then defaults.

Only the edges (CLI, server factory) call :func:`load_settings`; components
receive the values they need as arguments.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from assay.errors import ConfigError

__all__ = [
    "DEFAULT_DATA_DIR",
    "ComplianceSettings",
    "Settings",
    "UpstreamSettings",
    "load_settings",
    "settings_reference",
]

DEFAULT_DATA_DIR = Path(".assay-data")
_TOML_ENV = "ASSAY_CONFIG"


class UpstreamSettings(BaseSettings):
    """One OpenAI-compatible provider the gateway may call."""

    model_config = SettingsConfigDict(extra="forbid")

    name: str
    base_url: str
    api_key_env: str | None = Field(
        default=None, description="Name of the environment variable holding the provider key."
    )
    models: dict[str, str] = Field(
        default_factory=dict, description="Alias served by Assay -> model name at the provider."
    )
    timeout_s: float = Field(default=60.0, gt=0)
    allow_plain_http: bool = False
    breaker_threshold: int = Field(
        default=5, ge=1, description="Consecutive failures that open the circuit breaker."
    )
    breaker_cooldown_s: float = Field(
        default=30.0, gt=0, description="Seconds an open breaker waits before one probe."
    )


class ComplianceSettings(BaseSettings):
    """Thresholds of the automated control checks and extra control files."""

    model_config = SettingsConfigDict(extra="forbid")

    library: list[Path] = Field(
        default_factory=list, description="Extra control or framework YAML files or directories."
    )
    key_rotation_days: int = Field(default=365, ge=1, description="Maximum age of a key version.")
    checkpoint_max_age_s: float = Field(
        default=3600.0, gt=0, description="Oldest acceptable ledger checkpoint with entries after it."
    )
    api_key_unused_days: int = Field(default=90, ge=1, description="API keys unused this long fail.")
    admin_keys_max: int = Field(default=3, ge=1, description="Most active admin keys allowed.")
    admin_key_max_age_days: int = Field(default=90, ge=1, description="Oldest admin key allowed.")
    provider_inventory: Path | None = Field(
        default=None, description="YAML inventory of model providers; default <data_dir>/providers.yaml."
    )


class Settings(BaseSettings):
    """Every setting Assay reads. Environment names are ``ASSAY_<FIELD>``."""

    model_config = SettingsConfigDict(
        env_prefix="ASSAY_", extra="forbid", validate_default=True, env_nested_delimiter="__"
    )

    data_dir: Path = Field(
        default=DEFAULT_DATA_DIR,
        description="Data directory (mode 0700): database, secrets, exports.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default is SQLite (WAL) at <data_dir>/assay.db.",
    )
    host: str = Field(default="127.0.0.1", description="Address `assay serve` listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `assay serve` listens on.")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Lowest log level written."
    )
    log_format: Literal["json", "console"] = Field(
        default="json", description="`json` (one object per line) or `console` text."
    )
    kms: Literal["local", "aws-kms"] = Field(
        default="local", description="Key-encryption backend for tenant keys."
    )
    master_key: SecretStr | None = Field(
        default=None,
        description="Local KMS root key (base64, 32 bytes); default is <data_dir>/master.key.",
    )
    aws_kms_key_id: str | None = Field(
        default=None, description="AWS KMS key id or ARN (kms = aws-kms)."
    )
    aws_endpoint_url: str | None = Field(
        default=None, description="Override the AWS KMS endpoint (for a local test server)."
    )
    aws_region: str = Field(default="us-east-1", description="AWS region of the KMS key.")
    redis_url: str | None = Field(
        default=None,
        description="Redis URL for rate limits shared between replicas, and for publishing API-key revocations to every replica at once.",
    )
    pii_ner: str | None = Field(
        default=None,
        description="Named-entity backend for PERSON/LOCATION: spacy:<package-or-path> (nothing downloaded).",
        pattern=r"^[a-z][a-z0-9_-]*:.+$",
    )
    upstream: str | None = Field(
        default=None, description="One OpenAI-compatible upstream base URL (quick setup)."
    )
    upstreams: list[UpstreamSettings] = Field(
        default_factory=list,
        description="Providers (name, base_url, api_key_env, models, timeout_s).",
    )
    max_body_bytes: int = Field(
        default=4 * 1024 * 1024, gt=0, description="Largest request body the gateway accepts."
    )
    upstream_timeout_s: float = Field(
        default=60.0, gt=0, description="Timeout for the `upstream` URL (seconds)."
    )
    upstream_allow_plain_http: bool = Field(
        default=False, description="Allow a plain-HTTP `upstream` URL that is not on loopback."
    )
    tenant_rpm: int | None = Field(
        default=None, gt=0, description="Requests per minute per tenant (none: unlimited)."
    )
    tenant_tpm: int | None = Field(
        default=None, gt=0, description="Tokens per minute per tenant (none: unlimited)."
    )
    platform_tenant: str = Field(
        default="platform",
        description="Keys of this tenant are the platform operator's: they read the whole ledger, "
        "compliance and model governance APIs and every tenant's decision records; other keys only their tenant's.",
    )
    tls_cert: Path | None = Field(
        default=None, description="PEM certificate: `assay serve` terminates TLS 1.2+."
    )
    tls_key: Path | None = Field(default=None, description="PEM private key for `tls_cert`.")
    checkpoint_interval_s: float = Field(
        default=10.0, gt=0, le=10.0, description="Seconds between signed ledger checkpoints."
    )
    ledger_commit_delay_ms: float = Field(
        default=1.0, ge=0, le=50,
        description="Longest wait of a ledger commit for appends known to be on their way (0: never wait).",
    )
    retention_interval_s: float = Field(
        default=3600.0, gt=0, description="Seconds between retention runs inside `assay serve`."
    )
    demo_model: bool = Field(
        default=True, description="Serve the offline `assay-demo` model when no upstream is set."
    )
    public_url: str | None = Field(
        default=None, description="External base URL used in links Assay prints."
    )
    compliance: ComplianceSettings = Field(
        default_factory=ComplianceSettings,
        description="Compliance check thresholds, extra control files, provider inventory.",
    )

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError(
                "must be a sqlite:/// or postgresql+psycopg:// URL, "
                f"got one starting with {value.split(':', 1)[0]!r}"
            )
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = _toml_path()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL actually used."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'assay.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.sqlalchemy_url.startswith("sqlite")


def _toml_path() -> Path | None:
    explicit = os.environ.get(_TOML_ENV)
    if explicit:
        return Path(explicit)
    local = Path("assay.toml")
    return local if local.is_file() else None


def load_settings(**overrides: Any) -> Settings:
    """Build settings, turning validation failures into a :class:`ConfigError`.

    Overrides that are ``None`` are ignored so CLI options can be passed through.
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    explicit = os.environ.get(_TOML_ENV)
    if explicit and not Path(explicit).is_file():
        raise ConfigError(
            f"{_TOML_ENV} points to {explicit}, which is not a file",
            hint="Create the file or unset ASSAY_CONFIG.",
        )
    try:
        return Settings(**given)
    except ValidationError as exc:
        raise ConfigError(_describe(exc), hint=_hint(exc)) from exc
    except (OSError, ValueError) as exc:  # unreadable or malformed assay.toml
        raise ConfigError(
            f"could not read assay.toml: {exc}",
            hint="Fix the TOML syntax or remove the file.",
        ) from exc


def _describe(exc: ValidationError) -> str:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "settings"
    return f"setting {field} (ASSAY_{field.split('.')[0].upper()}) is invalid: {first['msg']}"


def _hint(exc: ValidationError) -> str:
    first = exc.errors()[0]
    if first["type"] == "extra_forbidden":
        return "Remove the unknown setting; `assay doctor` lists the valid ones."
    return "Set it in the environment or assay.toml to a valid value."


def settings_reference() -> str:
    """The Markdown table of every setting (docs/configuration.md is this, checked by a test)."""
    rows = ["| environment variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        shown = "" if default is None or default == [] else f"`{default}`"
        rows.append(f"| `ASSAY_{name.upper()}` | {shown} | {field.description or ''} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":  # pragma: no cover - `python -m assay.config` regenerates the doc table
    print(settings_reference(), end="")  # noqa: T201
