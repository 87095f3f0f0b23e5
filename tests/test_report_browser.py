"""The report in a real browser: loads nothing, logs no error, shows the verdict, every env and the plots."""

from browser import open_report
from test_report import EVIL, _results

from keras_drift.attribute import attribute
from keras_drift.compare import Tolerance, compare
from keras_drift.report import render


def test_report_in_headless_chromium(tmp_path):
    results = _results()
    verdicts = attribute(compare(results, "tf-2.15", [Tolerance("*", 1e-6, 1e-5)]), results, "tf-2.15")
    report = render(results, verdicts, "tf-2.15", {"run_id": "r1"}, tmp_path / "report.html")
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
    report = render(results, verdicts, "tf-2.15", {"run_id": "r1"}, tmp_path / "report.html")
    printed = print_report(report)
    assert printed.clipped == []
    assert printed.page_texts and all(text.strip() for text in printed.page_texts), "no blank page"
    assert "keras-drift report" in printed.page_texts[0]
