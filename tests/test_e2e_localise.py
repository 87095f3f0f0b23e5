"""End to end: a user's model with a changed layer in the middle, tf.keras 2.15 against Keras 3 on
TensorFlow. Keras 3 redefined ``hard_sigmoid`` (0.2x + 0.5 became relu6(x + 3) / 6), so in Dense ->
hard_sigmoid -> Dense -> Dense the activation is the layer that introduces the difference: the Dense before it
agrees, the layers after it only carry it."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import PROJECT_ROOT
from test_e2e import drift_in

pytestmark = [pytest.mark.e2e, pytest.mark.network]
ENVS = ("tf-2.15", "keras-3.15-tf-2.21")


@pytest.fixture(scope="module")
def middle_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("localise")
    (work / "probes").mkdir()
    shutil.copy(PROJECT_ROOT / "tests" / "middle_layer_probe.py", work / "probes" / "middle.py")
    completed = drift_in(work, ENVS, "--baseline", ENVS[0], "--tasks", "middle.*", "--probes", str(work / "probes"),
                         "--accepted", str(work / "none.toml"))
    return work, completed


def test_the_middle_layer_is_named_as_introducing(middle_run):
    work, completed = middle_run
    assert completed.returncode == 1, completed.stderr  # the drift it localises
    verdicts = json.loads((work / "reports" / "latest" / "verdicts.json").read_text())
    localised = verdicts["environments"][ENVS[1]]["localisation"]
    assert localised, verdicts["environments"][ENVS[1]]["metrics"]
    for task, found in localised.items():
        assert task.startswith("middle.hard_sigmoid.")
        assert (found["layer"], found["class"], found["records_of"]) == ("2_activation", "Activation", "middle.hard_sigmoid.shared_init")
        assert found["input_rel_diff"] == 0 and found["rel_diff"] > 1e-3, found  # the Dense before it agrees bit for bit
    result = json.loads((work / "reports" / "latest" / "results" / f"{ENVS[1]}.json").read_text())
    layers = result["facts"]["middle.hard_sigmoid.shared_init"]["layers"]
    assert [(layer["path"], layer["inputs"]) for layer in layers] == [
        ("1_dense", ["input"]), ("2_activation", ["1_dense"]), ("3_dense", ["2_activation"]), ("4_dense", ["3_dense"])]
    assert [g["weight"] for g in result["facts"]["middle.hard_sigmoid.shared_init"]["gradients"]][:2] == ["1_dense/kernel", "1_dense/bias"]


def test_the_report_draws_the_layer_strip_with_the_middle_layer_marked(middle_run):
    work, _ = middle_run
    html = (work / "reports" / "latest" / "report.html").read_text()
    section = html.split("<h2>Where models part</h2>")[1].split("<h2>")[0]
    assert 'class="marked" title="2_activation (Activation): relative difference' in section
    assert "layer 2_activation (Activation) introduces it" in section
