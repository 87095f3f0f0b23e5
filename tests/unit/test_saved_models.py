"""The saved-model rules (keras_drift.judge.saved_models), the user-file config, and how the pipeline and the
report carry them: synthetic load attempts, each rule's case by hand."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import make_result

from keras_drift import pipeline
from keras_drift.errors import ExitCode, InputError
from keras_drift.judge import saved_models
from keras_drift.judge.accepted import Acceptance
from keras_drift.judge.compare import Tolerance
from keras_drift.render import report
from keras_drift.store.results import validate
from keras_drift.store.verdicts import validate_verdicts
from probe.saving import optimizer_outcome

TOLERANCES = [Tolerance("*", 1e-6, 1e-5)]
SAVED = {"m": {"predictions": [[0.5], [2.0]], "formats": {}}}


def attempt(source, direction, fmt="h5", method="load_model", loaded=True, diff=0.0, optimizer="intact", trains=True, error=None):
    return {"source": source, "direction": direction, "task": "m", "format": fmt, "method": method, "loaded": loaded,
            "error": error, "cause": None, "max_abs_diff": diff if loaded else None, "evaluate_diff": 0.0 if loaded else None,
            "optimizer": optimizer if loaded else None, "optimizer_detail": "detail", "trains": trains if loaded else None,
            "train_error": None if trains else "ValueError: cannot train", "seconds": 0.1}


def results(base_loads, new_loads, new_metrics=None):
    return [make_result("base", {"x": 1.0}, artifacts=SAVED, loads=base_loads),
            make_result("new", new_metrics or {"x": 1.0}, artifacts=SAVED, loads=new_loads)]


def test_an_upgrade_failure_where_the_baseline_loads_its_own_file_is_a_drift_naming_what_loads():
    found = results([attempt("base", "control"), attempt("base", "control", "weights", "rebuild+load_weights")],
                    [attempt("base", "upgrade", loaded=False, error="ValueError: Unrecognized keyword arguments passed to GRU"),
                     attempt("base", "upgrade", "weights", "rebuild+load_weights", diff=1e-7)])
    judged = saved_models.judge(found, "base", TOLERANCES)
    rows = judged.verdict_rows.set_index("metric")
    failed = rows.loc["saved.m.h5.load_model"]
    assert (failed["env"], failed["verdict"], failed["cause"], failed["proof"]) == ("new", "drift", "api", "proven")
    assert failed["evidence"] == ("fails: ValueError: Unrecognized keyword arguments passed to GRU; "
                                  "works: weights (build the architecture in code and load_weights)")
    # 1e-7 is within 1e-6 + 1e-5 * max|saved| (2.0): within tolerance, not identical
    assert rows.loc["saved.m.weights.rebuild+load_weights", "verdict"] == "within_tolerance"


def test_an_upgrade_the_baseline_cannot_round_trip_itself_is_not_judged():
    found = results([attempt("base", "control", loaded=False, error="OSError: no")],
                    [attempt("base", "upgrade", loaded=False, error="OSError: no")])
    assert saved_models.judge(found, "base", TOLERANCES).verdict_rows.empty


@pytest.mark.parametrize(("diff", "verdict"), [(0.0, "identical"), (2.1e-5, "within_tolerance"), (2.2e-5, "drift")])
def test_predictions_are_equal_within_atol_plus_rtol_of_the_largest_saved_value(diff, verdict):
    # allowed: 1e-6 + 1e-5 * 2.0 = 2.1e-5
    found = results([attempt("base", "control")], [attempt("base", "upgrade", diff=diff)])
    row = saved_models.judge(found, "base", TOLERANCES).verdict_rows.iloc[0]
    assert row["verdict"] == verdict
    assert (row["value"] == "differs") == (verdict == "drift")


def test_lost_optimizer_state_and_training_are_behaviour_changes_not_drifts():
    found = results([attempt("base", "control")], [attempt("base", "upgrade", optimizer="lost", trains=False)])
    judged = saved_models.judge(found, "base", TOLERANCES)
    assert judged.verdict_rows.iloc[0]["verdict"] == "identical"
    assert judged.behaviours[["env", "kind", "key", "baseline_value", "value"]].values.tolist() == [
        ["new", "saved", "saved.m.h5.load_model.optimizer", "intact", "lost"],
        ["new", "saved", "saved.m.h5.load_model.trains", "trains", "cannot train"]]


def test_a_rollback_failure_of_a_file_the_candidate_loads_itself_is_the_candidates_behaviour_change():
    found = results([attempt("new", "rollback", loaded=False, error="TypeError: Could not deserialize")], [attempt("new", "control")])
    behaviours = saved_models.judge(found, "base", TOLERANCES).behaviours
    assert behaviours[["env", "key", "value"]].values.tolist() == [
        ["new", "saved.m.h5.load_model.rollback", "base fails: TypeError: Could not deserialize"]]


def test_a_round_trip_that_fails_in_the_candidate_and_works_in_the_baseline_is_a_behaviour_change():
    found = results([attempt("base", "control")], [attempt("new", "control", loaded=False, error="ValueError: mse")])
    behaviours = saved_models.judge(found, "base", TOLERANCES).behaviours
    assert behaviours[["env", "key", "baseline_value", "value"]].values.tolist() == [
        ["new", "saved.m.h5.load_model.control", "round trip loads", "fails: ValueError: mse"]]


def test_the_pipeline_fails_on_an_upgrade_drift_and_an_acceptance_accepts_it():
    found = results([attempt("base", "control")], [attempt("base", "upgrade", loaded=False, error="ValueError: x")])
    judged = pipeline.judge(found, "base", TOLERANCES)
    assert pipeline.exit_code(judged, found) == ExitCode.DRIFT
    accepted = pipeline.judge(found, "base", TOLERANCES, acceptances=[Acceptance("new", "saved.*", "api", "reviewed: we rebuild in code")])
    assert pipeline.exit_code(accepted, found) == ExitCode.OK
    document = pipeline.verdicts_document(accepted, found, "base", run_id="run")
    validate_verdicts(document, "verdicts.json")
    assert document["environments"]["new"]["metrics"]["saved.m.h5.load_model"]["verdict"] == "accepted"
    assert [row["outcome"] for row in document["artifacts"]["attempts"]] == ["loads", "fails"]


def test_a_saved_behaviour_change_fails_the_run_only_when_behaviour_is_gated():
    found = results([attempt("base", "control")], [attempt("base", "upgrade", optimizer="reset")])
    judged = pipeline.judge(found, "base", TOLERANCES)
    assert pipeline.exit_code(judged, found) == ExitCode.OK
    assert pipeline.exit_code(judged, found, ("behaviour",)) == ExitCode.DRIFT


def test_results_with_artifacts_and_loads_match_the_result_schema():
    for result in results([attempt("base", "control")], [attempt("base", "upgrade", loaded=False, error="E")]):
        validate(dict(result, load_phase={"status": "ok", "reason": "", "sources": ["base"]}), "result.json")


def test_user_files_are_judged_against_the_reference_environment():
    found = [make_result(env, {}, user_models=[{"name": "churn", "reference": "base", "loaded": loaded, "shape": [2, 1],
                                                "predictions": predictions, "error": None if loaded else "OSError: truncated"}])
             for env, loaded, predictions in (("base", True, [0.25, 0.5]), ("new", True, [0.25, 0.5 + 3e-6]), ("bad", False, None))]
    table = saved_models.user_model_table(found).set_index("env")
    assert table.loc["base", "outcome"] == "reference"
    assert table.loc["new", "outcome"] == "loads" and table.loc["new", "max_abs_diff"] == pytest.approx(3e-6)
    assert table.loc["bad", "outcome"] == "fails"
    rows = saved_models.judge(found, "base", TOLERANCES).verdict_rows.set_index("env")
    assert rows.loc["new", "verdict"] == "drift"  # 3e-6 > atol 1e-6
    assert rows.loc["bad", "verdict"] == "drift" and rows.loc["bad", "evidence"] == "fails: OSError: truncated"


def write_config(tmp_path, text):
    path = tmp_path / "project" / saved_models.DEFAULT_FILE
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


ENTRY = '[[model]]\nname = "churn"\npath = "{path}"\ninput = "x.npy"\nreference = "tf-2.15"\n'


def test_the_config_resolves_paths_below_its_folder_and_marks_missing_and_outside_files(tmp_path):
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "x.npy").write_bytes(b"")
    (tmp_path / "project" / "churn.h5").write_bytes(b"")
    (tmp_path / "elsewhere.h5").write_bytes(b"")
    path = write_config(tmp_path, ENTRY.format(path="churn.h5") + ENTRY.replace("churn", "far").format(path="../elsewhere.h5")
                        + ENTRY.replace("churn", "gone").format(path="gone.h5"))
    good, outside, missing = saved_models.load_user_models(path)
    assert good.problem is None and good.path == (tmp_path / "project" / "churn.h5").resolve()
    assert outside.problem == f"{path}: model[1].path: '../elsewhere.h5' is outside {path.parent.resolve()}; only files below it are loaded"
    assert missing.problem == f"{path}: model[2].path: 'gone.h5' does not exist"
    assert outside.failed()["loaded"] is False and outside.failed()["error"] == outside.problem


@pytest.mark.parametrize(("text", "message"), [
    ("[[model]]\nname = 'a'\n", "model[0]: input: missing"),
    (ENTRY.format(path="a.h5").replace('reference = "tf-2.15"', "reference = 3"), "model[0].reference: must be a non-empty string"),
    (ENTRY.format(path="a.h5") * 2, "model[1].name: 'churn' must be unique"),
    ("[model]\nname = 'a'\n", "model: must be a list of [[model]] tables"),
    ("[[models]]\n", "models: unknown key"),
    ("[[model\n", "cannot be read as TOML"),
])
def test_a_malformed_config_is_one_line_naming_the_file_and_the_field(tmp_path, text, message):
    path = write_config(tmp_path, text)
    with pytest.raises(InputError) as raised:
        saved_models.load_user_models(path)
    assert str(raised.value).startswith(str(path)) and message in str(raised.value) and "\n" not in str(raised.value)


def test_no_config_file_lists_no_models(tmp_path):
    assert saved_models.load_user_models(tmp_path / "absent.toml") == []


@pytest.mark.parametrize(("saved", "loaded", "word"), [
    (None, None, None),
    ({"class": "Adam", "iterations": 3, "slots": [[[2], 1.0]]}, None, "none"),
    ({"class": "Adam", "iterations": 3, "slots": [[[2], 1.0]]}, {"class": "RMSprop", "iterations": 0, "slots": []}, "changed"),
    ({"class": "Adam", "iterations": 3, "slots": [[[2], 1.0]]}, {"class": "Adam", "iterations": 0, "slots": [[[2], 1.0]]}, "reset"),
    ({"class": "Adam", "iterations": 3, "slots": [[[2], 1.0]]}, {"class": "Adam", "iterations": 3, "slots": []}, "lost"),
    ({"class": "Adam", "iterations": 3, "slots": [[[2], 1.0]]}, {"class": "Adam", "iterations": 3, "slots": [[[2], 1.001]]}, "differs"),
    ({"class": "Adam", "iterations": 3, "slots": [[[2], 1.0]]}, {"class": "Adam", "iterations": 3, "slots": [[[2], 1.00001]]}, "intact"),
])
def test_the_optimizer_state_comes_back_intact_only_with_its_class_iterations_and_slots(saved, loaded, word):
    assert optimizer_outcome(saved, loaded)[0] == word


def test_the_report_puts_upgrade_first_and_shows_a_failures_line_below_its_cell():
    found = results([attempt("base", "control"), attempt("new", "rollback", loaded=False, error="TypeError: x")],
                    [attempt("new", "control"), attempt("base", "upgrade", loaded=False, error="ValueError: y"),
                     attempt("base", "upgrade", "weights", "rebuild+load_weights", optimizer=None)])
    section = report.saved_model_matrices(saved_models.judge(found, "base", TOLERANCES))
    model = section["models"][0]
    assert [column["direction"] for column in model["columns"]] == ["upgrade", "rollback", "control", "control"]
    h5 = next(line for line in model["lines"] if line["format"] == "h5")
    assert [(cell["outcome"], cell["class"], cell["below"]) for cell in h5["cells"]] == [
        ("fails", "fails", "ValueError: y"), ("fails", "fails", "TypeError: x"), ("loads", "loads", ""), ("loads", "loads", "")]
    assert model["paths"] == ["base → new: what loads: weights (build the architecture in code and load_weights)"]


def test_acceptance_dates_still_apply_to_saved_drifts():
    found = results([attempt("base", "control")], [attempt("base", "upgrade", loaded=False, error="ValueError: x")])
    expired = Acceptance("new", "saved.*", "api", "old", dt.date(2000, 1, 1))
    judged = pipeline.judge(found, "base", TOLERANCES, acceptances=[expired])
    assert pipeline.exit_code(judged, found) == ExitCode.DRIFT and judged.expired == (expired,)


def test_a_method_the_baseline_does_not_have_is_not_a_rollback_failure():
    skipped = dict(attempt("new", "rollback", "savedmodel", "TFSMLayer", loaded=False), skipped="no layers.TFSMLayer in Keras 2.15.0")
    found = results([skipped], [attempt("new", "control", "savedmodel", "TFSMLayer")])
    assert saved_models.judge(found, "base", TOLERANCES).behaviours.empty


def test_a_failure_says_its_error_and_the_cause_keras_wrapped():
    failed = dict(attempt("base", "upgrade", loaded=False, error="TypeError: Could not deserialize class 'Functional'"),
                  cause="ModuleNotFoundError: No module named 'keras.src.engine'")
    assert saved_models.attempt_outcome(failed, [[0.5]], TOLERANCES[0]) == (
        "fails", "TypeError: Could not deserialize class 'Functional' (caused by ModuleNotFoundError: No module named 'keras.src.engine')")


def test_the_attempts_do_not_depend_on_the_order_of_the_results():
    found = results([attempt("base", "control"), attempt("new", "rollback", loaded=False, error="E")],
                    [attempt("new", "control"), attempt("base", "upgrade")])
    forward = saved_models.judge(found, "base", TOLERANCES)
    backward = saved_models.judge(found[::-1], "base", TOLERANCES)
    assert forward.attempts.equals(backward.attempts) and forward.verdict_rows.equals(backward.verdict_rows)
