"""The auditor package: one zip an auditor can check without trusting Assay.

Contents: the Type II assessment (JSON, Markdown, HTML), the evidence in force
during the period, every control's population and sample, the six OSCAL
documents, a README, and ``manifest.json`` listing the SHA-256 of each of
those files. The manifest's own hash is then appended to the audit ledger
(event ``audit.exported``) and the ledger is exported as C2SP tiles with a
fresh signed checkpoint and a ``.tlog-proof`` for every evidence record and for
the export event, so a changed byte anywhere is caught either by the manifest
or by the ledger proofs.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import re
import tempfile
import uuid
import zipfile
from pathlib import Path
from typing import Any, Protocol

from assay.clock import format_rfc3339
from assay.compliance import _ledger
from assay.compliance._timeutil import Period
from assay.compliance.assess import assess
from assay.compliance.checks import check_registry
from assay.compliance.evidence import EvidenceInfo, evidence_content, list_evidence
from assay.compliance.library import ControlLibrary
from assay.compliance.oscal import build_oscal_documents
from assay.compliance.report import render_html, render_json, render_markdown
from assay.compliance.sampling import SampleSizes, build_sample
from assay.errors import ComplianceError, UsageError
from assay.instance import Instance

__all__ = ["EXPORT_RECORD", "PACKAGE_FORMAT", "export_package", "export_record"]

PACKAGE_FORMAT = "assay-audit-package/1"
# Written after the manifest (it names the ledger entry holding the manifest's hash).
EXPORT_RECORD = "ledger-export.json"
_ZIP_TIME = (2000, 1, 1, 0, 0, 0)


class _Printer(Protocol):
    def print(self, *objects: Any) -> None: ...


def _json_bytes(value: object) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True) + "\n").encode()


def export_record(index: int, checkpoint_size: int) -> bytes:
    """The exact bytes of ``ledger-export.json`` (the verifier rebuilds and compares them)."""
    return _json_bytes({"index": index, "checkpoint_size": checkpoint_size})


def _safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "evidence"
    return cleaned[:100]


def _in_period(item: EvidenceInfo, period: Period) -> bool:
    return item.effective_at < period.end and (item.expires_at is None or item.expires_at > period.start)


def _evidence_files(instance: Instance, period: Period) -> tuple[dict[str, bytes], list[EvidenceInfo]]:
    files: dict[str, bytes] = {}
    chosen = [e for e in list_evidence(instance) if _in_period(e, period)]
    index = []
    for item in chosen:
        name = "link.url" if item.kind == "url" else _safe_name(item.source)
        path = f"evidence/{item.id}/{name}"
        files[path] = evidence_content(instance, item.id)
        index.append({**item.as_json(), "file": path})
    files["evidence/index.json"] = _json_bytes(index)
    return files, chosen


def _sample_files(
    instance: Instance, library: ControlLibrary, period: Period, sizes: SampleSizes | None
) -> dict[str, bytes]:
    registry = check_registry()
    files: dict[str, bytes] = {}
    for control_id in library.controls:
        result = build_sample(instance, library, registry, control_id, period, sizes=sizes)
        population = {"control": control_id, "period": result["period"], **result["population"]}
        sample = {
            "control": control_id, "period": result["period"], "frequency": result["frequency"],
            "population_sha256": result["population"]["sha256"],
            "population_size": result["population"]["size"], **result["sample"],
        }
        files[f"populations/{control_id}.json"] = _json_bytes(population)
        files[f"samples/{control_id}.json"] = _json_bytes(sample)
    return files


_README = """# Assay auditor package

Period: {period_from} to {period_to}. Generated {generated} by Assay {version}
(instance {instance}).

## What is inside

- `manifest.json`: SHA-256 of every file below except `ledger/`.
- `assessment/`: the readiness assessment over the period (JSON, Markdown, HTML).
- `evidence/`: evidence in force during the period; `evidence/index.json` lists each record with
  its SHA-256, effective date, expiry, owner and its index in the audit ledger.
- `populations/` and `samples/`: for every control, the population (with the query that produced
  it and its SHA-256; an empty population is listed too) and the sample drawn from it. The sample
  is reproducible: it is seeded by the population hash (see `method` in each sample file).
- `oscal/`: NIST OSCAL catalog, profile, component definition, system security plan, assessment
  results and plan of action and milestones.
- `ledger/`: the audit ledger as C2SP tlog-tiles with signed checkpoints, the verifier key, and a
  `.tlog-proof` for every evidence record and for the `audit.exported` event that commits to
  `manifest.json` (`ledger-export.json` names its index).

## How to check it

1. Obtain the ledger verifier key from the company through a channel other than this package and
   compare it with `ledger/vkey`.
2. Verify the ledger offline (needs only Python and the `cryptography` package):

       python -m assay.ledger.verify ledger --vkey "$(cat ledger/vkey)"

3. Check the files against the manifest, and the manifest and evidence against the ledger:

       assay audit verify PACKAGE.zip --vkey "$(cat ledger/vkey)"

   or by hand: `sha256sum` each file and compare with `manifest.json`; the SHA-256 of
   `manifest.json` must equal `attributes.manifest_sha256` of ledger entry `index` of `ledger-export.json`,
   and each evidence file's SHA-256 must equal `attributes.sha256` of its ledger entry.
"""


def _ledger_files(instance: Instance, manifest_sha: str, package_id: str, evidence: list[EvidenceInfo], period: Period) -> dict[str, bytes]:
    """Record the export in the ledger, then export the tiles, checkpoint and proofs."""
    index = _ledger.append_event(
        instance, "audit.exported", actor=_ledger.cli_actor(), object_ids={"package": package_id},
        attributes={"manifest_sha256": manifest_sha, "period": period.as_json(), "format": PACKAGE_FORMAT},
    )
    if index is None:
        raise ComplianceError(
            "this installation has no audit ledger, so the package cannot be made verifiable",
            hint="Install the ledger component and run `assay init`.",
        )
    log_module = importlib.import_module("assay.ledger.log")
    export_module = importlib.import_module("assay.ledger.export")
    proof_module = importlib.import_module("assay.ledger.proof")
    log = log_module.AuditLog.open(instance)
    try:
        checkpoint = log.checkpoint(new=True)
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "ledger"
            export_module.export_log(log, root)
            wanted = sorted({index, *(e.ledger_index for e in evidence if e.ledger_index is not None)})
            for idx in wanted:
                proof = log.inclusion_proof(idx, checkpoint.size)
                text = proof_module.format_tlog_proof(idx, proof, checkpoint.note)
                (root / "proofs").mkdir(exist_ok=True)
                (root / "proofs" / f"{idx}.tlog-proof").write_text(text, encoding="utf-8")
            found = {
                f"ledger/{p.relative_to(root).as_posix()}": p.read_bytes()
                for p in sorted(root.rglob("*")) if p.is_file()
            }
            found[EXPORT_RECORD] = export_record(index, checkpoint.size)
            return found
    finally:
        log.close()


def _content_files(
    instance: Instance, library: ControlLibrary, period: Period, sizes: SampleSizes | None, say: Any
) -> tuple[dict[str, bytes], list[EvidenceInfo], str]:
    """Everything the manifest covers, the evidence exported, and the generation time."""
    generated = format_rfc3339(instance.clock.now())
    say("assessing the period")
    report = assess(instance, library, check_registry(), period)
    files: dict[str, bytes] = {
        "assessment/assessment.json": render_json(report).encode(),
        "assessment/assessment.md": render_markdown(report).encode(),
        "assessment/assessment.html": render_html(report).encode(),
    }
    say("collecting evidence")
    evidence_files, evidence = _evidence_files(instance, period)
    files.update(evidence_files)
    say("building populations and samples")
    files.update(_sample_files(instance, library, period, sizes))
    say("building OSCAL documents")
    oscal = build_oscal_documents(
        library, report, generated=generated, period=period.as_json(), system_name=f"assay-{instance.instance_id[:8]}"
    )
    files.update({f"oscal/{name}": data for name, data in oscal.items()})
    files["README.md"] = _README.format(
        period_from=format_rfc3339(period.start), period_to=format_rfc3339(period.end), generated=generated,
        version=report["summary"]["assay_version"], instance=instance.instance_id,
    ).encode()
    return files, evidence, generated


def export_package(
    instance: Instance,
    library: ControlLibrary,
    period: Period,
    out: Path,
    sizes: SampleSizes | None = None,
    *,
    progress: _Printer | None = None,
) -> dict[str, Any]:
    """Write the package to ``out`` (a .zip). Nothing is left behind on failure."""
    if out.suffix != ".zip":
        raise UsageError(f"{out} does not end in .zip", hint="Name the package like audit-2026.zip.")
    say = progress.print if progress is not None else (lambda *_: None)
    files, evidence, generated = _content_files(instance, library, period, sizes, say)
    package_id = uuid.uuid4().hex
    manifest = {
        "format": PACKAGE_FORMAT, "package": package_id, "generated": generated, "period": period.as_json(),
        "instance": instance.instance_id,
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
    }
    files["manifest.json"] = _json_bytes(manifest)
    manifest_sha = hashlib.sha256(files["manifest.json"]).hexdigest()
    say("recording the export in the ledger")
    files.update(_ledger_files(instance, manifest_sha, package_id, evidence, period))
    _write_zip(out, files)
    return {"files": len(files), "manifest_sha256": manifest_sha, "package": package_id}


def _write_zip(out: Path, files: dict[str, bytes]) -> None:
    partial = out.with_name(out.name + ".partial")
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name in sorted(files):
                info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o600 << 16
                archive.writestr(info, files[name])
        partial.replace(out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
