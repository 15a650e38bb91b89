"""Gateway tables on both engines, policy defaults, and rate limits in-process and in Redis."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from sqlalchemy import inspect
from tests.governance_helpers import ledger_events
from tests.servers import RedisServer

from assay.errors import UsageError
from assay.gateway._audit import ledger_sink
from assay.gateway.limits import (
    InProcessLimiter,
    Limit,
    RateLimitedError,
    RateLimiter,
    RedisLimiter,
)
from assay.gateway.models import ApiKeyRow, TenantPolicyRow
from assay.gateway.policy import (
    DEFAULT_INBOUND,
    PolicyLooseningError,
    PolicyStore,
    StoredPolicy,
    TenantPolicy,
    default_policy,
    parse_policy,
)
from assay.instance import Instance


def _columns(instance: Instance, table: str) -> dict[str, tuple[str, bool]]:
    found = inspect(instance.db.engine).get_columns(table)
    return {c["name"]: (type(c["type"]).__name__, bool(c["nullable"])) for c in found}


@pytest.mark.parametrize("model", [ApiKeyRow, TenantPolicyRow])
def test_migration_matches_models(instance: Instance, model: type) -> None:
    table = model.__table__  # type: ignore[attr-defined]
    migrated = _columns(instance, table.name)
    assert set(migrated) == {c.name for c in table.columns}
    for column in table.columns:
        assert migrated[column.name][1] == column.nullable, column.name
    pk = inspect(instance.db.engine).get_pk_constraint(table.name)["constrained_columns"]
    assert sorted(pk) == sorted(c.name for c in table.primary_key.columns)


def test_new_tenant_gets_the_secure_default(instance: Instance) -> None:
    stored = PolicyStore(instance.db, instance.clock).current("acme")
    assert stored.version == 0
    assert stored.policy == default_policy()
    for kind in ("SECRET", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IBAN_CODE"):
        assert stored.policy.inbound[kind] != "allow"
    assert stored.policy.on_failure == "closed"
    assert stored.policy.store_transcripts


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('{"on_failure": "maybe"}', "on_failure"),
        ('{"retention_days": 0}', "retention_days"),
        ('{"inbound": {"EMAIL_ADDRESS": "shred"}}', "inbound.EMAIL_ADDRESS"),
        ('{"surprise": 1}', "surprise"),
        ('{"min_score": 1.5}', "min_score"),
        ('{"min_score": -0.1}', "min_score"),
    ],
)
def test_bad_policy_names_the_field(text: str, where: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_policy(text)
    assert where in caught.value.message


def test_policy_json_round_trips() -> None:
    policy = default_policy()
    assert parse_policy(policy.canonical_json()) == policy
    assert policy.inbound == DEFAULT_INBOUND


async def _drive(limiter: RateLimiter, limits: list[Limit], n: int) -> int:
    admitted = 0
    for _ in range(n):
        try:
            await limiter.admit(limits)
            admitted += 1
        except RateLimitedError as exc:
            assert 1 <= exc.retry_after <= 60
    return admitted


def _limiter(kind: str, redis_server: RedisServer | None) -> RateLimiter:
    return InProcessLimiter() if kind == "memory" else RedisLimiter(redis_server.url)  # type: ignore[union-attr]


@pytest.mark.parametrize("kind", ["memory", pytest.param("redis", marks=pytest.mark.redis)])
def test_request_limits_per_scope(kind: str, request: pytest.FixtureRequest) -> None:
    server = request.getfixturevalue("redis_server") if kind == "redis" else None
    limiter = _limiter(kind, server)
    scope = f"key:{request.node.name}"

    async def run() -> tuple[int, int]:
        try:
            first = await _drive(limiter, [Limit(scope, 3, None)], 5)
            other = await _drive(limiter, [Limit(scope + "-other", 3, None)], 2)
            return first, other
        finally:
            await limiter.aclose()

    assert asyncio.run(run()) == (3, 2)


@pytest.mark.parametrize("kind", ["memory", pytest.param("redis", marks=pytest.mark.redis)])
def test_token_limits_apply_after_charging(kind: str, request: pytest.FixtureRequest) -> None:
    server = request.getfixturevalue("redis_server") if kind == "redis" else None
    limiter = _limiter(kind, server)
    limits = [Limit(f"tenant:{request.node.name}", None, 100)]

    async def run() -> int:
        try:
            await limiter.admit(limits)
            await limiter.charge(limits, 150)
            return await _drive(limiter, limits, 1)
        finally:
            await limiter.aclose()

    assert asyncio.run(run()) == 0


@pytest.mark.redis
def test_redis_limits_are_shared_between_limiters(redis_server: RedisServer) -> None:
    a, b = RedisLimiter(redis_server.url), RedisLimiter(redis_server.url)
    limits = [Limit("tenant:shared-test", 4, None)]

    async def run() -> int:
        try:
            return await _drive(a, limits, 3) + await _drive(b, limits, 3)
        finally:
            await a.aclose()
            await b.aclose()

    assert asyncio.run(run()) == 4


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"retention_days": 90}, []),
        ({"on_failure": "open"}, ["on_failure"]),
        ({"min_score": 0.4}, []),  # redacts more
        ({"min_score": 0.6}, ["min_score"]),
        ({"inbound": {"SECRET": "mask"}}, ["inbound.CREDIT_CARD", "inbound.EMAIL_ADDRESS", "inbound.IBAN_CODE", "inbound.PHONE_NUMBER", "inbound.US_SSN"]),
        ({"outbound": {**dict.fromkeys(DEFAULT_INBOUND, "mask"), "US_SSN": "allow"}}, ["outbound.US_SSN"]),
    ],
)
def test_loosening_is_named(change: dict[str, object], expected: list[str]) -> None:
    from assay.gateway.policy import loosened

    after = default_policy().model_copy(update=change)
    assert loosened(default_policy(), after) == expected


@pytest.mark.parametrize(
    ("min_score", "inbound"),
    [
        (0.5, "Please see 4155552671 tomorrow."),  # ten bare digits without a context word: 0.4
        (0.4, "Please see <PHONE_NUMBER_1> tomorrow."),
        (0.5, "Please call <PHONE_NUMBER_1> tomorrow."),  # "call" raises the number to 0.7
        (0.8, "Please call 4155552671 tomorrow."),
    ],
)
def test_the_policy_score_threshold_decides_what_is_redacted(min_score: float, inbound: str) -> None:
    from assay.gateway._controls import Redaction

    policy = default_policy().model_copy(update={"min_score": min_score})
    redactor = Redaction(keyring_factory=lambda: None).for_request("acme", 1, policy)
    assert redactor.inbound(inbound.replace("<PHONE_NUMBER_1>", "4155552671")) == inbound
    assert redactor.counts == ({} if "4155552671" in inbound else {"in.PHONE_NUMBER": 1})


def _store_policy(instance: Instance, policy: TenantPolicy, *, allow_loosening: bool) -> StoredPolicy:
    async def run() -> StoredPolicy:
        sink = ledger_sink(instance)
        try:
            return await PolicyStore(instance.db, instance.clock, sink).set(
                "acme", policy, actor="cli:alice", allow_loosening=allow_loosening
            )
        finally:
            sink.close()

    return asyncio.run(run())


def test_a_loosening_is_refused_unless_confirmed_and_nothing_is_recorded(instance: Instance) -> None:
    fail_open = default_policy().model_copy(update={"on_failure": "open", "min_score": 0.7})
    with pytest.raises(PolicyLooseningError, match="loosens the policy of tenant acme: min_score, on_failure") as refused:
        _store_policy(instance, fail_open, allow_loosening=False)
    assert refused.value.loosened == ["min_score", "on_failure"] and "--loosen" in refused.value.hint
    assert PolicyStore(instance.db, instance.clock).current("acme").version == 0
    assert [e["type"] for e in ledger_events(instance)] == []

    stored = _store_policy(instance, fail_open, allow_loosening=True)
    assert stored.version == 1 and stored.loosened == ("min_score", "on_failure")
    stricter = _store_policy(instance, default_policy(), allow_loosening=False)  # tightening needs no confirmation
    assert stricter.version == 2 and stricter.loosened == ()
    changes = [e["attributes"]["loosened"] for e in ledger_events(instance) if e["type"] == "policy.changed"]
    assert changes == [["min_score", "on_failure"], []]


async def _requests_counted(limiter: RateLimiter, scope: str) -> int:
    """The requests a scope has spent in the current window, read from the limiter's store."""
    from assay.gateway.limits import _window

    window, _ = _window(time.time())
    if isinstance(limiter, InProcessLimiter):
        return limiter._counts.get((scope, window), [0, 0])[0]
    assert isinstance(limiter, RedisLimiter)
    return int(await limiter._redis.get(f"assay:rl:{scope}:{window}:req") or 0)


# Keys' rpm, the tenant's (rpm, tpm), tokens the tenant has spent, the requests (by key), what
# each got (+ admitted, k refused by its key's limit, t by the tenant's), requests counted per scope.
_BUDGET_TABLE = {
    "key A over its own limit leaves the tenant's budget to key B": (
        {"A": 2, "B": 5}, (5, None), 0, "AAAAAABBB", "++kkkk+++", {"A": 2, "B": 3, "tenant": 5},
    ),
    "tenant over its limit spends nothing of the key's": (
        {"A": 10, "B": 10}, (3, None), 0, "AABBB", "+++tt", {"A": 2, "B": 1, "tenant": 3},
    ),
    "interleaved keys": (
        {"A": 1, "B": 2}, (3, None), 0, "ABABAB", "++k+kk", {"A": 1, "B": 2, "tenant": 3},
    ),
    "tenant out of tokens counts no request anywhere": (
        {"A": 10, "B": 10}, (None, 100), 150, "AAB", "ttt", {"A": 0, "B": 0, "tenant": 0},
    ),
}


@pytest.mark.parametrize("row", list(_BUDGET_TABLE.values()), ids=list(_BUDGET_TABLE))
@pytest.mark.parametrize("kind", ["memory", pytest.param("redis", marks=pytest.mark.redis)])
def test_a_refused_request_spends_no_budget(
    kind: str, row: tuple[dict[str, int], tuple[int | None, int | None], int, str, str, dict[str, int]],
    request: pytest.FixtureRequest,
) -> None:
    key_rpm, (tenant_rpm, tenant_tpm), spent, sends, expected, counted = row
    server = request.getfixturevalue("redis_server") if kind == "redis" else None
    limiter = _limiter(kind, server)
    run_id = uuid.uuid4().hex[:8]
    tenant = Limit(f"tenant:t-{run_id}", tenant_rpm, tenant_tpm)
    keys = {name: Limit(f"key:{name}-{run_id}", rpm, None) for name, rpm in key_rpm.items()}
    if time.time() % 60 > 58:  # all of it in one one-minute window
        time.sleep(60 - time.time() % 60)

    async def run() -> tuple[str, dict[str, int]]:
        try:
            if spent:
                await limiter.charge([tenant], spent)
            got = ""
            for name in sends:
                try:
                    await limiter.admit([keys[name], tenant])
                    got += "+"
                except RateLimitedError as exc:
                    assert 1 <= exc.retry_after <= 60
                    got += "t" if tenant.scope in exc.message else "k"
            scopes = {**{n: lim.scope for n, lim in keys.items()}, "tenant": tenant.scope}
            return got, {n: await _requests_counted(limiter, s) for n, s in scopes.items()}
        finally:
            await limiter.aclose()

    assert asyncio.run(run()) == (expected, counted)
