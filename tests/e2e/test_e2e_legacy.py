"""End to end on the Theano era: the comparison that started keras-drift, Keras 0.3.3 against 1.2.0.

Real installs (Theano 1.0.5 on Python 3.11, with the collections start-up hook for Keras 1.2) and the
real probe. The finding to reproduce: the Adam maths did not change, fit()'s defaults did.
"""

from __future__ import annotations

import json
import re
import shutil

import pytest
from conftest import PROJECT_ROOT
from test_e2e import drift_in

pytestmark = [pytest.mark.e2e, pytest.mark.network]
ENVS = ("keras-0.3.3-theano", "keras-1.2.0-theano")


@pytest.fixture(scope="module")
def legacy_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("legacy")
    shutil.copytree(PROJECT_ROOT / "probe" / "hooks", work / "probe" / "hooks")  # the env files name a hook
    # one job: the Theano lanes take turns on their compile folder anyway, and the baseline then finishes
    # before the other starts (which is told its metrics)
    completed = drift_in(work, ENVS, "--baseline", ENVS[0], "-j", "1")
    verdicts = json.loads((work / "reports" / "latest" / "verdicts.json").read_text())
    return work, completed, verdicts


def test_both_generations_run_every_task(legacy_run):
    work, completed, verdicts = legacy_run
    assert completed.returncode == 1, completed.stderr  # drift, no failure
    for name in ENVS:
        result = json.loads((work / "reports" / "latest" / "results" / f"{name}.json").read_text())
        assert result["status"] == "ok" and result["errors"] == {}, result.get("errors")
        assert result["fingerprint"]["backend"] == "theano"
        assert result["metrics"]["linear.reference.w"] == pytest.approx(0.6, abs=1e-4)
        # before Keras 3 the unrecorded steps of a linear fit run as one fit() call: still exactly 1001 steps
        # of plain gradient descent, where the float32 NumPy oracle lands (a step more or less moves
        # linear.shared_init.w by about 1e-4)
        for metric in ("linear.reference.w", "linear.reference.b", "linear.shared_init.w", "linear.shared_init.b"):
            assert result["metrics"][metric] == pytest.approx(result["oracle"]["float32"][metric], abs=1e-6), (name, metric)
    assert verdicts["environments"][ENVS[1]]["status"] == "ok"


def test_fit_defaults_not_adam_explain_the_classifier(legacy_run):
    _, _, verdicts = legacy_run
    newer = verdicts["environments"][ENVS[1]]["metrics"]
    epochs = newer["classifier.defaults.epochs"]
    assert (epochs["baseline"], epochs["value"], epochs["verdict"]) == (100, 10, "drift")
    # proven by experiment: re-running the task in Keras 1.2.0 with 0.3.3's fit() defaults lands on 0.3.3's numbers,
    # and neither default alone does; nor does replaying 0.3.3's batch order (its 100 epochs' permutations): both
    # generations shuffle with NumPy's np.random.shuffle, seeded alike, so with the same epochs they draw the same
    assert (epochs["cause"], epochs["proof"]) == ("defaults", "proven")
    assert epochs["evidence"] == (
        f"re-running classifier.defaults in {ENVS[1]} with fit.batch_size=128, fit.epochs=100 brings classifier.defaults.* "
        "within tolerance; fit.batch_size=128 alone does not; fit.epochs=100 alone does not; "
        "the baseline's batch order (fit()'s shuffling, every epoch) alone does not; "
        "the reverse, the baseline with fit.batch_size=32, fit.epochs=10, reproduces the drift")
    for metric in ("classifier.defaults.loss", "classifier.defaults.val_loss", "classifier.defaults.batches_per_epoch"):
        assert newer[metric]["evidence"] == epochs["evidence"], metric
    assert "optimizer.Adam" not in epochs["evidence"]  # the Adam maths and defaults are unchanged
    # with explicit epochs and batch size the two generations agree
    for metric in ("classifier.shared_init.loss", "classifier.shared_init.val_accuracy"):
        assert newer[metric]["verdict"] in ("identical", "within_tolerance"), (metric, newer[metric])


def test_both_generations_record_the_same_layers_and_place_the_drift_in_training(legacy_run):
    # Keras 0.3 keeps no tensor graph: its Sequential's layers are chained by their test-phase outputs, and
    # Keras 1's weight names W and b are recorded as kernel and bias, so the two generations' records match
    work, _, verdicts = legacy_run
    recorded = []
    for name in ENVS:
        facts = json.loads((work / "reports" / "latest" / "results" / f"{name}.json").read_text())["facts"]["classifier.shared_init"]
        recorded.append(([layer["path"] for layer in facts["layers"]], [gradient["weight"] for gradient in facts["gradients"]]))
    assert recorded[0] == recorded[1] == (["dense#1", "dense#2"], ["dense#1/kernel", "dense#1/bias", "dense#2/kernel", "dense#2/bias"])
    found = verdicts["environments"][ENVS[1]]["localisation"]["classifier.defaults"]
    assert (found["layer"], found["records_of"]) == (None, "classifier.shared_init")
    assert found["first_divergent_step"] == 1  # the first batch is 128 rows in 0.3.3, 32 in 1.2.0


def test_each_side_repeats_its_drifting_tasks_in_a_process_it_runs_anyway(legacy_run):
    # told the baseline's metrics, Keras 1.2.0's probe ran its drifting classifier twice at once; the
    # baseline's run of it was repeated afterwards, first thing in the process that loads the candidate's files
    work, completed, _ = legacy_run
    candidate, baseline = (json.loads((work / "reports" / "latest" / "results" / f"{name}.json").read_text()) for name in ENVS[::-1])
    assert candidate["tasks"]["classifier.defaults"]["runs"] == 2 and candidate["repeats"] == 1
    assert "classifier.defaults.loss" in candidate["noise"] and "classifier.defaults.loss" in baseline["noise"]
    assert baseline["tasks"]["classifier.defaults"]["runs"] == 2 and baseline["load_phase"]["trials"] >= 1
    assert "repeating drifting tasks" not in completed.stderr  # neither needed a process of its own for them
    assert re.search(rf"^{ENVS[0]} +loaded .* repeat run\(s\) before them$", completed.stderr, re.MULTILINE)


def test_report_shows_the_defaults_diff(legacy_run):
    work, _, _ = legacy_run
    html = (work / "reports" / "latest" / "report.html").read_text()
    section = html.split("Resolved defaults that differ")[1].split("<h2")[0]
    assert "fit.epochs" in section and "fit.batch_size" in section and "100" in section
    assert "optimizer.Adam.epsilon" not in section  # 1e-08 in both


def test_each_generation_saves_what_its_keras_could_and_weights_cross_the_upgrade(legacy_run):
    work, _, verdicts = legacy_run
    formats = {}
    for env in ENVS:
        result = json.loads((work / "reports" / "latest" / "results" / f"{env}.json").read_text())
        formats[env] = {name for name, saved in result["artifacts"]["classifier.shared_init"]["formats"].items() if saved["saved"]}
    assert formats == {ENVS[0]: {"json", "weights_legacy"}, ENVS[1]: {"h5", "json", "weights_legacy"}}  # no whole model in 0.3
    attempts = {(row["direction"], row["format"]): row for row in verdicts["artifacts"]["attempts"]
                if row["task"] == "classifier.shared_init" and row["direction"] != "control"}
    # Theano on both sides, the same weights: the 0.3.3 weights give Keras 1.2.0 the same predictions, bit for bit
    upgraded = attempts[("upgrade", "weights_legacy")]
    assert (upgraded["outcome"], upgraded["max_abs_diff"]) == ("loads", 0.0), upgraded
    own = [row for row in verdicts["artifacts"]["attempts"] if row["direction"] == "control" and row["loaded_with"] == ENVS[0]]
    assert {row["format"]: row["outcome"] for row in own if row["task"] == "classifier.shared_init"} == {
        "json": "loads", "weights_legacy": "loads"}
    # 0.3's JSON is not 1.2's: Keras 1.2 cannot read it, a drift whose evidence names what does load
    row = verdicts["environments"][ENVS[1]]["metrics"]["saved.classifier.shared_init.json.model_from_json+load_weights"]
    assert row["verdict"] == "drift" and "works: weights_legacy" in row["evidence"]
