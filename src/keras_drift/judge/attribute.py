"""Say why a metric drifted: a cause proven by experiment where there is one, else the most specific cause
the recorded evidence supports, with that evidence, and how sure it is (``proof``).

A proof (:mod:`keras_drift.judge.proofs`, from re-running the task with differences undone) comes first: a
``proven`` difference is the cause; differences the experiment ``ruled_out`` are left out of the rules.
The rules, tried in this order for each drifting (environment, metric) against the baseline (an entry of
the API sweep first gets the two of its own, :mod:`keras_drift.judge.sweep_causes`: its random stream alone,
or its class's defaults; the user's script those of :mod:`keras_drift.judge.script_causes`):

1. ``api``: an API behaviour probe that this metric depends on (by its name, or a call its task made with
   that spelling on both sides) behaves differently.
2. ``defaults``: a resolved default that the metric's task declares it relies on differs (keys both sides
   report; the defaults it sets explicitly excluded).
3. ``random_stream``: the task draws random numbers by construction (it says so), or the library drew
   different initial weights (checksums differ) for this task and its twin from NumPy-provided weights
   (``<name>.shared_init`` for ``<name>.defaults``) agrees within tolerance.
4. ``metric_semantics``: the trained weights are bit-identical, or the metric recomputed with NumPy from
   each side's final weights agrees within tolerance (both proven: facts, not inferences), or the quantities
   that depend on the trained weights alone agree (suspected; not where the recomputed values differ), yet
   the reported loss or accuracy differs.
5. ``numerics``: same inputs and same resolved hyper-parameters, but Keras or the backend differs.
6. ``environment``: the same Keras and backend versions; only other packages or flags differ.
7. ``unexplained``: nothing above holds. Never a guess presented as fact.

``proof`` is ``proven`` for an experiment's cause and for bit-identical final weights, ``unexplained`` for
the last rule, and ``suspected`` for every other rule: plausible, not shown.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from keras_drift.judge import compare, script_causes, sweep_causes
from keras_drift.judge.compare import UNSET
from keras_drift.judge.proofs import API_PREFIX, BATCH_ORDER, INITIAL_WEIGHTS, Difference, Proof, ProofStatus, first_values
from keras_drift.store.results import Result
from keras_drift.store.verdicts import Cause, Certainty, Verdict

# Which API probes a metric's value passes through, by metric-name glob.
METRIC_API = {
    "linear.*.loss": ("train_on_batch second call returns",),
    "script.*.train_on_batch.loss": ("train_on_batch second call returns",),
    "*.evaluate_loss": ("evaluate with a short last batch returns",),
}
# Metrics that are functions of the trained weights alone, per task family.
WEIGHT_METRICS = {"linear": ("w", "b"), "classifier": ("val_loss", "val_accuracy")}
# Distributions that define "the same Keras and backend".
CORE_DISTRIBUTIONS = {
    "tensorflow": ("tensorflow", "tensorflow-cpu", "tf-keras", "keras"),
    "jax": ("jax", "jaxlib", "keras"),
    "torch": ("torch", "keras"),
    "theano": ("theano", "keras"),
}


def attribute(
    verdicts: pd.DataFrame, results: Sequence[Result], baseline: str, proofs: Mapping[tuple[str, str], Proof] | None = None,
    tolerances: Sequence[compare.Tolerance] = (),
) -> pd.DataFrame:
    """``verdicts`` with three more columns, ``cause``, ``evidence`` and ``proof``, filled for drifting rows;
    ``proofs`` by (environment, task) from the experiment, where one ran; ``tolerances`` (those of the
    comparison) to compare the values the oracle recomputed from each side's final weights."""
    by_env = {result.env: result for result in results}
    drift_rows = verdicts[verdicts["verdict"] == Verdict.DRIFT]
    drifting = set(zip(drift_rows["env"], drift_rows["metric"], strict=False))
    columns: dict[str, list[Any]] = {"cause": [], "evidence": [], "proof": []}
    for row in verdicts.itertuples():
        found: tuple[Any, Any, Any] = (None, None, None)
        if row.verdict == Verdict.DRIFT:
            result = by_env[str(row.env)]
            proof = (proofs or {}).get((result.env, result.task_of(str(row.metric))))
            found = explain(str(row.metric), result, base=by_env[baseline], drifting=drifting, proof=proof, tolerances=tolerances)
        for name, value in zip(columns, found, strict=True):
            columns[name].append(value)
    return verdicts.assign(**{name: pd.Series(values, index=verdicts.index, dtype=object) for name, values in columns.items()})


def explain(
    metric: str, result: Result, *, base: Result, drifting: set[tuple[str, str]], proof: Proof | None = None,
    tolerances: Sequence[compare.Tolerance] = (),
) -> tuple[Cause, str, Certainty]:
    """The cause of one drifting metric, the evidence for it as one sentence, and its proof: ``proven``,
    ``suspected`` or ``unexplained``."""
    if proof is not None and proof.cause is not None and proof.accounts_for_metric(metric):
        return proof.cause, proof.sentence(), Certainty.PROVEN
    ruled_out = ({difference.key for difference in proof.differences} if proof.status == ProofStatus.RULED_OUT
                 else set(proof.accounts_for) if proof.status == ProofStatus.PROVEN else set()) if proof is not None else set()
    cause, evidence, proven = _rules(metric, result, base=base, drifting=drifting, ruled_out=ruled_out, tolerances=tolerances)
    if ruled_out:
        evidence = f"{evidence}; {proof.sentence()}" if proof is not None else evidence
    if proven:
        return cause, evidence, Certainty.PROVEN
    return cause, evidence, Certainty.UNEXPLAINED if cause == Cause.UNEXPLAINED else Certainty.SUSPECTED


def undoable_differences(task: str, result: Result, base: Result) -> list[Difference]:
    """The recorded differences of ``task`` that a re-run in the candidate can set to the baseline's value:
    the resolved defaults the task relies on that both sides have (a parameter the candidate lacks is no
    argument it would take) where the baseline's is a plain value; the behaviour of an API call the task
    spelt alike in both (``api_calls``) where the probe can respell it to behave as the baseline's; and
    the initial weights and fit()'s batch order where they differ and the baseline recorded them whole."""
    declared = result.tasks.get(task) or base.tasks.get(task) or {}
    relevant = _relevant_defaults(declared)
    found = [
        Difference(key, base.defaults[key], result.defaults[key])
        for key in sorted(set(base.defaults) & set(result.defaults))
        if relevant(key) and base.defaults[key] != result.defaults[key] and _settable(base.defaults[key])
    ]
    found += [
        Difference(API_PREFIX + name, base.api[name], result.api.get(name))
        for name in sorted(_spelt_alike(task, result, base))
        if base.api.get(name) != result.api.get(name) and _respellable(base.api.get(name))
    ]
    for key, mine, theirs in ((INITIAL_WEIGHTS, result.initial_weights(task), base.initial_weights(task)),
                              (BATCH_ORDER, result.batch_order(task), base.batch_order(task))):
        if mine and theirs and mine.get("sha256") != theirs.get("sha256") and base.draws(task, key) is not None:
            found.append(Difference(key, theirs.get("sha256"), mine.get("sha256")))
    return found


def _rules(
    metric: str, result: Result, *, base: Result, drifting: set[tuple[str, str]], ruled_out: set[str],
    tolerances: Sequence[compare.Tolerance],
) -> tuple[Cause, str, bool]:
    """The first rule of the module docstring that holds (``ruled_out`` differences left out), its evidence,
    and whether that evidence is itself a proof."""
    task = result.task_of(metric)
    family, _, _ = task.partition(".")
    env = result.env
    declared = result.tasks.get(task) or base.tasks.get(task) or {}

    if family == "sweep" and (swept := sweep_causes.explain(metric, result, base=base)):
        return swept[0], swept[1], False
    if family == "script" and (scripted := script_causes.explain(metric, result, base=base, task=task, ruled_out=frozenset(ruled_out))):
        return scripted[0], scripted[1], False

    relevant_api = _relevant_api(metric, _spelt_alike(task, result, base))
    api = _changes(base.api, result.api, lambda key: relevant_api(key) and API_PREFIX + key not in ruled_out)
    if api:
        return Cause.API, "; ".join(api), False

    final_base, final_env = base.final_weights(task).get("sha256"), result.final_weights(task).get("sha256")
    if final_base and final_base == final_env and not metric.rsplit(".", 1)[-1].startswith("initial_"):
        return Cause.METRIC_SEMANTICS, f"the trained weights are bit-identical (sha256 {final_env}) yet the reported value differs", True
    recomputed_agree, recomputed = _recomputed(metric, task, result, base, tolerances)
    if recomputed_agree:
        return Cause.METRIC_SEMANTICS, f"{recomputed}, within tolerance, yet the reported values differ", True

    relevant = _relevant_defaults(declared)
    defaults = _changes(base.defaults, result.defaults, lambda key: relevant(key) and key not in ruled_out)
    if defaults:
        return Cause.DEFAULTS, f"resolved defaults differ: {'; '.join(defaults)}", False

    if declared.get("random_stream"):
        return Cause.RANDOM_STREAM, f"the task draws random numbers by construction ({declared.get('doc', task)})", False

    init_base, init_env = base.initial_weights(task), result.initial_weights(task)
    if init_base and init_env and init_base.get("sha256") != init_env.get("sha256"):
        drawn = f"initial weights differ (first kernel values {first_values(init_base)} vs {first_values(init_env)})"
        shared = task.rsplit(".", 1)[0] + ".shared_init"
        shared_metrics = [m for m in result.metrics if m.startswith(shared + ".")]
        twin_agrees = bool(shared_metrics) and not any((env, m) in drifting for m in shared_metrics)
        if metric.rsplit(".", 1)[-1].startswith("initial_"):  # the drawn numbers themselves: observed, not inferred
            return Cause.RANDOM_STREAM, f"the default initializer draws different numbers: {drawn}", True
        if INITIAL_WEIGHTS in ruled_out and twin_agrees:
            other = "not fit()'s shuffling, replayed too" if BATCH_ORDER in ruled_out else "such as fit()'s shuffling"
            return Cause.RANDOM_STREAM, (f"{drawn}; {shared}.* (NumPy weights, fixed fit() settings) agrees: another random "
                                         f"stream of the task ({other}) remains"), False
        if INITIAL_WEIGHTS not in ruled_out:
            if twin_agrees:
                agrees = f"training from identical NumPy weights ({shared}.*) agrees within tolerance"
                return Cause.RANDOM_STREAM, f"{drawn}, while {agrees}", False
            return Cause.UNEXPLAINED, f"{drawn}, but {shared}.* drifts too, so the random stream alone does not explain it", False

    weight_metrics = [f"{task}.{name}" for name in WEIGHT_METRICS.get(family, ())]
    if metric not in weight_metrics and all(m in result.metrics for m in weight_metrics) and weight_metrics and recomputed_agree is None:
        if not any((env, m) in drifting for m in weight_metrics):
            names = ", ".join(weight_metrics)
            return Cause.METRIC_SEMANTICS, f"the trained weights agree ({names} within tolerance) but the reported value differs", False

    core = _changes(base.distributions, result.distributions, _core_names(base, result), one_sided=True)
    if base.backend != result.backend:
        core.insert(0, f"backend: {base.backend} -> {result.backend}")
    if core:
        return Cause.NUMERICS, f"same inputs and resolved hyper-parameters; the framework differs: {'; '.join(core[:4])}", False
    others = _changes(base.distributions, result.distributions, None, one_sided=True)
    flags = _changes(base.env_vars, result.env_vars, None, one_sided=True)
    if others or flags:
        listed = others[:6] + flags[:4]
        return Cause.ENVIRONMENT, f"same Keras and backend; only these differ: {'; '.join(listed)}", False
    return Cause.UNEXPLAINED, "no recorded default, API behaviour, initial weight, package or flag differs", False


def _recomputed(metric: str, task: str, result: Result, base: Result, tolerances: Sequence[compare.Tolerance]) -> tuple[bool | None, str]:
    """Whether ``metric`` recomputed with NumPy from each side's final weights (:func:`probe.oracle.recompute`)
    agrees within tolerance, and those values in words; ``None`` where either side has none."""
    mine, theirs = result.recomputed(task).get(metric), base.recomputed(task).get(metric)
    if mine is None or theirs is None:
        return None, ""
    verdict, _, _ = compare.judge(mine, theirs, compare.tolerance_for(metric, tolerances))
    return verdict != Verdict.DRIFT, f"recomputed with NumPy from each side's final weights it is {theirs:.7g} and {mine:.7g}"


def differing(tables: Mapping[str, Mapping[str, Any]], absent: str = "—") -> pd.DataFrame:
    """Rows (keys) whose value is not the same in every column (environment); ``absent`` where missing."""
    table = pd.DataFrame({name: {key: _show(value) for key, value in values.items()} for name, values in tables.items()})
    if table.empty:
        return table
    table = table.fillna(absent)
    return table[table.nunique(axis=1) > 1].sort_index()


def _changes(
    old: Mapping[str, Any], new: Mapping[str, Any], keys: Callable[[str], bool] | None, one_sided: bool = False
) -> list[str]:
    """``'key: old -> new'`` for keys whose values differ: keys both sides have, or with ``one_sided``
    also keys only one side has (shown as ``(unset)``); ``keys`` narrows them when given."""
    names = set(old) | set(new) if one_sided else set(old) & set(new)
    chosen = [key for key in sorted(names) if keys is None or keys(key)]
    return [
        f"{key}: {_show(old.get(key, UNSET))} -> {_show(new.get(key, UNSET))}"
        for key in chosen
        if old.get(key, UNSET) != new.get(key, UNSET)
    ]


def _relevant_defaults(declared: Mapping[str, Any]) -> Callable[[str], bool]:
    """The defaults a task declares it relies on (key prefixes), less those it sets explicitly."""
    prefixes, explicit = tuple(declared.get("defaults", ())), set(declared.get("explicit", ()))
    return lambda key: key.startswith(prefixes) and key not in explicit


def _settable(value: Any) -> bool:
    """A value a re-run can pass as an argument: a plain scalar, not a recorded error."""
    return (value is None or isinstance(value, (bool, int, float, str))) and not (isinstance(value, str) and value.startswith("error: "))


def _respellable(behaviour: Any) -> bool:
    """A behaviour a re-run can give a call by spelling it (:func:`probe.optimizers.watch_api_calls`)."""
    return isinstance(behaviour, str) and (behaviour == "honoured" or behaviour.startswith("ignored"))


def _spelt_alike(task: str, result: Result, base: Result) -> set[str]:
    """The API calls (by behaviour probe) that ``task`` made with the same spelling on both sides."""
    return set(result.api_calls(task)) & set(base.api_calls(task))


def _relevant_api(metric: str, api_calls: set[str]) -> Callable[[str], bool]:
    """The behaviour probes a metric's value passes through: by its name, or a call its task made (spelt
    alike on both sides)."""
    names = {name for pattern, probes in METRIC_API.items() if fnmatch.fnmatchcase(metric, pattern) for name in probes}
    return lambda key: key in names or key in api_calls


def _core_names(base: Result, result: Result) -> Callable[[str], bool]:
    names = {"keras", "tf-keras"} | set(CORE_DISTRIBUTIONS.get(base.backend, ())) | set(CORE_DISTRIBUTIONS.get(result.backend, ()))
    return lambda key: key in names


def _show(value: Any) -> str:
    return f"{value:.7g}" if isinstance(value, float) else str(value)
