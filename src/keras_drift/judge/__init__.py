"""Judging results: comparison, causes and their proofs, localisation, speed, saved models, accepted drifts, grouping."""
