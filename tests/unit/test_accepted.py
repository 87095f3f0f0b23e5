"""Accepted drifts: a reviewed file turns known drifts grey without hiding them; a new cause, a stale or an
expired entry is never silent."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
from conftest import PROJECT_ROOT, make_result

from keras_drift.cli import main
from keras_drift.errors import InputError
from keras_drift.judge.accepted import Acceptance, load_acceptances, review
from keras_drift.store.results import write_result

TODAY = dt.date(2026, 11, 23)


def rows(*entries):
    return pd.DataFrame([{"env": env, "metric": metric, "verdict": verdict, "cause": cause} for env, metric, verdict, cause in entries],
                        dtype=object)


def test_a_drift_is_accepted_only_for_the_cause_it_was_accepted_for():
    verdicts = rows(("jax", "linear.defaults.w", "drift", "random_stream"), ("jax", "optimizer.explicit.Nadam.w0", "drift", "numerics"),
                    ("torch", "linear.defaults.w", "drift", "random_stream"), ("jax", "linear.reference.w", "identical", None))
    entries = [Acceptance("jax", "*", "random_stream", "backend streams"), Acceptance("torch", "*", "numerics", "never matches"),
               Acceptance("*", "gone.*", "random_stream", "old", expires=dt.date(2026, 1, 1))]
    judged = review(verdicts, entries, today=TODAY)
    assert list(judged.verdicts["verdict"]) == ["accepted", "drift", "drift", "identical"]
    assert list(judged.verdicts["accepted_reason"]) == ["backend streams", None, None, None]
    assert judged.stale == (entries[1],)  # torch drifts, but for another cause
    assert judged.expired == (entries[2],)


def test_an_entry_is_stale_only_where_the_run_compared_what_it_names():
    verdicts = rows(("base", "w", "identical", None), ("jax", "w", "within_tolerance", None), ("jax", "v", "failed", None),
                    ("jax", "u", "drift", "numerics"))
    entries = [Acceptance("jax", "w", "numerics", "compared, no longer drifts"),
               Acceptance("tf-2.12", "*", "numerics", "an environment this run left out"),
               Acceptance("jax", "task.*", "numerics", "a task this run left out"),
               Acceptance("jax", "v", "numerics", "failed here: nothing to judge"),
               Acceptance("base", "w", "numerics", "the baseline is never a candidate"),
               Acceptance("jax", "u", "numerics", "reviewed against another baseline", baseline="tf-2.*")]
    judged = review(verdicts, entries, baseline="base", today=TODAY)
    assert judged.stale == (entries[0],)
    assert list(judged.verdicts["verdict"]) == ["identical", "within_tolerance", "failed", "drift"]  # tf-2.* is not 'base'
    matching = review(verdicts, entries, baseline="tf-2.15", today=TODAY)
    assert list(matching.verdicts["verdict"])[-1] == "accepted"


def test_a_glob_naming_a_project_environment_the_run_left_out_is_not_stale():
    # keras-3.15-jax compared the GRU without drift; keras-3.15-tf, which the entry is for, was not in this run
    verdicts = rows(("tf-2.15", "gru.loss", "identical", None), ("keras-3.15-jax", "gru.loss", "identical", None))
    entries = [Acceptance("keras-3.15-*", "gru.*", "numerics", "Keras 3's GRU"), Acceptance("keras-3.15-jax", "gru.*", "numerics", "jax only")]
    project = ["tf-2.15", "keras-3.15-jax", "keras-3.15-tf-2.21"]
    assert review(verdicts, entries, baseline="tf-2.15", today=TODAY, environments=project).stale == (entries[1],)
    everyone = pd.concat([verdicts, rows(("keras-3.15-tf-2.21", "gru.loss", "within_tolerance", None))], ignore_index=True)
    assert review(everyone, entries, baseline="tf-2.15", today=TODAY, environments=project).stale == tuple(entries)
    assert review(verdicts, entries, baseline="tf-2.15", today=TODAY).stale == tuple(entries)  # no project list: the run is all


def test_an_expired_entry_accepts_nothing():
    judged = review(rows(("jax", "w", "drift", "random_stream")), [Acceptance("*", "*", "random_stream", "r", dt.date(2026, 11, 22))], today=TODAY)
    assert list(judged.verdicts["verdict"]) == ["drift"] and len(judged.expired) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[accept]]\nenv = 'x'\nmetric = '*'\ncause = 'luck'\nreason = 'r'\n",
         "accept[0].cause: 'luck' is not one of api, defaults, random_stream, metric_semantics, numerics, environment, unexplained"),
        ("[[accept]]\nenv = 'x'\nmetric = '*'\ncause = 'numerics'\n", "accept[0].reason: is required, a non-empty string"),
        ("[[accept]]\nenv = 'x'\nmetric = '*'\ncause = 'numerics'\nreason = 'r'\nexpires = 'soon'\n",
         "accept[0].expires: must be a date such as 2027-06-30"),
        ("[[accept]]\nenv = 'x'\nmetric = '*'\ncause = 'numerics'\nreason = 'r'\nowner = 'me'\n", "accept[0].owner: unknown key"),
        ("[[accept]]\nenv = 'x'\nmetric = '*'\ncause = 'numerics'\nreason = 'r'\nbaseline = 2\n",
         "accept[0].baseline: must be a non-empty string"),
        ("accept = 1\n", "accept: must be a list of [[accept]] tables"),
        ("[[accept]\n", "cannot be read as TOML"),
    ],
)
def test_a_bad_entry_is_one_line_naming_file_and_field(tmp_path, text, message):
    path = tmp_path / "accepted.toml"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_acceptances(path)
    assert str(caught.value).startswith(f"{path}: ") and message in str(caught.value)


def test_the_shipped_file_is_valid_and_every_entry_says_why():
    entries = load_acceptances(PROJECT_ROOT / "accepted.toml")
    assert entries and all(len(entry.reason) > 30 for entry in entries)
    assert any(entry.cause == "random_stream" and entry.env == "keras-3.15-*" for entry in entries)


@pytest.fixture
def drifting_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "reports" / "20260101T000000Z-abcdef"
    write_result(make_result("base", {"w": 0.6, "b": 0.8}), run)
    write_result(make_result("cand", {"w": 0.5, "b": 0.8}), run)  # nothing recorded differs: cause unexplained
    (run / "run.json").write_text(json.dumps({"run_id": run.name, "baseline": "base", "environments": ["base", "cand"]}))
    return run


def test_accept_then_report_and_gate_pass_with_the_drift_shown(drifting_run, capsys):
    assert main(["report", str(drifting_run)]) == 1
    assert main(["accept", str(drifting_run), "--env", "cand", "--reason", "reviewed: the new default is intended"]) == 0
    assert load_acceptances(drifting_run.parents[1] / "accepted.toml") == [
        Acceptance("cand", "*", "unexplained", "reviewed: the new default is intended", baseline="base")]
    assert main(["report", str(drifting_run)]) == 0
    row = json.loads((drifting_run / "verdicts.json").read_text())["environments"]["cand"]["metrics"]["w"]
    assert row["verdict"] == "accepted" and row["accepted_reason"] == "reviewed: the new default is intended" and row["cause"] == "unexplained"
    html = (drifting_run / "report.html").read_text()
    assert "unexplained: reviewed: the new default is intended" in html and "1 accepted drift in 1 environment" in html
    assert main(["gate", str(drifting_run)]) == 0
    (drifting_run.parents[1] / "accepted.toml").unlink()  # without the entry, the same run drifts again
    assert main(["gate", str(drifting_run)]) == 1


def test_a_stale_entry_is_reported_and_an_expired_one_fails_naming_it(drifting_run, capsys):
    file = drifting_run.parents[1] / "accepted.toml"
    file.write_text("[[accept]]\nenv = 'cand'\nmetric = '*'\ncause = 'unexplained'\nreason = 'reviewed'\n"
                    "[[accept]]\nenv = 'cand'\nmetric = 'b'\ncause = 'numerics'\nreason = 'left over'\n"
                    "[[accept]]\nenv = 'other'\nmetric = '*'\ncause = 'numerics'\nreason = 'not in this run'\n")
    capsys.readouterr()
    assert main(["report", str(drifting_run)]) == 0
    assert ("keras-drift: warning: accepted drift is stale (no drift matches it any more; remove it): "
            "env 'cand', metric 'b', cause numerics: left over") in (err := capsys.readouterr().err)
    assert "not in this run" not in err
    file.write_text("[[accept]]\nenv = 'cand'\nmetric = '*'\ncause = 'unexplained'\nreason = 'until the fix'\nexpires = 2020-01-01\n")
    assert main(["report", str(drifting_run)]) == 1
    err = capsys.readouterr().err
    assert ("accepted drift expired (the run fails until it is renewed or removed): env 'cand', metric '*', cause unexplained, "
            "until 2020-01-01: until the fix") in err
    assert json.loads((drifting_run / "verdicts.json").read_text())["acceptances"]["expired"]
    assert main(["gate", str(drifting_run)]) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--env", "nope", "--reason", "r"], "--env: 'nope' is not among the results in"),
        (["--env", "cand", "--reason", "  "], "--reason: say in words why this drift is accepted"),
        (["--env", "cand", "--reason", "r", "--metric", "zzz*"], "--metric: no metric of cand matching 'zzz*' drifts in"),
        (["--env", "cand", "--reason", "r", "--expires", "soon"], "--expires: 'soon' is not a date such as 2027-06-30"),
    ],
)
def test_accept_refuses_what_it_cannot_record(drifting_run, capsys, args, message):
    assert main(["accept", str(drifting_run), *args]) == 3
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (drifting_run.parents[1] / "accepted.toml").exists()
