"""The API sweep on real environments finds real, documented changes that no canary was written for, one of
each kind issue 39 names, names each by its call, explains it, and carries a snippet that runs as is on both
sides. The pairs and the changes (Keras' own history):

- Keras 3.5.0 (JAX 0.4.31) against 3.15.1 (JAX 0.10.2):
  - a layer that draws random numbers: ``RandomCrop`` at inference returns the image uncropped
    (keras-team/keras#21868);
  - an initializer on a kernel of three axes: ``EinsumDense``'s default ``GlorotUniform`` takes its fans
    from the equation (keras-team/keras#22789: ``VarianceScaling`` gained ``input_axes``/``output_axes``);
  - a metric with sample weights: the IoU metrics' confusion matrix became integer, fractional weights are
    truncated (keras-team/keras#20584);
  - a layer's ``adapt``: ``Discretization``'s bin boundaries (keras-team/keras#22892);
  - a callback: ``EarlyStopping`` reused for a second ``fit()`` forgot its best value only in 3.15
    (keras-team/keras#22967).
- Keras 3.4.1 (JAX 0.4.30) against 3.5.0: an optimizer option, ``gradient_accumulation_steps``, counts
  iterations per applied update since 3.5 (keras-team/keras#19998), which changes Adam's bias correction.

Expected values are computed here by hand or with NumPy, never copied from a run.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import PROJECT_ROOT
from test_e2e import keras_drift

pytestmark = [pytest.mark.e2e, pytest.mark.network]

OLD, NEW, OLDER = "v-keras-3.5-jax", "keras-3.15-jax", "v-keras-3.4-jax"
CROP = "sweep.layers.RandomCrop(height=4,seed=1,width=4)"
EINSUM_3D = "sweep.layers.EinsumDense(equation='ab,bcd->acd',output_shape=(2,16))"
IOU = "sweep.metrics.MeanIoU(num_classes=3).ids.sample_weight"
DISCRETIZE = "sweep.layers.Discretization(num_bins=4).adapted.output.mean"
STOPPING = "sweep.callbacks.EarlyStopping().fit#2.stopped_at"
ADAM = "sweep.optimizers.Adam(gradient_accumulation_steps=2).w"


def _drift(work: Path, names: tuple[str, ...], tasks: str, baseline: str) -> dict:
    """`keras-drift drift --sweep full` over copies of the shipped env files ``names``: verdicts.json."""
    envs = work / f"envs-{'-'.join(names)}"
    envs.mkdir()
    for name in names:
        for path in (PROJECT_ROOT / "envs").glob(f"{name}.*"):
            shutil.copy(path, envs)
    (work / "none.toml").write_text("")
    completed = keras_drift(
        "drift", "--envs", ",".join(names), "--envs-dir", str(envs), "--reports", str(work / "reports"), "--venvs", str(work / "venvs"),
        "--baseline", baseline, "--tasks", tasks, "--sweep", "full", "--accepted", str(work / "none.toml"), "--no-saved-models",
        "--no-explain", "-j", "2", cwd=work)
    print(completed.stdout, completed.stderr, sep="\n")
    assert completed.returncode == 1, completed.stderr  # drift found, nothing broken
    return json.loads((work / "reports" / "latest" / "verdicts.json").read_text())


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> tuple[Path, dict, dict]:
    work = tmp_path_factory.mktemp("sweep")
    pair = _drift(work, (OLD, NEW), "sweep.layers,sweep.metrics,sweep.callbacks", OLD)
    options = _drift(work, (OLDER, OLD), "sweep.optimizers", OLD)
    return work, pair["environments"][NEW]["metrics"], options["environments"][OLDER]["metrics"]


def _drifts(rows: dict, metric: str) -> dict:
    row = rows[metric]
    assert row["verdict"] == "drift", (metric, row)
    snippet = row["reproduction"]
    assert len(snippet.splitlines()) <= 15 and "import keras" in snippet
    return row


def _runs_in(work: Path, env: str, snippet: str) -> str:
    """The snippet run as is with the environment's own interpreter: its output."""
    python = work / "venvs" / env / "bin" / "python"
    completed = subprocess.run([str(python), "-c", snippet], capture_output=True, text=True, cwd=work, timeout=300,
                               env={**os.environ, "KERAS_BACKEND": "jax"})
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout


def test_a_random_layer_that_stopped_cropping_at_inference(swept):
    work, rows, _ = swept
    row = _drifts(rows, f"{CROP}.inference.shape")
    assert (row["baseline"], row["value"]) == ("2x4x4x3", "2x8x8x3")  # 4x4 crops of the 8x8 images, then the images whole
    assert row["cause"] != "random_stream"  # a shape is never the random stream
    assert "keras.layers.RandomCrop(height=4,seed=1,width=4)" in row["reproduction"]
    # the snippet runs as is on both sides, and shows it: the inference output's shape
    old, new = (_runs_in(work, env, row["reproduction"] + 'print(to_np(layer(inputs[0], training=False)).shape)') for env in (OLD, NEW))
    assert old.splitlines()[-1] == "(2, 4, 4, 3)" and new.splitlines()[-1] == "(2, 8, 8, 3)"


def test_an_initializer_on_a_kernel_of_three_axes_named_with_its_default_initializer(swept):
    _, rows, _ = swept
    row = _drifts(rows, f"{EINSUM_3D}.weights.std")
    # GlorotUniform's standard deviation is sqrt(2 / (fan_in + fan_out)) on the (6, 2, 16) kernel: fans 2*6 and
    # 16*6 by the convolution rule before, 6 and 2*16 from the equation after; 192 values, so within 15%.
    before, after = math.sqrt(2 / (12 + 96)), math.sqrt(2 / (6 + 32))
    assert abs(row["baseline"] - before) < 0.15 * before and abs(row["value"] - after) < 0.15 * after
    assert row["cause"] == "defaults" and "initializers.GlorotUniform: + input_axes, output_axes" in row["evidence"]
    two_axes = rows.get("sweep.layers.EinsumDense(equation='ab,bc->ac',output_shape=3).weights.checksum", {})
    if two_axes.get("verdict") == "drift":  # another draw of JAX's stream, at the same scale
        assert two_axes["cause"] == "random_stream"


def test_a_metric_with_fractional_sample_weights(swept):
    _, rows, _ = swept
    row = _drifts(rows, IOU)
    # y_true [2, 1, 0, 0], y_pred [2, 0, 0, 1], sample_weight [1, 0.5, 2, 0]: per class IoU = tp / (row + col - tp)
    # 3.5: class 0 2 / (2 + 2.5 - 2), class 1 0 / 0.5, class 2 1 / 1: mean 0.6; 3.15 truncates the weights to
    # [1, 0, 2, 0]: class 0 2 / 2, class 1 has no entry and is left out, class 2 1: mean 1.0
    assert row["baseline"] == pytest.approx(np.mean([2 / 2.5, 0.0, 1.0]), abs=1e-6)
    assert row["value"] == pytest.approx(1.0, abs=1e-6)


def test_a_layers_adapt(swept):
    _, rows, _ = swept
    row = _drifts(rows, DISCRETIZE)
    assert row["baseline"] != row["value"] and "layer.adapt(data)" in row["reproduction"]


def test_a_callback_reused_for_a_second_fit(swept):
    work, rows, _ = swept
    row = _drifts(rows, STOPPING)
    # val_loss 1.0, 0.8, 0.9, ... and patience 0: each fit() stops after epoch 2 (0.9 is no improvement on 0.8)
    # when the callback starts afresh (3.15); 3.5 keeps best = 0.8 from the first fit(), so epoch 1's 0.8 is no
    # improvement either and the second fit() stops after epoch 1.
    assert (row["baseline"], row["value"]) == (1, 2)
    old, new = (_runs_in(work, env, row["reproduction"]) for env in (OLD, NEW))
    assert "stopped after epoch 1" in old.split("\n2 0 ")[-1] and "stopped after epoch 2" in new.split("\n2 0 ")[-1]


def test_an_optimizer_option(swept):
    _, _, rows = swept
    row = _drifts(rows, f"{ADAM}.mean")
    # Keras 3.5 (the baseline): five calls accumulating over two apply two Adam updates with the averaged gradient
    # (the same point twice), counted as iterations 1 and 2 for the bias correction (defaults: lr 1e-3, eps 1e-7).
    w = np.array([[0.5, -0.3], [0.2, 0.8], [-0.6, 0.1]])
    scales, centre = np.array([[1.0, 2.0], [0.5, 4.0], [3.0, 0.25]]), np.array([[0.1, 0.2], [-0.3, 0.4], [0.0, -0.5]])
    m = v = np.zeros_like(w)
    for t in (1, 2):
        g = scales * (w - centre)
        m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
        w = w - 1e-3 * math.sqrt(1 - 0.999**t) / (1 - 0.9**t) * m / (np.sqrt(v) + 1e-7)
    assert row["baseline"] == pytest.approx(w.mean(), rel=1e-5)
    assert abs(row["value"] - w.mean()) > 1e-4  # 3.4.1 counted every call
