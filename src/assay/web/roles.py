"""Who may do what on the dashboard: one table, consulted by every route.

Capabilities are named after what a person does, not after pages, so a page that shows
several things asks for each one. An auditor reads evidence and the ledger; only an admin may
read a decrypted transcript, and that read is itself a ledger event.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["CAPABILITIES", "ROLES", "Capability", "Role", "allowed"]


class Role(StrEnum):
    ADMIN = "admin"
    COMPLIANCE = "compliance"
    AUDITOR = "auditor"
    VIEWER = "viewer"


class Capability(StrEnum):
    VIEW_OVERVIEW = "view_overview"
    VIEW_CONTROLS = "view_controls"
    VIEW_GATEWAY = "view_gateway"
    VIEW_LEDGER = "view_ledger"
    VERIFY_LEDGER = "verify_ledger"
    DOWNLOAD_PROOF = "download_proof"
    VIEW_TENANTS = "view_tenants"
    MANAGE_TENANTS = "manage_tenants"
    VIEW_EVIDENCE = "view_evidence"
    UPLOAD_EVIDENCE = "upload_evidence"
    EXPORT_AUDIT = "export_audit"
    READ_TRANSCRIPTS = "read_transcripts"
    MANAGE_USERS = "manage_users"
    MANAGE_TRUST = "manage_trust"
    ACCOUNT = "account"


_C = Capability
_EVERYONE = {_C.VIEW_OVERVIEW, _C.VIEW_CONTROLS, _C.VIEW_LEDGER, _C.ACCOUNT}

CAPABILITIES: dict[Role, frozenset[Capability]] = {
    Role.ADMIN: frozenset(Capability),
    Role.COMPLIANCE: frozenset(
        _EVERYONE
        | {
            _C.VIEW_GATEWAY,
            _C.VERIFY_LEDGER,
            _C.DOWNLOAD_PROOF,
            _C.VIEW_TENANTS,
            _C.VIEW_EVIDENCE,
            _C.UPLOAD_EVIDENCE,
            _C.EXPORT_AUDIT,
        }
    ),
    Role.AUDITOR: frozenset(
        _EVERYONE | {_C.VERIFY_LEDGER, _C.DOWNLOAD_PROOF, _C.VIEW_EVIDENCE, _C.EXPORT_AUDIT}
    ),
    Role.VIEWER: frozenset(_EVERYONE | {_C.VIEW_GATEWAY}),
}

ROLES = tuple(r.value for r in Role)


def allowed(role: str, capability: Capability) -> bool:
    """True if ``role`` has ``capability``; an unknown role has nothing (fail closed)."""
    try:
        return capability in CAPABILITIES[Role(role)]
    except ValueError:
        return False
