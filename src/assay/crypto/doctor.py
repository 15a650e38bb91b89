"""``assay doctor`` finding for the key store: is the configured KMS usable?"""

from __future__ import annotations

from assay.config import Settings
from assay.crypto.kms.local import _decode_master
from assay.doctor import Finding, register_check
from assay.errors import AssayError
from assay.secrets import MASTER_KEY, read_secret

__all__ = ["kms_check"]


@register_check
def kms_check(settings: Settings) -> list[Finding]:
    if settings.kms == "aws-kms":
        return [_aws(settings)]
    try:
        if settings.master_key is not None:
            _decode_master(settings.master_key.get_secret_value())
            return [Finding("kms", "ok", "local KMS, master key from ASSAY_MASTER_KEY")]
        raw = read_secret(settings.data_dir, MASTER_KEY)
    except AssayError as exc:
        return [Finding("kms", "fail", exc.message, exc.hint)]
    if len(raw) != 32:
        return [
            Finding(
                "kms",
                "fail",
                f"{MASTER_KEY} holds {len(raw)} bytes, not 32",
                "Restore it from backup; never edit it by hand.",
            )
        ]
    return [Finding("kms", "ok", f"local KMS, master key {settings.data_dir / MASTER_KEY} (0600)")]


def _aws(settings: Settings) -> Finding:
    where = settings.aws_endpoint_url or f"AWS region {settings.aws_region}"
    if settings.aws_kms_key_id:
        return Finding(
            "kms",
            "warn",
            f"aws-kms at {where}, one key shared by all tenants",
            "Unset ASSAY_AWS_KMS_KEY_ID to give each tenant its own key, so erasure destroys it.",
        )
    return Finding("kms", "ok", f"aws-kms at {where}, one key per tenant and version")
