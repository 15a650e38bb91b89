"""NIST OSCAL documents of the library and an assessment, validated with compliance-trestle.

Documents are assembled as OSCAL JSON (kebab-case keys), then parsed by the
trestle model of their type, which validates them; the JSON written is
trestle's own serialisation of the validated model. UUIDs are derived from
names (UUID v5) so the same library and assessment give the same documents.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from assay import __version__
from assay.compliance.library import AI_RMF, ISO_42001, Control, ControlLibrary
from assay.errors import ComplianceError

__all__ = ["COMPONENTS", "build_oscal_documents"]

_NS = "https://assay.dev/ns/oscal"
_ROOT = uuid.UUID("7c1f3a52-41e0-5d0e-9a8e-6a2f4d1f0c11")

# Which controls each core component implements (by control id).
COMPONENTS: dict[str, tuple[str, list[str]]] = {
    "gateway": (
        "OpenAI-compatible trust gateway: authentication, tenant policy, redaction, limits.",
        ["AS-ACC-01", "AS-ACC-05", "AS-ACC-08", "AS-NET-02", "AS-NET-03", "AS-NET-04", "AS-PI-02",
         "AS-PI-04", "AS-PRV-02", "AS-PRV-03", "AS-AI-03", "AS-AI-07", "AS-AI-16", "AS-CHG-04"],
    ),
    "ledger": (
        "Tamper-evident audit ledger: RFC 6962 Merkle tree with signed C2SP checkpoints.",
        ["AS-COM-04", "AS-ACC-10", "AS-PI-03", "AS-PI-05", "AS-AI-13"],
    ),
    "key-store": (
        "Per-tenant envelope encryption with key-encryption keys in a KMS and crypto-shredding.",
        ["AS-ACC-09", "AS-CNF-02", "AS-CNF-03", "AS-CNF-06", "AS-CNF-04"],
    ),
}
_STATE = {"passing": "satisfied", "not_applicable": "satisfied"}


def _uuid(*names: str) -> str:
    return str(uuid.uuid5(_ROOT, "/".join(names)))


def _oid(control_id: str) -> str:
    return control_id.lower()


def _metadata(title: str, generated: str) -> dict[str, Any]:
    from trestle.oscal import OSCAL_VERSION

    return {
        "title": title,
        "last-modified": generated,
        "version": __version__,
        "oscal-version": OSCAL_VERSION,
    }


def _prop(name: str, value: str) -> dict[str, str]:
    return {"name": name, "value": value, "ns": _NS}


def _control(control: Control) -> dict[str, Any]:
    oid = _oid(control.id)
    props = [{"name": "label", "value": control.id}]
    props += [_prop("frequency", control.frequency), _prop("automated", str(control.automated).lower())]
    props += [_prop("owner-role", control.owner)]
    props += [_prop("tsc-criterion", c) for c in control.criteria]
    props += [_prop(f"{name}-mapping", ident) for name in (ISO_42001, AI_RMF) for ident in control.mappings.get(name, [])]
    parts = [
        {"id": f"{oid}_smt", "name": "statement", "prose": control.statement},
        {"id": f"{oid}_evd", "name": "guidance", "title": "Evidence requests", "prose": "; ".join(control.evidence)},
        {"id": f"{oid}_t1", "name": "assessment-method", "title": "Type I test", "prose": control.tests.type1},
        {"id": f"{oid}_t2", "name": "assessment-method", "title": "Type II test", "prose": control.tests.type2},
    ]
    return {"id": oid, "title": control.title, "props": props, "parts": parts}


def _domain(control_id: str) -> str:
    return control_id.split("-")[1].lower()


def catalog(library: ControlLibrary, generated: str) -> dict[str, Any]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for control in library.controls.values():
        groups.setdefault(_domain(control.id), []).append(_control(control))
    return {
        "uuid": _uuid("catalog", *library.controls),
        "metadata": _metadata("Assay control library", generated),
        "groups": [{"id": name, "title": f"{name.upper()} controls", "controls": items} for name, items in groups.items()],
    }


def profile(library: ControlLibrary, generated: str) -> dict[str, Any]:
    ids = [_oid(c) for c in library.controls]
    return {
        "uuid": _uuid("profile", *ids),
        "metadata": _metadata("Assay SOC 2 and AI baseline", generated),
        "imports": [{"href": "catalog.json", "include-controls": [{"with-ids": ids}]}],
        "merge": {"as-is": True},
    }


def component_definition(library: ControlLibrary, generated: str) -> dict[str, Any]:
    components = []
    for name, (description, control_ids) in COMPONENTS.items():
        reqs = [
            {"uuid": _uuid("component", name, cid), "control-id": _oid(cid),
             "description": library.control(cid).statement}
            for cid in control_ids if cid in library.controls
        ]
        components.append({
            "uuid": _uuid("component", name), "type": "software", "title": f"Assay {name}",
            "description": description,
            "control-implementations": [{
                "uuid": _uuid("component", name, "impl"), "source": "profile.json",
                "description": f"Controls implemented by the Assay {name}.",
                "implemented-requirements": reqs,
            }],
        })
    return {
        "uuid": _uuid("component-definition"),
        "metadata": _metadata("Assay components", generated),
        "components": components,
    }


def _by_component(control_id: str, status: str) -> list[dict[str, Any]]:
    found = []
    for name, (_, control_ids) in COMPONENTS.items():
        if control_id in control_ids:
            found.append({
                "component-uuid": _uuid("component", name), "uuid": _uuid("ssp", name, control_id),
                "description": f"Implemented by the Assay {name}.",
                "implementation-status": {"state": "implemented" if status == "passing" else "partial"},
            })
    return found


def ssp(library: ControlLibrary, report: dict[str, Any], generated: str, system_name: str) -> dict[str, Any]:
    status_of = {c["id"]: c["status"] for c in report["controls"]}
    requirements = []
    for control in library.controls.values():
        entry: dict[str, Any] = {
            "uuid": _uuid("ssp", control.id), "control-id": _oid(control.id),
            "props": [_prop("assessment-status", status_of.get(control.id, "not_tested"))],
        }
        by_component = _by_component(control.id, status_of.get(control.id, ""))
        if by_component:
            entry["by-components"] = by_component
        requirements.append(entry)
    system_components = [{
        "uuid": _uuid("component", "this-system"), "type": "this-system", "title": system_name,
        "description": "The AI platform protected by Assay.", "status": {"state": "operational"},
    }]
    system_components += [
        {"uuid": _uuid("component", name), "type": "software", "title": f"Assay {name}",
         "description": description, "status": {"state": "operational"}}
        for name, (description, _) in COMPONENTS.items()
    ]
    return {
        "uuid": _uuid("ssp", system_name),
        "metadata": _metadata(f"System security plan: {system_name}", generated),
        "import-profile": {"href": "profile.json"},
        "system-characteristics": {
            "system-ids": [{"id": _uuid("system", system_name)}],
            "system-name": system_name,
            "description": "AI platform whose model traffic passes through the Assay trust gateway.",
            "system-information": {"information-types": [{
                "title": "Customer prompts and responses",
                "description": "Tenant transcripts, encrypted per tenant; personal data redacted per policy.",
            }]},
            "status": {"state": "operational"},
            "authorization-boundary": {"description": "The gateway, ledger, key store, database and their hosts."},
        },
        "system-implementation": {"components": system_components},
        "control-implementation": {
            "description": "Implementation and current assessment status of every Assay control.",
            "implemented-requirements": requirements,
        },
    }


def assessment_results(report: dict[str, Any], generated: str, period: dict[str, str]) -> dict[str, Any]:
    observations, findings = [], []
    for control in report["controls"]:
        obs_id = _uuid("observation", control["id"], generated)
        observations.append({
            "uuid": obs_id, "title": f"{control['id']} {control['title']}",
            "description": control["reason"] or control["status"],
            "methods": ["TEST" if control["automated"] else "EXAMINE"],
            "collected": generated,
            "props": [_prop("assessment-status", control["status"])],
        })
        findings.append({
            "uuid": _uuid("finding", control["id"], generated),
            "title": f"{control['id']} is {control['status'].replace('_', ' ')}",
            "description": control["reason"] or control["status"],
            "target": {
                "type": "statement-id", "target-id": f"{_oid(control['id'])}_smt",
                "status": {"state": _STATE.get(control["status"], "not-satisfied")},
            },
            "related-observations": [{"observation-uuid": obs_id}],
        })
    return {
        "uuid": _uuid("assessment-results", generated),
        "metadata": _metadata("Assay readiness assessment results", generated),
        "import-ap": {"href": "#assay-continuous-checks"},
        "results": [{
            "uuid": _uuid("result", generated), "title": "Assay readiness assessment",
            "description": f"Readiness score {report['summary']['readiness_score']}%.",
            "start": period["from"], "end": period["to"],
            "reviewed-controls": {"control-selections": [{"include-all": {}}]},
            "observations": observations, "findings": findings,
        }],
    }


def poam(report: dict[str, Any], generated: str) -> dict[str, Any]:
    items = [
        {"uuid": _uuid("poam", gap["control"], generated), "title": f"{gap['control']} {gap['title']}",
         "description": f"{gap['reason']}. Plan: {gap['todo'] or 'assign an owner and remediate.'}",
         "props": [_prop("control-id", gap["control"]), _prop("assessment-status", gap["status"])]}
        for gap in report["gaps"] if gap["status"] in ("failing", "at_risk")
    ]
    if not items:
        items = [{"uuid": _uuid("poam", "none", generated), "title": "No open weaknesses",
                  "description": "No control was failing or at risk when this plan was produced."}]
    return {
        "uuid": _uuid("poam", generated),
        "metadata": _metadata("Assay plan of action and milestones", generated),
        "import-ssp": {"href": "ssp.json"},
        "poam-items": items,
    }


def _validated(kind: str, model: Callable[[dict[str, Any]], Any], document: dict[str, Any]) -> bytes:
    try:
        parsed = model(document)
    except ValidationError as exc:
        raise ComplianceError(
            f"the OSCAL {kind} does not validate: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}",
            hint="This is a defect in the exporter; report it with the control library in use.",
        ) from exc
    data: bytes = parsed.oscal_serialize_json_bytes(pretty=True)
    return data


def build_oscal_documents(
    library: ControlLibrary, report: dict[str, Any], *, generated: str, period: dict[str, str], system_name: str
) -> dict[str, bytes]:
    """File name -> validated OSCAL JSON bytes, for the six documents."""
    from trestle.oscal.assessment_results import AssessmentResults
    from trestle.oscal.catalog import Catalog
    from trestle.oscal.component import ComponentDefinition
    from trestle.oscal.poam import PlanOfActionAndMilestones
    from trestle.oscal.profile import Profile
    from trestle.oscal.ssp import SystemSecurityPlan

    return {
        "catalog.json": _validated("catalog", Catalog.model_validate, catalog(library, generated)),
        "profile.json": _validated("profile", Profile.model_validate, profile(library, generated)),
        "component-definition.json": _validated(
            "component definition", ComponentDefinition.model_validate, component_definition(library, generated)
        ),
        "ssp.json": _validated("SSP", SystemSecurityPlan.model_validate, ssp(library, report, generated, system_name)),
        "assessment-results.json": _validated(
            "assessment results", AssessmentResults.model_validate, assessment_results(report, generated, period)
        ),
        "poam.json": _validated("POA&M", PlanOfActionAndMilestones.model_validate, poam(report, generated)),
    }
