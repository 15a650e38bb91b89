"""Who approves: a registered person proves it with a current authenticator code.

Steps that rest on separation of duties (approve, post-approve, reject) must be
attributable to a person, not to a name typed on a command line. The person is a
dashboard user (``assay users``) with TOTP enrolled; the code is checked by the same
:class:`assay.web.Accounts` that signs people in, so a code is accepted once (no
replay), a wrong code counts towards the account's lock-out, and a disabled or
locked account is refused. A refusal is itself a ledger event. See ADR 0076.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from assay.errors import AuthError, NotFoundError
from assay.governance._audit import AuditSink, emit
from assay.instance import Instance

if TYPE_CHECKING:
    from assay.web import Accounts

__all__ = ["APPROVER_ROLES", "IdentityRefusedError", "VerifiedPerson", "verify_person"]

#: Dashboard roles allowed to approve or reject route changes.
APPROVER_ROLES = frozenset({"admin", "compliance"})
VERIFIED_BY_TOTP = "totp"


class IdentityRefusedError(AuthError):
    """The person could not be verified (unknown, not enrolled, wrong or used code)."""

    title = "Identity not verified"
    default_hint = "Pass --user EMAIL and a current code from your authenticator app (--totp)."


@dataclass(frozen=True)
class VerifiedPerson:
    user_id: str
    role: str
    verified_by: str = VERIFIED_BY_TOTP

    @property
    def actor(self) -> str:
        return f"user:{self.user_id}"


def _accounts(instance: Instance) -> Accounts:
    from assay.web import Accounts  # the edge that owns people
    from assay.web._secrets import WebKeys

    try:
        keys = WebKeys.load(instance.data_dir)
    except Exception as exc:
        raise IdentityRefusedError(
            "no registered people can be verified on this instance",
            hint="Create people with `assay users create` (run `assay init` first).",
        ) from exc
    return Accounts(instance, keys)


def verify_person(
    instance: Instance, audit: AuditSink, *, user: str, code: str, purpose: str,
    roles: frozenset[str] = APPROVER_ROLES,
) -> VerifiedPerson:
    """Check ``code`` for the person with e-mail (or id) ``user``; record a refusal."""
    from assay.web import SignInFailedError

    accounts = _accounts(instance)
    user = user.strip()
    try:
        view = accounts.find(user) if "@" in user else accounts.get(user)
    except NotFoundError:
        _refused(audit, "system", purpose, "unknown user")
        raise IdentityRefusedError("no registered person matches --user",
                                   hint="List people with `assay users list`.") from None
    if not view.totp_enrolled:
        _refused(audit, f"user:{view.id}", purpose, "no authenticator enrolled")
        raise IdentityRefusedError("this person has no authenticator enrolled",
                                   hint="Finish the setup link and enrol TOTP first.")
    if view.role not in roles:
        _refused(audit, f"user:{view.id}", purpose, "role not allowed")
        raise IdentityRefusedError(
            f"the {view.role} role may not {purpose}",
            hint=f"Ask someone with one of the roles {', '.join(sorted(roles))}.")
    try:
        accounts.check_totp(view.id, code)
    except SignInFailedError as exc:
        _refused(audit, f"user:{view.id}", purpose, "code refused")
        raise IdentityRefusedError(exc.message, hint=exc.hint) from None
    return VerifiedPerson(view.id, view.role)


def _refused(audit: AuditSink, actor: str, purpose: str, why: str) -> None:
    emit(audit, "governance.identity_refused", actor=actor, object_ids={},
         attributes={"purpose": purpose, "reason": why})
