"""Hostile input, third pass (issue 36): prune deletes only what keras-drift wrote, the gate fails on
incomplete input, concurrent accepts lose nothing, no FIFO hangs a command, the crash handler never crashes,
bad input is one line and exit 3 (never an internal error), and nothing reaches $HOME or the terminal raw."""

from __future__ import annotations

import errno
import json
import os
import shutil
import time
from pathlib import Path

import pytest
from conftest import make_result

from keras_drift.cli import main
from keras_drift.store.results import write_result

BASE = {"linear.reference.w": 0.6, "linear.reference.b": 0.8}
RUN_ID = "20260101T000000Z-abcdef"


def run_folder(tmp_path: Path, *results) -> Path:
    run = tmp_path / "reports" / RUN_ID
    for result in results:
        write_result(result, run)
    return run


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("keras-drift: error: ") and err.count("\n") == 1, err
    return err


def _old(path: Path, text: str | None = None) -> Path:
    """Make ``path`` (written with ``text`` first, when given) look written long ago (older than any run)."""
    if text is not None:
        path.write_text(text)
    stamp = time.mktime(time.strptime("2001-01-01", "%Y-%m-%d"))
    os.utime(path, (stamp, stamp), follow_symlinks=False)
    return path


# -- 1. prune deletes only what keras-drift wrote ---------------------------------------------------------


def _foreign_files(folder: Path) -> list[Path]:
    """Files keras-drift never writes, old enough for any prune, beside a cache's entries."""
    folder.mkdir(parents=True, exist_ok=True)
    made = [folder / "package.json", folder / "tsconfig.json", folder / "notes.json", folder / f"{'a' * 24}.json.bak",
            folder / f"{'A' * 24}.json", folder / f"{'c' * 23}.json"]
    for path in made:
        path.write_text("{}")
        _old(path)
    return made


def test_prune_deletes_only_its_own_entries_and_run_folders(tmp_path, capsys):
    reports = tmp_path / "reports"
    old_run, new_run = reports / "20261101T000000Z-aaaaaa", reports / "20261120T000000Z-bbbbbb"
    for folder in (old_run, new_run):
        (folder / "results").mkdir(parents=True)
    lookalike = reports / "20261101T000000Z-cccccc\n"  # a run id with a trailing newline is not a run id
    lookalike.mkdir()
    cache = reports / "cache"
    foreign = _foreign_files(cache)
    entry = _old(cache / f"{'a' * 24}.json", "{}")
    elsewhere = tmp_path / "elsewhere"
    elsewhere_files = _foreign_files(elsewhere)
    victim = _old(elsewhere / f"{'d' * 24}.json", "{}")
    link = cache / f"{'e' * 24}.json"  # an entry's name, but a link to a file keras-drift did not write
    link.symlink_to(victim)
    _old(link)
    (cache / f"{'f' * 24}.artifacts").symlink_to(elsewhere, target_is_directory=True)
    assert main(["prune", "--reports", str(reports), "--keep", "1"]) == 0
    assert not old_run.exists() and new_run.exists() and lookalike.exists()
    assert not entry.exists()
    assert all(path.exists() for path in foreign + elsewhere_files + [victim, link])


@pytest.mark.parametrize("where", ["project", "current folder"])
def test_prune_with_the_cache_at_a_project_folder_keeps_the_projects_files(tmp_path, monkeypatch, where):
    project = tmp_path / "proj"
    foreign = _foreign_files(project)
    monkeypatch.chdir(project)
    cache = str(project) if where == "project" else "."
    assert main(["prune", "--reports", str(tmp_path / "reports"), "--keep", "0", "--cache", cache]) == 0
    assert all(path.exists() for path in foreign)


def test_prune_never_follows_a_linked_cache_folder(tmp_path, capsys):
    reports = tmp_path / "reports"
    old_run = reports / "20261101T000000Z-aaaaaa"
    (old_run / "results").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    entry = _old(elsewhere / f"{'a' * 24}.json", "{}")
    (reports / "cache").symlink_to(elsewhere, target_is_directory=True)
    assert main(["prune", "--reports", str(reports), "--keep", "0"]) == 3
    assert "cache: is a symbolic link" in one_line_error(capsys)
    assert entry.exists() and old_run.exists()  # refused before anything was deleted


def test_an_empty_keras_drift_cache_variable_is_refused_and_nothing_in_the_current_folder_goes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    program = tmp_path / "compiled" / "assets" / "app.min.js"
    program.parent.mkdir(parents=True)
    _old(program, "x")
    monkeypatch.setenv("KERAS_DRIFT_CACHE", "")
    assert main(["prune", "--reports", str(tmp_path / "reports"), "--keep", "1"]) == 3
    assert "KERAS_DRIFT_CACHE: is set but empty" in one_line_error(capsys)
    assert program.exists() and not (tmp_path / "crashes").exists()


def test_prune_in_a_folder_it_may_not_write_is_one_line(tmp_path, capsys, monkeypatch):
    reports = tmp_path / "reports"
    run = reports / "20261101T000000Z-aaaaaa"
    (run / "results").mkdir(parents=True)

    def refused(path, *args, **kwargs):  # what rmtree meets in a 0555 folder as an unprivileged user
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(shutil, "rmtree", refused)
    assert main(["prune", "--reports", str(reports), "--keep", "0"]) == 3
    assert f"{run}: cannot" in one_line_error(capsys)


# -- 2. the gate fails on a partial result and on a candidate without metrics ---------------------------------


@pytest.mark.parametrize(
    ("candidate", "said"),
    [
        (make_result("cand", BASE, partial=True), "cand: partial: the probe stopped before its last task"),
        (make_result("cand", {}), "cand: no metrics, though the baseline has 2"),
    ],
    ids=["partial", "no metrics"],
)
def test_the_gate_fails_on_a_result_whose_numbers_are_not_all_known(tmp_path, capsys, candidate, said):
    run = run_folder(tmp_path, make_result("base", BASE), candidate)
    assert main(["gate", str(run), "--baseline", "base", "--candidate", "cand"]) == 2
    assert said in capsys.readouterr().out
    assert main(["gate", str(run), "--baseline", "base"]) == 2


def test_a_partial_baseline_fails_the_gate_too(tmp_path):
    run = run_folder(tmp_path, make_result("base", BASE, partial=True), make_result("cand", BASE))
    assert main(["gate", str(run), "--baseline", "base"]) == 2


# -- 3. concurrent accepts lose nothing; a broken accepted-drifts file is refused --------------------------


def _accept(run: Path, accepted: Path, index: int) -> int:
    return main(["accept", str(run), "--env", "cand", "--reason", f"reviewed {index}", "--accepted", str(accepted)])


def test_twelve_accepts_at_once_keep_every_entry(tmp_path):
    import multiprocessing

    run = run_folder(tmp_path, make_result("base", BASE), make_result("cand", {"linear.reference.w": 0.7, "linear.reference.b": 0.8}))
    accepted = tmp_path / "acc.toml"
    with multiprocessing.get_context("fork").Pool(12) as pool:
        codes = pool.starmap(_accept, [(run, accepted, index) for index in range(12)])
    assert codes == [0] * 12
    text = accepted.read_text()
    assert sorted(int(line.split()[-1].strip('"')) for line in text.splitlines() if line.startswith("reason")) == list(range(12))
    assert main(["report", str(run), "--accepted", str(accepted)]) == 0


@pytest.mark.parametrize(
    ("text", "said"),
    [("[[accept]\n", "cannot be read as TOML"), ("[[accept]]\nenv = 1\n", "accept[0].env: is required"),
     ("\xff", None)],
    ids=["unclosed table", "bad entry", "not UTF-8"],
)
def test_accept_refuses_to_append_to_a_broken_file(tmp_path, capsys, text, said):
    run = run_folder(tmp_path, make_result("base", BASE), make_result("cand", {"linear.reference.w": 0.7, "linear.reference.b": 0.8}))
    accepted = tmp_path / "acc.toml"
    accepted.write_bytes(text.encode("latin-1"))
    assert _accept(run, accepted, 0) == 3
    assert str(accepted) in one_line_error(capsys)
    assert accepted.read_bytes() == text.encode("latin-1")


# -- 4. a FIFO (or any file that is not a regular file) is refused, never read -----------------------------


def _in_child(argv: list[str], timeout: float = 30) -> tuple[int, str]:
    """``main(argv)`` in a forked process: its exit code and stderr, or a failure when it hangs."""
    import contextlib
    import io
    import multiprocessing

    context = multiprocessing.get_context("fork")
    queue = context.Queue()

    def child() -> None:
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            code = main(argv)
        queue.put((code, stderr.getvalue()))

    process = context.Process(target=child)
    process.start()
    process.join(timeout)
    if process.is_alive():
        process.kill()
        process.join()
        pytest.fail(f"hung on {argv}")
    return queue.get(timeout=5)


FIFO_CASES = {
    "--tolerances": lambda run, fifo, tmp: ["report", str(run), "--tolerances", str(fifo)],
    "--accepted": lambda run, fifo, tmp: ["report", str(run), "--accepted", str(fifo)],
    "accept target": lambda run, fifo, tmp: ["accept", str(run), "--env", "cand", "--reason", "r", "--accepted", str(fifo)],
    "result file (report)": lambda run, fifo, tmp: ["report", str(run)],
    "result file (gate)": lambda run, fifo, tmp: ["gate", str(run)],
    "merge *.json": lambda run, fifo, tmp: ["merge", str(run / "results"), "--reports", str(tmp / "merged")],
    "saved-models.toml": lambda run, fifo, tmp: ["drift", "--envs-dir", str(tmp / "envs"), "--reports", str(tmp / "out"),
                                                 "--saved-models", str(fifo), "--venvs", str(tmp / "venvs")],
}


@pytest.mark.parametrize("case", list(FIFO_CASES))
def test_a_fifo_is_refused_not_read(tmp_path, case):
    run = run_folder(tmp_path, make_result("base", BASE), make_result("cand", {"linear.reference.w": 0.7, "linear.reference.b": 0.8}))
    fifo = (run / "results" / "x.json") if case.startswith(("result", "merge")) else tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "e.toml").write_text('requirements = ["numpy==2.4.6"]\npython = "3.11"\nbackend = "jax"\ntags = ["default"]\n')
    code, err = _in_child(FIFO_CASES[case](run, fifo, tmp_path))
    assert code == 3 and err.count("\n") == 1 and "is not a regular file" in err, err
    assert not (tmp_path / "out").exists()


# -- 6. input at fault is exit 3 (or the documented code), never exit 5 ---------------------------------------

TRAINING = {"tasks": {"t": {"family": "t", "status": "ok"}}}
LOAD = {"source": "base", "direction": "upgrade", "task": "t", "format": "h5", "method": "load_model", "loaded": True}
# what to add to the candidate's result (written as JSON text, so that 1e999 and surrogates stay as they are),
# and the error it must give; None: a valid result, judged (exit 0, 1 or 2)
HOSTILE_RESULTS = {
    "baseline compiled as long as it ran": ('"timings": {"steps": {"t": 50}, "tasks_s": {"t#0": 2.0}}', None),
    "steps a string": ('"timings": {"steps": "50"}', "timings/steps: must map each task"),
    "steps a number": ('"timings": {"steps": 50}', "timings/steps: must map each task"),
    "tasks_s a list": ('"timings": {"tasks_s": [1.0]}', "timings/tasks_s: must be an object of seconds by run"),
    "1e999 in tasks_s": ('"timings": {"tasks_s": {"t#0": 1e999}}', "timings/tasks_s/t#0: inf does not fit a float"),
    "1e999 in load_phase": ('"load_phase": {"status": "ok", "seconds": 1e999}', "load_phase/seconds: inf does not fit a float"),
    "max_abs_diff NaN": ('"loads": [' + json.dumps({**LOAD, "max_abs_diff": "NaN"}) + "]", None),
    "max_abs_diff a word": ('"loads": [' + json.dumps({**LOAD, "max_abs_diff": "abc"}) + "]", "loads/0/max_abs_diff: \"abc\" is not a number"),
    "predictions [null]": ('"user_models": [{"name": "u", "loaded": true, "predictions": [null]}]', "user_models/0/predictions/0: null is not"),
    "predictions [b]": ('"user_models": [{"name": "u", "loaded": true, "predictions": ["b"]}]', "user_models/0/predictions/0: \"b\" is not"),
    "oracle a word": ('"oracle": {"float32": {"linear.reference.w": "abc"}}', "oracle/float32/linear.reference.w: \"abc\" is not a number"),
    "step_losses null": ('"facts": {"t": {"step_losses": [1.0, null]}}', "facts/t/step_losses/1: null is not a number"),
    "metric named like a user model": ('"user_models": [{"name": "u", "loaded": true}], "metrics": {"saved.user.u": 1.0}',
                                       "metrics/saved.user.u: names starting with 'saved.'"),
    "400 digits in series": ('"series": {"s": {"loss": [1' + "0" * 400 + "]}}", "series/s/loss/0: integer 1000"),
    "400 digits in oracle": ('"oracle": {"float32": {"w": 1' + "0" * 400 + "}}", "oracle/float32/w: integer 1000"),
    "lone surrogate in reason": ('"reason": "\\ud800"', "holds a lone surrogate"),
    "lone surrogate in a metric name": ('"metrics": {"\\ud800": 1.0}', "holds a lone surrogate"),
    "lone surrogate in an API value": ('"introspection": {"api": {"x": "\\udfff"}}', "holds a lone surrogate"),
}


@pytest.mark.parametrize("case", list(HOSTILE_RESULTS))
def test_a_hostile_result_file_is_one_line_and_exit_3_or_judged(tmp_path, capsys, case):
    extra, said = HOSTILE_RESULTS[case]
    timings = {"steps": {"t": 50}, "tasks_s": {"t#0": 1.0}, "compile_s": {"t#0": 1.0}}  # no time left per step
    run = run_folder(tmp_path, make_result("base", BASE, **TRAINING, timings=timings))
    document = json.dumps(make_result("cand", BASE, **TRAINING))
    (run / "results" / "cand.json").write_text(document[:-1] + ", " + extra + "}" if extra.split(":")[0].strip('"') not in document
                                               else _replace(document, extra))
    merge = ["merge", str(run / "results"), "--reports", str(tmp_path / "m")]
    for argv in (["report", str(run)], ["gate", str(run)], *([merge] if said else [])):
        code = main(argv)
        if said is None:
            assert code in (0, 1, 2), (argv, capsys.readouterr().err)
            assert "internal error" not in capsys.readouterr().err
        else:
            assert code == 3, argv
            assert said in one_line_error(capsys)


def _replace(document: str, extra: str) -> str:
    """``document`` with the top-level key ``extra`` sets replaced by ``extra``'s value."""
    key = extra.split(":")[0].strip('"')
    data = json.loads(document)
    del data[key]
    return json.dumps(data)[:-1] + ", " + extra + "}"


def test_nested_predictions_of_a_user_model_compare_with_flat_ones(tmp_path, capsys):
    model = {"name": "u", "loaded": True, "reference": "base", "shape": [1, 1]}
    run = run_folder(tmp_path, make_result("base", BASE, user_models=[{**model, "predictions": [1.0]}]),
                     make_result("cand", BASE, user_models=[{**model, "predictions": [[1.0]]}]))
    assert main(["report", str(run)]) == 0, capsys.readouterr().err


def _report_with(tmp_path: Path, flag: str, text: str) -> tuple[Path, list[str]]:
    run = run_folder(tmp_path, make_result("base", BASE), make_result("cand", BASE))
    path = tmp_path / "given.toml"
    path.write_text(text)
    return path, ["report", str(run), flag, str(path)]


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    ("flag", "text", "said"),
    [
        ("--accepted", f"accept = {DEEP}\n", "given.toml: nested more than 50 levels deep"),
        ("--tolerances", f"tolerance = {DEEP}\n", "given.toml: nested more than 50 levels deep"),
        ("--tolerances", "[[tolerance]]\npattern = '*'\natol = inf\nrtol = 0\n", "tolerance[0].atol: must be a finite number >= 0, got inf"),
    ],
)
def test_a_hostile_config_file_is_one_line(tmp_path, capsys, flag, text, said):
    _, argv = _report_with(tmp_path, flag, text)
    assert main(argv) == 3
    assert said in one_line_error(capsys)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (f"model = {DEEP}\n", "saved-models.toml: nested more than 50 levels deep"),
        ('[[model]]\nname = "u"\npath = "a\\u0000b"\ninput = "i.npy"\nreference = "e"\n', "model[0].path: is not a path (a NUL character"),
        ('[[model]]\nname = "u"\npath = "' + "a" * 5000 + '"\ninput = "i.npy"\nreference = "e"\n', "model[0].path: is not a path"),
    ],
    ids=["nested", "NUL", "5000 characters"],
)
def test_a_hostile_saved_models_file_is_refused_before_anything_runs(tmp_path, capsys, text, said):
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "e.toml").write_text('requirements = ["numpy==2.4.6"]\npython = "3.11"\nbackend = "jax"\ntags = ["default"]\n')
    (tmp_path / "saved-models.toml").write_text(text)
    argv = ["drift", "--envs-dir", str(tmp_path / "envs"), "--reports", str(tmp_path / "out"), "--venvs", str(tmp_path / "venvs"),
            "--saved-models", str(tmp_path / "saved-models.toml")]
    assert main(argv) == 3
    assert said in one_line_error(capsys)
    assert not (tmp_path / "out").exists()


def test_an_earlier_run_whose_history_is_unreadable_is_skipped_with_a_warning(tmp_path, capsys):
    earlier = tmp_path / "reports" / "20251231T000000Z-aaaaaa"
    earlier.mkdir(parents=True)
    (earlier / "verdicts.json").write_text("{}")
    huge = "1" + "0" * 400
    (earlier / "history.json").write_text('{"metrics": ["linear.reference.w"], "environments": {"cand": {"values": [' + huge
                                          + '], "verdicts": ["identical"]}}}')
    run = run_folder(tmp_path, make_result("base", BASE), make_result("cand", BASE))
    assert main(["report", str(run)]) == 0
    assert "history.json: skipped from the history: environments/\"cand\"/values" in capsys.readouterr().err


@pytest.mark.parametrize(
    "proof",
    [
        {"accounts_for": ["linear.reference.w"]},
        {"differences": [{"key": 5, "baseline": 1, "candidate": 2}]},
        {"trials": [{"undone": "x"}]},
        # found by the fuzz: a failed trial that undid a difference the proof does not list (KeyError, exit 5)
        {"trials": [{"undone": [""], "applied": True, "error": None, "within": False, "max_rel_diff": 1.0}]},
        DEEP,
    ],
    ids=["accounts_for names no difference", "a difference's key a number", "undone a string", "undone names no difference",
         "nested 100,000 deep"],
)
def test_an_experiments_file_keras_drift_did_not_write_is_one_line(tmp_path, capsys, proof):
    run = run_folder(tmp_path, make_result("base", BASE), make_result("cand", {"linear.reference.w": 0.7, "linear.reference.b": 0.8}))
    valid = {"env": "cand", "task": "linear.reference", "status": "proven", "accounts_for": [], "differences": [], "trials": [],
             "why": "", "metrics": ["linear.reference.w"], "reverse": None}
    text = json.dumps({"schema_version": 1, "proofs": [{**valid, **proof}]}) if isinstance(proof, dict) else proof
    (run / "experiments.json").write_text(text)
    assert main(["report", str(run)]) == 3
    assert "experiments.json: not an experiments file keras-drift wrote" in one_line_error(capsys)


# -- 5. the crash handler never crashes --------------------------------------------------------------------


def test_an_argument_that_is_not_utf8_is_one_line(tmp_path, capsys):
    run = run_folder(tmp_path, make_result("base", BASE), make_result("cand", {"linear.reference.w": 0.7, "linear.reference.b": 0.8}))
    accepted = tmp_path / "acc.toml"
    assert main(["accept", str(run), "--env", "cand", "--reason", "bad \udcff byte", "--accepted", str(accepted)]) == 3
    assert "is not valid UTF-8" in one_line_error(capsys)
    assert not accepted.exists()


def test_a_cache_variable_naming_a_file_is_one_line(tmp_path, capsys, monkeypatch):
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("KERAS_DRIFT_CACHE", str(tmp_path / "file"))
    assert main(["list", "--envs-dir", str(tmp_path)]) == 3
    assert "KERAS_DRIFT_CACHE" in one_line_error(capsys)


def test_an_internal_error_whose_traceback_cannot_be_saved_is_still_one_line_and_exit_5(tmp_path, capsys, monkeypatch):
    from keras_drift import cli
    from keras_drift.envs import environments

    def broken(args):
        raise RuntimeError("a bug")

    def no_cache() -> Path:
        raise NotADirectoryError(20, "Not a directory", str(tmp_path / "file"))

    monkeypatch.setattr(cli.listing, "command", broken)
    monkeypatch.setattr(environments, "cache_dir", no_cache)
    assert main(["list", "--envs-dir", str(tmp_path)]) == 5
    err = capsys.readouterr().err
    assert err.startswith("keras-drift: internal error: RuntimeError: a bug (traceback not saved: NotADirectoryError") and err.count("\n") == 1


# -- 7. no terminal escape reaches stdout -------------------------------------------------------------------

ESCAPES = "\u001b]0;PWNED\u0007\u001b[2J"


@pytest.mark.parametrize("command", ["report", "merge"])
def test_escape_sequences_in_an_api_value_never_reach_the_summary_line(tmp_path, capsys, command):
    changed = {"introspection": {"api": {"SGD(lr=0.1)": ESCAPES}, "defaults": {}}}
    run = run_folder(tmp_path, make_result("base", BASE, introspection={"api": {"SGD(lr=0.1)": "honoured"}, "defaults": {}}),
                     make_result("cand", BASE, **changed))
    argv = ["report", str(run)] if command == "report" else ["merge", str(run / "results"), "--reports", str(tmp_path / "m")]
    main([*argv, "--baseline", "base"])
    captured = capsys.readouterr()
    assert "0;PWNED" in captured.out  # the change is reported, its escape sequences left out
    assert "\x1b" not in captured.out and "\x07" not in captured.out
    assert "\x1b" not in captured.err


# -- 8. a name with a trailing newline is no name ------------------------------------------------------------


def test_a_result_whose_env_ends_in_a_newline_is_refused(tmp_path, capsys):
    download = tmp_path / "download"
    download.mkdir()
    (download / "evil.json").write_text(json.dumps(make_result("evil\n", BASE)))
    write_result(make_result("base", BASE), download / "base")
    assert main(["merge", str(download), "--reports", str(tmp_path / "m")]) == 3
    assert "env: 'evil\\n' does not match" in one_line_error(capsys)
    assert not list((tmp_path / "m").rglob("evil*"))


def test_an_expected_name_ending_in_a_newline_is_refused(tmp_path, capsys):
    run = run_folder(tmp_path, make_result("base", BASE), make_result("cand", BASE))
    assert main(["gate", str(run), "--expect", '["base", "cand\\n"]']) == 3
    assert "--expect: 'cand\\n' is not an environment name" in one_line_error(capsys)


# -- 9. nothing is written under $HOME ----------------------------------------------------------------------


def test_a_report_under_a_fresh_home_writes_nothing_there(tmp_path):
    import subprocess
    import sys

    run = run_folder(tmp_path, make_result("base", BASE, series={"s": {"step": [0, 1], "loss": [1.0, 0.5]}}),
                     make_result("cand", BASE, series={"s": {"step": [0, 1], "loss": [1.0, 0.4]}}))
    home, cache = tmp_path / "home", tmp_path / "cache"
    home.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MPL", "XDG_"))}
    env.update(HOME=str(home), KERAS_DRIFT_CACHE=str(cache))
    completed = subprocess.run([sys.executable, "-m", "keras_drift.cli", "report", str(run)], env=env, capture_output=True, text=True,
                               check=False, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert list(home.rglob("*")) == []


# -- decided: -j, a run where every environment was skipped, a noise floor above the value -------------------


@pytest.mark.parametrize("jobs", ["0", "-3"])
def test_a_job_count_below_one_is_one_line(tmp_path, capsys, jobs):
    assert main(["drift", "-j", jobs, "--envs-dir", str(tmp_path), "--reports", str(tmp_path / "out")]) == 3
    assert f"argument -j/--jobs: must be a whole number of 1 or more, got '{jobs}'" in one_line_error(capsys)
    assert not (tmp_path / "out").exists()


def test_drift_where_every_environment_was_skipped_is_exit_2(tmp_path, capsys):
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "old.toml").write_text('requirements = ["numpy==2.4.6"]\npython = "3.99"\nbackend = "jax"\ntags = ["default"]\n')
    argv = ["drift", "--envs-dir", str(tmp_path / "envs"), "--reports", str(tmp_path / "reports"), "--venvs", str(tmp_path / "venvs"),
            "--root", str(tmp_path), "--no-saved-models", "--accepted", str(tmp_path / "none.toml")]
    assert main(argv) == 2
    assert "skipped" in capsys.readouterr().err


def test_a_noise_floor_larger_than_the_value_hides_no_drift(tmp_path):
    run = run_folder(tmp_path, make_result("base", {"linear.reference.w": 0.6}),
                     make_result("cand", {"linear.reference.w": 5.0}, noise={"linear.reference.w": 1e300}))
    assert main(["report", str(run), "--baseline", "base", "--accepted", str(tmp_path / "none.toml")]) == 1


# -- bisect: an index answer of the wrong shape is one line -------------------------------------------------


@pytest.mark.parametrize("answer", ['{"files": [{"filename": 5}]}', "null", '{"files": [7]}', '{"files": ' + DEEP + "}"],
                         ids=["filename a number", "null", "a file not an object", "nested 100,000 deep"])
def test_an_index_answer_of_the_wrong_shape_is_unusable_input(monkeypatch, answer):
    from keras_drift.envs import releases
    from keras_drift.errors import InputError

    monkeypatch.setattr(releases, "_read", lambda url: (answer.encode(), releases._JSON_TYPE))
    with pytest.raises(InputError, match="not a simple index answer for foo"):
        releases.list_releases("foo", [releases.Source("https://index.example/simple", "UV_INDEX_URL")])


# -- folders that cannot be written are one line, before anything runs ---------------------------------------


@pytest.mark.parametrize("where", ["a file", "below a file"])
@pytest.mark.parametrize("command", ["run", "load"])
def test_a_run_dir_that_cannot_be_a_folder_is_refused_before_anything_runs(tmp_path, capsys, where, command):
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "e.toml").write_text('requirements = ["numpy==2.4.6"]\npython = "3.99"\nbackend = "jax"\ntags = ["default"]\n')
    (tmp_path / "file").write_text("mine")
    run_dir = tmp_path / "file" if where == "a file" else tmp_path / "file" / "run"
    write_result(make_result("e", BASE), tmp_path / "results")
    common = ["--envs-dir", str(tmp_path / "envs"), "--venvs", str(tmp_path / "venvs"), "--reports", str(tmp_path / "reports")]
    argv = (["run", "--run-dir", str(run_dir), *common] if command == "run" else
            ["load", "--env", "e", "--results", str(tmp_path / "results"), "--artifacts", str(tmp_path / "none"),
             "--run-dir", str(run_dir), *common])
    assert main(argv) == 3
    assert f"--run-dir: {run_dir}: cannot be created as a folder" in one_line_error(capsys)
    assert (tmp_path / "file").read_text() == "mine"


@pytest.mark.parametrize("command", ["drift", "run"])
def test_a_cache_that_is_a_file_is_refused_before_any_probe(tmp_path, capsys, command):
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "e.toml").write_text('requirements = ["numpy==2.4.6"]\npython = "3.99"\nbackend = "jax"\ntags = ["default"]\n')
    (tmp_path / "cache").write_text("mine")
    argv = [command, "--envs-dir", str(tmp_path / "envs"), "--venvs", str(tmp_path / "venvs"), "--reports", str(tmp_path / "reports"),
            "--cache", str(tmp_path / "cache")]
    assert main(argv) == 3
    assert "cache: the result cache is not a folder" in one_line_error(capsys)
    assert not (tmp_path / "reports").exists()


def test_a_report_into_a_folder_it_may_not_write_is_one_line(tmp_path, capsys, monkeypatch):
    from keras_drift.store import results

    run = run_folder(tmp_path, make_result("base", BASE), make_result("cand", BASE))

    def read_only(path, text):  # what writing into a 0555 run folder meets as an unprivileged user
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(results, "write_text_atomically", read_only)
    assert main(["report", str(run)]) == 3
    assert "cannot be written or read: Permission denied" in one_line_error(capsys)


@pytest.mark.parametrize("value", ["", "relative"])
def test_an_empty_or_relative_xdg_cache_home_puts_nothing_in_the_current_folder(tmp_path, monkeypatch, value):
    from keras_drift import cli
    from keras_drift.envs import environments

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KERAS_DRIFT_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", value)

    def broken(args):
        raise RuntimeError("a bug")

    monkeypatch.setattr(cli.listing, "command", broken)
    assert main(["list"]) == 5
    assert sorted(path.name for path in tmp_path.iterdir()) == ["home"]
    assert environments.cache_dir() == tmp_path / "home" / ".cache" / "keras-drift"


def test_load_refuses_saved_models_holding_a_fifo_before_loading_anything(tmp_path, capsys):
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "e.toml").write_text('requirements = ["numpy==2.4.6"]\npython = "3.11"\nbackend = "jax"\ntags = ["default"]\n')
    write_result(make_result("e", BASE), tmp_path / "results")
    task = tmp_path / "artifacts" / "e" / "linear.reference"
    task.mkdir(parents=True)
    (task / "manifest.json").write_text("{}")
    os.mkfifo(task / "model.h5")
    argv = ["load", "--env", "e", "--results", str(tmp_path / "results"), "--artifacts", str(tmp_path / "artifacts"),
            "--run-dir", str(tmp_path / "out"), "--envs-dir", str(tmp_path / "envs"), "--venvs", str(tmp_path / "venvs")]
    code, err = _in_child(argv)
    assert code == 3 and err.count("\n") == 1 and "--artifacts: " in err and "cannot be copied" in err, err
