"""KMS backends: AWS KMS against moto's server on loopback; the local master key rules."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from tests.crypto_support import RecordingAudit

from assay.config import Settings
from assay.crypto import AwsKMS, Keyring, LocalKMS, TenantStore, TranscriptVault, open_kms
from assay.errors import ConfigError, CryptoError, ErasedError
from assay.instance import Instance, init_instance, open_instance


@pytest.fixture
def aws_instance(settings: Settings, moto_server: str, aws_credentials: None) -> Iterator[Instance]:
    aws = settings.model_copy(update={"kms": "aws-kms", "aws_endpoint_url": moto_server})
    init_instance(aws)
    opened = open_instance(aws)
    try:
        yield opened
    finally:
        opened.close()


def _kms_client(endpoint: str):  # type: ignore[no-untyped-def]
    return boto3.client("kms", region_name="us-east-1", endpoint_url=endpoint)


def test_aws_kms_end_to_end(
    aws_instance: Instance, audit: RecordingAudit, moto_server: str
) -> None:
    keyring = Keyring.open(aws_instance, audit)
    assert isinstance(keyring.kms, AwsKMS)
    tenants = TenantStore(aws_instance, audit, keyring)
    vault = TranscriptVault(aws_instance, keyring, audit)
    tenants.create("acme", "cli:alice")
    first = vault.store("acme", "c1", b"kept in aws")
    keyring.rotate("acme", "cli:alice")
    second = vault.store("acme", "c2", b"after rotation")
    keyring.rewrap("acme", "cli:alice")
    fresh = Keyring.open(aws_instance, audit)
    reader = TranscriptVault(aws_instance, fresh, audit)
    assert reader.read(first.id, actor="cli:bob", reason="t") == b"kept in aws"
    assert reader.read(second.id, actor="cli:bob", reason="t") == b"after rotation"
    refs = [k.kms for k in fresh.list_keys("acme")]
    assert refs == ["aws-kms", "aws-kms"]
    tenants.erase("acme", "cli:alice")
    client = _kms_client(moto_server)
    states = {
        client.describe_key(KeyId=arn)["KeyMetadata"]["KeyState"]
        for arn in _arns(aws_instance, "acme")
    }
    assert states == {"PendingDeletion"}
    after = TranscriptVault(aws_instance, Keyring.open(aws_instance, audit), audit)
    with pytest.raises(ErasedError, match="erased on"):
        after.read(first.id, actor="cli:bob", reason="t")


def _arns(instance: Instance, tenant: str) -> list[str]:
    from sqlalchemy import select

    from assay.crypto.models import KekRow

    with instance.db.session() as session:
        return list(session.scalars(select(KekRow.key_ref).where(KekRow.tenant == tenant)))


def test_aws_wrapped_key_is_bound_to_its_context(aws_instance: Instance, moto_server: str) -> None:
    kms = AwsKMS(aws_instance)
    ref = kms.create_key("acme", 1)
    wrapped = kms.wrap(ref, b"k" * 32, {"assay:tenant": "acme"})
    assert kms.unwrap(ref, wrapped, {"assay:tenant": "acme"}) == b"k" * 32
    with pytest.raises(CryptoError, match="AWS KMS decrypt failed"):
        kms.unwrap(ref, wrapped, {"assay:tenant": "globex"})


def test_aws_unreachable_is_a_clear_error(settings: Settings, aws_credentials: None) -> None:
    from tests.servers import free_port

    dead = settings.model_copy(
        update={"kms": "aws-kms", "aws_endpoint_url": f"http://127.0.0.1:{free_port()}"}
    )
    init_instance(dead)
    instance = open_instance(dead)
    try:
        with pytest.raises(CryptoError, match="AWS KMS create_key failed"):
            AwsKMS(instance).create_key("acme", 1)
    finally:
        instance.close()


def test_local_kms_refuses_a_loose_master_key(instance: Instance) -> None:
    key_file = instance.data_dir / "master.key"
    key_file.chmod(0o644)
    with pytest.raises(ConfigError, match="permissions 0644") as caught:
        LocalKMS(instance)
    assert "chmod 600" in caught.value.hint
    key_file.chmod(0o600)
    assert isinstance(open_kms(instance), LocalKMS)


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        (base64.b64encode(bytes(range(32))).decode(), True),
        (bytes(range(32)).hex(), True),
        ("too-short", False),
        (base64.b64encode(b"x" * 16).decode(), False),
    ],
)
def test_master_key_from_the_environment(instance: Instance, value: str, accepted: bool) -> None:
    from pydantic import SecretStr

    (instance.data_dir / "master.key").unlink()  # the environment wins; no file needed
    instance.settings = instance.settings.model_copy(update={"master_key": SecretStr(value)})
    if accepted:
        kms = LocalKMS(instance)
        ref = kms.create_key("acme", 1)
        assert kms.unwrap(ref, kms.wrap(ref, b"k" * 32, {}), {}) == b"k" * 32
    else:
        with pytest.raises(ConfigError, match="ASSAY_MASTER_KEY must be 32 bytes"):
            LocalKMS(instance)


def test_local_kms_with_another_master_key_fails_closed(instance: Instance, tmp_path: Path) -> None:
    kms = LocalKMS(instance)
    ref = kms.create_key("acme", 1)
    wrapped = kms.wrap(ref, b"k" * 32, {"a": "b"})
    with pytest.raises(CryptoError, match="altered or wrong context"):
        kms.unwrap(ref, wrapped, {"a": "c"})
    (instance.data_dir / "master.key").write_bytes(os.urandom(32))
    with pytest.raises(CryptoError, match="does not open with this master key"):
        LocalKMS(instance).unwrap(ref, wrapped, {"a": "b"})


@pytest.mark.parametrize(
    ("change", "status", "detail"),
    [
        ({}, "ok", "local KMS, master key"),
        ({"master_key": "bad"}, "fail", "ASSAY_MASTER_KEY must be 32 bytes"),
        ({"kms": "aws-kms", "aws_region": "eu-west-1"}, "ok", "AWS region eu-west-1"),
        ({"kms": "aws-kms", "aws_kms_key_id": "alias/shared"}, "warn", "shared by all tenants"),
    ],
)
def test_doctor_reports_the_kms(
    instance: Instance, change: dict[str, str], status: str, detail: str
) -> None:
    from pydantic import SecretStr

    from assay.doctor import run_checks

    if "master_key" in change:
        change = {**change, "master_key": SecretStr(change["master_key"])}  # type: ignore[dict-item]
    [finding] = [
        f for f in run_checks(instance.settings.model_copy(update=change)) if f.check == "kms"
    ]
    assert (finding.status, detail in finding.detail) == (status, True), finding


def test_doctor_flags_a_loose_master_key(instance: Instance) -> None:
    from assay.doctor import run_checks

    (instance.data_dir / "master.key").chmod(0o640)
    [finding] = [f for f in run_checks(instance.settings) if f.check == "kms"]
    assert finding.status == "fail" and "chmod 600" in finding.hint
