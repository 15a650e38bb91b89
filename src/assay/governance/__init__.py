"""Model governance and processing integrity.

The model registry, route change management with evaluation gates,
evaluations, output validation and decision records. See docs/governance.md.
"""

from assay.governance._audit import AuditSink, open_audit
from assay.governance.changes import (
    ChangeRequest,
    ChangeStep,
    Thresholds,
    activate_change,
    approve_change,
    attach_evaluation,
    change_steps,
    get_change,
    list_changes,
    propose_change,
    rollback_change,
)
from assay.governance.checks import GOVERNANCE_CHECKS, CheckFinding
from assay.governance.decisions import (
    DecisionRecord,
    DecisionRecorder,
    Explanation,
    explain_request,
    record_decision,
)
from assay.governance.evaluation import (
    Dataset,
    EvalTarget,
    EvaluationResult,
    EvaluationScheduler,
    HttpTarget,
    TargetReply,
    evaluate_change,
    get_evaluation,
    load_dataset,
    run_due_evaluations,
    run_evaluation,
    schedule_evaluation,
)
from assay.governance.registry import (
    ModelSpec,
    ModelVersion,
    ProviderTerms,
    get_model,
    list_models,
    register_model,
)
from assay.governance.routes import (
    GovernedRoute,
    RegistryResolver,
    get_route,
    list_routes,
    register_upstream_models,
)
from assay.governance.scorers import Scorer, ScoreResult, register_scorer
from assay.governance.validation import OutputVerdict, validate_output

__all__ = [
    "GOVERNANCE_CHECKS",
    "AuditSink",
    "ChangeRequest",
    "ChangeStep",
    "CheckFinding",
    "Dataset",
    "DecisionRecord",
    "DecisionRecorder",
    "EvalTarget",
    "EvaluationResult",
    "EvaluationScheduler",
    "Explanation",
    "GovernedRoute",
    "HttpTarget",
    "ModelSpec",
    "ModelVersion",
    "OutputVerdict",
    "ProviderTerms",
    "RegistryResolver",
    "ScoreResult",
    "Scorer",
    "TargetReply",
    "Thresholds",
    "activate_change",
    "approve_change",
    "attach_evaluation",
    "change_steps",
    "evaluate_change",
    "explain_request",
    "get_change",
    "get_evaluation",
    "get_model",
    "get_route",
    "list_changes",
    "list_models",
    "list_routes",
    "load_dataset",
    "open_audit",
    "propose_change",
    "record_decision",
    "register_model",
    "register_scorer",
    "register_upstream_models",
    "rollback_change",
    "run_due_evaluations",
    "run_evaluation",
    "schedule_evaluation",
    "validate_output",
]
