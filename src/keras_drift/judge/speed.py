"""Slowdowns: each training task's time per step against the baseline's, beyond a factor either way.

The probe times every run of a task and counts its training steps (``train_on_batch`` calls and ``fit``
batches), so a task compares per step even where ``fit()``'s defaults run a different number of steps.
The comparison is noise-aware with the runs each side has (the first run, and the repeats of a drifting
or non-deterministic task): a task is ``slower`` only when its *fastest* run per step is more than
``factor`` times the baseline's *slowest*, and ``faster`` in the mirror case. Tasks of fewer than
``MIN_STEPS`` steps on either side are left out: their time is mostly the first step's tracing and
compilation (or, for tasks that train nothing, milliseconds of noise), not the cost of a step. Where the
probe counted the seconds XLA spent compiling a run's programs (JAX), they are not part of its time: JAX
may have taken them from its persistent compile cache in one environment and compiled them in the other.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from keras_drift.store.results import Result, Status

DEFAULT_FACTOR = 2.0
MIN_STEPS = 20
SLOWER, FASTER = "slower", "faster"
COLUMNS = ("env", "task", "steps", "baseline_steps", "seconds_per_step", "baseline_seconds_per_step", "ratio", "verdict")


def per_step_times(result: Result, task: str) -> list[float]:
    """Seconds per training step of each run of ``task``, its compile seconds left out (empty when it took
    fewer than ``MIN_STEPS`` steps, failed, or a run's time is not above 0 once compiling is left out)."""
    timings = result.get("timings", {})
    cut_short = result.tasks.get(task, {}).get("cut_short")
    if isinstance(cut_short, dict):  # cut short for its pace: its first steps measured it (first step left out)
        per_step = cut_short.get("seconds_per_step")
        return [float(per_step)] if isinstance(per_step, (int, float)) and 0 < per_step < math.inf else []
    steps = timings.get("steps", {}).get(task, 0)
    if steps < MIN_STEPS or result.tasks.get(task, {}).get("status") != Status.OK:
        return []
    compiling = timings.get("compile_s", {})
    times = [(seconds - compiling.get(key, 0.0)) / steps for key, seconds in timings.get("tasks_s", {}).items()
             if key.rsplit("#", 1)[0] == task]
    # a run that compiled as long as it ran (or longer: two clocks) measured no step: nothing to compare
    return times if all(0 < time < math.inf for time in times) else []


def speed_table(results: Sequence[Result], baseline: str, factor: float = DEFAULT_FACTOR) -> pd.DataFrame:
    """One row per (environment, training task) both sides ran: the per-step times (the fastest run each),
    their ratio, and ``slower``/``faster`` beyond ``factor`` by the noise-aware rule, else empty."""
    by_env = {result.env: result for result in results}
    reference = by_env.get(baseline)
    rows = []
    for result in results:
        if reference is None or result.env == baseline or not result.ok:
            continue
        for task in result.tasks:
            mine, theirs = per_step_times(result, task), per_step_times(reference, task)
            if not mine or not theirs:
                continue
            verdict = SLOWER if min(mine) > factor * max(theirs) else FASTER if max(mine) * factor < min(theirs) else ""
            rows.append({
                "env": result.env, "task": task,
                "steps": _steps(result, task), "baseline_steps": _steps(reference, task),
                "seconds_per_step": min(mine), "baseline_seconds_per_step": min(theirs),
                "ratio": min(mine) / min(theirs), "verdict": verdict,
            })
    return pd.DataFrame(rows, columns=list(COLUMNS)).sort_values(["env", "task"], ignore_index=True)



def _steps(result: Result, task: str) -> int:
    """The steps a task took: those before it was cut short where it was (see :func:`per_step_times`)."""
    cut_short = result.tasks.get(task, {}).get("cut_short")
    return int(cut_short["steps"]) if isinstance(cut_short, dict) else int(result["timings"]["steps"][task])
