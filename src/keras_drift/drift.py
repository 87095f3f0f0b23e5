"""The drift sequence, named once: probe every environment, load the saved models (the baseline's repeats
riding along), repeat the tasks that drift, explain the drifts by re-runs, render the run.

``keras-drift drift`` and the benchmark both run it (the benchmark without the explaining re-runs), from
one frozen :class:`DriftPlan` that the command line builds from its arguments; ``keras-drift bisect``
(:mod:`keras_drift.bisect.bisecting`) runs its probe step for each round of releases and its explain step
at each first bad release, each with a plan of its own environments. Each step is a field of
:class:`Stages`, so the sequence runs offline in the tests against stand-in stages, as nox's
``execute_workflow`` names its steps once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keras_drift import pipeline
from keras_drift.envs.specs import EnvSpec
from keras_drift.execute import experiment, noise, runner
from keras_drift.execute.cache import ResultCache
from keras_drift.judge import accepted, compare, proofs, saved_models, speed
from keras_drift.store.results import Result

# What a step says about an environment while the run goes on (the command line prints it on stderr).
Say = Callable[[str], None]


@dataclass(frozen=True, kw_only=True)
class Judging:
    """How a run is judged and rendered: the tolerances, the reviewed accepted drifts, what fails beyond drift
    (``fail_on``), the slowdown factor, every environment the project defines (an accepted drift of one
    the run left out is not stale), and how many earlier runs the history shows."""

    tolerances: tuple[compare.Tolerance, ...]
    acceptances: tuple[accepted.Acceptance, ...] = ()
    fail_on: tuple[str, ...] = ()
    slowdown: float = speed.DEFAULT_FACTOR
    environments: tuple[str, ...] = ()
    history_window: int = 0


@dataclass(frozen=True, kw_only=True)
class DriftPlan:
    """Everything one drift run is told, built once by the command line: the environments and the baseline,
    where the run, the project (its ``probe/``) and the environments live, what every probe is told, how
    many at a time, the result cache and the environments that must probe anyway, the user's model files,
    whether drifts are explained by re-runs (and within how many seconds), and how the run is judged."""

    specs: tuple[EnvSpec, ...]
    baseline: str
    run_dir: Path
    project_root: Path
    venvs_dir: Path
    settings: runner.ProbeSettings
    judging: Judging
    jobs: int = 1
    results_cache: ResultCache | None = None
    rerun: frozenset[str] = frozenset()
    user_models: tuple[saved_models.UserModel, ...] = ()
    explain: bool = True
    explain_budget: float = experiment.DEFAULT_BUDGET_S


@dataclass
class Outcome:
    """What the sequence gave: every environment's result, the rendered run, and the seconds each step took."""

    results: list[Result]
    rendered: pipeline.RenderedRun
    seconds: dict[str, float] = field(default_factory=dict)


Repeated = Mapping[str, Mapping[str, Mapping[str, Any]]]


@dataclass(frozen=True)
class Stages:
    """The steps of the sequence. The defaults run the real thing (:func:`real_stages`); the tests hand in
    stand-ins."""

    probe: Callable[[DriftPlan, Say], list[Result]]
    load: Callable[[DriftPlan, list[Result], Mapping[str, Sequence[Mapping[str, Any]]], Say], Repeated]
    repeat: Callable[[DriftPlan, list[Result], Repeated, Say], None]
    explain: Callable[[DriftPlan, list[Result], Say], list[proofs.Proof]]
    render: Callable[[DriftPlan, list[Result]], pipeline.RenderedRun]


def run_drift(plan: DriftPlan, *, stages: Stages | None = None, say: Say = lambda line: None) -> Outcome:
    """Run the sequence of the module docstring for ``plan``; the steps' seconds are in the outcome."""
    stages = stages or real_stages()
    seconds: dict[str, float] = {}

    def timed(name: str, step: Callable[[], Any]) -> Any:
        started = time.monotonic()
        try:
            return step()
        finally:
            seconds[name] = time.monotonic() - started

    results = timed("probe", lambda: stages.probe(plan, say))
    # the drifting tasks' repeats ride along in a load process where one runs (the baseline's)
    trials = noise.repeat_trials(compare.compare(results, plan.baseline, list(plan.judging.tolerances)), results, plan.baseline,
                                 plan.settings.repeats) if plan.settings.saved_models else {}
    repeated = timed("load", lambda: stages.load(plan, results, trials, say)) if plan.settings.saved_models else {}
    timed("repeat", lambda: stages.repeat(plan, results, repeated, say))
    if plan.explain:
        timed("explain", lambda: proofs.save(plan.run_dir, stages.explain(plan, results, say)))
    rendered = timed("render", lambda: stages.render(plan, results))
    return Outcome(results, rendered, seconds)


def real_stages() -> Stages:
    """The steps that run probes in real environments (:mod:`keras_drift.execute.runner`)."""
    return Stages(probe=probe, load=load_saved_models, repeat=_repeat, explain=_explain, render=_render)


def probe(plan: DriftPlan, say: Say) -> list[Result]:
    """Probe (or reuse) every environment; with a baseline (``keras-drift run`` and a bisect's rounds have
    none), it goes first and the others repeat what drifts from it at once."""
    return runner.run_environments(
        list(plan.specs), plan.run_dir, plan.project_root, plan.venvs_dir, jobs=plan.jobs, settings=plan.settings,
        on_done=lambda result: say(progress_line(result)), results_cache=plan.results_cache, rerun=plan.rerun,
        watch=runner.BaselineWatch.of(plan.baseline, plan.judging.tolerances) if plan.baseline and plan.settings.adaptive else None)


def load_saved_models(plan: DriftPlan, results: list[Result], trials: Mapping[str, Sequence[Mapping[str, Any]]], say: Say) -> Repeated:
    """The load phase: every environment loads its own saved models, the baseline's (or, in the baseline,
    every candidate's) and the user's files; an environment that loads in a process of its own runs its
    ``trials`` there first. The outcomes of the trials run, by environment and id."""

    def announce(result: Result) -> None:
        phase = result.get("load_phase", {})
        cached = f" (from the cache: {', '.join(phase['cached'])})" if phase.get("cached") else ""
        detail = f": {phase['reason']}" if phase.get("reason") else cached
        along = f", {phase['trials']} repeat run(s) before them" if phase.get("trials") else ""
        say(f"{result.env:<28} loaded   {result['timings']['load_s']:6.1f} s: {len(result.get('loads', []))} attempt(s){along}{detail}")

    return runner.run_load_phase(list(plan.specs), results, plan.run_dir, plan.project_root, plan.venvs_dir, plan.baseline,
                                 plan.settings, list(plan.user_models), plan.jobs, announce, plan.results_cache, plan.rerun, trials)


def _trial_executor(plan: DriftPlan, doing: str, say: Say) -> runner.Execute:
    return runner.trial_executor(list(plan.specs), plan.run_dir, plan.project_root, plan.venvs_dir, plan.settings,
                                 lambda env, count: say(f"{env:<28} {doing}: {count} re-run(s)"))


def _repeat(plan: DriftPlan, results: list[Result], repeated: Repeated, say: Say) -> None:
    """Repeat the tasks with a drifting metric (in the candidate and the baseline) where the load phase has
    not, so that their noise floors are measured; the results that changed are rewritten and re-cached."""
    execute = _trial_executor(plan, "repeating drifting tasks", say)
    noise.repeat_drifting(results, baseline=plan.baseline, tolerances=list(plan.judging.tolerances), execute=execute,
                          repeats=plan.settings.repeats, run_dir=plan.run_dir,
                          results_cache=plan.results_cache, jobs=plan.jobs, done=repeated)


def _explain(plan: DriftPlan, results: list[Result], say: Say) -> list[proofs.Proof]:
    """Re-run each drifting task with recorded differences undone: what that proves (:func:`run_drift`
    writes it to the run's ``experiments.json``)."""
    execute = _trial_executor(plan, "explaining", say)
    return experiment.explain_with_cache(results, baseline=plan.baseline, tolerances=list(plan.judging.tolerances), execute=execute,
                                         results_cache=plan.results_cache,
                                         budget_s=plan.explain_budget, jobs=plan.jobs, rerun=plan.rerun)


def _render(plan: DriftPlan, results: list[Result]) -> pipeline.RenderedRun:
    judging = plan.judging
    return pipeline.render_run(plan.run_dir, results, plan.baseline, tolerances=list(judging.tolerances),
                               history_window=judging.history_window,
                               acceptances=list(judging.acceptances), fail_on=list(judging.fail_on), slowdown=judging.slowdown,
                                                environments=list(judging.environments))


def progress_line(result: Result) -> str:
    """One environment done: its status, its wall time, and why it failed or where it came from."""
    detail = f": {result.reason}" if not result.ok else (f" (cached from {result.cached_from})" if result.cached_from else "")
    wall = result.get("timings", {}).get("wall_s", 0.0)
    return f"{result.env:<28} {result.status:<8} {wall:6.1f} s{detail}"
