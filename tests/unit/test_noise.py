"""Adaptive repeats on constructed results and a simulated probe: only drifting tasks are repeated, in the
candidate and the baseline, and the spread they show widens the tolerance exactly as the documented rule says."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from test_attribute import TOL, base_result

from keras_drift.execute import noise
from keras_drift.judge.compare import compare
from keras_drift.store.results import Result


def run_once(result: dict) -> Result:
    """``result`` as a first pass of adaptive repeats leaves it: every task ran once."""
    for task in result["tasks"].values():
        task["runs"] = 1
    return Result(result)


def pair(candidate_loss: float = 0.70) -> tuple[Result, Result]:
    base, other = run_once(base_result()), run_once(base_result("other"))
    other["metrics"]["classifier.defaults.loss"] = candidate_loss
    return base, other


def simulated_probe(repeat_values: Mapping[str, float], calls: list[tuple[str, list[str]]]):
    """A probe whose repeat of classifier.defaults gives ``repeat_values[env]`` as its loss (the other
    metrics of the task unchanged); every probe process is recorded in ``calls``."""

    def execute(env: str, trials: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
        calls.append((env, [trial["id"] for trial in trials]))
        metrics = base_result(env)["metrics"]
        return {trial["id"]: {"task": trial["task"], "applied": [], "error": None,
                              "metrics": {**{k: v for k, v in metrics.items() if k.startswith(trial["task"] + ".")},
                                          "classifier.defaults.loss": repeat_values[env]}} for trial in trials}

    return execute


def verdict_of(base: Result, other: Result, metric: str) -> str:
    table = compare([base, other], "base", TOL)
    return str(table[(table["env"] == "other") & (table["metric"] == metric)]["verdict"].iloc[0])


def test_only_the_drifting_task_is_repeated_in_the_candidate_and_the_baseline():
    base, other = pair()
    calls: list[tuple[str, list[str]]] = []
    changed = noise.measure(compare([base, other], "base", TOL), [base, other], baseline="base",
                            execute=simulated_probe({"base": 0.7433, "other": 0.70}, calls), repeats=3)
    assert sorted(calls) == [("base", ["classifier.defaults#1", "classifier.defaults#2"]),
                             ("other", ["classifier.defaults#1", "classifier.defaults#2"])]
    assert {result.env for result in changed} == {"base", "other"}
    for result in (base, other):
        assert result.repeated_tasks == {"classifier.defaults": 3}
        assert result.noise["classifier.defaults.loss"] == 0.0  # bitwise repeatable: the floor stays 0
    assert verdict_of(base, other, "classifier.defaults.loss") == "drift"


def test_a_noisy_repeat_widens_the_tolerance_by_its_spread():
    # |0.70 - 0.7433| = 0.0433. Repeats at 0.66 measure a spread of 0.04: 0.0433 > 1e-6 + 0.04 + 1e-5 * 0.7433
    # = 0.0400084, still drift. Repeats at 0.65 measure 0.05: 0.0433 <= 0.0500084, within tolerance.
    for repeat_loss, expected in ((0.66, "drift"), (0.65, "within_tolerance")):
        base, other = pair()
        noise.measure(compare([base, other], "base", TOL), [base, other], baseline="base",
                      execute=simulated_probe({"base": 0.7433, "other": repeat_loss}, []), repeats=2)
        assert other.noise["classifier.defaults.loss"] == pytest.approx(0.70 - repeat_loss)
        assert verdict_of(base, other, "classifier.defaults.loss") == expected


def test_nothing_is_repeated_where_nothing_drifts_or_a_repeat_cannot_measure_anything():
    base, other = pair(candidate_loss=0.7433)
    calls: list[tuple[str, list[str]]] = []
    assert noise.measure(compare([base, other], "base", TOL), [base, other], baseline="base", execute=simulated_probe({}, calls), repeats=2) == []
    base, other = pair()
    for result in (base, other):
        result["tasks"]["classifier.defaults"]["repeat"] = False  # fed only NumPy: a repeat measures zero
    assert noise.tasks_to_repeat(compare([base, other], "base", TOL), [base, other], "base", 2) == {}
    base, other = pair()
    other["tasks"]["classifier.defaults"]["runs"] = 2  # repeated up front (a non-deterministic environment)
    assert noise.tasks_to_repeat(compare([base, other], "base", TOL), [base, other], "base", 2) == {"base": ["classifier.defaults"]}
    assert calls == []


def test_a_failed_repeat_is_recorded_and_measures_nothing():
    base, other = pair()

    def failing(env: str, trials: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
        return {trial["id"]: {"task": trial["task"], "metrics": {}, "applied": [], "error": "not run: the probe timed out"}
                for trial in trials}

    noise.measure(compare([base, other], "base", TOL), [base, other], baseline="base", execute=failing, repeats=2)
    assert other.tasks["classifier.defaults"]["repeat_error"] == "not run: the probe timed out"
    assert other.repeated_tasks == {} and "classifier.defaults.loss" not in other.noise


def test_spread_follows_the_probes_rule():
    assert noise.spread(math.nan, math.nan) == 0.0
    assert noise.spread(0.25, 0.5) == 0.25
    assert noise.spread(3, 3) == 0.0
    assert math.isnan(noise.spread("relu", "gelu"))
    # NaN noise is the largest a merge keeps, and the comparison reads it as no floor (compare.noise_floor)
    result = run_once(base_result())
    repeat = {key: value for key, value in result.metrics.items() if key.startswith("linear.defaults.")}
    noise.merge_repeats(result, "linear.defaults", [{"metrics": {**repeat, "linear.defaults.w": "NaN"}, "error": None}])
    assert math.isnan(result.noise["linear.defaults.w"]) and result.noise["linear.defaults.b"] == 0.0
    # a metric the repeat did not produce at all moved too
    noise.merge_repeats(result, "linear.defaults", [{"metrics": {}, "error": None}])
    assert math.isnan(result.noise["linear.defaults.b"])


def test_repeats_a_load_process_already_ran_are_not_run_again():
    base, other = pair()
    verdicts = compare([base, other], "base", TOL)
    trials = noise.repeat_trials(verdicts, [base, other], "base", 3)
    expected = [{"id": f"classifier.defaults#{run}", "task": "classifier.defaults", "overrides": {}} for run in (1, 2)]
    assert trials == {"base": expected, "other": expected}
    calls: list[tuple[str, list[str]]] = []
    probe = simulated_probe({"base": 0.7433, "other": 0.70}, calls)
    done = {"base": probe("base", trials["base"])}
    calls.clear()
    noise.measure(verdicts, [base, other], baseline="base", execute=probe, repeats=3, done=done)
    assert calls == [("other", ["classifier.defaults#1", "classifier.defaults#2"])]
    assert base.repeated_tasks == {"classifier.defaults": 3} and other.repeated_tasks == {"classifier.defaults": 3}
    # a load process that stopped before its last repeat leaves the environment's repeats to a process of their own
    base, other = pair()
    calls.clear()
    noise.measure(verdicts, [base, other], baseline="base", execute=probe, repeats=3, done={"base": {"classifier.defaults#1": done["base"]["classifier.defaults#1"]}})
    assert sorted(env for env, _ in calls) == ["base", "other"] and base.repeated_tasks == {"classifier.defaults": 3}
