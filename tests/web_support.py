"""Helpers for dashboard tests: sign people in over HTTP exactly as a browser does."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
from fastapi import FastAPI
from fastapi.testclient import TestClient

from assay.api import create_app
from assay.clock import FixedClock
from assay.instance import Instance
from assay.web import Accounts
from assay.web._secrets import WebKeys

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_SECRET = re.compile(r'data-secret="([A-Z2-7]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "page has no CSRF field"
    return found.group(1)


def accounts_for(instance: Instance) -> Accounts:
    return Accounts(instance, WebKeys.load(instance.data_dir))


def fixed_clock(instance: Instance) -> FixedClock:
    """Give the instance a clock the test moves (TOTP steps, expiry, lock-out)."""
    if not isinstance(instance.clock, FixedClock):
        instance.clock = FixedClock(datetime.now(UTC).replace(microsecond=0))
    return instance.clock


def fresh_code(instance: Instance, secret: str) -> str:
    """Move to the next 30 s step (a used step is refused) and return its code."""
    clock = fixed_clock(instance)
    clock.set(clock.now() + timedelta(seconds=30))
    return pyotp.TOTP(secret).at(clock.now())


@dataclass
class Person:
    client: TestClient
    user_id: str
    email: str
    secret: str
    role: str

    instance: Instance

    def csrf(self, path: str = "/account") -> str:
        return csrf_of(self.client.get(path).text)


_apps: list[FastAPI] = []


def client_for(instance: Instance, *, https: bool = False, **kw: Any) -> TestClient:
    base = "https://testserver" if https else "http://testserver"
    app = create_app(instance)
    _apps.append(app)
    return TestClient(app, base_url=base, follow_redirects=False, **kw)


def close_apps() -> None:
    """Stop the ledger sequencer each test app opened (call before closing the instance)."""
    while _apps:
        log = getattr(_apps.pop().state, "audit_log", None)
        if log is not None:
            log.close()


def set_up_person(instance: Instance, email: str, role: str, client: TestClient | None = None) -> Person:
    """Create a person, follow the setup link, set a password and enrol TOTP."""
    client = client or client_for(instance)
    fixed_clock(instance)
    user_id, token = accounts_for(instance).create(email, role)
    page = client.get(f"/setup/{token}")
    assert page.status_code == 200, page.text
    done = client.post(
        f"/setup/{token}",
        data={"password": PASSWORD, "password_again": PASSWORD, "csrf_token": csrf_of(page.text)},
    )
    assert done.status_code == 303 and done.headers["location"] == "/enrol", done.text
    enrol = client.get("/enrol")
    secret = _SECRET.search(enrol.text)
    assert secret, enrol.text
    confirmed = client.post(
        "/enrol",
        data={"code": fresh_code(instance, secret.group(1)), "csrf_token": csrf_of(enrol.text)},
    )
    assert confirmed.status_code == 303 and confirmed.headers["location"] == "/", confirmed.text
    return Person(client, user_id, email, secret.group(1), role, instance)


def sign_in(instance: Instance, client: TestClient, email: str, password: str, secret: str | None) -> int:
    """Password then code; returns the status of the last step (303 = signed in)."""
    page = client.get("/login")
    first = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": csrf_of(page.text)}
    )
    if first.status_code != 303 or secret is None:
        return first.status_code
    code_page = client.get("/login/code")
    second = client.post(
        "/login/code",
        data={"code": fresh_code(instance, secret), "csrf_token": csrf_of(code_page.text)},
    )
    return second.status_code
