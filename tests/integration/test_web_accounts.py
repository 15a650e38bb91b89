"""People, setup links, TOTP and lock-out on both engines; schema matches the models."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta

import pyotp
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select
from tests.web_support import PASSWORD, accounts_for, close_apps, fixed_clock, fresh_code

from assay.errors import NotFoundError, UsageError
from assay.instance import Instance
from assay.ledger import AuditLog
from assay.store import Base
from assay.web import ensure_first_admin
from assay.web.accounts import MAX_FAILURES, SignInFailedError
from assay.web.bootstrap import FIRST_ADMIN_EMAIL
from assay.web.models import User

WEB_TABLES = {"users", "web_setup_tokens", "web_sessions", "web_settings", "web_readiness_snapshots"}


@pytest.fixture(autouse=True)
def _stop_ledger(instance: Instance) -> Iterator[None]:
    yield
    close_apps()


def _ready(instance: Instance, email: str, role: str = "viewer") -> tuple[str, str]:
    accounts = accounts_for(instance)
    user_id, token = accounts.create(email, role)
    accounts.redeem_setup(token, PASSWORD)
    secret = accounts.pending_totp_secret(user_id)
    assert accounts.confirm_totp(user_id, fresh_code(instance, secret))
    return user_id, secret


def test_schema_of_web_tables_matches_the_models(instance: Instance) -> None:
    with instance.db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    ours = [d for d in diff if _table_of(d) in WEB_TABLES]
    assert ours == []
    # The comparison does see our tables: without the migration they would be reported.
    assert _table_of(("add_table", User.__table__)) == "users"
    assert _table_of([("modify_nullable", None, "web_sessions", "stage", {}, False, True)])


def _table_of(diff: object) -> str | None:
    """The web table a diff entry (a tuple, or a list of tuples) is about, if any."""
    items = diff if isinstance(diff, list) else [diff]
    for item in items:
        for part in item:
            names = {part} if isinstance(part, str) else {
                getattr(part, "name", None), getattr(getattr(part, "table", None), "name", None)
            }
            found = names & WEB_TABLES
            if found:
                return str(found.pop())
    return None


def test_personal_data_and_secrets_are_not_stored_in_the_clear(instance: Instance) -> None:
    user_id, secret = _ready(instance, "Alice.Smith@Example.com")
    with instance.db.session() as s:
        row = s.get(User, user_id)
        assert row is not None
        stored = b"".join([row.email_enc, row.totp_secret_enc or b"", row.email_lookup.encode(),
                           (row.password_hash or "").encode()])
    assert b"alice" not in stored.lower() and secret.encode() not in stored
    assert row.password_hash is not None and row.password_hash.startswith("$argon2id$")
    # Look-up is case-insensitive, display keeps what was typed.
    assert accounts_for(instance).find("alice.smith@example.com").email == "Alice.Smith@Example.com"


def test_password_then_code_signs_in(instance: Instance) -> None:
    user_id, secret = _ready(instance, "bob@example.com")
    accounts = accounts_for(instance)
    assert accounts.check_password("bob@example.com", PASSWORD) == user_id
    accounts.check_totp(user_id, fresh_code(instance, secret))
    assert accounts.get(user_id).active


@pytest.mark.parametrize("email,role,needle", [
    ("not-an-email", "viewer", "not an e-mail"),
    ("x@example.com", "root", "unknown role"),
])
def test_bad_input_is_refused_with_a_reason(instance: Instance, email: str, role: str, needle: str) -> None:
    with pytest.raises(UsageError, match=needle):
        accounts_for(instance).create(email, role)
    assert accounts_for(instance).count() == 0


def test_duplicate_email_is_refused(instance: Instance) -> None:
    accounts = accounts_for(instance)
    accounts.create("dup@example.com", "viewer")
    with pytest.raises(UsageError, match="already exists"):
        accounts.create("DUP@example.com", "auditor")


def test_lock_out_counts_and_expires(instance: Instance) -> None:
    user_id, _secret = _ready(instance, "carol@example.com")
    accounts = accounts_for(instance)
    for _ in range(MAX_FAILURES):
        with pytest.raises(SignInFailedError):
            accounts.check_password("carol@example.com", "wrong password!")
    assert accounts.get(user_id).locked
    with pytest.raises(SignInFailedError, match="locked"):
        accounts.check_password("carol@example.com", PASSWORD)
    fixed_clock(instance).set(instance.clock.now() + timedelta(minutes=16))
    assert accounts.check_password("carol@example.com", PASSWORD) == user_id


def test_new_setup_link_invalidates_the_old_one(instance: Instance) -> None:
    accounts = accounts_for(instance)
    user_id, first = accounts.create("dan@example.com", "auditor")
    second = accounts.new_setup_link(user_id)
    assert accounts.setup_user(first) is None
    assert accounts.setup_user(second) == user_id
    with pytest.raises(NotFoundError):
        accounts.new_setup_link("nobody")


def test_totp_secret_is_fixed_once_enrolled(instance: Instance) -> None:
    user_id, _ = _ready(instance, "erin@example.com")
    with pytest.raises(UsageError):
        accounts_for(instance).pending_totp_secret(user_id)


def test_first_run_creates_one_admin_and_prints_a_24h_link(instance: Instance) -> None:
    out = io.StringIO()
    link = ensure_first_admin(instance, "http://localhost:8000", out=out)
    assert link and link.startswith("http://localhost:8000/setup/") and link in out.getvalue()
    assert "24 h" in out.getvalue()
    accounts = accounts_for(instance)
    admin = accounts.find(FIRST_ADMIN_EMAIL)
    assert admin.role == "admin" and not admin.active
    # A restart before setup replaces the link; the first one stops working.
    again = ensure_first_admin(instance, "http://localhost:8000", out=io.StringIO())
    assert again and again != link
    assert accounts.setup_user(link.rsplit("/", 1)[1]) is None
    # After 24 h the link is dead.
    fixed_clock(instance).set(instance.clock.now() + timedelta(hours=24, seconds=1))
    assert accounts.setup_user(again.rsplit("/", 1)[1]) is None
    # The creation is in the ledger, by the system, with no e-mail in it.
    with AuditLog.open(instance) as log:
        leaves = log.entry_leaves(0, log.size())
    assert any(b'"user.created"' in leaf for leaf in leaves)
    assert not any(b"admin@localhost" in leaf for leaf in leaves)


def test_first_run_does_nothing_once_someone_exists(instance: Instance) -> None:
    _ready(instance, "frank@example.com", "admin")
    assert ensure_first_admin(instance, "http://x", out=io.StringIO()) is None
    with instance.db.session() as s:
        assert len(s.scalars(select(User)).all()) == 1


def test_totp_secret_round_trips_through_an_authenticator(instance: Instance) -> None:
    accounts = accounts_for(instance)
    user_id, token = accounts.create("gina@example.com", "viewer")
    accounts.redeem_setup(token, PASSWORD)
    secret = accounts.pending_totp_secret(user_id)
    assert accounts.pending_totp_secret(user_id) == secret  # stable until confirmed
    uri = accounts.provisioning_uri(user_id, secret)
    assert pyotp.parse_uri(uri).secret == secret and "Assay" in uri


def test_doctor_says_whether_an_admin_can_sign_in(instance: Instance) -> None:
    from assay.web.health import dashboard_admins

    assert dashboard_admins(instance.settings)[0].status == "warn"
    _ready(instance, "root@example.com", "admin")
    assert dashboard_admins(instance.settings)[0].status == "ok"


def test_overview_activity_comes_from_the_ledger(instance: Instance) -> None:
    from assay.web.ledger_view import events_per_day, recent_events

    assert recent_events(instance.db) == []
    ensure_first_admin(instance, "http://x", out=io.StringIO())
    days = events_per_day(instance.db, instance.clock.now().date())
    assert len(days) == 14 and days[-1][1] == 1.0 and sum(v for _, v in days) == 1.0
    assert [e.event_type for e in recent_events(instance.db)] == ["user.created"]


def test_category_scores_and_daily_trend(instance: Instance) -> None:
    from datetime import date

    from assay.web.readiness import category_scores, record_snapshot, trend

    report = {"criteria": [
        {"category": "security", "status": "passing"},
        {"category": "security", "status": "at_risk"},
        {"category": "security", "status": "not_applicable"},
        {"category": "privacy", "status": "failing"},
    ]}
    scores = category_scores(report)
    assert scores == {"security": 75.0, "availability": None, "processing_integrity": None,
                      "confidentiality": None, "privacy": 0.0}
    today = date(2026, 3, 10)
    record_snapshot(instance, today - timedelta(days=40), 10.0, scores)
    record_snapshot(instance, today - timedelta(days=1), 40.0, scores)
    record_snapshot(instance, today, 50.0, scores)
    record_snapshot(instance, today, 55.0, scores)  # the last of the day wins
    assert trend(instance, today) == [("2026-03-09", 40.0), ("2026-03-10", 55.0)]
