"""The one path from results to a rendered run: compare, attribute, read history, write ``verdicts.json``,
render ``report.html``. ``drift``, ``report``, ``merge`` and ``bench`` all call :func:`render_run`, and
``gate`` calls :func:`judge`, so the benchmark times exactly what a real run does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from keras_drift import attribute, compare, history, report, runs
from keras_drift.errors import ExitCode
from keras_drift.results import Result, encode_scalar, write_json_atomically
from keras_drift.verdicts import SCHEMA_VERSION, VERDICTS_FILE, Verdict, validate_verdicts


@dataclass(frozen=True)
class RenderedRun:
    """What rendering a run produced: its verdicts document, the one-line summary and the report's path."""

    document: dict[str, Any]
    summary: str
    report_path: Path
    history_warnings: tuple[str, ...] = ()

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode(self.document["exit_code"])


def judge(results: Sequence[Result], baseline: str, tolerances: Sequence[compare.Tolerance]) -> pd.DataFrame:
    """One row per (environment, metric) with its verdict, and the cause and evidence of each drift."""
    return attribute.attribute(compare.compare(results, baseline, tolerances), results, baseline)


def render_run(
    run_dir: Path,
    results: Sequence[Result],
    baseline: str,
    tolerances: Sequence[compare.Tolerance],
    history_window: int = history.DEFAULT_WINDOW,
) -> RenderedRun:
    """Judge ``results`` against ``baseline`` and write the run's ``verdicts.json`` and ``report.html``."""
    verdicts = judge(results, baseline, tolerances)
    past = history.load_history(run_dir.parent, run_dir, history_window)
    news = history.new_drift(verdicts, past)
    document = verdicts_document(verdicts, results, baseline, run_dir.name, news)
    write_json_atomically(run_dir / VERDICTS_FILE, validate_verdicts(document, run_dir / VERDICTS_FILE))
    path = report.render(results, verdicts, baseline, runs.read_run_info(run_dir), run_dir / "report.html", past, news)
    return RenderedRun(document, report.summary_line(results, verdicts, baseline), path, tuple(past.warnings))


def verdicts_document(
    verdicts: pd.DataFrame,
    results: Sequence[Result],
    baseline: str,
    run_id: str,
    new_drift: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """The ``verdicts.json`` contract (``schemas/verdicts.schema.json``): per environment, per metric, the
    row of :func:`judge`, with cause and evidence on drifting rows."""
    environments = {}
    for result in results:
        rows = verdicts[verdicts["env"] == result.env]
        environments[result.env] = {
            "status": result.status,
            "reason": result.reason,
            "metrics": {
                row.metric: {
                    "value": encode_scalar(row.value),
                    "baseline": encode_scalar(row.baseline_value),
                    "abs_diff": encode_scalar(row.abs_diff),
                    "rel_diff": encode_scalar(row.rel_diff),
                    "tolerance": {"atol": row.atol, "rtol": row.rtol},
                    "noise_floor": row.noise_floor,
                    "verdict": str(row.verdict),
                    **({"cause": str(row.cause), "evidence": row.evidence} if row.verdict == Verdict.DRIFT else {}),
                }
                for row in rows.itertuples()
            },
        }
    counts = verdicts[verdicts["env"] != baseline]["verdict"].value_counts()
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "baseline": baseline,
        "exit_code": int(compare.exit_code(verdicts, results)),
        "counts": {str(verdict): int(counts.get(verdict, 0)) for verdict in Verdict},
        "closest_to_oracle": compare.closest_to_oracle(results),
        "environments": environments,
        "new_since_last_run": [
            {"env": row["env"], "metric": row["metric"], "previous_verdict": row["previous_verdict"]} for row in new_drift
        ],
    }
