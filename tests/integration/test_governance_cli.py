"""`assay models|routes|changes|eval|requests` through the real entry point, on both engines."""

from __future__ import annotations

import json
from pathlib import Path

from tests.governance_helpers import (
    DATASET,
    capitals_answer,
    ledger_events,
    ledger_types,
    local_upstream,
    register_person,
    totp_code,
)
from tests.helpers import CliResult, run_cli

from assay.config import Settings
from assay.instance import Instance


def _cli(settings: Settings, *args: str, input: str | None = None) -> CliResult:
    env = {"ASSAY_DATABASE_URL": settings.sqlalchemy_url}
    return run_cli(*args, "--data-dir", str(settings.data_dir), env=env, input=input)


def _ok(result: CliResult) -> CliResult:
    assert result.exit_code == 0, result.stdout + result.stderr
    return result


def _register(settings: Settings, tmp_path: Path, model: str) -> None:
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("You are a support assistant.")
    _ok(_cli(settings, "models", "register", "--provider", "testco", "--upstream", "test",
             "--model", model, "--snapshot", "2026-01-01", "--intended-use", "support answers",
             "--risk", "medium", "--owner", "ml-team", "--param", "temperature=0.2",
             "--system-prompt-file", str(prompt), "--prompt-name", "support",
             "--training-opt-out", "--retention-days", "0", "--region", "eu",
             "--actor", "alice"))


def _golden_and_model(settings: Settings, tmp_path: Path) -> Path:
    """The golden dataset on disk, and model chat-1 registered to evaluate against it."""
    dataset = tmp_path / "golden.jsonl"
    dataset.write_bytes(DATASET)
    _register(settings, tmp_path, "chat-1")
    return dataset


def _last_change(settings: Settings) -> str:
    changes = json.loads(_ok(_cli(settings, "changes", "list", "--json")).stdout)
    return str(changes[-1]["id"])


def test_change_flow_through_the_cli(instance: Instance, settings: Settings, tmp_path: Path) -> None:
    dataset = tmp_path / "golden.jsonl"
    dataset.write_bytes(DATASET)
    _register(settings, tmp_path, "chat-1")
    _register(settings, tmp_path, "chat-2")
    models = json.loads(_ok(_cli(settings, "models", "list", "--json")).stdout)
    assert [m["id"] for m in models] == ["testco/chat-1@2026-01-01", "testco/chat-2@2026-01-01"]
    shown = _ok(_cli(settings, "models", "show", "testco/chat-1@2026-01-01", "--prompt")).stdout
    assert "support@v1" in shown and "You are a support assistant." in shown

    _alice, alice_secret = register_person(instance, "alice@example.com")
    bob, bob_secret = register_person(instance, "bob@example.com")
    _ok(_cli(settings, "changes", "propose", "--route", "support", "--model",
             "testco/chat-1@2026-01-01", "--reason", "launch", "--min-pass-rate", "75",
             "--user", "alice@example.com", "--totp", totp_code(alice_secret)))
    change = _last_change(settings)
    with local_upstream(capitals_answer({"chat-1": {"Spain"}, "chat-2": {"Spain", "Italy"}})) as (
        url, _log
    ):
        evaluated = _ok(_cli(settings, "changes", "evaluate", change, "--dataset", str(dataset),
                             "--upstream-url", url, "--actor", "alice"))
        assert "3/4 passed" in evaluated.stdout and ": evaluated" in evaluated.stdout
        self_approval = _cli(settings, "changes", "approve", change, "--user",
                             "alice@example.com", "--totp", totp_code(alice_secret, 1))
        assert self_approval.exit_code == 1
        assert "cannot approve" in self_approval.stderr
        assert "Separation of duties" in self_approval.stderr
        refused = _cli(settings, "changes", "activate", change, "--actor", "alice")
        assert refused.exit_code == 1 and "only an approved change" in refused.stderr
        _ok(_cli(settings, "changes", "approve", change, "--user", "bob@example.com",
                 "--totp", totp_code(bob_secret)))
        _ok(_cli(settings, "changes", "activate", change, "--actor", "alice"))
        run = _cli(settings, "eval", "run", "--route", "support", "--candidate",
                   "testco/chat-2@2026-01-01", "--dataset", str(dataset), "--upstream-url", url,
                   "--json")
    assert run.exit_code == 1  # 50 % is below the route's 75 %
    report = json.loads(run.stdout)
    assert (report["pass_rate_bp"], report["baseline_pass_rate_bp"]) == (5000, 7500)
    assert [c["passed"] for c in report["cases"]] == [True, True, False, False]
    assert "support" in _ok(_cli(settings, "routes", "list")).stdout
    assert "Route support (live: version 1)" in _ok(_cli(settings, "routes", "show", "support")).stdout
    types = ledger_types(instance)
    assert types.count("route.activated") == 1 and types.count("change.approved") == 1
    from datetime import timedelta

    from assay.governance.checks import check_route_changes_approved

    now = instance.clock.now()
    finding = check_route_changes_approved(instance, now - timedelta(days=1), now + timedelta(days=1))
    assert [i["approved_by"] for i in finding.population] == ["person"]
    approved = next(e for e in ledger_events(instance) if e["type"] == "change.approved")
    assert approved["actor"] == f"user:{bob}"
    assert approved["attributes"]["actor_verified_by"] == "totp"


def test_cli_emergency_rollback_and_errors(instance: Instance, settings: Settings,
                                          tmp_path: Path) -> None:
    _register(settings, tmp_path, "chat-1")
    _register(settings, tmp_path, "chat-2")
    for model in ("chat-1", "chat-2"):
        _ok(_cli(settings, "changes", "propose", "--route", "support", "--model",
                 f"testco/chat-{model[-1]}@2026-01-01", "--reason", "outage", "--emergency",
                 "--actor", "alice"))
        _ok(_cli(settings, "changes", "activate", _last_change(settings), "--actor", "alice"))
    pending = json.loads(_ok(_cli(settings, "changes", "list", "--state",
                                  "awaiting-post-approval", "--json")).stdout)
    assert len(pending) == 2
    latest = _last_change(settings)
    rolled = _ok(_cli(settings, "changes", "rollback", latest, "--reason", "bad answers",
                      "--actor", "bob"))
    assert "back on testco/chat-1@2026-01-01 (route version 3)" in " ".join(rolled.stdout.split())
    bob, bob_secret = register_person(instance, "bob@example.com", "compliance")
    _ok(_cli(settings, "changes", "approve", latest, "--user", "bob@example.com",
             input=totp_code(bob_secret) + "\n"))
    shown = json.loads(_ok(_cli(settings, "changes", "show", latest, "--json")).stdout)
    assert [s["step"] for s in shown["steps"]] == [
        "proposed", "activated", "rolled_back", "post_approved"]
    assert all(isinstance(s["ledger_index"], int) for s in shown["steps"])
    assert shown["state"] == "rolled_back" and shown["approver"] == f"user:{bob}"
    missing = _cli(settings, "requests", "explain", "req-nope", "--actor", "carol")
    assert missing.exit_code == 1 and "no decision record" in missing.stderr
    bad = _cli(settings, "changes", "propose", "--route", "support", "--model", "nope",
               "--reason", "x")
    assert bad.exit_code == 1 and "assay models register" in bad.stderr
    both = _cli(settings, "changes", "evaluate", latest)
    assert both.exit_code == 2 and "exactly one of --dataset and --evaluation" in both.stderr
    bad_rate = _cli(settings, "changes", "propose", "--route", "support", "--model",
                    "testco/chat-1@2026-01-01", "--reason", "x", "--min-pass-rate", "150")
    assert bad_rate.exit_code == 2 and "between 0 and 100" in bad_rate.stderr


def test_cli_evaluation_records_its_requests_under_the_tenant(
    instance: Instance, settings: Settings, tmp_path: Path
) -> None:
    dataset = _golden_and_model(settings, tmp_path)
    with local_upstream(capitals_answer({"chat-1": {"Spain"}})) as (url, log):
        run = _cli(settings, "eval", "run", "--route", "support", "--candidate",
                   "testco/chat-1@2026-01-01", "--dataset", str(dataset), "--upstream-url", url,
                   "--tenant", "acme", "--min-pass-rate", "70", "--json")
        bad = _cli(settings, "eval", "run", "--route", "support", "--candidate",
                   "testco/chat-1@2026-01-01", "--dataset", str(dataset), "--tenant", "Bad Name")
    assert run.exit_code == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["pass_rate_bp"] == 7500
    assert len(log.requests) == 4
    requests = [e for e in ledger_events(instance) if e["type"] == "gateway.request"]
    assert {(e["tenant"], e["attributes"]["evaluation"]) for e in requests} == {
        ("acme", report["id"])}
    assert bad.exit_code == 2 and "tenant name" in bad.stderr


def test_cli_scheduled_evaluation_runs_under_its_tenant(
    instance: Instance, settings: Settings, tmp_path: Path
) -> None:
    from datetime import timedelta

    from assay.governance.models import EvalScheduleRow

    dataset = _golden_and_model(settings, tmp_path)
    _ok(_cli(settings, "changes", "propose", "--route", "support", "--model",
             "testco/chat-1@2026-01-01", "--reason", "start", "--emergency", "--actor", "alice"))
    _ok(_cli(settings, "changes", "activate", _last_change(settings), "--actor", "alice"))
    bad = _cli(settings, "eval", "schedule", "--route", "support", "--dataset", str(dataset),
               "--every", "3600", "--tenant", "Bad Name")
    assert bad.exit_code == 2 and "tenant name" in bad.stderr
    scheduled = _ok(_cli(settings, "eval", "schedule", "--route", "support", "--dataset",
                         str(dataset), "--every", "3600", "--tenant", "acme", "--actor", "alice"))
    assert "under tenant acme's policy" in " ".join(scheduled.stdout.split())
    with instance.db.session() as session:  # due now, as if an hour had passed
        schedule = session.get(EvalScheduleRow, "support")
        assert schedule is not None and schedule.tenant == "acme"
        schedule.next_run_at = instance.clock.now() - timedelta(minutes=1)
    with local_upstream(capitals_answer({"chat-1": {"Spain"}})) as (url, log):
        due = _cli(settings, "eval", "run-due", "--upstream-url", url, "--tenant", "other")
    assert due.exit_code in (0, 1), due.stderr
    assert len(log.requests) == 4
    requests = [e for e in ledger_events(instance) if e["type"] == "gateway.request"]
    assert {e["tenant"] for e in requests} == {"acme"}
