"""Intake: reports in, cases opened, public receipts."""
