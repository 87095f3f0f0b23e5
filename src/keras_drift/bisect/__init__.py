"""Bisect: the per-family search over releases, and the generated environments it probes."""
