"""The RFC 9162 Merkle tree: roots, inclusion and consistency proofs, against a literal reading of the RFC."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.ledger import merkle


def rfc_mth(leaves: list[bytes]) -> bytes:
    """MTH exactly as RFC 9162 2.1.1 writes it."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + rfc_mth(leaves[:k]) + rfc_mth(leaves[k:])).digest()


def leaves_of(n: int) -> list[bytes]:
    return [hashlib.sha256(str(i).encode()).digest() for i in range(n)]


def flip(proof: list[bytes], item: int, byte: int) -> list[bytes]:
    damaged = list(proof)
    value = bytearray(damaged[item])
    value[byte] ^= 0x01
    damaged[item] = bytes(value)
    return damaged


def test_known_sizes_match_the_rfc_definition():
    for n in range(0, 70):
        leaves = leaves_of(n)
        assert merkle.MemoryTree(leaves).root() == rfc_mth(leaves), n


def test_the_incremental_frontier_gives_every_root_and_stores_every_perfect_subtree():
    tree = merkle.MemoryTree()
    edge: list[bytes] = []
    for size, leaf in enumerate(leaves_of(40)):
        nodes, edge, root = merkle.append(size, leaf, edge)
        tree.append(leaf)
        assert root == tree.root()
        for level, index, value in nodes:
            assert tree.node(level, index) == value
        assert [tree.node(level, index) for level, index in merkle.frontier(size + 1)] == edge


def test_required_nodes_lists_exactly_what_a_proof_reads():
    tree = merkle.MemoryTree(leaves_of(13))
    wanted = merkle.required_nodes(lambda node: merkle.inclusion_proof(5, 13, node))
    assert merkle.inclusion_proof(5, 13, lambda lv, ix: tree.node(lv, ix) if (lv, ix) in wanted else 1 / 0)
    assert len(wanted) <= 2 * 13 .bit_length()


@settings(max_examples=150, deadline=None)
@given(size=st.integers(1, 300), data=st.data())
def test_inclusion_proofs_verify_for_random_sizes_and_any_flipped_byte_fails(size, data):
    leaves = leaves_of(size)
    tree = merkle.MemoryTree(leaves)
    index = data.draw(st.integers(0, size - 1))
    proof = tree.inclusion_proof(index)
    root = rfc_mth(leaves)
    merkle.verify_inclusion(leaves[index], index, size, proof, root)
    if proof:
        item = data.draw(st.integers(0, len(proof) - 1))
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(leaves[index], index, size, flip(proof, item, data.draw(st.integers(0, 31))), root)
    damaged_leaf = bytearray(leaves[index])
    damaged_leaf[data.draw(st.integers(0, 31))] ^= 0x80
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(bytes(damaged_leaf), index, size, proof, root)
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(leaves[index], index, size, proof, flip([root], 0, 0)[0])
    if size > 1:  # the right proof at the wrong place, or with one step too few, fails too
        other = (index + 1) % size
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(leaves[index], other, size, proof, root)
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(leaves[index], index, size, proof[:-1], root)


@settings(max_examples=150, deadline=None)
@given(second=st.integers(1, 300), data=st.data())
def test_consistency_proofs_verify_for_random_sizes_and_any_flipped_byte_fails(second, data):
    first = data.draw(st.integers(1, second))
    leaves = leaves_of(second)
    tree = merkle.MemoryTree(leaves)
    proof = tree.consistency_proof(first, second)
    old, new = rfc_mth(leaves[:first]), rfc_mth(leaves)
    merkle.verify_consistency(first, second, old, new, proof)
    if proof:
        item = data.draw(st.integers(0, len(proof) - 1))
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(first, second, old, new, flip(proof, item, data.draw(st.integers(0, 31))))
    with pytest.raises(merkle.ProofError):
        merkle.verify_consistency(first, second, flip([old], 0, 5)[0], new, proof)
    if first < second:
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(first, second, old, flip([new], 0, 7)[0], proof)
        # A history rewritten inside the first tree cannot be shown consistent with the old root.
        rewritten = list(leaves)
        rewritten[data.draw(st.integers(0, first - 1))] = b"\xff" * 32
        forged = merkle.MemoryTree(rewritten)
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(first, second, old, forged.root(), forged.consistency_proof(first, second))


def test_consistency_edge_cases():
    tree = merkle.MemoryTree(leaves_of(8))
    merkle.verify_consistency(8, 8, tree.root(), tree.root(), [])
    with pytest.raises(merkle.ProofError, match="two histories"):
        merkle.verify_consistency(8, 8, tree.root(), tree.root(7), [])
    with pytest.raises(merkle.ProofError, match="went backwards"):
        merkle.verify_consistency(8, 7, tree.root(), tree.root(7), [])
    with pytest.raises(merkle.ProofError, match="empty"):
        merkle.verify_consistency(4, 8, tree.root(4), tree.root(), [])
    with pytest.raises(ValueError):
        tree.inclusion_proof(8)
