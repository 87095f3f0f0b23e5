"""Your script, unchanged (probe/script.py): run as `python train.py ARGS` would run it, its Keras calls
recorded by model and call, its own numbers through `keras_drift.record`; stand-in Keras classes here
(the real ones: tests/e2e/test_e2e_script.py)."""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from keras_drift import record
from keras_drift.cli import build_parser, common, options
from keras_drift.errors import InputError
from keras_drift.execute.runner import ProbeSettings
from probe import script
from probe.state import STATE


class History:
    def __init__(self, history, params):
        self.history, self.params = history, params


class Model:
    """A stand-in for keras.Model: weights w, b; fit halves the loss each epoch and calls evaluate itself."""

    def __init__(self, name="sequential"):
        self.name, self.w, self.b, self.metrics_names = name, 0.5, 0.0, ["loss", "accuracy"]

    def get_weights(self):
        return [np.array([[self.w]], "float32"), np.array([self.b], "float32")]

    def set_weights(self, weights):
        self.w, self.b = float(np.ravel(weights[0])[0]), float(np.ravel(weights[1])[0])

    def fit(self, x, y, epochs=1, batch_size=None, callbacks=(), **kwargs):
        losses = [1.0 / 2 ** epoch for epoch in range(epochs)]
        for epoch in range(epochs):  # one batch an epoch: the batch's loss is the epoch's
            for callback in callbacks:
                callback.on_batch_end(0, {"loss": losses[epoch]})
        self.evaluate(x, y)  # as tf.keras 2 does for validation: not the script's call
        self.w += 1.0
        return History({"loss": losses}, {"epochs": epochs, "steps": 4, "verbose": 1})

    def evaluate(self, x, y, **kwargs):
        return [0.25, 0.75]

    def predict(self, x, **kwargs):
        return np.asarray(x) * 2.0

    def train_on_batch(self, x, y):
        self.b += 0.1
        return 1.0 - self.b

    def save(self, filepath):
        Path(filepath).write_text(f"w={self.w}")


class Callback:
    """A stand-in for keras.callbacks.Callback (the module of Model above is this one)."""


callbacks = types.SimpleNamespace(Callback=Callback)


SCRIPT = '''
import sys
import keras
import keras_drift

model = keras.Model()
named = keras.Model(name="regressor")
model.fit([1, 2], [3, 4], epochs=3, batch_size=2, class_weight={0: 1.0}, validation_data=None)
for _ in range(3):
    named.train_on_batch([1], [2])
model.evaluate([1], [2])
named.predict([1.0, 3.0])
keras_drift.record("val_auc", 0.875)
import os
open("seen.txt", "w").write(" ".join(sys.argv[1:]) + " in " + os.environ["KERAS_DRIFT_ENV"])
'''


@pytest.fixture
def stand_in_keras(monkeypatch):
    keras = types.ModuleType("keras")
    keras.Model = Model
    monkeypatch.setitem(sys.modules, "keras", keras)
    monkeypatch.setattr(STATE, "doors", [("keras", keras)])
    return keras


def test_a_script_runs_as_main_with_its_arguments_and_its_calls_are_recorded(tmp_path, stand_in_keras, monkeypatch):
    path = tmp_path / "train.py"
    path.write_text(SCRIPT)
    here = os.getcwd()
    monkeypatch.setattr(script.SETTINGS, "env", "keras-3.15-jax")
    monkeypatch.setattr(STATE, "step_losses", [])
    metrics, series, facts = script.script_task(str(path), ["--epochs", "3"]).run(stand_in_keras)
    # the first steps' losses, fit()'s (read by a callback of its own) then the train_on_batch loop's
    assert STATE.step_losses == pytest.approx([1.0, 0.5, 0.25, 0.9, 0.8, 0.7])
    # its own folder, its argv, and the environment's name (files it writes can carry it)
    assert os.getcwd() == here and (tmp_path / "seen.txt").read_text() == "--epochs 3 in keras-3.15-jax"
    assert "KERAS_DRIFT_ENV" not in os.environ
    # model1 (Keras' default name), regressor (the script's); fit's own evaluate is not the script's call
    assert metrics["script.model1.fit#1.loss"] == 0.25 and metrics["script.model1.fit#1.epochs"] == 3
    assert series["script.model1.fit#1.loss"] == {"epoch": [1, 2, 3], "value": [1.0, 0.5, 0.25]}
    assert metrics["script.model1.fit#1.params.steps"] == 4 and "script.model1.fit#1.params.verbose" not in metrics
    assert metrics["script.model1.evaluate#1.loss"] == 0.25 and metrics["script.model1.evaluate#1.accuracy"] == 0.75
    assert "script.model1.evaluate#2.loss" not in metrics
    assert series["script.regressor.train_on_batch.loss"]["value"] == pytest.approx([0.9, 0.8, 0.7])
    assert metrics["script.regressor.train_on_batch.calls"] == 3
    assert metrics["script.regressor.predict#1.mean"] == pytest.approx(4.0) and metrics["script.regressor.predict#1.shape"] == "2"
    assert metrics["script.record.val_auc"] == 0.875
    # weights at the first training call and at the end; a one-value array is its value
    assert metrics["script.model1.weights.initial[0]"] == 0.5 and metrics["script.model1.weights.final[0]"] == 1.5
    assert metrics["script.regressor.weights.final[1]"] == pytest.approx(0.3)
    recorded = facts
    assert recorded["trained"] is True and recorded["models"] == ["model1", "regressor"] and recorded["recorded"] == ["val_auc"]
    assert recorded["calls"][0] == {"model": "model1", "method": "fit", "number": 1, "epochs": 3, "batch_size": 2,
                                    "class_weight": True, "validation_data": False}
    assert recorded["weights"]["model1"]["initial"]["head"] == [0.5]
    assert Model.fit.__name__ == "fit" and "fit" in Model.__dict__ and not hasattr(Model.fit, "__wrapped__")  # put back


def test_a_script_that_never_trains_says_so_and_one_that_raises_fails(tmp_path, stand_in_keras):
    quiet = tmp_path / "quiet.py"
    quiet.write_text("import keras\nkeras.Model().predict([1.0])\n")
    _, _, facts = script.script_task(str(quiet)).run(stand_in_keras)
    assert facts["trained"] is False
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('no data here')\n")
    with pytest.raises(RuntimeError, match="no data here"):
        script.script_task(str(broken)).run(stand_in_keras)
    assert not sys.modules["keras_drift"].__file__.startswith(script.SHIM)  # the real one is back


def test_the_first_model_the_script_saves_is_offered_to_the_saving_phase_with_its_first_batch(tmp_path, stand_in_keras, monkeypatch):
    monkeypatch.setattr(STATE, "trained_model", None)
    path = tmp_path / "train.py"
    path.write_text("import numpy as np\nimport keras\nm = keras.Model()\nm.predict(np.zeros(2))\nm.save('before.keras')\n"
                    "m.fit(np.arange(40.0), np.arange(40.0) * 2, epochs=1)\nm.save('m.keras')\nkeras.Model().save('other.keras')\n")
    task = script.script_task(str(path))
    _, _, facts = task.run(stand_in_keras)
    assert facts["saved"] == [{"model": "model1", "file": "before.keras"}, {"model": "model1", "file": "m.keras"},
                              {"model": "model2", "file": "other.keras"}]
    assert (tmp_path / "m.keras").read_text() == "w=1.5"  # the script's own save still happens
    # offered once it has a training batch: fit's first 32 rows, x and y
    assert isinstance(STATE.trained_model, Model) and STATE.trained_model.name == "sequential"
    x, y = task.saving.sample()
    assert x.tolist() == list(np.arange(32.0)) and y.tolist() == list(np.arange(32.0) * 2)
    assert task.saving.build is None


def test_a_subclassed_model_and_a_dataset_still_get_the_step_losses_callback(tmp_path, stand_in_keras, monkeypatch):
    """A model class the script defines lives in __main__; an infinite dataset has no length: neither may
    break the script's fit() (both did, with the callback that reads its losses)."""
    monkeypatch.setattr(STATE, "step_losses", [])
    path = tmp_path / "train.py"
    path.write_text("import keras\n"
                    "class Net(keras.Model):\n    pass\n"
                    "class Infinite:\n    def __len__(self):\n        raise TypeError('The dataset is infinite.')\n"
                    "Net().fit(Infinite(), None, epochs=2)\n")
    metrics, _, _ = script.script_task(str(path)).run(stand_in_keras)
    assert metrics["script.model1.fit#1.epochs"] == 2
    assert STATE.step_losses == [1.0, 0.5]  # one batch an epoch, its loss as the stand-in logs it


def test_an_experiment_can_replay_every_trained_models_initial_weights(tmp_path, stand_in_keras):
    from probe import overrides

    path = tmp_path / "train.py"
    path.write_text("import keras\nm = keras.Model()\nm.train_on_batch([1], [2])\nd = keras.Model(name='critic')\n"
                    "d.train_on_batch([1], [2])\nd.train_on_batch([1], [2])\n")
    _, _, facts = script.script_task(str(path)).run(stand_in_keras)
    # recorded whole, by model, at each one's first training call; one fingerprint of both, model1's first
    assert facts["initial_arrays"] == {"model1": [[[0.5]], [0.0]], "critic": [[[0.5]], [0.0]]}
    assert facts["initial_weights"]["head"] == [0.5]
    overrides.start({"initial_weights": {"model1": [[[2.0]], [0.25]], "critic": [[[-1.0]], [0.5]]}})  # the baseline's
    try:
        metrics, _, replayed = script.script_task(str(path)).run(stand_in_keras)
    finally:
        assert overrides.stop() == ["initial_weights"]
    assert metrics["script.model1.weights.initial[0]"] == 2.0 and metrics["script.critic.weights.initial[0]"] == -1.0
    assert replayed["initial_arrays"] == {"model1": [[[2.0]], [0.25]], "critic": [[[-1.0]], [0.5]]}
    # training goes on from there: b + 0.1 per call (one call, two calls)
    assert metrics["script.model1.weights.final[1]"] == pytest.approx(0.35)
    assert metrics["script.critic.weights.final[1]"] == pytest.approx(0.7)
    assert replayed["initial_weights"]["sha256"] != facts["initial_weights"]["sha256"]


def test_keras_drift_record_does_nothing_outside_keras_drift():
    assert record("val_auc", 0.9) is None


def test_the_command_line_passes_the_script_and_its_arguments(tmp_path):
    path = tmp_path / "train.py"
    path.write_text("print('hi')\n")
    args = options.rooted(build_parser().parse_args(["drift", "--root", str(tmp_path), "--script", str(path),
                                                      "--script-args", "--epochs 3 --name 'a b'"]))
    settings = common.settings(args)
    assert settings.script == path.resolve() and settings.script_args == ("--epochs", "3", "--name", "a b")
    assert settings.tasks == ("script", "sweep.*")  # the script alone (and a sweep asked for), unless --tasks says otherwise
    arguments = settings.arguments()
    assert arguments[arguments.index("--script") + 1] == str(path.resolve())
    assert arguments[arguments.index("--script-args") + 1] == '["--epochs", "3", "--name", "a b"]'
    # its text is part of the result's key: an edited script is probed again
    before = settings.record()["script"]["sha256"]
    path.write_text("print('changed')\n")
    assert ProbeSettings(script=path).record()["script"]["sha256"] != before
    with pytest.raises(InputError, match=r"--script: .*missing\.py: no such file"):
        common.settings(options.rooted(build_parser().parse_args(["drift", "--root", str(tmp_path), "--script", "missing.py"])))


def test_the_projects_pyproject_names_the_script_and_the_command_line_wins(tmp_path):
    (tmp_path / "train.py").write_text("print('hi')\n")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "mine"\n\n[tool.keras-drift]\nscript = "train.py"\n'
                                             'script-args = "--epochs 3"\n')

    def settings(*extra: str) -> ProbeSettings:
        return common.settings(options.rooted(build_parser().parse_args(["drift", "--root", str(tmp_path), *extra])))

    found = settings()
    assert found.script == (tmp_path / "train.py").resolve() and found.script_args == ("--epochs", "3")
    assert found.tasks == ("script", "sweep.*")
    other = tmp_path / "other.py"
    other.write_text("print('other')\n")
    assert settings("--script", str(other), "--script-args", "").script_args == () and settings("--script", str(other)).script == other.resolve()
    # bad values: one line naming the file and the key
    for table, message in (('script = "gone.py"', r"tool\.keras-drift\.script: gone\.py: no such file"),
                           ("script = 3", r"tool\.keras-drift\.script: must be a string"),
                           ('scripts = "train.py"', r"tool\.keras-drift\.scripts: unknown key"),
                           ('script-args = "\'open"', r"pyproject\.toml: tool\.keras-drift\.script-args: No closing quotation")):
        (tmp_path / "pyproject.toml").write_text(f"[tool.keras-drift]\n{table}\n")
        with pytest.raises(InputError, match=message):
            settings()
    (tmp_path / "pyproject.toml").write_text('[tool.ruff]\nline-length = 100\n')
    assert settings().script is None and settings().tasks == ()


def test_the_examples_are_the_seed_cases_written_plainly():
    root = Path(__file__).resolve().parents[2] / "examples"
    assert "train_on_batch" in (root / "linear_fit.py").read_text() and 'optimizer="adam"' in (root / "adam_classifier.py").read_text()


def _scripted(env, *, steps, head, version):
    from conftest import make_result

    metrics = {"script.model1.fit#1.loss": 0.3 if steps == 13 else 0.5, "script.model1.fit#1.params.steps": steps}
    facts = {"script": {"constructed": ["layers.Dense"], "weights": {"model1": {"initial": {"sha256": f"h{head}", "head": [head]}}}}}
    result = make_result(env, metrics, facts=facts, fingerprint={"distributions": {"keras": version}})
    result["tasks"] = {"script": {"family": "script", "kind": "script"}}
    return result


def test_a_script_drift_is_its_fit_settings_first_then_its_initial_weights():
    from keras_drift.judge import attribute
    from keras_drift.store.verdicts import Cause

    metric = "script.model1.fit#1.loss"
    base = _scripted("old", steps=13, head=-0.72, version="0.3.3")
    new = _scripted("new", steps=4, head=0.53, version="1.2.0")
    cause, evidence, _ = attribute.explain(metric, new, base=base, drifting={("new", metric)})
    assert cause == Cause.DEFAULTS and "script.model1.fit#1.params.steps: 13 -> 4" in evidence
    same_steps = _scripted("new", steps=13, head=0.53, version="1.2.0")
    same_steps["metrics"][metric] = 0.5
    cause, evidence, _ = attribute.explain(metric, same_steps, base=base, drifting={("new", metric)})
    assert cause == Cause.RANDOM_STREAM and "model1: first values [-0.72] and [0.53]" in evidence


def test_a_model_built_by_its_first_training_call_is_noted_and_suspected_of_the_random_stream(tmp_path, stand_in_keras):
    """A subclassed model has no weights before fit() builds it: its initial weights are drawn inside that
    call, unrecorded, so the two sides' fingerprints would agree on nothing; the cause says so."""
    from keras_drift.judge import attribute
    from keras_drift.store.verdicts import Cause

    path = tmp_path / "train.py"
    path.write_text("import keras\nclass Net(keras.Model):\n    def get_weights(self):\n        return [] if not self.w else super().get_weights()\n"
                    "net = Net(name='net')\nnet.w = 0.0\nnet.fit([1.0], [2.0])\nnet.fit([1.0], [2.0])\n")
    metrics, _, facts = script.script_task(str(path)).run(stand_in_keras)
    assert facts["unbuilt"] == ["net"] and "initial_weights" not in facts and "initial_arrays" not in facts
    # its second fit() finds it built: those are trained weights, not recorded as its initial ones
    assert "script.net.weights.initial[0]" not in metrics and metrics["script.net.weights.final[0]"] == 2.0
    metric = "script.net.fit#1.loss"
    base, new = _scripted("old", steps=13, head=0.5, version="3.15.1"), _scripted("new", steps=13, head=0.5, version="3.15.1")
    base["metrics"][metric], new["metrics"][metric] = 0.3, 0.5
    new["facts"]["script"]["unbuilt"] = ["net"]
    cause, evidence, _ = attribute.explain(metric, new, base=base, drifting={("new", metric)})
    assert cause == Cause.RANDOM_STREAM and "net drew its initial weights inside its first training call" in evidence


def test_unrecorded_the_script_runs_as_it_is_and_nothing_is_patched(tmp_path, stand_in_keras, monkeypatch):
    path = tmp_path / "train.py"
    path.write_text("import keras\nkeras.Model().train_on_batch([1], [2])\n")
    monkeypatch.setattr(script.SETTINGS, "recorded", False)  # bench times the script's own run this way
    metrics, series, facts = script.script_task(str(path)).run(stand_in_keras)
    assert metrics == {} and series == {} and facts["trained"] is False
    assert ProbeSettings(script=path, script_recorded=False).arguments()[-1] == "--script-unrecorded"


def test_a_scripts_import_keras_is_watched_where_the_documented_door_is_another(monkeypatch, stand_in_keras):
    """With TF_USE_LEGACY_KERAS the probe's door is tf_keras, yet a script's `import keras` is Keras 3."""
    legacy = types.ModuleType("tf_keras")
    legacy.Model = type("LegacyModel", (Model,), {})
    monkeypatch.setattr(STATE, "doors", [("tf.keras", legacy)])
    assert script.model_classes(legacy) == [legacy.Model, Model]


def test_sys_exit_zero_is_success_and_another_status_fails_the_task(tmp_path, stand_in_keras):
    done = tmp_path / "done.py"
    done.write_text("import sys, keras\nkeras.Model().train_on_batch([1], [2])\nsys.exit(0)\n")
    metrics, _, _ = script.script_task(str(done)).run(stand_in_keras)
    assert metrics["script.model1.train_on_batch.calls"] == 1
    refused = tmp_path / "refused.py"
    refused.write_text("import argparse\nargparse.ArgumentParser().parse_args()\n")
    with pytest.raises(script.ScriptExited, match="the script exited with status 2"):
        script.script_task(str(refused), ["--unknown"]).run(stand_in_keras)


def test_a_scripts_train_on_batch_loss_passes_through_what_train_on_batch_returns():
    """Keras 3.4 returns a running mean of the loss over train_on_batch calls, tf.keras 2.15 that batch's
    loss: the loop's last value drifts for that reason, whatever the weights do."""
    from conftest import make_result

    from keras_drift.judge import attribute
    from keras_drift.store.verdicts import Cause

    metric = "script.model1.train_on_batch.loss"
    sides = {}
    for env, returned, value in (("old", "that batch's loss", 0.0031), ("new", "running mean over calls", 0.0671)):
        sides[env] = make_result(env, {metric: value}, introspection={"api": {"train_on_batch second call returns": returned}})
        sides[env]["tasks"] = {"script": {"family": "script", "kind": "script"}}
    cause, evidence, _ = attribute.explain(metric, sides["new"], base=sides["old"], drifting={("new", metric)})
    assert cause == Cause.API and "that batch's loss -> running mean over calls" in evidence
