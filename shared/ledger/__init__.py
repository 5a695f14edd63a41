"""The verifiable ledger: per-producer hash chains, an RFC 9162 Merkle tree over the log, signed checkpoints
and witness co-signatures. Pure: no I/O beyond reading a key file, so ``sbt verify`` runs it offline."""
