"""Render one self-contained HTML report from a run's results and verdicts.

Everything the page shows comes from data already on disk (results, verdicts, run info), so a report can
be re-rendered at any time. The page loads nothing from the network: styles are inline, plots are inline
SVG, and every string that came from an environment is escaped (Jinja2 autoescape, Styler's escape).
"""

from __future__ import annotations

import math
import platform
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any, TypedDict

import jinja2
import numpy as np
import pandas as pd

from keras_drift import __version__
from keras_drift.judge import grouping, saved_models
from keras_drift.judge.attribute import differing
from keras_drift.judge.compare import family as metric_family
from keras_drift.judge.compare import oracle_distances
from keras_drift.judge.localise import Localisation, Part
from keras_drift.judge.overview import COLUMNS as OVERVIEW_COLUMNS
from keras_drift.judge.overview import Overview
from keras_drift.judge.surface import EnvDiff, SignatureChange, SurfaceDiff
from keras_drift.store.history import History, as_numbers
from keras_drift.store.results import Result, Status, write_text_atomically
from keras_drift.store.verdicts import Cause, Certainty, Verdict

VERDICT_LABELS = {
    Verdict.IDENTICAL: "identical",
    Verdict.WITHIN_TOLERANCE: "within tolerance",
    Verdict.DRIFT: "DRIFT",
    Verdict.ACCEPTED: "accepted drift",
    Verdict.FAILED: "FAILED",
    Verdict.SKIPPED: "skipped",
    Verdict.MISSING: "missing",
}
SPARK_WIDTH, SPARK_HEIGHT = 90, 18
STEPS_WIDTH, STEPS_HEIGHT = 560, 130


def render(
    results: Sequence[Result],
    verdicts: pd.DataFrame,
    *, baseline: str,
    run_info: dict[str, Any],
    out: Path,
    past: History | None = None,
    new_drift: Sequence[dict[str, Any]] = (),
    acceptance_warnings: Sequence[str] = (),
    behaviours: pd.DataFrame | None = None,
    speed: pd.DataFrame | None = None,
    localisations: Mapping[tuple[str, str], Localisation] | None = None,
    saved: saved_models.Judgement | None = None,
    first_screen: Overview | None = None,
    surface: SurfaceDiff | None = None,
    reproductions: Mapping[tuple[str, str], str] | None = None,
) -> Path:
    """Write ``report.html`` for this run to ``out`` and return its path.

    ``past`` adds the history sparklines, ``new_drift`` the rows that drift now and did not last run
    (both computed by :mod:`keras_drift.pipeline`: the report only shows what the pipeline found), and
    ``behaviours`` the changed behaviours the verdict line counts, ``speed`` the per-step times of the
    training tasks (:func:`keras_drift.judge.speed.speed_table`), ``localisations`` where each drifting model's
    numbers part (:mod:`keras_drift.judge.localise`), ``saved`` what the load phase found of the saved models
    (:mod:`keras_drift.judge.saved_models`), ``first_screen`` the headline and the grid (:mod:`keras_drift.judge.overview`),
    ``surface`` the API surface's diff (:mod:`keras_drift.judge.surface`) and ``reproductions`` the snippet of
    each drifting sweep metric by ``(environment, metric)`` (:mod:`keras_drift.judge.reproductions`).
    """
    past = past or History()
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("keras_drift", "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
    )
    html = environment.get_template("report.html.j2").render(
        summary=summary_line(results, verdicts, baseline, behaviours, speed),
        speed=speed_rows(speed),
        localised=localisation_strips(localisations or {}, baseline),
        saved=saved_model_matrices(saved),
        families=family_sections(verdicts, [r.env for r in results], baseline),
        coverage=coverage_lines(results),
        plots=trajectory_plots(results),
        diffs=diff_tables(results),
        causes=cause_summary(verdicts),
        accepted=accepted_entries(verdicts),
        behaviour_groups=grouping.behaviour_groups(behaviours, show=format_setting) if behaviours is not None else [],
        first_screen=first_screen,
        overview_columns=first_screen.columns if first_screen is not None else OVERVIEW_COLUMNS,
        surface=surface_section(surface),
        reproductions=reproduction_blocks(reproductions or {}),
        finding_rows=FINDING_ROWS,
        listed_names=LISTED_NAMES,
        listed_findings=LISTED_FINDINGS,
        acceptance_warnings=list(acceptance_warnings),
        oracle=oracle_html(results),
        new_drift=list(new_drift),
        history=history_rows(verdicts, past),
        history_runs=len(past.run_ids),
        environments=[result.env for result in results],
        problems=[r for r in results if not r.ok or r.errors or r.get("restarts") or _cut_short(r)],
        cut_short={r.env: _cut_short(r) for r in results},
        results=results,
        baseline=baseline,
        run=run_info,
        tool_version=__version__,
        machine=platform.platform(),
        format_value=format_value,
    )
    write_text_atomically(out, html)
    return out


# The "API surface" section lists the names and changed signatures within a budget of characters, shared
# evenly by the groups of environments that changed (at least SURFACE_GROUP_MIN each), the removed names
# first, then the changed signatures, then the added names, at most SURFACE_LIST_SHOWN of one list (so that
# Keras 3's 137 fewer backend functions leave room for the rest); the rest only counted (verdicts.json has
# every one). The default matrix's page is near its 300 KiB budget, and tf.keras 2 -> Keras 3 changes
# hundreds: a section of 4.8 KB for tf.keras 2.11 against Keras 3.15 on three backends.
SURFACE_BUDGET = 3000
SURFACE_GROUP_MIN = 500
SURFACE_LIST_SHOWN = 12
SURFACE_INLINE = 8  # a list of more entries is folded behind its count


def surface_section(surface: SurfaceDiff | None) -> dict[str, Any]:
    """The "API surface" section: the removed names that tasks call first, then each group of environments
    with the same changes (through the same door): one line of counts, the counts per namespace, and the
    names within :data:`SURFACE_BUDGET`; empty where no result recorded a surface."""
    if surface is None or not surface.recorded:
        return {}
    groups: list[tuple[list[str], EnvDiff]] = []
    for found in surface.diffs:
        same = next((group for group in groups if group[1].door == found.door and group[1].same_changes(found)), None)
        if same is not None:
            same[0].append(found.env)
        else:
            groups.append(([found.env], found))
    changed = [(envs, found) for envs, found in groups if not found.empty]
    budget = max(SURFACE_GROUP_MIN, SURFACE_BUDGET // max(1, len(changed)))
    return {"called": [found.line() for found in surface.called],
            "changed": [{"label": ", ".join(envs) + (f" through {found.door}" if found.door else ""), "line": found.line(),
                         "by_namespace": _namespace_counts(found), "lists": _surface_lists(found, budget)} for envs, found in changed],
            "identical": [found.label() for found in surface.diffs if found.empty], "not_recorded": list(surface.not_recorded)}


def _namespace_counts(found: EnvDiff) -> str:
    """``layers −3 +30 ~25 · ops +341``: per namespace, the names removed, added and changed."""
    parts = []
    for namespace in sorted(set(found.added) | set(found.removed) | set(found.changed)):
        counts = ((len(found.removed.get(namespace, ())), "−"), (len(found.added.get(namespace, ())), "+"),
                  (len(found.changed.get(namespace, ())), "~"))
        parts.append(namespace + " " + " ".join(f"{sign}{count}" for count, sign in counts if count))
    return " · ".join(parts)


def _surface_lists(found: EnvDiff, budget: int) -> list[dict[str, Any]]:
    """The lists of one group within ``budget`` characters: removed names, changed signatures (one line
    each), added names, per namespace; each ``{"what", "namespace", "count", "shown", "more", "folded"}``."""
    lists = []
    for what, source in (("removed", found.removed), ("signatures changed", found.changed), ("added", found.added)):
        for namespace, entries in source.items():
            texts = [entry.text() if isinstance(entry, SignatureChange) else entry for entry in entries]
            shown: list[str] = []
            for text in texts:
                if budget < len(text) or len(shown) == SURFACE_LIST_SHOWN:
                    break
                shown.append(text)
                budget -= len(text) + 2
            lists.append({"what": what, "namespace": namespace, "count": len(texts), "shown": shown, "more": len(texts) - len(shown),
                          "folded": len(texts) > SURFACE_INLINE})
    return [listed for listed in lists if listed["shown"]]


# A cell's class by its outcome: "loads" with a lost optimizer or training is "warn" (see saved_model_matrices).
SAVED_DETAIL_CHARS = 140  # of a failure's line shown below its cell; more of it on hover
# The hover text of a saved-model cell: a line of an error, not its whole message (some hold a weight's values).
SAVED_HOVER_CHARS = 240
OUTCOME_CLASSES = {"loads": "loads", "differs": "fails", "fails": "fails", "no predictions": "fails", "n/a": "na",
                   "reference": "loads", "no reference": "na"}


def saved_model_matrices(saved: saved_models.Judgement | None) -> dict[str, Any]:
    """The "Saved models" section: the user's files first (a cell per environment), then per model task a
    matrix of format (and load method) by (saved with -> loaded with), the upgrade direction first, then
    rollback, then each environment's own round trip; each cell its outcome, the line that says why on
    hover and, for a failure, below it; and per upgrade that fails somewhere, what does load."""
    if saved is None or (saved.attempts.empty and saved.user_models.empty):
        return {}
    users = [{"name": name, "reference": rows["reference"].iloc[0],
              "cells": [_saved_cell(row["env"], row["outcome"], row["detail"]) for row in rows.to_dict("records")]}
             for name, rows in saved.user_models.groupby("name", sort=True)]
    models = []
    for task, rows in saved.attempts.groupby("task", sort=True):
        records = rows.to_dict("records")
        columns = sorted({(row["direction"], row["saved_with"], row["loaded_with"]) for row in records},
                         key=lambda column: (saved_models.DIRECTIONS.index(column[0]), column[1], column[2]))
        by_cell = {(row["format"], row["method"], row["direction"], row["saved_with"], row["loaded_with"]): row for row in records}
        lines = []
        for format_name, method in sorted({(row["format"], row["method"]) for row in records}):
            cells = [by_cell.get((format_name, method, *column)) for column in columns]
            lines.append({"format": format_name, "method": method,
                          "cells": [_saved_cell("", row["outcome"], row["detail"], row) if row else None for row in cells]})
        paths = []
        failing = {(row["saved_with"], row["loaded_with"]) for row in records if row["outcome"] != "loads"}
        for direction, saved_with, loaded_with in columns:
            if direction == "upgrade" and (saved_with, loaded_with) in failing:
                working = saved_models.what_loads(saved.attempts, str(task), saved_with, loaded_with)
                paths.append(f"{saved_with} → {loaded_with}: " + (f"what loads: {working}" if working else "no format loads"))
        models.append({"task": task, "columns": [{"direction": d, "pair": f"{a} → {b}"} for d, a, b in columns], "lines": lines,
                       "paths": paths})
    return {"users": users, "models": models}


def _saved_cell(label: str, outcome: str, detail: str, row: Mapping[Any, Any] | None = None) -> dict[str, str]:
    """One cell: its label above the outcome (the environment, for a user file), the outcome, its class and
    the detail; a load that lost the optimizer or cannot train is marked ``warn``."""
    optimizer_lost, training_lost = saved_models.lost(row) if row is not None and outcome == "loads" else (False, False)
    warn = optimizer_lost or training_lost
    word = outcome
    if warn and row is not None:
        word = "loads, " + ", ".join(part for part in (
            f"optimizer {row['optimizer']}" if optimizer_lost else "", "cannot train" if training_lost else "") if part)
    below = detail if len(detail) <= SAVED_DETAIL_CHARS else detail[:SAVED_DETAIL_CHARS] + "…"
    hover = detail if len(detail) <= SAVED_HOVER_CHARS else detail[:SAVED_HOVER_CHARS] + "…"  # the whole error is in the result
    return {"label": label, "outcome": word, "class": "warn" if warn else OUTCOME_CLASSES.get(outcome, "na"), "detail": hover,
            "below": below if OUTCOME_CLASSES.get(outcome) == "fails" else ""}


def summary_line(
    results: Sequence[Result], verdicts: pd.DataFrame, baseline: str, behaviours: pd.DataFrame | None = None,
    speed: pd.DataFrame | None = None,
) -> str:
    """The verdict in one sentence, e.g. '3 of 27 metrics drift across 2 of 6 environments against tf-2.15;
    4 behaviours changed in 1 environment (SGD(lr=0.1): honoured -> error: ValueError, ...)'."""
    others = verdicts[verdicts["env"] != baseline]
    drifting = others[others["verdict"] == Verdict.DRIFT]
    metrics = verdicts["metric"].nunique()
    line = (
        f"{drifting['metric'].nunique()} of {metrics} metrics drift across "
        f"{drifting['env'].nunique()} of {len(results) - 1} environments against {baseline}"
    )
    accepted = others[others["verdict"] == Verdict.ACCEPTED]
    if not accepted.empty:
        line += f"; {len(accepted)} accepted drift{'s' if len(accepted) > 1 else ''} in {accepted['env'].nunique()} environment" + (
            "s" if accepted["env"].nunique() > 1 else "")
    if behaviours is not None and not behaviours.empty:
        envs = behaviours["env"].nunique()
        # API behaviours first ("api" sorts before "default"); then by environment and key, so that drift,
        # report and gate name the same two
        first = behaviours.sort_values(["kind", "env", "key"]).head(2)
        examples = ", ".join(f"{row.key}: {format_setting(row.baseline_value)} -> {format_setting(row.value)}"
                             for row in first.itertuples())
        line += (f"; {len(behaviours)} behaviour{'s' if len(behaviours) > 1 else ''} changed in {envs} environment{'s' if envs > 1 else ''}"
                 f" ({examples}{', ...' if len(behaviours) > 2 else ''})")
    for verdict in ("slower", "faster"):
        rows = speed[speed["verdict"] == verdict] if speed is not None else pd.DataFrame()
        if not rows.empty:
            envs = rows["env"].nunique()
            line += f"; {len(rows)} task{'s' if len(rows) > 1 else ''} {verdict} in {envs} environment{'s' if envs > 1 else ''}"
    for status in (Status.FAILED, Status.SKIPPED):
        count = sum(1 for result in results if result.status == status)
        if count:
            line += f"; {count} environment{'s' if count > 1 else ''} {status}"
    return line


def speed_rows(speed: pd.DataFrame | None) -> dict[str, list[dict[str, Any]]]:
    """The training tasks' per-step times for the "Speed" section: ``changed`` (slower or faster, slowest
    first) and ``same``, each time in milliseconds."""
    if speed is None or speed.empty:
        return {"changed": [], "same": []}
    rows = [{"env": row.env, "task": row.task, "ms": f"{row.seconds_per_step * 1e3:.3g}",
             "baseline_ms": f"{row.baseline_seconds_per_step * 1e3:.3g}", "ratio": f"{row.ratio:.2g}x",
             "steps": f"{row.steps} / {row.baseline_steps}", "verdict": row.verdict}
            for row in speed.sort_values("ratio", ascending=False).itertuples()]
    return {"changed": [row for row in rows if row["verdict"]], "same": [row for row in rows if not row["verdict"]]}


def localisation_strips(localisations: Mapping[tuple[str, str], Localisation], baseline: str) -> list[dict[str, Any]]:
    """Per drifting model: its finding in words, a strip of cells (one per layer, then one per weight's
    gradient) coloured by the log of their relative difference, the introducing layers (or weight) marked,
    and the loss of its first training steps beside the baseline's with the step where they part."""
    return [
        {"env": env, "task": task, "sentence": found.sentence(),
         "layers": [_strip_cell(part, part.name == found.layer or part.name in found.also) for part in found.layers],
         "gradients": [_strip_cell(part, part.name == found.gradient_weight) for part in found.gradients],
         "first_steps": first_steps_plot(env, baseline, found) if all(found.step_losses) else ""}
        for (env, task), found in sorted(localisations.items())
    ]


def _strip_cell(part: Part, marked: bool) -> dict[str, Any]:
    """One cell: white when identical, pale to deep red from a relative difference of 1e-8 to 1 and beyond,
    grey for a layer only this environment has."""
    if part.only_here:
        return {"name": part.name, "colour": "#dddddd", "marked": False, "rel_diff": math.nan,
                "title": f"{part.name} ({part.cls}): only in this environment, not compared"}
    if part.rel_diff == 0:
        colour = "#ffffff"
    else:
        depth = 1.0 if not math.isfinite(part.rel_diff) else min(1.0, max(0.0, (math.log10(part.rel_diff) + 8) / 8))
        light = round(235 - 150 * depth) if part.differs else 240
        colour = f"rgb(255,{light},{light})" if part.differs else f"rgb({light},{light},255)"
    title = (f"{part.name} ({part.cls}): relative difference {part.rel_diff:.3g}, inputs {part.input_rel_diff:.3g}"
             + (", beyond tolerance" if part.differs else ", within tolerance"))
    return {"name": part.name, "colour": colour, "marked": marked, "title": title, "rel_diff": part.rel_diff}


def drifting_rows(verdicts: pd.DataFrame) -> list[dict[str, Any]]:
    """Drifting (environment, metric) pairs, largest relative change first."""
    rows = verdicts[verdicts["verdict"] == Verdict.DRIFT].to_dict("records")
    return sorted(rows, key=lambda row: -_severity(row))


def family_sections(verdicts: pd.DataFrame, environments: Sequence[str], baseline: str) -> list[dict[str, Any]]:
    """The matrix split by task family (the first part of a metric's name), each with a one-line summary
    ("optimizer: 8 of 80 metrics drift, in keras-3.15-jax"); the drifting families first."""
    if verdicts.empty:
        return []
    others = verdicts[verdicts["env"] != baseline]
    sections = []
    for family, rows in verdicts.groupby(verdicts["metric"].map(metric_family), sort=True):
        drifting = others[(others["metric"].isin(rows["metric"])) & (others["verdict"] == Verdict.DRIFT)]
        failed = others[(others["metric"].isin(rows["metric"])) & (others["verdict"] == Verdict.FAILED)]
        count = rows["metric"].nunique()
        summary = f"{family}: {drifting['metric'].nunique()} of {count} metric{'s' if count != 1 else ''} drift"
        accepted = others[(others["metric"].isin(rows["metric"])) & (others["verdict"] == Verdict.ACCEPTED)]
        if not accepted.empty:
            summary += f" ({accepted['metric'].nunique()} more accepted)"
        if not drifting.empty:
            summary += f", in {', '.join(dict.fromkeys(drifting['env']))}"
        if not failed.empty:
            summary += f"; {failed['metric'].nunique()} failed"
        sections.append({"family": family, "summary": summary, "drifts": not drifting.empty,
                         "matrix": matrix_rows(rows, environments, baseline, quiet=QUIET.get(family, frozenset()))})
    return sorted(sections, key=lambda section: not section["drifts"])


def coverage_lines(results: Sequence[Result]) -> list[str]:
    """Per environment, which task families ran, and which tasks were skipped and why."""
    lines = []
    for result in results:
        if not result.tasks:
            lines.append(f"{result.env}: {result.status}, no task ran" + (f" ({result.reason})" if result.reason else ""))
            continue
        by_status: dict[Status, list[str]] = {}
        for task, declared in result.tasks.items():
            by_status.setdefault(Status(declared.get("status", Status.FAILED)), []).append(task)
        ran, skipped, failed = (by_status.get(status, []) for status in (Status.OK, Status.SKIPPED, Status.FAILED))
        families = sorted({result.tasks[task].get("family", task) for task in ran})
        line = f"{result.env}: {len(ran)} tasks ran ({', '.join(families)})"
        if skipped:
            reasons = "; ".join(f"{task}: {result.get('not_applicable', {}).get(task, '')}" for task in skipped)
            line += f"; {len(skipped)} skipped ({reasons})"
        if failed:
            line += f"; {len(failed)} failed ({', '.join(failed)})"
        lines.append(line)
    return lines


# How much of a long finding the "why" and "drifting metrics" sections draw: its largest changes and the first
# names, the rest counted (verdicts.json keeps every row). A generated 40-environment run with the API sweep drew
# 22,006 drifting rows, 34 findings of over 100 metrics each.
FINDING_ROWS = 12
LISTED_NAMES = 12
# How many findings of one cause line "why" spells out (the best proof first, then those covering most metrics);
# the rest are counted there and each shown under "Drifting metrics". Between two backends the sweep's seeded
# entries give one random-stream finding per output (an initializer's every shape): 60 lines of one cause.
LISTED_FINDINGS = 6


def reproduction_blocks(reproductions: Mapping[tuple[str, str], str]) -> dict[str, Any]:
    """Each distinct snippet once (``blocks``: its number, the entry its metrics share and its text) and
    which one each drifting ``(environment, metric)`` links to (``links``). Written beside every row, the
    same entry's snippet came once per statistic and environment: 17,837 copies, 18 MB of a generated
    40-environment report."""
    numbers: dict[str, int] = {}
    metrics: dict[str, list[str]] = {}
    for (_, metric), text in reproductions.items():
        numbers.setdefault(text, len(numbers))
        metrics.setdefault(text, []).append(metric)
    blocks = [{"id": number, "text": text, "entry": _shared_entry(metrics[text])} for text, number in numbers.items()]
    return {"blocks": blocks, "links": {key: numbers[text] for key, text in reproductions.items()}}


def _shared_entry(metrics: Sequence[str]) -> str:
    """What the metrics of one snippet share up to a dot: the entry (``sweep.layers.Dense(units=3)``)."""
    first, last = min(metrics), max(metrics)  # the common prefix of all is that of the two furthest apart
    if first == last:
        return first
    size = next(index for index, (one, other) in enumerate(zip(first + "\0", last + "\0", strict=False)) if one != other)
    return first[:first.rfind(".", 0, size)] if "." in first[:size] else first[:size]


# Families whose quiet metrics are counted, not drawn nor named: the API sweep's. Its targeted sweep alone drew
# 600 rows (260 KB) of the default matrix's report, nearly all within tolerance or on one side only (entries one
# version lacks: every keras.ops function against tf.keras); their values stay in the results and verdicts.json.
QUIET = {"sweep": frozenset({Verdict.IDENTICAL, Verdict.WITHIN_TOLERANCE, Verdict.MISSING})}
# Of their rows that moved, the drifting first, at most this many are drawn (a nightly's full sweep drifts by the hundred).
QUIET_ROWS = 100


def matrix_rows(verdicts: pd.DataFrame, environments: Sequence[str], baseline: str, *,
                quiet: frozenset[Verdict] = frozenset()) -> dict[str, Any]:
    """Metrics as rows, environments as columns; each cell ``(verdict, text)``: the value, its signed
    difference and the verdict in words (``verdict`` is ``""`` where the environment has no such metric).
    A metric identical in every environment is only named (``steady``): 179 of the default matrix's 452
    rows said nothing but "identical" six times, a third of the page. With ``quiet`` verdicts (a family of
    :data:`QUIET`), a metric whose every verdict is one of them is only counted (``hushed``), and so is a
    steady one; of the others, the drifting first, :data:`QUIET_ROWS` are drawn and the rest counted (``more``)."""
    if verdicts.empty:
        return {"rows": [], "steady": [], "hushed": 0, "more": 0}
    text = verdicts.assign(cell=[_cell(row, baseline) for row in verdicts.to_dict("records")])
    cells = text.pivot(index="metric", columns="env", values="cell").reindex(columns=list(environments))
    classes = verdicts.pivot(index="metric", columns="env", values="verdict").reindex(columns=list(environments))
    steady = [str(metric) for metric, row in classes.iterrows() if all(value == Verdict.IDENTICAL for value in row)]
    hushed = [str(metric) for metric, row in classes.iterrows() if quiet and all(pd.isna(value) or value in quiet for value in row)]
    left_out = set(steady) | set(hushed)
    rows = [{"metric": str(metric), "cells": [("" if pd.isna(verdict) else str(verdict), "" if pd.isna(cell) else str(cell))
                                              for verdict, cell in zip(classes.loc[metric], cells.loc[metric], strict=True)]}
            for metric in cells.index if str(metric) not in left_out]
    if quiet:  # the drifting rows first, then the accepted ones, at most QUIET_ROWS of them
        rows.sort(key=lambda row: (not any(verdict == Verdict.DRIFT for verdict, _ in row["cells"]), row["metric"]))
    drawn = rows[:QUIET_ROWS] if quiet else rows
    return {"rows": drawn, "steady": [] if quiet else steady, "hushed": len(hushed), "more": len(rows) - len(drawn)}


def trajectory_plots(results: Sequence[Result]) -> list[dict[str, str]]:
    """One inline SVG per probe series: every environment's curve on shared axes; a series of a single point
    (a one-epoch history) is a small table instead (``table``), as a plot of single dots says nothing.
    Drawn by hand, as the sparklines are: matplotlib's SVG of the default matrix's seven figures was 240 KB
    of the page (34 KB each: its ticks, clip paths and styles), these are a few KB each."""
    names = sorted({name for result in results for name in result.series})
    plots = []
    for name in names:
        layout = _plot_layout(results, name)
        if layout is not None and all(len(result.series[name][layout[0]]) <= 1 for result in results if result.series.get(name)):
            plots.append({"name": name, "table": _point_table(results, name, *layout)})
        elif layout is not None:
            plots.append({"name": name, "svg": _plot(results, name, *layout)})
    return plots


# Per x axis, the columns worth a panel: a linear fit's step-wise loss and weight, a history's epochs.
PANELS = {"step": ("loss", "w"), "epoch": ("loss", "val_loss")}


def _plot_layout(results: Sequence[Result], name: str) -> tuple[str, list[str]] | None:
    """The x column and the panels of one series, from what every environment recorded (``None``: nothing
    plottable, e.g. a series of another shape or with values that are not numbers)."""
    curves = [result.series[name] for result in results if result.series.get(name)]
    for x_key, wanted in PANELS.items():
        if curves and all(x_key in curve for curve in curves):
            columns = [column for column in wanted if any(column in curve for curve in curves)]
            numeric = all(_numbers(values) for curve in curves for key, values in curve.items() if key in (x_key, *columns))
            return (x_key, columns) if columns and numeric else None
    return None


# Curve colours, one per environment in order (matplotlib's first ten), and the size of one panel.
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
PANEL_WIDTH, PANEL_HEIGHT = 420, 170


def _plot(results: Sequence[Result], name: str, x_key: str, columns: list[str]) -> str:
    """One panel per column of one series, every environment's curve on shared axes (a step-wise loss on a
    log scale), and a legend of the environments' colours, as SVG text."""
    drawn = [(result.env, COLOURS[index % len(COLOURS)], result.series[name]) for index, result in enumerate(results)
             if result.series.get(name)]
    width, height = PANEL_WIDTH * len(columns), PANEL_HEIGHT + 16 * ((len(drawn) + 3) // 4)
    parts = [f'<svg class="trajectory" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(name)}: {escape(", ".join(columns))} by {escape(x_key)}">']
    for panel, column in enumerate(columns):
        log = column == "loss" and x_key == "step"
        parts.append(_panel(drawn, x_key, column, log=log, left=PANEL_WIDTH * panel, title=f"{name}: {column}{' (log)' if log else ''}"))
    for index, (env, colour, _) in enumerate(drawn):
        x, y = 50 + (index % 4) * 190, PANEL_HEIGHT + 12 + 16 * (index // 4)
        parts.append(f'<line x1="{x}" x2="{x + 16}" y1="{y - 4}" y2="{y - 4}" stroke="{colour}" stroke-width="2"/>'
                     f'<text x="{x + 20}" y="{y}" font-size="10">{escape(env)}</text>')
    return "".join(parts) + "</svg>"


def _panel(drawn: Sequence[tuple[str, str, dict[str, list[Any]]]], x_key: str, column: str, *, log: bool, left: int, title: str) -> str:
    """One panel: a frame, its title, the extreme values of both axes, and one polyline per environment
    (points whose value is not finite, or not positive on a log scale, left out)."""
    curves = []
    for _, colour, series in drawn:
        pairs = zip(series.get(x_key, []), series.get(column, []), strict=False)
        points = [(float(x), math.log10(y) if log else float(y)) for x, y in pairs
                  if isinstance(y, (int, float)) and math.isfinite(y) and (y > 0 or not log)]
        curves.append((colour, points))
    xs = [x for _, points in curves for x, _ in points]
    ys = [y for _, points in curves for _, y in points]
    x0, x1, y0, y1 = left + 58, left + PANEL_WIDTH - 12, PANEL_HEIGHT - 24, 22
    parts = [f'<text x="{x0}" y="14" font-size="11">{escape(title)}</text>',
             f'<rect x="{x0}" y="{y1}" width="{x1 - x0}" height="{y0 - y1}" fill="none" stroke="#999"/>']
    if not xs:
        return "".join(parts)
    (low_x, high_x), (low_y, high_y) = (min(xs), max(xs)), (min(ys), max(ys))
    labels = [f"{10 ** value:.3g}" if log else f"{value:.4g}" for value in (high_y, low_y)]
    parts += [f'<text x="{x0 - 4}" y="{y1 + 8}" font-size="9" text-anchor="end">{labels[0]}</text>',
              f'<text x="{x0 - 4}" y="{y0}" font-size="9" text-anchor="end">{labels[1]}</text>',
              f'<text x="{x0}" y="{y0 + 13}" font-size="9">{escape(x_key)} {low_x:g}</text>',
              f'<text x="{x1}" y="{y0 + 13}" font-size="9" text-anchor="end">{escape(x_key)} {high_x:g}</text>']
    x_range, y_range = (high_x - low_x) or 1.0, (high_y - low_y) or 1.0
    for colour, points in curves:
        if points:
            coordinates = " ".join(f"{x0 + (x1 - x0) * (x - low_x) / x_range:.1f},{y0 + (y1 - y0) * (y - low_y) / y_range:.1f}"
                                   for x, y in points)
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.2" points="{coordinates}"/>')
    return "".join(parts)


def _point_table(results: Sequence[Result], name: str, x_key: str, columns: list[str]) -> str:
    """A single-point series as a table: one row per environment, its x and its values."""
    rows = {result.env: {key: values[0] for key, values in result.series[name].items() if key in (x_key, *columns) and values}
            for result in results if result.series.get(name)}
    return pd.DataFrame.from_dict(rows, orient="index").to_html(escape=True, border=0, float_format=lambda value: f"{value:.7g}")


def _numbers(values: list[Any]) -> bool:
    return all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in values)


def history_rows(verdicts: pd.DataFrame, past: History) -> HistoryTable:
    """Per metric, per environment, a sparkline of the earlier runs' values and this run's, drawn only where
    the value moved: a year of nightly runs is mostly flat lines, and 40 environments of them made a
    53 MB page. A metric that held one value everywhere is only counted."""
    if not past.run_ids:
        return HistoryTable([], 0)
    environments = list(dict.fromkeys(verdicts["env"]))  # the order of the results, as in the template
    metrics = sorted(set(verdicts["metric"].astype(str)))
    cells: dict[str, list[str]] = {metric: [""] * len(environments) for metric in metrics}
    current = {env: dict(zip(group["metric"].astype(str), group["value"], strict=True))
               for env, group in verdicts.groupby("env", sort=False)}
    for column, env in enumerate(environments):
        table = np.vstack([past.numbers(env, metrics), as_numbers([current[env].get(metric) for metric in metrics])])
        finite = np.isfinite(table)  # a column with no finite value has low inf and high -inf: not drawn
        low, high = np.where(finite, table, np.inf).min(axis=0), np.where(finite, table, -np.inf).max(axis=0)
        for position in np.flatnonzero(high > low):
            cells[metrics[position]][column] = sparkline(table[:, position])
    rows = [{"metric": metric, "cells": row} for metric, row in cells.items() if any(row)]
    return HistoryTable(rows, len(metrics) - len(rows))


@dataclass(frozen=True)
class HistoryTable:
    """The history section: the rows with a value that moved, and how many metrics held theirs throughout."""

    rows: list[dict[str, Any]]
    steady: int


@dataclass(frozen=True)
class DiffSection:
    """One "... that differ" section: the keys every environment has with different values (a table), and
    the keys only some have, folded into one line per owner (``optimizer.Adam``) and set of environments."""

    changed: pd.DataFrame
    one_sided: list[str]

    @property
    def empty(self) -> bool:
        return self.changed.empty and not self.one_sided


ABSENT = "—"  # a key an environment does not have, in the "... that differ" tables


def diff_tables(results: Sequence[Result]) -> dict[str, DiffSection]:
    """What differs between the environments that ran: defaults, API behaviour, packages, flags."""
    ran = [r for r in results if r.ok]

    def section(getter: Callable[[Result], dict[str, Any]], by_owner: bool) -> DiffSection:
        return fold_one_sided(differing({r.env: getter(r) for r in ran}, absent=ABSENT), by_owner)

    return {
        "Resolved defaults that differ": section(lambda r: r.defaults, by_owner=True),
        "API behaviour that differs": section(lambda r: r.api, by_owner=False),
        "Installed packages that differ": section(lambda r: r.distributions, by_owner=False),
        "Environment flags that differ": section(lambda r: r.env_vars, by_owner=False),
    }


def fold_one_sided(table: pd.DataFrame, by_owner: bool) -> DiffSection:
    """Split a :func:`differing` table: rows every environment has stay a table; rows some lack become lines
    such as ``optimizer.Adam: only in keras-3.15-jax, keras-3.15-torch: ema_momentum, use_ema`` (``by_owner``:
    grouped by the key's owner, all but its last dotted part)."""
    if table.empty:
        return DiffSection(table, [])
    partial = (table == ABSENT).any(axis=1)
    groups: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for key, row in table[partial].iterrows():
        owner, _, name = str(key).rpartition(".") if by_owner else ("", "", str(key))
        having = tuple(str(env) for env, value in row.items() if value != ABSENT)
        groups.setdefault((owner, having), []).append(name)
    lines = [f"{owner + ': ' if owner else ''}only in {', '.join(having)}: {', '.join(names)}"
             for (owner, having), names in sorted(groups.items())]
    return DiffSection(table[~partial], lines)


class Finding(TypedDict):
    """One distinct (proof, evidence) of a :class:`CauseLine`: the metrics it covers and their verdict rows
    (largest change first)."""

    proof: Certainty
    evidence: str
    metrics: list[str]
    rows: list[dict[str, Any]]


class CauseLine(TypedDict):
    """The drifts of one environment that one cause explains, as the report's "why" section and ``gate``
    show them: how many, its best proof and its findings (the best first)."""

    env: str
    cause: Cause
    count: int
    metrics: list[str]
    proof: Certainty
    findings: list[Finding]


# The order of findings, and of cause lines (proven first).
PROOF_ORDER = (Certainty.PROVEN, Certainty.SUSPECTED, Certainty.UNEXPLAINED)


def cause_summary(verdicts: pd.DataFrame) -> list[CauseLine]:
    """One line per (environment, cause), with the metrics it covers, its best proof (proven before
    suspected) and its ``findings``: each distinct (proof, evidence) once, with its metrics and their verdict
    rows (largest change first), the best proof first, then those covering most metrics. Proven causes first."""
    drifting = verdicts[verdicts["verdict"] == Verdict.DRIFT]
    lines = []
    for (env, cause), group in drifting.groupby(["env", "cause"], sort=True):
        findings = [Finding(proof=Certainty(proof), evidence=str(evidence), metrics=list(rows["metric"]), rows=drifting_rows(rows))
                    for (proof, evidence), rows in group.groupby(["proof", "evidence"], sort=True)]
        findings.sort(key=lambda finding: (PROOF_ORDER.index(finding["proof"]), -len(finding["metrics"])))
        lines.append(CauseLine(env=str(env), cause=Cause(cause), count=len(group), metrics=list(group["metric"]),
                               proof=findings[0]["proof"], findings=findings))
    return sorted(lines, key=lambda line: line["proof"] != Certainty.PROVEN)


def accepted_entries(verdicts: pd.DataFrame) -> list[dict[str, Any]]:
    """The accepted drifts grouped by the entry that accepts them (its cause and reason, said once), with
    each environment's metrics: ``{"cause", "reason", "count", "envs": [{"env", "count", "metrics"}]}``."""
    rows = verdicts[verdicts["verdict"] == Verdict.ACCEPTED]
    if rows.empty:  # also verdicts judged without an accepted-drifts file, which have no reason column
        return []
    return [{"cause": cause, "reason": reason, "count": len(group),
             "envs": [{"env": env, "count": len(mine), "metrics": list(mine["metric"])} for env, mine in group.groupby("env", sort=True)]}
            for (cause, reason), group in rows.groupby(["cause", "accepted_reason"], sort=True)]


def oracle_html(results: Sequence[Result]) -> str:
    """The oracle table: expected values and every environment's distance, the closest in bold."""
    table = oracle_distances(results)
    if table.empty:
        return ""
    distances = table.drop(columns=["oracle float64", "oracle float32"])
    styler = (
        table.style.format("{:.7g}", na_rep="—")
        .highlight_min(subset=list(distances.columns), axis=1, props="font-weight: bold")
        .format_index(escape="html", axis=0)
        .format_index(escape="html", axis=1)
    )
    return styler.to_html()


def _cut_short(result: Result) -> dict[str, str]:
    """Task -> why, for each task the probe cut short for its pace (a slowdown, not a failure)."""
    return {task: str(declared["cut_short"].get("reason", "")) for task, declared in result.tasks.items()
            if isinstance(declared.get("cut_short"), dict)}


def format_setting(value: Any) -> str:
    """A default's or an API behaviour's value: ``None`` is a value here (``batch_size=None``), not a blank."""
    return "None" if value is None else format_value(value)


def format_value(value: Any) -> str:
    """A metric value as a reader wants it: 7 significant digits for floats."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.7g}"
    return str(value)


def _cell(row: Mapping[Any, Any], baseline: str) -> str:
    verdict = row["verdict"]
    if verdict in (Verdict.FAILED, Verdict.SKIPPED):
        return VERDICT_LABELS[verdict]
    text = format_value(row["value"])
    if row["env"] != baseline and row["abs_diff"] is not None and verdict != Verdict.IDENTICAL:
        text += f" (Δ {row['abs_diff']:+.2g})"
    if row["env"] != baseline:
        text += f" · {VERDICT_LABELS[verdict]}"
    return text


def sparkline(values: Sequence[Any] | np.ndarray) -> str:
    """A tiny SVG polyline of the numeric values (gaps skipped); empty when fewer than two points.

    Drawn by hand, not by matplotlib: a year of nightly runs over many environments means thousands. A
    flat stretch keeps only its ends, which draws the same line: nightly values mostly hold for weeks.
    """
    numbers = as_numbers(values)
    indices = np.flatnonzero(np.isfinite(numbers))
    if len(indices) < 2:
        return ""
    found = numbers[indices]
    low, high = float(found.min()), float(found.max())
    kept = np.ones(len(found), dtype=bool)
    kept[1:-1] = (found[1:-1] != found[:-2]) | (found[1:-1] != found[2:])
    points = list(zip(indices[kept].tolist(), found[kept].tolist(), strict=True))
    coordinates = _coordinates(points, (1, SPARK_WIDTH - 1), (SPARK_HEIGHT - 2, 2), (low, high), max(len(values) - 1, 1))
    return (
        f'<svg class="spark" width="{SPARK_WIDTH}" height="{SPARK_HEIGHT}" role="img" '
        f'aria-label="{len(indices)} runs, from {low:.4g} to {high:.4g}">'
        f'<polyline fill="none" stroke="currentColor" stroke-width="1" points="{coordinates}"/></svg>'
    )


def first_steps_plot(env: str, baseline: str, found: Localisation) -> str:
    """The loss of the first training steps here (dashed) and in the baseline (solid), the step where they
    part marked; empty when no step has a finite loss. Drawn by hand, as the sparklines are: a report may
    hold one per drifting task in every environment."""
    curves = [[(index, value) for index, value in enumerate(losses) if math.isfinite(value)] for losses in found.step_losses]
    values = [value for curve in curves for _, value in curve]
    if not values:
        return ""
    steps = max(len(losses) for losses in found.step_losses)
    x_span, y_span = (40, STEPS_WIDTH - 8), (STEPS_HEIGHT - 22, 40)
    scale = (x_span, y_span, (min(values), max(values)), max(steps - 1, 1))
    lines = [f'<polyline fill="none" stroke="{colour}" stroke-width="1.5"{dash} points="{_coordinates(curve, *scale)}"/>'
             for curve, colour, dash in zip(curves, ("#1f77b4", "#ff7f0e"), ("", ' stroke-dasharray="4 3"'), strict=True)]
    title, legend = f"{found.task}: loss of the first {steps} steps", f"{baseline} solid, {env} dashed"
    parts = [f'<svg class="steps" width="{STEPS_WIDTH}" height="{STEPS_HEIGHT}" role="img" aria-label="{escape(title)}; {escape(legend)}">',
             f'<text x="40" y="11" font-size="10">{escape(title)}</text><text x="40" y="24" font-size="9">{escape(legend)}</text>',
             f'<text x="2" y="{y_span[1] + 4}" font-size="9">{max(values):.4g}</text>',
             f'<text x="2" y="{y_span[0]}" font-size="9">{min(values):.4g}</text>',
             f'<text x="40" y="{STEPS_HEIGHT - 6}" font-size="9">step 1</text>',
             f'<text x="{STEPS_WIDTH - 8}" y="{STEPS_HEIGHT - 6}" font-size="9" text-anchor="end">step {steps}</text>', *lines]
    if found.first_divergent_step is not None:
        x = f"{x_span[0] + (x_span[1] - x_span[0]) * (found.first_divergent_step - 1) / max(steps - 1, 1):.1f}"
        parts.append(f'<line x1="{x}" x2="{x}" y1="{y_span[1]}" y2="{y_span[0]}" stroke="#c0392b"/>'
                     f'<text x="{x}" y="{y_span[1] - 2}" font-size="9" fill="#c0392b">part at step {found.first_divergent_step}</text>')
    return "".join(parts) + "</svg>"


def _coordinates(points: Sequence[tuple[int, float]], x_span: tuple[float, float], y_span: tuple[float, float],
                 value_range: tuple[float, float], last: int) -> str:
    """SVG ``x,y`` pairs of ``(index, value)`` points: index 0..``last`` across ``x_span``, the value range
    across ``y_span`` (from its low end's pixel to its high end's)."""
    (x0, x1), (y0, y1), (low, high) = x_span, y_span, value_range
    span = (high - low) or 1.0
    return " ".join(f"{x0 + (x1 - x0) * i / last:.1f},{y0 + (y1 - y0) * (v - low) / span:.1f}" for i, v in points)


def _severity(row: dict[str, Any]) -> float:
    for key in ("rel_diff", "abs_diff"):
        value = row.get(key)
        if value is not None and not math.isnan(value):
            return abs(value)
    return math.inf
