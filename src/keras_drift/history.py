"""Run history: each metric's value across earlier runs, and what drifts now that did not last time.

History is read from the ``verdicts.json`` of earlier run folders (newest first, incomplete runs
skipped), so it needs nothing beyond what every run already writes. Sparklines are drawn as small SVG
polylines by hand: a year of nightly runs over many environments means thousands of them.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keras_drift.runs import LATEST, RUN_FILE

DEFAULT_WINDOW = 30
SPARK_WIDTH, SPARK_HEIGHT = 90, 18


@dataclass
class History:
    """Earlier runs' values per (environment, metric), oldest first, and their run ids."""

    run_ids: list[str] = field(default_factory=list)
    values: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    verdicts: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def previous_verdict(self, env: str, metric: str) -> str | None:
        """The verdict of the newest earlier run that had this environment and metric."""
        found = self.verdicts.get((env, metric))
        return found[-1] if found else None


def earlier_runs(reports_dir: Path, current: Path | None, window: int) -> list[Path]:
    """The newest ``window`` finished runs before ``current`` that wrote verdicts, oldest first."""
    candidates = []
    for folder in sorted(Path(reports_dir).iterdir(), reverse=True):
        if folder.name == LATEST or folder.name.startswith(".") or not folder.is_dir():
            continue
        if current is not None and folder.resolve() == current.resolve():
            continue
        if current is not None and folder.name > current.name:
            continue  # a run started later than the one being rendered is not its history
        if not (folder / "verdicts.json").is_file() or _incomplete(folder):
            continue
        candidates.append(folder)
        if len(candidates) == window:
            break
    return list(reversed(candidates))


def load_history(reports_dir: Path, current: Path | None = None, window: int = DEFAULT_WINDOW) -> History:
    """Values and verdicts of the earlier runs; unreadable verdict files are skipped, never fatal."""
    history = History()
    for folder in earlier_runs(reports_dir, current, window):
        try:
            document = json.loads((folder / "verdicts.json").read_text(encoding="utf-8"))
            environments = document["environments"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        history.run_ids.append(folder.name)
        position = len(history.run_ids) - 1
        for env, entry in environments.items():
            for metric, row in entry.get("metrics", {}).items():
                key = (env, metric)
                series = history.values.setdefault(key, [])
                series.extend([None] * (position - len(series)))  # runs where it was absent
                series.append(row.get("value"))
                history.verdicts.setdefault(key, []).append(row.get("verdict"))
    return history


def new_drift(verdicts: Any, history: History) -> list[dict[str, Any]]:
    """Rows that drift now but did not in the previous run that had them (the first news of a report)."""
    rows = []
    for row in verdicts[verdicts["verdict"] == "drift"].to_dict("records"):
        previous = history.previous_verdict(row["env"], row["metric"])
        if previous is not None and previous != "drift":
            rows.append({**row, "previous_verdict": previous})
    return rows


def sparkline(values: list[Any]) -> str:
    """A tiny SVG polyline of the numeric values (gaps skipped); empty when fewer than two points."""
    points = [(index, float(value)) for index, value in enumerate(values)
              if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)]
    if len(points) < 2:
        return ""
    low, high = min(v for _, v in points), max(v for _, v in points)
    span, last = (high - low) or 1.0, max(len(values) - 1, 1)
    coordinates = " ".join(
        f"{1 + (SPARK_WIDTH - 2) * i / last:.1f},{SPARK_HEIGHT - 2 - (SPARK_HEIGHT - 4) * (v - low) / span:.1f}"
        for i, v in points
    )
    return (
        f'<svg class="spark" width="{SPARK_WIDTH}" height="{SPARK_HEIGHT}" role="img" '
        f'aria-label="{len(points)} runs, from {low:.4g} to {high:.4g}">'
        f'<polyline fill="none" stroke="currentColor" stroke-width="1" points="{coordinates}"/></svg>'
    )


def prune(reports_dir: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` finished runs; never the run ``latest`` points at."""
    latest = (Path(reports_dir) / LATEST).resolve() if (Path(reports_dir) / LATEST).exists() else None
    finished = earlier_runs(reports_dir, None, window=10**9)
    removed = []
    for folder in finished[: max(0, len(finished) - keep)]:
        if latest is not None and folder.resolve() == latest:
            continue
        shutil.rmtree(folder)
        removed.append(folder)
    return removed


def _incomplete(folder: Path) -> bool:
    try:
        return bool(json.loads((folder / RUN_FILE).read_text(encoding="utf-8")).get("incomplete"))
    except (OSError, ValueError, AttributeError):
        return False
