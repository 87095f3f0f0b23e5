"""The benchmark's arithmetic: how a run's wall time splits, and the headline figures run_benchmark derives."""

import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import make_result

from keras_drift import bench
from keras_drift.bench import env_costs, generated_matrix, render_generated, run_benchmark, table


def test_wall_time_splits_into_install_import_compute_and_overhead():
    result = make_result("a", {"w": 1.0}, timings={"install_s": 2.0, "import_s": 5.0, "total_s": 15.0,
                                                   "probe_process_s": 16.5, "wall_s": 18.75})
    costs = env_costs(result)
    # by hand: compute = 15 - 5; start + import = 16.5 - 10; overhead = 18.75 - 2 - 6.5 - 10
    assert costs == pytest.approx({"install_s": 2.0, "start_import_s": 6.5, "compute_s": 10.0, "overhead_s": 0.25, "wall_s": 18.75})


def test_generated_matrix_moves_floats_only():
    template = make_result("a", {"w": 1.0, "epochs": 3})
    generated = generated_matrix(template, 3)
    assert [r.env for r in generated] == ["generated-00", "generated-01", "generated-02"]
    assert generated[2]["metrics"] == {"w": pytest.approx(1.002), "epochs": 3}


def _plan(tmp_path, names, jobs):
    """A drift plan whose environments are only names: the benchmark's runs are stand-ins here."""
    from keras_drift.drift import DriftPlan, Judging
    from keras_drift.execute.runner import ProbeSettings

    return DriftPlan(specs=tuple(SimpleNamespace(name=name) for name in names), baseline=names[0], run_dir=tmp_path / "unused",
                     project_root=tmp_path, venvs_dir=tmp_path / "venvs", settings=ProbeSettings(), judging=Judging(tolerances=(), history_window=7),
                     jobs=jobs)


def test_headline_figures_are_derived_from_the_timed_runs(tmp_path, monkeypatch):
    """run_benchmark's ratios, with the timed runs replaced by known figures (the runs themselves are
    real probes, measured by `nox -s bench`, not here)."""
    template = make_result("a", {"linear.reference.w": 0.6}, timings={"total_s": 0.0, "tasks_s": {
        "linear.reference#0": 3.0, "linear.reference#1": 2.0, "optimizer.defaults.SGD#0": 1.5, "mine.x#0": 0.5, "sweep.layers#0": 2.0},
        "records_s": 0.4})
    template["tasks"] = {"linear.reference": {"family": "linear", "status": "ok", "kind": "seed"},
                         "optimizer.defaults.SGD": {"family": "optimizer", "status": "ok", "kind": "canary"},
                         "mine.x": {"family": "mine", "status": "ok", "kind": "user"},
                         "sweep.layers": {"family": "sweep", "status": "ok", "kind": "sweep"}}
    full = make_result("a", {"sweep.layers.Dense(units=3).inference.mean": 0.1}, timings={"total_s": 0.0, "tasks_s": {"sweep.layers#0": 4.0}})
    full["tasks"] = {"sweep.layers": {"family": "sweep", "status": "ok", "kind": "sweep"}}
    walls = {"warm": 13.0, "parallel": 8.0, "cached": 2.5, "review": 9.0, "full_sweep": 5.0}
    costs = {"a": {"install_s": 0.5, "start_import_s": 4.0, "compute_s": 6.0, "overhead_s": 0.1, "wall_s": 10.6},
             "b": {"install_s": 0.5, "start_import_s": 1.0, "compute_s": 1.0, "overhead_s": 0.1, "wall_s": 2.6}}
    bumped = {"install_s": 0.0, "start_import_s": 3.0, "compute_s": 4.0, "overhead_s": 0.2, "wall_s": 7.2}
    plans, sweeps = [], []

    def timed_run(plan):
        out = plan.run_dir
        plans.append((out.name, [spec.name for spec in plan.specs], plan.jobs, plan.results_cache is not None, sorted(plan.rerun)))
        sweeps.append((plan.settings.sweep, plan.settings.tasks))
        assert plan.judging.history_window == 0 and plan.venvs_dir == tmp_path / "venvs"
        envs = {**costs, "new": bumped} if out.name == "review" else costs
        return {"wall_s": walls[out.name], "render_s": 0.5, "html_bytes": 1000, "results": [full if out.name == "full_sweep" else template], "envs": envs, "saved_models_s": 1.3, "loads_s": 0.9,
                "verdicts": {"a": "same"}, "cached": ["a", "b"] if out.name != "warm" else []}

    monkeypatch.setattr(bench, "timed_run", timed_run)
    summary = run_benchmark(_plan(tmp_path, ("a", "b"), jobs=2), tmp_path, cold=False, bump=SimpleNamespace(name="new"))
    # the warm run fills the cache without reading it (every env re-run); the cached run only reads it
    assert plans == [("warm", ["a", "b"], 1, True, ["a", "b"]), ("parallel", ["a", "b"], 2, False, []),
                     ("cached", ["a", "b"], 1, True, []), ("review", ["a", "b", "new"], 1, True, []),
                     ("full_sweep", ["a", "b"], 1, False, [])]
    assert sweeps[-1] == ("full", ("sweep.*",)) and set(sweeps[:-1]) == {("targeted", ())}  # the others sweep as the plan says
    # the warm run's canaries (1.5 s) and targeted sweep (2.0 s) over the rest of its 13 s, and over all of it
    assert summary["canary_and_sweep_share_of_warm"] == pytest.approx(3.5 / (13.0 - 3.5))
    assert summary["canary_and_sweep_fraction_of_warm"] == pytest.approx(3.5 / 13.0) and summary["sweep_mode"] == "targeted"
    assert summary["full_sweep_s_per_env"] == {"a": 4.0} and summary["canary_and_sweep_share_target"] == 0.25
    assert (summary["cached_wall_s"], summary["cached_hits"], summary["cached_verdicts_match_warm"]) == (2.5, 2, True)
    assert summary["review_new_env_s"] == 7.2 and summary["review_overhead_s"] == pytest.approx(9.0 - 7.2)
    assert summary["cold_wall_s"] is None  # environments reused: no cold run
    assert summary["warm_floor_s"] == pytest.approx(4.0 + 6.0 + 1.0 + 1.0)
    assert summary["warm_ratio"] == pytest.approx(13.0 / 12.0)
    assert summary["parallel_speedup"] == pytest.approx(13.0 / 8.0)
    assert summary["parallel_matches_sequential"] is True
    assert summary["warm_task_s_by_kind"] == {"seed": 5.0, "canary": 1.5, "user": 0.5, "sweep": 2.0}
    assert summary["canary_share_of_warm"] == pytest.approx(1.5 / (13.0 - 1.5))
    assert summary["records_share_of_warm"] == pytest.approx(0.4 / (13.0 - 0.4))  # one result: the template's 0.4 s
    assert summary["saved_models_share_of_warm"] == pytest.approx(1.3 / (13.0 - 1.3))  # the warm run's saving and loading
    assert summary["loads_share_of_warm"] == pytest.approx(0.9 / (13.0 - 0.9))  # and its loading alone
    assert summary["loads_share_target"] == 0.15  # the saved-models issue's bound on the load phase
    (written,) = tmp_path.glob("bench-*.json")
    assert json.loads(written.read_text())["warm_ratio"] == pytest.approx(13.0 / 12.0)
    text = table(summary)
    assert "records_share_of_warm        0.03" in text and "saved_models_share_of_warm   0.11" in text
    assert "warm_ratio                   1.08" in text and "parallel_speedup             1.62" in text
    # the report's size against its budget: the warm run's 1000 bytes are within 300 KiB
    assert summary["render"]["run"]["bytes_target"] == 300 * 1024 and "render run" in text
    assert "1 KiB (budget 300 KiB: met)" in text
    assert summary["render"]["generated_40"]["bytes_target"] == 6 * 1024 * 1024


def test_the_cold_run_starts_from_an_empty_keras_drift_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_DRIFT_CACHE", str(tmp_path / "mine"))
    seen = {}

    def timed_run(plan):
        seen[plan.run_dir.name] = os.environ["KERAS_DRIFT_CACHE"]
        raise RuntimeError("stop after the first run")

    monkeypatch.setattr(bench, "timed_run", timed_run)
    with pytest.raises(RuntimeError):
        run_benchmark(_plan(tmp_path, ("a",), jobs=1), tmp_path)
    [(name, folder)] = seen.items()
    assert name == "cold" and folder.endswith("cold-cache") and not Path(folder).exists()  # JAX compiles afresh
    assert os.environ["KERAS_DRIFT_CACHE"] == str(tmp_path / "mine")  # and the user's cache is back


def test_render_generated_with_history(tmp_path):
    template = make_result("a", {"linear.reference.w": 0.6, "classifier.defaults.epochs": 1})
    figures = render_generated(template, 3, tmp_path, history_runs=31)  # the 31st earlier run is a new release
    html = (tmp_path / "generated-3x31.html").read_text()
    assert figures["environments"] == 3 and figures["history_runs"] == 31 and figures["html_bytes"] == len(html.encode())
    # w moved in each environment; the epoch count, an integer, held its value
    assert "over the last 31 earlier runs" in html and html.count('class="spark"') == 3
    assert "1 metric held one value in every environment and is not drawn" in html
    assert not (tmp_path / "history-3x31").exists()


def test_the_bench_command_builds_its_plan_without_comparison_options(tmp_path, monkeypatch, write_env):
    """`keras-drift bench` takes no --tolerances (it times runs): its plan uses the packaged tolerances."""
    from keras_drift.cli import bench as bench_command
    from keras_drift.cli import build_parser, options

    write_env("a", 'requirements = ["keras==3.15.1"]\npython = "3.11"\nbackend = "jax"\ntags = ["default"]\n')
    seen = {}

    def run_benchmark(plan, bench_dir, *, cold, bump):
        seen.update(envs=[spec.name for spec in plan.specs], cold=cold, tolerances=len(plan.judging.tolerances))
        return {}

    monkeypatch.setattr(bench, "run_benchmark", run_benchmark)
    monkeypatch.setattr(bench, "table", lambda summary: "")
    args = options.rooted(build_parser().parse_args(["bench", "--root", str(tmp_path), "--skip-cold"]))
    assert bench_command.command(args) == 0
    assert seen["envs"] == ["a"] and seen["cold"] is False and seen["tolerances"] > 0


def test_the_script_overhead_compares_the_scripts_quickest_first_run_with_and_without_recording():
    def run(*seconds):
        return {"results": [make_result(env, {}, timings={"tasks_s": {"script#0": spent, "script#1": 0.1}})
                            for env, spent in zip(("a", "b"), seconds, strict=True)]}

    # per environment the quicker round's first run counts (a: 1.2 and 1.0; b: 2.0 and 2.2); repeats (#1) never
    found = bench.script_overhead([run(1.2, 2.0), run(1.0, 2.2)], [run(1.0, 2.0), run(1.1, 1.9)])
    assert found["script_s"] == pytest.approx(1.0 + 2.0) and found["script_plain_s"] == pytest.approx(1.0 + 1.9)
    assert found["script_overhead"] == pytest.approx(3.0 / 2.9 - 1) and found["script_overhead_target"] == 0.10
