"""Intake's reference data: the ASN roster, agencies and their PPK, elections and the violation catalogue.

Loaded by ``sbt import`` (``importer``), generated for demos by ``sbt seed`` (``generator``) and used by
intake to route each report to the civil servant's agency (``lookup``).
"""
