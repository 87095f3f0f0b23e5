"""The tool as a team installs it: a wheel built from this checkout, installed into a fresh virtual
environment outside it, `keras-drift init` in an empty git repository, a second environment added as a file,
`drift` over two real environments from that folder alone, then `gate`, and `run` on a broken environment.

Nothing of this repository is on the path: the environments get the probe from the installed wheel (a
`probe/` package in the user's folder that would fail every run proves it), and the user's probe module
that `init` wrote (the template) runs beside the built-in tasks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PROJECT_ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.network]
# What the team's training environment has installed beside keras-drift (init pins current.toml to it)
TEAM = ("keras==3.5.0", "jax==0.4.31", "jaxlib==0.4.31")
# The environment the team adds by hand: the default matrix's Keras 3.15 on JAX (its downloads are shared)
NEXT = 'description = "the bump under review"\nrequirements = ["keras==3.15.1", "jax[cpu]==0.10.2"]\npython = "3.11"\nbackend = "jax"\ntags = ["next"]\n'
BROKEN = 'requirements = ["keras-drift-no-such-dist==1.0"]\npython = "3.11"\nbackend = "jax"\n'
DECOY = "raise SystemExit('the probe came from the project folder, not from keras-drift')\n"
TASKS = "linear.*,optimizer.*,example.*"


def call(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    completed = subprocess.run([str(part) for part in command], cwd=cwd, capture_output=True, text=True, timeout=2400, env=env)
    print(completed.stdout, completed.stderr, sep="\n")
    return completed


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The ``keras-drift`` of a wheel built from this checkout, in a fresh virtual environment that also holds
    the team's Keras and JAX (the environment their training code uses)."""
    work = tmp_path_factory.mktemp("installed")
    assert call(sys.executable, "-m", "uv", "build", "--wheel", "--out-dir", work / "dist", PROJECT_ROOT, cwd=work).returncode == 0
    [wheel] = (work / "dist").glob("keras_drift-*.whl")
    assert call(sys.executable, "-m", "uv", "venv", "--quiet", "--python", sys.executable, work / "venv", cwd=work).returncode == 0
    python = work / "venv" / "bin" / "python"
    assert call(sys.executable, "-m", "uv", "pip", "install", "--quiet", "--python", python, wheel, *TEAM, cwd=work).returncode == 0
    return work / "venv" / "bin" / "keras-drift"


def test_init_drift_and_gate_from_an_empty_repository(installed, tmp_path):
    project = tmp_path / "team-repo"
    project.mkdir()
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV", "KERAS_DRIFT_VENVS")}
    assert call("git", "init", "--quiet", cwd=project).returncode == 0
    env["KERAS_BACKEND"] = "jax"

    started = call(installed, "init", cwd=project, env=env)  # as the README says: pinned to what is installed
    assert started.returncode == 0, started.stderr
    for written in ("envs/current.toml", "probes/example_model.py", "accepted.toml", "noxfile.py", ".github/workflows/keras-drift.yml"):
        assert f"{written}: written" in started.stderr and (project / written).is_file()
    assert "envs/proposed.toml: written" in started.stderr  # the newest releases, read from the index
    current = (project / "envs" / "current.toml").read_text()
    assert 'requirements = ["keras==3.5.0", "jax[cpu]==0.4.31", "jaxlib==0.4.31"]' in current and "baseline = true" in current
    again = call(installed, "init", cwd=project, env=env)
    assert again.returncode == 0 and again.stderr.count("left alone") == 7

    (project / "envs" / "next.toml").write_text(NEXT)  # adding an environment is adding a file
    listed = json.loads(call(installed, "list", cwd=project, env=env).stdout)
    assert sorted(row["name"] for row in listed) == ["current", "next", "proposed"]
    (project / "probe").mkdir()  # a folder of the user's that happens to be named like the probe
    (project / "probe" / "__init__.py").write_text(DECOY)
    (project / "probe" / "__main__.py").write_text(DECOY)

    drifted = call(installed, "drift", "--envs", "current,next", "--tasks", TASKS, cwd=project, env=env)
    assert drifted.returncode in (0, 1), drifted.stderr
    report = project / drifted.stdout.strip().splitlines()[-1]  # relative to the folder it ran in
    assert report.is_file() and report.resolve().is_relative_to(project.resolve() / "reports")
    version = call(installed, "--version", cwd=project, env=env).stdout.split()[-1]
    for name in ("current", "next"):
        result = json.loads((project / "reports" / "latest" / "results" / f"{name}.json").read_text())
        assert result["status"] == "ok" and not result.get("partial") and result["tool_version"] == version
        assert any(metric.startswith("example.gru_classifier.") for metric in result["metrics"])  # the user's probe ran
        assert any(metric.startswith("linear.") for metric in result["metrics"])
    assert (project / ".drift-envs").is_dir()  # built in the project, where .gitignore keeps it out of git
    ignored = call("git", "status", "--porcelain", "--ignored", cwd=project, env=env).stdout
    assert "!! reports/" in ignored and "!! .drift-envs/" in ignored

    gated = call(installed, "gate", cwd=project, env=env)
    assert gated.returncode == drifted.returncode
    assert gated.stdout.splitlines()[0] == drifted.stdout.splitlines()[0]  # one summary line, the same judgement

    (project / "envs" / "broken.toml").write_text(BROKEN)
    failed = call(installed, "run", "--envs", "broken", cwd=project, env=env)
    assert failed.returncode == 2 and "broken" in failed.stderr and "failed" in failed.stderr
