"""API keys and tenant policies through the dashboard, applied by the running gateway."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.web_support import close_apps, set_up_person

from assay.instance import Instance
from assay.ledger import AuditLog


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'data' / 'assay.db'}"


@pytest.fixture(autouse=True)
def _stop_ledger(instance: Instance) -> Iterator[None]:
    yield
    close_apps()


def test_admin_creates_and_revokes_a_key_and_changes_the_policy(instance: Instance) -> None:
    admin = set_up_person(instance, "root@example.com", "admin")
    path = "/tenants/acme/access"
    created = admin.client.post("/tenants/acme/keys", data={"role": "app", "name": "support bot", "csrf_token": admin.csrf(path)})
    assert created.status_code == 201, created.text
    secret = re.search(r'id="new-secret">([^<]+)<', created.text).group(1)  # type: ignore[union-attr]
    assert secret.startswith("sk-assay-")
    again = admin.client.get(path)
    assert secret not in again.text and "support bot" in again.text
    key_id = secret.removeprefix("sk-assay-").split("-", 1)[0]

    unconfirmed = admin.client.post(f"/tenants/acme/keys/{key_id}/revoke", data={"confirm": "no", "csrf_token": admin.csrf(path)})
    assert unconfirmed.status_code == 400 and "Nothing revoked" in unconfirmed.text
    revoked = admin.client.post(f"/tenants/acme/keys/{key_id}/revoke", data={"confirm": "revoke", "csrf_token": admin.csrf(path)})
    assert revoked.status_code == 200 and "revoked" in revoked.text

    policy = json.loads(re.search(r'<textarea id="policy"[^>]*>([^<]+)</textarea>', again.text).group(1).replace("&#34;", '"'))  # type: ignore[union-attr]
    policy["retention_days"] = 7
    saved = admin.client.post("/tenants/acme/policy", data={"policy": json.dumps(policy), "csrf_token": admin.csrf(path)})
    assert saved.status_code == 200 and "Policy version" in saved.text
    broken = admin.client.post("/tenants/acme/policy", data={"policy": '{"retention_days": 0}', "csrf_token": admin.csrf(path)})
    assert broken.status_code == 400 and "retention_days" in broken.text
    policy["on_failure"] = "open"
    unconfirmed_loosening = admin.client.post("/tenants/acme/policy", data={"policy": json.dumps(policy), "csrf_token": admin.csrf(path)})
    assert unconfirmed_loosening.status_code == 400 and "loosens the policy of tenant acme: on_failure" in unconfirmed_loosening.text
    assert "Policy (version 1)" in unconfirmed_loosening.text
    loosened = admin.client.post("/tenants/acme/policy", data={"policy": json.dumps(policy), "loosen": "yes", "csrf_token": admin.csrf(path)})
    assert loosened.status_code == 200 and "It loosens the previous version: on_failure" in loosened.text

    with AuditLog.open(instance) as log:
        types = [log.entry(i).event_type for i in range(log.size())]
    assert {"apikey.created", "apikey.revoked", "policy.changed"} <= set(types)


def test_compliance_reads_the_policy_and_an_auditor_cannot(instance: Instance) -> None:
    lead = set_up_person(instance, "lead@example.com", "compliance")
    page = lead.client.get("/tenants/acme/access")
    assert page.status_code == 200 and 'aria-label="Policy"' in page.text and "Create API key" not in page.text
    auditor = set_up_person(instance, "aud@example.com", "auditor")
    assert auditor.client.get("/tenants/acme/access").status_code == 403
