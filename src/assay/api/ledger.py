"""Auditor API for the ledger: checkpoint, verifier key, proofs and tiles.

All routes need an ``auditor`` or ``admin`` key. Tiles and entry bundles are
served at the c2sp.org/tlog-tiles paths under ``/api/v1/ledger/``, so
tiled-log clients can read the log directly with that prefix.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse, Response

from assay.api.auth import Principal, require_role
from assay.errors import NotFoundError
from assay.ledger.log import AuditLog
from assay.ledger.tiles import TILE_WIDTH, TileError, encode_bundle, parse_tile_path

__all__ = ["audit_log_of", "router"]

router = APIRouter(prefix="/api/v1/ledger", tags=["ledger"])
Auditor = Annotated[Principal, Depends(require_role("auditor", "admin", platform=True))]


def audit_log_of(request: Request) -> AuditLog:
    """The process's one AuditLog (tests may set ``app.state.audit_log`` to their own)."""
    log: AuditLog | None = getattr(request.app.state, "audit_log", None)
    return log if log is not None else AuditLog.shared(request.app.state.instance)


@router.get("/checkpoint", response_class=PlainTextResponse, summary="Latest signed checkpoint")
def latest_checkpoint(request: Request, _: Auditor) -> PlainTextResponse:
    latest = audit_log_of(request).latest_checkpoint()
    if latest is None:
        raise NotFoundError("no checkpoint has been signed yet", hint="Append an event or run `assay ledger checkpoint --new`.")
    return PlainTextResponse(latest.note, headers={"cache-control": "no-cache"})


@router.get("/vkey", response_class=PlainTextResponse, summary="Verifier key of the log")
def vkey(request: Request, _: Auditor) -> PlainTextResponse:
    return PlainTextResponse(audit_log_of(request).vkey + "\n")


@router.get("/proof/{index}", response_class=PlainTextResponse, summary="c2sp.org/tlog-proof for an entry")
def proof(request: Request, index: int, _: Auditor) -> PlainTextResponse:
    log = audit_log_of(request)
    latest = log.latest_checkpoint()
    if latest is None or not 0 <= index < latest.size:
        raise NotFoundError(
            f"entry {index} is not covered by the latest checkpoint",
            hint="Checkpoints are signed at least every 10 seconds; retry shortly.",
        )
    return PlainTextResponse(log.prove(index))


@router.get("/consistency", summary="Consistency proof between two tree sizes")
def consistency(
    request: Request,
    _: Auditor,
    old: Annotated[int, Query(ge=1)],
    new: Annotated[int, Query(ge=1)],
) -> dict[str, Any]:
    proof_hashes = audit_log_of(request).consistency_proof(old, new)
    return {"old_size": old, "new_size": new, "proof": [base64.b64encode(h).decode() for h in proof_hashes]}


@router.get("/tile/{path:path}", summary="Tiles and entry bundles (c2sp.org/tlog-tiles)")
def tile(request: Request, path: str, _: Auditor) -> Response:
    try:
        level, index, width = parse_tile_path("tile/" + path)
    except TileError as exc:
        raise NotFoundError(f"{exc}", hint="Use tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>].") from exc
    log = audit_log_of(request)
    if level is None:
        start = index * TILE_WIDTH
        leaves = log.entry_leaves(start, start + width)
        if len(leaves) != width:
            raise NotFoundError(f"entry bundle {path} does not exist yet")
        data = encode_bundle(leaves)
    else:
        data = log.tile(level, index, width)
    return Response(data, media_type="application/octet-stream", headers={"cache-control": "public, max-age=31536000, immutable"})
