import json
import math

import pytest
from conftest import make_result

from keras_drift.errors import ExitCode, InputError
from keras_drift.judge.compare import Tolerance, compare, exit_code, judge, load_tolerances, tolerance_for
from keras_drift.pipeline import judge as judge_run
from keras_drift.pipeline import verdicts_document
from keras_drift.store.verdicts import validate_verdicts

TOL = Tolerance("*", atol=1e-6, rtol=1e-3)


@pytest.mark.parametrize(
    ("value", "baseline", "verdict", "difference"),
    [
        (0.5, 0.5, "identical", 0.0),
        (0.5005, 0.5, "within_tolerance", 0.0005),
        (0.4, 0.5, "drift", -0.1),
        (5e-7, 0.0, "within_tolerance", 5e-7),  # atol alone carries a zero baseline
        (3, 3, "identical", 0.0),
        (4, 3, "drift", 1.0),  # integers are exact, whatever the tolerance
        ("accuracy", "accuracy", "identical", None),
        ("acc", "accuracy", "drift", None),
        (True, 1, "drift", None),  # a boolean is not the number 1
        (math.nan, math.nan, "identical", None),
        (math.nan, 0.5, "drift", None),
        (0.5, math.nan, "drift", None),
        (math.inf, math.inf, "identical", 0.0),
        (math.inf, 1e308, "drift", None),
        (None, 0.5, "drift", None),
    ],
)
def test_judge_applies_the_documented_rule(value, baseline, verdict, difference):
    got, absolute, _ = judge(value, baseline, Tolerance("*", 2e-6, 1e-3) if baseline == 0.0 else TOL)
    assert got == verdict
    if difference is None:
        assert absolute is None
    else:
        assert absolute == pytest.approx(difference)


def test_relative_difference_is_signed_and_scaled_by_the_baseline():
    assert judge(0.4, 0.5, TOL)[2] == pytest.approx(-0.2)
    assert judge(-0.6, -0.5, TOL)[2] == pytest.approx(-0.2)
    assert judge(1.0, 0.0, TOL)[2] is None


def test_compare_covers_every_environment_and_metric():
    results = [
        make_result("base", {"w": 0.6, "b": 0.8, "linear.defaults.w": 0.42}),
        make_result("same", {"w": 0.6, "b": 0.8000001, "linear.defaults.w": 0.42}),
        make_result("moved", {"w": 0.55, "b": 0.8}, errors={"linear.defaults": "TypeError: boom"}),
        make_result("broken", {}, status="failed", reason="install failed"),
        make_result("absent", {}, status="skipped", reason="no Python 3.6"),
    ]
    table = compare(results, "base", [TOL])
    verdict = {(row.env, row.metric): row.verdict for row in table.itertuples()}
    assert len(table) == 5 * 3
    assert verdict["same", "w"] == "identical" and verdict["same", "b"] == "within_tolerance"
    assert verdict["moved", "w"] == "drift" and verdict["moved", "linear.defaults.w"] == "failed"
    assert verdict["broken", "w"] == "failed" and verdict["absent", "b"] == "skipped"
    assert exit_code(table) == ExitCode.FAILED
    assert exit_code(table[table.env.isin(["base", "same"])]) == ExitCode.OK
    assert exit_code(table[table.env.isin(["base", "moved"]) & (table.metric == "w")]) == ExitCode.DRIFT


def test_a_metric_only_one_side_has_is_missing():
    table = compare([make_result("base", {"w": 1.0}), make_result("new", {"w": 1.0, "extra": 2.0})], "base", [TOL])
    assert table.set_index(["env", "metric"]).loc[("new", "extra"), "verdict"] == "missing"


def test_verdicts_document_is_json_ready_with_counts():
    results = [make_result("base", {"w": 0.5, "n": math.nan}), make_result("new", {"w": 0.4, "n": math.nan})]
    document = verdicts_document(judge_run(results, "base", [TOL]), results, "base", run_id="run-1")
    validate_verdicts(json.loads(json.dumps(document, allow_nan=False)), "verdicts.json")  # JSON-ready, and the schema holds
    row = document["environments"]["new"]["metrics"]["w"]
    evidence = row.pop("evidence")
    assert row == {"value": 0.4, "baseline": 0.5, "abs_diff": pytest.approx(-0.1), "rel_diff": pytest.approx(-0.2),
                   "tolerance": {"atol": 1e-6, "rtol": 1e-3}, "noise_floor": 0.0, "verdict": "drift", "cause": "unexplained",
                   "proof": "unexplained"}
    assert isinstance(evidence, str) and evidence  # nothing recorded differs, and the evidence says what was looked at
    assert document["environments"]["new"]["metrics"]["n"]["value"] == "NaN"
    assert document["counts"]["drift"] == 1 and document["counts"]["identical"] == 1
    assert document["exit_code"] == ExitCode.DRIFT and document["baseline"] == "base"


def test_packaged_tolerances_pick_the_first_matching_pattern():
    tolerances = load_tolerances()
    assert tolerance_for("classifier.defaults.epochs", tolerances).atol == 0.0
    assert tolerance_for("linear.reference.w", tolerances).pattern == "linear.*"
    assert tolerance_for("something.else", tolerances).pattern == "*"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[tolerance]]\npattern = '*'\natol = -1\nrtol = 0\n", "tolerance[0].atol: must be a finite number >= 0, got -1"),
        ("[[tolerance]]\npattern = '*'\natol = inf\nrtol = 0\n", "tolerance[0].atol: must be a finite number >= 0, got inf"),
        ("[[tolerance]]\npattern = '*'\natol = 0\nrtol = nan\n", "tolerance[0].rtol: must be a finite number >= 0, got nan"),
        ("tolerance = " + "[" * 100_000 + "]" * 100_000 + "\n", "nested more than 50 levels deep"),
        ("[[tolerance]]\npattern = '*'\natol = 0\n", "tolerance[0]: needs exactly the keys pattern, atol, rtol"),
        ("x = 1\n", "tolerance: expected one or more [[tolerance]] tables"),
        ("[[tolerance]\n", "cannot be read as TOML"),
    ],
)
def test_bad_tolerance_file_names_the_field(tmp_path, text, message):
    path = tmp_path / "tol.toml"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_tolerances(path)
    assert str(caught.value).startswith(str(path)) and message in str(caught.value)


def test_noise_floor_widens_the_tolerance_by_both_environments_spread():
    base = make_result("base", {"w": 0.5}, noise={"w": 0.01})
    wobbly = make_result("wobbly", {"w": 0.52}, noise={"w": 0.015})
    steady = make_result("steady", {"w": 0.53}, noise={"w": 0.0})
    table = compare([base, wobbly, steady], "base", [Tolerance("*", 0.0, 0.0)]).set_index("env")
    assert table.loc["wobbly", "noise_floor"] == pytest.approx(0.025)
    assert table.loc["wobbly", "verdict"] == "within_tolerance"  # |0.02| <= 0.01 + 0.015
    assert table.loc["steady", "verdict"] == "drift"  # |0.03| > 0.01 + 0


def test_exit_code_counts_failed_environments_even_without_metric_rows():
    results = [make_result("a", {}, status="failed", reason="x"), make_result("b", {}, status="failed", reason="y")]
    table = compare(results, "a", [TOL])
    assert table.empty and exit_code(table) == ExitCode.OK
    assert exit_code(table, results) == ExitCode.FAILED
