import json
import math

import pytest
from conftest import make_result

from keras_drift.store.results import InputError, Status, load_result, load_results, status_result, write_result


def test_result_round_trips_with_non_finite_values(tmp_path):
    result = make_result("env-a", {"loss": math.nan, "w": math.inf, "b": -math.inf, "epochs": 3, "name": "x"})
    result["series"] = {"linear.defaults": {"loss": [1.0, math.nan]}}
    path = write_result(result, tmp_path)
    assert path == tmp_path / "results" / "env-a.json"
    raw = json.loads(path.read_text())
    assert raw["metrics"]["loss"] == "NaN" and raw["metrics"]["w"] == "Infinity"
    loaded = load_result(path)
    assert math.isnan(loaded["metrics"]["loss"]) and loaded["metrics"]["b"] == -math.inf
    assert loaded["metrics"]["epochs"] == 3 and loaded["metrics"]["name"] == "x"
    assert math.isnan(loaded["series"]["linear.defaults"]["loss"][1])
    assert [p.name for p in path.parent.iterdir()] == ["env-a.json"]  # no temporary file left behind


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"schema_version": 1, "env": "a", "status": "ok", "metrics": {"w": ', "not valid JSON (truncated?)"),
        ('{"schema_version": 1, "env": "a", "status": "ok", "metrics": {"w": NaN}}', "not valid JSON"),
        ('{"schema_version": 1, "env": "a", "status": "done", "metrics": {}}', "status: 'done' is not one of"),
        ('{"schema_version": 1, "env": "a", "status": "ok", "metrics": {"w": [1]}}', "metrics/w: [1] is not of type"),
        ('{"schema_version": 1, "env": "a", "status": "ok"}', "(top level): 'metrics' is a required property"),
        ('{"schema_version": 7, "env": "a", "status": "ok", "metrics": {}}', "schema_version: 7 is newer than this keras-drift understands (1)"),
        ("[]", "(top level): [] is not of type 'object'"),
    ],
)
def test_bad_result_file_names_file_and_field(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(InputError) as caught:
        load_result(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_load_results_needs_a_results_folder(tmp_path):
    with pytest.raises(InputError, match="no results folder"):
        load_results(tmp_path)
    write_result(make_result("b", {}), tmp_path)
    write_result(make_result("a", {}), tmp_path)
    assert [r["env"] for r in load_results(tmp_path)] == ["a", "b"]


def test_a_status_is_a_status_in_code_and_its_text_in_the_file(tmp_path):
    path = write_result(status_result("env-a", Status.SKIPPED, "no wheel for this Python"), tmp_path)
    assert json.loads(path.read_text())["status"] == "skipped"
    loaded = load_result(path)
    assert loaded.status is Status.SKIPPED and loaded.status == "skipped" and f"{loaded.status}" == "skipped"
    assert not loaded.ok and load_result(write_result(make_result("env-b", {}), tmp_path)).ok
    assert status_result("env-c", "failed", "it died").status is Status.FAILED  # its value does as well
    with pytest.raises(ValueError, match="'done' is not a valid Status"):
        status_result("env-d", "done", "")
