"""Prometheus metrics of the gateway (served at GET /metrics)."""

from __future__ import annotations

from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

__all__ = [
    "ACCESS_REFUSED",
    "BREAKER_STATE",
    "DETECTOR_FAIL_OPEN",
    "FAIL_OPEN",
    "OVERHEAD",
    "REDACTIONS",
    "REGISTRY",
    "REQUESTS",
    "UPSTREAM_FAILURES",
    "UPSTREAM_LATENCY",
    "child",
]

REGISTRY = CollectorRegistry(auto_describe=True)
_MS_BUCKETS = (0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 1000)
_S_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

REQUESTS = Counter(
    "assay_gateway_requests", "Model requests by endpoint and status.", ["endpoint", "status"], registry=REGISTRY
)
OVERHEAD = Histogram(
    "assay_gateway_overhead_ms", "Time spent in Assay per request, excluding the upstream (ms).",
    ["endpoint"], buckets=_MS_BUCKETS, registry=REGISTRY,
)
UPSTREAM_LATENCY = Histogram(
    "assay_gateway_upstream_seconds", "Upstream latency (s).", ["upstream"], buckets=_S_BUCKETS, registry=REGISTRY
)
ACCESS_REFUSED = Counter(
    "assay_api_access_refused",
    "API requests refused for the key's role or tenant (role, platform, other_tenant, no_tenant).",
    ["reason"], registry=REGISTRY,
)
REDACTIONS = Counter(
    "assay_gateway_redactions", "Redactions by PII type and direction.", ["type", "direction"], registry=REGISTRY
)
UPSTREAM_FAILURES = Counter(
    "assay_gateway_upstream_failures", "Upstream failures by reason.", ["upstream", "reason"], registry=REGISTRY
)
BREAKER_STATE = Gauge(
    "assay_gateway_breaker_state", "Circuit breaker: 0 closed, 1 half-open, 2 open.", ["upstream"], registry=REGISTRY
)
FAIL_OPEN = Counter(
    "assay_gateway_fail_open", "Requests passed without a control because the tenant policy is fail-open.",
    ["component"], registry=REGISTRY,
)
DETECTOR_FAIL_OPEN = Gauge(
    "assay_pii_detector_fail_open",
    "Times the detector failed and a fail-open policy let text through (this process).",
    registry=REGISTRY,
)

M = TypeVar("M", bound=MetricWrapperBase)
_CHILDREN: dict[tuple[int, tuple[str, ...]], MetricWrapperBase] = {}


def child(metric: M, *values: str) -> M:
    """``metric.labels(*values)``, looked up once: the label sets are few (endpoints, statuses,
    upstreams, PII types) and ``labels`` takes a lock and builds a tuple on every call."""
    key = (id(metric), values)
    found = _CHILDREN.get(key)
    if found is None:
        found = _CHILDREN[key] = metric.labels(*values)
    return found  # type: ignore[return-value]
