"""First run: with nobody able to sign in, create the first admin and print a one-time link."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import TextIO

from assay.errors import NotFoundError
from assay.instance import Instance
from assay.ledger import AuditLog
from assay.web._secrets import WebKeys
from assay.web.accounts import FIRST_ADMIN_TTL, Accounts
from assay.web.audit import record

__all__ = ["FIRST_ADMIN_EMAIL", "ensure_first_admin"]

FIRST_ADMIN_EMAIL = "admin@localhost"


def ensure_first_admin(
    instance: Instance,
    base_url: str,
    *,
    out: TextIO | None = None,
    ttl: timedelta = FIRST_ADMIN_TTL,
) -> str | None:
    """Return (and print) a sign-in link for the first admin, or None if not needed.

    Nothing happens once any user exists, unless it is the unfinished first admin itself
    (a restart before its setup was completed): then a fresh link replaces the old one.
    """
    accounts = Accounts(instance, WebKeys.load(instance.data_dir))
    if accounts.count_ready_admins() > 0:
        return None
    try:
        first = accounts.find(FIRST_ADMIN_EMAIL)
    except NotFoundError:
        if accounts.count() > 0:
            return None
        # The ledger is opened first: when it is unavailable no unrecorded account is created.
        with AuditLog.open(instance) as log:
            user_id, token = accounts.create(FIRST_ADMIN_EMAIL, "admin", ttl=ttl)
            record(
                log,
                "user.created",
                "system",
                object_ids={"user": user_id},
                attributes={"role": "admin"},
            )
    else:
        if first.active:
            return None
        token = accounts.new_setup_link(first.id, ttl=ttl)
    link = f"{base_url.rstrip('/')}/setup/{token}"
    hours = int(ttl.total_seconds() // 3600)
    stream = out or sys.stderr
    stream.write(
        "\n  First run: no one can sign in yet. Open this one-time link (valid "
        f"{hours} h)\n  to set the first admin's password and authenticator:\n\n  {link}\n\n"
    )
    stream.flush()
    return link
