"""Hypothesis over a real stored log: it grows by random batches; every proof it serves verifies."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assay.instance import Instance
from assay.ledger import AuditLog, Event
from assay.ledger.merkle import leaf_hash, verify_consistency, verify_inclusion
from assay.ledger.note import Verifier, open_checkpoint


@pytest.fixture
def log(instance: Instance) -> Iterator[AuditLog]:
    opened = AuditLog.open(instance)
    try:
        yield opened
    finally:
        opened.close()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    grow=st.integers(1, 700),
    picks=st.lists(st.integers(0, 10**9), min_size=1, max_size=5),
    old_pick=st.integers(0, 10**9),
)
def test_every_served_proof_verifies_against_a_signed_checkpoint(
    log: AuditLog, grow: int, picks: list[int], old_pick: int
) -> None:
    # The log persists across examples, so positions are drawn independently of its size.
    before = log.size()
    old_root = log.root(before) if before else None
    log.append_batch([Event(type="test.grow", actor="system", attributes={"n": before + n}) for n in range(grow)])
    signed = log.checkpoint(new=True)
    checkpoint = open_checkpoint(signed.note, Verifier.from_vkey(log.vkey))
    size = checkpoint.size
    assert size == before + grow + 1  # the events and the checkpoint's record
    for index in (pick % size for pick in picks):
        proof = log.inclusion_proof(index, size)
        verify_inclusion(leaf_hash(log.entry(index).leaf), index, size, proof, checkpoint.root)
    if old_root is not None:
        verify_consistency(before, size, old_root, checkpoint.root, log.consistency_proof(before, size))
    old = 1 + old_pick % size
    verify_consistency(old, size, log.root(old), checkpoint.root, log.consistency_proof(old, size))
