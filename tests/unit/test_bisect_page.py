"""The bisect's terminal lines and page, from a hand-written ``bisect.json`` (checked against its schema)."""

from __future__ import annotations

import pytest

from keras_drift.render import bisect_page
from keras_drift.store.results import validate_document


def entry(version, verdict, families=(), reason="", step=1):
    return {"version": version, "verdict": verdict, "differing_families": list(families), "env": f"e-{version}",
            "result": f"results/e-{version}.json" if verdict != "untried" else None, "cached_from": None, "reason": reason,
            "step": step if verdict != "untried" else None,
            "install": {"strategy": "the good end's pins and lock", "companions": {"numpy": ["1.23.5", "1.24.0"]}}}


@pytest.fixture
def document():
    finding = {"cause": "defaults", "evidence": "re-running with fit.epochs=100 brings it back", "proof": "proven",
               "metrics": ["classifier.defaults.epochs"]}
    return {
        "schema_version": 1, "run_id": "20261124T000000Z-abcdef", "package": "keras", "good": {"env": "g", "version": "1.0"},
        "bad": {"env": "b", "version": "1.4"}, "sources": [{"url": "https://pypi.org/simple", "named_by": "the default index (PyPI)"}],
        "metric_glob": "*", "pre": False, "metrics": ["classifier.defaults.epochs", "optimizer.defaults.Adam.w0"],
        "families": ["classifier", "optimizer"], "tasks": ["classifier.defaults", "optimizer.defaults.Adam"], "steps": 2,
        "versions": [entry("1.0", "good", step=0), entry("1.1", "untestable", reason="cannot be installed: <script>x</script>"),
                     entry("1.2", "bad", ["classifier"]), entry("1.3", "untried"), entry("1.4", "bad", ["classifier", "optimizer"], step=0)],
        "boundaries": [
            {"family": "classifier", "last_good": "1.0", "first_bad": "1.2", "exact": False, "untestable_between": ["1.1"],
             "notes": {"1.1": "https://pypi.org/project/keras/1.1/", "1.2": None},
             "metrics": [{"metric": "classifier.defaults.epochs", "last_good_value": 100, "first_bad_value": 10, "rel_diff": -0.9}],
             "findings": [finding], "localisation": {"classifier.defaults": "every layer's output and every gradient agree"}},
            {"family": "optimizer", "last_good": "1.2", "first_bad": "1.4", "exact": True, "untestable_between": [],
             "notes": {"1.4": "https://pypi.org/project/keras/1.4/"},
             "metrics": [{"metric": "optimizer.defaults.Adam.w0", "last_good_value": 0.5, "first_bad_value": "NaN", "rel_diff": "NaN"}],
             "findings": [], "localisation": {}},
        ],
        "wall_s": 61.2,
    }


def test_one_line_per_family_then_the_cost(document):
    validate_document(document, "bisect", "bisect.json")
    assert bisect_page.summary_lines(document) == [
        "classifier: first bad release keras 1.2 or one of the untestable 1.1 (last good 1.0), 1 metric(s): defaults (proven)",
        "optimizer: first bad release keras 1.4 (last good 1.2), 1 metric(s)",
        "3 release(s) between 1.0 and 1.4; probed 2 of them in 2 step(s), untestable: 1.1; 61 s",
    ]
    assert bisect_page.evidence_lines(document["boundaries"][0]) == [
        "defaults (proven, 1 metric(s)): re-running with fit.epochs=100 brings it back"]
    headlines = bisect_page.summary_lines(document)
    assert bisect_page.terminal_lines(document) == [
        headlines[0], "  defaults (proven, 1 metric(s)): re-running with fit.epochs=100 brings it back", headlines[1], headlines[2]]


def test_nothing_drifting_says_only_the_ends_were_probed(document):
    document.update(families=[], metrics=[], boundaries=[], steps=0, metric_glob="classifier.*",
                    versions=[entry("1.0", "good", step=0), entry("1.1", "untried"), entry("1.2", "bad", step=0)])
    assert bisect_page.summary_lines(document)[0] == (
        "keras 1.0 -> 1.4: nothing matching 'classifier.*' drifts between g and b; probed only the two ends")


def test_the_timeline_marks_each_family_and_its_first_bad_release(document):
    rows = {row["family"]: row["cells"] for row in bisect_page.timeline(document)}
    assert [cell["mark"] for cell in rows["classifier"]] == ["good", "untestable", "bad", "untried", "bad"]
    assert [cell["mark"] for cell in rows["optimizer"]] == ["good", "untestable", "good", "untried", "bad"]
    assert [cell["first_bad"] for cell in rows["optimizer"]] == [False, False, False, False, True]


def test_the_page_escapes_what_it_was_told_and_loads_nothing(document, tmp_path):
    html = bisect_page.render(document, tmp_path / "bisect.html").read_text()
    assert "<script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert 'href="https://pypi.org/project/keras/1.1/"' in html and "1.2 (the index has no metadata link)" in html
    assert "numpy 1.23.5 → 1.24.0" in html and 'href="../report.html"' in html
    assert " src=" not in html and "<link" not in html
