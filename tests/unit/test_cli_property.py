"""The command line under random arguments and random run folders: never a traceback, always a documented
exit code, never a file written outside the working folder (the keras-drift cache aside)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from conftest import make_result
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from keras_drift.cli import main
from keras_drift.errors import ExitCode
from keras_drift.store.results import write_result

# Codes a command may end with here: no interrupt is sent, and an internal error is a bug to fix.
EXPECTED = {ExitCode.OK, ExitCode.DRIFT, ExitCode.FAILED, ExitCode.BAD_INPUT}
RUN = "reports/20260101T000000Z-abcdef"
SKIPPED_ENV = 'requirements = ["numpy==2.4.6"]\npython = "3.99"\nbackend = "jax"\ntags = ["default"]\n'

scalars = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(2**70), 2**70), st.text(max_size=8),
                    st.booleans(), st.none())
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                           max_leaves=8)
names = st.sampled_from(["base", "cand", "Base", "x", "../up", "/abs", "", "a b", "\x1b[31m", "$\\frac{$"])
read_paths = st.sampled_from([RUN, "reports/latest", "reports", "envs", "nowhere", RUN + "/results", "../outside", "/dev/null"])
write_paths = st.sampled_from(["reports", "merged", "out/run"])
numbers = st.sampled_from(["0", "-1", "1", "2", "1e999", "nan", "x", "30"])
flag_values = {
    "--baseline": names, "--candidate": names, "--expect": st.one_of(names, st.just('[{"name": "base"}]'), st.just("[1]")),
    "--tolerances": st.sampled_from(["tol.toml", "nowhere.toml", "envs/good.toml"]), "--history": numbers,
    "--keep": numbers, "--envs": names, "--tags": names, "--timeout": numbers, "--task-timeout": numbers, "-j": numbers,
    "--envs-dir": read_paths, "--reports": write_paths, "--run-dir": write_paths, "--venvs": st.just("venvs"),
}
# Per command the flags it takes (and, now and then, one it does not take).
COMMAND_FLAGS = {
    "report": ["--baseline", "--tolerances", "--history"],
    "gate": ["--baseline", "--candidate", "--expect", "--tolerances"],
    "merge": ["--baseline", "--expect", "--reports", "--envs-dir", "--tolerances", "--history"],
    "drift": ["--envs", "--tags", "--envs-dir", "--baseline", "--timeout", "--task-timeout", "-j", "--reports", "--history"],
    "run": ["--envs", "--tags", "--envs-dir", "--run-dir", "--timeout", "-j"],
    "list": ["--envs", "--tags", "--envs-dir"],
    "prune": ["--keep", "--reports"],
    "--help-me": [],
}
POSITIONAL = {"report": [RUN], "gate": [RUN], "merge": [RUN + "/results"]}


@st.composite
def command_lines(draw) -> list[str]:
    command = draw(st.sampled_from(["report", "gate", "merge", "drift", "report", "gate", "merge", "run", "list", "prune", "--help-me"]))
    positional = draw(st.one_of(st.just(POSITIONAL.get(command, [])), st.lists(read_paths, max_size=1)))
    allowed = COMMAND_FLAGS[command] + ([draw(st.sampled_from(sorted(flag_values)))] if draw(st.integers(0, 9)) == 0 else [])
    chosen = draw(st.lists(st.sampled_from(allowed), max_size=3, unique=True)) if allowed else []
    return [command, *positional, *(part for flag in chosen for part in (flag, draw(flag_values[flag])))]


def results():
    metrics = st.dictionaries(st.sampled_from(["w", "b", "linear.defaults.w", "t.x.loss"]), scalars, max_size=3)
    envs = st.one_of(st.sampled_from(["base", "cand", "other"]), names)  # mostly names a result may have
    statuses = st.sampled_from(["ok", "ok", "ok", "failed", "skipped"])
    return st.lists(st.tuples(envs, metrics, statuses), min_size=1, max_size=3, unique_by=lambda made: made[0])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(argv=command_lines(), made=results(),
       junk=st.one_of(st.none(), st.none(), json_values), run_info=st.one_of(st.none(), st.none(), json_values),
       tolerance=st.one_of(st.none(), st.none(), json_values))
def test_random_command_lines_and_run_folders(argv, made, junk, run_info, tolerance):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        work, outside = root / "work", root / "outside"
        outside.mkdir()
        (outside / "keep.txt").write_text("mine")
        (work / "envs").mkdir(parents=True)
        (work / "envs" / "good.toml").write_text(SKIPPED_ENV)
        valid = '[[tolerance]]\npattern = "*"\natol = 1e-6\nrtol = 1e-5\n'
        (work / "tol.toml").write_text(f"tolerance = {json.dumps(tolerance)}\n" if tolerance is not None else valid)
        run = work / RUN
        for env, metrics, status in made:
            try:
                write_result(make_result(env, metrics, status=status), run)
            except Exception:  # the writer refuses what the schema refuses: such a file is never written
                continue
        if junk is not None:
            (run / "results").mkdir(parents=True, exist_ok=True)
            (run / "results" / "junk.json").write_text(json.dumps(junk))
        if run_info is not None and run.exists():
            (run / "run.json").write_text(json.dumps(run_info))
        command = argv[0]
        if command in ("drift", "run"):
            argv += ["--venvs", "venvs"]
        before = sorted(str(p) for p in root.rglob("*") if not str(p).startswith(str(work)))
        previous = os.getcwd()
        os.chdir(work)
        try:
            code, err = _run(argv)
        finally:
            os.chdir(previous)
        event(f"{command}: exit {code}")
        assert code in EXPECTED, (argv, code, err)
        assert "Traceback" not in err, (argv, err)
        after = sorted(str(p) for p in root.rglob("*") if not str(p).startswith(str(work)))
        assert after == before, argv


def _run(argv: list[str]) -> tuple[int, str]:
    """main(argv) with stderr captured (`--help` exits through SystemExit, which counts as 0)."""
    import contextlib
    import io

    stderr, stdout = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(stdout):
        try:
            code = main(argv)
        except SystemExit as exit_:
            code = exit_.code or 0
    return int(code), stderr.getvalue()
