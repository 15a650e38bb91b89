"""Gateway figures come from the gateway.request events in the ledger."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from tests.web_support import close_apps, fixed_clock, set_up_person

from assay.instance import Instance
from assay.ledger import AuditLog, Event
from assay.web.gateway_view import gateway_figures, percentile


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'data' / 'assay.db'}"


@pytest.fixture(autouse=True)
def _stop_ledger(instance: Instance) -> Iterator[None]:
    yield
    close_apps()


def _request(status: int, latency_us: int, upstream_us: int, upstream: str, redactions: dict[str, int]) -> Event:
    return Event(
        type="gateway.request", actor="apikey:k1", tenant="acme",
        object_ids={"request": "r1", "apikey": "k1"},
        attributes={"endpoint": "chat", "status": status, "latency_us": latency_us,
                    "upstream_latency_us": upstream_us, "upstream": upstream,
                    "redactions": redactions},
    )


@pytest.mark.parametrize("values,pct,expected", [
    ([], 50, None), ([5.0], 95, 5.0), ([1.0, 2.0, 3.0, 4.0], 50, 2.0), ([float(i) for i in range(1, 101)], 95, 95.0),
])
def test_percentile_is_nearest_rank(values: list[float], pct: int, expected: float | None) -> None:
    assert percentile(values, pct) == expected


def test_figures_and_page_from_ledger_events(instance: Instance) -> None:
    clock = fixed_clock(instance)
    with AuditLog.open(instance) as log:
        log.append(_request(200, 120_000, 100_000, "openai", {"request.EMAIL": 2, "request.PHONE": 1}))
        log.append(_request(200, 80_000, 78_000, "openai", {"response.EMAIL": 1}))
        log.append(_request(502, 30_000, 29_000, "azure", {}))
    figures = gateway_figures(instance.db, clock.now() + timedelta(minutes=1), ["openai", "spare"])
    assert figures.requests == 3 and figures.statuses == {"200": 2, "502": 1}
    assert dict(figures.redactions) == {"EMAIL": 3.0, "PHONE": 1.0}
    assert figures.overhead_p95_ms == 20.0 and figures.latency_p50_ms == 80.0
    health = {u.name: (u.requests, u.errors, u.health) for u in figures.upstreams}
    assert health == {"openai": (2, 0, "healthy"), "azure": (1, 1, "degraded"), "spare": (0, 0, "no traffic")}
    assert figures.per_hour[-1][1] == 3.0 and len(figures.per_hour) == 24
    # Older than 24 hours: not counted.
    later = gateway_figures(instance.db, clock.now() + timedelta(hours=25), [])
    assert later.requests == 0

    viewer = set_up_person(instance, "viewer@example.com", "viewer")
    page = viewer.client.get("/gateway")
    assert page.status_code == 200
    assert "EMAIL" in page.text and "degraded" in page.text and "Requests per hour" in page.text


def test_evaluation_requests_are_shown_apart_from_served_traffic(instance: Instance) -> None:
    clock = fixed_clock(instance)
    evaluation = _request(200, 50_000, 49_000, "openai", {})
    evaluation = evaluation.model_copy(update={"attributes": {**evaluation.attributes, "evaluation": "eval_1",
                                                              "eval_case": "c1", "eval_target": "candidate"}})
    with AuditLog.open(instance) as log:
        log.append(_request(200, 120_000, 100_000, "openai", {}))
        log.append_batch([evaluation, evaluation])
    figures = gateway_figures(instance.db, clock.now() + timedelta(minutes=1), [])
    assert (figures.requests, figures.evaluation_requests) == (1, 2)
    assert figures.per_hour[-1][1] == 1.0 and figures.latency_p50_ms == 120.0
    assert {u.name: u.requests for u in figures.upstreams} == {"openai": 1}

    viewer = set_up_person(instance, "viewer@example.com", "viewer")
    page = viewer.client.get("/gateway")
    assert "Model evaluations sent 2 more requests" in page.text


def _evaluation_request() -> Event:
    request = _request(200, 50_000, 49_000, "openai", {})
    return request.model_copy(update={"attributes": {**request.attributes, "evaluation": "eval_1"}})


@pytest.mark.parametrize(
    ("max_pages", "expected"),
    [
        (16, (3, 5, True)),  # the sample is full of served requests; the evaluations met are counted
        (2, (0, 4, True)),  # a window of evaluation requests stops at the page bound, and says so
    ],
)
def test_evaluation_requests_do_not_use_up_the_sample(
    instance: Instance, monkeypatch: pytest.MonkeyPatch, max_pages: int, expected: tuple[int, int, bool]
) -> None:
    from assay.web import gateway_view

    monkeypatch.setattr(gateway_view, "MAX_EVENTS", 3)
    monkeypatch.setattr(gateway_view, "_PAGE", 2)
    monkeypatch.setattr(gateway_view, "_MAX_PAGES", max_pages)
    clock = fixed_clock(instance)
    with AuditLog.open(instance) as log:
        log.append_batch([_request(200, 120_000, 100_000, "openai", {}) for _ in range(4)])
        log.append_batch([_evaluation_request() for _ in range(5)])  # the newest
    figures = gateway_figures(instance.db, clock.now() + timedelta(minutes=1), [])
    assert (figures.requests, figures.evaluation_requests, figures.sampled) == expected


def test_a_window_read_to_its_end_is_not_sampled(instance: Instance, monkeypatch: pytest.MonkeyPatch) -> None:
    from assay.web import gateway_view

    monkeypatch.setattr(gateway_view, "_PAGE", 2)
    clock = fixed_clock(instance)
    with AuditLog.open(instance) as log:
        log.append_batch([_request(200, 120_000, 100_000, "openai", {}), _evaluation_request(), _evaluation_request()])
    figures = gateway_figures(instance.db, clock.now() + timedelta(minutes=1), [])
    assert (figures.requests, figures.evaluation_requests, figures.sampled) == (1, 2, False)
