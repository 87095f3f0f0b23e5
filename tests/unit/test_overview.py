"""The first screen: the headline in words and the grid of environments."""

from conftest import make_result
from test_report import TOL

from keras_drift import pipeline
from keras_drift.judge.overview import overview


def _judged(*results):
    return list(results), pipeline.judge(list(results), "base", TOL)


def test_a_clean_run_says_nothing_drifts_beyond_what_was_accepted():
    results, judged = _judged(make_result("base", {"m.w": 0.5, "m.b": 1.0}), make_result("cand", {"m.w": 0.5, "m.b": 1.0}))
    screen = overview(results, judged, "base")
    assert screen.clean and screen.headline == "Nothing drifts beyond what was accepted: 0 of 2 metrics, against base."
    assert screen.rows == [{"env": "cand", "drifting": 0, "accepted": 0, "failed": 0, "behaviours": 0, "unloadable": 0, "slower": 0}]


def test_failures_and_drifts_come_first_and_each_behaviour_change_counts_once():
    base = make_result("base", {"m.w": 0.5})
    one, two = make_result("one", {"m.w": 0.7}), make_result("two", {"m.w": 0.5})
    broken = make_result("broken", {}, status="failed", reason="install failed")
    for result, said in ((base, "honoured"), (one, "ignored"), (two, "ignored"), (broken, "ignored")):
        result["introspection"] = {"defaults": {}, "api": {"SGD(lr=0.1)": said}}
    results, judged = _judged(base, one, two, broken)
    screen = overview(results, judged, "base")
    assert not screen.clean
    assert screen.headline == ("1 environment(s) failed or have tasks whose numbers are unknown: broken. 1 metric(s) drift beyond "
                               "what was accepted, in one (against base): see why below. Also: 1 behaviour change(s).")
    rows = {row["env"]: row for row in screen.rows}
    assert rows["one"]["drifting"] == 1 and rows["two"]["drifting"] == 0 and rows["broken"]["failed"] == "failed"
    assert rows["one"]["behaviours"] == 1 and rows["two"]["behaviours"] == 1  # one change, in both
