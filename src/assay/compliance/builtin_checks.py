"""Assay's own automated checks, reading the ledger, key store and gateway tables.

Each check is one small function. They read other areas' tables with plain
aggregate SQL (so they stay fast on millions of rows) and declare the tables
they need, so a missing area yields ``not_applicable`` instead of an error.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from assay.clock import format_rfc3339
from assay.compliance import _ledger
from assay.compliance._timeutil import aware
from assay.compliance.checks import CheckContext, CheckResult, CheckSpec, check, hookimpl
from assay.compliance.inventory import configured_upstreams, inventory_path, load_inventory

__all__ = ["BUILTIN_CHECKS", "assay_compliance_checks"]

PERSONAL_TYPES = frozenset(
    {"email", "phone", "ssn", "credit_card", "iban", "name", "address", "person", "ip_address"}
)
_LIST_LIMIT = 20


def _pass(summary: str, evidence: dict[str, Any]) -> CheckResult:
    return CheckResult("pass", summary, evidence)


def _fail(summary: str, evidence: dict[str, Any], remediation: str) -> CheckResult:
    return CheckResult("fail", summary, evidence, remediation)


@check(
    "ledger.integrity",
    title="Ledger verifies and its checkpoint is fresh",
    controls=["AS-COM-04", "AS-PI-05", "AS-AI-13"],
    requires=["ledger_entries", "ledger_checkpoints"],
)
def ledger_integrity(ctx: CheckContext) -> CheckResult:
    report = _ledger.verify_stored_ledger(ctx.instance)
    max_age = ctx.instance.settings.compliance.checkpoint_max_age_s
    evidence: dict[str, Any] = dict(report.evidence)
    if not report.ok:
        return _fail(
            f"the ledger does not verify: {report.problem}",
            evidence,
            "Treat the ledger as tampered with; run `assay ledger verify` and investigate.",
        )
    if report.checkpoint_time is None:
        if report.size == 0:
            return _pass("the ledger is empty", evidence)
        return _fail("no signed checkpoint covers the ledger", evidence, "Run `assay ledger checkpoint`.")
    age = (ctx.now - report.checkpoint_time).total_seconds()
    evidence["checkpoint_age_s"] = int(age)
    evidence["max_age_s"] = int(max_age)
    if report.unanchored > 0 and age > max_age:
        return _fail(
            f"{report.unanchored} entries are not covered by a checkpoint and the latest is "
            f"{int(age)} s old (limit {int(max_age)} s)",
            evidence,
            "Check that `assay serve` (the checkpoint writer) is running.",
        )
    return _pass(f"{report.size} entries verify; checkpoint is current", evidence)


def _transcript_ref_sql(ctx: CheckContext) -> str:
    if ctx.instance.db.is_postgres:
        return "(convert_from(leaf, 'UTF8')::jsonb #>> '{object_ids,transcript_id}')"
    return "json_extract(CAST(leaf AS TEXT), '$.object_ids.transcript_id')"


@check(
    "gateway.request_reconciliation",
    title="Every gateway request has its ledger record",
    controls=["AS-PI-03", "AS-COM-04"],
    requires=["ledger_entries", "crypto_transcripts"],
)
def request_reconciliation(ctx: CheckContext) -> CheckResult:
    ref = _transcript_ref_sql(ctx)
    window_start = ctx.now - timedelta(days=1)
    recorded = (
        "SELECT " + ref + " AS ref FROM ledger_entries "  # noqa: S608 - constant SQL fragments, values are bound
        "WHERE event_type = 'gateway.request' AND event_time >= :early"
    )
    query = (
        "SELECT COUNT(*) FROM crypto_transcripts t WHERE t.created_at >= :start "  # noqa: S608 - constant SQL fragments, values are bound
        "AND t.created_at <= :now AND t.id NOT IN (SELECT ref FROM (" + recorded + ") r "
        "WHERE ref IS NOT NULL)"
    )
    params = {"start": window_start, "now": ctx.now, "early": window_start - timedelta(hours=1)}
    missing = int(ctx.scalar(query, **params) or 0)
    stored = int(
        ctx.scalar(
            "SELECT COUNT(*) FROM crypto_transcripts WHERE created_at >= :start AND created_at <= :now",
            start=window_start, now=ctx.now,
        ) or 0
    )
    requests = int(
        ctx.scalar(
            "SELECT COUNT(*) FROM ledger_entries WHERE event_type = 'gateway.request' "
            "AND event_time >= :start AND event_time <= :now",
            start=window_start, now=ctx.now,
        ) or 0
    )
    evidence = {
        "window": [format_rfc3339(window_start), format_rfc3339(ctx.now)],
        "transcripts_stored": stored,
        "gateway_request_records": requests,
        "transcripts_without_record": missing,
        "query": query,
    }
    if missing:
        return _fail(
            f"{missing} of {stored} transcripts stored in the last day have no gateway.request record",
            evidence,
            "Find the requests served without an audit record (fail-open bypasses?) and explain them.",
        )
    return _pass(f"{stored} transcripts and {requests} request records reconcile", evidence)


def _magic_sql(ctx: CheckContext) -> str:
    if ctx.instance.db.is_postgres:
        return "substring(ciphertext from 1 for 2) <> :magic"
    return "substr(ciphertext, 1, 2) <> :magic"


@check(
    "transcripts.encrypted",
    title="Stored transcripts are all encrypted",
    controls=["AS-CNF-02", "AS-PI-05"],
    requires=["crypto_transcripts"],
)
def transcripts_encrypted(ctx: CheckContext) -> CheckResult:
    total = int(ctx.scalar("SELECT COUNT(*) FROM crypto_transcripts") or 0)
    query = (
        "SELECT COUNT(*) FROM crypto_transcripts WHERE ciphertext IS NULL "  # noqa: S608 - constant SQL fragments, values are bound
        "OR length(ciphertext) < :min_size OR " + _magic_sql(ctx) + " "
        "OR ciphertext_sha256 IS NULL OR length(ciphertext_sha256) <> 64"
    )
    bad = int(ctx.scalar(query, min_size=52, magic=b"AE") or 0)
    evidence = {"transcripts": total, "not_enveloped": bad, "query": query}
    if total == 0:
        return CheckResult("not_applicable", "no transcripts are stored", evidence)
    if bad:
        return _fail(
            f"{bad} of {total} transcripts are not stored as encryption envelopes",
            evidence,
            "Re-encrypt or delete those rows; find how they were written outside the vault.",
        )
    return _pass(f"all {total} transcripts are encrypted envelopes", evidence)


@check(
    "keys.rotation_age",
    title="Key versions are younger than the rotation policy",
    controls=["AS-ACC-09"],
    requires=["crypto_keks"],
)
def key_rotation_age(ctx: CheckContext) -> CheckResult:
    days = ctx.instance.settings.compliance.key_rotation_days
    cutoff = ctx.now - timedelta(days=days)
    stale = ctx.rows(
        "SELECT tenant, version, created_at FROM crypto_keks WHERE state = 'primary' "
        "AND created_at < :cutoff ORDER BY created_at",
        cutoff=cutoff,
    )
    total = int(ctx.scalar("SELECT COUNT(*) FROM crypto_keks WHERE state = 'primary'") or 0)
    evidence = {
        "primary_key_versions": total,
        "rotation_days": days,
        "older_than_policy": [
            {"tenant": r["tenant"], "version": r["version"]} for r in stale[:_LIST_LIMIT]
        ],
    }
    if total == 0:
        return CheckResult("not_applicable", "no tenant keys exist yet", evidence)
    if stale:
        return _fail(
            f"{len(stale)} primary key versions are older than {days} days",
            evidence,
            "Rotate them with `assay keys rotate --tenant NAME`.",
        )
    return _pass(f"all {total} primary key versions are younger than {days} days", evidence)


@check(
    "apikeys.expiry_and_use",
    title="API keys expire and are in use",
    controls=["AS-ACC-01"],
    requires=["api_keys"],
)
def api_key_hygiene(ctx: CheckContext) -> CheckResult:
    unused_days = ctx.instance.settings.compliance.api_key_unused_days
    idle_cutoff = ctx.now - timedelta(days=unused_days)
    active = "revoked_at IS NULL AND (expires_at IS NULL OR expires_at > :now)"
    no_expiry = ctx.rows(
        f"SELECT id, tenant, role FROM api_keys WHERE {active} AND expires_at IS NULL", now=ctx.now  # noqa: S608 - constant SQL fragments, values are bound
    )
    idle = ctx.rows(
        f"SELECT id, tenant, role FROM api_keys WHERE {active} AND "  # noqa: S608 - constant SQL fragments, values are bound
        "COALESCE(last_used_at, created_at) < :idle",
        now=ctx.now, idle=idle_cutoff,
    )
    total = int(ctx.scalar(f"SELECT COUNT(*) FROM api_keys WHERE {active}", now=ctx.now) or 0)  # noqa: S608 - constant SQL fragments, values are bound
    evidence = {
        "active_keys": total,
        "without_expiry": [r["id"] for r in no_expiry[:_LIST_LIMIT]],
        "without_expiry_count": len(no_expiry),
        "unused_days": unused_days,
        "unused": [r["id"] for r in idle[:_LIST_LIMIT]],
        "unused_count": len(idle),
    }
    if total == 0:
        return CheckResult("not_applicable", "no active API keys", evidence)
    if no_expiry or idle:
        return _fail(
            f"{len(no_expiry)} active keys never expire and {len(idle)} were unused for "
            f"{unused_days} days",
            evidence,
            "Revoke unused keys and reissue the others with --expires.",
        )
    return _pass(f"all {total} active keys expire and were used recently", evidence)


@check(
    "apikeys.admin",
    title="Admin keys are few and young",
    controls=["AS-ACC-05"],
    requires=["api_keys"],
)
def admin_keys(ctx: CheckContext) -> CheckResult:
    limits = ctx.instance.settings.compliance
    rows = ctx.rows(
        "SELECT id, created_at FROM api_keys WHERE role = 'admin' AND revoked_at IS NULL "
        "AND (expires_at IS NULL OR expires_at > :now) ORDER BY created_at",
        now=ctx.now,
    )
    cutoff = ctx.now - timedelta(days=limits.admin_key_max_age_days)
    old = [r["id"] for r in rows if aware(r["created_at"]) < cutoff]
    evidence = {
        "active_admin_keys": len(rows),
        "max_admin_keys": limits.admin_keys_max,
        "max_age_days": limits.admin_key_max_age_days,
        "older_than_limit": old[:_LIST_LIMIT],
    }
    if len(rows) > limits.admin_keys_max or old:
        return _fail(
            f"{len(rows)} active admin keys (limit {limits.admin_keys_max}), {len(old)} older "
            f"than {limits.admin_key_max_age_days} days",
            evidence,
            "Revoke admin keys that are not needed and rotate old ones.",
        )
    return _pass(f"{len(rows)} active admin keys, none too old", evidence)


@check(
    "retention.enforced",
    title="Retention ran and nothing is past its deadline",
    controls=["AS-CNF-04", "AS-AI-13"],
    requires=["ledger_entries", "crypto_transcripts"],
)
def retention_enforced(ctx: CheckContext) -> CheckResult:
    interval = ctx.instance.settings.retention_interval_s
    grace = timedelta(seconds=max(2 * interval, 3600))
    overdue = int(
        ctx.scalar(
            "SELECT COUNT(*) FROM crypto_transcripts WHERE retention_deadline < :limit",
            limit=ctx.now - grace,
        ) or 0
    )
    last_run = aware(
        ctx.scalar(
            "SELECT MAX(event_time) FROM ledger_entries "
            "WHERE event_type IN ('retention.run', 'retention.deleted')"
        )
    )
    stored = int(ctx.scalar("SELECT COUNT(*) FROM crypto_transcripts") or 0)
    evidence = {
        "overdue_transcripts": overdue,
        "last_retention_event": format_rfc3339(last_run) if last_run else None,
        "grace_s": int(grace.total_seconds()),
        "transcripts": stored,
    }
    if overdue:
        # Anything past its deadline by more than two runs means the job is not doing its work.
        return _fail(
            f"{overdue} transcripts are past their retention deadline",
            evidence,
            "Run `assay retention run` and check that `assay serve` runs it periodically.",
        )
    return _pass("no transcript is past its retention deadline", evidence)


def _redaction_on(policy: dict[str, Any]) -> bool:
    inbound = policy.get("inbound")
    if not isinstance(inbound, dict):
        return True  # the gateway's default policy redacts personal data
    return any(k in PERSONAL_TYPES and v != "allow" for k, v in inbound.items())


@check(
    "redaction.personal_data",
    title="Redaction is on for tenants handling personal data",
    controls=["AS-PRV-03", "AS-AI-03"],
    requires=["tenant_policies"],
)
def redaction_for_personal_data(ctx: CheckContext) -> CheckResult:
    rows = ctx.rows(
        "SELECT p.tenant, p.version, p.body FROM tenant_policies p JOIN "
        "(SELECT tenant, MAX(version) AS v FROM tenant_policies GROUP BY tenant) m "
        "ON p.tenant = m.tenant AND p.version = m.v ORDER BY p.tenant"
    )
    handling, offending = 0, []
    for row in rows:
        policy = json.loads(row["body"])
        if not policy.get("handles_personal_data", True):
            continue
        handling += 1
        if not _redaction_on(policy):
            offending.append({"tenant": row["tenant"], "policy_version": row["version"]})
    evidence = {"tenants": len(rows), "handling_personal_data": handling, "without_redaction": offending}
    if handling == 0:
        return CheckResult("not_applicable", "no tenant policy declares personal data", evidence)
    if offending:
        return _fail(
            f"{len(offending)} tenants handling personal data have redaction off",
            evidence,
            "Set inbound actions for personal data types in their policy, or declare "
            "handles_personal_data: false if they truly handle none.",
        )
    return _pass(f"redaction is on for all {handling} tenants handling personal data", evidence)


@check(
    "providers.inventoried",
    title="Upstream providers are inventoried with training and retention terms",
    controls=["AS-AI-01", "AS-AI-02"],
)
def providers_inventoried(ctx: CheckContext) -> CheckResult:
    settings = ctx.instance.settings
    upstreams = configured_upstreams(settings)
    inventory = load_inventory(settings)
    listed = inventory.by_name() if inventory else {}
    missing = [u for u in upstreams if u not in listed]
    no_terms = [
        u for u in upstreams
        if u in listed and (listed[u].trains_on_customer_data is None or listed[u].retention_days is None)
    ]
    training = [u for u in upstreams if u in listed and listed[u].trains_on_customer_data]
    evidence = {
        "inventory": str(inventory_path(settings)),
        "configured_upstreams": upstreams,
        "not_inventoried": missing,
        "terms_missing": no_terms,
        "trains_on_customer_data": training,
    }
    if not upstreams:
        return CheckResult("not_applicable", "no upstream providers are configured", evidence)
    if missing or no_terms or training:
        return _fail(
            f"{len(missing)} providers not inventoried, {len(no_terms)} without terms, "
            f"{len(training)} allowed to train on customer data",
            evidence,
            f"Record each upstream in {inventory_path(settings)} with trains_on_customer_data "
            "and retention_days, and use only no-training terms.",
        )
    return _pass(f"all {len(upstreams)} providers are inventoried with no-training terms", evidence)


@check(
    "policy.changes_attributed",
    title="Every policy change has an actor",
    controls=["AS-CHG-04", "AS-ACC-10"],
    requires=["tenant_policies"],
)
def policy_changes_attributed(ctx: CheckContext) -> CheckResult:
    blank = "(actor IS NULL OR TRIM(actor) = '' OR actor IN ('unknown', 'anonymous'))"
    versions = int(ctx.scalar("SELECT COUNT(*) FROM tenant_policies") or 0)
    unattributed = ctx.rows(
        f"SELECT tenant, version FROM tenant_policies WHERE {blank} ORDER BY tenant, version"  # noqa: S608 - constant SQL fragments, values are bound
    )
    ledger_blank = 0
    if ctx.has_table("ledger_entries"):
        ledger_blank = int(
            ctx.scalar(f"SELECT COUNT(*) FROM ledger_entries WHERE event_type = 'policy.changed' AND {blank}")  # noqa: S608 - constant SQL fragments, values are bound
            or 0
        )
    evidence = {
        "policy_versions": versions,
        "versions_without_actor": [
            {"tenant": r["tenant"], "version": r["version"]} for r in unattributed[:_LIST_LIMIT]
        ],
        "ledger_events_without_actor": ledger_blank,
    }
    if versions == 0:
        return CheckResult("not_applicable", "no tenant policy has been set", evidence)
    if unattributed or ledger_blank:
        return _fail(
            f"{len(unattributed) + ledger_blank} policy changes do not name who made them",
            evidence,
            "Change policies only through `assay policy set` or the admin API with a personal key.",
        )
    return _pass(f"all {versions} policy versions name their actor", evidence)


@check(
    "monitoring.checks_current",
    title="Every automated check ran in the last two days",
    controls=["AS-MON-01"],
    requires=["check_results"],
)
def checks_current(ctx: CheckContext) -> CheckResult:
    from assay.compliance.checks import check_registry

    since = ctx.now - timedelta(days=2)
    recent = {
        r["check_id"]
        for r in ctx.rows("SELECT DISTINCT check_id FROM check_results WHERE ran_at >= :since", since=since)
    }
    expected = sorted(c for c in check_registry() if c != "monitoring.checks_current")
    evidence = {"since": format_rfc3339(since), "checks": len(expected), "ran": len(recent)}
    if not recent:
        return CheckResult("not_applicable", "no check has run before; this run starts the history", evidence)
    stale = [c for c in expected if c not in recent]
    evidence["not_run"] = stale
    if stale:
        return _fail(
            f"{len(stale)} checks did not run in the last two days",
            evidence,
            "Schedule `assay checks run` (cron or the server's scheduler) at least daily.",
        )
    return _pass(f"all {len(expected)} checks ran in the last two days", evidence)


BUILTIN_CHECKS: tuple[CheckSpec, ...] = (
    ledger_integrity,
    request_reconciliation,
    transcripts_encrypted,
    key_rotation_age,
    api_key_hygiene,
    admin_keys,
    retention_enforced,
    redaction_for_personal_data,
    providers_inventoried,
    policy_changes_attributed,
    checks_current,
)


@hookimpl
def assay_compliance_checks() -> list[CheckSpec]:
    return list(BUILTIN_CHECKS)
