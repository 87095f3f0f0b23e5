"""The vocabulary of a comparison: what a metric's verdict can be, what can cause a drift and how sure that
cause is, and the ``verdicts.json`` contract (checked against ``schemas/verdicts.schema.json`` whenever a
run writes it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from keras_drift.store.labels import Label
from keras_drift.store.results import validate_document

SCHEMA_VERSION = 1
VERDICTS_FILE = "verdicts.json"


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

