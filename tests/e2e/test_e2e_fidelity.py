"""Fidelity on real environments: the probe calls what users call (TensorFlow 2.12's two doors to Keras)."""

from __future__ import annotations

import json
import subprocess

import pytest
from conftest import PROJECT_ROOT

from keras_drift.envs.specs import load_spec
from keras_drift.execute.runner import ProbeSettings, run_environment

pytestmark = [pytest.mark.e2e, pytest.mark.network]


def _qualified(python: str, expression: str) -> str:
    """``module.Class`` of a class, asked of the environment's own interpreter (not through the probe)."""
    code = f"import tensorflow as tf, keras\ncls = {expression}\nprint(cls.__module__ + '.' + cls.__name__)"
    completed = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    return completed.stdout.strip().splitlines()[-1]


def test_on_tensorflow_2_12_the_probe_calls_tf_keras_classes_and_probes_the_other_door_too(tmp_path):
    spec = load_spec(PROJECT_ROOT / "envs" / "tf-2.12.toml")
    settings = ProbeSettings(tasks=("optimizer.*.Nadam*",), repeats=1)
    result = run_environment(spec, tmp_path / "run", PROJECT_ROOT, tmp_path / "venvs", settings)
    assert result["status"] == "ok", result.get("reason")
    python = str(tmp_path / "venvs" / "tf-2.12" / "bin" / "python")
    documented, other = _qualified(python, "tf.keras.optimizers.Nadam"), _qualified(python, "keras.optimizers.Nadam")
    assert documented != other  # the two doors really reach two classes on 2.12
    # the tasks went through tf.keras, TensorFlow's documented door, and named it
    assert result["fingerprint"]["front_door"] == "tf.keras"
    assert result["facts"]["optimizer.defaults.Nadam"]["optimizer_class"] == documented
    # the other door's differing classes are named, and the tasks that call them ran through it too
    doors = result["fingerprint"]["front_doors"]
    assert "optimizers.Nadam" in doors["keras"]["differs"] and "optimizers.Dense" not in doors["keras"]["differs"]
    assert result["facts"]["optimizer.defaults.Nadam@keras"]["optimizer_class"] == other
    assert result["tasks"]["optimizer.defaults.Nadam@keras"]["status"] == "ok"
    # and the two doors' Nadam give other weights from the same start: what a tf.keras user gets is measured
    assert result["metrics"]["optimizer.defaults.Nadam.w0"] != result["metrics"]["optimizer.defaults.Nadam@keras.w0"]
    json.dumps(result)  # plain JSON throughout
