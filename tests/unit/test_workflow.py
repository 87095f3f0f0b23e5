"""The nightly workflow is valid YAML whose commands exist, fed by the same environment list as nox."""

import json
import re
import subprocess
import sys
from pathlib import Path

import yaml
from conftest import PROJECT_ROOT

from keras_drift.cli import build_parser
from keras_drift.execute import cache

WORKFLOW = PROJECT_ROOT / ".github" / "workflows" / "nightly.yml"
SHA_PINNED = re.compile(r"^[^@]+@[0-9a-f]{40}$")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<comment>\s+#.*)?$")
VERSION_COMMENT = re.compile(r"^\s+#\s*v\d+(\.\d+)*\s*$")
MATRIX_ENV_FIELD = re.compile(r"\$\{\{\s*matrix\.env\.(\w+)\s*\}\}")
SHELL_VAR = re.compile(r"\$\{?(\w+)\}?")


def workflow():
    return yaml.safe_load(WORKFLOW.read_text())


def steps():
    for job in workflow()["jobs"].values():
        yield from job["steps"]


def run_lines():
    """Each line of each `run:` with the environment it runs under (workflow, job, then step `env:`)."""
    flow = workflow()
    for job in flow["jobs"].values():
        for step in job["steps"]:
            if "run" in step:
                env = {**flow.get("env", {}), **job.get("env", {}), **step.get("env", {})}
                for line in step["run"].splitlines():
                    yield line, env


def listed_envs(*args):
    """The rows of `keras-drift list` (all environments when no arguments): what the probe matrix is fed."""
    listed = subprocess.run([sys.executable, "-m", "keras_drift.cli", "list", *args], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, check=True)
    return listed.stdout, json.loads(listed.stdout)


def expand(word, env, row):
    """A word of a `run:` line as the runner expands it: shell variables from `env:`, whose values may hold
    `${{ matrix.env.<field> }}`, filled in from one `keras-drift list` row."""
    word = SHELL_VAR.sub(lambda match: str(env.get(match.group(1), match.group(0))), word)
    return MATRIX_ENV_FIELD.sub(lambda match: str(row[match.group(1)]), word)


def test_jobs_list_probe_load_then_report():
    jobs = workflow()["jobs"]
    assert list(jobs) == ["list", "probe", "load", "report"]
    assert jobs["probe"]["needs"] == "list" and jobs["load"]["needs"] == ["list", "probe"] and jobs["report"]["needs"] == ["list", "load"]
    # the merge expects every listed environment, so a probe or load job that uploaded nothing fails the gate
    merge = next(step for step in jobs["report"]["steps"] if "keras-drift merge" in step.get("run", ""))
    assert merge["env"]["EXPECTED_ENVS"] == "${{ needs.list.outputs.envs }}" and '--expect "$EXPECTED_ENVS"' in merge["run"]
    assert "fromJSON(needs.list.outputs.envs)" in jobs["probe"]["strategy"]["matrix"]["env"]
    assert any(step.get("uses", "").startswith("astral-sh/setup-uv") and step["with"]["enable-cache"]
               for step in jobs["probe"]["steps"])  # uv's downloads cached, keyed on the env's lock


def test_each_load_job_loads_the_others_saved_models_and_the_report_merges_what_it_wrote():
    jobs = workflow()["jobs"]
    uploads = {step["with"]["name"]: step["with"]["path"] for step in jobs["probe"]["steps"] if "upload-artifact" in step.get("uses", "")}
    assert uploads == {"result-${{ matrix.env.name }}": "out/results/", "saved-${{ matrix.env.name }}": "out/artifacts/"}
    downloads = {step["with"]["pattern"]: step["with"]["path"] for step in jobs["load"]["steps"] if "download-artifact" in step.get("uses", "")}
    assert downloads == {"result-*": "probed", "saved-*": "saved"}
    load = next(step for step in jobs["load"]["steps"] if "keras-drift load" in step.get("run", ""))
    assert load["run"] == 'keras-drift load --env "$ENV_NAME" --results probed --artifacts saved --run-dir out'
    assert load["env"]["ENV_NAME"] == "${{ matrix.env.name }}" and jobs["load"]["if"] == "${{ !cancelled() }}"
    (loaded,) = [step for step in jobs["load"]["steps"] if "upload-artifact" in step.get("uses", "")]
    assert loaded["with"] == {"name": "loaded-${{ matrix.env.name }}", "path": "out/results/${{ matrix.env.name }}.json"}
    (merged,) = [step for step in jobs["report"]["steps"] if "download-artifact" in step.get("uses", "")]
    assert merged["with"]["pattern"] == "loaded-*"


def test_probe_jobs_carry_the_result_cache_from_night_to_night():
    # restored from this environment's newest entry, saved under a key of its own each run (entries are
    # immutable), at the folder `keras-drift run` reads by default, pruned of entries unused for 14 days
    probe_steps = workflow()["jobs"]["probe"]["steps"]
    (cached,) = [step for step in probe_steps if step.get("uses", "").startswith("actions/cache@")]
    assert cached["with"]["path"] == str(cache.default_folder(Path("reports")))
    assert cached["with"]["restore-keys"] == "drift-results-${{ matrix.env.name }}-"
    assert cached["with"]["key"].startswith(cached["with"]["restore-keys"]) and "${{ github.run_id }}" in cached["with"]["key"]
    names = [step.get("uses", step.get("run", "")) for step in probe_steps]
    probe = next(index for index, name in enumerate(names) if name.startswith("nox -s"))
    assert names.index(cached["uses"]) < probe < next(index for index, name in enumerate(names) if "-mtime +14 -delete" in name)
    assert "--cache" not in probe_steps[probe]["run"]


def test_every_command_in_the_workflow_exists():
    commands = set(build_parser()._subparsers._group_actions[0].choices)
    listed = subprocess.run([sys.executable, "-m", "nox", "-l", "--json", "-t", "probe", "-f", str(PROJECT_ROOT / "noxfile.py")],
                            capture_output=True, text=True, check=True)
    sessions = {entry["session"] for entry in json.loads(listed.stdout)}
    _, rows = listed_envs()  # every environment: a dispatch may select any tag
    assert rows
    used = probed = 0
    for line, env in run_lines():
        for command in re.findall(r"keras-drift (\w+)", line):
            assert command in commands, line
            used += 1
        for word in re.findall(r'nox -s "?((?:\$\{\{.*?\}\}|[^\s"])+)', line):
            expanded = {expand(word, env, row) for row in rows}
            if len(expanded) > 1:  # a per-environment session: every listed environment must have one
                probed += 1
            for session in expanded:
                assert session in sessions, (line, session)
            used += 1
    assert used >= 4
    assert probed == 1  # the probe step's session name really varies with the matrix environment


def test_matrix_list_is_one_json_line_of_environments():
    stdout, rows = listed_envs("--tags", "default")
    assert stdout.count("\n") == 1
    assert {row["name"] for row in rows} >= {"tf-2.15", "keras-3.15-jax"}
    assert all(set(row) == {"name", "python", "backend", "tags"} for row in rows)


def test_every_action_is_pinned_to_a_commit_with_its_version():
    parsed = [step["uses"] for step in steps() if "uses" in step]
    parsed += [job["uses"] for job in workflow()["jobs"].values() if "uses" in job]  # reusable workflows
    assert parsed
    for ref in parsed:
        assert SHA_PINNED.match(ref), f"{ref}: pin the action to a full commit SHA"
    lines = [USES_LINE.match(line) for line in WORKFLOW.read_text().splitlines()]
    written = [match for match in lines if match]
    assert sorted(match["ref"] for match in written) == sorted(parsed)  # each `uses:` on a line of its own
    for match in written:
        assert match["comment"] and VERSION_COMMENT.match(match["comment"]), f"{match['ref']}: no '# vX.Y.Z'"


def test_token_is_read_only_and_not_left_behind():
    flow = workflow()
    assert flow["permissions"] == {"contents": "read"}
    for name, job in flow["jobs"].items():
        assert isinstance(job.get("permissions"), dict), f"{name}: no job-level permissions"
        assert "write" not in job["permissions"].values(), name
    checkouts = [step for step in steps() if step.get("uses", "").startswith("actions/checkout@")]
    assert len(checkouts) == len(flow["jobs"])
    for step in checkouts:
        assert step.get("with", {}).get("persist-credentials") is False, step


def test_jobs_are_bounded_and_never_race():
    flow = workflow()
    for name, job in flow["jobs"].items():
        assert isinstance(job.get("timeout-minutes"), int) and job["timeout-minutes"] > 0, name
    assert "github.ref" in flow["concurrency"]["group"]
    assert flow["concurrency"]["cancel-in-progress"] is False  # a running nightly finishes; the next one waits


def test_no_expression_is_expanded_inside_a_shell_command():
    for line, _ in run_lines():
        assert "${{" not in line, f"pass it through env: instead: {line}"
