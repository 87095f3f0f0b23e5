"""One change, said once with its environments: the gate's and the report's groups."""

import pandas as pd

from keras_drift.judge.compare import UNSET
from keras_drift.judge.grouping import Group, behaviour_groups
from keras_drift.store.verdicts import Verdict

K3 = ("keras-3.15-jax", "keras-3.15-torch")


def _behaviours(*rows):
    return pd.DataFrame(rows, columns=["env", "kind", "key", "baseline_value", "value"], dtype=object)


def test_a_changed_value_is_one_line_with_every_environment_it_changed_in():
    table = _behaviours(*[(env, "api", "SGD(lr=0.1)", "ignored", "error: ValueError") for env in reversed(K3)],
                        ("tf-2.12", "api", "SGD(lr=0.1)", "ignored", "honoured"))
    assert behaviour_groups(table) == [Group("SGD(lr=0.1): ignored -> error: ValueError", K3),
                                       Group("SGD(lr=0.1): ignored -> honoured", ("tf-2.12",))]


def test_keys_only_one_side_has_fold_into_one_line_per_family_with_the_same_keys():
    """Seven optimizers x two environments x four keys (56 rows) are one line; Adam's extra key its own."""
    rows = []
    for env in K3:
        for name in ("SGD", "Adam", "Nadam"):
            rows += [(env, "default", f"optimizer.{name}.loss_scale_factor", UNSET, None),
                     (env, "default", f"optimizer.{name}.jit_compile", True, UNSET)]
        rows.append((env, "default", "optimizer.Adam.amsgrad_v2", UNSET, False))
    groups = behaviour_groups(_behaviours(*rows))
    assert [group.line() for group in groups] == [
        "optimizer.Adam: new keys amsgrad_v2, loss_scale_factor; gone jit_compile (keras-3.15-jax, keras-3.15-torch)",
        "optimizer.{Nadam, SGD}: new keys loss_scale_factor; gone jit_compile (keras-3.15-jax, keras-3.15-torch)",
    ]


def test_accepted_drifts_are_one_entry_each_with_each_environment_s_metrics():
    from keras_drift.render.report import accepted_entries

    verdicts = pd.DataFrame([
        ("keras-3.15-jax", "a.w", Verdict.ACCEPTED, "random_stream", "initial weights differ per backend"),
        ("keras-3.15-jax", "a.b", Verdict.ACCEPTED, "random_stream", "initial weights differ per backend"),
        ("keras-3.15-torch", "a.w", Verdict.ACCEPTED, "random_stream", "initial weights differ per backend"),
        ("keras-3.15-torch", "n.w", Verdict.ACCEPTED, "numerics", "Nadam changed"),
        ("keras-3.15-torch", "x.w", Verdict.DRIFT, "defaults", None),
    ], columns=["env", "metric", "verdict", "cause", "accepted_reason"])
    assert accepted_entries(verdicts) == [
        {"cause": "numerics", "reason": "Nadam changed", "count": 1, "envs": [{"env": "keras-3.15-torch", "count": 1, "metrics": ["n.w"]}]},
        {"cause": "random_stream", "reason": "initial weights differ per backend", "count": 3,
         "envs": [{"env": "keras-3.15-jax", "count": 2, "metrics": ["a.w", "a.b"]},
                  {"env": "keras-3.15-torch", "count": 1, "metrics": ["a.w"]}]},
    ]


def test_saved_model_outcomes_group_by_attempt_and_error_type_across_models():
    """The error of each model names its own layers: the group keeps the exception's type and counts models."""
    rows = [(env, "api", f"saved.{task}.h5.load_model.rollback", "tf-2.15 loads it",
             f"tf-2.15 fails: TypeError: Error when deserializing class 'InputLayer' using config={{'name': '{task}'}}")
            for env in K3 for task in ("classifier.shared_init", "nested.sequential")]
    rows.append(("tf-2.12", "api", "saved.nested.sequential.weights.rebuild+load_weights.rollback", "tf-2.15 loads it",
                 "tf-2.15 fails: ValueError: Layer 'dense_22' expected 2 variables"))
    assert [group.line() for group in behaviour_groups(_behaviours(*rows))] == [
        "saved models, h5.load_model.rollback: tf-2.15 loads it -> tf-2.15 fails: TypeError "
        "(2 model(s): classifier.shared_init, nested.sequential) (keras-3.15-jax, keras-3.15-torch)",
        "saved models, weights.rebuild+load_weights.rollback: tf-2.15 loads it -> tf-2.15 fails: ValueError "
        "(1 model(s): nested.sequential) (tf-2.12)",
    ]
