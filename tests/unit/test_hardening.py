"""Every bad input gets a one-line error naming the file and the field (exit 3); every fault in one
environment becomes that environment's failed result while the run goes on; nothing written is lost.

Faults run in tiny real environments (NumPy only, from uv's cache), with start-up hooks from a test
project's probe/hooks/ to crash, hang or print junk: no framework is mocked.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import PROJECT_ROOT, make_result

from keras_drift.cli import main
from keras_drift.store.results import write_result

GOOD = 'requirements = ["numpy==2.4.6"]\npython = "3.11"\nbackend = "jax"\ntags = ["default"]\n'


@pytest.fixture
def project(tmp_path):
    """A project root of the test's own: envs/, a copy of the real probe, and its hooks folder."""
    shutil.copytree(PROJECT_ROOT / "probe", tmp_path / "probe", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "envs").mkdir()
    return tmp_path


def write(project: Path, name: str, text: str) -> Path:
    path = project / "envs" / f"{name}.toml"
    path.write_text(text)
    return path


def drift(project: Path, *args: str) -> list[str]:
    return ["drift", "--envs-dir", str(project / "envs"), "--reports", str(project / "reports"),
            "--venvs", str(project / "venvs"), "--root", str(project), *args]


# (env files, extra arguments, the expected error after "keras-drift: error: " with {envs} for the folder)
BAD_INPUTS = {
    "malformed TOML": ({"bad": "requirements = ["}, [], "{envs}/bad.toml: malformed TOML: "),
    "unknown key": ({"bad": GOOD + "colour = 1\n"}, [],
                    "{envs}/bad.toml: colour: unknown key; allowed keys are requirements, python, backend, env, tags, description, baseline, hooks, exclusive, deterministic"),
    "wrong type": ({"bad": GOOD.replace('"3.11"', "3.11")}, [], "{envs}/bad.toml: python: must be a string, got float"),
    "not PEP 508": ({"bad": GOOD.replace("numpy==2.4.6", "numpy ==> 2")}, [],
                    "{envs}/bad.toml: requirements[0]: 'numpy ==> 2' is not a valid PEP 508 requirement ("),
    "unpinned": ({"bad": GOOD.replace("numpy==2.4.6", "numpy>=2")}, [],
                 "{envs}/bad.toml: requirements[0]: 'numpy>=2' is not an exact pin (name==version); tag the environment 'latest' or 'nightly' to let it float"),
    "unknown backend": ({"bad": GOOD.replace('"jax"', '"mxnet"')}, [],
                        "{envs}/bad.toml: backend: 'mxnet' is not one of tensorflow, jax, torch, theano"),
    "duplicate names": ({"My_Env": GOOD, "my-env": GOOD}, [], "{envs}/my-env.toml: name clashes with My_Env.toml after normalisation"),
    "unknown --envs": ({"good": GOOD}, ["--envs", "nope"], "--envs: unknown environment 'nope'; known: good"),
    "--baseline not selected": ({"good": GOOD}, ["--baseline", "other"],
                                "--baseline: 'other' is not among the selected environments (good)"),
    "empty selection": ({"good": GOOD}, ["--tags", "nightly"], "--tags: no environment is tagged nightly"),
    "no env files": ({}, [], "{envs}: no environment files (*.toml)"),
    "env overrides the backend": ({"bad": GOOD + 'env = { KERAS_BACKEND = "torch" }\n'}, [],
                                  "{envs}/bad.toml: env.KERAS_BACKEND: is set by keras-drift itself; set `backend` instead"),
    "env brings PYTHONPATH back": ({"bad": GOOD + 'env = { PYTHONPATH = "/elsewhere" }\n'}, [],
                                   "{envs}/bad.toml: env.PYTHONPATH: is set by keras-drift itself; the probe must see only its environment's packages"),
    "env key with '='": ({"bad": GOOD + 'env = { "A=B" = "1" }\n'}, [],
                         "{envs}/bad.toml: env.A=B: is not an environment variable name (letters, digits and '_', not starting with a digit)"),
    "env value with NUL": ({"bad": GOOD + 'env = { A = "x\\u0000y" }\n'}, [], "{envs}/bad.toml: env.A: must not contain a NUL character"),
    "hook name is a path": ({"bad": GOOD + 'hooks = ["../../evil"]\n'}, [],
                            "{envs}/bad.toml: hooks[0]: '../../evil' is not a hook name (lower-case letters, digits and '-')"),
    "wildcard pin": ({"bad": GOOD.replace("numpy==2.4.6", "numpy==2.*")}, [],
                     "{envs}/bad.toml: requirements[0]: 'numpy==2.*' is not an exact pin (name==version)"),
    "nested 500 deep": ({"bad": GOOD + "x = " + "[" * 500 + "]" * 500 + "\n"}, [], "{envs}/bad.toml: nested more than 50 levels deep"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS), ids=list(BAD_INPUTS))
def test_bad_input_is_one_line_with_exit_code_3(project, capsys, case):
    files, extra, expected = BAD_INPUTS[case]
    for name, text in files.items():
        write(project, name, text)
    assert main(drift(project, *extra)) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("keras-drift: error: " + expected.format(envs=project / "envs")), err
    assert not (project / "reports").exists() or not any((project / "reports").iterdir())


def test_an_env_file_that_is_a_fifo_is_refused_not_read(project, capsys):
    os.mkfifo(project / "envs" / "x.toml")  # reading it would block forever
    assert main(drift(project)) == 3
    assert capsys.readouterr().err == f"keras-drift: error: {project / 'envs' / 'x.toml'}: is not a regular file\n"


def test_a_byte_order_mark_is_not_part_of_the_toml(project):
    write(project, "bom", "\ufeff" + GOOD)
    from keras_drift.envs.specs import load_spec

    assert load_spec(project / "envs" / "bom.toml").requirements == ("numpy==2.4.6",)


def test_a_linked_env_file_finds_hooks_beside_the_link(project, tmp_path):
    """Hooks are looked up beside the envs/ folder the file is in, not beside where a link points."""
    from keras_drift.envs.specs import load_spec

    elsewhere = tmp_path / "elsewhere" / "envs"
    elsewhere.mkdir(parents=True)
    (elsewhere / "real.toml").write_text(GOOD + 'hooks = ["mine"]\n')
    hook(project, "mine", "")
    (project / "envs" / "linked.toml").symlink_to(elsewhere / "real.toml")
    assert load_spec(project / "envs" / "linked.toml").hook_files == [project / "probe" / "hooks" / "mine.py"]


BAD_RESULTS = {
    "fails the schema": ('{"schema_version": 1, "env": "a", "status": "done", "metrics": {}}',
                         "status: 'done' is not one of ['ok', 'failed', 'skipped']"),
    "truncated": ('{"schema_version": 1, "env": "a", "status": "ok", "metr', "not valid JSON (truncated?): "),
    "newer schema": ('{"schema_version": 2, "env": "a", "status": "ok", "metrics": {}}',
                     "schema_version: 2 is newer than this keras-drift understands (1); upgrade keras-drift"),
}


@pytest.mark.parametrize("case", list(BAD_RESULTS), ids=list(BAD_RESULTS))
def test_bad_result_file_is_one_line_with_exit_code_3(tmp_path, capsys, case):
    content, expected = BAD_RESULTS[case]
    write_result(make_result("base", {"w": 1.0}), tmp_path)
    (tmp_path / "results" / "a.json").write_text(content)
    assert main(["report", str(tmp_path)]) == 3
    err = capsys.readouterr().err
    assert err.startswith(f"keras-drift: error: {tmp_path / 'results' / 'a.json'}: {expected}") and err.count("\n") == 1
    assert not (tmp_path / "report.html").exists()


def test_unwritable_reports_folder_is_a_clear_error_and_touches_nothing(project, capsys):
    write(project, "good", GOOD)
    blocker = project / "reports"
    blocker.write_text("a file where the reports folder should be\n")
    assert main(drift(project)) == 3
    assert capsys.readouterr().err.startswith(f"keras-drift: error: {blocker}: cannot create a run folder: ")
    assert blocker.read_text() == "a file where the reports folder should be\n"


def run_cli(project: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "keras_drift.cli", *drift(project, *args)], cwd=project,
                          capture_output=True, text=True, timeout=600, **kwargs)


def results_of(project: Path) -> dict[str, dict]:
    folder = project / "reports" / "latest" / "results"
    return {path.stem: json.loads(path.read_text()) for path in folder.glob("*.json")}


def hook(project: Path, name: str, code: str) -> None:
    (project / "probe" / "hooks" / f"{name}.py").write_text(code)


@pytest.mark.network
def test_faults_become_failed_results_and_the_run_goes_on(project):
    hook(project, "junk_stdout", 'import sys\nprint(\'{"schema_version": 1, "env": "junk", "status": "ok", "metrics": {}}\')\n')
    hook(project, "hang", "import time\ntime.sleep(3600)\n")
    envs = {
        # the probe cannot import Keras at all
        "crash": GOOD,
        # a result-shaped line on stdout must not be mistaken for a result
        "junk": GOOD + 'hooks = ["junk-stdout"]\n',
        "hangs": GOOD + 'hooks = ["hang"]\n',
        "conflict": GOOD.replace('"numpy==2.4.6"', '"jax==0.10.2", "jaxlib==0.4.30"'),
        "no-wheel": GOOD.replace('"numpy==2.4.6"', '"tensorflow-cpu==2.12.1"').replace('"3.11"', '"3.12"'),
        "future-python": GOOD.replace('"3.11"', '"3.99"'),
    }
    for name, text in envs.items():
        write(project, name, text)
    started = time.monotonic()
    completed = run_cli(project, "--envs", ",".join(envs), "--timeout", "20", "-j", "2")
    assert completed.returncode == 2, completed.stderr
    assert time.monotonic() - started < 300
    results = results_of(project)
    assert set(results) == set(envs)
    reason = {name: result.get("reason", "") for name, result in results.items()}
    status = {name: result["status"] for name, result in results.items()}
    assert status == {**{name: "failed" for name in envs}, "future-python": "skipped"}
    assert reason["crash"] == "probe exited with status 1"
    assert "No module named 'keras'" in results["crash"]["log_tail"]
    assert reason["junk"] == "probe exited with status 1" and '"env": "junk"' in results["junk"]["log_tail"]
    assert reason["hangs"] == "probe timed out after 20 s and was killed"
    assert reason["conflict"].startswith("uv pip failed: ") and "jax" in reason["conflict"]
    assert reason["no-wheel"].startswith("uv pip failed: ") and "tensorflow-cpu" in reason["no-wheel"]
    assert reason["future-python"] == "no Python 3.99 interpreter is installed on this machine"
    html = (project / "reports" / "latest" / "report.html").read_text()
    assert "5 environments failed; 1 environment skipped" in html
    for name in envs:
        assert f"<strong>{name}</strong>" in html  # each listed under failures and skips


@pytest.mark.network
def test_ctrl_c_kills_probes_keeps_partial_results_and_leaves_latest_alone(project):
    pid_file = project / "probe.pid"
    hook(project, "hang_and_tell", f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(3600)\n")
    write(project, "crash", GOOD)
    write(project, "hangs", GOOD + 'hooks = ["hang-and-tell"]\n')
    # A test runner started in the background hands SIGINT down as ignored; a terminal's Ctrl-C is not.
    process = subprocess.Popen([sys.executable, "-m", "keras_drift.cli", *drift(project, "--envs", "crash,hangs")],
                               cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 300
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert pid_file.exists(), "the hanging probe never started"
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "keras-drift: interrupted: partial results kept in" in err
    probe_pid = int(pid_file.read_text())
    time.sleep(0.5)
    with pytest.raises(ProcessLookupError):
        os.kill(probe_pid, 0)  # the probe, in a session of its own, was killed too
    (run_dir,) = [p for p in (project / "reports").iterdir() if p.name != "latest"]
    info = json.loads((run_dir / "run.json").read_text())
    assert info["incomplete"] is True
    assert json.loads((run_dir / "results" / "crash.json").read_text())["status"] == "failed"  # kept
    assert not (project / "reports" / "latest").exists()
    # the next run is unaffected
    (project / "envs" / "hangs.toml").unlink()
    assert run_cli(project).returncode == 2
    assert (project / "reports" / "latest").resolve() != run_dir.resolve()


@pytest.mark.network
def test_two_runs_at_once_complete_into_separate_folders(project):
    write(project, "crash", GOOD)
    command = [sys.executable, "-m", "keras_drift.cli", *drift(project)]
    first = subprocess.Popen(command, cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen(command, cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outputs = [first.communicate(timeout=300), second.communicate(timeout=300)]
    assert [first.returncode, second.returncode] == [2, 2], outputs
    runs = sorted(p for p in (project / "reports").iterdir() if p.name != "latest")
    assert len(runs) == 2
    for run_dir in runs:
        assert json.loads((run_dir / "results" / "crash.json").read_text())["status"] == "failed"
        assert (run_dir / "report.html").is_file()


def test_disk_full_mid_run_is_a_clear_error_and_earlier_runs_stay(project, capsys, monkeypatch):
    import errno

    from keras_drift.execute import runner

    write(project, "future", GOOD.replace('"3.11"', '"3.99"'))  # skipped at once: no build needed
    assert main(drift(project)) == 2  # every environment skipped: nothing was measured
    earlier = (project / "reports" / "latest").resolve()
    before = {p.name: p.read_bytes() for p in earlier.rglob("*") if p.is_file()}

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(runner, "write_result", disk_full)
    capsys.readouterr()
    assert main(drift(project)) == 3
    assert "cannot write the run: No space left on device" in capsys.readouterr().err
    assert (project / "reports" / "latest").resolve() == earlier
    assert {p.name: p.read_bytes() for p in earlier.rglob("*") if p.is_file()} == before


@pytest.mark.network
def test_environments_sharing_an_exclusive_resource_never_probe_at_once(project, monkeypatch):
    """Two probes (each holding 3 s at start-up) under -j 2: with a shared resource they take turns."""
    monkeypatch.setenv("KERAS_DRIFT_CACHE", str(project / "cache"))
    hook(project, "stamp", "import os, time\nstart = time.time(); time.sleep(3)\n"
         "open(os.environ['STAMPS'], 'a').write('%f %f\\n' % (start, time.time()))\n")
    stamps = project / "stamps.txt"
    for name in ("one", "two"):
        write(project, name, GOOD + f'hooks = ["stamp"]\nexclusive = "compiledir"\nenv = {{ STAMPS = "{stamps}" }}\n')
    assert run_cli(project, "-j", "2", env={**os.environ, "KERAS_DRIFT_CACHE": str(project / "cache")}).returncode == 2
    (_first_start, first_end), (second_start, _second_end) = sorted(
        tuple(map(float, line.split())) for line in stamps.read_text().splitlines()
    )
    assert second_start >= first_end, "the two probes overlapped"
