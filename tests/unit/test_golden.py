"""Golden files of a recorded run: its ``verdicts.json`` and its ``gate`` output, judged offline.

The run is real (Keras 3.1.1 on JAX 0.4.26 against Keras 3.5.0 on JAX 0.4.31, recorded 2026-12-02, whose
results sit in ``tests/data/recorded-run/``); judging it again must give the same document and the same
lines, so a restructuring that changes behaviour shows here. Where a change is meant, regenerate with
``pytest tests/unit/test_golden.py --force-regen`` and review the diff of the golden files like any code.
"""

import shutil

import pytest
from conftest import PROJECT_ROOT

from keras_drift.cli import main

RECORDED = PROJECT_ROOT / "tests" / "data" / "recorded-run"
RUN_ID = "20261202T060147Z-ffb593"


@pytest.fixture
def recorded(tmp_path):
    """A copy of the recorded run and an empty accepted-drifts file (the project's own entries change)."""
    shutil.copytree(RECORDED, tmp_path / "reports")
    (tmp_path / "accepted.toml").write_text("")
    return tmp_path / "reports" / RUN_ID, tmp_path / "accepted.toml"


def test_the_recorded_run_judges_to_the_same_verdicts(recorded, file_regression):
    run, accepted = recorded
    assert main(["report", str(run), "--accepted", str(accepted), "--history", "0"]) == 1  # it drifts
    file_regression.check((run / "verdicts.json").read_text(), basename="recorded_verdicts", extension=".json")


def test_the_recorded_run_gates_with_the_same_lines(recorded, file_regression, capsys):
    run, accepted = recorded
    assert main(["gate", str(run), "--accepted", str(accepted)]) == 1
    file_regression.check(capsys.readouterr().out, basename="recorded_gate", extension=".txt")
