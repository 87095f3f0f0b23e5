"""The localisation rule on synthetic records; each expected answer is worked out by hand in the comment."""

from __future__ import annotations

import math

import pytest
from conftest import make_result

from keras_drift.judge.compare import Tolerance
from keras_drift.judge.localise import difference, first_parting, localisations, localise

TOLERANCE = Tolerance("*", atol=0.0, rtol=1e-4)


def layer(path, values, inputs=("input",), cls="Dense"):
    return {"path": path, "class": cls, "inputs": list(inputs), "value": {"shape": [len(values)], "values": list(values)}}


def grad(weight, values):
    return {"weight": weight, "value": {"shape": [len(values)], "values": list(values)}}


BASE = {"layers": [layer("a", [1.0, 2.0]), layer("b", [3.0, 4.0], ["a"]), layer("c", [5.0, 10.0], ["b"])],
        "gradients": [grad("a/kernel", [0.5, 0.5]), grad("c/kernel", [1.0, 1.0])]}


def test_a_tiny_difference_within_tolerance_upstream_does_not_hide_the_real_one():
    # a differs by 1e-7 of 2 (5e-8 relative: within 1e-4); b by 0.4 of 4 (0.1: beyond), its input a within:
    # 0.1 / 5e-8 = 2e6 times its input's difference, far above 100: b introduces it, c only carries it
    candidate = {"layers": [layer("a", [1.0, 2.0 + 1e-7]), layer("b", [3.0, 4.4], ["a"]), layer("c", [5.0, 11.0], ["b"])]}
    found = localise("t", candidate, BASE, TOLERANCE)
    assert (found.layer, found.cls) == ("b", "Dense")
    assert found.rel_diff == pytest.approx(0.1) and found.input_rel_diff == pytest.approx(5e-8)
    assert found.amplification == pytest.approx(2e6)
    assert [part.differs for part in found.layers] == [False, True, True]


def test_two_branches_meeting_name_the_branch_that_differs():
    # left and right both read the input; right differs (0.5 of 2 = 0.25); "add" receives both and differs,
    # but one of its inputs already does: right introduces it
    base = {"layers": [layer("left", [1.0, 1.0]), layer("right", [2.0, 2.0]), layer("add", [3.0, 3.0], ["left", "right"], "Add")]}
    candidate = {"layers": [layer("left", [1.0, 1.0]), layer("right", [2.0, 2.5]), layer("add", [3.0, 3.5], ["left", "right"], "Add")]}
    found = localise("t", candidate, base, TOLERANCE)
    assert (found.layer, found.rel_diff, found.input_rel_diff, found.amplification) == ("right", 0.25, 0.0, math.inf)


def test_a_nested_model_is_localised_to_its_inner_layer():
    # encoder/embedding agrees, encoder/gru differs (1 of 4 = 0.25), encoder (the nested model's output) and the
    # head carry it: the inner layer is named by its path
    # (the probe lists a composite's inner outputs as its inputs: "encoder" receives "encoder/gru", so it is
    # not a second introducing layer)
    base = {"layers": [layer("encoder/embedding", [1.0]), layer("encoder/gru", [4.0], ["encoder/embedding"], "GRU"),
                       layer("encoder", [4.0], ["encoder/gru"], "Functional"), layer("head", [8.0], ["encoder"])]}
    candidate = {"layers": [layer("encoder/embedding", [1.0]), layer("encoder/gru", [5.0], ["encoder/embedding"], "GRU"),
                            layer("encoder", [5.0], ["encoder/gru"], "Functional"), layer("head", [10.0], ["encoder"])]}
    found = localise("t", candidate, base, TOLERANCE)
    assert (found.layer, found.cls, found.rel_diff, found.also) == ("encoder/gru", "GRU", 0.25, ())


def test_a_gradual_growth_along_a_chain_is_said_not_pinned_on_the_last_layer():
    # relative differences 1e-7, 1e-6, 1e-5, 5e-5 (all within 1e-4), then 3e-4 (beyond) at e: its input d is
    # 5e-5, so e multiplies it only 6 times (< 100): gradual growth from a to e
    chain = [("a", 1e-7), ("b", 1e-6), ("c", 1e-5), ("d", 5e-5), ("e", 3e-4)]
    base = {"layers": [layer(name, [1.0], [chain[i - 1][0]] if i else ["input"]) for i, (name, _) in enumerate(chain)]}
    candidate = {"layers": [layer(name, [1.0 + rel], [chain[i - 1][0]] if i else ["input"]) for i, (name, rel) in enumerate(chain)]}
    found = localise("t", candidate, base, TOLERANCE)
    assert found.layer is None
    assert found.gradual.startswith("no layer introduces it: the difference grows gradually, from 1e-07 at a to 0.0003 at e (at most 6 times")


def test_a_difference_only_in_a_gradient_names_the_first_weight_that_differs():
    # every output agrees; a/kernel agrees; c/kernel 1.5 against 1 (0.5): it is named
    candidate = {"layers": BASE["layers"], "gradients": [grad("a/kernel", [0.5, 0.5]), grad("c/kernel", [1.0, 1.5])]}
    found = localise("t", candidate, BASE, TOLERANCE)
    assert (found.layer, found.gradient_weight, found.gradient_rel_diff) == (None, "c/kernel", 0.5)
    assert found.sentence().startswith("every layer's output agrees; the gradient of c/kernel is the first to differ")


def test_fingerprints_compare_by_checksum_then_statistics():
    big = {"shape": [5000], "sha256": "x", "mean": 1.0, "std": 2.0, "max_abs": 4.0, "head": [1.0, 2.0]}
    assert difference(dict(big), big) == (0.0, 4.0)
    assert difference(dict(big, sha256="y", std=2.5), big) == (0.5, 4.0)
    assert difference(dict(big, shape=[4999]), big)[0] == math.inf


def test_localisations_use_the_shared_init_twin_and_name_the_layer_s_changed_defaults():
    twin = "m.shared_init"
    base = make_result("old", {}, facts={twin: {"layers": [layer("1_gru", [1.0], cls="GRU")]}},
                       introspection={"defaults": {"gru.reset_after": False, "dense.units": 1}})
    new = make_result("new", {}, facts={twin: {"layers": [layer("1_gru", [2.0], cls="GRU")]}},
                      introspection={"defaults": {"gru.reset_after": True, "dense.units": 1}})
    found = localisations([("new", "m.defaults")], [base, new], "old", [TOLERANCE])
    located = found["new", "m.defaults"]
    assert (located.layer, located.records_of, located.layer_defaults) == ("1_gru", twin, ("gru.reset_after: False -> True",))
    assert located.document()["amplification"] == "Infinity"


def test_a_defaults_task_whose_twin_agrees_says_whether_its_own_initial_weights_differ():
    # the twin's records agree; m.defaults started from different library weights ("a" vs "b"), n.defaults
    # from the same ones and trained: the first drift starts in the initial weights, the second in training
    twin = {"layers": [layer("dense#1", [1.0])]}
    trained = {"initial_weights": {"sha256": "c"}, "step_losses": [0.5]}
    base = make_result("old", {}, facts={"m.shared_init": twin, "n.shared_init": twin,
                                         "m.defaults": {"initial_weights": {"sha256": "a"}}, "n.defaults": trained})
    new = make_result("new", {}, facts={"m.shared_init": twin, "n.shared_init": twin,
                                        "m.defaults": {"initial_weights": {"sha256": "b"}}, "n.defaults": trained})
    found = localisations([("new", "m.defaults"), ("new", "n.defaults")], [base, new], "old", [TOLERANCE])
    assert found["new", "m.defaults"].sentence().endswith("own initial weights differ: the drift starts in the initial weights, not in a layer")
    assert found["new", "n.defaults"].sentence().endswith("the drift is in training, not in a layer; the first 1 steps' losses agree")


def test_a_script_recorded_at_numpy_weights_says_its_own_initial_weights_differ():
    # the script's model is recorded at shared NumPy weights (its own put back): the records agree, its own
    # initial weights ("a" vs "b") do not, and its fit()'s first step losses part at step 1
    base = make_result("old", {}, facts={"script": {"layers": [layer("dense#1", [1.0])], "initial_weights": {"sha256": "a"},
                                                    "step_losses": [0.7, 0.6]}})
    new = make_result("new", {}, facts={"script": {"layers": [layer("dense#1", [1.0])], "initial_weights": {"sha256": "b"},
                                                   "step_losses": [0.8, 0.6]}})
    found = localisations([("new", "script")], [base, new], "old", [TOLERANCE])["new", "script"]
    assert found.sentence().startswith("every layer's output agrees (no gradients recorded) at the shared initial weights, "
                                       "but this task's own initial weights differ: the drift starts in the initial weights")
    assert found.first_divergent_step == 1


def test_independent_models_of_one_task_each_name_their_introducing_layer():
    # a canary of several one-layer models: relu agrees; hard_sigmoid differs (0.1 of 0.5 = 0.2) and so does
    # gelu (0.01 of 1 = 0.01), each with its own input identical: the first is the layer, the other "also"
    base = {"layers": [layer("relu/act#1", [1.0]), layer("hard_sigmoid/act#1", [0.5]), layer("gelu/act#1", [1.0])]}
    candidate = {"layers": [layer("relu/act#1", [1.0]), layer("hard_sigmoid/act#1", [0.6]), layer("gelu/act#1", [1.01])]}
    found = localise("t", candidate, base, TOLERANCE)
    assert (found.layer, found.also) == ("hard_sigmoid/act#1", ("gelu/act#1",))
    assert found.rel_diff == pytest.approx(0.2)
    assert "so do gelu/act#1" in found.sentence()


def test_a_layer_only_one_environment_has_is_shown_but_never_judged():
    # Keras 3 adds a mask operation ("not_equal#1") that the baseline lacks; it is not an introducing layer,
    # and the wrapper after it, which agrees (2.0 against 2.0), stays the only compared successor
    base = {"layers": [layer("masking#1", [1.0]), layer("td#1", [2.0], ["masking#1"])]}
    candidate = {"layers": [layer("masking#1", [1.0]), layer("not_equal#1", [1.0], ["input"], "NotEqual"),
                            layer("td#1", [2.0], ["masking#1", "not_equal#1"])]}
    found = localise("t", candidate, base, TOLERANCE)
    assert found.layer is None and found.gradient_weight is None
    only = [part for part in found.layers if part.only_here]
    assert [part.name for part in only] == ["not_equal#1"] and not only[0].differs and math.isnan(only[0].rel_diff)
    assert [part.input_rel_diff for part in found.layers] == [0.0, 0.0, 0.0]


def test_the_first_parting_step_is_the_first_pair_beyond_tolerance():
    # rtol 1e-4: 1.0 vs 1.00005 is within (5e-5); 0.9 vs 0.9002 is beyond (2.2e-4): step 2, counted from 1;
    # NaN against a number parts; agreeing sequences (over the length both have) give None
    assert first_parting([1.00005, 0.9002, 0.7], [1.0, 0.9, 0.8], TOLERANCE) == 2
    assert first_parting(["NaN"], [1.0], TOLERANCE) == 1
    assert first_parting([1.0, 0.5], [1.0], TOLERANCE) is None


def test_localisations_name_the_step_or_else_the_epoch_where_the_losses_part():
    # step losses agree for 3 steps in "a"; its epoch losses part at epoch 2 (0.5 vs 0.4); "b" parts at step 2
    # and has no layer records: it is localised by its trajectory alone
    same_steps = {"step_losses": [0.9, 0.8, 0.7]}
    base = make_result("old", {}, facts={"a.defaults": same_steps, "b.defaults": {"step_losses": [0.9, 0.8]}},
                       series={"a.defaults": {"epoch": [1, 2], "loss": [0.6, 0.5]}})
    new = make_result("new", {}, facts={"a.defaults": same_steps, "b.defaults": {"step_losses": [0.9, 0.85]}},
                      series={"a.defaults": {"epoch": [1, 2], "loss": [0.6, 0.4]}})
    found = localisations([("new", "a.defaults"), ("new", "b.defaults")], [base, new], "old", [TOLERANCE])
    a, b = found["new", "a.defaults"], found["new", "b.defaults"]
    assert (a.first_divergent_step, a.first_divergent_epoch) == (None, 2)
    assert a.sentence() == "the first 3 steps' losses agree; the epoch losses part at epoch 2"
    assert (b.first_divergent_step, b.layer, b.layers) == (2, None, ())
    assert b.sentence() == "the training losses part at step 2 of the first 2 (0.85 against 0.8)"
    assert b.document()["first_divergent_step"] == 2 and b.document()["first_divergent_epoch"] is None


def test_agreeing_records_without_gradients_say_so():
    # forward-only records (a Dropout canary: a gradient would draw a mask) that agree: nothing claims gradients
    found = localise("t", {"layers": BASE["layers"]}, {"layers": BASE["layers"]}, TOLERANCE)
    assert found.sentence() == ("every layer's output agrees (no gradients recorded) at the shared initial weights: "
                                "the drift is in training, not in a layer")


def test_agreeing_records_of_a_task_that_does_not_train_do_not_blame_training():
    # a float64-input canary whose output dtype changed: the values agree and nothing trained (no step
    # losses, no epochs): the sentence says the drift is not in the values, not "in training"
    found = localisations([("new", "d.x")], [make_result("old", {}, facts={"d.x": {"layers": BASE["layers"]}}),
                                             make_result("new", {}, facts={"d.x": {"layers": BASE["layers"]}})], "old", [TOLERANCE])
    assert found["new", "d.x"].sentence().endswith("the drift is not in a layer's values (a dtype, a name, a count)")
