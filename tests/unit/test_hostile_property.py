"""The command line under schema-valid hostile result files and hostile config files (issue 36): any field
of a result holding a value of another JSON type or range, a tolerance or accepted-drifts file that is
malformed, nested deep or a FIFO. Whatever it is: a documented exit code (never 5), never a traceback, one
line on stderr for unusable input, no hang, and not a file written outside the working folder."""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from conftest import make_result
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from keras_drift.cli import main
from keras_drift.errors import ExitCode

EXPECTED = {ExitCode.OK, ExitCode.DRIFT, ExitCode.FAILED, ExitCode.BAD_INPUT}
RUN = "reports/20260101T000000Z-abcdef"
MARK = "__HOSTILE__"


def _full_result(env: str, w: float) -> dict[str, Any]:
    """A result with every section the pipeline reads, each holding what the probe writes."""
    task = {"family": "linear", "status": "ok", "kind": "seed", "runs": 2}
    load = {"source": "base", "direction": "upgrade", "task": "linear.reference", "format": "h5", "method": "load_model",
            "loaded": True, "max_abs_diff": 0.0, "evaluate_diff": 0.0, "optimizer": "intact", "trains": True, "seconds": 0.1}
    return make_result(
        env, {"linear.reference.w": w, "linear.reference.b": 0.8, "linear.reference.n": 3, "linear.reference.flag": True},
        noise={"linear.reference.w": 0.0},
        series={"linear.reference": {"step": [0, 1, 2], "loss": [1.0, 0.5, 0.25]}},
        oracle={"float64": {"linear.reference.w": 0.6}},
        facts={"linear.reference": {"initial_weights": {"sha256": "ab", "head": [0.1, 0.2]}, "history_keys": ["loss"],
                                    "recomputed": {"linear.reference.w": 0.6}, "step_losses": [1.0, 0.9], "api_calls": ["SGD(lr=0.1)"]}},
        introspection={"defaults": {"optimizer.Adam.epsilon": 1e-7}, "api": {"SGD(lr=0.1)": "honoured"}},
        timings={"steps": {"linear.reference": 40}, "tasks_s": {"linear.reference#0": 2.0, "linear.reference#1": 2.1},
                 "compile_s": {"linear.reference#0": 0.5}, "wall_s": 3.0, "load_s": 0.2},
        tasks={"linear.reference": task},
        loads=[load],
        user_models=[{"name": "u", "loaded": True, "reference": "base", "predictions": [0.5, 0.25], "shape": [2]}],
        load_phase={"status": "ok", "sources": ["base"]},
        fingerprint={"python": "3.11", "backend": "jax", "distributions": {"keras": "3.15.1"}, "env_vars": {"X": "1"}},
        reason="", errors={}, partial=False,
    )


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value of ``value`` (containers included: a whole section can be replaced too)."""
    found = [path] if path else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _leaves(item, (*path, index))
    return found


CANDIDATE = _full_result("cand", 0.7)
PATHS = [path for path in _leaves(CANDIDATE) if path[0] not in ("schema_version",)]
# JSON text: values of every type and range, the spellings of non-finite numbers, and the hostile ones
HOSTILE_JSON = st.sampled_from([
    "null", "true", "false", "0", "-1", "1e-320", "1e308", "1e999", "-1e999", "1" + "0" * 400, "9007199254740993", "2.5",
    '"NaN"', '"Infinity"', '"-Infinity"', '"abc"', '""', '"\\ud800"', '"\\u001b]0;PWNED\\u0007\\u001b[2J"', '"x\\n"',
    '"' + "x" * 5000 + '"', "[]", "{}", "[null]", '["b"]', "[[1.0]]", '{"a": 1}', "[1, 2, 3]", "[" * 200 + "]" * 200,
])


def _document(path: tuple[Any, ...], fragment: str) -> str:
    """The candidate's result as JSON text with the value at ``path`` replaced by the JSON text ``fragment``."""
    document = json.loads(json.dumps(CANDIDATE))
    target = document
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = MARK
    return json.dumps(document).replace(json.dumps(MARK), fragment, 1)


HOSTILE_TOML = st.sampled_from([None] * 12 + [
    "", "[[tolerance]\n", "tolerance = " + "[" * 100 + "]" * 100 + "\n", "[[tolerance]]\npattern = '*'\natol = inf\nrtol = 0\n",
    "[[tolerance]]\npattern = '*'\natol = nan\nrtol = 0\n", "[[accept]]\nenv = 1\n", "\xff\xfe", "FIFO",
    '[[accept]]\nenv = "cand"\nmetric = "*"\ncause = "random_stream"\nreason = "r"\nexpires = 2000-01-01\n',
])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(PATHS), fragment=HOSTILE_JSON, command=st.sampled_from(["report", "gate", "merge", "accept"]),
       tolerances=HOSTILE_TOML, acceptances=HOSTILE_TOML)
def test_schema_valid_hostile_results_and_config_files(path, fragment, command, tolerances, acceptances):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        work = root / "work"
        run = work / RUN / "results"
        run.mkdir(parents=True)
        (run / "base.json").write_text(json.dumps(_full_result("base", 0.6)))
        (run / "cand.json").write_text(_document(path, fragment))
        argv = {"report": ["report", RUN], "gate": ["gate", RUN, "--baseline", "base"], "merge": ["merge", f"{RUN}/results", "--reports", "merged"],
                "accept": ["accept", RUN, "--env", "cand", "--reason", "reviewed"]}[command]
        for flag, text in (("--tolerances", tolerances), ("--accepted", acceptances)):
            if text is None:
                continue
            given_file = work / f"{flag[2:]}.toml"
            if text == "FIFO":
                os.mkfifo(given_file)
            else:
                given_file.write_bytes(text.encode("utf-8", "surrogateescape") if text.isascii() else text.encode("latin-1"))
            if command != "accept" or flag == "--accepted":
                argv += [flag, str(given_file)]
        before = sorted(str(p) for p in root.rglob("*") if not str(p).startswith(str(work)))
        code, err = _run_in(work, argv)
        event(f"{command}: exit {code}")
        assert code in EXPECTED, (path, fragment, argv, err)
        assert "Traceback" not in err, err
        if code == ExitCode.BAD_INPUT:
            assert err.startswith("keras-drift: error: ") and err.count("\n") == 1, err
        assert sorted(str(p) for p in root.rglob("*") if not str(p).startswith(str(work))) == before


def _run_in(folder: Path, argv: list[str]) -> tuple[int, str]:
    """``main(argv)`` run in ``folder`` with its output captured."""
    previous = os.getcwd()
    os.chdir(folder)
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            code = main(argv)
    finally:
        os.chdir(previous)
    return int(code), stderr.getvalue()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=6) | st.sampled_from(["NaN", "\ud800"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=10)
HISTORY = {"metrics": ["linear.reference.w"], "environments": {"cand": {"values": [0.7], "verdicts": ["drift"]}}}
PROOF = {"env": "cand", "task": "linear.reference", "status": "proven", "accounts_for": ["fit.epochs"],
         "differences": [{"key": "fit.epochs", "baseline": 1, "candidate": 2}], "trials": [{"undone": ["fit.epochs"], "applied": True}],
         "why": "", "metrics": ["linear.reference.w"], "reverse": None}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.sampled_from(["history.json", "experiments.json"]), path_index=st.integers(0, 30), value=json_values)
def test_hostile_earlier_history_and_experiments_files(which, path_index, value):
    """An earlier run's history.json is skipped with a warning whatever it holds; a run's experiments.json
    is read or refused in one line."""
    document = json.loads(json.dumps(HISTORY if which == "history.json" else {"schema_version": 1, "proofs": [PROOF]}))
    paths = _leaves(document)
    path = paths[path_index % len(paths)]
    target = document
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        run = work / RUN
        (run / "results").mkdir(parents=True)
        (run / "results" / "base.json").write_text(json.dumps(_full_result("base", 0.6)))
        (run / "results" / "cand.json").write_text(json.dumps(_full_result("cand", 0.7)))
        if which == "history.json":
            earlier = work / "reports" / "20251231T000000Z-aaaaaa"
            earlier.mkdir()
            (earlier / "verdicts.json").write_text("{}")
        (earlier if which == "history.json" else run).joinpath(which).write_text(json.dumps(document))
        code, err = _run_in(work, ["report", RUN, "--accepted", "none.toml"])
        assert code in (EXPECTED if which == "experiments.json" else {ExitCode.DRIFT}), (path, value, err)
        assert "Traceback" not in err and "internal error" not in err, err
