"""Server-side dashboard sessions. The cookie carries a random id signed with a derived key.

A new id is issued at every change of privilege (password accepted, code accepted, sign-out),
so an id planted in a browser before sign-in never becomes a signed-in session.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete

from assay.instance import Instance
from assay.web._secrets import hash_token
from assay.web.models import User, WebSession

__all__ = ["STAGE_ENROL", "STAGE_FULL", "STAGE_MFA", "Sessions", "SignedIn"]

STAGE_MFA = "mfa"  # password accepted, code not yet
STAGE_ENROL = "enrol"  # password set, TOTP must be enrolled
STAGE_FULL = "full"
_TTL = {STAGE_MFA: timedelta(minutes=10), STAGE_ENROL: timedelta(minutes=30)}
FULL_TTL = timedelta(hours=12)


@dataclass(frozen=True)
class SignedIn:
    """The person behind a request and how far their sign-in has got."""

    session_id: str
    user_id: str
    role: str
    stage: str


class Sessions:
    def __init__(self, instance: Instance) -> None:
        self.instance = instance

    def start(self, user_id: str, stage: str, *, replacing: str | None = None) -> str:
        """Create a session (ending ``replacing`` in the same transaction); return its id."""
        now = self.instance.clock.now()
        raw = secrets.token_urlsafe(32)
        with self.instance.db.session() as s:
            if replacing:
                s.execute(delete(WebSession).where(WebSession.id_hash == hash_token(replacing)))
            s.add(
                WebSession(
                    id_hash=hash_token(raw),
                    user_id=user_id,
                    stage=stage,
                    created_at=now,
                    expires_at=now + _TTL.get(stage, FULL_TTL),
                )
            )
        return raw

    def find(self, raw: str) -> SignedIn | None:
        now = self.instance.clock.now()
        with self.instance.db.session() as s:
            row = s.get(WebSession, hash_token(raw))
            if row is None:
                return None
            user = s.get(User, row.user_id)
            if row.expires_at <= now or user is None or user.disabled_at is not None:
                s.delete(row)
                return None
            return SignedIn(session_id=raw, user_id=user.id, role=user.role, stage=row.stage)

    def end(self, raw: str) -> None:
        with self.instance.db.session() as s:
            s.execute(delete(WebSession).where(WebSession.id_hash == hash_token(raw)))

    def purge_expired(self, now: datetime | None = None) -> int:
        moment = now or self.instance.clock.now()
        with self.instance.db.session() as s:
            result = s.execute(delete(WebSession).where(WebSession.expires_at <= moment))
            return int(getattr(result, "rowcount", 0) or 0)
