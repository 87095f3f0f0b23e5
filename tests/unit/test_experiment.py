"""The experiment that proves causes, on constructed results and a simulated probe: which difference,
alone or with others, brings a drifting task back within tolerance, and what the verdicts then say."""

from __future__ import annotations

import itertools
import json
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from test_attribute import TOL, base_result

from keras_drift.execute.experiment import explain
from keras_drift.judge import proofs
from keras_drift.judge.attribute import attribute, undoable_differences
from keras_drift.judge.compare import compare
from keras_drift.store.results import Result

BASE_LOSS = 0.7433


def candidate(**defaults: Any) -> dict:
    """The baseline with ``defaults`` changed and a drifting classifier.defaults.loss."""
    other = base_result("other")
    other["introspection"]["defaults"].update(defaults)
    other["metrics"]["classifier.defaults.loss"] = 0.70
    return other


def simulated_probe(needed: set[str], calls: list[list[str]] | None = None, reverse_reproduces: bool = True):
    """A probe whose classifier.defaults.loss returns to the baseline's exactly when every override in
    ``needed`` is applied; in the baseline ("base"), the reverse: it moves to the candidate's 0.70 when they
    are applied (and ``reverse_reproduces``). Every trial's id is recorded in ``calls``, one list per probe process."""

    def execute(env: str, trials: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
        if calls is not None:
            calls.append([trial["id"] for trial in trials])
        outcomes = {}
        for trial in trials:
            applied = sorted(trial["overrides"])
            fixed = needed <= set(applied)
            if env == "base":
                loss = 0.70 if fixed and reverse_reproduces else BASE_LOSS
            else:
                loss = BASE_LOSS if fixed else 0.70
            outcomes[trial["id"]] = {"task": trial["task"], "applied": applied, "error": None,
                                     "metrics": {"classifier.defaults.loss": loss}}
        return outcomes

    return execute


def run(base: dict, other: dict, execute, **options: Any) -> list[proofs.Proof]:
    return explain(compare([base, other], "base", TOL), [base, other], baseline="base", tolerances=TOL, execute=execute, **options)


def causes(base: dict, other: dict, found: list[proofs.Proof]) -> dict[str, tuple[str, str, str]]:
    table = attribute(compare([base, other], "base", TOL), [base, other], "base", proofs.by_task(found))
    drift = table[table["verdict"] == "drift"]
    return {row.metric: (row.cause, row.proof, row.evidence) for row in drift.itertuples()}


def test_one_difference_that_alone_brings_the_task_back_is_proven_and_the_others_shown_not_to():
    other = candidate(**{"fit.epochs": 10, "optimizer.Adam.epsilon": 1e-8})
    calls: list[list[str]] = []
    [proof] = run(base_result(), other, simulated_probe({"fit.epochs"}, calls))
    assert (proof.env, proof.task, proof.status, proof.accounts_for) == ("other", "classifier.defaults", "proven", ("fit.epochs",))
    # one probe process: each difference alone, then both together; then one in the baseline, in reverse
    assert calls == [["classifier.defaults|fit.epochs", "classifier.defaults|optimizer.Adam.epsilon",
                      "classifier.defaults|fit.epochs+optimizer.Adam.epsilon"], ["other|classifier.defaults|fit.epochs"]]
    assert proof.reverse is not None and proof.reverse.within and proof.reverse.undone == ("fit.epochs",)
    cause, proof_status, evidence = causes(base_result(), other, [proof])["classifier.defaults.loss"]
    assert (cause, proof_status) == ("defaults", "proven")
    assert evidence == ("re-running classifier.defaults in other with fit.epochs=1 brings classifier.defaults.* within tolerance; "
                        "optimizer.Adam.epsilon=1e-07 alone does not; the reverse, the baseline with fit.epochs=10, reproduces the drift")


def test_a_reverse_that_does_not_reproduce_the_drift_is_said_and_kept(tmp_path):
    other = candidate(**{"fit.epochs": 10})
    [proof] = run(base_result(), other, simulated_probe({"fit.epochs"}, reverse_reproduces=False))
    assert proof.status == "proven" and proof.reverse is not None and not proof.reverse.within
    assert proof.sentence().endswith("; the reverse, the baseline with fit.epochs=10, does not reproduce the drift")
    # 0.7433 against the candidate's 0.70: the relative difference that remains, computed by hand
    assert proof.reverse.max_rel_diff == pytest.approx((0.7433 - 0.70) / 0.70)
    proofs.save(tmp_path, [proof])
    assert proofs.load(tmp_path) == [proof]


def test_when_only_a_combination_does_the_smallest_one_is_named():
    other = candidate(**{"fit.epochs": 10, "optimizer.Adam.epsilon": 1e-8, "optimizer.Adam.learning_rate": 0.01})
    other["introspection"]["defaults"]["optimizer.Adam.learning_rate"] = 0.01
    base = base_result()
    base["introspection"]["defaults"]["optimizer.Adam.learning_rate"] = 0.001
    calls: list[list[str]] = []
    [proof] = run(base, other, simulated_probe({"fit.epochs", "optimizer.Adam.learning_rate"}, calls))
    assert proof.status == "proven" and proof.accounts_for == ("fit.epochs", "optimizer.Adam.learning_rate")
    assert len(calls) == 3 and len(calls[0]) == 4 and len(calls[1]) == 3  # singles + all, then the pairs, then the reverse
    assert calls[2] == ["other|classifier.defaults|fit.epochs+optimizer.Adam.learning_rate"]
    assert "alone does not" in proof.sentence() and proof.cause == "defaults"


def test_differences_that_change_nothing_are_ruled_out_and_the_rules_skip_them():
    other = candidate(**{"optimizer.Adam.epsilon": 1e-8})
    other["metrics"]["classifier.defaults.val_loss"] = 0.66  # the trained weights differ too
    other["fingerprint"]["distributions"]["keras"] = "3.16.0"
    [proof] = run(base_result(), other, simulated_probe({"nothing"}))
    assert proof.status == "ruled_out" and proof.cause is None
    cause, proof_status, evidence = causes(base_result(), other, [proof])["classifier.defaults.loss"]
    assert (cause, proof_status) == ("numerics", "suspected")  # not "defaults": the experiment showed otherwise
    assert "keras: 3.15.1 -> 3.16.0" in evidence
    assert "with optimizer.Adam.epsilon=1e-07 leaves the drift" in evidence


def test_the_baselines_initial_weights_are_replayed_and_prove_a_random_stream():
    base, other = base_result(), base_result("other")
    base["facts"]["linear.defaults"]["initial_arrays"] = [[[-0.8348]], [0.0]]
    other["facts"]["linear.defaults"]["initial_weights"] = {"sha256": "bbbb", "head": [0.3]}
    other["metrics"]["linear.defaults.w"] = 0.43
    seen: list[dict] = []

    def execute(env: str, trials: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
        seen.extend(trials)
        return {trial["id"]: {"applied": ["initial_weights"], "error": None, "metrics": {"linear.defaults.w": base["metrics"]["linear.defaults.w"]}}
                for trial in trials}

    [proof] = run(base, other, execute)
    assert seen[0]["overrides"] == {"initial_weights": [[[-0.8348]], [0.0]]}
    assert proof.status == "proven" and proof.cause == "random_stream"
    cause, proof_status, evidence = causes(base, other, [proof])["linear.defaults.w"]
    assert (cause, proof_status) == ("random_stream", "proven") and "the baseline's initial weights" in evidence


def test_fits_shuffling_is_replayed_with_the_initial_weights_and_together_they_prove_the_random_stream():
    """The seed classifier across backends: fit() shuffles with each backend's generator, so replaying the
    baseline's initial weights alone leaves the drift; with its batch order too, the numbers come back."""
    base, other = base_result(), base_result("other")
    base["facts"]["classifier.defaults"].update(initial_arrays=[[[0.1]], [0.0]],
                                                batch_order={"sha256": "b1", "draws": 2, "samples": [3]},
                                                batch_orders=[[2, 0, 1], [1, 2, 0]])
    other["facts"]["classifier.defaults"].update(initial_weights={"sha256": "bbbb", "head": [0.3]},
                                                 batch_order={"sha256": "o1", "draws": 2, "samples": [3]})
    other["metrics"]["classifier.defaults.loss"] = 0.70
    calls: list[list[str]] = []
    seen: list[Mapping[str, Any]] = []

    def execute(env: str, trials: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
        seen.extend(trials)
        return simulated_probe({"initial_weights", "batch_order"}, calls)(env, trials)

    [proof] = run(base, other, execute)
    assert calls[0] == ["classifier.defaults|initial_weights", "classifier.defaults|batch_order",
                        "classifier.defaults|initial_weights+batch_order"]
    assert seen[2]["overrides"] == {"initial_weights": [[[0.1]], [0.0]], "batch_order": [[2, 0, 1], [1, 2, 0]]}
    assert proof.status == "proven" and proof.accounts_for == ("initial_weights", "batch_order") and proof.cause == "random_stream"
    cause, certainty, evidence = causes(base, other, [proof])["classifier.defaults.loss"]
    assert (cause, certainty) == ("random_stream", "proven")
    assert ("with the baseline's initial weights, the baseline's batch order (fit()'s shuffling, every epoch) brings "
            "classifier.defaults.* within tolerance; the baseline's initial weights alone does not") in evidence


def test_a_batch_order_the_baseline_did_not_record_whole_is_no_difference_to_undo():
    base, other = base_result(), base_result("other")
    base["facts"]["classifier.defaults"]["batch_order"] = {"sha256": "b1", "draws": 1, "samples": [300000]}
    other["facts"]["classifier.defaults"]["batch_order"] = {"sha256": "o1", "draws": 1, "samples": [300000]}
    assert [difference.key for difference in undoable_differences("classifier.defaults", Result(other), Result(base))] == []


def _replayable_pair() -> tuple[dict, dict]:
    """A baseline and a candidate whose linear.defaults started from other initial weights, both recorded
    whole (replayable either way), and whose w and loss drift."""
    base, other = base_result(), base_result("other")
    base["facts"]["linear.defaults"]["initial_arrays"] = [[[-0.8348]], [0.0]]
    other["facts"]["linear.defaults"]["initial_weights"] = {"sha256": "bbbb", "head": [0.3]}
    other["facts"]["linear.defaults"]["initial_arrays"] = [[[0.3]], [0.0]]
    other["metrics"]["linear.defaults.w"], other["metrics"]["linear.defaults.loss"] = 0.43, 0.5
    return base, other


def test_a_difference_that_brings_back_some_metrics_is_proven_for_those_and_ruled_out_for_the_rest():
    """Keras 3.4's linear fit from tf.keras's initial weights: its weights come back, the loss its
    train_on_batch reports (a running mean over calls) does not."""
    base, other = _replayable_pair()

    def execute(env: str, trials: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
        back = {"linear.defaults.w": base["metrics"]["linear.defaults.w"], "linear.defaults.loss": 0.5}
        if env == "base":  # the reverse: the baseline with the candidate's weights reaches its w
            back = {"linear.defaults.w": 0.43, "linear.defaults.loss": base["metrics"]["linear.defaults.loss"]}
        return {trial["id"]: {"applied": ["initial_weights"], "error": None, "metrics": back} for trial in trials}

    [proof] = run(base, other, execute)
    assert proof.status == "proven" and proof.left == ("linear.defaults.loss",)
    assert proof.reverse is not None and proof.reverse.within  # judged on w alone, which it accounts for
    assert "within tolerance except linear.defaults.loss" in proof.sentence()
    found = causes(base, other, [proof])
    assert found["linear.defaults.w"][:2] == ("random_stream", "proven")
    _, certainty, evidence = found["linear.defaults.loss"]
    assert certainty != "proven" and "except linear.defaults.loss" in evidence  # the replay is ruled out for it
    assert proofs.read(proofs.write(Path(tempfile.mkdtemp()) / "experiments.json", [proof]))[0].left == proof.left
    assert "alone does not" not in proof.sentence()


def test_a_partial_proof_the_reverse_does_not_reproduce_is_ruled_out():
    """A coarse metric (an accuracy) may agree by chance after the replay: without the reverse, no proof."""
    base, other = _replayable_pair()

    def execute(env: str, trials: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
        back = {"linear.defaults.w": base["metrics"]["linear.defaults.w"], "linear.defaults.loss": 0.5}  # the same both ways
        return {trial["id"]: {"applied": ["initial_weights"], "error": None, "metrics": back} for trial in trials}

    [proof] = run(base, other, execute)
    assert proof.status == "ruled_out" and proof.left == ()


def test_a_spent_budget_leaves_the_cause_suspected_and_says_why():
    ticks = itertools.chain([0.0], itertools.repeat(100.0))
    other = candidate(**{"fit.epochs": 10})
    [proof] = run(base_result(), other, simulated_probe({"fit.epochs"}), budget_s=50, clock=lambda: next(ticks))
    assert proof.status == "not_tried" and "budget (50 s)" in proof.why and proof.trials == ()
    cause, proof_status, _ = causes(base_result(), other, [proof])["classifier.defaults.loss"]
    assert (cause, proof_status) == ("defaults", "suspected")


def test_a_rerun_that_fails_proves_nothing():
    other = candidate(**{"fit.epochs": 10})

    def execute(env: str, trials: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
        return {trial["id"]: {"applied": [], "error": "ValueError: shapes differ", "metrics": {}} for trial in trials}

    [proof] = run(base_result(), other, execute)
    assert proof.status == "not_tried" and "ValueError: shapes differ" in proof.why
    assert causes(base_result(), other, [proof])["classifier.defaults.loss"][:2] == ("defaults", "suspected")


def test_nothing_is_run_for_a_task_with_nothing_to_undo():
    other = base_result("other")
    other["metrics"]["classifier.defaults.loss"] = 0.70
    calls: list[list[str]] = []
    [proof] = run(base_result(), other, simulated_probe(set(), calls))
    assert calls == [] and proof.status == "not_tried" and "no recorded difference" in proof.why


def test_bit_identical_final_weights_prove_metric_semantics_without_an_experiment():
    base, other = base_result(), base_result("other")
    for result in (base, other):
        result["facts"]["classifier.shared_init"]["final_weights"] = {"sha256": "ffff", "head": [0.1]}
    other["metrics"]["classifier.shared_init.loss"] = 0.51
    other["metrics"]["classifier.shared_init.val_loss"] = 0.53
    found = causes(base, other, [])
    for metric in ("classifier.shared_init.loss", "classifier.shared_init.val_loss"):
        cause, proof_status, evidence = found[metric]
        assert (cause, proof_status) == ("metric_semantics", "proven") and "bit-identical" in evidence


def test_proofs_survive_the_run_folder(tmp_path):
    other = candidate(**{"fit.epochs": 10, "optimizer.Adam.epsilon": 1e-8})
    found = run(base_result(), other, simulated_probe({"fit.epochs"}))
    proofs.save(tmp_path, found)
    assert proofs.load(tmp_path) == found
    written = json.loads((tmp_path / proofs.EXPERIMENTS_FILE).read_text())["proofs"][0]
    assert written["accounts_for"] == ["fit.epochs"] and written["status"] == "proven"
    assert [proof.status for proof in proofs.load(tmp_path)] == [proofs.ProofStatus.PROVEN]
    assert all(type(proof.status) is proofs.ProofStatus for proof in proofs.load(tmp_path))


def test_a_damaged_experiments_file_is_one_line_naming_it(tmp_path):
    (tmp_path / proofs.EXPERIMENTS_FILE).write_text('{"proofs": [{"env": 1}]}')
    with pytest.raises(proofs.InputError, match=r"experiments\.json: not an experiments file"):
        proofs.load(tmp_path)
    (tmp_path / proofs.EXPERIMENTS_FILE).write_text('{"proofs": [{"env": "a", "task": "t", "why": "", "status": "maybe"}]}')
    with pytest.raises(proofs.InputError, match=r"status: 'maybe' is not one of proven, ruled_out, not_tried$"):
        proofs.load(tmp_path)


def test_a_parameter_only_the_baseline_has_is_not_tried():
    base = base_result()
    base["introspection"]["defaults"]["optimizer.Adam.jit_compile"] = True  # tf.keras 2.15 has it, Keras 3 does not
    other = candidate(**{"fit.epochs": 10})
    calls: list[list[str]] = []
    [proof] = run(base, other, simulated_probe({"fit.epochs"}, calls))
    assert calls == [["classifier.defaults|fit.epochs"], ["other|classifier.defaults|fit.epochs"]] and proof.accounts_for == ("fit.epochs",)


def spelt_lr(result: dict, behaviour: str) -> dict:
    """``result`` whose classifier.defaults called an optimizer with ``lr=``, which behaved as ``behaviour``."""
    result["introspection"]["api"]["SGD(lr=0.1)"] = behaviour
    result["facts"]["classifier.defaults"]["api_calls"] = ["SGD(lr=0.1)"]
    return result


def test_an_api_call_respelt_to_behave_as_in_the_baseline_proves_the_api_cause():
    base, other = spelt_lr(base_result(), "honoured"), spelt_lr(candidate(), "ignored (learning_rate=0.01)")
    calls: list[list[str]] = []
    [proof] = run(base, other, simulated_probe({"api.SGD(lr=0.1)"}, calls))
    assert calls == [["classifier.defaults|api.SGD(lr=0.1)"], ["other|classifier.defaults|api.SGD(lr=0.1)"]]
    assert proof.status == "proven" and proof.cause == "api"
    cause, proof_status, evidence = causes(base, other, [proof])["classifier.defaults.loss"]
    assert (cause, proof_status) == ("api", "proven")
    assert evidence == ("re-running classifier.defaults in other with SGD(lr=0.1) spelt so that it is honoured as in the "
                        "baseline brings classifier.defaults.* within tolerance; the reverse, the baseline with SGD(lr=0.1) "
                        "spelt so that it is ignored (learning_rate=0.01) as in the candidate, reproduces the drift")


@pytest.mark.parametrize(
    ("base_behaviour", "candidate_spelt_it"),
    [("honoured", False),  # the candidate's task never made the call: nothing to respell there
     ("error: ValueError", True)],  # no spelling makes a call raise as it did in the baseline
)
def test_an_api_difference_no_respelling_can_undo_is_left_to_the_rules(base_behaviour, candidate_spelt_it):
    base = spelt_lr(base_result(), base_behaviour)
    other = candidate()
    other["introspection"]["api"]["SGD(lr=0.1)"] = "ignored (learning_rate=0.01)"
    if candidate_spelt_it:  # both sides spelt it; the rule still names the API
        other["facts"]["classifier.defaults"]["api_calls"] = ["SGD(lr=0.1)"]
    calls: list[list[str]] = []
    [proof] = run(base, other, simulated_probe({"api.SGD(lr=0.1)"}, calls))
    assert calls == [] and proof.status == "not_tried"
    cause, proof_status, evidence = causes(base, other, [proof])["classifier.defaults.loss"]
    # the rule blames the API only where the task's value passes through the call
    assert (cause == "api") == candidate_spelt_it and proof_status == "suspected"
    assert ("SGD(lr=0.1)" in evidence) == candidate_spelt_it
