"""Recommendation: verification by the task force, examination and recommendation by the examining authority."""
