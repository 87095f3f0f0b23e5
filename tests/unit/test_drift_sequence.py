"""The drift sequence, run offline against stand-in stages: its steps in order, what flows between them, and
a bisect whose rounds and proofs are the sequence's probe and explain steps."""

from types import SimpleNamespace

import pytest
from conftest import make_result
from packaging.version import Version

from keras_drift import drift
from keras_drift.bisect import bisecting
from keras_drift.envs.releases import Source
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
        explain=lambda plan, found, say: calls.append(("explain", len(found))) or [],
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
    assert (tmp_path / "run" / "experiments.json").is_file()  # what the explain step proved (nothing here), written


def test_without_saved_models_or_explaining_those_steps_are_left_out(tmp_path):
    results = [make_result("base", {"m.w": 0.5}), make_result("cand", {"m.w": 0.5})]
    calls = []
    stages, _ = _stages(calls, results)
    drift.run_drift(_plan(tmp_path, settings=ProbeSettings(saved_models=False), explain=False), stages=stages)
    assert [name for name, _ in calls] == ["probe", "repeat", "render"]
    assert calls[1] == ("repeat", [])  # nothing ran in a load process: every repeat is the repeat step's
    assert not (tmp_path / "run" / "experiments.json").exists()


# (conv.w, dense.w) in each environment a bisect of alpha 1.0 -> 1.5 may probe: dense moves at 1.2, conv at 1.4
_RELEASES = {"good": (0.5, 0.5), "good--alpha-1.1": (0.5, 0.5), "good--alpha-1.2": (0.5, 0.7), "good--alpha-1.3": (0.5, 0.7),
             "good--alpha-1.4": (0.7, 0.7), "bad": (0.7, 0.7)}


@pytest.mark.parametrize("explain", [True, False])
def test_a_bisect_probes_each_round_and_explains_each_first_bad_release_through_the_sequence(tmp_path, monkeypatch, explain):
    """Both families differ between the ends (alpha 1.0 and 1.5, four releases between), one probe a round:
    1.2 cuts 1.1-1.4 and is bad for dense only; then conv's open 1.3-1.4 is wider than dense's 1.1, cut at
    1.3 (good for conv); then conv's 1.4 and dense's 1.1, one each (equal widths: conv's later interval
    first). Boundaries: conv 1.3 -> 1.4, dense 1.1 -> 1.2, each explained with its last good release the
    baseline."""
    probes, explained, said = [], [], []

    def probe(plan, say):
        probes.append(plan)
        return [make_result(spec.name, dict(zip(("conv.w", "dense.w"), _RELEASES[spec.name], strict=True))) for spec in plan.specs]

    def explain_step(plan, pair, say):
        explained.append(plan)
        assert [result.env for result in pair] == [spec.name for spec in plan.specs]
        return []

    def unexpected(*args):
        raise AssertionError("a bisect neither loads, repeats nor renders")

    monkeypatch.setattr(bisecting, "synthesise", lambda good, bad, axis, version, folder: bisecting.Probed(
        str(version), SimpleNamespace(name=f"good--alpha-{version}"), bisecting.Install("the good end's pins and the good end's lock")))
    good, bad = SimpleNamespace(name="good"), SimpleNamespace(name="bad")
    versions = tuple(map(Version, ["1.0", "1.1", "1.2", "1.3", "1.4", "1.5"]))
    axis = bisecting.Axis("alpha", versions[0], versions[-1])
    rerun = bisecting.probed_names(good, bad, axis, versions)
    assert rerun == {"good", "bad", "good--alpha-1.1", "good--alpha-1.2", "good--alpha-1.3", "good--alpha-1.4"}
    plan = _plan(tmp_path, specs=(good, bad), baseline="", settings=ProbeSettings(adaptive=True), rerun=frozenset(rerun), explain=explain)
    request = bisecting.Request(plan=plan, axis=axis, versions=versions, sources=(Source("https://example.invalid/simple", "--index-url"),))
    stages = drift.Stages(probe=probe, load=unexpected, repeat=unexpected, explain=explain_step, render=unexpected)
    document = bisecting.run_bisect(request, say=said.append, stages=stages)

    assert [[spec.name for spec in round_.specs] for round_ in probes] == [
        ["good", "bad"], ["good--alpha-1.2"], ["good--alpha-1.3"], ["good--alpha-1.4"], ["good--alpha-1.1"]]
    assert said == ["step 1: probing alpha 1.2", "step 2: probing alpha 1.3", "step 3: probing alpha 1.4", "step 4: probing alpha 1.1"]
    # the ends run every task; the releases between only the tasks that differ at the ends; none watches a baseline
    assert [round_.settings.tasks for round_ in probes] == [(), *[("conv", "dense")] * 4]
    assert all(round_.baseline == "" and round_.rerun == rerun and round_.run_dir == plan.run_dir for round_ in probes)
    assert [(entry["family"], entry["last_good"], entry["first_bad"], entry["exact"]) for entry in document["boundaries"]] == [
        ("conv", "1.3", "1.4", True), ("dense", "1.1", "1.2", True)]
    assert [(row["metric"], row["last_good_value"], row["first_bad_value"]) for entry in document["boundaries"] for row in entry["metrics"]] == [
        ("conv.w", 0.5, 0.7), ("dense.w", 0.5, 0.7)]
    assert [entry["verdict"] for entry in document["versions"]] == ["good", "good", "bad", "bad", "bad", "bad"]
    assert [entry["step"] for entry in document["versions"]] == [0, 4, 1, 2, 3, 0]  # the ends before the first step
    assert (document["steps"], document["tasks"]) == (4, ["conv", "dense"])
    assert (tmp_path / "run" / "bisect" / "bisect.json").is_file()
    pairs = [(spec.name for spec in pair.specs) for pair in explained]
    assert [(pair.baseline, *names) for pair, names in zip(explained, pairs, strict=True)] == (
        [("good--alpha-1.3", "good--alpha-1.3", "good--alpha-1.4"), ("good--alpha-1.1", "good--alpha-1.1", "good--alpha-1.2")] if explain else [])
    assert all(pair.rerun == frozenset() and pair.settings.tasks == ("conv", "dense") for pair in explained)  # proofs come from the cache
