"""Decisions: controllers that set asset setpoints (rules now; optimisation and markets build on them)."""
