"""The report in a real browser: loads nothing, logs no error, shows the verdict, every env and the plots."""

from browser import open_report
from test_report import EVIL, _results

from keras_drift.judge.attribute import attribute
from keras_drift.judge.compare import Tolerance, compare
from keras_drift.render.report import render


def test_report_in_headless_chromium(tmp_path):
    results = _results()
    verdicts = attribute(compare(results, "tf-2.15", [Tolerance("*", 1e-6, 1e-5)]), results, "tf-2.15")
    report = render(results, verdicts, baseline="tf-2.15", run_info={"run_id": "r1"}, out=tmp_path / "report.html")
    check = open_report(report, "constructed-report")
    assert check.console_errors == []
    assert check.requests == [report.resolve().as_uri()], "the report must request nothing but itself"
    assert check.verdict.startswith("1 of 2 metrics drift across 1 of 2 environments against tf-2.15")
    for name in ("tf-2.15", "keras-jax", "broken"):
        assert name in check.text
    assert EVIL in check.text  # shown as text, never run: a script would have logged or requested
    assert len(check.svg_sizes) == 1 and all(w > 300 and h > 100 for w, h in check.svg_sizes)
    assert not check.overflows_narrow, "wide tables must scroll inside their box in a narrow window"


def test_printed_report_has_no_clipped_table_and_no_blank_page(tmp_path):
    from browser import print_report

    results = _results()
    verdicts = attribute(compare(results, "tf-2.15", [Tolerance("*", 1e-6, 1e-5)]), results, "tf-2.15")
    report = render(results, verdicts, baseline="tf-2.15", run_info={"run_id": "r1"}, out=tmp_path / "report.html")
    printed = print_report(report)
    assert printed.clipped == []
    assert printed.page_texts and all(text.strip() for text in printed.page_texts), "no blank page"
    assert "keras-drift report" in printed.page_texts[0]


def test_a_wide_saved_models_section_scrolls_on_screen_and_fits_the_printed_page(tmp_path):
    from browser import print_report
    from conftest import make_result
    from test_saved_models import SAVED, TOLERANCES, attempt

    from keras_drift.judge import saved_models

    envs = ["tf-2.15", *(f"keras-3.15-candidate-{index}" for index in range(5))]
    error = "TypeError: Could not deserialize class 'Functional' because its parent module keras.src.engine.functional cannot be imported"
    results = [make_result(envs[0], {"x": 1.0}, artifacts=SAVED,
                           loads=[attempt(envs[0], "control")] + [attempt(env, "rollback", loaded=False, error=error) for env in envs[1:]])]
    results += [make_result(env, {"x": 1.0}, artifacts=SAVED, loads=[attempt(env, "control"), attempt(envs[0], "upgrade", loaded=False, error=error)])
                for env in envs[1:]]
    saved = saved_models.judge(results, envs[0], TOLERANCES)
    verdicts = attribute(compare(results, envs[0], TOLERANCES), results, envs[0])
    report = render(results, verdicts, baseline=envs[0], run_info={"run_id": "r1"}, out=tmp_path / "report.html", saved=saved)
    check = open_report(report, "saved-models-report")
    assert check.console_errors == [] and "Saved models" in check.text and error in check.text
    assert not check.overflows_narrow
    assert print_report(report).clipped == []


def test_the_first_screen_answers_the_question_without_scrolling(tmp_path):
    """At 1280 x 800: the headline in words, the grid of environments, and the first finding (why the first
    environment drifts) are all above the fold."""
    from browser import first_screen

    from keras_drift import pipeline
    from keras_drift.judge.overview import overview

    results = _results()
    judged = pipeline.judge(results, "tf-2.15", [Tolerance("*", 1e-6, 1e-5)])
    screen = overview(results, judged, "tf-2.15")
    assert screen.headline.startswith("1 environment(s) failed") and not screen.clean
    report = render(results, judged.verdicts, baseline="tf-2.15", run_info={"run_id": "r1"}, out=tmp_path / "report.html", first_screen=screen)
    bottoms = first_screen(report, "first-screen", ("p.headline", "table.glance", "li.cause-line"))
    assert all(bottom is not None and bottom <= 800 for bottom in bottoms.values()), bottoms
