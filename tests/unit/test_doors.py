"""A task run through another door compares with what that door reaches in the other environments."""

from conftest import make_result

from keras_drift.judge import doors
from keras_drift.judge.compare import Tolerance, compare
from keras_drift.store.verdicts import Verdict

TOL = [Tolerance("*", 1e-6, 1e-5)]


def _env(name, nadam, legacy=None):
    """An environment whose documented door's Nadam ends at ``nadam``; with ``legacy``, its ``import keras``
    door reaches another Nadam (TensorFlow 2.11 and 2.12), which ended there."""
    metrics = {"optimizer.defaults.Nadam.w0": nadam}
    tasks = {"optimizer.defaults.Nadam": {"family": "optimizer", "status": "ok"}}
    differs = []
    if legacy is not None:
        metrics["optimizer.defaults.Nadam@keras.w0"] = legacy
        tasks["optimizer.defaults.Nadam@keras"] = {"family": "optimizer", "status": "ok"}
        differs = ["optimizers.Nadam"]
    result = make_result(name, metrics, tasks=tasks)
    result["fingerprint"] = {"front_door": "tf.keras", "front_doors": {"keras": {"module": "keras", "differs": differs, "missing": []}}}
    return result


def test_the_other_door_compares_with_what_it_reaches_where_it_is_the_same_as_the_documented_one():
    """tf-2.12 through import keras (the legacy Nadam, 0.5040) against tf-2.15, whose import keras is its
    tf.keras (0.5039): a drift of the legacy door; the documented doors agree."""
    results = doors.aligned([_env("tf-2.15", 0.5039), _env("tf-2.12", 0.5039, legacy=0.5040), _env("keras-3", 0.5042)])
    assert results[0]["door_aliases"] == {"optimizer.defaults.Nadam@keras": "optimizer.defaults.Nadam"}
    assert results[0].metrics["optimizer.defaults.Nadam@keras.w0"] == 0.5039
    assert "door_aliases" not in results[1]  # it ran the door itself
    rows = doors.relevant(compare(results, "tf-2.15", TOL), results, "tf-2.15").set_index(["env", "metric"])["verdict"]
    assert rows[("tf-2.12", "optimizer.defaults.Nadam@keras.w0")] == Verdict.DRIFT
    assert rows[("tf-2.12", "optimizer.defaults.Nadam.w0")] == Verdict.IDENTICAL
    # Keras 3 and the baseline both stand in their own Nadam for the door: that row would repeat the one above
    assert ("keras-3", "optimizer.defaults.Nadam@keras.w0") not in rows.index
    assert rows[("keras-3", "optimizer.defaults.Nadam.w0")] == Verdict.DRIFT


def test_no_door_task_anywhere_leaves_the_results_as_they_are():
    results = [_env("a", 0.5), _env("b", 0.5)]
    assert doors.aligned(results) == results and all("door_aliases" not in result for result in doors.aligned(results))
