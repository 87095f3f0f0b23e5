"""History across runs: sparklines, 'new since the last run', retention, and a year of runs in seconds."""

import datetime as dt
import itertools
import json

import numpy as np
import pytest
from conftest import make_result

from keras_drift.cli import main
from keras_drift.render.report import sparkline
from keras_drift.store.history import load_history, write_history
from keras_drift.store.results import write_result
from keras_drift.store.runs import new_run_dir

_SECONDS = itertools.count()


@pytest.fixture(autouse=True)
def outside_the_project(tmp_path, monkeypatch):
    """Run each command away from the project's own accepted.toml, whose entries match nothing here."""
    monkeypatch.chdir(tmp_path)


def one_second_later() -> dt.datetime:
    """A clock for run ids that moves one second per call, so runs made in a row sort in order."""
    return dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=next(_SECONDS))


def nightly(reports, values, incomplete=False):
    """One finished run with results for base and cand, rendered like a real one."""
    run = new_run_dir(reports, clock=one_second_later)
    write_result(make_result("base", {"w": 0.6}), run)
    write_result(make_result("cand", {"w": values}), run)
    (run / "run.json").write_text(json.dumps({"run_id": run.name, "baseline": "base", "incomplete": incomplete}))
    return run


def test_new_drift_since_last_run_leads_the_report(tmp_path):
    reports = tmp_path / "reports"
    first = nightly(reports, 0.6)
    assert main(["report", str(first)]) == 0
    nightly(reports, 0.6, incomplete=True)  # an interrupted run is not history
    second = nightly(reports, 0.55)
    assert main(["report", str(second)]) == 1
    verdicts = json.loads((second / "verdicts.json").read_text())
    assert verdicts["new_since_last_run"] == [{"env": "cand", "metric": "w", "previous_verdict": "identical"}]
    html = (second / "report.html").read_text()
    assert html.index("New since the last run") < html.index("Why they drift")
    assert "last run it was identical" in html and 'class="spark"' in html
    third = nightly(reports, 0.55)
    assert main(["report", str(third)]) == 1
    assert json.loads((third / "verdicts.json").read_text())["new_since_last_run"] == []  # not new any more


def test_history_reads_only_earlier_finished_runs(tmp_path):
    reports = tmp_path / "reports"
    runs = [nightly(reports, value) for value in (0.6, 0.61, 0.62)]
    codes = [main(["report", str(run), "--history", "0"]) for run in runs]
    assert codes == [0, 1, 1]  # 0.61 and 0.62 drift from the baseline's 0.6
    past = load_history(reports, current=runs[2], window=5)
    assert past.run_ids == [runs[0].name, runs[1].name]
    assert past.series("cand", "w") == [0.6, 0.61]
    assert load_history(reports, current=runs[2], window=1).run_ids == [runs[1].name]


def test_history_reads_each_run_s_compact_file_as_it_would_its_verdicts(tmp_path):
    reports = tmp_path / "reports"
    runs = [nightly(reports, value) for value in (0.6, "0.61", None)]  # a string and a missing value too
    for run in runs:
        main(["report", str(run), "--history", "0"])
    compact = load_history(reports, window=5)
    assert all((run / "history.json").is_file() for run in runs)
    for run in runs:
        (run / "history.json").unlink()
    from_verdicts = load_history(reports, window=5)
    assert compact.series("cand", "w") == from_verdicts.series("cand", "w") == [0.6, "0.61", None]
    assert [compact.previous_verdict(env, "w") for env in ("base", "cand")] == ["identical", "drift"]
    assert [run.verdicts for run in compact.runs] == [run.verdicts for run in from_verdicts.runs]
    numbers = compact.numbers("cand", ["w", "absent"])  # what is not a number, or not there, is NaN
    assert numbers.shape == (3, 2) and numbers[0, 0] == 0.6 and np.isnan(numbers[1:, 0]).all() and np.isnan(numbers[:, 1]).all()


def test_a_value_that_held_is_counted_not_drawn(tmp_path):
    reports = tmp_path / "reports"
    first, second = nightly(reports, 0.6), nightly(reports, 0.6)
    assert main(["report", str(first)]) == 0 and main(["report", str(second)]) == 0
    html = (second / "report.html").read_text()
    assert 'class="spark"' not in html
    assert "No value moved over the last 1 earlier run and this one: 1 metric held one value in every environment." in html


def test_sparkline_draws_only_numbers():
    svg = sparkline([0.5, None, 0.7, float("nan"), 0.6])
    points = svg.split('points="')[1].split('"')[0].split()
    assert svg.startswith('<svg class="spark"') and len(points) == 3 and 'aria-label="3 runs, from 0.5 to 0.7"' in svg
    assert sparkline([0.5]) == "" and sparkline(["x", None]) == ""


def test_sparkline_keeps_only_the_ends_of_a_flat_stretch():
    svg = sparkline([1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0])
    # x = 1 + 88 * index / 6, y = 16 at the low value and 2 at the high one (SPARK_WIDTH 90, SPARK_HEIGHT 18)
    assert 'points="1.0,16.0 45.0,16.0 59.7,2.0 89.0,2.0"' in svg and 'aria-label="7 runs, from 1 to 2"' in svg


def test_prune_keeps_the_newest_and_latest(tmp_path, capsys):
    reports = tmp_path / "reports"
    runs = [nightly(reports, 0.6) for _ in range(4)]
    for run in runs:
        assert main(["report", str(run)]) == 0
    (reports / "latest").symlink_to(runs[0].name)  # latest may point at an old run; it is never removed
    assert main(["prune", "--reports", str(reports), "--keep", "2"]) == 0
    assert sorted(p.name for p in reports.iterdir() if p.name != "latest") == sorted([runs[0].name, runs[2].name, runs[3].name])


def test_prune_counts_only_run_folders_interrupted_ones_included(tmp_path, capsys):
    reports = tmp_path / "reports"
    archive = reports / "archive-2019"
    archive.mkdir(parents=True)
    (archive / "verdicts.json").write_text("{}")  # looks like a run, is not named like one: never touched
    interrupted = nightly(reports, 0.6, incomplete=True)
    finished = nightly(reports, 0.6)
    assert main(["report", str(finished)]) == 0
    assert main(["prune", "--reports", str(reports), "--keep", "1"]) == 0
    assert sorted(p.name for p in reports.iterdir()) == sorted(["archive-2019", finished.name])
    assert not interrupted.exists()


@pytest.mark.parametrize("keep", ["-1", "two"])
def test_prune_refuses_a_keep_that_is_not_a_count(tmp_path, capsys, keep):
    run = nightly(tmp_path / "reports", 0.6)
    assert main(["prune", "--reports", str(tmp_path / "reports"), "--keep", keep]) == 3
    err = capsys.readouterr().err
    assert err.startswith("keras-drift: error: ") and "--keep" in err and err.count("\n") == 1
    assert run.exists()


@pytest.mark.parametrize(
    "document",
    ['{"environments": {"x": []}}', '{"environments": {"x": {"metrics": {"w": {"value": 1}}}}}', "[]", "{", '"text"'],
)
def test_an_unreadable_earlier_run_is_skipped_with_a_warning(tmp_path, capsys, document):
    reports = tmp_path / "reports"
    broken = nightly(reports, 0.6)
    (broken / "verdicts.json").write_text(document)
    good = nightly(reports, 0.6)
    assert main(["report", str(good)]) == 0
    err = capsys.readouterr().err
    assert err.startswith(f"keras-drift: warning: {broken / 'verdicts.json'}: skipped from the history: ") and err.count("\n") == 1
    assert (good / "report.html").is_file()


def write_year_of_history(reports, environments=40, runs=365):
    """A year of nightly runs over ``environments`` environments, each written as a run writes it."""
    metrics = {f"task{t}.metric{m}": {"value": 0.5 + 1e-4 * m, "verdict": "identical"} for t in range(5) for m in range(6)}
    document = {"environments": {f"env-{e:02d}": {"metrics": metrics} for e in range(environments)}}
    for day in range(runs):
        run = reports / f"2026{day:04d}T000000Z-000000"
        run.mkdir(parents=True)
        (run / "verdicts.json").write_text(json.dumps(document))
        write_history(run, document)


def test_a_year_of_nightly_runs_over_forty_environments_loads_whole(tmp_path):
    write_year_of_history(tmp_path / "reports")
    past = load_history(tmp_path / "reports", window=365)
    assert len(past.run_ids) == 365 and all(len(run.values) == 40 for run in past.runs)
    assert len({id(run.metrics) for run in past.runs}) == 1  # one list of names for a year that kept them
    numbers = past.numbers("env-39", ["task4.metric5", "task0.metric0"])
    assert numbers.shape == (365, 2) and (numbers == [0.5 + 5e-4, 0.5]).all()


def test_a_broken_compact_file_skips_its_run_with_a_warning(tmp_path, capsys):
    reports = tmp_path / "reports"
    broken, good = nightly(reports, 0.6), nightly(reports, 0.6)
    assert main(["report", str(broken)]) == 0
    (broken / "history.json").write_text('{"metrics": ["w"], "environments": {"cand": {"values": [1], "verdicts": ["lost"]}}}')
    capsys.readouterr()
    assert main(["report", str(good)]) == 0
    err = capsys.readouterr().err
    assert err == (f"keras-drift: warning: {broken / 'history.json'}: skipped from the history: "
                   'environments/"cand"/verdicts: not all known verdicts\n')
