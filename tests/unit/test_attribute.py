"""Each attribution rule on constructed results: the cause and the evidence it quotes."""

from __future__ import annotations

import copy

from conftest import make_result

from keras_drift.judge.attribute import attribute, differing
from keras_drift.judge.compare import Tolerance, compare

TOL = [Tolerance("*", 1e-6, 1e-5)]
METRICS = {
    "linear.defaults.w": 0.4187, "linear.defaults.b": 0.8915, "linear.defaults.loss": 0.0031,
    "linear.defaults.initial_w": -0.8348,
    "linear.shared_init.w": 0.5464, "linear.shared_init.b": 0.8270, "linear.shared_init.loss": 0.00027,
    "classifier.defaults.loss": 0.7433, "classifier.defaults.val_loss": 0.6834, "classifier.defaults.val_accuracy": 0.555,
    "classifier.shared_init.loss": 0.5240, "classifier.shared_init.val_loss": 0.5358,
    "classifier.shared_init.val_accuracy": 0.785, "classifier.shared_init.evaluate_loss": 0.5130,
}


def base_result(env: str = "base") -> dict:
    result = make_result(env, METRICS)
    result["introspection"] = {
        "defaults": {"optimizer.SGD.learning_rate": 0.01, "optimizer.Adam.epsilon": 1e-7, "fit.epochs": 1,
                     "dense.kernel_initializer": "GlorotUniform", "loss.mse.reduction": "sum_over_batch_size"},
        "api": {"train_on_batch second call returns": "that batch's loss", "SGD(lr=0.1)": "honoured"},
    }
    result["facts"] = {
        task: {"initial_weights": {"sha256": "aaaa", "head": [-0.8348]}}
        for task in ("linear.defaults", "linear.shared_init", "classifier.defaults", "classifier.shared_init")
    }
    # as the probe declares its seed tasks (probe/tasks.py)
    result["tasks"] = {
        "linear.reference": {"family": "linear", "status": "ok", "defaults": ["optimizer.SGD.", "loss.mse."],
                             "explicit": ["optimizer.SGD.learning_rate"]},
        "linear.defaults": {"family": "linear", "status": "ok", "defaults": ["optimizer.SGD.", "dense.", "loss.mse."]},
        "linear.shared_init": {"family": "linear", "status": "ok", "defaults": ["optimizer.SGD.", "loss.mse."]},
        "classifier.defaults": {"family": "classifier", "status": "ok", "defaults": ["optimizer.Adam.", "dense.", "fit.", "loss.bce."]},
        "classifier.shared_init": {"family": "classifier", "status": "ok", "defaults": ["optimizer.Adam.", "loss.bce."]},
    }
    result["fingerprint"] = {"backend": "tensorflow", "env_vars": {"KERAS_BACKEND": "tensorflow"},
                             "distributions": {"keras": "3.15.1", "tensorflow-cpu": "2.21.0", "numpy": "2.1.0"}}
    return result


def causes_of(base: dict, other: dict) -> dict[str, tuple[str, str]]:
    table = attribute(compare([base, other], "base", TOL), [base, other], "base")
    drift = table[table["verdict"] == "drift"]
    return {row.metric: (row.cause, row.evidence) for row in drift.itertuples()}


def test_changed_default_is_named_old_to_new():
    other = base_result("other")
    other["introspection"]["defaults"]["optimizer.Adam.epsilon"] = 1e-8
    other["introspection"]["defaults"]["fit.epochs"] = 10
    other["metrics"]["classifier.defaults.loss"] = 0.70
    cause, evidence = causes_of(base_result(), other)["classifier.defaults.loss"]
    assert cause == "defaults"
    assert "fit.epochs: 1 -> 10" in evidence and "optimizer.Adam.epsilon: 1e-07 -> 1e-08" in evidence


def test_defaults_a_task_sets_explicitly_are_not_blamed():
    other = base_result("other")
    other["introspection"]["defaults"]["optimizer.SGD.learning_rate"] = 0.1
    other["metrics"]["linear.reference.w"] = 0.5
    base = base_result()
    base["metrics"]["linear.reference.w"] = 0.6
    assert causes_of(base, other)["linear.reference.w"][0] != "defaults"


def test_random_stream_when_only_library_init_differs():
    other = base_result("other")
    other["fingerprint"]["backend"] = "jax"
    other["facts"]["classifier.defaults"]["initial_weights"] = {"sha256": "bbbb", "head": [-0.0437]}
    other["metrics"]["classifier.defaults.loss"] = 0.7440
    cause, evidence = causes_of(base_result(), other)["classifier.defaults.loss"]
    assert cause == "random_stream"
    assert "[-0.8348] vs [-0.0437]" in evidence and "(classifier.shared_init.*) agrees within tolerance" in evidence


def test_random_stream_is_not_claimed_when_shared_init_drifts_too():
    other = base_result("other")
    other["facts"]["linear.defaults"]["initial_weights"] = {"sha256": "bbbb", "head": [0.98]}
    other["metrics"]["linear.defaults.w"] = 0.7392
    other["metrics"]["linear.shared_init.w"] = 0.60
    found = causes_of(base_result(), other)
    assert found["linear.defaults.w"][0] == "unexplained"
    assert "linear.shared_init.* drifts too" in found["linear.defaults.w"][1]


def test_initial_weights_themselves_are_the_random_stream():
    other = base_result("other")
    other["facts"]["linear.defaults"]["initial_weights"] = {"sha256": "bbbb", "head": [0.98]}
    other["metrics"]["linear.defaults.initial_w"] = 0.98
    assert causes_of(base_result(), other)["linear.defaults.initial_w"][0] == "random_stream"


def test_changed_api_behaviour_comes_first_for_metrics_that_pass_through_it():
    other = base_result("other")
    other["introspection"]["api"]["train_on_batch second call returns"] = "running mean over calls"
    other["metrics"]["linear.defaults.loss"] = 0.0050
    cause, evidence = causes_of(base_result(), other)["linear.defaults.loss"]
    assert cause == "api"
    assert evidence == "train_on_batch second call returns: that batch's loss -> running mean over calls"


def test_metric_semantics_when_weights_agree_but_the_reported_loss_differs():
    other = base_result("other")
    other["metrics"]["classifier.shared_init.loss"] = 0.5300  # running loss differs, val_* agree
    cause, evidence = causes_of(base_result(), other)["classifier.shared_init.loss"]
    assert cause == "metric_semantics" and "classifier.shared_init.val_loss" in evidence


def with_recomputed(result: dict, evaluate_loss: float) -> dict:
    result["facts"]["classifier.shared_init"]["recomputed"] = {"classifier.shared_init.evaluate_loss": evaluate_loss}
    return result


def test_a_reported_loss_that_its_weights_do_not_explain_is_proven_metric_semantics():
    # the weights differ (val_loss drifts), but the loss they give on the training data is the same on both sides
    other = with_recomputed(base_result("other"), 0.5129980)
    other["metrics"].update({"classifier.shared_init.evaluate_loss": 0.4990, "classifier.shared_init.val_loss": 0.5400})
    base = with_recomputed(base_result(), 0.5130)
    table = attribute(compare([base, other], "base", TOL), [base, other], "base", tolerances=TOL)
    [row] = table[(table["verdict"] == "drift") & (table["metric"] == "classifier.shared_init.evaluate_loss")].itertuples()
    assert (row.cause, row.proof) == ("metric_semantics", "proven")
    assert row.evidence == ("recomputed with NumPy from each side's final weights it is 0.513 and 0.512998, within tolerance, "
                            "yet the reported values differ")


def test_recomputed_values_that_differ_keep_the_drift_in_the_weights():
    # val_* agree, which alone would suggest the report changed; the recomputed loss says the weights moved it
    other = with_recomputed(base_result("other"), 0.4990)
    other["metrics"]["classifier.shared_init.evaluate_loss"] = 0.4990
    base = with_recomputed(base_result(), 0.5130)
    table = attribute(compare([base, other], "base", TOL), [base, other], "base", tolerances=TOL)
    [row] = table[(table["verdict"] == "drift") & (table["metric"] == "classifier.shared_init.evaluate_loss")].itertuples()
    assert row.cause != "metric_semantics"


def test_numerics_when_inputs_and_hyper_parameters_agree_but_the_framework_differs():
    other = base_result("other")
    other["fingerprint"]["distributions"]["tensorflow-cpu"] = "2.15.1"
    other["metrics"]["linear.shared_init.w"] = 0.5470
    cause, evidence = causes_of(base_result(), other)["linear.shared_init.w"]
    assert cause == "numerics" and "tensorflow-cpu: 2.21.0 -> 2.15.1" in evidence


def test_environment_when_only_other_packages_or_flags_differ():
    other = base_result("other")
    other["fingerprint"]["distributions"]["numpy"] = "1.26.4"
    other["fingerprint"]["env_vars"]["TF_ENABLE_ONEDNN_OPTS"] = "0"
    other["metrics"]["linear.shared_init.w"] = 0.5470
    cause, evidence = causes_of(base_result(), other)["linear.shared_init.w"]
    assert cause == "environment"
    assert "numpy: 2.1.0 -> 1.26.4" in evidence
    assert "TF_ENABLE_ONEDNN_OPTS: (unset) -> 0" in evidence


def test_unexplained_when_nothing_recorded_differs():
    other = copy.deepcopy(base_result("other"))
    other["metrics"]["linear.shared_init.w"] = 0.5470
    assert causes_of(base_result(), other)["linear.shared_init.w"][0] == "unexplained"


def test_rows_that_do_not_drift_carry_no_cause():
    table = attribute(compare([base_result(), base_result("twin")], "base", TOL), [base_result(), base_result("twin")], "base")
    assert set(table["verdict"]) == {"identical"} and table["cause"].isna().all()


def test_differing_keeps_only_rows_that_differ():
    table = differing({"a": {"x": 1, "y": "same", "z": 0.1}, "b": {"x": 2, "y": "same"}})
    assert list(table.index) == ["x", "z"]
    assert table.loc["z", "b"] == "—"


def test_a_different_keras_is_numerics_even_without_a_recorded_backend():
    base, other = base_result(), base_result("other")
    for result in (base, other):
        del result["fingerprint"]["backend"]
    other["fingerprint"]["distributions"]["keras"] = "3.16.0"
    other["metrics"]["linear.shared_init.w"] = 0.5470
    cause, evidence = causes_of(base, other)["linear.shared_init.w"]
    assert cause == "numerics" and "keras: 3.15.1 -> 3.16.0" in evidence


def test_a_task_that_draws_random_numbers_by_construction_is_the_random_stream():
    base, other = base_result(), base_result("other")
    for result, loss in ((base, 0.62), (other, 0.735)):
        result["metrics"]["dropout.stream.dropout_loss"] = loss
        result["tasks"]["dropout.stream"] = {"family": "dropout", "status": "ok", "random_stream": True,
                                             "doc": "The loss of one training step through Dropout"}
    cause, evidence = causes_of(base, other)["dropout.stream.dropout_loss"]
    assert cause == "random_stream" and "by construction (The loss of one training step through Dropout)" in evidence


def test_a_metric_name_holding_dots_belongs_to_its_declared_task():
    """activation.functions.hard_sigmoid(-0.5): the task is activation.functions, whose declared defaults count."""
    base, other = base_result(), base_result("other")
    for result, value in ((base, 0.4), (other, 0.41666)):
        result["metrics"]["activation.functions.hard_sigmoid(-0.5)"] = value
        result["tasks"]["activation.functions"] = {"family": "activation", "status": "ok", "defaults": ["activation."]}
    base["introspection"]["defaults"]["activation.gelu.approximate"] = False
    other["introspection"]["defaults"]["activation.gelu.approximate"] = True
    cause, evidence = causes_of(base, other)["activation.functions.hard_sigmoid(-0.5)"]
    assert cause == "defaults" and evidence == "resolved defaults differ: activation.gelu.approximate: False -> True"


def test_the_twin_of_a_user_model_task_is_its_shared_init_task():
    base, other = base_result(), base_result("other")
    for result, head, loss, twin in ((base, [0.1], 0.5, 0.3), (other, [0.2], 0.6, 0.3)):
        result["metrics"].update({"mine.gru.defaults.loss": loss, "mine.gru.shared_init.loss": twin})
        result["facts"]["mine.gru.defaults"] = {"initial_weights": {"sha256": str(head), "head": head}}
        for variant in ("defaults", "shared_init"):
            result["tasks"][f"mine.gru.{variant}"] = {"family": "mine", "status": "ok"}
    cause, evidence = causes_of(base, other)["mine.gru.defaults.loss"]
    assert cause == "random_stream" and "(mine.gru.shared_init.*) agrees within tolerance" in evidence
