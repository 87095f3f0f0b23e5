"""End to end: a user's model with a changed layer in the middle, tf.keras 2.15 against Keras 3 on
TensorFlow. Keras 3 redefined ``hard_sigmoid`` (0.2x + 0.5 became relu6(x + 3) / 6), so in Dense ->
hard_sigmoid -> Dense -> Dense the activation is the layer that introduces the difference: the Dense before it
agrees, the layers after it only carry it. Training parts at its first step: the loss there is the
model's at its initial weights, computed here with NumPy from those weights, each side with its own
hard_sigmoid. A second model of wrappers and a nested model shows how their records are named."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import TF_PAIR as ENVS
from middle_layer_probe import data

pytestmark = [pytest.mark.e2e, pytest.mark.network]


@pytest.fixture
def middle_run(tf_pair_run):
    return tf_pair_run


def test_the_middle_layer_is_named_as_introducing(middle_run):
    work, completed = middle_run
    assert completed.returncode == 1, completed.stderr  # the drift it localises
    verdicts = json.loads((work / "reports" / "latest" / "verdicts.json").read_text())
    localised = verdicts["environments"][ENVS[1]]["localisation"]
    assert localised, verdicts["environments"][ENVS[1]]["metrics"]
    hard_sigmoid_tasks = {task: found for task, found in localised.items() if task.startswith("middle.hard_sigmoid.")}
    assert "middle.hard_sigmoid.defaults" in hard_sigmoid_tasks  # (its twin's losses may stay within tolerance)
    for found in hard_sigmoid_tasks.values():
        assert (found["layer"], found["class"], found["records_of"]) == ("activation#1", "Activation", "middle.hard_sigmoid.shared_init")
        assert found["input_rel_diff"] == 0 and found["rel_diff"] > 1e-3, found  # the Dense before it agrees bit for bit
        assert found["first_divergent_step"] == 1 and found["also"] == []
    result = json.loads((work / "reports" / "latest" / "results" / f"{ENVS[1]}.json").read_text())
    layers = result["facts"]["middle.hard_sigmoid.shared_init"]["layers"]
    assert [(layer["path"], layer["inputs"]) for layer in layers] == [
        ("dense#1", ["input"]), ("activation#1", ["dense#1"]), ("dense#2", ["activation#1"]), ("dense#3", ["dense#2"])]
    assert [g["weight"] for g in result["facts"]["middle.hard_sigmoid.shared_init"]["gradients"]][:2] == ["dense#1/kernel", "dense#1/bias"]


def hard_sigmoid_tf_keras_2(x):
    return np.clip(0.2 * x + 0.5, 0.0, 1.0)


def hard_sigmoid_keras_3(x):
    return np.clip(x + 3.0, 0.0, 6.0) / 6.0


@pytest.mark.parametrize(("env", "hard_sigmoid"), [(ENVS[0], hard_sigmoid_tf_keras_2), (ENVS[1], hard_sigmoid_keras_3)])
def test_the_first_step_loss_is_the_loss_at_the_initial_weights(middle_run, env, hard_sigmoid):
    # fit() reports a running mean in both versions; its first step is the first batch's own loss: the
    # binary cross-entropy of Dense(relu) -> hard_sigmoid -> Dense(tanh) -> Dense(sigmoid) on rows 0-15
    work, _ = middle_run
    result = json.loads((work / "reports" / "latest" / "results" / f"{env}.json").read_text())
    x, y = data()
    x, y = x[:16].astype("float64"), y[:16].astype("float64")
    for task in ("middle.hard_sigmoid.defaults", "middle.hard_sigmoid.shared_init"):
        w1, b1, w2, b2, w3, b3 = (np.asarray(array, "float64") for array in result["facts"][task]["initial_arrays"])
        p = 1.0 / (1.0 + np.exp(-(np.tanh(hard_sigmoid(np.maximum(x @ w1 + b1, 0.0)) @ w2 + b2) @ w3 + b3)))
        expected = float(np.mean(-(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))))
        steps = result["facts"][task]["step_losses"]
        assert len(steps) == 4  # 2 epochs of 32 rows in batches of 16
        assert steps[0] == pytest.approx(expected, rel=1e-5)


def test_wrappers_and_nested_models_are_walked_and_named_by_path(middle_run):
    work, _ = middle_run
    for env in ENVS:
        result = json.loads((work / "reports" / "latest" / "results" / f"{env}.json").read_text())
        facts = result["facts"]["middle.wrapped.shared_init"]
        assert [(layer["path"], layer["inputs"]) for layer in facts["layers"]] == [
            ("time_distributed#1/layer", ["input"]), ("time_distributed#1", ["time_distributed#1/layer"]),
            ("bidirectional#1/forward", ["time_distributed#1"]), ("bidirectional#1/backward", ["time_distributed#1"]),
            ("bidirectional#1", ["bidirectional#1/forward", "bidirectional#1/backward"]),
            ("head/dense#1", ["bidirectional#1"]), ("head/dense#2", ["head/dense#1"]), ("head", ["head/dense#2"])], env
        weights = [g["weight"] for g in facts["gradients"]]
        assert weights[:4] == ["time_distributed#1/layer/kernel", "time_distributed#1/layer/bias",
                               "bidirectional#1/forward/kernel", "bidirectional#1/forward/recurrent_kernel"], env
        assert len(set(weights)) == len(weights) == 12


def test_the_report_draws_the_layer_strip_with_the_middle_layer_marked(middle_run):
    work, _ = middle_run
    html = (work / "reports" / "latest" / "report.html").read_text()
    section = html.split("<h2>Where models part</h2>")[1].split("<h2")[0]
    assert 'class="marked" title="activation#1 (Activation): relative difference' in section
    assert "layer activation#1 (Activation) introduces it" in section
    assert "the training losses part at step 1 of the first 4" in section
    assert "part at step 1</text>" in section  # the mark on the first steps' trajectory
