"""``aws-kms`` KMS: one customer master key per tenant key version, via boto3.

Data keys are wrapped with ``Encrypt`` and an encryption context naming the
tenant and data key, so a wrapped key moved elsewhere does not unwrap.
Destroying a key schedules its deletion (the shortest window AWS allows).
If ``ASSAY_AWS_KMS_KEY_ID`` is set, every tenant shares that one key and
erasure relies on deleting the wrapped data keys alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from assay.errors import CryptoError
from assay.instance import Instance

__all__ = ["AwsKMS"]

_PENDING_WINDOW_DAYS = 7


def _kms_error(action: str, exc: Exception) -> CryptoError:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
    return CryptoError(
        f"AWS KMS {action} failed: {code}",
        hint="Check AWS credentials, ASSAY_AWS_REGION, ASSAY_AWS_ENDPOINT_URL and the key policy.",
    )


class AwsKMS:
    """KEKs held in AWS KMS (or anything speaking its API, such as moto's server)."""

    name = "aws-kms"

    def __init__(self, instance: Instance, client: Any | None = None) -> None:
        settings = instance.settings
        self._shared_key = settings.aws_kms_key_id
        self._instance_id = instance.instance_id
        if client is None:
            import boto3

            client = boto3.client(
                "kms", region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url
            )
        self._client = client

    def _call(self, action: str, **kwargs: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            result: dict[str, Any] = getattr(self._client, action)(**kwargs)
        except (BotoCoreError, ClientError) as exc:
            raise _kms_error(action, exc) from exc
        return result

    def create_key(self, tenant: str, version: int) -> str:
        if self._shared_key:
            return self._shared_key
        result = self._call(
            "create_key",
            Description=f"Assay {self._instance_id} tenant {tenant} key version {version}",
            KeyUsage="ENCRYPT_DECRYPT",
            Tags=[
                {"TagKey": "assay:instance", "TagValue": self._instance_id},
                {"TagKey": "assay:tenant", "TagValue": tenant},
            ],
        )
        return str(result["KeyMetadata"]["Arn"])

    def wrap(self, key_ref: str, plaintext_key: bytes, context: Mapping[str, str]) -> bytes:
        result = self._call(
            "encrypt", KeyId=key_ref, Plaintext=plaintext_key, EncryptionContext=dict(context)
        )
        return bytes(result["CiphertextBlob"])

    def unwrap(self, key_ref: str, wrapped_key: bytes, context: Mapping[str, str]) -> bytes:
        result = self._call(
            "decrypt", KeyId=key_ref, CiphertextBlob=wrapped_key, EncryptionContext=dict(context)
        )
        return bytes(result["Plaintext"])

    def destroy_key(self, key_ref: str) -> None:
        if self._shared_key and key_ref == self._shared_key:
            return  # shared key: erasure is the deletion of the wrapped data keys
        # The bare key id is accepted everywhere the ARN is (and by every emulator).
        key_id = key_ref.rsplit("/", 1)[-1] if ":key/" in key_ref else key_ref
        self._call("schedule_key_deletion", KeyId=key_id, PendingWindowInDays=_PENDING_WINDOW_DAYS)
