"""Adaptive repeats: measure run-to-run noise only where it can change a verdict.

A metric's noise floor only ever widens its tolerance (``compare``'s rule), so a metric within tolerance
stays within whatever the noise. ``drift`` therefore runs each task once, compares, and repeats only the
tasks with a drifting metric, in the candidate and in the baseline (both floors count), up to
``repeats`` runs in all. Each repeat is a plain re-run of the task (nothing overridden) in a fresh probe
process of the existing environment: one of its own, or the environment's load process, which runs them
before its loads (``runner.run_load_phase``; the caller hands their outcomes on as ``done``). The spread
of the repeats is merged into the result's ``noise`` exactly as the probe records it for up-front
repeats, and the task records how many runs it had.
Environments known or declared non-deterministic are repeated up front instead (see ``runner``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

from keras_drift.execute.cache import ResultCache
from keras_drift.execute.runner import Execute
from keras_drift.judge import compare
from keras_drift.store.results import Result, Status, decode, write_result
from keras_drift.store.verdicts import Verdict


def repeat_drifting(
    results: Sequence[Result], *, baseline: str, tolerances: Sequence[compare.Tolerance], execute: Execute, repeats: int,
    run_dir: Path, results_cache: ResultCache | None = None, jobs: int = 1, done: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """What ``drift`` does after its first pass: compare, :func:`measure` where something drifts, and
    rewrite (and re-cache) the results that changed."""
    for result in measure(compare.compare(results, baseline, tolerances), results, baseline=baseline, execute=execute, repeats=repeats,
                          jobs=jobs, done=done):
        write_result(result, run_dir)
        if results_cache is not None:
            results_cache.store(result, Path(run_dir).name)


def tasks_to_repeat(verdicts: pd.DataFrame, results: Sequence[Result], baseline: str, repeats: int) -> dict[str, list[str]]:
    """Environment -> the tasks to repeat there: every repeatable task with fewer than ``repeats`` runs
    that has a drifting metric in some candidate, in that candidate and in the baseline."""
    by_env = {result.env: result for result in results}
    wanted: dict[str, set[str]] = {}
    for row in verdicts[(verdicts["verdict"] == Verdict.DRIFT) & (verdicts["env"] != baseline)].itertuples():
        task = by_env[str(row.env)].task_of(str(row.metric))
        for env in (str(row.env), baseline):
            declaration = by_env[env].tasks.get(task, {})
            if declaration.get("status") == Status.OK and declaration.get("repeat", True) and declaration.get("runs", repeats) < repeats:
                wanted.setdefault(env, set()).add(task)
    return {env: sorted(tasks) for env, tasks in sorted(wanted.items())}


def repeat_trials(verdicts: pd.DataFrame, results: Sequence[Result], baseline: str, repeats: int) -> dict[str, list[dict[str, Any]]]:
    """Environment -> the trials that repeat its tasks of :func:`tasks_to_repeat` up to ``repeats`` runs,
    each ``{"id": "<task>#<run>", "task", "overrides": {}}``."""
    by_env = {result.env: result for result in results}
    return {env: [{"id": f"{task}#{run}", "task": task, "overrides": {}}
                  for task in tasks for run in range(by_env[env].tasks[task].get("runs", 1), repeats)]
            for env, tasks in tasks_to_repeat(verdicts, results, baseline, repeats).items()}


def measure(
    verdicts: pd.DataFrame, results: Sequence[Result], *, baseline: str, execute: Execute, repeats: int, jobs: int = 1,
    done: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Result]:
    """Run the trials of :func:`repeat_trials` (one ``execute`` per environment, ``jobs`` at a time; an
    environment whose outcomes ``done`` already holds, every trial by id, is not run again), merge the
    spreads into the results in place, and return the results that changed."""
    trials = repeat_trials(verdicts, results, baseline, repeats)
    by_env = {result.env: result for result in results}

    def run(env: str) -> tuple[str, Mapping[str, Mapping[str, Any]]]:
        found = (done or {}).get(env, {})
        if all(trial["id"] in found for trial in trials[env]):
            return env, found
        return env, execute(env, trials[env])

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        outcomes = dict(pool.map(run, trials))
    for env, planned in trials.items():
        for task in sorted({trial["task"] for trial in planned}):
            merge_repeats(by_env[env], task, [outcome for key, outcome in outcomes[env].items() if key.startswith(task + "#")])
    return [by_env[env] for env in trials]


def merge_repeats(result: Result, task: str, outcomes: Sequence[Mapping[str, Any]]) -> None:
    """Fold repeat outcomes of ``task`` into ``result``: each metric's noise is the largest spread of a
    repeat from the first run (as the probe records it); a failed repeat is noted and measures nothing."""
    declaration = result.tasks[task]
    succeeded = [outcome for outcome in outcomes if not outcome.get("error")]
    failed = [str(outcome["error"]) for outcome in outcomes if outcome.get("error")]
    if failed:
        declaration["repeat_error"] = failed[0]
    if not succeeded:
        return
    runs = declaration.get("runs", 1)
    declaration["runs"] = runs + len(succeeded)
    timings = result.setdefault("timings", {}).setdefault("tasks_s", {})
    for index, outcome in enumerate(succeeded):
        if isinstance(outcome.get("seconds"), (int, float)):  # the repeat's time counts for speed like the first run's
            timings[f"{task}#{runs + index}"] = float(outcome["seconds"])
    finished = [decode({"metrics": dict(outcome.get("metrics", {}))}).metrics for outcome in succeeded]
    noise = result.setdefault("noise", {})
    for metric, first in result.metrics.items():
        if result.task_of(metric) == task:
            spreads = [spread(repeat.get(metric, math.nan), first) for repeat in finished]
            noise[metric] = max([noise.get(metric, 0.0), *spreads], key=_nan_largest)


def spread(value: Any, first: Any) -> float:
    """How far a repeat moved from the first run: 0.0 when bitwise equal (NaN included), NaN when the
    values are not numbers (the probe's rule for up-front repeats, which the comparison reads)."""
    if value == first or (value != value and first != first):
        return 0.0
    if isinstance(value, (int, float)) and isinstance(first, (int, float)):
        return abs(float(value) - float(first))
    return math.nan


def _nan_largest(value: float) -> float:
    return math.inf if math.isnan(value) else value
