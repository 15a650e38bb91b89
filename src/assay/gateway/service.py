"""The per-request pipeline of the gateway.

auth -> parse -> route -> limits -> policy -> inbound redaction -> upstream ->
outbound redaction -> encrypted transcript -> durable ledger record -> answer.

Every control that is unavailable raises before the upstream is called, so a
fail-closed request never leaves Assay. Fail-open (a tenant policy setting)
lets a request through without that control and counts the bypass.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from assay.errors import AssayError, AuthError, UsageError
from assay.gateway import metrics
from assay.gateway._audit import EventSink, ledger_sink
from assay.gateway._controls import Redaction, RequestRedactor, SealedRecord, StoredRecord, Vault
from assay.gateway._runtime import new_request_id as _new_request_id
from assay.gateway._walk import as_document, walk_strings, without_logprobs
from assay.gateway.keys import ApiKey, ApiKeyStore
from assay.gateway.limits import Limit, RateLimiter
from assay.gateway.policy import PolicyStore, StoredPolicy
from assay.gateway.routing import ModelNotFoundError, ResolvedRoute, RouteResolver
from assay.gateway.upstream import UpstreamPool
from assay.instance import Instance
from assay.logs import get_logger

__all__ = ["ForbiddenError", "Gateway", "GovernanceHooks", "RequestContext"]

_log = get_logger("assay.gateway")
MODEL_ROLES = frozenset({"app", "admin"})
#: A ledger commit waits for requests at upstreams whose average answer takes at most this many
#: commit delays (ADR 0080): measured at concurrency 16, waiting paid up to about 4 ms with the
#: default 1 ms delay and cost beyond. Model APIs answer in hundreds of milliseconds.
SIBLING_UPSTREAM_DELAYS = 4
_AVERAGE_WEIGHT = 0.1  # of the newest sample in the moving average of upstream answers


class ForbiddenError(AuthError):
    status = 403
    title = "ForbiddenError"
    default_hint = "Use a key with the app role for model requests."


@dataclass(eq=False)  # one object per request, compared and hashed by identity
class RequestContext:
    """What one request accumulates on its way through the pipeline."""

    request_id: str
    endpoint: str
    started: float
    key: ApiKey
    route: ResolvedRoute
    policy: StoredPolicy
    payload: dict[str, Any]
    redactor: RequestRedactor | None = None
    upstream_s: float = 0.0
    answered_by: str | None = None
    provider_model: str | None = None
    usage: dict[str, int] = field(default_factory=dict)
    fail_open: list[str] = field(default_factory=list)
    status: int = 200
    tenant_rpm: int | None = None
    tenant_tpm: int | None = None
    extra_attributes: dict[str, object] = field(default_factory=dict)
    withheld: AssayError | None = None  # the answer failed an output check that blocks it
    usage_asked_by_gateway: bool = False  # stream_options.include_usage added for the record only
    ledger_index: int | None = None  # a relayed stream's record, once it is durable
    record_due: bool = False  # at a plain upstream call, its ledger record not yet queued

    @property
    def fail_open_allowed(self) -> bool:
        return self.policy.policy.on_failure == "open"

    def overhead_ms(self) -> float:
        return max(0.0, (time.perf_counter() - self.started - self.upstream_s) * 1000)

    def limits(self) -> list[Limit]:
        return [
            Limit(f"key:{self.key.id}", self.key.rpm_limit, self.key.tpm_limit),
            Limit(f"tenant:{self.key.tenant}", self.tenant_rpm, self.tenant_tpm),
        ]


class GovernanceHooks(Protocol):
    """Installed by the governance wiring: output validation and decision records."""

    def check_output(self, ctx: RequestContext, document: dict[str, Any]) -> AssayError | None:
        """Validate an upstream answer; an error withholds it (set ``ctx.status``)."""
        ...

    def holds_stream(self, ctx: RequestContext) -> bool:
        """True when a streamed answer must be complete and checked before any of it is sent."""
        ...

    def before_record(self, ctx: RequestContext) -> None:
        """Add attributes to ``ctx.extra_attributes`` for the request's ledger event."""
        ...

    def companions(self, ctx: RequestContext) -> list[tuple[Any, dict[str, Any]]]:
        """Rows to store in the transaction of the request's ledger event (durable with it)."""
        ...

    def after_record(self, ctx: RequestContext, index: int | None) -> None:
        """Called once the request's ledger event is durable (``index`` None: it was bypassed)."""
        ...


class Gateway:
    """Holds the components every request needs; one per process."""

    def __init__(
        self,
        instance: Instance,
        pool: UpstreamPool,
        limiter: RateLimiter,
        resolver_of: Callable[[], RouteResolver],
        *,
        demo: bool = False,
    ) -> None:
        self.instance = instance
        self.pool = pool
        self.limiter = limiter
        self.resolver_of = resolver_of
        self.demo = demo
        self._audit: EventSink | None = None
        self.keys = ApiKeyStore(instance.db, instance.clock, redis_url=instance.settings.redis_url)
        self.policies = PolicyStore(instance.db, instance.clock)
        self.vault = Vault(instance, self._ledger_log)
        self.redaction = Redaction(self.vault.keyring, instance.settings.pii_ner)
        settings = instance.settings
        self.tenant_rpm = settings.tenant_rpm
        self.tenant_tpm = settings.tenant_tpm
        self.governance: GovernanceHooks | None = None
        # Requests begun and not yet finished. Weak, so a request that ended by an exception
        # nobody caught still leaves the set when it is collected.
        self._open: weakref.WeakSet[RequestContext] = weakref.WeakSet()
        self._background: set[asyncio.Task[None]] = set()
        self._records_due = 0
        self._upstream_avg_s: float | None = None
        self._sibling_upstream_s = SIBLING_UPSTREAM_DELAYS * settings.ledger_commit_delay_ms / 1000
        self._unhint: Callable[[], None] | None = None

    # --- components -------------------------------------------------------------------------

    def audit(self) -> EventSink:
        if self._audit is None:
            self._audit = ledger_sink(self.instance)
            self.keys = ApiKeyStore(
                self.instance.db, self.instance.clock, self._audit, redis_url=self.instance.settings.redis_url
            )
            self.policies = PolicyStore(self.instance.db, self.instance.clock, self._audit)
            add_siblings = getattr(getattr(self._audit, "log", None), "add_siblings", None)
            if add_siblings is not None:
                self._unhint = add_siblings(self.records_due)
        return self._audit

    # --- records on their way (ADR 0080) --------------------------------------------------

    def records_due(self) -> int:
        """Plain requests at an upstream that answers fast: their ledger records are due soon."""
        average = self._upstream_avg_s
        return self._records_due if average is not None and average <= self._sibling_upstream_s else 0

    def expect_record(self, ctx: RequestContext) -> None:
        """``ctx`` is about to call its upstream; its record follows the answer."""
        if not ctx.record_due:
            ctx.record_due = True
            self._records_due += 1

    def upstream_answered(self, seconds: float) -> None:
        average = self._upstream_avg_s
        self._upstream_avg_s = seconds if average is None else average + (seconds - average) * _AVERAGE_WEIGHT

    def record_queued(self, ctx: RequestContext) -> None:
        """``ctx``'s record is queued, or will never be: stop counting it as due."""
        if ctx.record_due:
            ctx.record_due = False
            self._records_due -= 1

    def forget_key(self, key_id: str) -> None:
        """Another process revoked ``key_id``: drop its cached row (``self.keys`` may be replaced)."""
        self.keys.forget(key_id)

    def _ledger_log(self) -> Any:
        sink = self.audit()
        return getattr(sink, "log", sink)

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` beside the requests (it must outlive a cancelled one); awaited at close."""
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def aclose(self) -> None:
        if self._unhint is not None:
            self._unhint()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self.pool.aclose()
        await self.limiter.aclose()
        self.vault.close()
        if self._audit is not None:
            close = getattr(self._audit, "close", None)
            if close is not None:
                close()

    # --- the steps before the upstream ------------------------------------------------------

    def authenticate(self, authorization: str | None) -> ApiKey:
        token = None
        if authorization and authorization[:7].lower() == "bearer ":
            token = authorization[7:].strip()
        key = self.keys.verify(token)
        if key.role not in MODEL_ROLES:
            raise ForbiddenError(f"keys with role {key.role!r} may not call model endpoints")
        return key

    def resolve(self, key: ApiKey, alias: object) -> ResolvedRoute:
        if not isinstance(alias, str) or not alias:
            raise UsageError("you must provide a model parameter")
        if not key.may_use(alias):
            raise ModelNotFoundError(
                f"The model `{alias}` does not exist or you do not have access to it."
            )
        return self.resolver_of().resolve(alias)

    async def begin(
        self, endpoint: str, request_id: str, started: float, key: ApiKey, payload: dict[str, Any],
        *, route: ResolvedRoute | None = None,
    ) -> RequestContext:
        """Route, policy, limits and controls. ``route`` is given only by in-process callers
        that chose the version themselves (an evaluation of a candidate): it replaces the
        alias lookup and nothing else."""
        if route is None:
            route = self.resolve(key, payload.get("model"))
        policy = self.policies.current(key.tenant)
        allowed = policy.policy.allowed_models
        if allowed is not None and route.alias not in allowed:
            raise ModelNotFoundError(
                f"The model `{route.alias}` does not exist or you do not have access to it."
            )
        ctx = RequestContext(
            request_id, endpoint, started, key, route, policy, payload,
            tenant_rpm=policy.policy.rpm_limit or self.tenant_rpm,
            tenant_tpm=policy.policy.tpm_limit or self.tenant_tpm,
        )
        await self.limiter.admit(ctx.limits())
        self._require_controls(ctx)
        self._open.add(ctx)
        return ctx

    def _require_controls(self, ctx: RequestContext) -> None:
        """Open ledger, vault and redaction now: a failure here stops the request before upstream."""
        checks: list[tuple[str, Callable[[], object]]] = [("ledger", self.audit)]
        if ctx.policy.policy.store_transcripts:
            checks.append(("vault", self.vault.ready))
        checks.append(("redaction", lambda: self._redactor(ctx)))
        for component, check in checks:
            try:
                check()
            except AssayError:
                if not ctx.fail_open_allowed:
                    raise
                self._bypass(ctx, component)

    def _redactor(self, ctx: RequestContext) -> None:
        ctx.redactor = self.redaction.for_request(ctx.key.tenant, ctx.policy.version, ctx.policy.policy)

    def _bypass(self, ctx: RequestContext, component: str) -> None:
        if component not in ctx.fail_open:
            ctx.fail_open.append(component)
            metrics.FAIL_OPEN.labels(component=component).inc()
            _log.warning("fail_open", component=component, tenant=ctx.key.tenant, request_id=ctx.request_id)

    def guarded(self, ctx: RequestContext, component: str, fn: Callable[[], Any], fallback: Any) -> Any:
        """Run a control; on failure raise (fail closed) or count the bypass and use ``fallback``."""
        try:
            return fn()
        except AssayError:
            if not ctx.fail_open_allowed:
                raise
            self._bypass(ctx, component)
            return fallback

    def redact_in(self, ctx: RequestContext, document: dict[str, Any]) -> dict[str, Any]:
        redactor = ctx.redactor
        if redactor is None:
            return document
        result = self.guarded(ctx, "redaction", lambda: walk_strings(document, redactor.inbound), document)
        return dict(result)

    def redact_out(self, ctx: RequestContext, document: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(what is stored, what the client sees) for an upstream answer."""
        redactor = ctx.redactor
        if redactor is None:
            return document, document
        before = _redacted_out(redactor.counts)
        stored = self.guarded(ctx, "redaction", lambda: walk_strings(document, redactor.outbound, top_level_skip=frozenset()), document)
        if _redacted_out(redactor.counts) > before:
            stored = without_logprobs(stored)
        # Nothing to put back unless inbound redaction issued a pseudonym for this request.
        restoring = redactor.restore and len(redactor.pseudonyms) > 0
        shown = walk_strings(stored, redactor.restored, top_level_skip=frozenset()) if restoring else stored
        return as_document(stored), as_document(shown)

    def apply_route(self, ctx: RequestContext, payload: dict[str, Any]) -> dict[str, Any]:
        """The route's enforced parameters and system prompt."""
        route = ctx.route
        out = {**payload, **dict(route.params)}
        if route.system_prompt:
            if ctx.endpoint == "chat.completions":
                out["messages"] = [{"role": "system", "content": route.system_prompt}, *out.get("messages", [])]
            elif ctx.endpoint == "responses" and not out.get("instructions"):
                out["instructions"] = route.system_prompt
        return out

    # --- the steps after the upstream -------------------------------------------------------

    def check_output(self, ctx: RequestContext, document: dict[str, Any]) -> AssayError | None:
        return self.governance.check_output(ctx, document) if self.governance else None

    def check_streamed(self, ctx: RequestContext, text: dict[str, str]) -> None:
        """Check a finished stream's answer like a plain one, every choice; sets ``ctx.withheld``."""
        choices = sorted(
            (int(channel[7:]), content)
            for channel, content in text.items()
            if channel.startswith("choice:") and channel[7:].isdigit()  # not choice:<i>:tool:<j>
        )
        if self.governance is None or not choices:
            return
        document = {
            "choices": [{"index": i, "message": {"role": "assistant", "content": content}} for i, content in choices]
        }
        ctx.withheld = self.governance.check_output(ctx, document)

    def holds_stream(self, ctx: RequestContext) -> bool:
        return self.governance.holds_stream(ctx) if self.governance else False

    async def record(self, ctx: RequestContext, transcript: dict[str, Any]) -> int | None:
        """Store the transcript and append the ledger event; return its index (None if bypassed)."""
        if self.governance is not None:
            self.governance.before_record(ctx)
        index = await self._record(ctx, transcript)
        if self.governance is not None:
            self.governance.after_record(ctx, index)
        return index

    async def _record(self, ctx: RequestContext, transcript: dict[str, Any]) -> int | None:
        """The transcript and the ledger event go into one transaction of the ledger's group
        commit: both are durable when the index comes back, or neither is."""
        if ctx.redactor is not None and ctx.redactor.failed_open:
            self._bypass(ctx, "redaction")  # the detector failed and the policy let the text pass
        sealed = self._seal(ctx, transcript)
        stored = sealed.record if sealed is not None else None
        if "ledger" not in ctx.fail_open:
            companions = [sealed.companion] if sealed is not None else []
            if self.governance is not None:
                companions += self.governance.companions(ctx)
            self.record_queued(ctx)
            try:
                return await self.audit().append(
                    "gateway.request",
                    actor=ctx.key.actor,
                    tenant=ctx.key.tenant,
                    object_ids=self._object_ids(ctx, stored),
                    attributes=self._attributes(ctx, stored),
                    companions=companions,
                    # A lone request commits on the loop, skipping two thread hand-offs (ADR 0047).
                    inline=len(self._open) <= 1,
                )
            except AssayError:
                if not ctx.fail_open_allowed:
                    raise
                self._bypass(ctx, "ledger")
        if sealed is not None:  # fail-open without the ledger: the transcript is stored alone
            await self._store_alone(ctx, sealed)
        return None

    def _seal(self, ctx: RequestContext, transcript: dict[str, Any]) -> SealedRecord | None:
        policy = ctx.policy.policy
        if not policy.store_transcripts or "vault" in ctx.fail_open:
            return None
        try:
            return self.vault.seal(ctx.key.tenant, ctx.request_id, orjson.dumps(transcript), policy.retention_days)
        except AssayError:
            if not ctx.fail_open_allowed:
                raise
            self._bypass(ctx, "vault")
            return None

    async def _store_alone(self, ctx: RequestContext, sealed: SealedRecord) -> None:
        try:
            await self.vault.insert(sealed)
        except AssayError:
            if not ctx.fail_open_allowed:
                raise
            self._bypass(ctx, "vault")

    def _object_ids(self, ctx: RequestContext, stored: StoredRecord | None) -> dict[str, str]:
        ids = {"request": ctx.request_id, "apikey": ctx.key.id}
        if stored is not None:
            ids["transcript_id"] = stored.transcript_id
        if ctx.route.model_version_id:
            ids["model_version"] = ctx.route.model_version_id
        return ids

    def _attributes(self, ctx: RequestContext, stored: StoredRecord | None) -> dict[str, object]:
        counts = ctx.redactor.counts if ctx.redactor else {}
        attrs: dict[str, object] = {
            "endpoint": ctx.endpoint,
            "model": ctx.route.alias,
            "upstream": ctx.answered_by,
            "provider_model": ctx.provider_model,
            "status": ctx.status,
            "stream": bool(ctx.payload.get("stream")),
            "usage": dict(ctx.usage),
            "latency_us": int((time.perf_counter() - ctx.started) * 1_000_000),
            "upstream_latency_us": int(ctx.upstream_s * 1_000_000),
            "redactions": dict(sorted(counts.items())),
            "policy_version": ctx.policy.version,
            "fail_open": list(ctx.fail_open),
        }
        if ctx.route.route_version is not None:
            attrs["route_version"] = ctx.route.route_version
        if ctx.route.prompt_template_version:
            attrs["prompt_template_version"] = ctx.route.prompt_template_version
        if stored is not None:
            attrs["transcript_sha256"] = stored.ciphertext_sha256
        attrs.update(ctx.extra_attributes)
        return attrs

    def finish_metrics(self, ctx: RequestContext) -> None:
        """The request is over: count it, and stop counting it as open."""
        self._open.discard(ctx)
        metrics.child(metrics.REQUESTS, ctx.endpoint, str(ctx.status)).inc()
        metrics.child(metrics.OVERHEAD, ctx.endpoint).observe(ctx.overhead_ms())
        if ctx.answered_by:
            metrics.child(metrics.UPSTREAM_LATENCY, ctx.answered_by).observe(ctx.upstream_s)
        if ctx.redactor:
            for key, n in ctx.redactor.counts.items():
                direction, _, kind = key.partition(".")
                metrics.child(metrics.REDACTIONS, kind, direction).inc(n)

    @staticmethod
    def new_request_id() -> str:
        return _new_request_id()


def _redacted_out(counts: dict[str, int]) -> int:
    """How many values were redacted on the way out so far."""
    return sum(n for key, n in counts.items() if key.startswith("out."))


def usage_of(document: dict[str, Any]) -> dict[str, int]:
    usage = document.get("usage")
    if not isinstance(usage, dict):
        return {}
    return {k: int(v) for k, v in usage.items() if isinstance(v, int) and not isinstance(v, bool)}


def total_tokens(usage: dict[str, int]) -> int:
    if "total_tokens" in usage:
        return usage["total_tokens"]
    return sum(usage.get(k, 0) for k in ("prompt_tokens", "completion_tokens", "input_tokens", "output_tokens"))
