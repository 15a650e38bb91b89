"""`assay doctor` finding: can anybody administer the dashboard?"""

from __future__ import annotations

from assay.config import Settings
from assay.doctor import Finding, register_check
from assay.errors import AssayError
from assay.instance import open_instance
from assay.web._secrets import WebKeys
from assay.web.accounts import Accounts

__all__ = ["dashboard_admins"]


@register_check
def dashboard_admins(settings: Settings) -> list[Finding]:
    try:
        instance = open_instance(settings)
    except AssayError:
        return []  # the data directory and database findings already say why
    try:
        ready = Accounts(instance, WebKeys.load(instance.data_dir)).count_ready_admins()
    except AssayError as exc:
        return [Finding("dashboard admins", "fail", exc.message, exc.hint)]
    finally:
        instance.close()
    if ready == 0:
        return [
            Finding(
                "dashboard admins",
                "warn",
                "no admin can sign in to the dashboard yet",
                "Start `assay serve` and open the one-time link it prints, or run "
                "`assay users create --email you@example.com --role admin`.",
            )
        ]
    return [Finding("dashboard admins", "ok", f"{ready} admin(s) with password and TOTP")]
