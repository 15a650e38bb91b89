"""Every RFC 6962 / RFC 9162 vector in shared/vectors/merkle gives the expected result."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from assay.ledger.merkle import ProofError, verify_consistency, verify_inclusion

VECTORS = Path(__file__).resolve().parents[1] / "assets" / "ledger" / "merkle"


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value or "")


def _proof(data: dict[str, object]) -> list[bytes]:
    return [_b64(item) for item in (data.get("proof") or [])]  # type: ignore[attr-defined]


def _files(kind: str) -> list[Path]:
    return sorted((VECTORS / kind).rglob("*.json"))


@pytest.mark.parametrize("path", _files("inclusion"), ids=lambda p: str(p.relative_to(VECTORS)))
def test_inclusion_vector(path: Path) -> None:
    data = json.loads(path.read_text())
    def run() -> None:
        verify_inclusion(
            _b64(data["leafHash"]), data["leafIdx"], data["treeSize"], _proof(data), _b64(data["root"])
        )
    if data["wantErr"]:
        with pytest.raises(ProofError):
            run()
    else:
        run()


@pytest.mark.parametrize("path", _files("consistency"), ids=lambda p: str(p.relative_to(VECTORS)))
def test_consistency_vector(path: Path) -> None:
    data = json.loads(path.read_text())
    def run() -> None:
        verify_consistency(
            data["size1"], data["size2"], _b64(data["root1"]), _b64(data["root2"]), _proof(data)
        )
    if data["wantErr"]:
        with pytest.raises(ProofError):
            run()
    else:
        run()


def test_vector_directory_is_present() -> None:
    assert len(_files("inclusion")) > 50
    assert len(_files("consistency")) > 50
