"""The result cache: what its key depends on, when a cached result stands in for a probe, what it stores,
what pruning keeps, and that two writers never leave a half entry."""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import PROJECT_ROOT, make_result
from test_attribute import TOL

from keras_drift.cli import main
from keras_drift.envs import environments, shipped
from keras_drift.envs.specs import load_spec
from keras_drift.execute import cache, runner
from keras_drift.execute.cache import ResultCache, cache_key
from keras_drift.execute.runner import ProbeSettings, run_environment
from keras_drift.judge import proofs
from keras_drift.judge.compare import Tolerance
from keras_drift.store.results import Result, load_result

FUTURE = 'requirements = ["keras==3.15.1"]\npython = "3.99"\nbackend = "jax"\n'


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project root with a copy of the probe, which stands in for the shipped one whose source the key digests."""
    root = tmp_path / "project"
    shutil.copytree(PROJECT_ROOT / "probe", root / "probe", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(shipped, "probe_root", lambda: root)
    return root


def locked(write_env, name: str = "future", text: str = FUTURE):
    path = write_env(name, text)
    path.with_suffix(".lock.txt").write_text("keras==3.15.1 --hash=sha256:aa\n")
    return load_spec(path)


def keyed(result: Result, spec, settings: ProbeSettings | None = None) -> Result:
    result["spec"] = {"cache_key": cache_key(spec, (settings or ProbeSettings()).record())}
    return result


def test_the_key_changes_with_the_lock_the_probe_the_variables_and_the_selection(write_env, project):
    spec = locked(write_env)
    record = ProbeSettings().record()
    key = cache_key(spec, record)
    assert cache_key(load_spec(spec.path), record) == key  # same inputs, same key
    spec.lock_path.write_text("keras==3.15.1 --hash=sha256:bb\n")
    assert cache_key(spec, record) != key
    spec.lock_path.write_text("keras==3.15.1 --hash=sha256:aa\n")
    (project / "probe" / "tasks.py").write_text((project / "probe" / "tasks.py").read_text() + "\n# changed\n")
    changed_probe = cache_key(spec, record)
    assert changed_probe != key
    assert cache_key(locked(write_env, text=FUTURE + 'env = { XLA_FLAGS = "--x" }\n'), record) != changed_probe
    assert cache_key(spec, ProbeSettings(tasks=("linear.*",)).record()) != changed_probe


def test_a_cached_result_stands_in_for_the_probe_until_a_rerun_is_asked(write_env, project, tmp_path):
    spec = locked(write_env)
    store = ResultCache(tmp_path / "cache")
    store.store(keyed(make_result("future", {"linear.defaults.w": 0.43}), spec), "20261122T010000Z-aaaaaa")
    # the interpreter does not exist: a probe would be skipped, so an ok result can only come from the cache
    hit = run_environment(spec, tmp_path / "run", project, tmp_path / "venvs", ProbeSettings(), store)
    assert (hit.status, hit.metrics, hit.cached_from) == ("ok", {"linear.defaults.w": 0.43}, "20261122T010000Z-aaaaaa")
    assert load_result(tmp_path / "run" / "results" / "future.json").cached_from == "20261122T010000Z-aaaaaa"
    forced = run_environment(spec, tmp_path / "run2", project, tmp_path / "venvs", ProbeSettings(), store, reuse=False)
    assert forced.status == "skipped" and forced.cached_from is None
    # a changed probe is a different key: a miss
    (project / "probe" / "run.py").write_text((project / "probe" / "run.py").read_text() + "\n")
    assert run_environment(spec, tmp_path / "run3", project, tmp_path / "venvs", ProbeSettings(), store).status == "skipped"


def test_floating_and_unlocked_environments_are_never_reused(write_env, project, tmp_path):
    store = ResultCache(tmp_path / "cache")
    floating = locked(write_env, "nightly", FUTURE.replace("keras==3.15.1", "keras>=3") + 'tags = ["nightly"]\n')
    unlocked = load_spec(write_env("unlocked", FUTURE))
    for spec in (floating, unlocked):
        store.store(keyed(make_result(spec.name, {"m": 1.0}), spec), "20261122T010000Z-aaaaaa")
        assert run_environment(spec, tmp_path / "run", project, tmp_path / "venvs", ProbeSettings(), store).status == "skipped"


def test_only_complete_results_are_stored_and_a_reused_one_keeps_its_origin(write_env, project, tmp_path):
    spec = locked(write_env)
    store = ResultCache(tmp_path / "cache")
    key = cache_key(spec, ProbeSettings().record())
    store.store(keyed(make_result("future", {}, status="failed", reason="probe crashed"), spec), "20261122T010000Z-aaaaaa")
    store.store(keyed(make_result("future", {"m": 1.0}, partial=True), spec), "20261122T010000Z-aaaaaa")
    assert store.lookup(key) is None
    store.store(keyed(make_result("future", {"m": 1.0}), spec), "20261122T010000Z-aaaaaa")
    reused = store.lookup(key)
    assert reused is not None
    store.store(reused, "20261123T010000Z-bbbbbb")
    assert store.lookup(key).cached_from == "20261122T010000Z-aaaaaa"


def test_an_environment_whose_last_result_showed_noise_repeats_every_task_up_front(write_env, project, tmp_path, monkeypatch):
    spec = locked(write_env)
    store = ResultCache(tmp_path / "cache")
    asked: list[bool] = []
    monkeypatch.setattr(environments, "ensure_environment",
                        lambda *args: environments.Environment(tmp_path, Path(sys.executable), reused=True))
    monkeypatch.setattr(runner, "_probe", lambda *args: asked.append(args[6]) or make_result("future", {"m": 1.0}))  # repeat_up_front
    adaptive = ProbeSettings(adaptive=True)
    run_environment(spec, tmp_path / "a", project, tmp_path / "venvs", adaptive, store, reuse=False)
    run_environment(spec, tmp_path / "b", project, tmp_path / "venvs", ProbeSettings(adaptive=False), store, reuse=False)
    noisy = keyed(make_result("future", {"m": 1.0}, noise={"m": 0.002}), spec, adaptive)
    store.store(noisy, "20261122T010000Z-aaaaaa")
    run_environment(spec, tmp_path / "c", project, tmp_path / "venvs", adaptive, store, reuse=False)
    run_environment(locked(write_env, "threads", FUTURE + "deterministic = false\n"), tmp_path / "d", project,
                    tmp_path / "venvs", adaptive, store, reuse=False)
    assert asked == [False, True, True, True]
    assert ProbeSettings(repeats=3).arguments(repeat_up_front=False)[-2:] == ["--repeats", "1"]
    assert ProbeSettings(repeats=3).arguments()[-2:] == ["--repeats", "3"]


def test_with_a_baseline_watch_the_baseline_goes_first_and_the_others_are_told_its_metrics(write_env, project, tmp_path, monkeypatch):
    # "old" is listed last but runs first (one job); "new" is then told the baseline's metrics and the
    # tolerances, and may repeat at once; a probe that repeats every task up front is told nothing
    specs = [locked(write_env, "new"), locked(write_env, "old"), locked(write_env, "noisy", FUTURE + "deterministic = false\n")]
    order, told = [], {}

    def probe(spec, python, run_dir, root, settings, log_file, repeat_up_front, extra=()):
        order.append(spec.name)
        told[spec.name] = list(extra)
        return make_result(spec.name, {"m": 1.0 if spec.name == "old" else 2.0})

    monkeypatch.setattr(environments, "ensure_environment", lambda *args: environments.Environment(tmp_path, Path(sys.executable), reused=True))
    monkeypatch.setattr(runner, "_probe", probe)
    watch = runner.BaselineWatch.of("old", [Tolerance("m", 0.0, 1e-3)])
    results = runner.run_environments(specs, tmp_path / "run", project, tmp_path / "venvs", settings=ProbeSettings(adaptive=True), watch=watch)
    assert [result.env for result in results] == ["new", "old", "noisy"]  # in the order asked for
    assert order == ["old", "new", "noisy"]
    assert told["old"] == [] and told["noisy"] == []
    flag, path = told["new"]
    assert flag == "--repeat-drifting" and json.loads(Path(path).read_text()) == {
        "baseline": "old", "metrics": {"m": 1.0}, "repeats": 2, "tolerances": [["m", 0.0, 1e-3]]}


def test_experiments_are_kept_per_pair_of_result_keys_tolerances_and_budget(tmp_path):
    store = ResultCache(tmp_path / "cache")
    base, other = make_result("base", {}, spec={"cache_key": "k1"}), make_result("other", {}, spec={"cache_key": "k2"})
    key = cache.proofs_key(other, base, TOL, 600)
    assert key and key != cache.proofs_key(other, base, [Tolerance("*", 1e-3, 0)], 600) != cache.proofs_key(other, base, TOL, 60)
    assert cache.proofs_key(make_result("other", {}), base, TOL, 600) is None
    found = [proofs.Proof("other", "linear.defaults", "ruled_out", differences=(proofs.Difference("fit.epochs", 1, 10),))]
    assert store.lookup_proofs(key) is None
    store.store_proofs(key, found)
    assert store.lookup_proofs(key) == found


def test_prune_drops_the_entries_no_kept_run_used(tmp_path, capsys):
    reports = tmp_path / "reports"
    old, new = reports / "20261101T000000Z-aaaaaa", reports / "20261120T000000Z-bbbbbb"
    for folder in (old, new):
        (folder / "results").mkdir(parents=True)
    store = ResultCache(reports / "cache")
    (reports / "cache").mkdir()
    stale, used = reports / "cache" / f"{'a' * 24}.json", reports / "cache" / f"proofs-{'b' * 24}.json"
    for path, day in ((stale, "2026-11-10"), (used, "2026-11-21")):
        path.write_text("{}")
        stamp = time.mktime(time.strptime(day, "%Y-%m-%d"))
        os.utime(path, (stamp, stamp))
    assert main(["prune", "--reports", str(reports), "--keep", "1"]) == 0
    assert not old.exists() and new.exists()
    assert not stale.exists() and used.exists()
    assert f"removed {stale}" in capsys.readouterr().err
    assert store.prune(float("inf")) == [used]


def test_prune_drops_the_programs_jax_compiled_before_the_oldest_kept_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_DRIFT_CACHE", str(tmp_path / "keras-drift"))
    reports = tmp_path / "reports"
    (reports / "20261120T000000Z-bbbbbb" / "results").mkdir(parents=True)
    programs = tmp_path / "keras-drift" / "compiled" / "keras-3.15-jax"
    programs.mkdir(parents=True)
    old, recent = programs / f"jit_train_step-{'a' * 64}-cache", programs / f"jit_train_step-{'b' * 64}-cache"
    foreign = programs / "notes.txt"  # not a name JAX writes: never deleted, however old
    linked = tmp_path / "elsewhere" / f"jit_x-{'c' * 64}-cache"  # reached through a link: neither it nor the link goes
    linked.parent.mkdir()
    linked.write_bytes(b"someone else's")
    (programs / linked.name).symlink_to(linked)
    for path, day in ((old, "2026-11-10"), (recent, "2026-11-21"), (foreign, "2026-11-01")):
        path.write_bytes(b"program")
        stamp = time.mktime(time.strptime(day, "%Y-%m-%d"))
        os.utime(path, (stamp, stamp))
    stamp = time.mktime(time.strptime("2026-11-01", "%Y-%m-%d"))
    os.utime(linked, (stamp, stamp))
    os.utime(programs / linked.name, (stamp, stamp), follow_symlinks=False)
    assert main(["prune", "--reports", str(reports), "--keep", "1"]) == 0
    assert not old.exists() and recent.exists() and foreign.exists()
    assert linked.exists() and (programs / linked.name).is_symlink()
    assert "removed 1 compiled program(s)" in capsys.readouterr().err


def test_two_writers_and_a_reader_never_see_half_an_entry(write_env, project, tmp_path):
    spec = locked(write_env)
    store = ResultCache(tmp_path / "cache")
    key = cache_key(spec, ProbeSettings().record())
    big = keyed(make_result("future", {f"m{i}": float(i) for i in range(3000)}), spec)
    store.store(big, "20261122T010000Z-aaaaaa")
    misses: list[int] = []

    def write() -> None:
        for _ in range(30):
            store.store(big, "20261122T010000Z-aaaaaa")

    def read() -> None:
        for _ in range(60):
            misses.append(store.lookup(key) is None)

    threads = [threading.Thread(target=target) for target in (write, write, read)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not any(misses) and not list((tmp_path / "cache").glob(".*.tmp"))


def test_a_result_that_saved_models_keeps_its_files_and_is_a_miss_without_them(write_env, project, tmp_path):
    spec = locked(write_env)
    store = ResultCache(tmp_path / "cache")
    settings = ProbeSettings(saved_models=True)
    saved = tmp_path / "first" / "artifacts" / "future"
    (saved / "classifier.shared_init").mkdir(parents=True)
    (saved / "classifier.shared_init" / "model.h5").write_bytes(b"weights")
    result = keyed(make_result("future", {"m": 1.0}, artifacts={"classifier.shared_init": {"formats": {}}}), spec, settings)
    store.store(result, "20261122T010000Z-aaaaaa", saved)
    hit = run_environment(spec, tmp_path / "run", project, tmp_path / "venvs", settings, store)
    assert hit.cached_from == "20261122T010000Z-aaaaaa"
    assert (tmp_path / "run" / "artifacts" / "future" / "classifier.shared_init" / "model.h5").read_bytes() == b"weights"
    shutil.rmtree(tmp_path / "cache" / f"{result['spec']['cache_key']}.artifacts")
    assert run_environment(spec, tmp_path / "run2", project, tmp_path / "venvs", settings, store).status == "skipped"
    # saving models or not is part of the key: a result without files never stands in for one with them
    assert cache_key(spec, settings.record()) != cache_key(spec, ProbeSettings().record())


def test_a_load_phase_is_kept_per_source_so_a_new_environment_loads_only_what_it_trades(write_env, tmp_path, monkeypatch):
    from keras_drift.judge.saved_models import UserModel

    plans = []

    def run_loads(spec, plan_path, out, log_path, project_root, venvs_dir, settings):  # the probe, by what it was asked
        plan = json.loads(plan_path.read_text())
        plans.append(([(source["direction"], source["env"]) for source in plan["sources"]], [m["name"] for m in plan["user_models"]]))
        loads = [{"source": source["env"], "direction": source["direction"], "task": "m", "format": "h5", "method": "load_model",
                  "loaded": True} for source in plan["sources"]]
        return {"loads": loads, "user_models": [{"name": m["name"], "loaded": True} for m in plan["user_models"]]}, ""

    monkeypatch.setattr(runner, "_run_loads", run_loads)
    spec = load_spec(write_env("base", FUTURE))
    saved = {"m": {"formats": {}}}
    found = [make_result(env, {}, artifacts=saved, spec={"cache_key": f"key-{env}"}) for env in ("base", "a")]
    model = tmp_path / "churn.h5"
    model.write_bytes(b"one")
    users = [UserModel("churn", model, model, "base")]
    store = ResultCache(tmp_path / "cache")

    def load(results):
        runner.run_load_phase([spec], results, tmp_path / "run", tmp_path, tmp_path / "venvs", "base", ProbeSettings(), users,
                              results_cache=store)
        return results[0]

    first = load(found)
    assert plans == [([("control", "base"), ("rollback", "a")], ["churn"])]
    again = load(found)
    assert len(plans) == 1 and again["loads"] == first["loads"] and again["load_phase"]["cached"] == [
        "control from base", "rollback from a", "user models"]
    load([*found, make_result("b", {}, artifacts=saved, spec={"cache_key": "key-b"})])  # a new candidate
    assert plans[-1] == ([("rollback", "b")], [])
    model.write_bytes(b"two")  # the user's file changed: only it is loaded again
    load(found)
    assert plans[-1] == ([], ["churn"])
