"""End to end: saved models across tf.keras 2.15 and Keras 3 on TensorFlow (the run of ``tf_pair_run``).

Each model task saved its trained model in every format its version writes; each environment loaded its
own files, the baseline's (upgrade) and, in the baseline, the candidate's (rollback). What the issue
measured by hand must come out of the tool: a nested model's ``.h5`` does not load in Keras 3, the
Sequential one loads with its predictions but without its optimizer state, weights-only files load with
equal predictions, a SavedModel is refused by ``load_model`` and served by ``TFSMLayer``, and Keras 3's
files do not load in tf.keras 2.15. The user's own files load by the config; hostile ones fail in a cell.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import TF_PAIR

from probe.tasks import classifier_sample

pytestmark = [pytest.mark.e2e, pytest.mark.network]
BASELINE, CANDIDATE = TF_PAIR


def verdicts(work):
    return json.loads((work / "reports" / "latest" / "verdicts.json").read_text())


def attempt(document, direction, task, format_name, method):
    found = [row for row in document["artifacts"]["attempts"]
             if (row["direction"], row["task"], row["format"], row["method"]) == (direction, task, format_name, method)
             and row["loaded_with"] == (BASELINE if direction == "rollback" else CANDIDATE if direction == "upgrade" else row["loaded_with"])]
    assert found, (direction, task, format_name, method)
    return found[0]


def test_an_upgrade_that_fails_to_load_is_a_proven_api_drift_naming_what_loads(tf_pair_run):
    work, completed = tf_pair_run
    assert completed.returncode == 1, completed.stderr
    document = verdicts(work)
    failed = attempt(document, "upgrade", "nested.sequential", "h5", "load_model")
    assert failed["outcome"] == "fails" and "disconnected" in failed["detail"], failed
    row = document["environments"][CANDIDATE]["metrics"]["saved.nested.sequential.h5.load_model"]
    assert (row["verdict"], row["cause"], row["proof"]) == ("drift", "api", "proven")
    assert "works: " in row["evidence"] and "weights (build the architecture in code and load_weights)" in row["evidence"]


def test_the_sequential_h5_loads_with_its_predictions_but_loses_its_optimizer_state(tf_pair_run):
    work, _ = tf_pair_run
    document = verdicts(work)
    loaded = attempt(document, "upgrade", "classifier.shared_init", "h5", "load_model")
    assert loaded["outcome"] == "loads" and loaded["max_abs_diff"] <= 1e-6, loaded
    assert loaded["optimizer"] != "intact" and loaded["trains"] is False, loaded
    changes = {(change["env"], change["key"]) for change in document["behaviour_changes"] if change["kind"] == "saved"}
    assert (CANDIDATE, "saved.classifier.shared_init.h5.load_model.optimizer") in changes
    assert (CANDIDATE, "saved.classifier.shared_init.h5.load_model.trains") in changes


def test_weights_load_with_the_predictions_numpy_computes_from_the_saved_weights(tf_pair_run):
    work, _ = tf_pair_run
    document = verdicts(work)
    baseline = json.loads((work / "reports" / "latest" / "results" / f"{BASELINE}.json").read_text())
    w1, b1, w2, b2 = (np.asarray(array, "float64") for array in baseline["facts"]["classifier.shared_init"]["final_arrays"])
    x, y = classifier_sample()
    expected = 1.0 / (1.0 + np.exp(-(np.maximum(x.astype("float64") @ w1 + b1, 0.0) @ w2 + b2)))
    saved = np.asarray(baseline["artifacts"]["classifier.shared_init"]["predictions"])
    np.testing.assert_allclose(saved, expected, atol=1e-6)
    # the loss saved beside them is the binary cross-entropy of those predictions on the batch, taken whole
    clipped = np.clip(expected, 1e-7, 1 - 1e-7)
    cross_entropy = -np.mean(y * np.log(clipped) + (1 - y) * np.log(1 - clipped))
    assert baseline["artifacts"]["classifier.shared_init"]["evaluate_loss"] == pytest.approx(cross_entropy, rel=1e-5)
    for format_name in ("weights", "weights_legacy"):
        loaded = attempt(document, "upgrade", "classifier.shared_init", format_name, "rebuild+load_weights")
        assert loaded["outcome"] == "loads" and loaded["max_abs_diff"] <= 1e-6, loaded
        assert document["environments"][CANDIDATE]["metrics"][f"saved.classifier.shared_init.{format_name}.rebuild+load_weights"][
            "verdict"] in ("identical", "within_tolerance")


def test_a_savedmodel_is_refused_by_load_model_and_served_by_tfsmlayer(tf_pair_run):
    work, _ = tf_pair_run
    document = verdicts(work)
    refused = attempt(document, "upgrade", "classifier.shared_init", "savedmodel", "load_model")
    assert refused["outcome"] == "fails" and "File format not supported" in refused["detail"], refused
    served = attempt(document, "upgrade", "classifier.shared_init", "savedmodel", "TFSMLayer")
    assert served["outcome"] == "loads" and served["max_abs_diff"] <= 1e-6, served


def test_keras_3_files_do_not_load_after_a_rollback_and_say_so(tf_pair_run):
    work, _ = tf_pair_run
    document = verdicts(work)
    for format_name in ("keras", "h5"):
        rolled_back = attempt(document, "rollback", "classifier.shared_init", format_name, "load_model")
        assert rolled_back["outcome"] == "fails" and "\n" not in rolled_back["detail"], rolled_back
    keys = {change["key"] for change in document["behaviour_changes"] if change["env"] == CANDIDATE}
    assert "saved.classifier.shared_init.keras.load_model.rollback" in keys
    assert attempt(document, "rollback", "classifier.shared_init", "weights", "rebuild+load_weights")["outcome"] == "loads"


def test_the_users_file_loads_everywhere_and_hostile_entries_fail_in_a_cell(tf_pair_run):
    work, _ = tf_pair_run
    users = {(row["name"], row["env"]): row for row in verdicts(work)["artifacts"]["user_models"]}
    assert users[("classifier", BASELINE)]["outcome"] == "reference"
    assert users[("classifier", CANDIDATE)]["outcome"] == "loads" and users[("classifier", CANDIDATE)]["max_abs_diff"] <= 1e-6
    for name in ("truncated", "bad-config", "outside"):
        for env in TF_PAIR:
            row = users[(name, env)]
            assert row["outcome"] == "fails" and row["detail"] and "\n" not in row["detail"], row
    assert "is outside" in users[("outside", CANDIDATE)]["detail"]
    for env in TF_PAIR:  # the file outside the project was never handed to a probe
        result = json.loads((work / "reports" / "latest" / "results" / f"{env}.json").read_text())
        plan = json.loads((work / "reports" / "latest" / "logs" / f"{env}.load-plan.json").read_text())
        assert [model["name"] for model in plan["user_models"]] == ["classifier", "truncated", "bad-config"]
        assert {found["name"] for found in result["user_models"]} == {"classifier", "truncated", "bad-config", "outside"}


def test_the_report_shows_the_users_files_first_then_a_matrix_per_model(tf_pair_run):
    work, _ = tf_pair_run
    html = (work / "reports" / "latest" / "report.html").read_text()
    section = html.split('<h2 id="saved">Saved models</h2>')[1].split("<h2")[0]
    assert section.index("Your model files") < section.index("<h3>classifier.shared_init</h3>")
    assert f"upgrade<br><small>{BASELINE} → {CANDIDATE}</small>" in section
    first_upgrade, first_rollback = section.index(">upgrade<"), section.index(">rollback<")
    assert first_upgrade < first_rollback
    assert "Unrecognized keyword arguments" in section or "disconnected" in section
