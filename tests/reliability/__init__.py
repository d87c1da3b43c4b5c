"""Reliability: stops, overlapping runs, faults, hostile names and load, with real processes.

``scripts/reliability`` runs these with the issue's full trial counts and writes
RELIABILITY.md; the normal suite runs them with the smaller counts in ``common``.
"""
