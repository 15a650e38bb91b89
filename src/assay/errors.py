"""The one error family of Assay.

Every error a user can see is an :class:`AssayError`: a message that says what
went wrong and a hint that says what to do about it. The CLI prints both on
one line each; the API renders them as RFC 9457 problem documents. Errors from
third-party libraries are re-raised as one of these with ``raise ... from exc``.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AssayError",
    "AuthError",
    "ComplianceError",
    "ConfigError",
    "CryptoError",
    "ErasedError",
    "GatewayError",
    "GovernanceError",
    "LedgerError",
    "NotFoundError",
    "PIIError",
    "StoreError",
    "UsageError",
    "VerificationError",
]


class AssayError(Exception):
    """Base of every error Assay reports to a person.

    ``status`` is the HTTP status used when the error crosses the API;
    ``exit_code`` is the process exit code used by the CLI (2 for usage and
    configuration errors, 1 for failures).
    """

    status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 1
    title: ClassVar[str] = "Assay error"
    default_hint: ClassVar[str] = "Run `assay doctor` to check the installation."

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint

    @property
    def type_slug(self) -> str:
        """A stable, URL-safe name for the error type (used in problem+json)."""
        name = type(self).__name__.removesuffix("Error") or "Assay"
        return "".join("-" + c.lower() if c.isupper() else c for c in name).lstrip("-")

    def __str__(self) -> str:
        return self.message


class UsageError(AssayError):
    """The command or request was malformed."""

    status = 400
    exit_code = 2
    title = "Invalid request"
    default_hint = "Check the arguments against `--help`."


class ConfigError(AssayError):
    """A setting is missing or has a wrong value."""

    status = 500
    exit_code = 2
    title = "Configuration error"
    default_hint = "Fix the setting in the environment (ASSAY_*) or in assay.toml."


class NotFoundError(AssayError):
    """The thing asked for does not exist."""

    status = 404
    title = "Not found"
    default_hint = "Check the identifier; list what exists with the matching `list` command."


class AuthError(AssayError):
    """The caller is not authenticated or not allowed to do this."""

    status = 401
    title = "Not authorised"
    default_hint = "Send a valid key in `Authorization: Bearer <key>`."


class StoreError(AssayError):
    """The database is unreachable, uninitialised or inconsistent."""

    status = 503
    title = "Storage unavailable"
    default_hint = "Run `assay init` for this data directory, then `assay doctor`."


class LedgerError(AssayError):
    """The audit ledger could not record or read an event."""

    status = 503
    title = "Audit ledger unavailable"
    default_hint = "Run `assay ledger verify` and `assay doctor`."


class VerificationError(LedgerError):
    """A proof, signature or tree did not verify. The message names where."""

    status = 422
    title = "Verification failed"
    default_hint = "Treat the log or export as tampered with until the named place is explained."


class CryptoError(AssayError):
    """Encryption, decryption or a key operation failed."""

    status = 503
    title = "Key store error"
    default_hint = "Check the KMS settings and run `assay keys list`."


class ErasedError(CryptoError):
    """The data was crypto-shredded: its key no longer exists."""

    status = 410
    title = "Erased"
    default_hint = "The data was erased on purpose; the ledger holds the erasure record."


class PIIError(AssayError):
    """Detection or redaction of personal data failed."""

    status = 503
    title = "Redaction failed"
    default_hint = "The request was not forwarded; check the tenant policy and detector settings."


class GatewayError(AssayError):
    """The gateway could not serve a model request."""

    status = 502
    title = "Gateway error"
    default_hint = "Check the upstream configuration with `assay doctor`."


class ComplianceError(AssayError):
    """The control library, a check, or an assessment failed."""

    status = 422
    title = "Compliance engine error"
    default_hint = "Check the control files with `assay controls list`."


class GovernanceError(AssayError):
    """A model-registry or change-management rule was broken."""

    status = 409
    title = "Change refused"
    default_hint = "List change requests with `assay changes list`."
