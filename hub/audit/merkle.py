"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and proof verification, written by hand.

Standard library only, on purpose: the offline verifier and the DB layer both build on these
rules, and an auditor should be able to read them without chasing dependencies.

Vocabulary. A *perfect node* (level L, index i) is the hash of the complete, aligned subtree
over leaves [i * 2**L, (i + 1) * 2**L); level 0 holds the leaf hashes. A tree of n leaves
contains exactly the perfect nodes with (i + 1) * 2**L <= n, and they never change once the
tree has grown past them: that is why the hub stores them and why every function below that
needs stored hashes takes a ``get_node(level, index)`` callable.

Proof generation reads O(log n) stored nodes (see the bounds on each function). Callers that
want one database round trip can ask for the node ids first (``root_nodes``,
``inclusion_nodes``, ``consistency_nodes``), fetch them in one query and then ``fold`` each
group; the ``*_proof`` functions are exactly that with ``get_node`` as the fetcher.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()  # MTH({}) per RFC 6962 §2.1

NodeId = tuple[int, int]  # (level, index)
GetNode = Callable[[int, int], bytes]
# One proof element per group: the right-to-left fold of the group's perfect nodes. Most groups
# hold one node; the "ephemeral" node of a ragged right edge needs several.
ProofPlan = list[tuple[NodeId, ...]]

_sha256 = hashlib.sha256


def leaf_hash(leaf: bytes) -> bytes:
    """SHA-256(0x00 || leaf): the 0x00/0x01 prefixes stop a leaf passing itself off as a node."""
    return _sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return _sha256(b"\x01" + left + right).digest()


# --- Roots from leaf hashes ------------------------------------------------------------------


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """MTH of RFC 6962 §2.1 over already-hashed leaves, iteratively.

    Pairs neighbours level by level and promotes an odd last node unchanged; this builds the
    same tree as RFC 6962's "split at the largest power of two below n" recursion, because that
    split always leaves the perfect subtrees on the left and the ragged part on the right.
    A list comprehension per level is the fastest shape in CPython (~1M leaves in under a
    second); ``CompactRange`` gives the same root in O(log n) memory when streaming.
    """
    level = list(hashes)
    if not level:
        return EMPTY_ROOT
    sha = _sha256
    while len(level) > 1:
        pairs = iter(level)
        # Two at a time from one iterator: an odd last hash is left over, and carried up below.
        parents = [sha(b"\x01" + left + right).digest() for left, right in zip(pairs, pairs, strict=False)]
        if len(level) & 1:
            parents.append(level[-1])
        level = parents
    return level[0]


def _fold_right(hashes: Sequence[bytes]) -> bytes:
    """Combine adjacent perfect subtrees, largest (leftmost) first, into their RFC 6962 root.

    The ragged part of a tree always hangs off the right, so the fold runs right to left.
    """
    root = hashes[-1]
    for left in reversed(hashes[:-1]):
        root = node_hash(left, root)
    return root


class CompactRange:
    """Append-only accumulator of leaf hashes holding one perfect-subtree hash per set bit of the
    size (the "compact range" [0, size)), so memory is O(log n) and the root is always ready."""

    __slots__ = ("_size", "_stack")

    def __init__(self) -> None:
        self._size = 0
        self._stack: list[bytes] = []  # perfect subtree roots, largest (leftmost) first

    @classmethod
    def from_store(cls, size: int, get_node: GetNode) -> CompactRange:
        """Resume at `size` from stored perfect nodes (popcount(size) reads), e.g. after a
        restart, instead of re-reading every leaf."""
        resumed = cls()
        resumed._stack = [get_node(level, index) for level, index in root_nodes(size)]
        resumed._size = size
        return resumed

    @property
    def size(self) -> int:
        return self._size

    def append(self, leaf_hash_: bytes) -> list[tuple[int, int, bytes]]:
        """Add one leaf hash; return the perfect nodes (level >= 1, index, hash) it completed,
        lowest first, which is exactly what a store of perfect nodes must insert."""
        if len(leaf_hash_) != HASH_SIZE:
            raise ValueError("leaf hash must be 32 bytes")
        completed: list[tuple[int, int, bytes]] = []
        new_size, pending, level, node = self._size + 1, self._size, 0, leaf_hash_
        # Each trailing 1 bit of the old size is a perfect subtree waiting for a right sibling.
        while pending & 1:
            node = node_hash(self._stack.pop(), node)
            pending >>= 1
            level += 1
            completed.append((level, (new_size >> level) - 1, node))
        self._stack.append(node)
        self._size = new_size
        return completed

    def extend(self, hashes: Iterable[bytes]) -> None:
        for h in hashes:
            self.append(h)

    def root(self) -> bytes:
        return _fold_right(self._stack) if self._stack else EMPTY_ROOT


# --- Which stored nodes a root or proof needs ------------------------------------------------


def _range_nodes(begin: int, end: int) -> tuple[NodeId, ...]:
    """Perfect nodes covering [begin, end), left to right, where begin is aligned to a power of
    two at least end - begin (true for every range this module asks about): the node sizes are
    then just the set bits of end - begin, largest first."""
    nodes: list[NodeId] = []
    position, remaining = begin, end - begin
    while remaining:
        level = remaining.bit_length() - 1
        nodes.append((level, position >> level))
        position += 1 << level
        remaining -= 1 << level
    return tuple(nodes)


def root_nodes(size: int) -> tuple[NodeId, ...]:
    """Node ids whose right fold is the root of a tree of `size` leaves: popcount(size) nodes."""
    if size < 0:
        raise ValueError("tree size must not be negative")
    return _range_nodes(0, size)


def _path_nodes(level: int, index: int, size: int) -> ProofPlan:
    """Audit path (RFC 9162 §2.1.3.1 PATH) from perfect node (level, index) to the root of a tree
    of `size` leaves, bottom up. Walks the "promotion" view of the tree: at each level the
    sibling is absent (node promoted unchanged), a stored perfect node, or the ephemeral root of
    the ragged range [start, size) which only occurs once, at the highest right-hand sibling."""
    plan: ProofPlan = []
    width = 1 << level
    start = index << level
    while not (start == 0 and width >= size):
        if index & 1:  # left siblings are always complete
            plan.append(((level, index - 1),))
        else:
            sibling_start = start + width
            if sibling_start + width <= size:
                plan.append(((level, index + 1),))
            elif sibling_start < size:
                plan.append(_range_nodes(sibling_start, size))
            # else: no right sibling at this level, the node is promoted unchanged
        index >>= 1
        level += 1
        width <<= 1
        start = index << level
    return plan


def inclusion_nodes(index: int, size: int) -> ProofPlan:
    """Plan for the inclusion proof of leaf `index` in a tree of `size` leaves.

    Reads at most max(1, 2 * ceil(log2(size)) - 2) nodes (none when size is 1): the h - 1
    siblings below the fork, the up to h - 1 nodes of the one ephemeral sibling and the left
    siblings above the fork never add up to more. Worst case is a size of 2**h - 1, e.g. 40
    reads at 2**21 - 1 leaves; 1,000,000 leaves take at most 25 and 2**20 exactly 20. The test
    suite checks the bound exhaustively for small trees and by sampling around 2**20.
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")
    return _path_nodes(0, index, size)


def consistency_nodes(size1: int, size2: int) -> ProofPlan:
    """Plan for the RFC 9162 §2.1.4.1 consistency proof between sizes 0 < size1 <= size2.

    The last perfect subtree of the old tree, (level, index) with level = trailing zeros of
    size1, survives unchanged in the new tree; the proof is that node (omitted when size1 is a
    power of two, because the verifier already holds it as the old root) followed by its audit
    path in the new tree, so it reads at most one node more than an inclusion proof:
    max(2, 2 * ceil(log2(size2)) - 1). size1 == 0 is refused, as RFC 9162 defines no proof for
    it and the verifier rejects it.
    """
    if not 0 < size1 <= size2:
        raise ValueError(f"no consistency proof from size {size1} to size {size2}")
    if size1 == size2:
        return []
    level = (size1 & -size1).bit_length() - 1
    index = (size1 - 1) >> level
    path = _path_nodes(level, index, size2)
    return path if index == 0 else [((level, index),), *path]


def fold(nodes: Sequence[NodeId], get_node: GetNode) -> bytes:
    """Hash of the adjacent perfect nodes `nodes` (one proof element or a root)."""
    if not nodes:
        return EMPTY_ROOT
    return _fold_right([get_node(level, index) for level, index in nodes])


def root_at(size: int, get_node: GetNode) -> bytes:
    """Root of the first `size` leaves from stored perfect nodes: popcount(size) reads."""
    return fold(root_nodes(size), get_node)


def inclusion_proof(index: int, size: int, get_node: GetNode) -> list[bytes]:
    """RFC 9162 §2.1.3.1 inclusion proof, bottom up; reads bounded as in `inclusion_nodes`."""
    return [fold(group, get_node) for group in inclusion_nodes(index, size)]


def consistency_proof(size1: int, size2: int, get_node: GetNode) -> list[bytes]:
    """RFC 9162 §2.1.4.1 consistency proof; reads bounded as in `consistency_nodes`."""
    return [fold(group, get_node) for group in consistency_nodes(size1, size2)]


# --- Verification (never raises on bad input: a malformed proof is just a failed proof) -------


def _is_size(value: object) -> bool:
    return type(value) is int and value >= 0  # bool is an int subclass; refuse it too


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def _is_hash_list(values: object) -> bool:
    return isinstance(values, (list, tuple)) and all(_is_hash(v) for v in values)


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does `proof` show leaf hash `leaf_hash` at `index` under `root`?"""
    if not (_is_size(index) and _is_size(size) and index < size):
        return False
    if not (_is_hash(leaf_hash) and _is_hash(root) and _is_hash_list(proof)):
        return False
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:  # proof longer than the path: trailing garbage
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            # Skip the levels where this node had no right sibling and was promoted.
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: is the tree (size2, root2) an append-only extension of (size1, root1)?

    Edge cases follow the transparency-dev test vectors: equal sizes need an empty proof and
    byte-equal roots (whatever their length); size1 == 0 is always refused, because "consistent
    with the empty tree" proves nothing and a verifier asking for it has a bug.
    """
    if not (_is_size(size1) and _is_size(size2)) or size1 == 0 or size1 > size2:
        return False
    if not (isinstance(root1, bytes) and isinstance(root2, bytes)):
        return False
    if not isinstance(proof, (list, tuple)):
        return False
    if size1 == size2:
        return len(proof) == 0 and root1 == root2
    if not (_is_hash(root1) and _is_hash(root2) and _is_hash_list(proof)) or not proof:
        return False
    return _consistency_roots(size1, size2, root1, list(proof)) == (root1, root2)


def _consistency_roots(
    size1: int, size2: int, root1: bytes, path: list[bytes]
) -> tuple[bytes, bytes] | None:
    """Steps 2-6 of RFC 9162 §2.1.4.2: the (old, new) roots the proof implies, or None."""
    if size1 & (size1 - 1) == 0:  # a power of two: the old root is itself the first node
        path = [root1, *path]
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return None
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
    return (fr, sr) if sn == 0 else None
