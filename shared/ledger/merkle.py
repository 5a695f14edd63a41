"""An RFC 9162 (Certificate Transparency 2.0) Merkle tree over the stream's events.

Leaf hash ``SHA-256(0x00 || leaf)``, node hash ``SHA-256(0x01 || left || right)``, and the RFC's Merkle Tree
Hash for sizes that are not powers of two: the left subtree holds the largest power of two below ``n``
leaves, the right subtree the rest. The leaf is the event's ``hash`` (its 32 raw bytes), in log order.

Every subtree the RFC's recursion visits on its left side is *perfect and aligned*: it covers
``[i * 2**level, (i + 1) * 2**level)``. So a log that stores those perfect subtrees (``level, index -> hash``)
can answer any root, inclusion proof or consistency proof from O(log n) stored hashes. The functions here
take a ``NodeSource`` (any ``(level, index) -> hash`` lookup) and ``required_nodes`` tells a caller which
ones to fetch in one query. With a plain list of leaf hashes, ``MemoryTree`` is such a source.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

NodeSource = Callable[[int, int], bytes]


class ProofError(ValueError):
    """A proof does not verify; the message says why."""


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


EMPTY_ROOT = hashlib.sha256(b"").digest()


def _split(size: int) -> int:
    """The largest power of two strictly below ``size`` (size >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


def subtree_hash(start: int, size: int, node: NodeSource) -> bytes:
    """MTH of leaves ``[start, start + size)`` where ``start`` is aligned as the RFC's recursion makes it."""
    if size & (size - 1) == 0:  # a perfect subtree: stored
        level = size.bit_length() - 1
        return node(level, start >> level)
    k = _split(size)
    return node_hash(subtree_hash(start, k, node), subtree_hash(start + k, size - k, node))


def root(size: int, node: NodeSource) -> bytes:
    return EMPTY_ROOT if size == 0 else subtree_hash(0, size, node)


def inclusion_proof(index: int, size: int, node: NodeSource) -> list[bytes]:
    """RFC 9162 2.1.3.1 PATH(m, D[n]), leaf first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    path: list[bytes] = []
    start = 0
    while size > 1:
        k = _split(size)
        if index < k:
            path.append(subtree_hash(start + k, size - k, node))
            size = k
        else:
            path.append(subtree_hash(start, k, node))
            start, index, size = start + k, index - k, size - k
    path.reverse()
    return path


def consistency_proof(first: int, second: int, node: NodeSource) -> list[bytes]:
    """RFC 9162 2.1.4.1 PROOF(m, D[n])."""
    if not 0 < first <= second:
        raise ValueError(f"no consistency proof from size {first} to size {second}")
    proof: list[bytes] = []
    start, m, n, complete = 0, first, second, True
    while m != n:
        k = _split(n)
        if m <= k:
            proof.append(subtree_hash(start + k, n - k, node))
            n = k
        else:
            proof.append(subtree_hash(start, k, node))
            start, m, n, complete = start + k, m - k, n - k, False
    if not complete:
        proof.append(subtree_hash(start, m, node))
    proof.reverse()
    return proof


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], expected_root: bytes) -> None:
    """RFC 9162 2.1.3.2; ``leaf`` is the raw leaf (the event hash), not its leaf hash. Raises ProofError."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    fn, sn = index, size - 1
    r = leaf_hash(leaf)
    for p in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the tree allows")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion proof is shorter than the tree needs")
    if r != expected_root:
        raise ProofError(f"the inclusion proof of leaf {index} leads to root {r.hex()}, not {expected_root.hex()}")


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes,
                       proof: Sequence[bytes]) -> None:
    """RFC 9162 2.1.4.2: the tree of size ``second`` extends the tree of size ``first``. Raises ProofError."""
    if first > second:
        raise ProofError(f"size {first} is larger than size {second}: the log went backwards")
    if first == second:
        if proof:
            raise ProofError("a consistency proof between equal sizes must be empty")
        if first_root != second_root:
            raise ProofError(f"two different roots for size {first}: the log shows two histories")
        return
    if first == 0:
        if proof:
            raise ProofError("a consistency proof from the empty tree must be empty")
        return
    if not proof:
        raise ProofError("the consistency proof is empty")
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the first root is itself the first node
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is longer than the trees allow")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency proof is shorter than the trees need")
    if fr != first_root:
        raise ProofError(f"the proof does not lead to the first root {first_root.hex()} (size {first})")
    if sr != second_root:
        raise ProofError(f"the proof does not lead to the second root {second_root.hex()} (size {second})")


def required_nodes(compute: Callable[[NodeSource], object]) -> set[tuple[int, int]]:
    """The stored nodes ``compute`` will read, found by a dry run: the recursion's shape depends only on
    sizes and indexes, never on hash values, so a caller can fetch them all in one query first."""
    wanted: set[tuple[int, int]] = set()

    def record(level: int, index: int) -> bytes:
        wanted.add((level, index))
        return bytes(32)

    compute(record)
    return wanted


def frontier(size: int) -> list[tuple[int, int]]:
    """The perfect subtrees that make up a tree of ``size`` leaves, largest (leftmost) first."""
    nodes, start = [], 0
    for level in reversed(range(size.bit_length())):
        if size >> level & 1:
            nodes.append((level, start >> level))
            start += 1 << level
    return nodes


def append(size: int, leaf: bytes, edge: Sequence[bytes]) -> tuple[list[tuple[int, int, bytes]], list[bytes], bytes]:
    """Append ``leaf`` to a tree of ``size`` whose frontier hashes are ``edge`` (as ``frontier(size)`` orders
    them). Returns the perfect nodes that now exist ``(level, index, hash)``, including the new leaf at level
    0, the new frontier hashes, and the new root."""
    new_nodes, hashes = extend(size, leaf, edge)
    return new_nodes, hashes, fold_root(hashes)


def extend(size: int, leaf: bytes, edge: Sequence[bytes]) -> tuple[list[tuple[int, int, bytes]], list[bytes]]:
    """``append`` without the root: a run of appends needs the root once, at its end (``fold_root``), and
    folding it costs a hash per level of the tree.

    The frontier has one perfect subtree per set bit of ``size``; the new leaf merges with as many of the
    smallest ones as ``size`` has trailing set bits."""
    if len(edge) != size.bit_count():
        raise ValueError(f"a tree of size {size} has {size.bit_count()} frontier nodes, got {len(edge)}")
    hashes = list(edge)
    current = leaf_hash(leaf)
    new_nodes = [(0, size, current)]
    level, index, rest = 0, size, size
    while rest & 1:
        current = node_hash(hashes.pop(), current)
        level, index, rest = level + 1, index >> 1, rest >> 1
        new_nodes.append((level, index, current))
    hashes.append(current)
    return new_nodes, hashes


def fold_root(edge: Sequence[bytes]) -> bytes:
    """The root from the frontier hashes (largest first): the RFC's right-leaning recursion, unrolled."""
    if not edge:
        return EMPTY_ROOT
    result = edge[-1]
    for left in reversed(edge[:-1]):
        result = node_hash(left, result)
    return result


class MemoryTree:
    """A whole tree in memory, for verifiers and tests: every perfect subtree of a list of leaves."""

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        self.levels: list[list[bytes]] = [[]]
        for leaf in leaves:
            self.append(leaf)

    def __len__(self) -> int:
        return len(self.levels[0])

    def append(self, leaf: bytes) -> None:
        self.levels[0].append(leaf_hash(leaf))
        level, index = 0, len(self.levels[0]) - 1
        while index & 1:
            if len(self.levels) == level + 1:
                self.levels.append([])
            row = self.levels[level]
            self.levels[level + 1].append(node_hash(row[index - 1], row[index]))
            level, index = level + 1, index >> 1

    def node(self, level: int, index: int) -> bytes:
        return self.levels[level][index]

    def root(self, size: int | None = None) -> bytes:
        return root(len(self) if size is None else size, self.node)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return inclusion_proof(index, len(self) if size is None else size, self.node)

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        return consistency_proof(first, len(self) if second is None else second, self.node)
