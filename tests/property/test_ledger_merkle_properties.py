"""Hypothesis: proofs from any reader verify; tiles agree with the plain tree; JSON is canonical."""

from __future__ import annotations

import hashlib

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.ledger.events import canonical_json
from assay.ledger.merkle import (
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    range_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from assay.ledger.tiles import TileBuilder, TileCache


def _reader(hashes: list[bytes]):  # type: ignore[no-untyped-def]
    def read(level: int, index: int) -> bytes:
        return root_from_leaf_hashes(hashes[index << level : (index + 1) << level])

    return read


def _leaves(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


@given(st.integers(1, 300), st.data())
@settings(max_examples=150, deadline=None)
def test_every_inclusion_proof_verifies_and_a_wrong_index_fails(size: int, data: st.DataObject) -> None:
    hashes = _leaves(size)
    root = root_from_leaf_hashes(hashes)
    index = data.draw(st.integers(0, size - 1))
    proof = inclusion_proof(index, size, _reader(hashes))
    verify_inclusion(hashes[index], index, size, proof, root)
    if size > 1:
        other = data.draw(st.integers(0, size - 1).filter(lambda i: i != index))
        try:
            verify_inclusion(hashes[other], index, size, proof, root)
        except ProofError:
            pass
        else:
            raise AssertionError("a different leaf verified")


@given(st.integers(1, 300), st.data())
@settings(max_examples=150, deadline=None)
def test_every_consistency_proof_verifies(new: int, data: st.DataObject) -> None:
    hashes = _leaves(new)
    old = data.draw(st.integers(1, new))
    read = _reader(hashes)
    proof = consistency_proof(old, new, read)
    old_root, new_root = root_from_leaf_hashes(hashes[:old]), root_from_leaf_hashes(hashes)
    verify_consistency(old, new, old_root, new_root, proof)
    if proof:
        flipped = bytearray(proof[0])
        flipped[0] ^= 1
        try:
            verify_consistency(old, new, old_root, new_root, [bytes(flipped), *proof[1:]])
        except ProofError:
            pass
        else:
            raise AssertionError("a modified proof verified")


@given(st.integers(0, 1200))
@settings(max_examples=40, deadline=None)
def test_tiles_serve_the_same_nodes_as_the_plain_tree(size: int) -> None:
    hashes = _leaves(size)
    builder = TileBuilder()
    for digest in hashes:
        builder.append(digest)
    full, partial = builder.drain()
    stored = {(level, index): data for level, index, data in full + partial}
    cache = TileCache(lambda level, index: stored[(level, index)])
    assert range_hash(0, size, cache.node) == root_from_leaf_hashes(hashes)
    if size:
        index = size // 3
        assert inclusion_proof(index, size, cache.node) == inclusion_proof(index, size, _reader(hashes))


def test_tiles_across_two_levels() -> None:
    size = 256 * 256 + 300
    hashes = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(size)]
    builder = TileBuilder()
    for digest in hashes:
        builder.append(digest)
    full, partial = builder.drain()
    stored = {(level, index): data for level, index, data in full + partial}
    assert (1, 0) in stored and len(stored[(1, 0)]) == 8192 and (2, 0) in stored
    cache = TileCache(lambda level, index: stored[(level, index)])
    assert range_hash(0, size, cache.node) == root_from_leaf_hashes(hashes)


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)


@given(_json)
@settings(max_examples=300, deadline=None)
def test_canonical_json_equals_rfc8785(value: object) -> None:
    try:
        expected = rfc8785.dumps(value)
    except Exception:  # noqa: BLE001 - lone surrogates are not JSON; Event validation refuses them
        return
    assert canonical_json(value) == expected


@given(st.binary(min_size=32, max_size=32), st.uuids())
@settings(max_examples=300, deadline=None)
def test_hashes_and_ids_are_never_mistaken_for_personal_data(digest: bytes, uid: object) -> None:
    from assay.ledger.events import Event

    Event(
        type="gateway.request", actor=f"apikey:{uid}", tenant=str(uid),
        object_ids={"request_id": str(uid)},
        attributes={"ciphertext_sha256": digest.hex(), "b64": __import__("base64").b64encode(digest).decode()},
    )


def _rfc6962_path(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 6962 section 2.1.1 PATH, literally (the reference for the iterative version)."""
    n = len(leaves)
    if n == 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if m < k:
        return [*_rfc6962_path(m, leaves[:k]), root_from_leaf_hashes(leaves[k:])]
    return [*_rfc6962_path(m - k, leaves[k:]), root_from_leaf_hashes(leaves[:k])]


@given(st.integers(1, 400), st.data())
@settings(max_examples=200, deadline=None)
def test_inclusion_proof_equals_the_rfc_definition(size: int, data: st.DataObject) -> None:
    hashes = _leaves(size)
    index = data.draw(st.integers(0, size - 1))
    assert inclusion_proof(index, size, _reader(hashes)) == _rfc6962_path(index, hashes)
