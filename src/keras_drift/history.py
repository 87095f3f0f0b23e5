"""Run history: each metric's value across earlier runs, and what drifts now that did not last time.

History is read from the ``verdicts.json`` of earlier run folders (see :func:`keras_drift.runs.earlier_runs`),
so it needs nothing beyond what every run already writes. A verdicts file that cannot be read, or lacks
what history reads, is skipped with a warning: one bad earlier run never breaks a later one. (Only those
fields are checked here: the full schema costs 0.15 s a run, a minute for a year of nightly runs.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from keras_drift.runs import earlier_runs
from keras_drift.verdicts import VERDICTS_FILE, Verdict

DEFAULT_WINDOW = 30
_VERDICTS = frozenset(verdict.value for verdict in Verdict)


@dataclass
class History:
    """Earlier runs' values per (environment, metric), oldest first, their run ids, and why any earlier
    run was skipped."""

    run_ids: list[str] = field(default_factory=list)
    values: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    verdicts: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def previous_verdict(self, env: str, metric: str) -> str | None:
        """The verdict of the newest earlier run that had this environment and metric."""
        found = self.verdicts.get((env, metric))
        return found[-1] if found else None


def load_history(reports_dir: Path, current: Path | None = None, window: int = DEFAULT_WINDOW) -> History:
    """Values and verdicts of the earlier runs; unreadable verdict files are skipped with a warning."""
    history = History()
    if window <= 0:
        return history
    for folder in earlier_runs(reports_dir, current, window):
        path = folder / VERDICTS_FILE
        try:
            rows = list(_rows(json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
            history.warnings.append(f"{path}: skipped from the history: {' '.join(str(exc).splitlines())}")
            continue
        history.run_ids.append(folder.name)
        position = len(history.run_ids) - 1
        for env, metric, value, verdict in rows:
            key = (env, metric)
            series = history.values.setdefault(key, [])
            series.extend([None] * (position - len(series)))  # runs where it was absent
            series.append(value)
            history.verdicts.setdefault(key, []).append(verdict)
    return history


def _rows(document: Any) -> Iterator[tuple[str, str, Any, str]]:
    """(env, metric, value, verdict) of a verdicts document; ValueError where it lacks one of them."""
    environments = document.get("environments") if isinstance(document, dict) else None
    if not isinstance(environments, dict):
        raise ValueError("environments: missing or not an object")
    for env, entry in environments.items():
        metrics = entry.get("metrics") if isinstance(entry, dict) else None
        if not isinstance(metrics, dict):
            raise ValueError(f"environments/{json.dumps(env)}/metrics: missing or not an object")
        for metric, row in metrics.items():
            verdict = row.get("verdict") if isinstance(row, dict) else None
            if not (isinstance(verdict, str) and verdict in _VERDICTS and "value" in row):
                raise ValueError(f"environments/{json.dumps(env)}/metrics/{json.dumps(metric)}: needs a value and a verdict")
            yield env, metric, row["value"], verdict


def new_drift(verdicts: pd.DataFrame, history: History) -> list[dict[str, Any]]:
    """Rows that drift now but did not in the previous run that had them (the first news of a report)."""
    rows = []
    for row in verdicts[verdicts["verdict"] == Verdict.DRIFT].to_dict("records"):
        previous = history.previous_verdict(row["env"], row["metric"])
        if previous is not None and previous != Verdict.DRIFT:
            rows.append({**row, "previous_verdict": previous})
    return rows
