"""The probe's compatibility helpers (probe.frameworks, probe.spelling, probe.optimizers, probe.training, probe.pace,
probe.configs, ...), tested on the signatures old and new Keras versions really had, and the facade user probes
import (probe.compat)."""

import ast
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import PROJECT_ROOT

from probe import compat, configs, frameworks, optimizers, overrides, pace, spelling, training
from probe.state import STATE


class SGDKeras03:  # keras 0.3.3 / 2.2: keras.optimizers.SGD
    def __init__(self, lr=0.01, momentum=0.0, decay=0.0, nesterov=False, *args, **kwargs):
        pass


class SGDKeras3:  # keras 3: keras.optimizers.SGD
    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None, **kwargs):
        pass


class DenseKeras1:  # keras 1.2: keras.layers.Dense
    def __init__(self, output_dim, init="glorot_uniform", activation=None, input_dim=None, **kwargs):
        pass


def fit_keras1(x, y, batch_size=32, nb_epoch=10, verbose=1, shuffle=True, validation_data=None):
    pass


@pytest.mark.parametrize(
    ("target", "canonical", "spelled"),
    [
        (SGDKeras03, {"learning_rate": 0.1}, {"lr": 0.1}),
        (SGDKeras3, {"learning_rate": 0.1}, {"learning_rate": 0.1}),
        (DenseKeras1, {"units": 1, "activation": "relu"}, {"output_dim": 1, "activation": "relu"}),
        (fit_keras1, {"epochs": 3, "batch_size": 8}, {"nb_epoch": 3, "batch_size": 8}),
    ],
)
def test_spell_translates_canonical_arguments(target, canonical, spelled):
    assert spelling.spell(target, **canonical) == spelled


@pytest.mark.parametrize("path", sorted([*(PROJECT_ROOT / "probe").rglob("*.py"), *(PROJECT_ROOT / "probes").glob("*.py")]), ids=lambda p: p.name)
def test_probe_parses_as_python_36(path: Path):
    ast.parse(path.read_text(), filename=str(path), feature_version=(3, 6))


def test_distribution_scan_reads_dist_info_and_egg_info(tmp_path, monkeypatch):
    (tmp_path / "Keras-0.3.3.dist-info").mkdir()
    (tmp_path / "Keras-0.3.3.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: Keras\nVersion: 0.3.3\n\nName: not-a-header\n")
    (tmp_path / "six-1.16.0.egg-info").mkdir()
    (tmp_path / "six-1.16.0.egg-info" / "PKG-INFO").write_text("Name: six\nVersion: 1.16.0\n")
    monkeypatch.setattr("sys.path", [str(tmp_path), str(tmp_path / "missing")])
    assert frameworks._scan_distributions() == {"keras": "0.3.3", "six": "1.16.0"}


class FakeLayer:
    def __init__(self, config):
        self.config = config

    def get_config(self):
        return self.config


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"init": "glorot_uniform"}, {"kernel": "glorot_uniform"}),  # Keras 0.3 / 1.x: the bias has no initializer setting
        ({"kernel_initializer": {"class_name": "VarianceScaling",  # Keras 2.0-2.2
                                 "config": {"scale": 1.0, "mode": "fan_avg", "distribution": "uniform", "seed": None}},
          "bias_initializer": {"class_name": "Zeros", "config": {}}}, {"kernel": "glorot_uniform", "bias": "zeros"}),
        ({"kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": None}},
          "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}}},  # Keras 3
         {"kernel": "glorot_uniform", "bias": "zeros"}),
    ],
)
def test_initializer_names_are_spelled_one_way(config, expected):
    assert configs.initializer_names(FakeLayer(config)) == expected


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"init": "glorot_uniform"}, {"kernel": "'glorot_uniform'"}),
        ({"kernel_initializer": {"class_name": "VarianceScaling",  # a truncated distribution must show
                                 "config": {"scale": 1.0, "mode": "fan_avg", "distribution": "truncated_normal", "seed": None}}},
         {"kernel": "VarianceScaling(distribution='truncated_normal', mode='fan_avg', scale=1.0, seed=None)"}),
        ({"kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": None}}},
         {"kernel": "GlorotUniform(seed=None)"}),
    ],
)
def test_initializer_configs_keep_what_the_canonical_name_drops(config, expected):
    assert configs.initializer_configs(FakeLayer(config)) == expected


def test_optimizer_config_values_that_are_not_scalars_are_kept_as_text():
    class WithSchedule:
        def get_config(self):
            return {"learning_rate": {"class_name": "ExponentialDecay", "config": {"decay_steps": 10, "decay_rate": 0.5}},
                    "beta_1": 0.9, "betas": [0.9, 0.999]}

    assert configs.optimizer_config(WithSchedule()) == {"beta_1": 0.9}
    assert configs.optimizer_config_rest(WithSchedule()) == {
        "learning_rate": "ExponentialDecay(decay_rate=0.5, decay_steps=10)", "betas": "[0.9, 0.999]"}


def test_the_stated_loss_reduction_is_kept_as_the_library_spells_it():
    class MeanSquaredError:
        reduction = "auto"  # tf.keras 2: what "auto" does is the canonical key's job, not this one's

    keras_2 = SimpleNamespace(losses=SimpleNamespace(MeanSquaredError=MeanSquaredError))
    assert configs.stated_loss_reduction(keras_2, "MeanSquaredError") == "auto"
    assert configs.stated_loss_reduction(SimpleNamespace(), "MeanSquaredError") == "(no loss class)"


class SGDIgnoringLr:  # tf.keras 2.11-2.15: lr= lands in **kwargs and is ignored
    def __init__(self, learning_rate=0.01, **kwargs):
        self.learning_rate = learning_rate


class SGDCallingItsParent(SGDIgnoringLr):  # a library subclass passing lr= on: not the user's call
    def __init__(self, learning_rate=0.5, **kwargs):
        super().__init__(lr=learning_rate, **kwargs)


def test_an_lr_spelling_is_noted_and_respelt_only_when_an_intervention_asks():
    keras = SimpleNamespace(optimizers=SimpleNamespace(SGD=SGDIgnoringLr, Inner=SGDCallingItsParent, schedules=object()))
    optimizers.watch_api_calls(keras)
    optimizers.watch_api_calls(keras)  # twice: still one wrapper
    assert keras.optimizers.SGD is SGDIgnoringLr  # the class itself stays: old Keras calls super(SGD, self)
    assert SGDIgnoringLr.__init__.__wrapped__.__name__ == "__init__" and not hasattr(SGDIgnoringLr.__init__.__wrapped__, "__wrapped__")
    assert spelling.spell(SGDIgnoringLr, learning_rate=0.1) == {"learning_rate": 0.1}  # the real signature still shows
    STATE.api_calls.clear()
    assert keras.optimizers.SGD(learning_rate=0.1).learning_rate == 0.1 and not STATE.api_calls
    assert keras.optimizers.SGD(lr=0.1).learning_rate == 0.01  # as the library does it: ignored
    assert STATE.api_calls == {optimizers.LR_KEYWORD_CALL}
    STATE.api_calls.clear()
    keras.optimizers.Inner()
    optimizers.optimizer(keras, "SGD", learning_rate=0.1)  # the probe's own spelling is not the task's
    assert not STATE.api_calls
    overrides.start({"api." + optimizers.LR_KEYWORD_CALL: "honoured"})
    assert keras.optimizers.SGD(lr=0.1).learning_rate == 0.1  # spelt as this version honours it
    assert overrides.stop() == ["api.SGD(lr=0.1)"]
    overrides.start({"api." + optimizers.LR_KEYWORD_CALL: "error: ValueError"})  # no spelling reproduces an error
    assert keras.optimizers.SGD(lr=0.1).learning_rate == 0.01
    assert overrides.stop() == []


def test_non_finite_training_values_are_kept_spelt_and_named_without_failing_the_task():
    from probe import run
    from probe.task import Task

    def diverging(keras):
        return {"t.loss": float("nan"), "t.w": float("inf"), "t.b": 0.5}, {"t": {"step": [0], "loss": [float("nan")]}}, {}

    result = {"metrics": {}, "series": {}, "facts": {}, "noise": {}, "errors": {}, "repeats": 1, "timings": {"tasks_s": {}}, "tasks": {}}
    run._run_task(Task("t", diverging), None, result)
    assert result["errors"] == {} and result["tasks"]["t"]["status"] == "ok"
    assert result["metrics"] == {"t.loss": "NaN", "t.w": "Infinity", "t.b": 0.5}
    assert result["facts"]["t"]["non_finite"] == ["t.loss", "t.w"]
    assert result["series"]["t"]["loss"] == ["NaN"]


def test_a_repeat_that_records_fewer_metrics_measures_only_the_others_not_a_crash():
    """Keras 3.4's script run: its first run also recorded the per-layer records' own model; a repeat does not."""
    from probe import run
    from probe.task import Task

    calls = []

    def task(keras):
        calls.append(1)
        metrics = {"t.loss": 0.5 + 0.25 * (len(calls) - 1)}
        if len(calls) == 1:
            metrics["t.extra"] = 1.0
        return metrics, {}, {}

    result = {"metrics": {}, "series": {}, "facts": {}, "noise": {}, "errors": {}, "repeats": 2, "timings": {"tasks_s": {}}, "tasks": {}}
    run._run_task(Task("t", task), None, result)
    assert result["errors"] == {} and result["tasks"]["t"]["status"] == "ok"
    assert result["noise"] == {"t.loss": 0.25, "t.extra": 0.0}  # 0.25 = 0.75 - 0.5; t.extra: the first run alone


NON_FINITE_VALUES = (float("nan"), float("inf"), -float("inf"))


@pytest.mark.parametrize("bad", NON_FINITE_VALUES + tuple(np.float64(value) for value in NON_FINITE_VALUES)
                         + tuple(np.float32(value) for value in NON_FINITE_VALUES))
def test_the_writer_spells_a_non_finite_value_in_every_kind_of_place(tmp_path, bad):
    """Whatever a task, a record, a fact or a load outcome leaves unspelt is written the way the result
    schema spells it, and the host reads the file back, instead of the writer raising."""
    import json

    from keras_drift.store.results import load_result
    from probe import run

    spelling = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}[repr(float(bad))]
    out = tmp_path / "result.json"
    result = {
        "schema_version": 1, "env": "e", "status": "ok", "errors": {}, "timings": {"tasks_s": {"t#0": 1.0}},
        "metrics": {"t.loss": bad}, "series": {"t": {"step": [0, 1], "loss": [0.5, bad]}}, "noise": {"t.loss": bad},
        "facts": {"t": {"final_weights": {"w": bad}, "layers": [{"path": "d", "summary": {"mean": bad, "rows": np.array([bad, 1.0])}}]}},
        "loads": [{"source": "e", "direction": "control", "task": "t", "format": "h5", "method": "load_model", "loaded": True,
                   "max_abs_diff": bad}],
        "user_models": [{"name": "u", "loaded": True, "predictions": [[bad]]}],
    }
    run.write_atomically(str(out), result)
    written = json.loads(out.read_text())
    assert written["metrics"]["t.loss"] == spelling and written["noise"]["t.loss"] == spelling
    assert written["series"]["t"]["loss"] == [0.5, spelling]
    assert written["facts"]["t"]["final_weights"]["w"] == spelling
    assert written["facts"]["t"]["layers"][0]["summary"] == {"mean": spelling, "rows": [spelling, 1.0]}
    assert written["loads"][0]["max_abs_diff"] == spelling and written["user_models"][0]["predictions"] == [[spelling]]
    read = load_result(out)  # the host reads metrics, noise and series back as floats
    assert repr(read["metrics"]["t.loss"]) == repr(float(bad)) and repr(read["series"]["t"]["loss"][1]) == repr(float(bad))


class FakeCallbacks:  # keras.callbacks, as far as batch_counter needs it
    class Callback:
        def __init__(self):
            pass


@pytest.mark.parametrize(
    ("logs", "expected"),
    [
        # Keras up to 2.3: each batch's own loss beside its size, kept as it is
        ([{"loss": 3.5, "size": 4}, {"loss": 31.5, "size": 4}, {"loss": 72.5, "size": 2}], [3.5, 31.5, 72.5]),
        # tf.keras 2 and Keras 3: the epoch's running mean weighted by batch size (10 samples, batches of 4, 4, 2:
        # (3.5*4 + 31.5*4) / 8 = 17.5; (14 + 126 + 72.5*2) / 10 = 28.5), as measured on both, undone
        ([{"loss": 3.5}, {"loss": 17.5}, {"loss": 28.5}], [3.5, 31.5, 72.5]),
    ],
)
def test_fit_step_losses_are_each_batch_s_own(logs, expected, monkeypatch):
    monkeypatch.setattr(STATE, "step_losses", [])
    counter = training.batch_counter(SimpleNamespace(callbacks=FakeCallbacks))
    counter.samples, counter.batch_size = 10, 4
    for _epoch in range(2):  # the running mean starts again each epoch
        for batch, entry in enumerate(logs):
            counter.on_batch_end(batch, dict(entry))
    assert STATE.step_losses == pytest.approx(expected * 2)
    assert counter.batches == 6


def test_only_the_first_steps_losses_are_kept(monkeypatch):
    monkeypatch.setattr(STATE, "step_losses", [])
    for step in range(training.FIRST_STEPS + 5):
        training.note_step_loss(step)
    assert STATE.step_losses == list(range(training.FIRST_STEPS))


WATCH = {"metrics": {"t.loss": 1.0, "t.w": 0.5, "t.name": "adam", "t.nan": "NaN"}, "repeats": 3,
         "tolerances": [["t.loss", 0.0, 1e-3], ["*", 1e-6, 0.0]]}


@pytest.mark.parametrize(
    ("metrics", "drifts"),
    [
        ({"t.loss": 1.0009, "t.w": 0.5000009}, False),  # 9e-4 within rtol 1e-3 of 1.0; 9e-7 within atol 1e-6 ("*")
        ({"t.loss": 1.0011}, True),  # 1.1e-3 beyond 1e-3 of 1.0
        ({"t.w": 0.500002}, True),  # 2e-6 beyond atol 1e-6
        ({"t.name": "sgd"}, True),  # not a number: equal or not
        ({"t.nan": float("nan"), "t.new": 9.0}, False),  # NaN as the baseline wrote it; a metric it lacks is not judged
        ({"t.loss": float("nan")}, True),
    ],
)
def test_a_probe_told_the_baseline_judges_drift_as_the_host_does(metrics, drifts):
    from probe import run

    assert run.drifts_from_baseline(metrics, WATCH) is drifts


@pytest.mark.parametrize(("value", "runs"), [(1.0, 1), (2.0, 3)])
def test_a_task_that_drifts_from_the_baseline_is_repeated_at_once(value, runs):
    from probe import run
    from probe.task import Task

    calls = []

    def task(keras):
        calls.append(1)
        return {"t.loss": value}, {}, {}

    result = {"metrics": {}, "series": {}, "facts": {}, "noise": {}, "errors": {}, "repeats": 1, "timings": {"tasks_s": {}}, "tasks": {}}
    run._run_task(Task("t", task), None, result, watch=WATCH)
    assert len(calls) == result["tasks"]["t"]["runs"] == runs  # 2.0 against 1.0 drifts: 3 runs, as the watch asks
    assert result["noise"] == ({} if runs == 1 else {"t.loss": 0.0})


def test_user_probe_modules_give_their_tasks_and_the_custom_objects_loads_need(tmp_path):
    from probe.run import user_probes

    (tmp_path / "mine.py").write_text("class Scale:\n    pass\nTASKS = []\nCUSTOM_OBJECTS = {'Scale': Scale}\n")
    (tmp_path / "broken.py").write_text("raise ImportError('no such thing')\n")
    result = {"errors": {}}
    found, custom_objects = user_probes(str(tmp_path), result)
    assert found == [] and list(custom_objects) == ["Scale"] and custom_objects["Scale"].__name__ == "Scale"
    assert result["errors"] == {"probes/broken.py": "ImportError: no such thing"}


@pytest.mark.parametrize("finished", [{}, {"metrics": {"t.w": 0.5}, "errors": {}, "timings": {"tasks_s": {"t#0": 1.0}}}])
def test_a_result_written_after_each_load_attempt_holds_its_latest_attempts(tmp_path, finished):
    import json

    from probe import run

    out = str(tmp_path / "result.json")
    result = dict(finished, loads=[], user_models=[])
    write = run.growing_writer(out, result, ("loads", "user_models"))
    write()
    assert json.loads((tmp_path / "result.json").read_text()) == dict(finished, loads=[], user_models=[])
    result["loads"].append({"format": "h5", "loaded": True, "max_abs_diff": 0.0})
    result["user_models"].append({"name": "mine", "loaded": False})
    write()
    assert json.loads((tmp_path / "result.json").read_text()) == dict(
        finished, loads=[{"format": "h5", "loaded": True, "max_abs_diff": 0.0}], user_models=[{"name": "mine", "loaded": False}])
    assert not (tmp_path / "result.json.tmp").exists()


def test_a_saved_task_without_a_usable_manifest_promises_nothing_to_load(tmp_path):
    from probe import saving

    for name, text in (("cut", None), ("garbled", "{not json"), ("no-formats", '{"task": "x"}'), ("odd", '["formats"]')):
        (tmp_path / name).mkdir()
        if text is not None:
            (tmp_path / name / saving.MANIFEST).write_text(text)
    recorded = []
    saving.load_source(None, {"env": "e", "direction": "control", "folder": str(tmp_path)}, {}, {}, False, recorded.append)
    assert recorded == []


def test_a_load_that_never_returns_fails_as_a_hang_and_the_next_attempt_runs(tmp_path, monkeypatch):
    """Keras 3.0 and 3.4 loop for ever loading the .h5 of a nested model tf.keras 2.10 wrote: the
    attempt is stopped at its limit and recorded as failed; the other formats are still loaded."""
    import json

    from probe import saving

    (tmp_path / "task").mkdir()
    manifest = {"formats": {"h5": {"saved": True, "file": "m.h5", "methods": ["load_model"]},
                            "keras": {"saved": True, "file": "m.keras", "methods": ["load_model"]}}}
    (tmp_path / "task" / saving.MANIFEST).write_text(json.dumps(manifest))

    def attempt(keras, where, manifest, saved, method, *rest):
        while saved["file"] == "m.h5":  # a library looping in Python, as Keras 3.0 does
            pass
        return {"loaded": True, "error": None}

    monkeypatch.setattr(saving, "_attempt", attempt)
    monkeypatch.setattr(saving, "ATTEMPT_TIMEOUT_S", 0.2)
    recorded = []
    saving.load_source(None, {"env": "e", "direction": "upgrade", "folder": str(tmp_path)}, {}, {}, False, recorded.append)
    hung, loaded = recorded
    assert (hung["format"], hung["loaded"]) == ("h5", False) and hung["error"].startswith("did not return within 0.2 s: loading the file")
    assert 0.2 <= hung["seconds"] < 5
    assert (loaded["format"], loaded["loaded"], loaded["error"]) == ("keras", True, None)


def test_a_missing_user_file_is_a_failed_outcome_with_one_line(tmp_path):
    from probe import saving

    class Keras:  # what load_user_model touches before the file fails to open
        __version__ = "3.15.1"

    outcome = saving.load_user_model(Keras, {"name": "churn", "path": str(tmp_path / "gone.h5"), "input": str(tmp_path / "x.npy"),
                                             "reference": "base"}, {}, False)
    assert outcome["loaded"] is False and outcome["error"].startswith("FileNotFoundError") and "\n" not in outcome["error"]


def test_saved_predictions_spell_non_finite_values_as_the_result_file_does():
    from keras_drift.store.results import NON_FINITE
    from probe import saving

    spelt = saving._finite([[float("nan")], [float("inf")], [-float("inf")], [0.5]])
    assert spelt == [["NaN"], ["Infinity"], ["-Infinity"], [0.5]]
    assert all(value in NON_FINITE for (value,) in spelt[:3])


def test_a_reset_clears_the_session_without_keras_3_s_full_garbage_collection():
    calls = []

    def keras_3_clear_session(free_memory=True):
        calls.append(("keras 3", free_memory))

    def tf_keras_clear_session():
        calls.append(("tf.keras", None))

    for clear in (keras_3_clear_session, tf_keras_clear_session):
        frameworks.reset(SimpleNamespace(backend=SimpleNamespace(clear_session=clear)), seed=3)
    frameworks.reset(SimpleNamespace(backend=SimpleNamespace()), seed=3)  # Keras 0.3: no session to clear
    assert calls == [("keras 3", False), ("tf.keras", None)]


def test_a_task_calling_a_class_another_door_reaches_differently_runs_through_that_door_too():
    from probe import run
    from probe.task import Task

    class Door:  # the other door's module: its tasks' metrics are named by the door
        name = "legacy"

    def fit(keras):
        return {"fit.w": 1.0 if keras is Door else 0.0}, {"fit": {"step": [0], "loss": [0.5]}}, {}

    every = [Task("fit", fit, defaults=("optimizer.Adam.",)), Task("optimizer.explicit.Nadam", fit, calls=("optimizers.Nadam",)),
             Task("dense", fit, defaults=("dense.",)), Task("optimizer.explicit.SGD", fit, calls=("optimizers.SGD",))]
    differences = {"keras": {"module": "keras", "differs": ["optimizers.Adam", "optimizers.Nadam"], "missing": ["optimizers.AdamW"]}}
    found = run.door_tasks(every, [("tf.keras", object()), ("keras", Door)], differences)
    assert [task.name for task in found] == ["fit@keras", "optimizer.explicit.Nadam@keras"]
    metrics, series, _ = found[0].run("the documented door")
    assert metrics == {"fit@keras.w": 1.0} and series == {"fit@keras": {"step": [0], "loss": [0.5]}}
    assert run.door_tasks(every, [("keras", Door)], {}) == []  # one door: nothing to run twice


class _Clock:
    """A clock that moves only when a fake training step says so."""

    def __init__(self):
        self.now = 1000.0

    def time(self):
        return self.now


def test_a_task_far_too_slow_per_step_is_cut_short_with_its_pace_and_the_library_s_warning(monkeypatch):
    """1001 planned steps at 0.6 s each (a retrace per call) against a 120 s limit: after the untimed first
    step and 20 timed ones, 0.6 s x 1001 = 600.6 s projected, so the task stops there, skipped, not failed."""
    import logging

    from probe import run, tasks
    from probe.task import Task

    clock = _Clock()
    monkeypatch.setattr(pace.time, "time", clock.time)
    monkeypatch.setattr(run.time, "time", clock.time)

    class Retracing:
        def train_on_batch(self, x, y):
            clock.now += 0.6
            logging.getLogger("tensorflow").warning("5 out of the last 5 calls to <function> triggered tf.function retracing.")
            return 0.25

    def fit(keras):
        for step in range(1001):
            tasks.PROGRESS.update(step=step, of=1001)
            training.train_on_batch(Retracing(), None, None)
        return {"fit.w": 1.0}, {}, {}

    pace.listen_for_warnings()
    result = {"metrics": {}, "series": {}, "facts": {}, "noise": {}, "errors": {}, "not_applicable": {}, "repeats": 1,
              "timings": {"tasks_s": {}}, "tasks": {}}
    run._run_task(Task("fit", fit), None, result, timeout_s=900)
    cut = result["tasks"]["fit"]["cut_short"]
    assert result["tasks"]["fit"]["status"] == "skipped" and result["errors"] == {} and result["metrics"] == {}
    assert cut["steps"] == 21 and cut["of"] == 1001 and cut["seconds_per_step"] == pytest.approx(0.6)
    assert cut["projected_s"] == pytest.approx(600.6)
    assert cut["warning"] == "5 out of the last 5 calls to <function> triggered tf.function retracing."
    assert result["not_applicable"]["fit"] == (
        "cut short after 21 of 1001 steps: 0.6 s per step, projected 601 s (limit 120 s); the library warned: "
        "5 out of the last 5 calls to <function> triggered tf.function retracing.")


def test_a_slow_first_step_is_not_held_against_the_pace(monkeypatch):
    """Theano compiles for 100 s at the first step, then steps take 20 ms: 1001 steps are 20 s, within pace."""
    clock = _Clock()
    monkeypatch.setattr(pace.time, "time", clock.time)
    watch = pace.Pace()
    watch.start(60.0, {"of": 1001})
    clock.now += 100.0
    watch.step()
    for _ in range(1000):
        clock.now += 0.02
        watch.step()
    assert watch.steps == 1001


def test_steps_outside_a_task_are_not_paced(monkeypatch):
    """A load attempt's training step after the tasks (and after a trial) is no task's: never cut short."""
    from probe import run

    clock = _Clock()
    monkeypatch.setattr(pace.time, "time", clock.time)
    with run._budget(900):
        pace.PACE.step()
    for _ in range(100):  # 100 load attempts of 10 s each: far past any task's pace, and none is cut short
        clock.now += 10.0
        pace.PACE.step()


def test_the_version_of_a_door_that_does_not_say_it_is_its_package_s():
    import sys
    import types

    package, door = types.ModuleType("fakekeras"), types.ModuleType("fakekeras.api._v2.fakekeras")
    package.__version__ = "2.15.0"
    sys.modules["fakekeras"] = package
    try:
        assert frameworks.keras_version(door) == "2.15.0" and frameworks.keras_major(door) == 2
    finally:
        del sys.modules["fakekeras"]


def test_steps_run_as_one_fit_call_count_in_the_pace(monkeypatch):
    """tf.keras 2's linear fit: 20 single steps of 3 ms, then 49 steps as one fit() call of 0.1 s set-up and
    3 ms a step, and so on: about 5 ms per step, 5 s projected for 1001 steps, within pace. (Counting only
    the single calls, as the first version did, reads 0.25 s per step and cuts a healthy fit short.)"""
    clock = _Clock()
    monkeypatch.setattr(pace.time, "time", clock.time)

    class Model:
        def train_on_batch(self, x, y):
            clock.now += 0.003
            return 0.5

        def fit(self, x, y, **kwargs):
            clock.now += 0.1 + 0.003 * len(x)

    keras = SimpleNamespace(__version__="2.15.0")
    pace.PACE.start(120.0, {"of": 1001})
    model = Model()
    for _ in range(20):
        training.train_on_batch(model, np.zeros((1, 1)), np.zeros((1, 1)))
    for _ in range(19):
        training.train_steps(keras, model, np.zeros((1, 1)), np.zeros((1, 1)), 49)
        training.train_on_batch(model, np.zeros((1, 1)), np.zeros((1, 1)))
    assert pace.PACE.steps == 20 + 19 * 50
    pace.PACE.stop()


def _names_used_through_the_facade(text):
    return set(re.findall(r"\bcompat\.([A-Za-z_]\w*)", text))


def test_the_facade_gives_user_probes_every_name_the_template_the_docs_and_the_test_probes_use():
    """User probe modules import ``probe.compat``: whatever the template, the docs and the probes the tests run
    call through it must still be there, and be the helper the probe itself uses (one NotApplicable class)."""
    sources = [*(PROJECT_ROOT / "probes").glob("*.py"), *(PROJECT_ROOT / "docs").rglob("*.md"),
               PROJECT_ROOT / "tests" / "middle_layer_probe.py", PROJECT_ROOT / "tests" / "e2e" / "test_e2e.py"]
    used = set()
    for path in sources:
        used |= _names_used_through_the_facade(path.read_text().replace("tf.compat.", "").replace("compat.v1", "").replace("compat.py", ""))
    assert {"NotApplicable", "keras_major", "optimizer", "fit", "canonical_history", "evaluate"} <= used
    assert sorted(name for name in used if not hasattr(compat, name)) == []
    assert compat.NotApplicable is frameworks.NotApplicable and compat.SlowTask is pace.SlowTask
    assert compat.fit is training.fit and compat.optimizer is optimizers.optimizer


def test_the_probe_s_own_modules_import_the_helpers_directly_not_the_facade():
    for path in sorted((PROJECT_ROOT / "probe").rglob("*.py")):
        if path.name == "compat.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module in ("probe", "probe.compat"):
                assert node.module == "probe" and "compat" not in [alias.name for alias in node.names], path
            elif isinstance(node, ast.Import):
                assert "probe.compat" not in [alias.name for alias in node.names], path


def test_a_task_run_starts_from_empty_notes_and_keeps_the_process_counts():
    from probe.state import ProcessState

    state = ProcessState()
    state.steps, state.compile_seconds = 7, 1.5
    state.api_calls.add(optimizers.LR_KEYWORD_CALL)
    state.step_losses.append(0.5)
    state.trained_model = object()
    state.start_task_run()
    assert (state.api_calls, state.step_losses, state.trained_model) == (set(), [], None)
    assert (state.steps, state.compile_seconds) == (7, 1.5)
