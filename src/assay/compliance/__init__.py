"""Compliance engine: control library, automated checks, evidence, assessment, audit package."""

from __future__ import annotations

from assay.compliance._timeutil import Period, parse_period
from assay.compliance.assess import CONTROL_STATUSES, assess, run_assessment
from assay.compliance.checks import (
    CheckContext,
    CheckHooks,
    CheckResult,
    CheckSpec,
    check,
    check_registry,
    hookimpl,
    hookspec,
    register_check_plugin,
    run_checks,
)
from assay.compliance.evidence import EvidenceInfo, add_evidence, evidence_content, list_evidence
from assay.compliance.library import Control, ControlLibrary, load_library
from assay.compliance.sampling import SampleSizes, build_sample, load_sample_sizes, sample_size

__all__ = [
    "CONTROL_STATUSES",
    "CheckContext",
    "CheckHooks",
    "CheckResult",
    "CheckSpec",
    "Control",
    "ControlLibrary",
    "EvidenceInfo",
    "Period",
    "SampleSizes",
    "add_evidence",
    "assess",
    "build_sample",
    "check",
    "check_registry",
    "evidence_content",
    "export_package",
    "hookimpl",
    "hookspec",
    "list_evidence",
    "load_library",
    "load_sample_sizes",
    "parse_period",
    "register_check_plugin",
    "run_assessment",
    "run_checks",
    "sample_size",
]


def export_package(*args: object, **kwargs: object) -> dict[str, object]:
    """Write the auditor package (see :mod:`assay.compliance.export`)."""
    from assay.compliance.export import export_package as _export

    return _export(*args, **kwargs)  # type: ignore[arg-type]
