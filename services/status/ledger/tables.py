"""The ledger's tables, added to the status service's metadata (so they migrate and commit with it).

Leaves are kept with the event hash they were appended with; ``ledger_nodes`` holds every perfect subtree
(level 0 being the leaf hashes), which is all any root or proof needs (see shared/ledger/merkle.py). The
single ``ledger_head`` row carries the size, root and right edge of the tree: appends lock it, so the tree
grows one leaf at a time even with several replicas.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, Column, Integer, MetaData, SmallInteger, String, Table, Text

from shared.db import UtcDateTime

# SQLite only treats a column declared exactly INTEGER PRIMARY KEY as the row id.
Position = BigInteger().with_variant(Integer(), "sqlite")


@dataclass(frozen=True)
class LedgerTables:
    leaves: Table
    nodes: Table
    head: Table
    producers: Table
    checkpoints: Table
    cosignatures: Table
    parked: Table
    forks: Table


def ledger_tables(metadata: MetaData) -> LedgerTables:
    leaves = Table(
        "ledger_leaves",
        metadata,
        Column("leaf_index", Position, primary_key=True, autoincrement=False),
        Column("stream_seq", BigInteger, nullable=False, unique=True),
        Column("event_id", String(40), nullable=False, unique=True),
        Column("event_hash", String(64), nullable=False),
    )
    nodes = Table(
        "ledger_nodes",
        metadata,
        Column("level", SmallInteger, primary_key=True, autoincrement=False),
        Column("idx", BigInteger, primary_key=True, autoincrement=False),
        Column("hash", String(64), nullable=False),
    )
    head = Table(
        "ledger_head",
        metadata,
        Column("log_id", String(40), primary_key=True),
        Column("tree_size", BigInteger, nullable=False),
        Column("root_hash", String(64), nullable=False),
        Column("frontier", Text, nullable=False),  # JSON list of hex hashes, largest subtree first
    )
    producers = Table(
        "ledger_producers",
        metadata,
        Column("producer", String(40), primary_key=True),
        Column("producerseq", BigInteger, nullable=False),
        Column("hash", String(64), nullable=False),
        Column("event_id", String(40), nullable=False),
    )
    checkpoints = Table(
        "ledger_checkpoints",
        metadata,
        Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
        Column("log_id", String(40), nullable=False),
        Column("root_hash", String(64), nullable=False),
        Column("time", String(40), nullable=False),
        Column("key_id", String(80), nullable=False),
        Column("signature", Text, nullable=False),
        Column("event_id", String(40), nullable=True),  # the sbt.ledger.checkpoint.v1 that announced it
    )
    cosignatures = Table(
        "ledger_cosignatures",
        metadata,
        Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
        Column("witness", String(40), primary_key=True),
        Column("key_id", String(80), nullable=False),
        Column("signature", Text, nullable=False),
        Column("received_at", UtcDateTime, nullable=False),
    )
    # Events that arrived before their producer's previous event (replicas sharing the consumer take turns
    # in any order): held, not applied, until the predecessor lands; dead-lettered if it never does.
    parked = Table(
        "ledger_parked",
        metadata,
        Column("producer", String(40), primary_key=True),
        Column("producerseq", BigInteger, primary_key=True, autoincrement=False),
        Column("stream_seq", BigInteger, nullable=False),
        Column("event_id", String(40), nullable=False, unique=True),
        Column("nats_subject", String(200), nullable=False),
        Column("envelope", Text, nullable=False),
        Column("reason", Text, nullable=False),
        Column("parked_at", UtcDateTime, nullable=False),
    )
    # Two different events that claim one place in a producer's chain, both signed by its key: the ledger keeps
    # the one it logged and stops applying that producer until an operator has looked (POST
    # /v1/ops/forks/{id}/resolve). Never silently dead-lettered.
    forks = Table(
        "ledger_forks",
        metadata,
        Column("id", Position, primary_key=True, autoincrement=True),
        Column("producer", String(40), nullable=False, index=True),
        Column("producerseq", BigInteger, nullable=False),
        Column("event_id", String(40), nullable=False, unique=True),
        Column("stream_seq", BigInteger, nullable=False),
        Column("envelope", Text, nullable=False),
        Column("detail", Text, nullable=False),
        Column("detected_at", UtcDateTime, nullable=False),
        Column("resolved_at", UtcDateTime, nullable=True),
        Column("resolved_by", String(200), nullable=True),
        Column("resolution", Text, nullable=True),
    )
    return LedgerTables(leaves, nodes, head, producers, checkpoints, cosignatures, parked, forks)
