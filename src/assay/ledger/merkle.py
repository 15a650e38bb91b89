"""RFC 6962 Merkle trees: hashing, proofs, and RFC 9162 verification.

Pure: standard library only. Proof *generation* is expressed over a callback
that returns the hash of a perfect subtree (``level``, ``index``), so the same
code serves an in-memory list, the database tiles and an exported directory.

Verification follows RFC 9162 section 2.1.3.2 (inclusion) and 2.1.4.2
(consistency) step by step, plus the two edge rules of the reference
implementation: a consistency proof from size 0 is an error, and every hash in a
proof must be exactly 32 bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "NodeReader",
    "ProofError",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "perfect_subtrees",
    "range_hash",
    "root_from_leaf_hashes",
    "root_from_peaks",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
_LEAF = b"\x00"
_NODE = b"\x01"

#: Returns the hash of the perfect subtree of height ``level`` at position ``index``
#: (it covers leaves ``index * 2**level`` to ``(index + 1) * 2**level - 1``).
NodeReader = Callable[[int, int], bytes]


class ProofError(ValueError):
    """A proof did not verify; the message says which check failed."""


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``."""
    return hashlib.sha256(_LEAF + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(_NODE + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def perfect_subtrees(start: int, end: int) -> list[tuple[int, int]]:
    """Decompose ``[start, end)`` into perfect subtrees, left to right.

    ``start`` must be a multiple of the largest subtree, which holds for every
    range RFC 6962 proofs ask for. Each item is ``(level, index)``.
    """
    parts: list[tuple[int, int]] = []
    position = start
    remaining = end - start
    while remaining:
        level = remaining.bit_length() - 1
        parts.append((level, position >> level))
        position += 1 << level
        remaining -= 1 << level
    return parts


def root_from_peaks(peaks: Sequence[bytes]) -> bytes:
    """Fold perfect-subtree hashes (left to right, decreasing size) into a root."""
    if not peaks:
        return EMPTY_ROOT
    result = peaks[-1]
    for peak in reversed(peaks[:-1]):
        result = node_hash(peak, result)
    return result


def range_hash(start: int, end: int, read: NodeReader) -> bytes:
    """MTH of leaves ``[start, end)`` from perfect-subtree hashes."""
    width = end - start
    if width & (width - 1) == 0 and width:  # one perfect subtree: the common case in proofs
        level = width.bit_length() - 1
        return read(level, start >> level)
    return root_from_peaks([read(level, index) for level, index in perfect_subtrees(start, end)])


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """MTH of a list of leaf hashes (RFC 6962 section 2.1), iteratively."""
    if not hashes:
        return EMPTY_ROOT
    level = list(hashes)
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def inclusion_proof(index: int, size: int, read: NodeReader) -> list[bytes]:
    """RFC 6962 PATH(index, D[size]): the audit path from the leaf's sibling up.

    Walks up from the leaf: at each height the sibling subtree is either perfect
    (one read), cut by the tree's right edge (the MTH of what exists), or absent
    (the node is promoted and the level contributes nothing).
    """
    if not 0 <= index < size:
        raise ProofError(f"index {index} is outside a tree of size {size}")
    proof = []
    height = 0
    while (1 << height) < size:
        sibling = (index >> height) ^ 1
        start = sibling << height
        if start < size:
            end = start + (1 << height)
            proof.append(read(height, sibling) if end <= size else range_hash(start, size, read))
        height += 1
    return proof


def _consistency_ranges(old: int, new: int) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    lo, hi, complete = 0, new, True
    while True:
        n, m = hi - lo, old - lo
        if m == n:
            if not complete:
                ranges.append((lo, hi))
            break
        k = _split(n)
        if m <= k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
            complete = False
    ranges.reverse()
    return ranges


def consistency_proof(old: int, new: int, read: NodeReader) -> list[bytes]:
    """RFC 6962 PROOF(old, D[new])."""
    if not 0 < old <= new:
        raise ProofError(f"no consistency proof from size {old} to size {new}")
    return [range_hash(lo, hi, read) for lo, hi in _consistency_ranges(old, new)]


def _check_sizes(proof: Sequence[bytes], *hashes: bytes) -> None:
    for item in (*hashes, *proof):
        if len(item) != HASH_SIZE:
            raise ProofError(f"a hash is {len(item)} bytes long; every hash must be 32 bytes")


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """RFC 9162 section 2.1.3.2. Raises :class:`ProofError` unless it verifies."""
    if index < 0 or index >= size:
        raise ProofError(f"index {index} is outside a tree of size {size}")
    _check_sizes(proof, leaf, root)
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion proof is shorter than the tree is deep")
    if r != root:
        raise ProofError("the inclusion proof leads to a different root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 section 2.1.4.2. Raises :class:`ProofError` unless it verifies."""
    if new_size < old_size:
        raise ProofError(f"size {old_size} is larger than size {new_size}")
    if old_size == 0:
        raise ProofError("a consistency proof from the empty tree proves nothing")
    if old_size == new_size:
        if proof:
            raise ProofError("equal sizes need an empty consistency proof")
        if old_root != new_root:
            raise ProofError("equal sizes but the roots differ")
        return
    if not proof:
        raise ProofError("the consistency proof is empty")
    _check_sizes(proof, old_root, new_root)
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    fr, sr = _consistency_walk(path, old_size - 1, new_size - 1)
    if fr != old_root:
        raise ProofError("the consistency proof does not lead to the old root")
    if sr != new_root:
        raise ProofError("the consistency proof does not lead to the new root")


def _consistency_walk(path: Sequence[bytes], fn: int, sn: int) -> tuple[bytes, bytes]:
    """Steps 4-7 of RFC 9162 section 2.1.4.2: the two roots the path leads to."""
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency proof is shorter than the tree is deep")
    return fr, sr
