"""The pre-bump gate's exit codes, and merging results laid out as a CI matrix download."""

import json

import pytest
from conftest import make_result

from keras_drift.cli import main
from keras_drift.store.results import write_result

BASE = {"linear.reference.w": 0.6, "linear.reference.b": 0.8}


@pytest.fixture
def run_dir(tmp_path):
    run = tmp_path / "run"
    write_result(make_result("current", BASE), run)
    write_result(make_result("same", BASE), run)
    write_result(make_result("proposed", {**BASE, "linear.reference.w": 0.55}), run)
    write_result(make_result("broken", {}, status="failed", reason="uv pip failed: no wheel"), run)
    return run


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--baseline", "current", "--candidate", "same"], 0),
        (["--baseline", "current", "--candidate", "proposed"], 1),
        (["--baseline", "current", "--candidate", "broken"], 2),
        (["--baseline", "current"], 2),  # every environment: one failed
        (["--baseline", "current", "--candidate", "nope"], 3),
        (["--baseline", "nope"], 3),
    ],
)
def test_gate_exit_codes(run_dir, capsys, args, code):
    assert main(["gate", str(run_dir), *args]) == code
    out, err = capsys.readouterr()
    if code == 1:
        # one line per environment and cause, then each finding (proof: evidence) with its metrics
        lines = out.splitlines()
        assert lines[1] == "  proposed: unexplained, 1 metric(s)"
        assert lines[2].startswith("    unexplained: ")
        assert lines[3] == "      linear.reference.w 0.6 -> 0.55"
    if code == 3:  # the error names the flag that was wrong
        flag = args[args.index("nope") - 1]
        assert err.startswith(f"keras-drift: error: {flag}: 'nope' is not among the results in ")


def test_gate_on_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["gate", str(tmp_path)]) == 3
    assert "not a run folder" in capsys.readouterr().err


def test_merge_renders_a_ci_download_like_a_local_run(tmp_path, capsys):
    download = tmp_path / "download"
    for env, metrics in (("current", BASE), ("proposed", {**BASE, "linear.reference.w": 0.55})):
        write_result(make_result(env, metrics), download / f"result-{env}")  # one artifact folder each
    assert main(["merge", str(download), "--reports", str(tmp_path / "reports"), "--baseline", "current"]) == 1
    latest = tmp_path / "reports" / "latest"
    verdicts = json.loads((latest / "verdicts.json").read_text())
    assert verdicts["environments"]["proposed"]["metrics"]["linear.reference.w"]["verdict"] == "drift"
    assert (latest / "report.html").is_file() and sorted(p.name for p in (latest / "results").iterdir()) == ["current.json", "proposed.json"]
    assert main(["gate", str(latest)]) == 1


def test_merge_refuses_two_results_for_one_environment(tmp_path, capsys):
    for folder in ("a", "b"):
        write_result(make_result("current", BASE), tmp_path / "download" / folder)
    assert main(["merge", str(tmp_path / "download"), "--reports", str(tmp_path / "reports")]) == 3
    assert "env: 'current' is also the result in" in capsys.readouterr().err


def test_merge_takes_the_baseline_marked_in_envs_and_checks_before_writing(tmp_path, capsys):
    download = tmp_path / "download"
    for env in ("alpha", "current"):
        write_result(make_result(env, BASE), download / env)
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "current.toml").write_text('requirements = ["keras==3.15.1"]\npython = "3.11"\nbackend = "jax"\nbaseline = true\n')
    reports = tmp_path / "reports"
    assert main(["merge", str(download), "--reports", str(reports), "--baseline", "nope", "--envs-dir", str(tmp_path / "envs")]) == 3
    assert not reports.exists()  # nothing written for unusable input
    assert main(["merge", str(download), "--reports", str(reports), "--envs-dir", str(tmp_path / "envs")]) == 0
    assert json.loads((reports / "latest" / "verdicts.json").read_text())["baseline"] == "current"


def test_a_changed_behaviour_with_no_drift_is_reported_and_fails_only_when_asked(tmp_path, capsys):
    run = tmp_path / "run"
    for env, behaviour in (("current", "honoured"), ("proposed", "ignored (learning_rate=0.01)")):
        introspection = {"api": {"SGD(lr=0.1)": behaviour}, "defaults": {"optimizer.SGD.learning_rate": 0.01}}
        write_result(make_result(env, BASE, introspection=introspection), run)
    assert main(["gate", str(run), "--baseline", "current"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == ("0 of 2 metrics drift across 0 of 1 environments against current; "
                                   "1 behaviour changed in 1 environment (SGD(lr=0.1): honoured -> ignored (learning_rate=0.01))")
    assert "  behaviour changed: SGD(lr=0.1): honoured -> ignored (learning_rate=0.01) (proposed)" in out
    assert main(["gate", str(run), "--baseline", "current", "--fail-on", "behaviour"]) == 1
    assert main(["report", str(run), "--baseline", "current", "--fail-on", "behaviour"]) == 1
    verdicts = json.loads((run / "verdicts.json").read_text())
    assert verdicts["behaviour_changes"] == [{"env": "proposed", "kind": "api", "key": "SGD(lr=0.1)", "baseline": "honoured",
                                              "value": "ignored (learning_rate=0.01)"}]
    assert verdicts["exit_code"] == 1 and verdicts["fail_on"] == ["behaviour"]
    capsys.readouterr()
    assert main(["gate", str(run), "--fail-on", "slowness"]) == 3
    assert "--fail-on: 'slowness': choose from behaviour" in capsys.readouterr().err


def test_merge_and_load_read_results_and_leave_the_json_of_saved_models_alone(tmp_path, capsys):
    download = tmp_path / "download"
    for env in ("current", "proposed"):
        write_result(make_result(env, BASE, artifacts={"m": {"formats": {}}}), download / f"result-{env}")
        task = download / f"saved-{env}" / env / "m"
        task.mkdir(parents=True)
        (task / "manifest.json").write_text('{"task": "m"}')
        (task / "model.json").write_text('{"class_name": "Sequential"}')
    assert main(["merge", str(download), "--reports", str(tmp_path / "reports"), "--baseline", "current"]) == 0
    envs = tmp_path / "envs"
    envs.mkdir()
    (envs / "absent.toml").write_text('requirements = ["keras==3.15.1"]\npython = "3.11"\nbackend = "jax"\n')
    assert main(["load", "--env", "absent", "--results", str(download), "--artifacts", str(download), "--run-dir", str(tmp_path / "out"),
                 "--envs-dir", str(envs)]) == 3
    assert f"--env: 'absent' has no result in {download}; its probe job wrote none" in capsys.readouterr().err
