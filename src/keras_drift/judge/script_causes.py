"""Why a number of the user's script drifted, from what the probe recorded while it ran (``probe/script.py``).

A script declares nothing: no defaults it relies on, no twin fed NumPy weights. What the probe records of
it instead gives three explanations, tried in this order, all ``suspected``:

1. ``defaults``: a ``fit()`` call of the same model and number ran with other resolved settings on the two
   sides (its ``params``: steps per epoch, epochs): the defaults the script leaves to ``fit()`` differ, as
   between Keras 0.3 (batch size 128, 100 epochs) and 1.2 (32, 10) in the seed case.
2. ``random_stream``: a model started its first training call from other weights (their fingerprints
   differ), or ``fit()`` shuffled the samples in another order: the library drew them from another random
   stream, seeded alike. Every model trained records its initial weights as a model task does, and every
   ``fit`` its batch order, so the experiment replays the baseline's: where the drift then vanishes the cause
   is proven before these rules run; a draw whose replay it ruled out is not one. A model built by its first
   training call (a subclassed model) drew its initial weights there, unrecorded: suspected the same way.
3. ``defaults``: a class the script constructed changed a default between the two sides' API surfaces
   (:func:`keras_drift.judge.sweep_causes.changed_defaults`; a parameter it gained is not a changed default).

None holds: the general rules of :mod:`keras_drift.judge.attribute` decide.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from keras_drift.judge.proofs import BATCH_ORDER, INITIAL_WEIGHTS, first_values
from keras_drift.judge.sweep_causes import changed_defaults
from keras_drift.store.results import Result
from keras_drift.store.verdicts import Cause

_FIT_SETTINGS = re.compile(r"^(script\.[^.]+\.fit#\d+)\.(params\.[^.]+|epochs)$")


def explain(metric: str, result: Result, *, base: Result, task: str, ruled_out: frozenset[str] = frozenset()) -> tuple[Cause, str] | None:
    """The cause of a drifting metric of the script task ``task`` and its evidence, where a rule holds; a
    difference an experiment ``ruled_out`` (the initial weights, replayed) is not one."""
    settings = fit_settings(result, base)
    if settings:
        return Cause.DEFAULTS, f"fit() resolved other settings: {'; '.join(settings)}"
    drawn = initial_weights(task, result, base) if INITIAL_WEIGHTS not in ruled_out else []
    if drawn:
        drawn = [f"the script's models start from other initial weights, seeded alike: {'; '.join(drawn)}"]
    if BATCH_ORDER not in ruled_out and (order := batch_order(task, result, base)):
        drawn.append(order)
    if unbuilt := sorted(set(_facts(result, task).get("unbuilt", ())) | set(_facts(base, task).get("unbuilt", ()))):
        drawn.append(f"{', '.join(unbuilt)} drew its initial weights inside its first training call (built there), "
                     "from the backend's stream, where they could not be recorded or replayed")
    if drawn:
        return Cause.RANDOM_STREAM, "; ".join(drawn)
    constructed = sorted(set(_facts(result, task).get("constructed", ())) | set(_facts(base, task).get("constructed", ())))
    # changed defaults only: a parameter a class gained (Dense's lora_rank) is off by default
    changed = [found for name in constructed if (found := changed_defaults(f"{name}()", result=result, base=base, gained=False))]
    if changed:
        return Cause.DEFAULTS, f"classes the script constructs changed their defaults: {'; '.join(changed)}"
    return None


def fit_settings(result: Result, base: Result) -> list[str]:
    """``'script.model1.fit#1.params.steps: 13 -> 4'`` for every resolved ``fit()`` setting that differs."""
    found = []
    for metric in sorted(set(result.metrics) & set(base.metrics)):
        if _FIT_SETTINGS.match(metric) and result.metrics[metric] != base.metrics[metric]:
            found.append(f"{metric}: {base.metrics[metric]} -> {result.metrics[metric]}")
    return found


def initial_weights(task: str, result: Result, base: Result) -> list[str]:
    """``'model1: first values [-0.72] and [0.53]'`` for every model whose first training call started from
    other weights on the two sides."""
    mine, theirs = _weights(result, task), _weights(base, task)
    found = []
    for model in sorted(set(mine) & set(theirs)):
        old, new = theirs[model].get("initial") or {}, mine[model].get("initial") or {}
        if old.get("sha256") and new.get("sha256") and old["sha256"] != new["sha256"]:
            found.append(f"{model}: first values {first_values(old)} and {first_values(new)}")
    return found


def batch_order(task: str, result: Result, base: Result) -> str:
    """``'fit() shuffled the samples in another order (first indices [3, 1] and [0, 2])'`` where the two sides'
    ``fit`` calls drew other permutations; empty where they agree or one side did not shuffle."""
    old, new = base.batch_order(task), result.batch_order(task)
    if not (old.get("sha256") and new.get("sha256")) or old["sha256"] == new["sha256"]:
        return ""
    return f"fit() shuffled the samples in another order, seeded alike (first indices {old.get('head')} and {new.get('head')})"


def _facts(result: Result, task: str) -> Mapping[str, Any]:
    return result.facts(task) or {}


def _weights(result: Result, task: str) -> Mapping[str, Mapping[str, Any]]:
    return _facts(result, task).get("weights") or {}
