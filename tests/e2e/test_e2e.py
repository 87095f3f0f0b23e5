"""End to end on real environments: real installs, the real probe, real Keras on TensorFlow and JAX.

One drift run (module fixture) over Keras 3.15 on TensorFlow 2.21, Keras 3.15 on JAX, and an environment
whose requirement does not exist, checked from every side: result files, verdicts, report, exit code.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import PROJECT_ROOT

from keras_drift.store.results import load_results

pytestmark = [pytest.mark.e2e, pytest.mark.network]
ENVS = ("keras-3.15-tf-2.21", "keras-3.15-jax", "keras-3.15-jax-twin")
BROKEN = 'description = "a pin that cannot be installed"\nrequirements = ["keras-drift-no-such-dist==1.0"]\npython = "3.11"\nbackend = "jax"\n'


def keras_drift(*args: str, cwd: Path, cache: Path | None = None) -> subprocess.CompletedProcess:
    """The CLI in ``cwd``; with ``cache``, that is keras-drift's cache folder (compiled programs, Theano's)."""
    env = dict(os.environ, KERAS_DRIFT_CACHE=str(cache)) if cache else None
    return subprocess.run(
        [sys.executable, "-m", "keras_drift.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=1500, env=env
    )


def result_task(result: dict, metric: str) -> str:
    return max((task for task in result["tasks"] if metric.startswith(task + ".")), key=len)


def drift_in(work: Path, names: tuple[str, ...], *extra: str, cache: Path | None = None) -> subprocess.CompletedProcess:
    """`keras-drift drift -j 2` over copies of the shipped env files ``names`` and their locks (and any
    already in work/envs)."""
    (work / "envs").mkdir(exist_ok=True)
    for name in names:
        shutil.copy(PROJECT_ROOT / "envs" / f"{name}.toml", work / "envs")
        shutil.copy(PROJECT_ROOT / "envs" / f"{name}.lock.txt", work / "envs")
    selected = sorted(path.stem for path in (work / "envs").glob("*.toml"))
    completed = keras_drift(
        "drift", "--envs", ",".join(selected), "--envs-dir", str(work / "envs"), "--reports", str(work / "reports"),
        "--venvs", str(work / "venvs"), "--probes", str(PROJECT_ROOT / "probes"), "-j", "2", *extra, cwd=work, cache=cache,
    )
    print(completed.stdout, completed.stderr, sep="\n")
    return completed


@pytest.fixture(scope="module")
def drift_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("e2e")
    (work / "envs").mkdir()
    (work / "envs" / "broken.toml").write_text(BROKEN)
    return work, drift_in(work, ENVS, "--baseline", ENVS[0], cache=work / "keras-drift-cache")


def test_exit_code_says_an_environment_failed(drift_run):
    _, completed = drift_run
    assert completed.returncode == 2, completed.stderr


def test_every_environment_has_a_valid_result(drift_run):
    work, _ = drift_run
    results = {r["env"]: r for r in load_results(work / "reports" / "latest")}  # validated against the schema
    assert set(results) == {*ENVS, "broken"}
    tf, jax = results[ENVS[0]], results[ENVS[1]]
    for result in (tf, jax):
        # every task ran once; the tasks that drift between the backends ran again, in both, for their
        # noise floor (bitwise repeatable here); the rest, canaries included, measured no noise
        repeated = {task: declared["runs"] for task, declared in result["tasks"].items() if declared.get("runs", 1) > 1}
        assert result["repeats"] == 1 and repeated.keys() >= {"linear.defaults", "classifier.defaults"}
        assert set(repeated.values()) == {2} and "linear.shared_init" not in repeated
        assert set(result["noise"]) == {m for m in result["metrics"] if result_task(result, m) in repeated}
        assert set(result["noise"].values()) == {0.0}
        assert result["introspection"]["defaults"]["optimizer.Adam.learning_rate"] == pytest.approx(0.001)
        assert result["introspection"]["api"]["SGD(lr=0.1)"] == "error: ValueError"  # Keras 3 refuses `lr`
        # the float32 NumPy oracle of the raw-TF-style fit lands where Keras does
        assert result["oracle"]["float32"]["linear.reference.w"] == pytest.approx(result["metrics"]["linear.reference.w"], abs=1e-6)
    assert tf["facts"]["linear.defaults"]["initial_weights"] != jax["facts"]["linear.defaults"]["initial_weights"]
    assert tf["status"] == jax["status"] == "ok" and not tf["errors"] and not jax["errors"]
    assert tf["fingerprint"]["backend"] == "tensorflow" and jax["fingerprint"]["backend"] == "jax"
    assert tf["fingerprint"]["keras_version"] == jax["fingerprint"]["keras_version"] == "3.15.1"
    assert jax["fingerprint"]["distributions"]["jax"] == "0.10.2"
    assert jax["fingerprint"]["env_vars"]["KERAS_BACKEND"] == "jax"
    # the raw-TensorFlow style fit converges to the true line in both
    for result in (tf, jax):
        assert result["metrics"]["linear.reference.w"] == pytest.approx(0.6, abs=1e-4)
        assert result["metrics"]["linear.reference.b"] == pytest.approx(0.8, abs=1e-4)
        assert result["series"]["linear.reference"]["step"] == list(range(0, 1001, 50))
    broken = results["broken"]
    assert broken["status"] == "failed"
    assert "keras-drift-no-such-dist" in broken["reason"] and "keras-drift-no-such-dist" in broken["log_tail"]


def test_verdicts_separate_random_streams_from_shared_weights(drift_run):
    work, _ = drift_run
    verdicts = json.loads((work / "reports" / "latest" / "verdicts.json").read_text())
    assert verdicts["baseline"] == ENVS[0] and verdicts["exit_code"] == 2
    jax = verdicts["environments"][ENVS[1]]["metrics"]
    # the default initializer draws different numbers on each backend ...
    assert jax["linear.defaults.initial_w"]["verdict"] == "drift"
    assert jax["linear.defaults.w"]["verdict"] == "drift"
    # ... while training from the same NumPy weights agrees
    for metric in ("linear.shared_init.w", "linear.shared_init.b", "classifier.shared_init.accuracy"):
        assert jax[metric]["verdict"] in ("identical", "within_tolerance"), (metric, jax[metric])
    assert jax["classifier.defaults.val_loss"]["verdict"] == "drift"
    # proven by experiment: linear.defaults re-run on JAX from TensorFlow's initial weights lands on TensorFlow's numbers
    for metric in ("linear.defaults.w", "linear.defaults.b", "linear.defaults.loss"):
        assert (jax[metric]["cause"], jax[metric]["proof"]) == ("random_stream", "proven"), jax[metric]
        assert jax[metric]["evidence"] == (f"re-running linear.defaults in {ENVS[1]} with the baseline's initial weights "
                                           "brings linear.defaults.* within tolerance; the reverse, the baseline with the "
                                           "candidate's initial weights, reproduces the drift")
    [linear] = [e for e in verdicts["experiments"] if (e["env"], e["task"]) == (ENVS[1], "linear.defaults")]
    assert linear["status"] == "proven" and linear["accounts_for"] == ["initial_weights"]
    assert linear["interventions"][0]["within"] and linear["interventions"][0]["applied"]
    # and in reverse: TensorFlow from JAX's initial weights lands on JAX's numbers
    assert linear["reverse"]["applied"] and linear["reverse"]["within"] and linear["reverse"]["redone"] == ["initial_weights"]
    # classifier.defaults also shuffles in fit(), with each backend's generator: replaying the initial weights
    # alone is not enough; with TensorFlow's batch order replayed too, the drift is proven the random stream
    [classifier] = [e for e in verdicts["experiments"] if (e["env"], e["task"]) == (ENVS[1], "classifier.defaults")]
    assert classifier["status"] == "proven" and classifier["accounts_for"] == ["initial_weights", "batch_order"]
    assert (jax["classifier.defaults.val_loss"]["cause"], jax["classifier.defaults.val_loss"]["proof"]) == ("random_stream", "proven")
    assert "the baseline's initial weights alone does not" in jax["classifier.defaults.val_loss"]["evidence"]
    # every drift of the built-in tasks of JAX against TensorFlow, whichever metrics it reaches, is the random
    # stream (the example user model in probes/ is the user's: its GRU also computes differently on JAX)
    drifting = {metric: row for metric, row in jax.items() if row["verdict"] == "drift" and not metric.startswith("example.")}
    assert {"linear.defaults.initial_w", "linear.defaults.w", "classifier.defaults.val_loss"} <= set(drifting)
    assert {row["cause"] for row in drifting.values()} == {"random_stream"}, drifting
    # the verdicts carry the values of the two result files, and their difference in float64
    results = work / "reports" / "latest" / "results"
    value = json.loads((results / f"{ENVS[1]}.json").read_text())["metrics"]["linear.defaults.w"]
    base = json.loads((results / f"{ENVS[0]}.json").read_text())["metrics"]["linear.defaults.w"]
    row = jax["linear.defaults.w"]
    assert (row["value"], row["baseline"]) == (value, base)
    assert row["abs_diff"] == float(np.float64(value) - np.float64(base))
    assert all(m["verdict"] == "failed" for m in verdicts["environments"]["broken"]["metrics"].values())


def test_twin_environments_show_zero_drift(drift_run):
    work, _ = drift_run
    verdicts = json.loads((work / "reports" / "latest" / "verdicts.json").read_text())
    by_metric = verdicts["environments"][ENVS[2]]["metrics"]
    jax = verdicts["environments"][ENVS[1]]["metrics"]
    # the twin differs from the baseline exactly where its identical sibling does, and nowhere else
    assert {m: v["verdict"] for m, v in by_metric.items()} == {m: v["verdict"] for m, v in jax.items()}
    twin = json.loads((work / "reports" / "latest" / "results" / f"{ENVS[2]}.json").read_text())
    sibling = json.loads((work / "reports" / "latest" / "results" / f"{ENVS[1]}.json").read_text())
    assert twin["metrics"] == sibling["metrics"]


def test_report_shows_every_environment_side_by_side(drift_run):
    work, completed = drift_run
    html = (work / "reports" / "latest" / "report.html").read_text()
    summary = completed.stdout.splitlines()[0]
    # (the backends may also differ in speed per step: that clause comes before the failure)
    assert re.fullmatch(rf".* against {ENVS[0]}(; \d+ tasks? (slower|faster) in \d+ environments?)*; 1 environment failed", summary)
    assert summary in html
    for name in (*ENVS, "broken"):
        assert name in html
    assert "linear.defaults.initial_w" in html and "DRIFT" in html
    assert "random_stream" in html and "Closest to the NumPy oracle" in html
    assert "API behaviour that differs" in html and "SGD(lr=0.1)" not in html.split("API behaviour that differs")[1].split("<h2")[0]
    assert html.count("<svg") >= 4
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "").replace('xmlns:xlink="http://www.w3.org/1999/xlink"', "")


def test_report_command_rerenders_without_touching_environments(drift_run):
    work, _ = drift_run
    latest = work / "reports" / "latest"
    before = json.loads((latest / "verdicts.json").read_text())
    (latest / "report.html").unlink()
    completed = keras_drift("report", str(latest), cwd=work)
    assert completed.returncode == 2, completed.stderr
    assert (latest / "report.html").is_file()
    assert json.loads((latest / "verdicts.json").read_text()) == before


def test_real_report_in_headless_chromium(drift_run):
    from browser import open_report, print_report

    work, completed = drift_run
    check = open_report(work / "reports" / "latest" / "report.html", "e2e-report")
    assert check.console_errors == [] and len(check.requests) == 1
    assert check.verdict == completed.stdout.splitlines()[0]
    assert all(name in check.text for name in (*ENVS, "broken"))
    assert len(check.svg_sizes) >= 4 and all(w > 300 and h > 100 for w, h in check.svg_sizes)
    assert not check.overflows_narrow
    # "Why they drift": one line per (environment, cause) of the drifts the shipped entries do not accept
    verdicts = json.loads((work / "reports" / "latest" / "verdicts.json").read_text())
    expected = {(env, row["cause"], row["proof"], row["evidence"]) for env, section in verdicts["environments"].items()
                for row in section["metrics"].values() if row["verdict"] == "drift"}
    html = (work / "reports" / "latest" / "report.html").read_text()
    why = html.split('<h2 id="why">Why they drift</h2>')[1].split("<h2")[0]
    assert why.count('<li class="cause-line">') == len({(env, cause) for env, cause, _, _ in expected})
    assert all(evidence in check.text for _, _, _, evidence in expected)  # each finding's evidence, once per line
    # printed to PDF (A4): no table wider than the page, no blank page
    printed = print_report(work / "reports" / "latest" / "report.html")
    assert printed.clipped == [] and all(text.strip() for text in printed.page_texts)


def test_parallel_run_gives_the_same_results_as_sequential(drift_run):
    """The fixture ran with -j 2; the same environments one at a time must give the same metrics, JAX's
    from the programs the fixture's probes compiled and kept."""
    work, _ = drift_run
    kept = work / "keras-drift-cache" / "compiled"
    assert list((kept / ENVS[1]).iterdir()) and list((kept / ENVS[2]).iterdir())
    sequential = work / "sequential"
    completed = keras_drift(
        "run", "--envs", ",".join(ENVS[1:]), "--envs-dir", str(work / "envs"), "--run-dir", str(sequential),
        "--venvs", str(work / "venvs"), "--probes", str(PROJECT_ROOT / "probes"), "-j", "1", "--rerun", cwd=work, cache=work / "keras-drift-cache",
    )
    assert completed.returncode == 0, completed.stderr
    for name in ENVS[1:]:
        parallel = json.loads((work / "reports" / "latest" / "results" / f"{name}.json").read_text())
        alone = json.loads((sequential / "results" / f"{name}.json").read_text())
        assert alone["metrics"] == parallel["metrics"] and alone["series"] == parallel["series"]
        assert alone["timings"]["reused_environment"] is True


USER_PROBE = '''
from probe import compat
from probe.task import Task


def doubled(keras):
    """A user's own task: a Dense layer from NumPy weights, called on a fixed input."""
    import numpy as np
    model = compat.model_of(keras, lambda first: [compat.layer(keras, "Dense", units=1, **first)], (2,))
    model.set_weights([np.array([[2.0], [3.0]], "float32"), np.array([1.0], "float32")])
    return {"mine.dense.out": float(compat.predict(model, np.array([[1.0, 1.0]], "float32"), keras)[0, 0])}, {}, {}


TASKS = [Task("mine.dense", doubled)]
'''


def test_a_user_probe_module_from_any_folder_is_run_compared_and_reported(tmp_path):
    probes = tmp_path / "my-probes"
    probes.mkdir()
    (probes / "mine.py").write_text(USER_PROBE)
    completed = drift_in(tmp_path, ENVS[1:], "--tasks", "mine.*", "--probes", str(probes))
    assert completed.returncode == 0, completed.stderr
    latest = tmp_path / "reports" / "latest"
    for name in ENVS[1:]:
        result = json.loads((latest / "results" / f"{name}.json").read_text())
        assert result["metrics"] == {"mine.dense.out": 6.0}  # 2 * 1 + 3 * 1 + 1, by hand
        assert result["tasks"]["mine.dense"]["doc"] == "A user's own task: a Dense layer from NumPy weights, called on a fixed input."
        assert result["spec"]["tasks"] == ["mine.*"] and result["spec"]["probes_sha256"]
    html = (latest / "report.html").read_text()
    assert "mine.dense.out" in html and "mine: 0 of 1 metric drift" in html


def test_the_shipped_accepted_drifts_turn_the_backend_drift_grey_and_the_gate_green(drift_run):
    work, _ = drift_run
    latest = str(work / "reports" / "latest")
    shipped = keras_drift("gate", latest, "--candidate", ENVS[1], "--accepted", str(PROJECT_ROOT / "accepted.toml"), cwd=work)
    assert shipped.returncode == 0, shipped.stdout + shipped.stderr
    assert "accepted drift" in shipped.stdout.splitlines()[0]
    without = keras_drift("gate", latest, "--candidate", ENVS[1], "--accepted", str(work / "none.toml"), cwd=work)
    assert without.returncode == 1, without.stdout


def test_a_second_run_reuses_cached_results_until_a_lock_changes(drift_run):
    """Nothing changed: both environments come from the cache (no probe), with the verdicts of a fresh run.
    A changed lock is a different key: that environment is probed again, the other still comes from the cache."""
    work, _ = drift_run
    pair = ",".join(ENVS[1:])
    options = ("--envs-dir", str(work / "envs"), "--reports", str(work / "again"), "--venvs", str(work / "venvs"),
               "--probes", str(PROJECT_ROOT / "probes"), "--cache", str(work / "reports" / "cache"), "--baseline", ENVS[1], "-j", "2")
    first = keras_drift("drift", "--envs", pair, *options, cwd=work)
    assert first.returncode == 0, first.stderr
    # from the fixture's run, or the sequential run of another test, whichever stored last; no probe ran, but
    # with this baseline the two trade saved models they never traded: only those are loaded
    assert first.stderr.count("(cached from ") == 2
    logs = sorted(path.name for path in (work / "again" / "latest" / "logs").glob("*.log"))
    assert logs == sorted([f"{ENVS[1]}.loads.log", f"{ENVS[2]}.loads.log"])
    cached = keras_drift("drift", "--envs", pair, *options, cwd=work)
    assert cached.returncode == 0, cached.stderr
    assert cached.stderr.count("(cached from ") == 2 and not list((work / "again" / "latest" / "logs").glob("*.log"))  # loads too
    cached_verdicts = json.loads((work / "again" / "latest" / "verdicts.json").read_text())
    lock = work / "envs" / f"{ENVS[2]}.lock.txt"
    lock.write_text(lock.read_text() + "# re-locked\n")  # installs the same packages: a fresh probe must agree
    fresh = keras_drift("drift", "--envs", pair, *options, cwd=work)
    assert fresh.returncode == 0, fresh.stderr
    assert fresh.stderr.count("(cached from") == 1 and (work / "again" / "latest" / "logs" / f"{ENVS[2]}.log").is_file()
    fresh_verdicts = json.loads((work / "again" / "latest" / "verdicts.json").read_text())
    assert fresh_verdicts["environments"][ENVS[2]]["cached_from"] is None
    assert fresh_verdicts["environments"][ENVS[1]]["cached_from"] == cached_verdicts["environments"][ENVS[1]]["cached_from"]
    for document in (cached_verdicts, fresh_verdicts):
        for key in ("run_id", "new_since_last_run"):
            document.pop(key)
        for environment in document["environments"].values():
            # the cached results also carry the repeats their first run made where they drifted from TensorFlow
            environment.pop("cached_from"), environment.pop("repeated_tasks")
        document.pop("speed")  # times per step: measured afresh by the fresh probe, never bitwise equal
        document["artifacts"].pop("load_phases")  # how the loads were done (cached, in the probe), not what they found
    assert cached_verdicts == fresh_verdicts


SLOW_STEPS_HOOK = '''"""Test hook: every train_on_batch call sleeps 10 ms, so each training step is at least that much slower."""
import sys
import time


def _slow_train_on_batch(frame, event, arg):
    if event == "call" and frame.f_code.co_name == "train_on_batch":
        time.sleep(0.01)


sys.setprofile(_slow_train_on_batch)
'''


def test_a_task_slowed_on_purpose_is_reported_slower_and_twins_are_not(tmp_path):
    """A copy of the JAX environment with a start-up hook that sleeps in every train_on_batch: its linear fit is
    slower per step than the baseline's, the twin's is not; only --fail-on slowdown makes that fail the gate."""
    (tmp_path / "probe" / "hooks").mkdir(parents=True)
    (tmp_path / "probe" / "hooks" / "slow_steps.py").write_text(SLOW_STEPS_HOOK)
    (tmp_path / "envs").mkdir()
    slow = tmp_path / "envs" / "keras-3.15-jax-slow.toml"
    slow.write_text((PROJECT_ROOT / "envs" / f"{ENVS[2]}.toml").read_text().replace("tags =", 'hooks = ["slow-steps"]\ntags ='))
    shutil.copy(PROJECT_ROOT / "envs" / f"{ENVS[2]}.lock.txt", slow.with_suffix(".lock.txt"))
    completed = drift_in(tmp_path, ENVS[1:], "--tasks", "linear.shared_init", "--baseline", ENVS[1], "--no-explain")
    assert completed.returncode == 0, completed.stderr
    verdicts = json.loads((tmp_path / "reports" / "latest" / "verdicts.json").read_text())
    by_env = {row["env"]: row for row in verdicts["speed"]["tasks"] if row["task"] == "linear.shared_init"}
    assert by_env["keras-3.15-jax-slow"]["verdict"] == "slower" and by_env["keras-3.15-jax-slow"]["ratio"] > 2
    assert by_env["keras-3.15-jax-slow"]["seconds_per_step"] >= 0.01 and by_env["keras-3.15-jax-slow"]["steps"] == 1001
    assert by_env[ENVS[2]]["verdict"] == "same"
    assert "1 task slower in 1 environment" in completed.stdout
    html = (tmp_path / "reports" / "latest" / "report.html").read_text()
    assert '<h2 id="speed">Speed</h2>' in html and "(slower)" in html
    latest = str(tmp_path / "reports" / "latest")
    assert keras_drift("gate", latest, "--candidate", "keras-3.15-jax-slow", cwd=tmp_path).returncode == 0
    gated = keras_drift("gate", latest, "--candidate", "keras-3.15-jax-slow", "--fail-on", "slowdown", cwd=tmp_path)
    assert gated.returncode == 1 and "keras-3.15-jax-slow: 1 task(s) slower per step: linear.shared_init " in gated.stdout
