"""The drift sequence, run offline against stand-in stages: its steps in order, what flows between them."""

from types import SimpleNamespace

from conftest import make_result

from keras_drift import drift
from keras_drift.execute.runner import ProbeSettings
from keras_drift.judge.compare import Tolerance


def _plan(tmp_path, **changes):
    values = dict(specs=(SimpleNamespace(name="base"), SimpleNamespace(name="cand")), baseline="base", run_dir=tmp_path / "run",
                  project_root=tmp_path, venvs_dir=tmp_path / "venvs", settings=ProbeSettings(saved_models=True, repeats=3),
                  judging=drift.Judging(tolerances=(Tolerance("*", 0.0, 0.0),)))
    values.update(changes)
    return drift.DriftPlan(**values)


def _stages(calls, results):
    rendered = SimpleNamespace(exit_code=1)
    return drift.Stages(
        probe=lambda plan, say: calls.append(("probe", plan.baseline)) or results,
        load=lambda plan, found, trials, say: calls.append(("load", {env: [t["task"] for t in ts] for env, ts in trials.items()}))
        or {"base": {"t1": {"metrics": {}}}},
        repeat=lambda plan, found, repeated, say: calls.append(("repeat", sorted(repeated))),
        explain=lambda plan, found, say: calls.append(("explain", len(found))),
        render=lambda plan, found: calls.append(("render", [r.env for r in found])) or rendered,
    ), rendered


def test_the_steps_run_in_order_and_the_drifting_task_s_repeats_ride_along_in_the_load_phase(tmp_path):
    """m.w drifts (0.5 against 0.7, no tolerance), so its task is repeated in both environments: the repeats
    are handed to the load step, whose outcomes the repeat step is told it need not run again."""
    results = [make_result("base", {"m.w": 0.5}), make_result("cand", {"m.w": 0.7})]
    for result in results:
        result["tasks"] = {"m": {"family": "m", "status": "ok", "repeat": True, "runs": 1}}  # ran once: 2 more for 3
    calls = []
    stages, rendered = _stages(calls, results)
    outcome = drift.run_drift(_plan(tmp_path), stages=stages)
    assert [name for name, _ in calls] == ["probe", "load", "repeat", "explain", "render"]
    assert calls[0] == ("probe", "base") and calls[2] == ("repeat", ["base"]) and calls[4] == ("render", ["base", "cand"])
    assert set(calls[1][1]) == {"base", "cand"} and all(tasks == ["m", "m"] for tasks in calls[1][1].values())
    assert outcome.rendered is rendered and outcome.results == results
    assert set(outcome.seconds) == {"probe", "load", "repeat", "explain", "render"}


def test_without_saved_models_or_explaining_those_steps_are_left_out(tmp_path):
    results = [make_result("base", {"m.w": 0.5}), make_result("cand", {"m.w": 0.5})]
    calls = []
    stages, _ = _stages(calls, results)
    drift.run_drift(_plan(tmp_path, settings=ProbeSettings(saved_models=False), explain=False), stages=stages)
    assert [name for name, _ in calls] == ["probe", "repeat", "render"]
    assert calls[1] == ("repeat", [])  # nothing ran in a load process: every repeat is the repeat step's
