"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and proof verification.

The disclosure log is only tamper-evident if anyone can check, with nothing but
hashes, that an entry is in the log and that the log never rewrote its past.
This module is that arithmetic, kept free of storage so that it can be tested
against the published vectors and reused by independent verifiers.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "ProofError",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""SHA-256 output length; every leaf, node and root hash must have it."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""RFC 6962 §2.1: the root of the empty tree is the hash of the empty string."""


class ProofError(ValueError):
    """A proof did not verify; the message says which check failed."""


def leaf_hash(data: bytes) -> bytes:
    """Hash leaf data with the 0x00 prefix so a leaf can never pose as a node."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash two children with the 0x01 prefix (second-preimage resistance)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what} is {len(value)} bytes, expected {HASH_SIZE}")


def _check_leaf_hashes(leaf_hashes: Sequence[bytes]) -> None:
    if set(map(len, leaf_hashes)) <= {HASH_SIZE}:
        return
    for i, h in enumerate(leaf_hashes):
        if len(h) != HASH_SIZE:
            raise ValueError(f"leaf hash {i} is {len(h)} bytes, expected {HASH_SIZE}")


def _root_unchecked(leaf_hashes: Sequence[bytes]) -> bytes:
    """Level-by-level hashing; promoting an unpaired last node gives the RFC 6962 shape."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    sha256 = hashlib.sha256
    level = list(leaf_hashes)
    while n > 1:
        paired = n & ~1
        nxt = [sha256(_NODE_PREFIX + level[i] + level[i + 1]).digest() for i in range(0, paired, 2)]
        if n & 1:
            nxt.append(level[-1])
        level = nxt
        n = len(level)
    return level[0]


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """Merkle Tree Hash (RFC 6962 §2.1) of the given leaf hashes, in O(n) without recursion."""
    _check_leaf_hashes(leaf_hashes)
    return _root_unchecked(leaf_hashes)


def _split(n: int) -> int:
    """Largest power of two strictly below n (n >= 2): where RFC 6962 splits a tree."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_size(leaf_hashes: Sequence[bytes], tree_size: int, what: str) -> None:
    if tree_size < 0:
        raise ValueError(f"{what} must not be negative, got {tree_size}")
    if tree_size > len(leaf_hashes):
        raise ValueError(f"{what} {tree_size} exceeds the {len(leaf_hashes)} leaves supplied")


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, tree_size: int) -> list[bytes]:
    """Audit path PATH(index, D[0:tree_size]) of RFC 6962 §2.1.1, ordered leaf to root.

    Costs O(tree_size) hashing because no interior nodes are stored here.
    """
    _check_size(leaf_hashes, tree_size, "tree_size")
    if not 0 <= index < tree_size:
        raise ValueError(f"index {index} is outside a tree of size {tree_size}")
    _check_leaf_hashes(leaf_hashes[:tree_size])
    proof: list[bytes] = []
    lo, hi, m = 0, tree_size, index
    while hi - lo > 1:
        k = _split(hi - lo)
        if m < k:
            proof.append(_root_unchecked(leaf_hashes[lo + k : hi]))
            hi = lo + k
        else:
            proof.append(_root_unchecked(leaf_hashes[lo : lo + k]))
            lo += k
            m -= k
    proof.reverse()
    return proof


def consistency_proof(leaf_hashes: Sequence[bytes], size1: int, size2: int) -> list[bytes]:
    """Consistency proof PROOF(size1, D[0:size2]) of RFC 6962 §2.1.2.

    Equal sizes give an empty proof; size1 == 0 is refused because the verifier
    refuses it too (a proof from the empty tree proves nothing).
    """
    _check_size(leaf_hashes, size2, "size2")
    if size1 > size2:
        raise ValueError(f"size1 {size1} is larger than size2 {size2}")
    if size1 <= 0:
        raise ValueError("a consistency proof needs size1 > 0")
    _check_leaf_hashes(leaf_hashes[:size2])
    if size1 == size2:
        return []
    # Iterative SUBPROOF(m, D[lo:hi], b): descend, collecting siblings root-first.
    proof: list[bytes] = []
    lo, hi, m, complete = 0, size2, size1, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            proof.append(_root_unchecked(leaf_hashes[lo + k : hi]))
            hi = lo + k
        else:
            proof.append(_root_unchecked(leaf_hashes[lo : lo + k]))
            lo += k
            m -= k
            complete = False
    if not complete:
        proof.append(_root_unchecked(leaf_hashes[lo:hi]))
    proof.reverse()
    return proof


def _check_proof(proof: Sequence[bytes]) -> None:
    for i, p in enumerate(proof):
        _check_hash(p, f"proof element {i}")


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check an inclusion proof by the RFC 9162 §2.1.3.2 algorithm; raise ProofError if bad."""
    if index < 0 or tree_size < 0:
        raise ProofError(f"negative index {index} or tree size {tree_size}")
    if index >= tree_size:
        raise ProofError(f"leaf index {index} is not below tree size {tree_size}")
    _check_hash(leaf_hash, "leaf hash")
    _check_hash(root, "root hash")
    _check_proof(proof)
    fn, sn = index, tree_size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            raise ProofError(f"inclusion proof is longer than the path ({len(proof)} elements)")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"inclusion proof is shorter than the path ({len(proof)} elements)")
    if not hmac.compare_digest(r, root):
        raise ProofError("inclusion proof does not lead to the given root hash")


def verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> None:
    """Check a consistency proof by the RFC 9162 §2.1.4.2 algorithm; raise ProofError if bad.

    RFC 9162 defines the check for 0 < size1 < size2. Equal sizes are accepted
    only with an empty proof and identical roots; size1 == 0 is always refused
    because every tree extends the empty tree and such a "proof" proves nothing.
    """
    if size1 < 0 or size2 < 0:
        raise ProofError(f"negative tree size ({size1}, {size2})")
    if size1 > size2:
        raise ProofError(f"size1 {size1} is larger than size2 {size2}: a log cannot shrink")
    if size1 == 0:
        raise ProofError("consistency from the empty tree (size1 == 0) is meaningless")
    if size1 == size2:
        if proof:
            raise ProofError(f"sizes are equal but the proof has {len(proof)} elements")
        if not hmac.compare_digest(root1, root2):
            raise ProofError(f"two different roots for the same tree size {size1}")
        return
    if not proof:
        raise ProofError("consistency proof is empty")
    _check_hash(root1, "root1")
    _check_hash(root2, "root2")
    _check_proof(proof)

    path = list(proof)
    if size1 & (size1 - 1) == 0:  # size1 is a power of two: its root is a node on the path
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError(f"consistency proof is longer than needed ({len(proof)} elements)")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"consistency proof is shorter than needed ({len(proof)} elements)")
    if not hmac.compare_digest(fr, root1):
        raise ProofError("consistency proof does not reproduce root1")
    if not hmac.compare_digest(sr, root2):
        raise ProofError("consistency proof does not reproduce root2")


class CompactRange:
    """Right-edge frontier of the tree: the roots of its perfect subtrees, largest first.

    Holding only popcount(size) hashes lets the log append a leaf and produce the
    new root in O(log n) without reading earlier leaves back from storage.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    def append(self, leaf_hash: bytes) -> None:
        """Add one leaf hash, merging equal-sized subtrees as binary addition carries."""
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError(f"leaf hash is {len(leaf_hash)} bytes, expected {HASH_SIZE}")
        hashes = self._hashes
        hashes.append(leaf_hash)
        n = self._size
        while n & 1:
            right = hashes.pop()
            hashes[-1] = node_hash(hashes[-1], right)
            n >>= 1
        self._size += 1

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append several leaf hashes in order."""
        for h in leaf_hashes:
            self.append(h)

    def root(self) -> bytes:
        """Current tree root, folding the frontier from the right."""
        if not self._hashes:
            return EMPTY_ROOT
        r = self._hashes[-1]
        for h in reversed(self._hashes[:-1]):
            r = node_hash(h, r)
        return r

    def to_list(self) -> list[bytes]:
        """Frontier hashes for storage; persist them together with `size`."""
        return list(self._hashes)

    @classmethod
    def from_list(cls, size: int, hashes: Sequence[bytes]) -> CompactRange:
        """Rebuild from stored state, refusing a frontier that cannot belong to `size`."""
        if size < 0:
            raise ValueError(f"size must not be negative, got {size}")
        if len(hashes) != size.bit_count():
            raise ValueError(
                f"a tree of size {size} has {size.bit_count()} frontier hashes, got {len(hashes)}"
            )
        for i, h in enumerate(hashes):
            if len(h) != HASH_SIZE:
                raise ValueError(f"frontier hash {i} is {len(h)} bytes, expected {HASH_SIZE}")
        cr = cls()
        cr._size = size
        cr._hashes = [bytes(h) for h in hashes]
        return cr

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, root={self.root().hex()})"
