"""Run history: each metric's value across earlier runs, and what drifts now that did not last time.

Each run writes, beside its ``verdicts.json``, a compact ``history.json`` (:func:`write_history`): the
metric names once, then per environment the values and the verdicts in that order. Parsing the full
verdicts files of a year of nightly runs over 40 environments took 48 s once the canaries made them
365 metrics wide; the compact files are what keeps that in seconds. A run without one (written before
it existed, or by hand) is read from its ``verdicts.json``. A file that cannot be read, or lacks what
history reads, is skipped with a warning: one bad earlier run never breaks a later one. (Only those
fields are checked here: the full schema costs 0.15 s a run, a minute for a year of nightly runs.)
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from keras_drift.errors import InputError
from keras_drift.store.results import write_json_atomically
from keras_drift.store.runs import earlier_runs
from keras_drift.store.tables import read_input
from keras_drift.store.verdicts import VERDICTS_FILE, Verdict

DEFAULT_WINDOW = 30
HISTORY_FILE = "history.json"
_VERDICTS = frozenset(verdict.value for verdict in Verdict)


@dataclass
class EarlierRun:
    """One earlier run as history reads it: its metric names, and per environment the values and the
    verdicts in that order (``None`` where the environment lacks the metric)."""

    run_id: str
    metrics: tuple[str, ...]
    values: dict[str, list[Any]]
    verdicts: dict[str, list[str | None]]
    _numbers: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    @functools.cached_property
    def _positions(self) -> dict[str, int]:
        return {metric: position for position, metric in enumerate(self.metrics)}

    def value(self, env: str, metric: str) -> Any:
        position = self._positions.get(metric)
        return None if position is None or env not in self.values else self.values[env][position]

    def verdict(self, env: str, metric: str) -> str | None:
        position = self._positions.get(metric)
        return None if position is None or env not in self.verdicts else self.verdicts[env][position]

    def numbers(self, env: str) -> np.ndarray | None:
        """The environment's values as floats, in :attr:`metrics` order: NaN where it lacks the metric or
        its value is not a number (a string, a flag). Converted once per run and environment."""
        values = self.values.get(env)
        if values is None:
            return None
        if env not in self._numbers:
            self._numbers[env] = as_numbers(values)
        return self._numbers[env]


@dataclass
class History:
    """The earlier runs, oldest first, and why any earlier run was skipped."""

    runs: list[EarlierRun] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def run_ids(self) -> list[str]:
        return [run.run_id for run in self.runs]

    def previous_verdict(self, env: str, metric: str) -> str | None:
        """The verdict of the newest earlier run that had this environment and metric."""
        for run in reversed(self.runs):
            verdict = run.verdict(env, metric)
            if verdict is not None:
                return verdict
        return None

    def series(self, env: str, metric: str) -> list[Any]:
        """The metric's value in each earlier run, oldest first (``None`` where a run lacks it)."""
        return [run.value(env, metric) for run in self.runs]

    def numbers(self, env: str, metrics: Sequence[str]) -> np.ndarray:
        """Earlier runs x ``metrics``: each value as a float, NaN where a run lacks it or it is not a number."""
        wanted = tuple(metrics)
        table = np.full((len(self.runs), len(wanted)), np.nan)
        for row, run in enumerate(self.runs):
            found = run.numbers(env)
            if found is not None:
                positions = _positions_of(run.metrics, wanted)
                present = positions >= 0
                table[row, present] = found[positions[present]]
        return table


def as_numbers(values: Sequence[Any] | np.ndarray) -> np.ndarray:
    """Values as floats: NaN for ``None`` and for what is not a number (a string, a flag)."""
    if isinstance(values, np.ndarray):
        return values.astype(float)
    if set(map(type, values)) <= {float, int, type(None)}:
        return np.array(values, dtype=float)  # None becomes NaN
    return np.array([value if isinstance(value, (int, float)) and not isinstance(value, bool) else np.nan for value in values], dtype=float)


@functools.lru_cache(maxsize=64)
def _positions_of(names: tuple[str, ...], wanted: tuple[str, ...]) -> np.ndarray:
    """Where each of ``wanted`` sits in ``names`` (-1 where absent): most runs share one list of names."""
    index = {name: position for position, name in enumerate(names)}
    return np.array([index.get(name, -1) for name in wanted], dtype=int)


def compact(document: Any) -> dict[str, Any]:
    """What later runs read of a run (``history.json``), from its verdicts document: the metric names once,
    then per environment its values and verdicts in that order. ValueError where the document lacks them."""
    rows = list(_rows(document))
    metrics = sorted({metric for _, metric, _, _ in rows})
    position = {metric: index for index, metric in enumerate(metrics)}
    environments: dict[str, dict[str, list[Any]]] = {}
    for env, metric, value, verdict in rows:
        entry = environments.setdefault(env, {"values": [None] * len(metrics), "verdicts": [None] * len(metrics)})
        entry["values"][position[metric]] = value
        entry["verdicts"][position[metric]] = verdict
    return {"metrics": metrics, "environments": environments}


def write_history(run_dir: Path, document: dict[str, Any]) -> Path:
    """Write the run's ``history.json`` (:func:`compact` of its verdicts document)."""
    path = run_dir / HISTORY_FILE
    write_json_atomically(path, compact(document))
    return path


def load_history(reports_dir: Path, current: Path | None = None, window: int = DEFAULT_WINDOW) -> History:
    """The earlier runs' values and verdicts; an unreadable run is skipped with a warning."""
    history = History()
    if window <= 0:
        return history
    shared_names: dict[tuple[str, ...], tuple[str, ...]] = {}  # one tuple for the many runs with the same metrics
    for folder in earlier_runs(reports_dir, current, window):
        path = folder / HISTORY_FILE if (folder / HISTORY_FILE).is_file() else folder / VERDICTS_FILE
        try:
            document = json.loads(read_input(path))
            history.runs.append(_earlier_run(folder.name, document if path.name == HISTORY_FILE else compact(document), shared_names))
        except (OSError, ValueError, TypeError, RecursionError, InputError) as exc:
            history.warnings.append(f"{path}: skipped from the history: {' '.join(str(exc).split())}")
    return history


def _earlier_run(run_id: str, document: Any, shared_names: dict[tuple[str, ...], tuple[str, ...]]) -> EarlierRun:
    """A compact document as an :class:`EarlierRun` (its metric names taken from ``shared_names`` where an
    earlier run had the same); ValueError naming the field it lacks."""
    metrics = document.get("metrics") if isinstance(document, dict) else None
    if not (isinstance(metrics, list) and all(isinstance(metric, str) for metric in metrics)):
        raise ValueError("metrics: missing or not a list of names")
    environments = document.get("environments")
    if not isinstance(environments, dict):
        raise ValueError("environments: missing or not an object")
    values: dict[str, list[Any]] = {}
    verdicts: dict[str, list[str | None]] = {}
    for env, entry in environments.items():
        env_values, env_verdicts = (entry.get(key) if isinstance(entry, dict) else None for key in ("values", "verdicts"))
        if not (isinstance(env_values, list) and isinstance(env_verdicts, list) and len(env_values) == len(env_verdicts) == len(metrics)):
            raise ValueError(f"environments/{json.dumps(env)}: needs values and verdicts, one per metric")
        if not all(verdict is None or verdict in _VERDICTS for verdict in env_verdicts):
            raise ValueError(f"environments/{json.dumps(env)}/verdicts: not all known verdicts")
        if not all(_value(value) for value in env_values):
            raise ValueError(f"environments/{json.dumps(env)}/values: not all numbers a float holds, strings, flags or null")
        values[env], verdicts[env] = env_values, env_verdicts
    names = tuple(metrics)
    return EarlierRun(run_id, shared_names.setdefault(names, names), values, verdicts)


def _value(value: Any) -> bool:
    """Whether an earlier run's value is one the history can draw or show: a scalar, a number a float holds."""
    if isinstance(value, int) and not isinstance(value, bool):
        return abs(value) <= 2**53
    return value is None or isinstance(value, (str, bool)) or (isinstance(value, float) and not math.isinf(value))


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
