"""The vocabulary of a comparison: what a metric's verdict can be, what can cause a drift and how sure that
cause is, and the ``verdicts.json`` contract (checked against ``schemas/verdicts.schema.json`` whenever a
run writes it).

Two parts of the contract appear only where the results hold what they speak of, so that a run judged
from older results writes the same document as before: the top-level :data:`API_SURFACE` (the public API
surface's diff, where any result recorded a surface: :mod:`keras_drift.judge.surface`) and a row's
:data:`REPRODUCTION` (the snippet of a drifting sweep metric: :mod:`keras_drift.judge.reproductions`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from keras_drift.store.labels import Label
from keras_drift.store.results import validate_document

SCHEMA_VERSION = 1
VERDICTS_FILE = "verdicts.json"
API_SURFACE = "api_surface"  # the top-level key of the API surface's diff
REPRODUCTION = "reproduction"  # a drifting sweep metric's row: the snippet that reproduces it


class Verdict(Label):
    """One metric of one environment against the baseline (the rule is in :mod:`keras_drift.judge.compare`)."""

    IDENTICAL = "identical"
    WITHIN_TOLERANCE = "within_tolerance"
    DRIFT = "drift"
    ACCEPTED = "accepted"  # a drift a reviewed entry of accepted.toml accepts, for the same cause
    FAILED = "failed"
    SKIPPED = "skipped"
    MISSING = "missing"


class Cause(Label):
    """Why a metric drifted (the rules are in :mod:`keras_drift.judge.attribute`)."""

    API = "api"
    DEFAULTS = "defaults"
    RANDOM_STREAM = "random_stream"
    METRIC_SEMANTICS = "metric_semantics"
    NUMERICS = "numerics"
    ENVIRONMENT = "environment"
    UNEXPLAINED = "unexplained"


class Certainty(Label):
    """How sure the cause of a drift is, its ``proof`` in ``verdicts.json`` (decided by
    :mod:`keras_drift.judge.attribute` and :mod:`keras_drift.judge.saved_models`)."""

    PROVEN = "proven"  # by an experiment (a re-run with the difference undone) or an observed fact
    SUSPECTED = "suspected"  # inferred by a rule: plausible, not shown
    UNEXPLAINED = "unexplained"  # no rule holds


def validate_verdicts(document: Any, source: Path | str) -> dict[str, Any]:
    """Check a ``verdicts.json`` document; raise :class:`InputError` naming the file and the field."""
    validate_document(document, "verdicts", source)
    return document

