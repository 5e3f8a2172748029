"""The Merkle core against the transparency-dev RFC 6962 vectors and generated trees."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.disclosure.merkle import (
    EMPTY_ROOT,
    CompactRange,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "rfc6962"
INCLUSION_FILES = sorted((VECTORS / "inclusion").rglob("*.json"))
CONSISTENCY_FILES = sorted((VECTORS / "consistency").rglob("*.json"))

# The eight leaves behind the vectors (transparency-dev/merkle testonly) and the
# RFC 6962 roots of their prefixes, as published with the Certificate Transparency code.
KAT_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
KAT_ROOTS = [
    bytes.fromhex(h)
    for h in (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]
KAT_LEAF_HASHES = [leaf_hash(d) for d in KAT_LEAVES]

# Hypothesis must not leave a .hypothesis/ database in the working tree.
PROPERTY = settings(database=None, deadline=None, max_examples=150)


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


def _proof(case: dict[str, Any]) -> list[bytes]:
    # The Go encoder writes a nil proof as JSON null and an empty one as [].
    return [_b64(p) for p in case["proof"] or []]


def _id(path: Path) -> str:
    return path.relative_to(VECTORS).as_posix()


def _generated_leaves(n: int, salt: bytes = b"") -> list[bytes]:
    return [leaf_hash(salt + i.to_bytes(8, "big")) for i in range(n)]


def _reference_mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 §2.1 MTH written as the recursive definition, to check the fast one."""
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = 1 << ((n - 1).bit_length() - 1)
    return node_hash(_reference_mth(leaves[:k]), _reference_mth(leaves[k:]))


def _flip(value: bytes, bit: int) -> bytes:
    bit %= len(value) * 8
    out = bytearray(value)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


# --- published vectors -------------------------------------------------------------------


def test_vectors_are_present() -> None:
    assert len(INCLUSION_FILES) == 98
    assert len(CONSISTENCY_FILES) == 98


@pytest.mark.parametrize("path", INCLUSION_FILES, ids=_id)
def test_inclusion_vector(path: Path) -> None:
    case = _load(path)
    args = (_b64(case["leafHash"]), case["leafIdx"], case["treeSize"], _proof(case))
    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args, _b64(case["root"]))
    else:
        verify_inclusion(*args, _b64(case["root"]))


@pytest.mark.parametrize("path", CONSISTENCY_FILES, ids=_id)
def test_consistency_vector(path: Path) -> None:
    case = _load(path)
    args = (case["size1"], case["size2"], _b64(case["root1"]), _b64(case["root2"]), _proof(case))
    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def test_known_roots() -> None:
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT
    assert root([]) == EMPTY_ROOT
    for size in range(1, 9):
        assert root(KAT_LEAF_HASHES[:size]) == KAT_ROOTS[size - 1]


@pytest.mark.parametrize(
    "path",
    [p for p in INCLUSION_FILES if p.name == "happy-path.json"],
    ids=_id,
)
def test_generated_inclusion_proof_matches_vector(path: Path) -> None:
    case = _load(path)
    index, size = case["leafIdx"], case["treeSize"]
    assert KAT_LEAF_HASHES[index] == _b64(case["leafHash"])
    assert root(KAT_LEAF_HASHES[:size]) == _b64(case["root"])
    assert inclusion_proof(KAT_LEAF_HASHES, index, size) == _proof(case)


@pytest.mark.parametrize(
    "path",
    [p for p in CONSISTENCY_FILES if p.name == "happy-path.json"],
    ids=_id,
)
def test_generated_consistency_proof_matches_vector(path: Path) -> None:
    case = _load(path)
    size1, size2 = case["size1"], case["size2"]
    assert root(KAT_LEAF_HASHES[:size1]) == _b64(case["root1"])
    assert root(KAT_LEAF_HASHES[:size2]) == _b64(case["root2"])
    assert consistency_proof(KAT_LEAF_HASHES, size1, size2) == _proof(case)


# --- exhaustive small trees --------------------------------------------------------------


def test_root_matches_recursive_definition() -> None:
    leaves = _generated_leaves(130)
    for size in range(131):
        assert root(leaves[:size]) == _reference_mth(leaves[:size])


def test_every_proof_in_small_trees() -> None:
    leaves = _generated_leaves(40)
    roots = [root(leaves[:n]) for n in range(41)]
    for size in range(1, 41):
        for index in range(size):
            proof = inclusion_proof(leaves, index, size)
            verify_inclusion(leaves[index], index, size, proof, roots[size])
            if size > 1:
                other = (index + 1) % size
                with pytest.raises(ProofError):
                    verify_inclusion(leaves[index], other, size, proof, roots[size])
        for size1 in range(1, size + 1):
            proof = consistency_proof(leaves, size1, size)
            verify_consistency(size1, size, roots[size1], roots[size], proof)


def test_compact_range_matches_root_at_every_size() -> None:
    leaves = _generated_leaves(300)
    cr = CompactRange()
    assert cr.size == 0
    assert cr.root() == EMPTY_ROOT
    for size in range(1, 301):
        cr.append(leaves[size - 1])
        assert cr.size == size
        assert len(cr.to_list()) == size.bit_count()
        assert cr.root() == root(leaves[:size])


def test_compact_range_persists() -> None:
    leaves = _generated_leaves(77)
    cr = CompactRange()
    cr.extend(leaves[:50])
    restored = CompactRange.from_list(cr.size, cr.to_list())
    restored.extend(leaves[50:])
    assert restored.size == 77
    assert restored.root() == root(leaves)
    with pytest.raises(ValueError, match="frontier"):
        CompactRange.from_list(50, cr.to_list()[:-1])
    with pytest.raises(ValueError):
        CompactRange.from_list(50, [*cr.to_list()[:-1], b"short"])
    with pytest.raises(ValueError):
        cr.append(b"\x00" * 31)


@pytest.mark.slow
def test_million_leaves() -> None:
    leaves = _generated_leaves(1_000_000)
    cr = CompactRange()
    cr.extend(leaves)
    assert root(leaves) == cr.root()


# --- property tests ----------------------------------------------------------------------


@st.composite
def _tree_and_index(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(min_value=1, max_value=300))
    return size, draw(st.integers(min_value=0, max_value=size - 1))


@st.composite
def _two_sizes(draw: st.DrawFn) -> tuple[int, int]:
    size2 = draw(st.integers(min_value=1, max_value=300))
    return draw(st.integers(min_value=1, max_value=size2)), size2


@PROPERTY
@given(_tree_and_index(), st.binary(max_size=8))
def test_inclusion_proofs_verify(tree: tuple[int, int], salt: bytes) -> None:
    size, index = tree
    leaves = _generated_leaves(size, salt)
    proof = inclusion_proof(leaves, index, size)
    verify_inclusion(leaves[index], index, size, proof, root(leaves))


@PROPERTY
@given(_two_sizes(), st.binary(max_size=8))
def test_consistency_proofs_verify(sizes: tuple[int, int], salt: bytes) -> None:
    size1, size2 = sizes
    leaves = _generated_leaves(size2, salt)
    proof = consistency_proof(leaves, size1, size2)
    verify_consistency(size1, size2, root(leaves[:size1]), root(leaves), proof)


@PROPERTY
@given(st.integers(min_value=0, max_value=300), st.binary(max_size=8))
def test_compact_range_equals_root(size: int, salt: bytes) -> None:
    leaves = _generated_leaves(size, salt)
    cr = CompactRange()
    cr.extend(leaves)
    assert cr.root() == root(leaves)
    assert CompactRange.from_list(size, cr.to_list()).root() == cr.root()


@PROPERTY
@given(_tree_and_index(), st.integers(min_value=0), st.integers(min_value=0))
def test_flipped_bit_in_inclusion_proof_is_rejected(
    tree: tuple[int, int], which: int, bit: int
) -> None:
    size, index = tree
    leaves = _generated_leaves(size)
    proof = inclusion_proof(leaves, index, size)
    tree_root = root(leaves)
    if proof:
        which %= len(proof)
        proof[which] = _flip(proof[which], bit)
        with pytest.raises(ProofError):
            verify_inclusion(leaves[index], index, size, proof, tree_root)
    else:  # a one-leaf tree has no proof; corrupt the leaf instead
        with pytest.raises(ProofError):
            verify_inclusion(_flip(leaves[index], bit), index, size, proof, tree_root)


@PROPERTY
@given(_two_sizes(), st.integers(min_value=0), st.integers(min_value=0))
def test_flipped_bit_in_consistency_proof_is_rejected(
    sizes: tuple[int, int], which: int, bit: int
) -> None:
    size1, size2 = sizes
    leaves = _generated_leaves(size2)
    root1, root2 = root(leaves[:size1]), root(leaves)
    proof = consistency_proof(leaves, size1, size2)
    if proof:
        which %= len(proof)
        proof[which] = _flip(proof[which], bit)
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, root1, root2, proof)
    else:  # equal sizes have no proof; a changed root must then be caught
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, root1, _flip(root2, bit), proof)


# --- edge cases --------------------------------------------------------------------------


def _tree(n: int) -> tuple[list[bytes], list[bytes]]:
    leaves = _generated_leaves(n)
    return leaves, [root(leaves[:i]) for i in range(n + 1)]


def test_inclusion_edge_cases() -> None:
    leaves, roots = _tree(13)
    proof = inclusion_proof(leaves, 5, 13)
    verify_inclusion(leaves[5], 5, 13, proof, roots[13])
    cases: list[tuple[str, tuple[bytes, int, int, list[bytes], bytes]]] = [
        ("not below", (leaves[5], 13, 13, proof, roots[13])),
        ("not below", (leaves[0], 0, 0, [], EMPTY_ROOT)),
        ("negative", (leaves[5], -1, 13, proof, roots[13])),
        ("longer", (leaves[5], 5, 13, [*proof, proof[0]], roots[13])),
        ("shorter", (leaves[5], 5, 13, proof[:-1], roots[13])),
        ("shorter", (leaves[5], 5, 13, [], roots[13])),
        ("proof element 1", (leaves[5], 5, 13, [proof[0], proof[1][:31], *proof[2:]], roots[13])),
        ("leaf hash", (leaves[5][:31], 5, 13, proof, roots[13])),
        ("root hash", (leaves[5], 5, 13, proof, roots[13] + b"\x00")),
        ("given root", (leaves[6], 5, 13, proof, roots[13])),
        ("given root", (leaves[5], 5, 13, proof, roots[12])),
    ]
    for message, args in cases:
        with pytest.raises(ProofError, match=message):
            verify_inclusion(*args)


def test_consistency_edge_cases() -> None:
    leaves, roots = _tree(13)
    proof = consistency_proof(leaves, 6, 13)
    verify_consistency(6, 13, roots[6], roots[13], proof)
    verify_consistency(13, 13, roots[13], roots[13], [])
    cases: list[tuple[str, tuple[int, int, bytes, bytes, list[bytes]]]] = [
        ("larger than size2", (13, 6, roots[13], roots[6], proof)),
        ("empty tree", (0, 13, EMPTY_ROOT, roots[13], [])),
        ("empty tree", (0, 0, EMPTY_ROOT, EMPTY_ROOT, [])),
        ("negative", (-1, 13, roots[6], roots[13], proof)),
        ("sizes are equal", (13, 13, roots[13], roots[13], [roots[13]])),
        ("different roots", (13, 13, roots[13], roots[12], [])),
        ("empty", (6, 13, roots[6], roots[13], [])),
        ("longer", (6, 13, roots[6], roots[13], [*proof, proof[0]])),
        ("shorter", (6, 13, roots[6], roots[13], proof[:-1])),
        ("proof element 0", (6, 13, roots[6], roots[13], [proof[0][:31], *proof[1:]])),
        ("root1", (6, 13, roots[6][:31], roots[13], proof)),
        ("root1", (6, 13, roots[5], roots[13], proof)),
        ("root2", (6, 13, roots[6], roots[12], proof)),
        ("root", (6, 13, roots[13], roots[6], proof)),
        ("shorter", (7, 13, roots[7], roots[13], proof)),  # the proof for 6, not 7
        ("root", (6, 12, roots[6], roots[12], consistency_proof(leaves, 6, 13))),
    ]
    for message, args in cases:
        with pytest.raises(ProofError, match=message):
            verify_consistency(*args)


def test_proof_generation_rejects_bad_arguments() -> None:
    leaves = _generated_leaves(8)
    with pytest.raises(ValueError, match="outside"):
        inclusion_proof(leaves, 8, 8)
    with pytest.raises(ValueError, match="exceeds"):
        inclusion_proof(leaves, 0, 9)
    with pytest.raises(ValueError, match="larger"):
        consistency_proof(leaves, 5, 4)
    with pytest.raises(ValueError, match="size1 > 0"):
        consistency_proof(leaves, 0, 4)
    with pytest.raises(ValueError, match="exceeds"):
        consistency_proof(leaves, 1, 9)
    assert consistency_proof(leaves, 8, 8) == []
    with pytest.raises(ValueError, match="leaf hash 3"):
        root([*leaves[:3], b"short", *leaves[4:]])


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest()
    assert leaf_hash(a + b) != node_hash(a, b)
