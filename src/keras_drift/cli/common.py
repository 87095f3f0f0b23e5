"""What the commands share in doing: the plan of a run built once from the arguments, the run recorded
in its ``run.json`` with live progress, the rendered run said, and the small readers of arguments."""

from __future__ import annotations

import argparse
import errno
import json
import shlex
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from keras_drift import drift, live, pipeline
from keras_drift.cli import options, project
from keras_drift.envs import environments
from keras_drift.envs.specs import NAME_RE, EnvSpec, choose_baseline, environment_files, find_environment, load_specs, select
from keras_drift.errors import ExitCode, InputError, Interrupted
from keras_drift.execute import cache, experiment, runner
from keras_drift.execute.cache import ResultCache
from keras_drift.judge import accepted, compare, saved_models, speed
from keras_drift.store import results, runs
from keras_drift.store.results import printable

T = TypeVar("T")


# What the machine, not keras-drift, is at fault for when writing or reading a file the user named: unusable
# input by the README's table (a folder that cannot be written), one line and exit 3.
INPUT_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENOTDIR, errno.EISDIR,
                           errno.EEXIST, errno.ENAMETOOLONG, errno.ELOOP})


def drift_plan(
    args: argparse.Namespace, selected: Sequence[EnvSpec], run_dir: Path, *, baseline: str, tolerances: Sequence[compare.Tolerance],
    rerun: set[str], adaptive: bool, user_models: Sequence[saved_models.UserModel] = (),
) -> drift.DriftPlan:
    """The frozen plan of a run (:class:`keras_drift.drift.DriftPlan`), built once from the arguments."""
    return drift.DriftPlan(
        specs=tuple(selected), baseline=baseline, run_dir=run_dir, project_root=Path(args.root).resolve(),
        venvs_dir=Path(args.venvs).resolve(), settings=settings(args, adaptive), judging=judging(args, tolerances), jobs=args.jobs,
        results_cache=results_cache(args), rerun=frozenset(rerun), user_models=tuple(user_models),
        explain=not getattr(args, "no_explain", True), explain_budget=getattr(args, "explain_budget", experiment.DEFAULT_BUDGET_S))


def judging(args: argparse.Namespace, tolerances: Sequence[compare.Tolerance]) -> drift.Judging:
    """How a run is judged: the tolerances, the reviewed accepted drifts, ``--fail-on``, ``--slowdown``, every
    environment the project defines (an accepted drift of one the run left out is not stale), ``--history``."""
    acceptances = tuple(accepted.load_acceptances(Path(args.accepted))) if hasattr(args, "accepted") else ()  # `run`, `load`: none
    return drift.Judging(
        tolerances=tuple(tolerances), acceptances=acceptances,
        fail_on=tuple(getattr(args, "fail_on", ())), slowdown=getattr(args, "slowdown", speed.DEFAULT_FACTOR),
        environments=tuple(path.stem for path in environment_files(Path(getattr(args, "envs_dir", None) or Path(args.root) / "envs"))),
        history_window=getattr(args, "history", 0))


def recorded(plan: drift.DriftPlan, body: Callable[[drift.Say], T]) -> T:
    """Run ``body`` as this run, recorded in its ``run.json`` (started, then finished), with live progress
    (:class:`keras_drift.live.Live`, whose lines ``body`` is handed to say its steps with); Ctrl-C marks the
    run incomplete and keeps what it has, a folder that cannot be written mid-run is unusable input."""
    info = runs.RunInfo.started(plan.run_dir, environments=[spec.name for spec in plan.specs], baseline=plan.baseline)
    environments.builder()  # a bad $KERAS_DRIFT_BUILDER is unusable input, refused before anything runs
    runs.write_run_info(plan.run_dir, info)
    try:
        with live.Live(plan.run_dir) as shown:
            outcome = body(shown.say)
    except KeyboardInterrupt:
        mark_incomplete(plan.run_dir)
        raise Interrupted(plan.run_dir) from None
    except OSError as exc:  # disk full, folder removed or unwritable mid-run
        if exc.errno not in INPUT_ERRNOS:
            raise
        raise InputError(f"{plan.run_dir}: cannot write the run: {exc.strerror or exc}") from None
    runs.write_run_info(plan.run_dir, replace(info, finished_at=runs.now()))
    return outcome


def say(line: str) -> None:
    """A progress line on stderr: stdout is for what scripts parse (the summary line and the report's path)."""
    print(printable(line), file=sys.stderr, flush=True)


def render(run_dir: Path, loaded: list[results.Result], baseline: str, judging: drift.Judging) -> ExitCode:
    j = judging
    return said(pipeline.render_run(run_dir, loaded, baseline, tolerances=list(j.tolerances), history_window=j.history_window,
                acceptances=list(j.acceptances),
                                     fail_on=list(j.fail_on), slowdown=j.slowdown, environments=list(j.environments)))


def said(rendered: pipeline.RenderedRun) -> ExitCode:
    """Print a rendered run's warnings, its summary line and the report's path; its exit code."""
    for warning in rendered.warnings:
        print(f"keras-drift: warning: {printable(warning)}", file=sys.stderr)
    print(printable(rendered.summary))  # it names values from the results: no escape sequence reaches the terminal
    print(rendered.report_path)
    return rendered.exit_code


def finished_run(args: argparse.Namespace) -> Path:
    """The run folder ``report`` and ``gate`` read: the one named, else ``reports/latest`` in ``--root``."""
    return runs.resolve_run_dir(Path(args.run_dir) if args.run_dir else Path(args.root) / "reports" / runs.LATEST)


# With --script and no --tasks: the script alone, the question a script asks, and the API sweep where --sweep
# asks for one (targeted, it exercises the classes the script constructed).
SCRIPT_TASKS = ("script", "sweep.*")


def settings(args: argparse.Namespace, adaptive: bool = False, saved_models: bool = True) -> runner.ProbeSettings:
    """What every probe is told: time limits, the task selection, the folder of the user's probe modules
    (``--probes``, else ``probes/`` in the project root when there is one), the repeats (``adaptive``:
    repeated after comparison, where a metric drifts), whether model tasks save their models (unless
    ``--no-saved-models``), whether loads may leave safe mode (``--unsafe-load``), and the user's script
    with its arguments (``--script``, ``--script-args``, else ``[tool.keras-drift]`` in the project's
    ``pyproject.toml``: :mod:`keras_drift.cli.project`; without ``--tasks``, only the script runs)."""
    folder = Path(args.probes or Path(args.root) / "probes").resolve()
    if args.probes and not folder.is_dir():
        raise InputError(f"--probes: {args.probes}: no such folder")
    probes_dir = folder if folder.is_dir() else None
    configured = project.load(Path(args.root))
    script = Path(args.script).resolve() if args.script else configured.script
    if script is not None and not script.is_file():
        raise InputError(f"--script: {args.script}: no such file")
    given = args.script_args if args.script_args is not None else configured.script_args
    try:
        script_args = tuple(shlex.split(given or ""))
    except ValueError as exc:
        source = "--script-args" if args.script_args is not None else f"{project.FILE}: tool.{project.TABLE}.script-args"
        raise InputError(f"{source}: {exc}") from None
    return runner.ProbeSettings(environment_timeout_s=args.timeout, task_timeout_s=args.task_timeout,
                                tasks=tuple(options.split(args.tasks)) or (SCRIPT_TASKS if script is not None else ()),
                                probes_dir=probes_dir, repeats=args.repeats, adaptive=adaptive,
                                saved_models=saved_models and not args.no_saved_models, unsafe_load=args.unsafe_load,
                                sweep=args.sweep, script=script, script_args=script_args)


def results_cache(args: argparse.Namespace) -> ResultCache:
    """The result cache of ``--cache`` (else ``cache/`` in ``--reports``); one that exists but is not a
    folder is refused here, before anything runs (it failed only after the probes had run)."""
    folder = Path(args.cache) if args.cache else cache.default_folder(Path(args.reports))
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder}: the result cache is not a folder; pass one with --cache")
    return ResultCache(folder)


def rerun(args: argparse.Namespace, selected: list[EnvSpec]) -> set[str]:
    """The environments ``--rerun`` forces to probe: all of them (no names), the named ones, or none."""
    if args.rerun is None:
        return set()
    selected_names = [spec.name for spec in selected]
    names = [name for name in options.split(args.rerun) if name != "all"]  # --rerun all: as the help says
    return {find_environment(selected_names, name, "--rerun", "the selected environments") for name in names} or set(selected_names)


def tolerances(args: argparse.Namespace) -> list[compare.Tolerance]:
    return compare.load_tolerances(Path(args.tolerances) if args.tolerances else None)


def recorded_baseline(run_dir: Path, loaded: list[results.Result], requested: str | None) -> str:
    """The baseline by the one rule, the run's recorded baseline preferred."""
    recorded = runs.read_run_info(run_dir).baseline
    preferred = [recorded] if recorded else []
    return choose_baseline([r.env for r in loaded], requested, preferred, where=f"the results in {run_dir}")


def expected(value: str | None) -> list[str]:
    """``--expect``: comma-separated names, or the JSON line ``keras-drift list`` prints."""
    if not value or not value.strip():
        return []
    if value.lstrip().startswith("["):
        try:
            rows = json.loads(value)
            names = [row["name"] if isinstance(row, dict) else row for row in rows]
        except (ValueError, TypeError, KeyError, RecursionError):
            raise InputError("--expect: not the JSON list `keras-drift list` prints, nor comma-separated names") from None
    else:
        names = options.split(value)
    for name in names:
        if not (isinstance(name, str) and NAME_RE.fullmatch(name)):  # match() would pass a final newline
            raise InputError(f"--expect: {name!r} is not an environment name")
    return names


def mark_incomplete(run_dir: Path) -> None:
    runs.write_run_info(run_dir, replace(runs.read_run_info(run_dir), incomplete=True, interrupted_at=runs.now()))


def selection(args: argparse.Namespace) -> list[EnvSpec]:
    specs = load_specs(Path(args.envs_dir))
    if not specs:
        raise InputError(f"{args.envs_dir}: no environment files (*.toml)")
    names = options.split(args.envs)
    tags = options.split(args.tags)
    return select(specs, names=names, tags=tags or None)


def result_files(folder: Path) -> list[Path]:
    """The result files at any depth below ``folder`` (a CI download), the JSON of saved models (a task's
    folder, with its manifest) left out."""

    saved = {manifest.parent for manifest in folder.rglob(runner.SAVED_MANIFEST)}
    return sorted(path for path in folder.rglob("*.json") if saved.isdisjoint(path.parents))
