"""Sanction: the PPK's follow-up of each recommendation, its deadline in working days, early warnings."""
