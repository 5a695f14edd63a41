"""The status service's verifiable ledger: every logged event is a leaf of an RFC 9162 Merkle tree, each
producer's hash chain is checked as events arrive, and signed checkpoints and proofs are served and published
(the pure parts live in shared/ledger)."""
