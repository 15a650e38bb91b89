"""schemathesis against the gateway's OpenAPI document, on a real server: no 5xx, no schema violations."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from tests.gateway_helpers import init_data_dir
from tests.helpers import running_server

pytest.importorskip("assay.pii")
pytest.importorskip("assay.crypto")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    data = init_data_dir(Path(tmp_path_factory.mktemp("schema")))
    key = data.create_key("acme")
    with running_server(data.path, env=data.env) as base:
        yield base, key


def test_gateway_openapi(served: tuple[str, str]) -> None:
    base, key = served
    document = httpx.get(base + "/openapi.json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(document).include(path_regex="^/v1/")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 4

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: schemathesis.Case) -> None:
            response = case.call(base_url=base, headers={"authorization": f"Bearer {key}"}, timeout=30)
            assert response.status_code < 500, response.text
            case.validate_response(
                response,
                checks=[status_code_conformance, content_type_conformance, response_schema_conformance],
            )

        check()
