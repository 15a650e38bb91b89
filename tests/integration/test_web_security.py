"""Dashboard security: role checks on every route, CSRF, session fixation, lock-out."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from tests.web_support import (
    PASSWORD,
    Person,
    client_for,
    close_apps,
    csrf_of,
    fixed_clock,
    fresh_code,
    set_up_person,
    sign_in,
)

from assay.instance import Instance
from assay.ledger import AuditLog
from assay.web import ROUTES, allowed
from assay.web._core import SESSION_COOKIE, router
from assay.web.accounts import LOCK_MINUTES, MAX_FAILURES
from assay.web.roles import ROLES

EXAMPLES = {
    "control_id": "CC6.1",
    "index": "0",
    "tenant_id": "acme",
    "what": "rotate",
    "transcript_id": "t-1",
    "user_id": "nobody",
    "change": "unlock",
    "name": "app.css",
    "token": "not-a-token",
    "key_id": "nokey",
}
FORM = {
    "name": "acme",
    "email": "new.person@example.com",
    "role": "viewer",
    "confirm_name": "acme",
    "start": "2026-01-01",
    "end": "2026-02-01",
    "reason": "ticket 42",
}
GUARDED = [r for r in ROUTES if r.capability is not None]


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: EXAMPLES[m.group(1)], path)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """HTTP-level tests: one engine is enough (storage itself is tested on both)."""
    return f"sqlite:///{tmp_path / 'data' / 'assay.db'}"


@pytest.fixture(autouse=True)
def _stop_ledger(instance: Instance) -> Iterator[None]:
    yield
    close_apps()


class People(dict[str, Person]):
    """One signed-in person per role, set up on first use (argon2 and TOTP cost time)."""

    def __init__(self, instance: Instance) -> None:
        super().__init__()
        self.instance = instance

    def __missing__(self, role: str) -> Person:
        self[role] = set_up_person(self.instance, f"{role}@example.com", role)
        return self[role]


@pytest.fixture
def people(instance: Instance) -> dict[str, Person]:
    return People(instance)


def test_every_route_is_declared_with_its_capability() -> None:
    declared = {(r.method, r.path) for r in ROUTES}
    mounted = {(m, r.path) for r in router.routes for m in getattr(r, "methods", ())}
    assert mounted == declared


def test_role_matrix_on_every_route(instance: Instance, people: dict[str, Person]) -> None:
    """Table-driven: each guarded route x each role is allowed exactly when the matrix says."""
    failures = []
    everyone = {role: people[role] for role in ROLES}
    for spec in GUARDED:
        for role, person in everyone.items():
            url = concrete(spec.path)
            if spec.method == "GET":
                response = person.client.get(url)
            else:
                response = person.client.post(url, data={**FORM, "csrf_token": person.csrf()})
            expected = allowed(role, spec.capability)  # type: ignore[arg-type]
            denied = response.status_code == 403
            to_login = response.headers.get("location", "").startswith("/login")
            if expected == denied or to_login:
                failures.append(f"{spec.method} {url} as {role}: {response.status_code}")
    assert not failures, "\n".join(failures)


def test_signed_out_visitors_are_sent_to_sign_in_from_every_route(instance: Instance) -> None:
    client = client_for(instance)
    for spec in GUARDED:
        response = client.request(spec.method, concrete(spec.path), data=FORM)
        assert response.status_code == 303, spec
        assert response.headers["location"].startswith("/login"), spec


def test_post_without_or_with_wrong_csrf_is_refused(instance: Instance, people: dict[str, Person]) -> None:
    admin, other = people["admin"], people["viewer"]
    before = len(admin.client.get("/users").text)
    for token in (None, "", "0" * 64, other.csrf()):
        data = {"email": "x@example.com", "role": "viewer"}
        if token is not None:
            data["csrf_token"] = token
        response = admin.client.post("/users", data=data)
        assert response.status_code == 403, token
    assert "x@example.com" not in admin.client.get("/users").text
    assert len(admin.client.get("/users").text) == before


def test_sign_in_form_needs_csrf(instance: Instance, people: dict[str, Person]) -> None:
    client = client_for(instance)
    response = client.post("/login", data={"email": "admin@example.com", "password": PASSWORD})
    assert response.status_code == 403


def test_session_id_changes_at_each_step_and_old_ids_die(instance: Instance, people: dict[str, Person]) -> None:
    admin = people["admin"]
    client = client_for(instance)
    login = client.get("/login")
    client.post("/login", data={"email": admin.email, "password": PASSWORD, "csrf_token": csrf_of(login.text)})
    half = client.cookies.get(SESSION_COOKIE)
    assert half
    page = client.get("/login/code")
    done = client.post("/login/code", data={"code": fresh_code(instance, admin.secret), "csrf_token": csrf_of(page.text)})
    assert done.status_code == 303
    full = client.cookies.get(SESSION_COOKIE)
    assert full and full != half
    # The pre-authentication id (say, planted by an attacker) grants nothing afterwards.
    planted = client_for(instance, cookies={SESSION_COOKIE: half})
    assert planted.get("/").headers["location"].startswith("/login")
    # A value not signed by this server is ignored, too.
    forged = client_for(instance, cookies={SESSION_COOKIE: full[:-4] + "abcd"})
    assert forged.get("/").status_code == 303


def test_sign_out_ends_the_session(instance: Instance, people: dict[str, Person]) -> None:
    viewer = people["viewer"]
    stolen = viewer.client.cookies.get(SESSION_COOKIE)
    assert viewer.client.post("/logout", data={"csrf_token": viewer.csrf()}).status_code == 303
    again = client_for(instance, cookies={SESSION_COOKIE: stolen})
    assert again.get("/").status_code == 303


def test_lock_out_after_repeated_failures_then_unlock(instance: Instance, people: dict[str, Person]) -> None:
    auditor = people["auditor"]
    client = client_for(instance)
    for _ in range(MAX_FAILURES):
        assert sign_in(instance, client, auditor.email, "wrong password!!", None) == 401
    # Even the right password is refused while locked.
    page = client.get("/login")
    locked = client.post("/login", data={"email": auditor.email, "password": PASSWORD, "csrf_token": csrf_of(page.text)})
    assert locked.status_code == 401 and "locked" in locked.text
    fixed_clock(instance).set(instance.clock.now() + timedelta(minutes=LOCK_MINUTES + 1))
    assert sign_in(instance, client, auditor.email, PASSWORD, auditor.secret) == 303


def test_wrong_codes_count_towards_lock_out(instance: Instance, people: dict[str, Person]) -> None:
    viewer = people["viewer"]
    client = client_for(instance)
    for _ in range(MAX_FAILURES):
        page = client.get("/login")
        client.post("/login", data={"email": viewer.email, "password": PASSWORD, "csrf_token": csrf_of(page.text)})
        code_page = client.get("/login/code")
        bad = client.post("/login/code", data={"code": "000000", "csrf_token": csrf_of(code_page.text)})
        assert bad.status_code == 401
    assert sign_in(instance, client, viewer.email, PASSWORD, viewer.secret) == 401
    admin = people["admin"]
    unlock = admin.client.post(f"/users/{viewer.user_id}/unlock", data={"csrf_token": admin.csrf()})
    assert unlock.status_code == 303
    assert sign_in(instance, client, viewer.email, PASSWORD, viewer.secret) == 303


def test_a_used_code_cannot_be_replayed(instance: Instance, people: dict[str, Person]) -> None:
    viewer = people["viewer"]
    client = client_for(instance)
    code = fresh_code(instance, viewer.secret)
    for expected in (303, 401):
        page = client.get("/login")
        client.post("/login", data={"email": viewer.email, "password": PASSWORD, "csrf_token": csrf_of(page.text)})
        code_page = client.get("/login/code")
        response = client.post("/login/code", data={"code": code, "csrf_token": csrf_of(code_page.text)})
        assert response.status_code == expected


def test_unknown_email_and_wrong_password_read_the_same(instance: Instance, people: dict[str, Person]) -> None:
    client = client_for(instance)
    texts = []
    for email in ("nobody@example.com", "viewer@example.com"):
        page = client.get("/login")
        response = client.post("/login", data={"email": email, "password": "not the password", "csrf_token": csrf_of(page.text)})
        assert response.status_code == 401
        texts.append(re.search(r'role="alert">([^<]*)<', response.text).group(1))  # type: ignore[union-attr]
    assert texts[0] == texts[1]


NEXT_TARGETS = [("/ledger", "/ledger"), ("//evil.example", "/"), ("https://evil.example/", "/"), ("/\\evil", "/")]


def test_next_after_sign_in_stays_on_this_site(instance: Instance, people: dict[str, Person]) -> None:
    for target, expected in NEXT_TARGETS:
        _sign_in_with_next(instance, people["viewer"], target, expected)


def _sign_in_with_next(instance: Instance, viewer: Person, target: str, expected: str) -> None:
    client = client_for(instance)
    page = client.get("/login")
    client.post("/login", data={"email": viewer.email, "password": PASSWORD, "csrf_token": csrf_of(page.text), "next": target})
    code_page = client.get("/login/code")
    done = client.post("/login/code", data={"code": fresh_code(instance, viewer.secret), "csrf_token": csrf_of(code_page.text), "next": target})
    assert done.headers["location"] == expected


def test_cookies_are_httponly_strict_and_secure_over_tls(instance: Instance) -> None:
    set_up_person(instance, "tls@example.com", "viewer", client_for(instance, https=True))
    client = client_for(instance, https=True)
    response = client.get("/login")
    header = response.headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=strict" in header and "secure" in header
    plain = client_for(instance).get("/login").headers["set-cookie"].lower()
    assert "secure" not in plain


def test_pages_send_protective_headers(instance: Instance) -> None:
    response = client_for(instance).get("/login")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"


def test_setup_links_work_once_and_expire(instance: Instance) -> None:
    from tests.web_support import accounts_for

    accounts = accounts_for(instance)
    fixed_clock(instance)
    _, token = accounts.create("once@example.com", "viewer")
    client = client_for(instance)
    page = client.get(f"/setup/{token}")
    client.post(f"/setup/{token}", data={"password": PASSWORD, "password_again": PASSWORD, "csrf_token": csrf_of(page.text)})
    assert client_for(instance).get(f"/setup/{token}").status_code == 404
    _, late = accounts.create("late@example.com", "viewer")
    fixed_clock(instance).set(instance.clock.now() + timedelta(hours=73))
    assert client_for(instance).get(f"/setup/{late}").status_code == 404


def test_setup_rejects_short_or_mismatched_passwords(instance: Instance) -> None:
    from tests.web_support import accounts_for

    _, token = accounts_for(instance).create("short@example.com", "viewer")
    client = client_for(instance)
    for first, second, needle in (("short", "short", "too short"), (PASSWORD, PASSWORD + "x", "differ")):
        page = client.get(f"/setup/{token}")
        response = client.post(f"/setup/{token}", data={"password": first, "password_again": second, "csrf_token": csrf_of(page.text)})
        assert response.status_code == 400 and needle in response.text


def test_only_an_admin_decrypts_a_transcript_and_the_read_is_recorded(instance: Instance, people: dict[str, Person]) -> None:
    from assay.crypto import Keyring, TenantStore, TranscriptVault

    with AuditLog.open(instance) as log:
        keyring = Keyring.open(instance, log)
        TenantStore(instance, log, keyring).create("acme", "system")
        stored = TranscriptVault(instance, keyring, log).store("acme", "conv-1", b"the secret words")
    path = f"/transcripts/{stored.id}"
    for role in ("auditor", "compliance", "viewer"):
        person = people[role]
        assert person.client.get(path).status_code == 403
        refused = person.client.post(path, data={"reason": "curious", "csrf_token": person.csrf()})
        assert refused.status_code == 403 and "secret words" not in refused.text
    admin = people["admin"]
    no_reason = admin.client.post(path, data={"reason": " ", "csrf_token": admin.csrf()})
    assert no_reason.status_code == 400 and "secret words" not in no_reason.text
    shown = admin.client.post(path, data={"reason": "ticket 42", "csrf_token": admin.csrf()})
    assert shown.status_code == 200 and "the secret words" in shown.text
    with AuditLog.open(instance) as log:
        last = log.entry(log.size() - 1)
    assert last.event_type == "transcript.accessed" and last.actor == f"user:{admin.user_id}"


def test_trust_page_is_404_until_an_admin_publishes_it(instance: Instance, people: dict[str, Person]) -> None:
    public = client_for(instance)
    assert public.get("/trust").status_code == 404
    admin = people["admin"]
    saved = admin.client.post("/settings/trust", data={
        "csrf_token": admin.csrf(), "enabled": "on", "company": "Example Ltd",
        "category_Security": "on", "category_Privacy": "on",
        "subprocessors": "OpenAI | LLM provider | no training, 30-day retention",
    })
    assert saved.status_code == 303
    page = public.get("/trust")
    assert page.status_code == 200 and "set-cookie" not in page.headers
    assert "Example Ltd" in page.text and "30-day retention" in page.text and "Privacy" in page.text
    assert "@example.com" not in page.text
    assert people["compliance"].client.post("/settings/trust", data={"csrf_token": people["compliance"].csrf()}).status_code == 403


def test_admin_invites_someone_and_gets_a_working_link(instance: Instance, people: dict[str, Person]) -> None:
    admin = people["admin"]
    response = admin.client.post("/users", data={"email": "new@example.com", "role": "auditor", "csrf_token": admin.csrf()})
    assert response.status_code == 201
    link = re.search(r'id="setup-link">([^<]+)<', response.text).group(1)  # type: ignore[union-attr]
    path = link.split("testserver", 1)[1]
    assert client_for(instance).get(path).status_code == 200


def test_admin_cannot_demote_or_disable_themselves(instance: Instance, people: dict[str, Person]) -> None:
    admin = people["admin"]
    for change in ("role", "disable"):
        response = admin.client.post(f"/users/{admin.user_id}/{change}", data={"role": "viewer", "csrf_token": admin.csrf()})
        assert response.status_code == 400


def test_disabling_someone_ends_their_sessions(instance: Instance, people: dict[str, Person]) -> None:
    admin, viewer = people["admin"], people["viewer"]
    assert viewer.client.get("/").status_code == 200
    admin.client.post(f"/users/{viewer.user_id}/disable", data={"csrf_token": admin.csrf()})
    assert viewer.client.get("/").status_code == 303
