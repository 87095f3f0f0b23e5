"""Hostile input, second pass: every bad file or flag is one line and exit 3, nothing is written outside the
run folder, the gate never passes on incomplete input, and nothing already written is lost."""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

import pytest
from conftest import PROJECT_ROOT, make_result

from keras_drift import pipeline
from keras_drift.cli import main
from keras_drift.envs import shipped
from keras_drift.store.results import write_result

BASE = {"linear.reference.w": 0.6, "linear.reference.b": 0.8}


def run_folder(tmp_path: Path, *results, info: dict | None = None) -> Path:
    run = tmp_path / "reports" / "20260101T000000Z-abcdef"
    for result in results:
        write_result(result, run)
    if info is not None:
        (run / "run.json").write_text(json.dumps(info))
    return run


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("keras-drift: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# (what to write into results/x.json as JSON text, what the one-line error says)
BAD_RESULT_FILES = {
    "env is a path": ('{"schema_version": 1, "env": "../../../ESCAPED", "status": "ok", "metrics": {}}',
                      "env: '../../../ESCAPED' does not match"),
    "env is absolute": ('{"schema_version": 1, "env": "/tmp/x", "status": "ok", "metrics": {}}', "env: '/tmp/x' does not match"),
    "integer above 1e308": ('{"schema_version": 1, "env": "x", "status": "ok", "metrics": {"n": 1' + "0" * 400 + "}}",
                            "metrics/n: integer 10000000000000000000... is too large to compare"),
    "series columns of two lengths": ('{"schema_version": 1, "env": "x", "status": "ok", "metrics": {}, '
                                      '"series": {"s": {"step": [0, 1], "loss": [1.0]}}}',
                                      "series/s: columns of different lengths (loss=1, step=2)"),
    "initial weights a string": ('{"schema_version": 1, "env": "x", "status": "ok", "metrics": {}, '
                                 '"facts": {"linear.defaults": {"initial_weights": "abc"}}}',
                                 "facts/linear.defaults/initial_weights: 'abc' is not of type 'object'"),
    "arrays nested 1000 deep": ('{"schema_version": 1, "env": "x", "status": "ok", "metrics": {}, "x": ' + nested(1000) + "}",
                                "nested too deep to be a result"),
}


@pytest.mark.parametrize("case", list(BAD_RESULT_FILES), ids=list(BAD_RESULT_FILES))
@pytest.mark.parametrize("command", ["report", "gate", "merge"])
def test_a_bad_result_file_is_one_line_and_writes_nothing(tmp_path, capsys, monkeypatch, case, command):
    text, message = BAD_RESULT_FILES[case]
    work = tmp_path / "a" / "b" / "c"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    run = run_folder(work, make_result("base", BASE))
    (run / "results" / "x.json").write_text(text)
    before = sorted(p for p in tmp_path.rglob("*"))
    args = {"report": ["report", str(run)], "gate": ["gate", str(run)],
            "merge": ["merge", str(run / "results"), "--reports", str(work / "merged")]}[command]
    assert main(args) == 3
    assert message in one_line_error(capsys)
    assert sorted(p for p in tmp_path.rglob("*")) == before  # not a file more, inside the work folder or above it


def test_two_results_for_one_environment_in_a_run(tmp_path, capsys):
    run = run_folder(tmp_path, make_result("base", BASE))
    shutil.copy(run / "results" / "base.json", run / "results" / "copy.json")
    assert main(["report", str(run)]) == 3
    assert "copy.json: env: 'base' is also the result in" in one_line_error(capsys)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report", "{run}", "--tolerances", "{tolerances}"], "tolerance[0]: must be a table with the keys pattern, atol, rtol; got int"),
        (["drift", "--colour"], "keras-drift: unrecognized arguments: --colour (see --help)"),
        (["drift", "--timeout", "0"], "argument --timeout: must be a number of seconds above 0, got '0'"),
        (["drift", "--task-timeout", "-5"], "argument --task-timeout: must be a number of seconds above 0, got '-5'"),
        (["prune"], "the following arguments are required: --keep"),
        (["list", "--envs-dir", "{tmp}/no-such-folder"], "no-such-folder: no such folder of environment files"),
        (["gate", "{run}", "--candidate", "base"], "--candidate: 'base' is the baseline"),
        (["merge", "{run}/results", "--expect", "../up"], "--expect: '../up' is not an environment name"),
        (["nonsense"], "invalid choice: 'nonsense'"),
    ],
)
def test_bad_flags_are_one_line_with_exit_code_3(tmp_path, capsys, args, message):
    run = run_folder(tmp_path, make_result("base", BASE), make_result("cand", BASE))
    tolerances = tmp_path / "tol.toml"
    tolerances.write_text("tolerance = [1]\n")
    filled = [arg.format(run=run, tolerances=tolerances, tmp=tmp_path) for arg in args]
    assert main(filled) == 3
    assert message in one_line_error(capsys)


def test_an_unknown_rerun_name_is_refused_before_a_run_folder_is_made(write_env, tmp_path, capsys):
    write_env("current", 'requirements = ["keras==3.15.1"]\npython = "3.11"\nbackend = "jax"\n')
    reports = tmp_path / "reports"
    argv = ["--envs", "current", "--envs-dir", str(tmp_path / "envs"), "--reports", str(reports), "--rerun", "nope"]
    for command in ("drift", "run"):
        assert main([command, *argv]) == 3
        assert "--rerun: 'nope' is not among the selected environments (current)" in one_line_error(capsys)
    assert not reports.exists()


def test_run_json_that_is_not_an_object(tmp_path, capsys):
    run = run_folder(tmp_path, make_result("base", BASE), info=[])  # type: ignore[arg-type]
    assert main(["report", str(run)]) == 3
    assert "run.json: must be a JSON object, got list" in one_line_error(capsys)


def test_a_name_that_reads_as_tex_is_drawn_as_text(tmp_path):
    series = {"$\\frac{$": {"step": [0, 1], "loss": [1.0, 0.5], "w": [0.0, 0.1]}}
    run = run_folder(tmp_path, make_result("base", BASE, series=series), make_result("cand", BASE, series=series))
    assert main(["report", str(run)]) == 0
    assert "$\\frac{$" in (run / "report.html").read_text()


# -- the gate never passes on incomplete input ------------------------------------------------------------


@pytest.mark.parametrize(
    ("results", "info", "args", "said"),
    [
        (["base", "cand"], {"environments": ["base", "cand", "gone"]}, [], "gone: missing: no result in"),
        (["base", "cand"], {"environments": ["base", "cand"], "incomplete": True}, [], "the run was interrupted"),
        (["base", "cand", "skip"], None, ["--candidate", "skip"], "skip: skipped: no Python 3.6"),
        (["base", "cand", "skip"], None, ["--baseline", "skip", "--candidate", "cand"], "skip: skipped: no Python 3.6"),
        (["base", "cand"], None, ["--expect", "base,cand,other"], "other: missing: no result in"),
    ],
)
def test_the_gate_fails_on_incomplete_input(tmp_path, capsys, results, info, args, said):
    made = [make_result(name, BASE) if name != "skip" else make_result("skip", {}, status="skipped", reason="no Python 3.6")
            for name in results]
    run = run_folder(tmp_path, *made, info=info)
    baseline = [] if "--baseline" in args else ["--baseline", "base"]
    assert main(["gate", str(run), *baseline, *args]) == 2
    assert said in capsys.readouterr().out


def test_the_gate_passes_a_complete_run(tmp_path):
    run = run_folder(tmp_path, make_result("base", BASE), make_result("cand", BASE), info={"environments": ["base", "cand"]})
    assert main(["gate", str(run), "--baseline", "base"]) == 0


def test_merge_turns_an_expected_environment_without_a_result_into_a_failed_one(tmp_path, capsys):
    download = tmp_path / "download"
    for env in ("base", "cand"):
        write_result(make_result(env, BASE), download / f"result-{env}")
    listing = json.dumps([{"name": name, "python": "3.11"} for name in ("base", "cand", "died")])
    assert main(["merge", str(download), "--reports", str(tmp_path / "reports"), "--baseline", "base", "--expect", listing]) == 2
    latest = tmp_path / "reports" / "latest"
    died = json.loads((latest / "results" / "died.json").read_text())
    assert died["status"] == "failed" and died["reason"] == f"no result for this environment in {download}"
    assert main(["gate", str(latest)]) == 2


# -- what is written is written whole, inside the run, never through a link ------------------------------


def test_report_replaces_a_link_instead_of_writing_through_it(tmp_path):
    run = run_folder(tmp_path, make_result("base", BASE))
    outside = tmp_path / "outside.html"
    outside.write_text("mine")
    (run / "report.html").symlink_to(outside)
    assert main(["report", str(run)]) == 0
    assert outside.read_text() == "mine"
    assert not (run / "report.html").is_symlink() and "keras-drift report" in (run / "report.html").read_text()


def test_a_report_killed_while_rendering_leaves_the_previous_one_whole(tmp_path, monkeypatch):
    run = run_folder(tmp_path, make_result("base", BASE))
    assert main(["report", str(run)]) == 0
    before = (run / "report.html").read_text()

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # stands for SIGTERM/SIGINT arriving mid-render

    monkeypatch.setattr("keras_drift.render.report.jinja2.Template.render", killed)
    assert main(["report", str(run)]) == 130
    assert (run / "report.html").read_text() == before
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]


def test_latest_as_a_real_folder_is_refused_before_anything_runs(tmp_path, capsys):
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "future.toml").write_text('requirements = ["numpy==2.4.6"]\npython = "3.99"\nbackend = "jax"\ntags = ["default"]\n')
    (tmp_path / "reports" / "latest").mkdir(parents=True)
    code = main(["drift", "--envs-dir", str(tmp_path / "envs"), "--reports", str(tmp_path / "reports"), "--venvs", str(tmp_path / "v")])
    assert code == 3
    assert "latest: is a real folder or file, not the link keras-drift keeps to the newest run" in one_line_error(capsys)
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == ["latest"]


def test_ctrl_c_while_rendering_marks_the_run_incomplete(tmp_path, monkeypatch, capsys):
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "future.toml").write_text('requirements = ["numpy==2.4.6"]\npython = "3.99"\nbackend = "jax"\ntags = ["default"]\n')

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "render_run", interrupted)
    reports = tmp_path / "reports"
    assert main(["drift", "--envs-dir", str(tmp_path / "envs"), "--reports", str(reports), "--venvs", str(tmp_path / "v")]) == 130
    (run,) = list(reports.iterdir())
    assert json.loads((run / "run.json").read_text())["incomplete"] is True
    assert not (reports / "latest").exists()


# -- terminal and report get no raw escape sequences -------------------------------------------------------


def test_escape_sequences_from_a_result_never_reach_the_terminal_or_the_report(tmp_path, capsys):
    ansi = "\x1b[31mred\x1b[0m\x1b]0;title\x07"
    broken = make_result("broken", {}, status="failed", reason=f"install {ansi}", log_tail=f"tail {ansi}\n" + "x" * 50_000)
    run = run_folder(tmp_path, make_result("base", BASE), broken)
    assert main(["gate", str(run), "--baseline", "base"]) == 2
    out = capsys.readouterr().out
    assert "\x1b" not in out and "broken: failed: install red" in out
    assert main(["report", str(run)]) == 2
    html = (run / "report.html").read_text()
    assert "\x1b" not in html and "\x07" not in html
    assert "x" * 20_001 not in html  # the log tail of a result file is capped


# -- a probe that stops early keeps what it finished; a task has its own budget ----------------------------


FAKE_TASKS = '''

def _quick(keras):
    return {"quick.x": 1.0}, {"quick": {"step": [0], "x": [1.0]}}, {}


def _slow(keras):
    import time
    PROGRESS.update(step=5, of=10)
    time.sleep(600)


def _after(keras):
    return {"after.x": 2.0}, {"after": {"step": [0], "x": [2.0]}}, {}


def _killed(keras):
    import os
    import signal
    if os.environ.get("KILL_THE_PROBE"):
        os.kill(os.getpid(), signal.SIGKILL)
    return {"killed.x": 3.0}, {"killed": {"step": [0], "x": [3.0]}}, {}


TASKS = (Task("quick", _quick), Task("slow", _slow), Task("after", _after), Task("killed", _killed))
'''


@pytest.mark.network
def test_a_killed_probe_keeps_its_finished_tasks_and_a_slow_task_fails_alone(tmp_path, monkeypatch):
    """A real probe process (NumPy-only environment, the test's own copy of probe/ with stand-in tasks and
    no framework): one task outlives its budget, the last one kills the whole process."""
    project = tmp_path / "project"
    shutil.copytree(PROJECT_ROOT / "probe", project / "probe", ignore=shutil.ignore_patterns("__pycache__"))
    with (project / "probe" / "tasks.py").open("a") as tasks_file:
        tasks_file.write(FAKE_TASKS)  # later definitions win: these are the tasks now
    with (project / "probe" / "canaries.py").open("a") as canaries_file:
        canaries_file.write("\nCANARIES = ()\n")
    with (project / "probe" / "frameworks.py").open("a") as frameworks_file:
        frameworks_file.write("\n\ndef load_keras(compile_cache=\"\"):\n    return None  # no framework: the stand-in tasks need none\n")
    monkeypatch.setattr(shipped, "probe_root", lambda: project)  # this copy stands in for the probe keras-drift ships
    (project / "envs").mkdir()
    for name, kill in (("whole", ""), ("killed", "1")):
        (project / "envs" / f"{name}.toml").write_text(
            f'requirements = ["numpy==2.4.6"]\npython = "3.11"\nbackend = "jax"\nenv = {{ KILL_THE_PROBE = "{kill}" }}\n')
    reports = project / "reports"
    code = main(["drift", "--envs", "whole,killed", "--baseline", "whole", "--envs-dir", str(project / "envs"),
                 "--reports", str(reports), "--venvs", str(project / "venvs"), "--root", str(project), "--task-timeout", "2"])
    assert code == 2
    latest = reports / "latest"
    whole = json.loads((latest / "results" / "whole.json").read_text())
    killed = json.loads((latest / "results" / "killed.json").read_text())
    # the slow task failed with what it knew, and the tasks after it ran
    assert whole["status"] == "ok" and whole["errors"]["slow"].startswith("timed out: step 5 of 10 after 2 s, 0.4")
    assert whole["metrics"] == {"quick.x": 1.0, "after.x": 2.0, "killed.x": 3.0}
    # the killed process was followed by another that recorded the task it died in and finished the rest
    assert killed["status"] == "ok" and "partial" not in killed
    assert killed["errors"]["killed"] == "crashed natively: SIGKILL (signal 9) while running (no optional mechanism was in force)"
    assert not {"quick", "after"} & set(killed["errors"])
    assert killed["restarts"] == [{"what": "probe died of SIGKILL (signal 9) in task killed (task)", "task": "killed",
                                   "phase": "task", "signal": "SIGKILL (signal 9)", "without": []}]
    assert killed["metrics"] == {"quick.x": 1.0, "after.x": 2.0}
    assert killed["tasks"]["killed"]["status"] == "failed" and killed["tasks"]["quick"]["status"] == "ok"
    assert "float64" in killed["oracle"]  # the sections after the tasks ran in the second process
    verdicts = json.loads((latest / "verdicts.json").read_text())["environments"]["killed"]["metrics"]
    assert verdicts["quick.x"]["verdict"] == "identical" and verdicts["after.x"]["verdict"] == "identical"
    assert verdicts["killed.x"]["verdict"] == "failed"  # its task crashed: failed, not missing, not compared


def test_a_task_past_its_budget_fails_with_how_far_it_got(monkeypatch):
    """The probe's own budget, in this process: SIGALRM ends the task, the next task is unaffected."""
    from probe import run, tasks
    from probe.task import Task

    def slow(keras):
        tasks.PROGRESS.update(step=212, of=1001)
        while True:
            pass

    result = {"metrics": {}, "series": {}, "facts": {}, "noise": {}, "errors": {}, "not_applicable": {}, "repeats": 2,
              "timings": {"tasks_s": {}}, "tasks": {}}
    run._run_task(Task("slow", slow), None, result, timeout_s=0.5)
    message = result["errors"]["slow"]
    assert message.startswith("timed out: step 212 of 1001 after ") and message.endswith(" s per step")
    seconds = float(message.split(" after ")[1].split(" s,")[0])
    assert 0.4 <= seconds <= 2 and result["metrics"] == {}
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)  # the alarm is off again

    def quick(keras):
        return {"q.x": 1.0}, {"q": {"step": [0], "x": [1.0]}}, {}

    run._run_task(Task("q", quick), None, result, timeout_s=0.5)
    assert result["metrics"] == {"q.x": 1.0} and "q" not in result["errors"]

