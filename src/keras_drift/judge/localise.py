"""Localise a drifting model: the layer, and the weight's gradient, where two environments' numbers part.

The probe records, for the shared-initialisation twin of each model task and each model a canary builds
(``probe/records.py``), every layer's output on one fixed batch at fixed initial weights, in topological
order with the outputs each layer received, and the loss gradient of every trainable weight. Comparing the two environments'
records layer by layer, the *introducing layer* is the first whose output differs beyond tolerance while
every input it receives agrees within it (the rule of CRADLE, ICSE 2019, applied across versions of one
library), and whose difference is not merely its inputs' float noise amplified: its relative difference
is at least :data:`JUMP` times its inputs' (or its inputs agree exactly). Where the first layer beyond
tolerance fails that test, the difference grew gradually along the chain and is reported as such, not
pinned on the last layer. When every forward output agrees, the first weight whose gradient differs is
named (a loss's gradient, a clipping, a mask show only there). A layer only one environment has (Keras 3
adds its mask operations to the graph) is shown but never judged.

Training tasks also record the loss of their first steps (``step_losses``) beside the per-epoch history:
the first step (or, past those, the first epoch) where the two trajectories part beyond tolerance says
when a drift "in training" starts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from keras_drift.judge import compare
from keras_drift.judge.proofs import Proof, ProofStatus
from keras_drift.store.results import Result
from keras_drift.store.verdicts import Verdict

JUMP = 100.0
# Records are kept on the shared-initialisation twin; a drifting sibling (``x.defaults``) is localised there.
TWIN = "shared_init"


@dataclass(frozen=True)
class Part:
    """One layer output (or one weight's gradient) compared: its relative difference (the largest
    absolute difference over the baseline's largest magnitude; ``inf`` when shapes differ or one side
    lacks it), whether that is beyond tolerance, and its inputs' largest relative difference."""

    name: str
    cls: str
    rel_diff: float
    differs: bool
    input_rel_diff: float = 0.0
    only_here: bool = False


@dataclass(frozen=True)
class Localisation:
    """Where one task's numbers part between the baseline and an environment (see the module docstring)."""

    task: str
    layer: str | None = None
    cls: str | None = None
    rel_diff: float | None = None
    input_rel_diff: float | None = None
    gradual: str = ""
    gradient_weight: str | None = None
    gradient_rel_diff: float | None = None
    layer_defaults: tuple[str, ...] = ()
    undone_by: str = ""
    layers: tuple[Part, ...] = ()
    gradients: tuple[Part, ...] = ()
    records_of: str = ""
    also: tuple[str, ...] = ()  # further introducing layers (another branch, another model of the task)
    # the task's own initial weights differ from the baseline's (a defaults task localised on its twin, a
    # script's model recorded at NumPy weights)
    initial_weights_differ: bool = False
    trains: bool | None = None  # whether either side recorded a training loss (None: not looked at)
    first_divergent_step: int | None = None
    first_divergent_epoch: int | None = None
    # the first steps' losses, baseline's and this environment's, for the trajectory the report draws
    step_losses: tuple[tuple[float, ...], tuple[float, ...]] = ((), ())

    @property
    def amplification(self) -> float | None:
        """How many times the introducing layer multiplies its inputs' relative difference."""
        if self.rel_diff is None or self.input_rel_diff is None:
            return None
        return math.inf if self.input_rel_diff == 0 else self.rel_diff / self.input_rel_diff

    def sentence(self) -> str:
        """The finding in words: where the layers part, then when training does."""
        return "; ".join(part for part in (self._where(), self._when()) if part)

    def _where(self) -> str:
        where = f" (records of {self.records_of})" if self.records_of and self.records_of != self.task else ""
        if self.layer is not None:
            inputs = "inputs identical" if not self.input_rel_diff else f"inputs {self.input_rel_diff:.2g}"
            text = f"layer {self.layer} ({self.cls}) introduces it: relative difference {self.rel_diff:.3g}, {inputs}{where}"
            if self.also:
                text += f"; so do {', '.join(self.also)}"
            if self.layer_defaults:
                text += f"; its defaults differ: {', '.join(self.layer_defaults)}"
            return text + (f"; undone by {self.undone_by}" if self.undone_by else "")
        if self.gradual:
            return self.gradual + where
        if self.gradient_weight is not None:
            return (f"every layer's output agrees; the gradient of {self.gradient_weight} is the first to differ "
                    f"(relative difference {self.gradient_rel_diff:.3g}){where}")
        if not self.layers:
            return ""
        agree = "every layer's output and every gradient agree" if self.gradients else "every layer's output agrees (no gradients recorded)"
        if self.initial_weights_differ:
            return (f"{agree} at the shared initial weights{where}, but this task's own initial weights differ: "
                    "the drift starts in the initial weights, not in a layer")
        if self.trains is False:  # no loss recorded on either side: nothing trained to blame
            return f"{agree} at the shared initial weights{where}: the drift is not in a layer's values (a dtype, a name, a count)"
        return f"{agree} at the shared initial weights{where}: the drift is in training, not in a layer"

    def _when(self) -> str:
        baseline, here = self.step_losses
        if self.first_divergent_step is not None:
            k = self.first_divergent_step
            return (f"the training losses part at step {k} of the first {min(len(baseline), len(here))} "
                    f"({here[k - 1]:.6g} against {baseline[k - 1]:.6g})")
        steps = f"the first {min(len(baseline), len(here))} steps' losses agree" if baseline and here else ""
        if self.first_divergent_epoch is not None:
            return f"{steps + '; ' if steps else ''}the epoch losses part at epoch {self.first_divergent_epoch}"
        return steps

    def document(self) -> dict[str, Any]:
        """The ``localisation`` entry of ``verdicts.json``."""
        return {
            "layer": self.layer, "class": self.cls, "rel_diff": _finite(self.rel_diff), "input_rel_diff": _finite(self.input_rel_diff),
            "amplification": _finite(self.amplification), "also": list(self.also), "gradual": self.gradual or None,
            "gradient_weight": self.gradient_weight, "gradient_rel_diff": _finite(self.gradient_rel_diff),
            "first_divergent_step": self.first_divergent_step, "first_divergent_epoch": self.first_divergent_epoch,
            "layer_defaults": list(self.layer_defaults), "undone_by": self.undone_by or None, "records_of": self.records_of,
            "sentence": self.sentence(),
        }


def difference(value: Mapping[str, Any], baseline: Mapping[str, Any]) -> tuple[float, float]:
    """The largest absolute difference between two recorded arrays and the baseline's largest magnitude.
    Whole arrays are compared value by value; fingerprints (large arrays) by checksum, then by their
    summary statistics and first values."""
    if list(value.get("shape", [])) != list(baseline.get("shape", [])):
        return math.inf, 1.0
    if "values" in value and "values" in baseline:
        pairs = list(zip(value["values"], baseline["values"], strict=True))
        scale = max((abs(b) for _, b in pairs), default=0.0)
        return max((abs(a - b) for a, b in pairs), default=0.0), scale
    if value.get("sha256") and value.get("sha256") == baseline.get("sha256"):
        return 0.0, float(baseline.get("max_abs", 0.0))
    keys = ("mean", "std", "max_abs")
    pairs = [(value.get(key, math.nan), baseline.get(key, math.nan)) for key in keys]
    pairs += list(zip(value.get("head", []), baseline.get("head", []), strict=False))
    return max(abs(a - b) for a, b in pairs), float(baseline.get("max_abs", 0.0))


def compare_records(
    candidate: Sequence[Mapping[str, Any]], baseline: Sequence[Mapping[str, Any]], key: str, tolerance: compare.Tolerance
) -> list[Part]:
    """Each of the candidate's records (in its order) against the baseline's of the same name; one the
    baseline lacks is ``only_here`` and never judged, nor counted among its successors' inputs."""
    theirs = {record[key]: record for record in baseline}
    parts: list[Part] = []
    relative: dict[str, float] = {}
    for record in candidate:
        inputs = max((relative.get(name, 0.0) for name in record.get("inputs", [])), default=0.0)
        other = theirs.get(record[key])
        if other is None:
            parts.append(Part(record[key], record.get("class", ""), math.nan, False, inputs, only_here=True))
            continue
        absolute, scale = difference(record["value"], other["value"])
        rel = 0.0 if absolute == 0 else absolute / scale if scale > 0 else math.inf
        parts.append(Part(record[key], record.get("class", ""), rel, absolute > tolerance.atol + tolerance.rtol * scale, inputs))
        relative[record[key]] = rel
    return parts


def first_parting(candidate: Sequence[Any], baseline: Sequence[Any], tolerance: compare.Tolerance) -> int | None:
    """The 1-based index of the first pair of losses that drifts as a metric would (:func:`compare.judge`:
    beyond tolerance, or NaN against a number), over the length both recorded; ``None`` when they agree."""
    for index, (here, there) in enumerate(zip(candidate, baseline, strict=False), 1):
        if compare.judge(float(here), float(there), tolerance)[0] == Verdict.DRIFT:
            return index
    return None


def localise(
    task: str, candidate: Mapping[str, Any], baseline: Mapping[str, Any], tolerance: compare.Tolerance, records_of: str = ""
) -> Localisation | None:
    """Where the numbers of ``task`` part, from the two environments' records (their facts of the task
    that holds them); ``None`` when either side has no layer records."""
    if not candidate.get("layers") or not baseline.get("layers"):
        return None
    layers = compare_records(candidate["layers"], baseline["layers"], "path", tolerance)
    gradients = compare_records(candidate.get("gradients") or [], baseline.get("gradients") or [], "weight", tolerance)
    found = Localisation(task, layers=tuple(layers), gradients=tuple(gradients), records_of=records_of or task)
    differing_names = {part.name for part in layers if part.differs}
    by_name = {record["path"]: record for record in candidate["layers"]}
    introducing = [part for part in layers if part.differs and not differing_names.intersection(by_name[part.name].get("inputs", []))]
    if introducing:
        first = introducing[0]
        if first.input_rel_diff == 0 or first.rel_diff >= JUMP * first.input_rel_diff:
            also = tuple(part.name for part in introducing[1:] if part.input_rel_diff == 0 or part.rel_diff >= JUMP * part.input_rel_diff)
            return replace(found, layer=first.name, cls=first.cls, rel_diff=first.rel_diff, input_rel_diff=first.input_rel_diff, also=also)
        start = next(part for part in layers if part.rel_diff > 0)
        return replace(found, gradual=(
            f"no layer introduces it: the difference grows gradually, from {start.rel_diff:.2g} at {start.name} to "
            f"{first.rel_diff:.2g} at {first.name} (at most {first.rel_diff / first.input_rel_diff:.3g} times its inputs'): "
            "float noise amplified"))
    if differing_names:  # only layers whose inputs already differ: not expected in topological order
        return found
    gradient = next((part for part in gradients if part.differs), None)
    if gradient is not None:
        return replace(found, gradient_weight=gradient.name, gradient_rel_diff=gradient.rel_diff)
    return found


def localisations(
    drifting: Iterable[tuple[str, str]], results: Sequence[Result], baseline: str, tolerances: Sequence[compare.Tolerance],
    proofs: Mapping[tuple[str, str], Proof] | None = None,
) -> dict[tuple[str, str], Localisation]:
    """A localisation per drifting (environment, task) that has records on both sides (the task's own, or
    its shared-initialisation twin's) or a loss trajectory to compare: the introducing layer with its
    differing defaults and the intervention that undoes the drift, where one was proven; and the first
    step (or epoch) where the task's own training losses part."""
    by_env = {result.env: result for result in results}
    base = by_env[baseline]
    found = {}
    for env, task in sorted(set(drifting)):
        result = by_env[env]
        holder = task if result.facts(task).get("layers") else f"{task.rsplit('.', 1)[0]}.{TWIN}"
        tolerance = compare.tolerance_for(f"{holder}.layers", tolerances)
        located = localise(task, result.facts(holder), base.facts(holder), tolerance, holder)
        if located is not None and located.layer is not None:
            prefix = _defaults_prefix(located.cls or "")
            keys = sorted(key for key in set(result.defaults) | set(base.defaults) if key.startswith(prefix))
            changed = tuple(f"{key}: {base.defaults.get(key)} -> {result.defaults.get(key)}" for key in keys
                            if result.defaults.get(key) != base.defaults.get(key))
            proof = (proofs or {}).get((env, task))
            located = replace(located, layer_defaults=changed,
                               undone_by=", ".join(proof.accounts_for) if proof is not None and proof.status == ProofStatus.PROVEN else "")
        if located is not None:  # records at shared weights (a twin's, or a script's model at NumPy weights)
            own = [r.facts(task).get("initial_weights", {}).get("sha256") for r in (result, base)]
            located = replace(located, initial_weights_differ=None not in own and own[0] != own[1])
        located = _trajectory(located or Localisation(task), result, base, task, compare.tolerance_for(f"{task}.loss", tolerances))
        if located.layers or located.step_losses != ((), ()) or located.first_divergent_epoch is not None:
            found[env, task] = located
    return found


def _trajectory(located: Localisation, result: Result, base: Result, task: str, tolerance: compare.Tolerance) -> Localisation:
    """``located`` with where the task's training losses part: the first of its first steps, else the
    first epoch of its history (the series named after the task, column ``loss``)."""
    here, there = result.facts(task).get("step_losses") or [], base.facts(task).get("step_losses") or []
    step = first_parting(here, there, tolerance)
    epochs_here, epochs_there = ((r.series.get(task) or {}).get("loss") or [] for r in (result, base))
    epoch = first_parting(epochs_here, epochs_there, tolerance) if step is None else None
    return replace(located, first_divergent_step=step, first_divergent_epoch=epoch,
                   trains=bool(here or there or epochs_here or epochs_there),
                   step_losses=(tuple(float(v) for v in there), tuple(float(v) for v in here)))


def _defaults_prefix(cls: str) -> str:
    """The introspection prefix of a layer class's defaults (``gru.``, ``batchnorm.``)."""
    return {"BatchNormalization": "batchnorm."}.get(cls, cls.lower() + ".")


def _finite(value: float | None) -> float | str | None:
    if value is None:
        return None
    return value if math.isfinite(value) else ("Infinity" if value > 0 else "NaN")
