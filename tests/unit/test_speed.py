"""Slowdowns: per-step times against the baseline's, the noise-aware rule, and where they show and fail."""

from __future__ import annotations

import pytest
from conftest import make_result
from test_attribute import TOL

from keras_drift import pipeline
from keras_drift.errors import ExitCode
from keras_drift.judge import speed
from keras_drift.render.report import summary_line
from keras_drift.store.results import Result
from keras_drift.store.verdicts import validate_verdicts


def timed(env: str, runs: dict[str, list[float]], steps: dict[str, int]) -> Result:
    """A result whose tasks ran ``runs[task]`` seconds each (first run, then repeats) over ``steps[task]`` steps."""
    result = make_result(env, {f"{task}.w": 0.5 for task in runs})
    result["tasks"] = {task: {"family": task.split(".")[0], "status": "ok", "runs": len(seconds)} for task, seconds in runs.items()}
    result["timings"] = {"tasks_s": {f"{task}#{index}": value for task, seconds in runs.items() for index, value in enumerate(seconds)},
                         "steps": steps}
    return result


def test_per_step_times_divide_each_run_by_the_steps_it_took():
    result = timed("a", {"linear.defaults": [2.0, 2.2], "activation.functions": [0.01]}, {"linear.defaults": 1000, "activation.functions": 0})
    assert speed.per_step_times(result, "linear.defaults") == pytest.approx([0.002, 0.0022])
    assert speed.per_step_times(result, "activation.functions") == []  # trains nothing: left out
    few = timed("a", {"batchnorm.train_step": [0.4]}, {"batchnorm.train_step": speed.MIN_STEPS - 1})
    assert speed.per_step_times(few, "batchnorm.train_step") == []  # mostly its first step's tracing: left out
    result["tasks"]["linear.defaults"]["status"] = "failed"
    assert speed.per_step_times(result, "linear.defaults") == []


def test_compile_seconds_are_not_part_of_a_step():
    """The same task, its programs compiled in one environment (1.2 s of its 1.7 s) and taken from JAX's
    compile cache in the other (0.1 s of 0.6 s): the same 0.5 ms per step, so neither is slower."""
    cold = timed("cold", {"classifier.shared_init": [1.7]}, {"classifier.shared_init": 1000})
    cold["timings"]["compile_s"] = {"classifier.shared_init#0": 1.2}
    warm = timed("warm", {"classifier.shared_init": [0.6]}, {"classifier.shared_init": 1000})
    warm["timings"]["compile_s"] = {"classifier.shared_init#0": 0.1}
    assert speed.per_step_times(cold, "classifier.shared_init") == pytest.approx([0.0005])
    assert speed.per_step_times(warm, "classifier.shared_init") == pytest.approx([0.0005])
    assert speed.speed_table([warm, cold], "warm")["verdict"].tolist() == [""]


def test_slower_only_when_the_fastest_run_is_beyond_the_factor_of_the_slowest_baseline_run():
    base = timed("base", {"linear.defaults": [2.0, 2.1], "classifier.defaults": [5.0]}, {"linear.defaults": 1000, "classifier.defaults": 1000})
    # linear: fastest 5.0 ms per step against the baseline's slowest 2.1: 5.0 > 2 * 2.1, slower, ratio 5.0 / 2.0
    # classifier: 10 times fewer steps (a changed fit() default) at the same per-step time: the same
    other = timed("other", {"linear.defaults": [5.0, 6.0], "classifier.defaults": [0.5]}, {"linear.defaults": 1000, "classifier.defaults": 100})
    table = speed.speed_table([base, other], "base").set_index("task")
    assert table.loc["linear.defaults", "verdict"] == "slower"
    assert table.loc["linear.defaults", "ratio"] == pytest.approx(2.5)
    assert table.loc["linear.defaults", "seconds_per_step"] == pytest.approx(0.005)
    assert table.loc["classifier.defaults", "verdict"] == "" and table.loc["classifier.defaults", "ratio"] == pytest.approx(1.0)
    # runs of 4.1 and 6 ms: the ratio of the fastest runs is 2.05, but 4.1 <= 2 * 2.1, so the noise says not slower
    noisy = timed("other", {"linear.defaults": [4.1, 6.0]}, {"linear.defaults": 1000})
    assert speed.speed_table([base, noisy], "base")["verdict"].tolist() == [""]
    # the mirror: the slowest run here, 0.9 ms, times 2 is under the fastest there, 2.0 ms
    quick = timed("other", {"linear.defaults": [0.8, 0.9]}, {"linear.defaults": 1000})
    assert speed.speed_table([base, quick], "base")["verdict"].tolist() == ["faster"]
    assert speed.speed_table([base, other], "base", factor=3.0).set_index("task").loc["linear.defaults", "verdict"] == ""


def test_a_task_cut_short_for_its_pace_compares_its_measured_steps_with_the_baseline():
    """Retracing on every call: 21 steps at 0.6 s each before the probe cut the fit short, against the
    baseline's 2.0 s for 1000 steps (2 ms): 300 times slower per step, 21 steps against 1000."""
    base = timed("base", {"linear.defaults": [2.0]}, {"linear.defaults": 1000})
    slow = timed("slow", {"linear.defaults": [12.6]}, {"linear.defaults": 0})  # Keras 3 counts a fit's steps at its end
    slow["metrics"] = {}
    slow["tasks"]["linear.defaults"].update(status="skipped", cut_short={"steps": 21, "of": 1001, "seconds_per_step": 0.6,
                                                                         "projected_s": 600.6, "warning": "", "reason": "cut short"})
    row = speed.speed_table([base, slow], "base").iloc[0]
    assert row["verdict"] == "slower" and row["ratio"] == pytest.approx(300.0)
    assert row["steps"] == 21 and row["baseline_steps"] == 1000


def test_a_slowdown_is_reported_and_fails_only_when_asked(tmp_path):
    base = timed("base", {"linear.defaults": [2.0]}, {"linear.defaults": 1000})
    other = timed("other", {"linear.defaults": [9.0]}, {"linear.defaults": 1000})
    judged = pipeline.judge([base, other], "base", TOL)
    assert pipeline.exit_code(judged, [base, other]) == ExitCode.OK
    assert pipeline.exit_code(judged, [base, other], fail_on=("slowdown",)) == ExitCode.DRIFT
    assert summary_line([base, other], judged.verdicts, "base", judged.behaviours, judged.speed).endswith(
        "; 1 task slower in 1 environment")
    document = pipeline.verdicts_document(judged, [base, other], "base", run_id="run", fail_on=("slowdown",))
    validate_verdicts(document, tmp_path / "verdicts.json")
    assert document["speed"]["factor"] == 2.0
    [row] = document["speed"]["tasks"]
    assert (row["env"], row["task"], row["verdict"], row["steps"]) == ("other", "linear.defaults", "slower", 1000)
    assert row["ratio"] == pytest.approx(4.5) and document["exit_code"] == 1
