import json
import signal

import pytest
from conftest import PROJECT_ROOT

from keras_drift.envs.specs import load_spec
from keras_drift.execute import runner
from keras_drift.execute.runner import ProbeSettings, run_environment
from keras_drift.store.results import load_result


def test_missing_interpreter_is_skipped_with_its_reason(write_env, tmp_path):
    spec = load_spec(write_env("future", 'requirements = ["keras==3.15.1"]\npython = "3.99"\nbackend = "jax"\n'))
    result = run_environment(spec, tmp_path / "run", PROJECT_ROOT, tmp_path / "venvs", settings=ProbeSettings(environment_timeout_s=60, task_timeout_s=60))
    assert result["status"] == "skipped"
    assert result["reason"] == "no Python 3.99 interpreter is installed on this machine"
    assert load_result(tmp_path / "run" / "results" / "future.json")["status"] == "skipped"
    assert not (tmp_path / "venvs" / "future").exists()


def test_each_environment_loads_its_own_files_and_the_baseline_trades_files_with_every_candidate(tmp_path):
    from conftest import make_result

    from keras_drift.execute.runner import load_sources

    saved = {"m": {"formats": {}}}
    found = [make_result("base", {}, artifacts=saved), make_result("a", {}, artifacts=saved), make_result("b", {}),
             make_result("c", {}, artifacts=saved)]
    plans = {result.env: [(source["env"], source["direction"]) for source in load_sources(result.env, "base", found, tmp_path)]
             for result in found}
    assert plans == {"base": [("base", "control"), ("a", "rollback"), ("c", "rollback")],
                     "a": [("a", "control"), ("base", "upgrade")], "b": [("base", "upgrade")], "c": [("c", "control"), ("base", "upgrade")]}
    assert load_sources("a", "base", found, tmp_path)[1]["folder"] == str((tmp_path / "artifacts" / "base").resolve())


def test_a_slot_takes_the_next_free_environment_instead_of_waiting_on_a_busy_resource():
    import threading
    from types import SimpleNamespace

    from keras_drift.execute.runner import in_slots

    items = [SimpleNamespace(name="theano-1", exclusive="folder"), SimpleNamespace(name="theano-2", exclusive="folder"),
             SimpleNamespace(name="tf", exclusive="")]
    tf_started, lock = threading.Event(), threading.Lock()
    running: set[str] = set()
    overlaps, started = [], []

    def work(item):
        with lock:
            started.append(item.name)
            overlaps.extend(sorted(running & {"theano-1", "theano-2"}) if item.exclusive else [])
            running.add(item.name)
        if item.name == "tf":
            tf_started.set()
        elif item.name == "theano-1":  # the other slot must not sit waiting for the folder meanwhile
            assert tf_started.wait(timeout=10), "the second slot waited for the busy folder"
        with lock:
            running.discard(item.name)
        return item.name.upper()

    assert in_slots(items, 2, work, lambda item: item.exclusive) == ["THEANO-1", "THEANO-2", "TF"]  # in the items' order
    assert started.index("tf") < started.index("theano-2") and overlaps == []


def test_slots_waiting_on_a_resource_start_nothing_after_a_fault():
    from types import SimpleNamespace

    import pytest

    from keras_drift.execute.runner import in_slots

    items = [SimpleNamespace(name=f"theano-{i}", exclusive="folder") for i in range(4)]
    started = []

    def work(item):
        started.append(item.name)
        raise RuntimeError("the first one fails")

    with pytest.raises(RuntimeError):
        in_slots(items, 2, work, lambda item: item.exclusive)
    assert started == ["theano-0"]


def test_an_environment_that_loads_in_a_process_of_its_own_runs_its_repeats_there_first(write_env, tmp_path, monkeypatch):
    import json

    from conftest import make_result

    from keras_drift.execute import runner

    asked = {}

    def run_loads(spec, plan_path, out, log_path, project_root, venvs_dir, settings):  # the probe, by what it was asked
        plan = json.loads(plan_path.read_text())
        asked[spec.name] = plan
        loads = [{"source": source["env"], "direction": source["direction"], "task": "m", "format": "h5", "method": "load_model",
                  "loaded": True, "seconds": 0.1} for source in plan["sources"]]
        trials = {trial["id"]: {"task": trial["task"], "metrics": {"m.w": 0.5}, "applied": [], "error": None, "seconds": 0.25}
                  for trial in plan["trials"]}
        return {"loads": loads, "user_models": [], "trials": trials, "timings": {"import_s": 2.5, "loads_s": 7.5}}, ""

    monkeypatch.setattr(runner, "_run_loads", run_loads)
    text = 'requirements = ["keras==3.15.1"]\npython = "3.99"\nbackend = "jax"\n'
    specs = [load_spec(write_env(name, text)) for name in ("base", "a")]
    saved = {"m": {"formats": {}}}
    base = make_result("base", {}, artifacts=saved)
    # the candidate loaded its own files and the baseline's in its probe: it needs no load process
    candidate = make_result("a", {}, artifacts=saved, loads=[], load_phase={"status": "ok", "in_probe": ["control from a", "upgrade from base"]})
    trials = {env: [{"id": "m#1", "task": "m", "overrides": {}}] for env in ("base", "a")}
    outcomes = runner.run_load_phase(specs, [base, candidate], tmp_path / "run", tmp_path, tmp_path / "venvs", "base", ProbeSettings(),
                                     trials=trials)
    assert list(asked) == ["base"] and asked["base"]["trials"] == trials["base"]
    assert asked["base"]["sources"][1]["direction"] == "rollback"
    assert outcomes == {"base": {"m#1": {"task": "m", "metrics": {"m.w": 0.5}, "applied": [], "error": None, "seconds": 0.25}}}
    assert base["load_phase"]["trials"] == 1 and candidate["load_phase"]["trials"] == 0
    assert [attempt["direction"] for attempt in base["loads"]] == ["control", "rollback"]
    # the process would have started for the repeats anyway: the load phase adds the loading's own time
    assert base["timings"]["load_s"] == 7.5
    runner.run_load_phase(specs, [base, candidate], tmp_path / "run", tmp_path, tmp_path / "venvs", "base", ProbeSettings())
    assert asked["base"]["trials"] == [] and base["load_phase"]["trials"] == 0
    assert base["timings"]["load_s"] < 7.5  # no repeats: the whole process is the loading's (here a stand-in that takes no time)


# -- a probe process that dies natively is followed by one that finishes its tasks ---------------------


def _died(tmp_path, progress, partial=True):
    """The files a probe leaves when it dies: its result so far and its progress file."""
    out = tmp_path / "e.probe.json"
    if partial:
        out.write_text(json.dumps({"schema_version": 1, "env": "e", "status": "ok", "partial": True, "errors": {}, "timings": {},
                                   "metrics": {"quick.x": float("nan")}, "series": {}, "tasks": {"quick": {"family": "seed", "status": "ok"}}},
                                  allow_nan=True).replace("NaN", '"NaN"'))
    if progress is not None:
        (tmp_path / "e.probe.json.running").write_text(json.dumps(progress))
    return out


@pytest.mark.parametrize(
    ("progress", "without", "crashed"),
    [
        # JAX's compile cache was on while a task ran (the crashes of Keras 3.1 to 3.7 on JAX 0.4): leave it off
        ({"task": "seed", "phase": "task", "mechanisms": ["compile-cache", "records", "saving"]}, ("compile-cache",), {}),
        # while taking the per-layer records, saving the model, loading: leave that one off
        ({"task": "seed", "phase": "records", "mechanisms": ["compile-cache", "records"]}, ("records",), {}),
        ({"task": "seed", "phase": "saving", "mechanisms": ["records", "saving"]}, ("saving",), {}),
        # nothing optional was in force: the task itself dies; it is failed with the signal, the rest goes on
        ({"task": "seed", "phase": "task", "mechanisms": ["records"]}, (),
         {"seed": "crashed natively: SIGSEGV (signal 11) while running (no optional mechanism was in force)"}),
    ],
)
def test_a_native_crash_resumes_after_the_finished_tasks_without_the_mechanism_in_force(tmp_path, progress, without, crashed):
    out = _died(tmp_path, progress)
    step = runner.recovery(-signal.SIGSEGV, out, [])
    assert step is not None and step.without == without and step.resume["crashed"] == crashed
    assert step.resume["metrics"] == {"quick.x": "NaN"} and step.resume["tasks"] == {"quick": {"family": "seed", "status": "ok"}}
    assert step.record == {"what": f"probe died of SIGSEGV (signal 11) in task seed ({progress['phase']})", "task": "seed",
                           "phase": progress["phase"], "signal": "SIGSEGV (signal 11)", "without": list(without)}


def test_a_later_crash_keeps_leaving_off_what_earlier_ones_left_off(tmp_path):
    out = _died(tmp_path, {"task": "other", "phase": "saving", "mechanisms": ["records", "saving"]})
    step = runner.recovery(-signal.SIGABRT, out, [{"without": ["compile-cache"]}])
    assert step is not None and step.without == ("compile-cache", "saving") and step.record["signal"] == "SIGABRT (signal 6)"


@pytest.mark.parametrize(("progress", "partial"), [(None, True), ({"task": "seed", "phase": "task", "mechanisms": []}, False),
                                                   ({"task": "", "phase": "import", "mechanisms": []}, True)])
def test_a_crash_with_nothing_to_resume_from_is_not_resumed(tmp_path, progress, partial):
    """No progress file, no result written yet, or a death outside any task (the import): nothing to resume."""
    assert runner.recovery(-signal.SIGSEGV, _died(tmp_path, progress, partial), []) is None
