"""Blocking: personnel-data blocks and unblocks, and escalation to the President."""
