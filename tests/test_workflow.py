"""The nightly workflow is valid YAML whose commands exist, fed by the same environment list as nox."""

import json
import re
import subprocess
import sys

import yaml

from keras_drift.cli import _parser
from conftest import PROJECT_ROOT

WORKFLOW = PROJECT_ROOT / ".github" / "workflows" / "nightly.yml"


def workflow():
    return yaml.safe_load(WORKFLOW.read_text())


def run_lines():
    for job in workflow()["jobs"].values():
        for step in job["steps"]:
            if "run" in step:
                yield from step["run"].splitlines()


def test_jobs_list_probe_then_report():
    jobs = workflow()["jobs"]
    assert list(jobs) == ["list", "probe", "report"]
    assert jobs["probe"]["needs"] == "list" and jobs["report"]["needs"] == "probe"
    assert "fromJSON(needs.list.outputs.envs)" in jobs["probe"]["strategy"]["matrix"]["env"]
    assert any(step.get("uses", "").startswith("astral-sh/setup-uv") and step["with"]["enable-cache"]
               for step in jobs["probe"]["steps"])  # uv's downloads cached, keyed on the env's lock


def test_every_command_in_the_workflow_exists():
    commands = set(_parser()._subparsers._group_actions[0].choices)
    listed = subprocess.run([sys.executable, "-m", "nox", "-l", "--json", "-t", "probe", "-f", str(PROJECT_ROOT / "noxfile.py")],
                            capture_output=True, text=True, check=True)
    sessions = {entry["session"] for entry in json.loads(listed.stdout)}
    used = 0
    for line in run_lines():
        for command in re.findall(r"keras-drift (\w+)", line):
            assert command in commands, line
            used += 1
        for session in re.findall(r'nox -s "?([\w.-]+)', line):
            assert session == "probe-" or session in sessions, line
            used += 1
    assert used >= 4


def test_matrix_list_is_one_json_line_of_environments():
    listed = subprocess.run([sys.executable, "-m", "keras_drift.cli", "list", "--tags", "default"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, check=True)
    assert listed.stdout.count("\n") == 1
    rows = json.loads(listed.stdout)
    assert {row["name"] for row in rows} >= {"tf-2.15", "keras-3.15-jax"}
    assert all(set(row) == {"name", "python", "backend", "tags"} for row in rows)
