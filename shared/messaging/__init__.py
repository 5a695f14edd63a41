"""Reliable messaging: the transactional outbox and its relay, the idempotent inbox, dead letters."""
