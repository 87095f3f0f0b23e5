"""Prove causes by experiment: re-run each drifting task in the candidate environment with recorded
differences undone, and see which brings its drifting metrics back within tolerance.

For each (environment, task) with drifting metrics, the differences a re-run can undo
(:func:`keras_drift.judge.attribute.undoable_differences`: resolved defaults the task relies on, the initial
weights, the order fit() shuffled the samples in) are set to the baseline's values one at a time and all together, in one probe process per
environment. A difference that alone brings every drifting metric of the task within tolerance is
*proven*; when only all of them together do, the smallest such set is searched by size (pairs, then
triples...), each size one more round. When none brings all of them within, the trial that brings the
most is *proven* for those and names the rest (``left``: the Keras 3.4 linear fit's weights come back with
the baseline's initial weights, the loss that its ``train_on_batch`` reports as a running mean does not),
provided the reverse re-run reproduces those in the baseline (else a coarse metric that agreed by chance,
an accuracy, would pass for a proof); when none brings any, the differences are *ruled out*. Rounds stop when the time budget is spent; what
was not tried says so.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Container, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from keras_drift.execute.cache import ResultCache, proofs_key
from keras_drift.execute.runner import Execute
from keras_drift.judge import compare
from keras_drift.judge.attribute import undoable_differences
from keras_drift.judge.proofs import DRAWS, Difference, Proof, ProofStatus, Trial
from keras_drift.store.results import Result
from keras_drift.store.verdicts import Verdict

DEFAULT_BUDGET_S = 600.0


@dataclass
class _Case:
    """One (environment, task) under experiment, and the subsets of its differences still to try."""

    env: str
    task: str
    metrics: tuple[str, ...]
    differences: tuple[Difference, ...]
    trials: list[Trial]
    proof: Proof | None = None


def explain(
    verdicts: pd.DataFrame,
    results: Sequence[Result],
    *, baseline: str,
    tolerances: Sequence[compare.Tolerance],
    execute: Execute,
    budget_s: float = DEFAULT_BUDGET_S,
    jobs: int = 1,
    clock: Callable[[], float] = time.monotonic,
) -> list[Proof]:
    """One :class:`Proof` per drifting (environment, task) of ``verdicts`` (the table of
    :func:`keras_drift.judge.compare.compare`), experimenting through ``execute`` within ``budget_s`` seconds."""
    by_env = {result.env: result for result in results}
    base = by_env[baseline]
    cases = _cases(verdicts, by_env, base)
    deadline = clock() + budget_s
    for size in itertools.count(1):
        pending = [case for case in cases if case.proof is None]
        if not pending:
            break
        if clock() >= deadline:
            for case in pending:
                case.proof = _proof(case, ProofStatus.NOT_TRIED, why=f"not proven: the explain budget ({budget_s:g} s) was spent first")
            break
        _round(pending, size, by_env=by_env, base=base, tolerances=tolerances, execute=execute, jobs=jobs)
    if clock() < deadline:
        _confirm_in_reverse(cases, by_env, base, tolerances, execute)
    return [case.proof for case in cases if case.proof is not None]


def explain_with_cache(
    results: Sequence[Result],
    *, baseline: str,
    tolerances: Sequence[compare.Tolerance],
    execute: Execute,
    results_cache: ResultCache | None,
    budget_s: float = DEFAULT_BUDGET_S,
    jobs: int = 1,
    rerun: Container[str] = (),
) -> list[Proof]:
    """:func:`explain` every environment against ``baseline``, reusing what ``results_cache`` holds for
    the same pair of results (unless ``rerun`` names the candidate) and keeping what was settled there;
    what a spent budget or a failed re-run left open is not kept. Without a cache, everything is explained."""
    by_env = {result.env: result for result in results}
    keys = {env: proofs_key(result, by_env[baseline], tolerances, budget_s) for env, result in by_env.items() if env != baseline}
    known = {env: results_cache.lookup_proofs(key) if results_cache is not None and key and env not in rerun else None
             for env, key in keys.items()}
    to_explain = [env for env, found in known.items() if found is None]
    table = compare.compare(results, baseline, tolerances)
    explained = explain(table[table["env"].isin([baseline, *to_explain])], results, baseline=baseline, tolerances=tolerances,
                        execute=execute, budget_s=budget_s, jobs=jobs)
    for env in to_explain:
        found = [proof for proof in explained if proof.env == env]
        if results_cache is not None and keys[env] and all(proof.settled for proof in found):
            results_cache.store_proofs(str(keys[env]), found)
    return [*explained, *(proof for found in known.values() for proof in found or [])]


def _cases(verdicts: pd.DataFrame, by_env: Mapping[str, Result], base: Result) -> list[_Case]:
    drifting = verdicts[(verdicts["verdict"] == Verdict.DRIFT) & (verdicts["env"] != base.env)]
    grouped: dict[tuple[str, str], list[str]] = {}
    for row in drifting.itertuples():
        result = by_env[str(row.env)]
        grouped.setdefault((result.env, result.task_of(str(row.metric))), []).append(str(row.metric))
    cases = []
    for (env, task), metrics in sorted(grouped.items()):
        case = _Case(env, task, tuple(metrics), tuple(undoable_differences(task, by_env[env], base)), [])
        if not case.differences:
            case.proof = _proof(case, ProofStatus.NOT_TRIED, why="no recorded difference of this task can be undone by a re-run")
        cases.append(case)
    return cases


def _round(
    cases: Sequence[_Case], size: int, *, by_env: Mapping[str, Result], base: Result,
    tolerances: Sequence[compare.Tolerance], execute: Execute, jobs: int,
) -> None:
    """Try every subset of ``size`` differences of each case (round 1 also tries all of them together),
    one ``execute`` per environment, and settle the cases that this round decides."""
    planned: dict[str, list[tuple[_Case, tuple[str, ...]]]] = {}
    for case in cases:
        keys = [difference.key for difference in case.differences]
        subsets = [tuple(subset) for subset in itertools.combinations(keys, size)]
        if size == 1 and len(keys) > 1:
            subsets.append(tuple(keys))
        planned.setdefault(case.env, []).extend((case, subset) for subset in subsets)

    def run(env: str) -> tuple[str, Mapping[str, Mapping[str, Any]]]:
        requests = [{"id": _trial_id(case.task, subset), "task": case.task, "overrides": _overrides(case, subset, base)}
                    for case, subset in planned[env]]
        return env, execute(env, requests)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        outcomes = dict(pool.map(run, sorted(planned)))
    for env, tried in planned.items():
        for case, subset in tried:
            outcome = outcomes[env].get(_trial_id(case.task, subset), {"error": "no outcome"})
            case.trials.append(_trial(case, subset, outcome, result=by_env[env], base=base, tolerances=tolerances))
    for case in cases:
        _settle(case, size)


def _confirm_in_reverse(
    cases: Sequence[_Case], by_env: Mapping[str, Result], base: Result, tolerances: Sequence[compare.Tolerance], execute: Execute
) -> None:
    """The other direction, for each proven case: re-run the task in the baseline with the candidate's
    values of what accounts for the drift (one probe process for all of them) and record whether the
    baseline then lands on the candidate's numbers (``Proof.reverse``)."""
    planned = []
    for case in cases:
        proof = case.proof
        if proof is None or proof.status != ProofStatus.PROVEN:
            continue
        result, by_key = by_env[case.env], {difference.key: difference for difference in case.differences}
        overrides = {key: result.draws(case.task, key) if key in DRAWS else by_key[key].candidate for key in proof.accounts_for}
        if all(value is not None or key not in DRAWS for key, value in overrides.items()):
            planned.append((case, proof, f"{case.env}|{_trial_id(case.task, proof.accounts_for)}", overrides))
    if not planned:
        return
    outcomes = execute(base.env, [{"id": trial_id, "task": case.task, "overrides": overrides}
                                  for case, _, trial_id, overrides in planned])
    for case, proof, trial_id, _ in planned:
        outcome = outcomes.get(trial_id, {"error": "no outcome"})
        reverse = _trial(case, proof.accounts_for, outcome, result=by_env[case.env], base=base, tolerances=tolerances,
                         aim=by_env[case.env], judged=[metric for metric in case.metrics if proof.accounts_for_metric(metric)])
        case.proof = replace(proof, reverse=reverse)
    for case in cases:  # a proof for part of the metrics stands only where the reverse reproduces them
        partial = case.proof
        if partial is not None and partial.left and not (partial.reverse is not None and partial.reverse.within):
            case.proof = _proof(case, ProofStatus.RULED_OUT)


def _settle(case: _Case, size: int) -> None:
    """Decide ``case`` when this round can: the first subset that fixes it (the smallest, sizes grow),
    ruled out when all together do not, or nothing is left to try."""
    fixing = [trial for trial in case.trials if trial.within and len(trial.undone) == size]
    if fixing:
        case.proof = _proof(case, ProofStatus.PROVEN, accounts_for=fixing[0].undone)
        return
    together = [trial for trial in case.trials if len(trial.undone) == len(case.differences)]
    if together and not together[0].within:
        if together[0].error:
            why = f"not proven: the re-run with every difference undone failed ({together[0].error})"
            case.proof = _proof(case, ProofStatus.NOT_TRIED, why=why)
            return
        # what brought part of the drifting metrics within tolerance accounts for those (the rest left)
        partial = [trial for trial in case.trials if trial.applied and not trial.error and len(trial.left) < len(case.metrics)]
        best = min(partial, key=lambda trial: (len(trial.left), len(trial.undone)), default=None)
        case.proof = (_proof(case, ProofStatus.RULED_OUT) if best is None
                      else _proof(case, ProofStatus.PROVEN, accounts_for=best.undone, left=best.left))
    elif size + 1 >= len(case.differences):  # the next size is all of them, already tried (and it fixed it)
        case.proof = _proof(case, ProofStatus.PROVEN, accounts_for=together[0].undone)


def _trial(case: _Case, subset: tuple[str, ...], outcome: Mapping[str, Any], *, result: Result, base: Result,
           tolerances: Sequence[compare.Tolerance], aim: Result | None = None, judged: Sequence[str] | None = None) -> Trial:
    """What one re-run showed: whether it ran, whether the task reached every override (one it never
    reached changed nothing), which of the drifting metrics (``judged``: default, all of the case's) it
    left beyond tolerance of ``aim``'s (default: the baseline's; the candidate's for a re-run of the
    baseline in reverse), and the largest relative difference that remains."""
    aim = aim or base
    error = outcome.get("error")
    applied = set(subset) <= set(outcome.get("applied", ()))
    metrics = outcome.get("metrics", {})
    left, largest = [], None
    for metric in judged if judged is not None else case.metrics:
        value, reference = metrics.get(metric), aim.metrics.get(metric)
        floor = compare.noise_floor(result, metric) + compare.noise_floor(base, metric)
        verdict, _, relative = compare.judge(value, reference, compare.tolerance_for(metric, tolerances), floor)
        if verdict == Verdict.DRIFT or metric not in metrics:
            left.append(metric)
        if relative is not None:
            largest = max(abs(relative), largest or 0.0)
    return Trial(undone=subset, applied=applied, error=error, within=not error and not left, max_rel_diff=largest,
                 left=tuple(left) if not error else ())


def _overrides(case: _Case, subset: tuple[str, ...], base: Result) -> dict[str, Any]:
    """What the probe sets for ``subset``: each default's baseline value, the baseline's random draws whole
    (initial weights, batch order)."""
    by_key = {difference.key: difference for difference in case.differences}
    return {key: base.draws(case.task, key) if key in DRAWS else by_key[key].baseline for key in subset}


def _trial_id(task: str, subset: tuple[str, ...]) -> str:
    return task + "|" + "+".join(subset)


def _proof(case: _Case, status: ProofStatus, accounts_for: tuple[str, ...] = (), why: str = "", left: tuple[str, ...] = ()) -> Proof:
    return Proof(env=case.env, task=case.task, status=status, accounts_for=accounts_for, differences=case.differences,
                 trials=tuple(case.trials), why=why, metrics=case.metrics, left=left)

