"""The checks over real gateway traffic: a served request reconciles with its ledger record."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from tests.helpers import run_cli, running_server

from assay.compliance import run_checks
from assay.config import Settings
from assay.instance import open_instance


def test_checks_pass_on_real_traffic(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for args in (("init",), ("tenants", "create", "acme")):
        assert run_cli(*args, "--data-dir", str(data)).exit_code == 0
    created = run_cli("keys", "create", "--tenant", "acme", "--expires", "2099-01-01", "--data-dir", str(data))
    key = created.stdout.strip().splitlines()[-1]
    with running_server(data) as base:
        for text in ("hello, write to jane@example.com", "and again"):
            response = httpx.post(
                f"{base}/v1/chat/completions", headers={"Authorization": f"Bearer {key}"}, timeout=30,
                json={"model": "assay-demo", "messages": [{"role": "user", "content": text}]},
            )
            assert response.status_code == 200, response.text
    instance = open_instance(Settings(data_dir=data))
    try:
        results = {r.check_id: r.result for r in run_checks(instance)}
    finally:
        instance.close()
    assert results["gateway.request_reconciliation"].status == "pass"
    assert results["gateway.request_reconciliation"].evidence["transcripts_stored"] == 2
    assert results["transcripts.encrypted"].status == "pass"
    assert results["ledger.integrity"].status == "pass"
    assert results["apikeys.expiry_and_use"].status == "pass"
    report = run_cli("assess", "--no-run", "--data-dir", str(data))
    controls = {c["id"]: c["status"] for c in json.loads(report.stdout)["controls"]}
    assert controls["AS-PI-03"] == "passing"
