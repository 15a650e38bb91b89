"""Governance on the gateway's hot path: route resolution and output validation.

Baselines measured in the same run: a plain dict lookup for the resolver (what
a static routing table costs) and ``json.loads`` alone for output validation.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from assay.config import Settings
from assay.governance import (
    ModelSpec,
    ProviderTerms,
    RegistryResolver,
    activate_change,
    propose_change,
    register_model,
    validate_output,
)
from assay.instance import init_instance, open_instance
from assay.ledger import AuditLog
from benchmarks._harness import rate

SCHEMA = {"type": "object", "required": ["answer"], "properties": {"answer": {"type": "integer"}}}
ANSWER = json.dumps({"answer": 42, "notes": "x" * 200})


def _setup(data_dir: Path) -> RegistryResolver:
    settings = Settings(data_dir=data_dir)
    init_instance(settings)
    instance = open_instance(settings)
    with AuditLog.open(instance) as audit:
        for n in range(20):
            model = register_model(instance, audit, ModelSpec(
                provider="bench", provider_model=f"m{n}", snapshot="1", intended_use="bench",
                risk_rating="low", owner="bench", params={"temperature": 0},
                terms=ProviderTerms(True, 0, "eu")), actor="system")
            change = propose_change(instance, audit, alias=f"route-{n}",
                                    model_version_id=model.id, reason="bench", actor="system",
                                    emergency=True, output_schema=SCHEMA)
            activate_change(instance, audit, change.id, actor="system")
    return RegistryResolver(instance)


def run(*, quick: bool) -> dict[str, object]:
    seconds = 0.3 if quick else 1.0
    with tempfile.TemporaryDirectory() as tmp:
        resolver = _setup(Path(tmp) / "data")
        table = {alias: resolver.resolve(alias) for alias in resolver.aliases()}
        route = resolver.resolve("route-7")

        def lookups(fn: object) -> int:
            for _ in range(1000):
                fn("route-7")  # type: ignore[operator]
            return 1000

        resolve_rate = rate(lambda: lookups(resolver.resolve), min_seconds=seconds)
        dict_rate = rate(lambda: lookups(table.__getitem__), min_seconds=seconds)
        validate_rate = rate(lambda: [validate_output(route, ANSWER) for _ in range(200)] and 200,
                             min_seconds=seconds)
        parse_rate = rate(lambda: [json.loads(ANSWER) for _ in range(200)] and 200,
                          min_seconds=seconds)
    return {
        "resolve_ns": round(1e9 / resolve_rate),
        "dict_lookup_ns": round(1e9 / dict_rate),
        "resolve_vs_dict_ratio": round(dict_rate / resolve_rate, 2),
        "validate_output_us": round(1e6 / validate_rate, 2),
        "json_loads_us": round(1e6 / parse_rate, 2),
        "validate_vs_json_loads_ratio": round(parse_rate / validate_rate, 2),
    }
