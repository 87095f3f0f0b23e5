"""The first screen: one sentence that answers "what changes for this bump?", then a grid.

A reviewer with one minute reads the headline (what changed that matters, or "nothing beyond what was
accepted") and a grid of environments against what can go wrong: drifting metrics, accepted drifts,
failures, behaviours changed, saved models that no longer load across the bump, slower tasks, and, where
the probes recorded the API surface, the public names removed or whose signature changed. Each cell links
to the section that says more. Computed here, rendered by the report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from keras_drift.judge.accepted import Review
from keras_drift.judge.grouping import behaviour_groups
from keras_drift.judge.surface import SurfaceDiff
from keras_drift.store.results import Result, Status
from keras_drift.store.verdicts import Verdict

# The grid's columns: key, heading, the report section a cell links to.
COLUMNS = (
    ("drifting", "drifting metrics", "why"),
    ("accepted", "accepted drifts", "accepted"),
    ("failed", "failed", "failures"),
    ("behaviours", "behaviours changed", "behaviours"),
    ("unloadable", "saved models that no longer load", "saved"),
    ("slower", "slower tasks", "speed"),
)
# The column of the API surface, shown where any result recorded one (older results have none).
SURFACE_COLUMN = ("surface", "API names removed or changed", "surface")


@dataclass(frozen=True)
class Overview:
    """The headline, and per candidate environment its counts (``{column key: count}``; ``failed`` may be
    the environment's status in words), under the grid's ``columns``."""

    headline: str
    rows: list[dict[str, Any]]
    columns: tuple[tuple[str, str, str], ...] = COLUMNS

    @property
    def clean(self) -> bool:
        """Nothing drifts beyond what was accepted and nothing failed: the headline is green."""
        return not any(row["drifting"] or row["failed"] for row in self.rows)


def overview(results: Sequence[Result], judged: Review, baseline: str, surface: SurfaceDiff | None = None) -> Overview:
    """The first screen of a judged run (see the module); ``surface`` adds the API surface's column."""
    verdicts = judged.verdicts
    candidates = [result for result in results if result.env != baseline]
    groups = behaviour_groups(judged.behaviours) if judged.behaviours is not None else []
    rows = []
    for result in candidates:
        mine = verdicts[verdicts["env"] == result.env] if not verdicts.empty else verdicts
        failed: Any = result.status if result.status != Status.OK else _count(mine, Verdict.FAILED)
        rows.append({
            "env": result.env,
            "drifting": _count(mine, Verdict.DRIFT),
            "accepted": _count(mine, Verdict.ACCEPTED),
            "failed": failed,
            "behaviours": sum(result.env in group.envs for group in groups),
            "unloadable": _unloadable(judged.saved.attempts if judged.saved is not None else None, result.env),
            "slower": _slower(judged.speed, result.env),
        })
    if surface is None or not surface.recorded:
        return Overview(_headline(rows, verdicts, baseline, len(groups)), rows)
    for row in rows:
        found = surface.documented(row["env"])
        row["surface"] = found.counts["removed"] + found.counts["changed"] if found is not None else 0
    headline = _headline(rows, verdicts, baseline, len(groups), len(surface.called))
    return Overview(headline, rows, (*COLUMNS, SURFACE_COLUMN))


def _count(rows: pd.DataFrame, verdict: Verdict) -> int:
    return int((rows["verdict"] == verdict).sum()) if not rows.empty else 0


def _unloadable(attempts: pd.DataFrame | None, env: str) -> int:
    """Files that fail to load across the bump: the baseline's in ``env`` (upgrade), ``env``'s in the
    baseline (rollback)."""
    if attempts is None or attempts.empty:
        return 0
    across = ((attempts["direction"] == "upgrade") & (attempts["loaded_with"] == env)) | (
        (attempts["direction"] == "rollback") & (attempts["saved_with"] == env))
    return int((across & (attempts["outcome"] == "fails")).sum())


def _slower(speed: pd.DataFrame | None, env: str) -> int:
    if speed is None or speed.empty:
        return 0
    return int(((speed["env"] == env) & (speed["verdict"] == "slower")).sum())


def _headline(rows: Sequence[dict[str, Any]], verdicts: pd.DataFrame, baseline: str, behaviours: int, called: int = 0) -> str:
    """What matters first, in words: failures, then drifts beyond what was accepted, else that nothing moved
    beyond it; then the other changes in one clause each."""
    metrics = verdicts["metric"].nunique() if not verdicts.empty else 0
    failed = [row["env"] for row in rows if row["failed"]]
    drifting = [row for row in rows if row["drifting"]]
    said = []
    if failed:
        said.append(f"{len(failed)} environment(s) failed or have tasks whose numbers are unknown: {', '.join(failed)}.")
    if drifting:
        count = sum(row["drifting"] for row in drifting)
        said.append(f"{count} metric(s) drift beyond what was accepted, in {', '.join(row['env'] for row in drifting)} "
                    f"(against {baseline}): see why below.")
    if not said:
        said.append(f"Nothing drifts beyond what was accepted: 0 of {metrics} metrics, against {baseline}.")
    first = " ".join(said)
    totals = {key: sum(row[key] for row in rows) for key in ("accepted", "unloadable", "slower")}
    totals["behaviours"] = behaviours  # each change once, however many environments it happened in
    totals["called"] = called
    words = {"called": "removed API name(s) that the tasks call", "accepted": "accepted drift(s)",
             "unloadable": "saved-model load(s) fail across the bump", "slower": "task(s) slower per step",
             "behaviours": "behaviour change(s)"}
    others = [f"{totals[key]} {words[key]}" for key in words if totals[key]]
    return first + (" Also: " + "; ".join(others) + "." if others else "")
