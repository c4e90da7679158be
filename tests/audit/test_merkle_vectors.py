"""Merkle tree primitives against the transparency-dev RFC 9162 vectors, the classic RFC 6962
example tree, and a naive recursive reference implementation of RFC 6962 §2.1."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import random
from pathlib import Path

import pytest

from hub.audit import merkle
from hub.audit.merkle import (
    CompactRange,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_at,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

#: ../shared beside the checkout; HUB_RFC9162_VECTORS for a copy elsewhere (a mutation run's scratch copy).
VECTORS = Path(os.environ.get("HUB_RFC9162_VECTORS")
               or Path(__file__).resolve().parents[2].parent / "shared" / "vectors" / "rfc9162" / "testdata")


def _cases(kind: str) -> list:
    folder = VECTORS / kind
    if not folder.is_dir():
        # Loud, not skipped: hundreds of cases would silently not run (test_the_vectors_are_there).
        return [pytest.param(None, id="vectors-missing")]
    files = sorted(folder.rglob("*.json"))
    return [pytest.param(path, id=str(path.relative_to(VECTORS))) for path in files]


def _b64(text: str) -> bytes:
    return base64.b64decode(text)


def _proof(raw: list[str] | None) -> list[bytes]:
    return [_b64(item) for item in raw or []]


# --- transparency-dev/merkle testdata (subtreeinclusion/subtreeconsistency are out of scope) --


@pytest.mark.parametrize("path", _cases("inclusion"))
def test_inclusion_vector(path: Path) -> None:
    assert path is not None, f"the RFC 9162 vectors are not at {VECTORS}: put ../shared beside the checkout"
    case = json.loads(path.read_text())
    ok = verify_inclusion(
        _b64(case["leafHash"]), case["leafIdx"], case["treeSize"], _proof(case["proof"]), _b64(case["root"])
    )
    assert ok is (not case["wantErr"]), case["desc"]


@pytest.mark.parametrize("path", _cases("consistency"))
def test_consistency_vector(path: Path) -> None:
    assert path is not None, f"the RFC 9162 vectors are not at {VECTORS}: put ../shared beside the checkout"
    case = json.loads(path.read_text())
    ok = verify_consistency(
        case["size1"], case["size2"], _b64(case["root1"]), _b64(case["root2"]), _proof(case["proof"])
    )
    assert ok is (not case["wantErr"]), case["desc"]


def test_vectors_include_both_outcomes() -> None:
    assert VECTORS.is_dir(), f"the RFC 9162 vectors are not at {VECTORS}: put ../shared beside the checkout"
    outcomes = {json.loads(p.read_text())["wantErr"] for p in (VECTORS / "inclusion").rglob("*.json")}
    assert outcomes == {True, False}


# --- The classic RFC 6962 / certificate-transparency example tree ----------------------------

CT_LEAVES = [
    bytes.fromhex(h)
    for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
              "606162636465666768696a6b6c6d6e6f")
]
# Roots of the first n of CT_LEAVES, as published with the certificate-transparency and
# transparency-dev test suites (the 6- and 8-leaf ones also appear in the RFC 9162 vectors).
CT_ROOTS = {
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}


def mth(hashes: list[bytes]) -> bytes:
    """RFC 6962 §2.1 MTH, recursively and literally (over leaf hashes)."""
    n = len(hashes)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashes[0]
    k = 1 << ((n - 1).bit_length() - 1)  # largest power of two smaller than n
    return node_hash(mth(hashes[:k]), mth(hashes[k:]))


def ref_path(m: int, hashes: list[bytes]) -> list[bytes]:
    """RFC 6962 §2.1.1 PATH(m, D[n])."""
    n = len(hashes)
    if n == 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if m < k:
        return ref_path(m, hashes[:k]) + [mth(hashes[k:])]
    return ref_path(m - k, hashes[k:]) + [mth(hashes[:k])]


def ref_subproof(m: int, hashes: list[bytes], complete: bool) -> list[bytes]:
    """RFC 6962 §2.1.2 SUBPROOF(m, D[n], b)."""
    n = len(hashes)
    if m == n:
        return [] if complete else [mth(hashes)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return ref_subproof(m, hashes[:k], complete) + [mth(hashes[k:])]
    return ref_subproof(m - k, hashes[k:], False) + [mth(hashes[:k])]


def stored_nodes(hashes: list[bytes]) -> dict[tuple[int, int], bytes]:
    """Every perfect aligned subtree, collected the way the DB layer stores them."""
    nodes: dict[tuple[int, int], bytes] = {}
    acc = CompactRange()
    for i, h in enumerate(hashes):
        nodes[(0, i)] = h
        for level, index, value in acc.append(h):
            nodes[(level, index)] = value
    return nodes


def getter(nodes: dict[tuple[int, int], bytes], size: int, calls: list | None = None):
    """get_node that refuses nodes outside the tree of `size` leaves: the DB holds those too
    (for later sizes), so reading one would silently give a wrong proof."""

    def get_node(level: int, index: int) -> bytes:
        assert (index + 1) << level <= size, f"node ({level}, {index}) is not in a tree of {size}"
        if calls is not None:
            calls.append((level, index))
        return nodes[(level, index)]

    return get_node


def test_hashes_have_domain_separation() -> None:
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    assert root_from_leaf_hashes([]) == hashlib.sha256(b"").digest() == merkle.EMPTY_ROOT


@pytest.mark.parametrize("n", sorted(CT_ROOTS))
def test_ct_example_roots(n: int) -> None:
    hashes = [leaf_hash(leaf) for leaf in CT_LEAVES[:n]]
    want = bytes.fromhex(CT_ROOTS[n])
    assert mth(hashes) == want
    assert root_from_leaf_hashes(hashes) == want
    acc = CompactRange()
    acc.extend(hashes)
    assert acc.root() == want and acc.size == n
    assert root_at(n, getter(stored_nodes(hashes), n)) == want


def test_rfc6962_example_proofs() -> None:
    """The worked examples of RFC 6962 §2.1.3 for the 7-leaf tree (a..g leaves, i..l nodes)."""
    h = [leaf_hash(leaf) for leaf in CT_LEAVES[:7]]
    nodes = stored_nodes(h)
    get = getter(nodes, 7)
    g, i, k = nodes[(1, 0)], nodes[(1, 2)], nodes[(2, 0)]
    j = h[6]
    l_ = node_hash(i, j)
    assert consistency_proof(3, 7, get) == [h[2], h[3], g, l_]
    assert consistency_proof(4, 7, get) == [l_]
    assert consistency_proof(6, 7, get) == [i, j, k]
    assert inclusion_proof(0, 7, get) == [h[1], nodes[(1, 1)], l_]  # a: [b, h, l]
    assert inclusion_proof(3, 7, get) == [h[2], g, l_]  # d: [c, g, l]
    assert inclusion_proof(4, 7, get) == [h[5], j, k]  # e: [f, j, k]
    assert inclusion_proof(6, 7, get) == [i, k]  # j: [i, k]


@pytest.fixture(scope="module")
def tree33() -> tuple[list[bytes], dict[tuple[int, int], bytes]]:
    leaves = CT_LEAVES + [bytes([n, n + 1]) * n for n in range(8, 33)]
    hashes = [leaf_hash(leaf) for leaf in leaves]
    return hashes, stored_nodes(hashes)


def test_roots_match_reference_up_to_33(tree33) -> None:
    hashes, nodes = tree33
    for n in range(0, 34):
        want = mth(hashes[:n])
        assert root_from_leaf_hashes(hashes[:n]) == want
        assert root_at(n, getter(nodes, n)) == want


def test_inclusion_proofs_match_reference_up_to_33(tree33) -> None:
    hashes, nodes = tree33
    for n in range(1, 34):
        root = mth(hashes[:n])
        for m in range(n):
            proof = inclusion_proof(m, n, getter(nodes, n))
            assert proof == ref_path(m, hashes[:n]), (m, n)
            assert verify_inclusion(hashes[m], m, n, proof, root)
            assert not verify_inclusion(hashes[m], m, n, proof, mth(hashes[: n - 1]) if n > 1 else b"\0" * 32)
            if n > 1:
                assert not verify_inclusion(hashes[m - 1 if m else 1], m, n, proof, root)


def test_consistency_proofs_match_reference_up_to_33(tree33) -> None:
    hashes, nodes = tree33
    for n in range(1, 34):
        root2 = mth(hashes[:n])
        for m in range(1, n + 1):
            proof = consistency_proof(m, n, getter(nodes, n))
            assert proof == ref_subproof(m, hashes[:n], True), (m, n)
            root1 = mth(hashes[:m])
            assert verify_consistency(m, n, root1, root2, proof)
            if m < n:
                assert not verify_consistency(m, n, root2, root1, proof)
                assert not verify_consistency(m, n, root1, root2, proof[:-1])
                assert not verify_consistency(m, n, root1, root2, proof + [root1])


def test_compact_range_reports_every_perfect_node(tree33) -> None:
    hashes, nodes = tree33
    n = len(hashes)
    assert len(nodes) == sum(n >> level for level in range(n.bit_length()))
    for (level, index), value in nodes.items():
        assert value == mth(hashes[index << level : (index + 1) << level])


def test_compact_range_resumes_from_stored_nodes(tree33) -> None:
    hashes, nodes = tree33
    for n in range(0, 33):
        acc = CompactRange.from_store(n, getter(nodes, n))
        assert acc.size == n and acc.root() == mth(hashes[:n])
        completed = acc.append(hashes[n])
        assert acc.root() == mth(hashes[: n + 1])
        assert all(nodes[(level, index)] == value for level, index, value in completed)


def test_bad_arguments() -> None:
    get = getter({}, 0)
    # Refused for what they are, by the check that names them (not by an error further on).
    for args in [(0, 0), (3, 3), (-1, 4)]:
        with pytest.raises(ValueError, match=f"leaf index {args[0]} is not in a tree of size {args[1]}"):
            inclusion_proof(*args, get)
    for args in [(0, 4), (5, 4), (-1, 3)]:
        with pytest.raises(ValueError, match=f"no consistency proof from size {args[0]} to size {args[1]}"):
            consistency_proof(*args, get)
    with pytest.raises(ValueError, match="^tree size must not be negative$"):
        merkle.root_nodes(-1)
    assert consistency_proof(4, 4, get) == []
    with pytest.raises(ValueError):
        CompactRange().append(b"short")
    h = leaf_hash(b"x")
    for bad in [(h, -1, 1, [], h), (h, 0, -1, [], h), (h, True, 2, [h], h), (h, 0, 1, None, h),
                ("not bytes", 0, 1, [], h), (h, 0, 2, [h[:31]], h), (h, 0, 2, [h], h + b"\0"),
                (h, 0, 1.0, [], h)]:
        assert verify_inclusion(*bad) is False
    short = b"short"
    for bad in [(-1, 1, h, h, []), (1, 0, h, h, []), (2, 1, h, h, []), (1, 2, h, h, None),
                (1, 2, h, None, [h]), (1, 1, h, h, [h]),
                # Each argument checked for what it is, never let through to where it could pass:
                (1, "3", h, h, [h]), (1, True, h, h, []), (2, 2, h, bytearray(h), []),
                (1, 2, short, merkle.node_hash(short, h), [h]), (1, 2, h, merkle.node_hash(h, short), [short])]:
        assert verify_consistency(*bad) is False


# --- Read counts at about a million leaves -----------------------------------------------------


def uniform_getter(size: int, calls: list):
    """A real Merkle tree of `size` identical leaves: every perfect node at level L has the
    same hash, so any node is O(1) after memoising per level, and proofs still verify."""
    per_level = [leaf_hash(b"uniform")]
    for _ in range(64):
        per_level.append(node_hash(per_level[-1], per_level[-1]))

    def get_node(level: int, index: int) -> bytes:
        assert index >= 0 and (index + 1) << level <= size, (level, index, size)
        calls.append((level, index))
        return per_level[level]

    return get_node, per_level[0]


def read_bound(size: int) -> int:
    # Documented in merkle.inclusion_nodes: max(1, 2 * ceil(log2 size) - 2).
    return max(1, 2 * math.ceil(math.log2(size)) - 2) if size > 1 else 0


MILLIONISH = [999_999, 1_000_000, 1_048_575, 1_048_576, 1_048_577, 1_234_567, 2**21 - 1]


def test_inclusion_reads_are_logarithmic_at_a_million() -> None:
    rng = random.Random(6962)
    worst = 0
    for size in MILLIONISH:
        root_calls: list = []
        get_root, _ = uniform_getter(size, root_calls)
        root = root_at(size, get_root)
        assert len(root_calls) == bin(size).count("1")
        indexes = {0, 1, size // 2, size - 2, size - 1, *(rng.randrange(size) for _ in range(200))}
        for index in indexes:
            calls: list = []
            get, leaf = uniform_getter(size, calls)
            proof = inclusion_proof(index, size, get)
            assert verify_inclusion(leaf, index, size, proof, root)
            assert len(calls) <= read_bound(size), (index, size, len(calls))
            worst = max(worst, len(calls))
    # 2**21 - 1 leaves, index 0: 20 siblings + the 20 nodes of the ragged right half.
    assert worst == read_bound(2**21 - 1) == 40


def test_consistency_reads_are_logarithmic_at_a_million() -> None:
    rng = random.Random(9162)
    for size2 in MILLIONISH:
        sizes1 = {1, 2, 3, size2 // 2, size2 - 1, size2, *(rng.randrange(1, size2) for _ in range(200))}
        root2 = root_at(size2, uniform_getter(size2, [])[0])
        for size1 in sizes1:
            calls: list = []
            get, _ = uniform_getter(size2, calls)
            proof = consistency_proof(size1, size2, get)
            root1 = root_at(size1, uniform_getter(size1, [])[0])
            assert verify_consistency(size1, size2, root1, root2, proof)
            assert len(calls) <= read_bound(size2) + 1, (size1, size2, len(calls))


def test_read_bounds_hold_exhaustively_for_small_trees() -> None:
    for size in range(1, 130):
        for index in range(size):
            calls: list = []
            inclusion_proof(index, size, uniform_getter(size, calls)[0])
            assert len(calls) <= read_bound(size)
        for size1 in range(1, size + 1):
            calls = []
            consistency_proof(size1, size, uniform_getter(size, calls)[0])
            assert len(calls) <= read_bound(size) + 1


def test_an_inclusion_proof_for_an_index_outside_the_tree_or_with_extra_hashes_fails():
    """Two edges a verifier must refuse: index == size (a one-leaf tree's "second" leaf), and a
    valid proof with one more hash appended."""
    h = merkle.leaf_hash(b"only")
    assert merkle.verify_inclusion(h, 0, 1, [], h)
    assert not merkle.verify_inclusion(h, 1, 1, [], h)
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(7)]
    root = merkle.root_from_leaf_hashes(leaves)
    tree = {(0, i): leaves[i] for i in range(7)}
    for level in range(1, 3):
        for index in range(7 >> level):
            tree[(level, index)] = merkle.node_hash(tree[(level - 1, 2 * index)], tree[(level - 1, 2 * index + 1)])
    proof = merkle.inclusion_proof(2, 7, lambda level, index: tree[(level, index)])
    assert merkle.verify_inclusion(leaves[2], 2, 7, proof, root)
    assert not merkle.verify_inclusion(leaves[2], 2, 7, proof + [leaves[0]], root)


def test_a_compact_range_refuses_a_leaf_hash_that_is_not_32_bytes_and_says_so():
    tree = merkle.CompactRange()
    with pytest.raises(ValueError, match="^leaf hash must be 32 bytes$"):
        tree.append(b"short")
    assert tree.size == 0
