"""Adding an environment is adding a file: nox lists one probe session per env file."""

import json
import shutil
import subprocess
import sys

from conftest import PROJECT_ROOT


def list_sessions(project, *selection):
    completed = subprocess.run(
        [sys.executable, "-m", "nox", "-l", "--json", "-f", str(project / "noxfile.py"), *selection],
        capture_output=True, text=True, check=True,
    )
    return {session["session"] for session in json.loads(completed.stdout)}, completed.stderr


def test_sessions_are_generated_from_envs(tmp_path):
    shutil.copy(PROJECT_ROOT / "noxfile.py", tmp_path)
    shutil.copytree(PROJECT_ROOT / "src", tmp_path / "src")
    shutil.copytree(PROJECT_ROOT / "envs", tmp_path / "envs")
    shutil.copytree(PROJECT_ROOT / "probe", tmp_path / "probe")  # env files name its start-up hooks
    assert list_sessions(tmp_path)[0] == {"drift"}  # what a bare `nox` runs
    before, _ = list_sessions(tmp_path, "-t", "probe")
    assert {"probe-tf-2.15", "probe-keras-3.15-jax", "probe-keras-3.15-torch"} <= before
    assert "probe-keras-3.15-jax" in list_sessions(tmp_path, "-t", "keras3")[0]
    (tmp_path / "envs" / "my-new-env.toml").write_text('requirements = ["keras==3.15.1"]\npython = "3.11"\nbackend = "jax"\n')
    after, _ = list_sessions(tmp_path, "-t", "probe")
    assert after - before == {"probe-my-new-env"}


def test_a_broken_env_file_is_named_not_a_traceback(tmp_path):
    shutil.copy(PROJECT_ROOT / "noxfile.py", tmp_path)
    shutil.copytree(PROJECT_ROOT / "src", tmp_path / "src")
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "bad.toml").write_text('requirements = ["keras==3.15.1"]\npython = "3.11"\nbackend = "mxnet"\n')
    sessions, stderr = list_sessions(tmp_path, "-s", "drift", "tests")
    assert sessions == {"drift", "tests"}
    assert "bad.toml: backend: 'mxnet' is not one of" in stderr and "Traceback" not in stderr
