"""People who sign in: creation, one-time setup links, passwords, TOTP and lock-out.

Passwords are argon2id hashes. TOTP secrets and e-mail addresses are sealed with AES-GCM under
keys derived from ``session.key`` (see ``_secrets``). Setup tokens are random and only their
SHA-256 is stored. Every failure counts towards a lock-out, whatever factor failed.
"""

from __future__ import annotations

import functools
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assay.errors import AuthError, NotFoundError, UsageError
from assay.instance import Instance
from assay.web._secrets import WebKeys, hash_token
from assay.web.models import SetupToken, User, WebSession
from assay.web.roles import ROLES

__all__ = [
    "LOCK_MINUTES",
    "MAX_FAILURES",
    "Accounts",
    "SignInFailedError",
    "UserView",
]

MAX_FAILURES = 5
LOCK_MINUTES = 15
MIN_PASSWORD = 12
SETUP_TTL = timedelta(hours=72)
FIRST_ADMIN_TTL = timedelta(hours=24)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_TOTP_STEP = 30


class SignInFailedError(AuthError):
    """Wrong e-mail, password or code, or the account is locked (deliberately vague)."""

    title = "Sign-in failed"
    default_hint = "Check your e-mail, password and authenticator code."

    def __init__(self, message: str, *, hint: str | None = None, user_id: str | None = None):
        super().__init__(message, hint=hint)
        self.user_id = user_id  # for the ledger record only; never shown


@dataclass(frozen=True)
class UserView:
    """What the dashboard shows about a person (e-mail decrypted)."""

    id: str
    email: str
    role: str
    active: bool
    totp_enrolled: bool
    locked: bool
    disabled: bool
    created_at: datetime
    last_sign_in_at: datetime | None


class Accounts:
    """Operations on people; every method is one database transaction."""

    def __init__(self, instance: Instance, keys: WebKeys) -> None:
        self.instance = instance
        self.keys = keys
        self.hasher = PasswordHasher()

    @property
    def now(self) -> datetime:
        return self.instance.clock.now()

    # -- creation and setup links -------------------------------------------------------

    def create(self, email: str, role: str, *, ttl: timedelta = SETUP_TTL) -> tuple[str, str]:
        """Create a person without a password; return ``(user_id, setup_token)``."""
        email = _valid_email(email)
        if role not in ROLES:
            raise UsageError(f"unknown role {role!r}", hint=f"Use one of: {', '.join(ROLES)}.")
        lookup = self.keys.email_lookup(email)
        user_id = uuid.uuid4().hex
        with self.instance.db.session() as s:
            if s.scalar(select(User.id).where(User.email_lookup == lookup)):
                raise UsageError(
                    f"a user with e-mail {email} already exists",
                    hint="Use `assay users list`; issue a new link with `assay users link`.",
                )
            s.add(
                User(
                    id=user_id,
                    email_lookup=lookup,
                    email_enc=self.keys.seal_text(email, f"users/{user_id}/email"),
                    role=role,
                    failed_attempts=0,
                    created_at=self.now,
                )
            )
            s.flush()
            token = self._new_token(s, user_id, ttl)
        return user_id, token

    def new_setup_link(self, user_id: str, *, ttl: timedelta = SETUP_TTL) -> str:
        """Invalidate earlier links and issue a new one (lost link, reset, first admin)."""
        with self.instance.db.session() as s:
            if s.get(User, user_id) is None:
                raise NotFoundError(f"no user {user_id}")
            return self._new_token(s, user_id, ttl)

    def _new_token(self, s: Session, user_id: str, ttl: timedelta) -> str:
        for old in s.scalars(select(SetupToken).where(SetupToken.user_id == user_id)):
            s.delete(old)
        token = secrets.token_urlsafe(32)
        s.add(
            SetupToken(
                token_hash=hash_token(token),
                user_id=user_id,
                created_at=self.now,
                expires_at=self.now + ttl,
            )
        )
        return token

    def setup_user(self, token: str) -> str | None:
        """The user a still-valid setup token belongs to, or None."""
        with self.instance.db.session() as s:
            row = s.get(SetupToken, hash_token(token))
            if row is None or row.used_at is not None or row.expires_at <= self.now:
                return None
            return row.user_id

    def redeem_setup(self, token: str, password: str) -> str:
        """Set the password of the token's user and burn the token; return the user id."""
        _check_password_rules(password)
        with self.instance.db.session() as s:
            row = s.get(SetupToken, hash_token(token))
            if row is None or row.used_at is not None or row.expires_at <= self.now:
                raise SignInFailedError(
                    "this setup link is invalid, used or expired",
                    hint="Ask an admin for a new link (`assay users link --email ...`).",
                )
            user = s.get(User, row.user_id)
            assert user is not None
            row.used_at = self.now
            user.password_hash = self.hasher.hash(password)
            user.totp_secret_enc = None
            user.totp_enrolled_at = None
            user.failed_attempts = 0
            user.locked_until = None
            for old in s.scalars(select(WebSession).where(WebSession.user_id == user.id)):
                s.delete(old)
            return user.id

    # -- TOTP enrolment ------------------------------------------------------------------

    def pending_totp_secret(self, user_id: str) -> str:
        """The secret being enrolled (created on first call); refused once enrolled."""
        with self.instance.db.session() as s:
            user = self._user(s, user_id)
            if user.totp_enrolled_at is not None:
                raise UsageError("TOTP is already enrolled for this user")
            context = f"users/{user.id}/totp"
            if user.totp_secret_enc is None:
                secret = pyotp.random_base32()
                user.totp_secret_enc = self.keys.seal_text(secret, context)
                return secret
            return self.keys.open_text(user.totp_secret_enc, context)

    def confirm_totp(self, user_id: str, code: str) -> bool:
        """Finish enrolment if ``code`` matches the pending secret."""
        with self.instance.db.session() as s:
            user = self._user(s, user_id)
            if user.totp_enrolled_at is not None or user.totp_secret_enc is None:
                return False
            if not self._code_ok(user, code):
                return False
            user.totp_enrolled_at = self.now
            return True

    def provisioning_uri(self, user_id: str, secret: str) -> str:
        return pyotp.TOTP(secret).provisioning_uri(name=self.email_of(user_id), issuer_name="Assay")

    # -- sign-in -------------------------------------------------------------------------

    def check_password(self, email: str, password: str) -> str:
        """The user id if the password is right and the account usable; else SignInFailedError."""
        lookup = self.keys.email_lookup(email)
        with self.instance.db.session() as s:
            user = s.scalar(select(User).where(User.email_lookup == lookup))
            if user is None or user.password_hash is None:
                _verify_quietly(self.hasher, _dummy_hash(self.hasher), password)
                raise SignInFailedError("wrong e-mail or password")
            self._refuse_unusable(user, user.id)
            matched = _verify_quietly(self.hasher, user.password_hash, password)
            if not matched:
                self._count_failure(user)  # committed when the block ends, before raising
            user_id = user.id
        if not matched:
            raise SignInFailedError("wrong e-mail or password", user_id=user_id)
        return user_id

    def check_totp(self, user_id: str, code: str) -> None:
        """Second factor; a wrong or replayed code counts as a failure."""
        with self.instance.db.session() as s:
            user = self._user(s, user_id)
            self._refuse_unusable(user, user_id)
            if not self._code_ok(user, code):
                self._count_failure(user)
                failed = True
            else:
                user.failed_attempts = 0
                user.last_sign_in_at = self.now
                failed = False
        if failed:
            raise SignInFailedError("wrong or already used authenticator code", user_id=user_id)

    def _refuse_unusable(self, user: User, user_id: str) -> None:
        if user.disabled_at is not None:
            raise SignInFailedError(
                "this account is disabled", hint="Ask an admin.", user_id=user_id
            )
        if user.locked_until is not None and user.locked_until > self.now:
            raise SignInFailedError(
                "too many failed attempts; this account is locked for a while",
                hint=f"Try again in {LOCK_MINUTES} minutes or ask an admin to unlock it.",
                user_id=user_id,
            )

    def _count_failure(self, user: User) -> None:
        user.failed_attempts += 1
        if user.failed_attempts >= MAX_FAILURES:
            user.locked_until = self.now + timedelta(minutes=LOCK_MINUTES)
            user.failed_attempts = 0

    def _code_ok(self, user: User, code: str) -> bool:
        code = code.strip().replace(" ", "")
        if user.totp_secret_enc is None or not code.isdigit():
            return False
        secret = self.keys.open_text(user.totp_secret_enc, f"users/{user.id}/totp")
        totp = pyotp.TOTP(secret)
        step_now = int(self.now.timestamp()) // _TOTP_STEP
        for step in (step_now - 1, step_now, step_now + 1):
            if user.totp_last_step is not None and step <= user.totp_last_step:
                continue
            if secrets.compare_digest(totp.at(step * _TOTP_STEP), code):
                user.totp_last_step = step
                return True
        return False

    # -- administration ------------------------------------------------------------------

    def get(self, user_id: str) -> UserView:
        with self.instance.db.session() as s:
            return self._view(self._user(s, user_id))

    def list(self) -> list[UserView]:
        with self.instance.db.session() as s:
            views = [self._view(u) for u in s.scalars(select(User))]
        return sorted(views, key=lambda v: v.email)

    def find(self, email: str) -> UserView:
        lookup = self.keys.email_lookup(email)
        with self.instance.db.session() as s:
            user = s.scalar(select(User).where(User.email_lookup == lookup))
            if user is None:
                raise NotFoundError(f"no user with e-mail {email.strip()}")
            return self._view(user)

    def email_of(self, user_id: str) -> str:
        return self.get(user_id).email

    def set_role(self, user_id: str, role: str) -> None:
        if role not in ROLES:
            raise UsageError(f"unknown role {role!r}", hint=f"Use one of: {', '.join(ROLES)}.")
        with self.instance.db.session() as s:
            self._user(s, user_id).role = role

    def set_disabled(self, user_id: str, disabled: bool) -> None:
        with self.instance.db.session() as s:
            user = self._user(s, user_id)
            user.disabled_at = self.now if disabled else None
            if disabled:
                for old in s.scalars(select(WebSession).where(WebSession.user_id == user_id)):
                    s.delete(old)

    def mark_signed_in(self, user_id: str) -> None:
        with self.instance.db.session() as s:
            self._user(s, user_id).last_sign_in_at = self.now

    def unlock(self, user_id: str) -> None:
        with self.instance.db.session() as s:
            user = self._user(s, user_id)
            user.locked_until = None
            user.failed_attempts = 0

    def count_ready_admins(self) -> int:
        """Admins who can sign in (password set and TOTP enrolled, not disabled)."""
        with self.instance.db.session() as s:
            query = select(func.count()).where(
                User.role == "admin",
                User.password_hash.is_not(None),
                User.totp_enrolled_at.is_not(None),
                User.disabled_at.is_(None),
            )
            return int(s.scalar(query) or 0)

    def count(self) -> int:
        with self.instance.db.session() as s:
            return int(s.scalar(select(func.count()).select_from(User)) or 0)

    def _user(self, s: Session, user_id: str) -> User:
        user = s.get(User, user_id)
        if user is None:
            raise NotFoundError(f"no user {user_id}", hint="List users on the Users page.")
        return user

    def _view(self, user: User) -> UserView:
        locked = user.locked_until is not None and user.locked_until > self.now
        return UserView(
            id=user.id,
            email=self.keys.open_text(user.email_enc, f"users/{user.id}/email"),
            role=user.role,
            active=user.password_hash is not None and user.totp_enrolled_at is not None,
            totp_enrolled=user.totp_enrolled_at is not None,
            locked=locked,
            disabled=user.disabled_at is not None,
            created_at=user.created_at,
            last_sign_in_at=user.last_sign_in_at,
        )


@functools.cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    """Verified when the e-mail is unknown, so both paths cost one argon2 verification."""
    return hasher.hash(secrets.token_hex(16))


def _valid_email(email: str) -> str:
    email = email.strip()
    if not _EMAIL.match(email) or len(email) > 254:
        raise UsageError(f"{email!r} is not an e-mail address", hint="Give it as name@example.com.")
    return email


def _check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UsageError(
            f"the password is too short ({len(password)} characters)",
            hint=f"Use at least {MIN_PASSWORD} characters; a passphrase is best.",
        )
    if len(password) > 1024:
        raise UsageError("the password is too long", hint="Use at most 1024 characters.")


def _verify_quietly(hasher: PasswordHasher, stored: str, password: str) -> bool:
    try:
        return hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
