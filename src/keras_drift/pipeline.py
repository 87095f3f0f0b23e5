"""The one path from results to a rendered run: compare, attribute, read history, write ``verdicts.json``,
render ``report.html``. ``drift``, ``report``, ``merge`` and ``bench`` all call :func:`render_run`, and
``gate`` calls :func:`judge`, so the benchmark times exactly what a real run does.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import pandas as pd

from keras_drift.errors import ExitCode
from keras_drift.judge import accepted, attribute, compare, doors, localise, overview, proofs, reproductions, saved_models, speed, surface
from keras_drift.judge.surface import SurfaceDiff
from keras_drift.render import report
from keras_drift.store import history, runs
from keras_drift.store.results import Result, encode_scalar, write_json_atomically
from keras_drift.store.verdicts import API_SURFACE, REPRODUCTION, SCHEMA_VERSION, VERDICTS_FILE, Verdict, validate_verdicts


@dataclass(frozen=True)
class RenderedRun:
    """What rendering a run produced: its verdicts document, the one-line summary and the report's path."""

    document: dict[str, Any]
    summary: str
    report_path: Path
    warnings: tuple[str, ...] = ()

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode(self.document["exit_code"])


@dataclass(frozen=True)
class Judged(accepted.Review):
    """A judged run: the reviewed verdicts and what was judged beside them (:class:`accepted.Review`), with
    the API surface's diff (:func:`keras_drift.judge.surface.diff`) and the reproduction snippet of each
    drifting sweep metric by ``(environment, metric)`` (:func:`keras_drift.judge.reproductions.reproductions`)."""

    surface: SurfaceDiff = field(default_factory=SurfaceDiff)
    reproductions: Mapping[tuple[str, str], str] = field(default_factory=dict)


def judge(
    results: Sequence[Result],
    baseline: str,
    tolerances: Sequence[compare.Tolerance],
    *, acceptances: Sequence[accepted.Acceptance] = (),
    experiments: Sequence[proofs.Proof] = (),
    slowdown: float = speed.DEFAULT_FACTOR,
    environments: Collection[str] = (),
) -> Judged:
    """One row per (environment, metric) with its verdict, the cause, evidence and proof of each drift
    (``experiments``: what re-runs proved, where they ran), and the drifts that reviewed entries accept
    marked ``accepted``; beside them the changed behaviours, each training task's speed per step
    (``slower``/``faster`` beyond the factor ``slowdown``), the API surface's diff and the reproduction
    snippets of drifting sweep metrics. The saved-model rules
    (:mod:`keras_drift.judge.saved_models`) add their rows to the verdicts and their changes to the behaviours.
    ``environments``: see :func:`keras_drift.judge.accepted.review`. Tasks run through another door to Keras
    compare with what that door reaches elsewhere (:func:`keras_drift.judge.doors.aligned`)."""
    results = doors.aligned(results)
    by_task = proofs.by_task(experiments)
    compared = doors.relevant(compare.compare(results, baseline, tolerances), results, baseline)
    verdicts = attribute.attribute(compared, results, baseline, by_task, tolerances)
    by_env = {result.env: result for result in results}
    drifting = verdicts[(verdicts["env"] != baseline) & verdicts["verdict"].isin([Verdict.DRIFT, Verdict.ACCEPTED])]
    located = localise.localisations({(row.env, by_env[row.env].task_of(row.metric)) for row in drifting.itertuples()},
                                     results, baseline, tolerances, by_task)
    saved = saved_models.judge(results, baseline, tolerances)
    if not saved.verdict_rows.empty:
        verdicts = pd.concat([verdicts, saved.verdict_rows], ignore_index=True)
    behaviours = compare.behaviour_changes(results, baseline)
    if not saved.behaviours.empty:
        behaviours = pd.concat([behaviours, saved.behaviours], ignore_index=True) if not behaviours.empty else saved.behaviours
    reviewed = accepted.review(verdicts, list(acceptances), baseline, environments=environments)
    kept = {part.name: getattr(reviewed, part.name) for part in fields(reviewed)}
    return Judged(**{**kept, "behaviours": behaviours, "speed": speed.speed_table(results, baseline, slowdown), "localisations": located,
                     "saved": saved}, surface=surface.diff(results, baseline),
                  reproductions=reproductions.reproductions(reviewed.verdicts, results, baseline))


FAIL_ON = ("behaviour", "slowdown")


def exit_code(judged: Judged, results: Sequence[Result], fail_on: Sequence[str] = ()) -> ExitCode:
    """The run's exit code: an expired acceptance fails it as a drift would (FAILED still comes first), and
    so does a changed behaviour when ``fail_on`` names ``behaviour`` (a removed API name that a task calls
    is one), and a slower task when it names ``slowdown``."""
    code = compare.exit_code(judged.verdicts, results)
    slower = (judged.speed["verdict"] == speed.SLOWER).any()
    changed = not judged.behaviours.empty or bool(judged.surface.called)
    if code == ExitCode.OK and (judged.expired or ("behaviour" in fail_on and changed)
                                or ("slowdown" in fail_on and slower)):
        return ExitCode.DRIFT
    return code


def acceptance_warnings(judged: accepted.Review) -> list[str]:
    """One line per stale or expired entry of the accepted-drifts file."""
    return ([f"accepted drift expired (the run fails until it is renewed or removed): {entry.describe()}" for entry in judged.expired]
            + [f"accepted drift is stale (no drift matches it any more; remove it): {entry.describe()}" for entry in judged.stale])


def render_run(
    run_dir: Path,
    results: Sequence[Result],
    baseline: str,
    *, tolerances: Sequence[compare.Tolerance],
    history_window: int = history.DEFAULT_WINDOW,
    acceptances: Sequence[accepted.Acceptance] = (),
    fail_on: Sequence[str] = (),
    slowdown: float = speed.DEFAULT_FACTOR,
    environments: Collection[str] = (),
) -> RenderedRun:
    """Judge ``results`` against ``baseline`` (with the run's experiments, if it has any) and write the
    run's ``verdicts.json`` and ``report.html``; ``environments`` are all the project defines (an accepted
    drift is stale only if the run left out none of those it names)."""
    experiments = proofs.load(run_dir)
    judged = judge(results, baseline, tolerances, acceptances=acceptances, experiments=experiments, slowdown=slowdown,
                   environments=environments)
    past = history.load_history(run_dir.parent, run_dir, history_window)
    news = history.new_drift(judged.verdicts, past)
    document = verdicts_document(judged, results, baseline, run_id=run_dir.name, new_drift=news, experiments=experiments, fail_on=fail_on,
                                 slowdown=slowdown)
    write_json_atomically(run_dir / VERDICTS_FILE, validate_verdicts(document, run_dir / VERDICTS_FILE))
    history.write_history(run_dir, document)  # what later runs read of this one
    warnings = acceptance_warnings(judged)
    path = report.render(results, judged.verdicts, baseline=baseline, run_info=runs.read_run_info(run_dir).to_json(),
                         out=run_dir / "report.html", past=past, new_drift=news,
                         acceptance_warnings=warnings, behaviours=judged.behaviours, speed=judged.speed,
                             localisations=judged.localisations, saved=judged.saved,
                         first_screen=overview.overview(results, judged, baseline, judged.surface), surface=judged.surface,
                         reproductions=judged.reproductions)
    summary = report.summary_line(results, judged.verdicts, baseline, judged.behaviours, judged.speed)
    return RenderedRun(document, summary, path, (*past.warnings, *warnings))


def _trial_document(trial: proofs.Trial, overrides_key: str) -> dict[str, Any]:
    """One re-run in ``verdicts.json``: what it set (under ``overrides_key``), whether it applied, ran and
    landed within tolerance, and the largest relative difference left."""
    return {overrides_key: list(trial.undone), "applied": trial.applied, "error": trial.error, "within": trial.within,
            "max_rel_diff": encode_scalar(trial.max_rel_diff)}


def verdicts_document(
    judged: Judged,
    results: Sequence[Result],
    baseline: str,
    *, run_id: str,
    new_drift: Sequence[dict[str, Any]] = (),
    experiments: Sequence[proofs.Proof] = (),
    fail_on: Sequence[str] = (),
    slowdown: float = speed.DEFAULT_FACTOR,
) -> dict[str, Any]:
    """The ``verdicts.json`` contract (``schemas/verdicts.schema.json``): per environment, per metric, the
    row of :func:`judge`, with cause and evidence on drifting and accepted rows (and the reproduction
    snippet of a sweep metric's); the API surface's diff where any result recorded a surface."""
    verdicts = judged.verdicts
    environments = {}
    for result in results:
        rows = verdicts[verdicts["env"] == result.env]
        environments[result.env] = {
            "status": str(result.status),
            "reason": result.reason,
            "cached_from": result.cached_from,
            "repeated_tasks": result.repeated_tasks,
            "localisation": {task: found.document() for (env, task), found in sorted(judged.localisations.items()) if env == result.env},
            "metrics": {
                row.metric: {
                    "value": encode_scalar(row.value),
                    "baseline": encode_scalar(row.baseline_value),
                    "abs_diff": encode_scalar(row.abs_diff),
                    "rel_diff": encode_scalar(row.rel_diff),
                    "tolerance": {"atol": row.atol, "rtol": row.rtol},
                    "noise_floor": row.noise_floor,
                    "verdict": str(row.verdict),
                    **({"cause": str(row.cause), "evidence": row.evidence, "proof": str(row.proof)}
                       if row.verdict in (Verdict.DRIFT, Verdict.ACCEPTED) else {}),
                    **({"accepted_reason": row.accepted_reason} if row.verdict == Verdict.ACCEPTED else {}),
                    **({REPRODUCTION: judged.reproductions[(result.env, row.metric)]}
                       if (result.env, row.metric) in judged.reproductions else {}),
                }
                for row in rows.itertuples()
            },
        }
    counts = verdicts[verdicts["env"] != baseline]["verdict"].value_counts()
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "baseline": baseline,
        "exit_code": int(exit_code(judged, results, fail_on)),
        "fail_on": list(fail_on),
        "behaviour_changes": [
            {"env": change.env, "kind": change.kind, "key": change.key, "baseline": encode_scalar(change.baseline_value),
             "value": encode_scalar(change.value)}
            for change in judged.behaviours.itertuples()
        ],
        "speed": {
            "factor": slowdown,
            "tasks": [{**row, "verdict": row["verdict"] or "same"} for row in judged.speed.to_dict("records")],
        },
        "acceptances": {"stale": [entry.describe() for entry in judged.stale],
                        "expired": [entry.describe() for entry in judged.expired]},
        "counts": {str(verdict): int(counts.get(verdict, 0)) for verdict in Verdict},
        "closest_to_oracle": compare.closest_to_oracle(results),
        "environments": environments,
        "experiments": [
            {"env": proof.env, "task": proof.task, "status": str(proof.status), "accounts_for": list(proof.accounts_for),
             "metrics": list(proof.metrics), "why": proof.why, "sentence": proof.sentence(),
             "interventions": [_trial_document(trial, "undone") for trial in proof.trials],
             "reverse": None if proof.reverse is None else _trial_document(proof.reverse, "redone"),
             **({"left": list(proof.left)} if proof.left else {})}
            for proof in experiments
        ],
        "new_since_last_run": [
            {"env": row["env"], "metric": row["metric"], "previous_verdict": row["previous_verdict"]} for row in new_drift
        ],
        "artifacts": _artifacts_document(judged.saved, results),
        **({API_SURFACE: judged.surface.document()} if judged.surface.recorded else {}),
    }


def _artifacts_document(saved: saved_models.Judgement | None, results: Sequence[Result]) -> dict[str, Any]:
    """Every saved-model load attempt with its outcome, each user file's outcome per environment, and
    each environment's load phase."""
    if saved is None:
        return {"attempts": [], "user_models": [], "load_phases": {}}
    return {
        "attempts": [{key: encode_scalar(value) for key, value in row.items()} for row in saved.attempts.to_dict("records")],
        "user_models": [{key: encode_scalar(value) for key, value in row.items()} for row in saved.user_models.to_dict("records")],
        "load_phases": {result.env: result["load_phase"] for result in results if "load_phase" in result},
    }
