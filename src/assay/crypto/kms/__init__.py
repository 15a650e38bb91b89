"""KMS backends: ``local`` and ``aws-kms``; :func:`open_kms` picks the configured one."""

from __future__ import annotations

from collections.abc import Callable

from assay.crypto.kms.aws import AwsKMS
from assay.crypto.kms.base import KMS
from assay.crypto.kms.local import LocalKMS
from assay.errors import ConfigError
from assay.instance import Instance

__all__ = ["BACKENDS", "KMS", "AwsKMS", "LocalKMS", "open_kms"]

# Settings.kms value -> factory. A new backend is one module plus one entry here.
BACKENDS: dict[str, Callable[[Instance], KMS]] = {
    "local": LocalKMS,
    "aws-kms": AwsKMS,
}


def open_kms(instance: Instance) -> KMS:
    """The KMS named by ``instance.settings.kms``."""
    factory = BACKENDS.get(instance.settings.kms)
    if factory is None:
        raise ConfigError(
            f"unknown KMS backend {instance.settings.kms!r}",
            hint=f"Set ASSAY_KMS to one of: {', '.join(BACKENDS)}.",
        )
    return factory(instance)
