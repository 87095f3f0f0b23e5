"""The ``keras-drift`` command: run probes, compare, render, gate, merge and list environments.

Exit codes are :class:`keras_drift.errors.ExitCode` (the README's "Exit codes" table).
"""

from __future__ import annotations

import argparse
import datetime as dt
import errno
import fnmatch
import json
import math
import os
import shutil
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from keras_drift import __version__, drift, pipeline
from keras_drift.bisect import bisecting
from keras_drift.envs import environments, releases
from keras_drift.envs.specs import (
    NAME_RE,
    EnvSpec,
    choose_baseline,
    environment_files,
    find_environment,
    load_specs,
    marked_baselines,
    normalize_name,
    select,
)
from keras_drift.errors import DriftError, ExitCode, InputError, Interrupted
from keras_drift.execute import cache, experiment, runner
from keras_drift.execute.cache import ResultCache
from keras_drift.judge import accepted, compare, grouping, proofs, saved_models, speed
from keras_drift.render import bisect_page, report
from keras_drift.store import history, results, runs
from keras_drift.store.results import printable
from keras_drift.store.tables import shown_path
from keras_drift.store.verdicts import Verdict


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        _check_arguments(argv)
        _check_cache_variable()
        args = _rooted(_parser().parse_args(argv))
        return int(args.handler(args))
    except DriftError as exc:  # every error keras-drift raises on purpose: one line, and the code it means
        print(f"keras-drift: {exc.label}: {printable(exc.line())}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("keras-drift: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except OSError as exc:
        if exc.errno not in _INPUT_ERRNOS:
            return _internal_error(exc, argv)
        print(f"keras-drift: error: {printable(_os_error(exc))}", file=sys.stderr)  # a folder it may not write, a full disk
        return ExitCode.BAD_INPUT
    except Exception as exc:  # a fault of keras-drift itself: one line here, the traceback in a file
        return _internal_error(exc, argv)


T = TypeVar("T")

# What the machine, not keras-drift, is at fault for when writing or reading a file the user named: unusable
# input by the README's table (a folder that cannot be written), one line and exit 3.
_INPUT_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENOTDIR, errno.EISDIR,
                           errno.EEXIST, errno.ENAMETOOLONG, errno.ELOOP})


def _os_error(exc: OSError) -> str:
    """An OSError as one line naming the file: ``reports/x: cannot be written: Permission denied``."""
    where = shown_path(exc.filename) if exc.filename is not None else "a file"
    return f"{where}: cannot be written or read: {exc.strerror or exc}"


def _internal_error(exc: BaseException, argv: Sequence[str]) -> ExitCode:
    """A fault of keras-drift itself: one line on stderr, the traceback in a file (exit 5)."""
    print(f"keras-drift: internal error: {_one_line(exc)} ({_save_traceback(argv)})", file=sys.stderr)
    return ExitCode.INTERNAL_ERROR


def _check_arguments(argv: Sequence[str]) -> None:
    """Refuse an argument that is not valid UTF-8 (the shell passed bytes Python could only decode with
    surrogates): every argument may end up in a UTF-8 file (run.json, accepted.toml, a crash log)."""
    for argument in argv:
        try:
            argument.encode("utf-8")
        except UnicodeEncodeError:
            raise InputError(f"argument {argument!a}: is not valid UTF-8") from None


def _check_cache_variable() -> None:
    """Refuse an unusable ``$KERAS_DRIFT_CACHE`` before anything runs (see :func:`environments.cache_path`)."""
    environments.cache_path()


def cmd_init(args: argparse.Namespace) -> ExitCode:
    """Start a project: envs/current.toml (this interpreter's frameworks, or --from), envs/proposed.toml (the
    newest releases), probes/, accepted.toml, noxfile.py, the nightly workflow, .gitignore entries; a file
    that exists is left alone."""
    from keras_drift import scaffold

    if args.from_file:
        current = scaffold.requirement_pins(Path(args.from_file), args.backend)
    else:
        current = scaffold.installed_pins(args.backend)
    proposed: scaffold.Pins | str
    try:
        proposed = scaffold.newest_pins(current, releases.index_sources(args.index_url, environments.installer_variables()))
    except InputError as exc:  # no index here: the project still starts, without the proposed environment
        proposed = f"the newest releases could not be read ({exc.line()})"
    scaffold.init_project(Path(args.dir), current, proposed, _say)
    _say(f"next: `keras-drift drift{'' if args.dir == '.' else ' --root ' + args.dir}` compares the environments in envs/")
    return ExitCode.OK


def cmd_run(args: argparse.Namespace) -> ExitCode:
    """Run the probe in the selected environments and write their results; no comparison."""
    selected = _selection(args)
    rerun = _rerun(args, selected)
    _results_cache(args)  # a cache folder that is a file is refused before anything runs
    run_dir = runs.given_run_dir(Path(args.run_dir)) if args.run_dir else runs.new_run_dir(Path(args.reports))
    plan = _drift_plan(args, selected, run_dir, "", [], rerun, adaptive=False)
    outcome = _recorded(plan, lambda: drift.probe(plan, _say))
    print(run_dir)
    # no comparison here, but an environment whose numbers are unknown is still a failure (README's table)
    unknown = [r for r in outcome if r.status == "failed" or r.partial or r.errors]
    return ExitCode.FAILED if unknown else ExitCode.OK


def cmd_drift(args: argparse.Namespace) -> ExitCode:
    """Run the probe everywhere selected, compare with the baseline, render the report."""
    selected = _selection(args)
    rerun = _rerun(args, selected)  # refused before anything is written
    baseline = choose_baseline([spec.name for spec in selected], args.baseline, marked_baselines(selected))
    tolerances = _tolerances(args)
    user_models = [] if args.no_saved_models else saved_models.load_user_models(Path(args.saved_models))
    reports_dir = Path(args.reports)
    runs.check_latest(reports_dir)
    _results_cache(args)  # a cache folder that is a file is refused before anything runs
    plan = _drift_plan(args, selected, runs.new_run_dir(reports_dir), baseline, tolerances, rerun, adaptive=True, user_models=user_models)
    outcome = _recorded(plan, lambda: drift.run_drift(plan, say=_say))
    code = _said(outcome.rendered)
    runs.point_latest(reports_dir, plan.run_dir)
    return code


def cmd_report(args: argparse.Namespace) -> ExitCode:
    """Re-render a run's verdicts and report from its result files, touching no environment."""
    run_dir = _finished_run(args)
    loaded = results.load_results(run_dir)
    baseline = _recorded_baseline(run_dir, loaded, args.baseline)
    return _render(run_dir, loaded, baseline, _judging(args, _tolerances(args)))


def cmd_gate(args: argparse.Namespace) -> ExitCode:
    """Judge a finished run: 0 no drift and every expected environment ran, 1 drift, 2 an environment
    failed, was skipped or is missing (or the run was interrupted), 3 unusable input."""
    run_dir = _finished_run(args)
    loaded = results.load_results(run_dir)
    info = runs.read_run_info(run_dir)
    baseline = _recorded_baseline(run_dir, loaded, args.baseline)
    expected = _expected(args.expect) or list(info.environments)
    if args.candidate:
        candidate = find_environment([r.env for r in loaded], args.candidate, "--candidate", f"the results in {run_dir}")
        if candidate == baseline:
            raise InputError(f"--candidate: {candidate!r} is the baseline; name the environment to judge against it")
        loaded = [result for result in loaded if result.env in (baseline, candidate)]
        expected = [baseline, candidate]
    judged = pipeline.judge(loaded, baseline, _tolerances(args), accepted.load_acceptances(Path(args.accepted)), proofs.load(run_dir),
                            args.slowdown)
    print(printable(report.summary_line(loaded, judged.verdicts, baseline, judged.behaviours, judged.speed)))
    for cause in report.cause_summary(judged.verdicts):  # one line per environment and cause, its findings below
        print(printable(f"  {cause['env']}: {cause['cause']}, {cause['count']} metric(s)"))
        for finding in cause["findings"]:
            print(printable(f"    {finding['proof']}: {finding['evidence']}"))
            for row in finding["rows"]:
                before, after = report.format_value(row["baseline_value"]), report.format_value(row["value"])
                print(printable(f"      {row['metric']} {before} -> {after}"))
    present = {normalize_name(result.env) for result in loaded}
    incomplete = [f"  {name}: missing: no result in {run_dir}" for name in expected if normalize_name(name) not in present]
    incomplete += [f"  {result.env}: {result.status}: {printable(result.reason)}" for result in loaded if not result.ok]
    incomplete += _unmeasured(loaded, baseline)
    if info.incomplete:
        incomplete.append(f"  the run was interrupted ({run_dir / runs.RUN_FILE} says incomplete)")
    for group in grouping.behaviour_groups(judged.behaviours, show=report.format_setting):  # each change once
        print(printable(f"  behaviour changed: {group.line()}"))
    for env, verdict, rows in _speed_lines(report.speed_rows(judged.speed)["changed"]):
        tasks = ", ".join(f"{row['task']} {row['baseline_ms']} -> {row['ms']} ms ({row['ratio']})" for row in rows)
        print(printable(f"  {env}: {len(rows)} task(s) {verdict} per step: {tasks}"))
    for line in incomplete + [f"  {warning}" for warning in pipeline.acceptance_warnings(judged)]:
        print(line)
    return ExitCode.FAILED if incomplete else pipeline.exit_code(judged, loaded, args.fail_on)


def _speed_lines(rows: Sequence[dict[str, Any]]) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """The speed rows that changed, one line per environment and verdict (slower, faster), slowest first."""
    lines: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        lines.setdefault((row["env"], row["verdict"]), []).append(row)
    return [(env, verdict, found) for (env, verdict), found in sorted(lines.items())]


def _unmeasured(loaded: Sequence[results.Result], baseline: str) -> list[str]:
    """The gate's lines for results that say ``ok`` but whose numbers are not all known: a partial one (the
    probe stopped before its last task), and one with no metric at all where the baseline has some."""
    by_env = {result.env: result for result in loaded}
    expected = len(by_env[baseline].metrics) if baseline in by_env else 0
    lines = [f"  {result.env}: partial: the probe stopped before its last task" for result in loaded if result.ok and result.partial]
    return lines + [f"  {result.env}: no metrics, though the baseline has {expected}" for result in loaded
                    if result.ok and result.env != baseline and not result.metrics and expected]


def cmd_accept(args: argparse.Namespace) -> ExitCode:
    """Accept the drifts of one environment in a finished run: append an entry per cause to the accepted-drifts file."""
    run_dir = runs.resolve_run_dir(Path(args.run_dir))
    loaded = results.load_results(run_dir)
    env = find_environment([r.env for r in loaded], args.env, "--env", f"the results in {run_dir}")
    if not args.reason.strip():
        raise InputError("--reason: say in words why this drift is accepted")
    baseline = _recorded_baseline(run_dir, loaded, None)
    judged = pipeline.judge(loaded, baseline, _tolerances(args))
    rows = judged.verdicts[(judged.verdicts["env"] == env) & (judged.verdicts["verdict"] == Verdict.DRIFT)]
    rows = rows[[fnmatch.fnmatchcase(str(metric), args.metric) for metric in rows["metric"]]]
    if rows.empty:
        raise InputError(f"--metric: no metric of {env} matching {args.metric!r} drifts in {run_dir}")
    expires = _date(args.expires) if args.expires else None
    causes = sorted(set(map(str, rows["cause"])))
    entries = [accepted.Acceptance(env, args.metric, cause, args.reason.strip(), expires, baseline) for cause in causes]
    accepted.append(Path(args.accepted), entries)
    for entry in entries:
        print(f"accepted: {entry.describe()} ({(rows['cause'] == entry.cause).sum()} metrics now)", file=sys.stderr)
    return ExitCode.OK


def cmd_merge(args: argparse.Namespace) -> ExitCode:
    """Collect result files from a folder (e.g. CI artifacts, one sub-folder each) into a new run, rendered."""
    loaded = results.load_unique(_result_files(Path(args.folder)))
    if not loaded:
        raise InputError(f"{args.folder}: no result files (*.json) below it")
    present = {normalize_name(result.env) for result in loaded}
    for name in _expected(args.expect):  # a probe job that died uploads nothing: its env fails here
        if normalize_name(name) not in present:
            loaded.append(results.status_result(name, "failed", f"no result for this environment in {args.folder}"))
    names = sorted(result.env for result in loaded)
    envs_dir = Path(args.envs_dir)
    marked = marked_baselines(load_specs(envs_dir)) if envs_dir.is_dir() else []
    baseline = choose_baseline(names, args.baseline, marked, where=f"the results in {args.folder}")
    tolerances = _tolerances(args)
    reports_dir = Path(args.reports)
    runs.check_latest(reports_dir)
    run_dir = runs.new_run_dir(reports_dir)
    for result in loaded:
        results.write_result(result, run_dir)
    runs.write_run_info(run_dir, runs.RunInfo.started(run_dir, environments=names, baseline=baseline, merged_from=str(args.folder)))
    code = _render(run_dir, sorted(loaded, key=lambda r: r.env), baseline, _judging(args, tolerances))
    runs.point_latest(reports_dir, run_dir)
    return code


def _result_files(folder: Path) -> list[Path]:
    """The result files at any depth below ``folder`` (a CI download), the JSON of saved models (a task's
    folder, with its manifest) left out."""

    saved = {manifest.parent for manifest in folder.rglob(runner.SAVED_MANIFEST)}
    return sorted(path for path in folder.rglob("*.json") if saved.isdisjoint(path.parents))


def cmd_load(args: argparse.Namespace) -> ExitCode:
    """Load saved models in one environment from downloaded results and saved models (the CI-matrix load stage)."""
    specs = load_specs(Path(args.envs_dir))
    by_name = {found.name: found for found in specs}
    spec = by_name[find_environment(list(by_name), args.env, "--env", f"the environment files in {args.envs_dir}")]
    loaded = results.load_unique(_result_files(Path(args.results)))
    names = [result.env for result in loaded]
    if spec.name not in names:
        raise InputError(f"--env: {spec.name!r} has no result in {args.results}; its probe job wrote none")
    baseline = choose_baseline(names, args.baseline, marked_baselines(specs), where=f"the results in {args.results}")
    user_models = saved_models.load_user_models(Path(args.saved_models))
    _results_cache(args)
    run_dir = runs.given_run_dir(Path(args.run_dir))
    for manifest in sorted(Path(args.artifacts).rglob(runner.SAVED_MANIFEST)) if Path(args.artifacts).is_dir() else []:
        env_folder = manifest.parent.parent  # <env>/<task>/manifest.json
        target = runner.artifacts_folder(run_dir, env_folder.name)
        if env_folder.name in names and not target.exists():
            try:
                shutil.copytree(env_folder, target)
            except OSError as exc:  # shutil.Error too: a FIFO or an unreadable file among the saved models
                raise InputError(f"--artifacts: {env_folder}: cannot be copied: {' '.join(str(exc).split())[:300]}") from None
    for result in loaded:
        results.write_result(result, run_dir)
    plan = _drift_plan(args, [spec], run_dir, baseline, [], _rerun(args, [spec]), adaptive=False, user_models=user_models)
    drift.load_saved_models(plan, loaded, {}, _say)
    print(run_dir / results.RESULTS_DIR / f"{spec.name}.json")
    return ExitCode.OK


def cmd_bisect(args: argparse.Namespace) -> ExitCode:
    """Name the first release of a package where the numbers move, between a good and a bad environment file:
    1 when a family drifts (each one's first bad release is named), 0 when nothing drifts, 2 when an end failed."""
    specs = load_specs(Path(args.envs_dir))
    names, where = [spec.name for spec in specs], f"the environment files in {args.envs_dir}"
    by_name = {spec.name: spec for spec in specs}
    good = by_name[find_environment(names, args.good, "--good", where)]
    bad = by_name[find_environment(names, args.bad, "--bad", where)]
    axis = bisecting.choose_axis(good, bad, args.package)
    if args.index_url:  # the builders (uv, or pip) install from the index the releases were listed on
        os.environ.update(UV_INDEX_URL=args.index_url, PIP_INDEX_URL=args.index_url)
    sources = releases.index_sources(args.index_url, environments.installer_variables())
    versions = bisecting.releases_between(axis, sources, args.pre)
    tolerances, settings = _tolerances(args), _settings(args, adaptive=True, saved_models=False)
    environments.builder()  # a bad $KERAS_DRIFT_BUILDER is unusable input, refused before anything runs
    run_dir = runs.new_run_dir(Path(args.reports))
    runs.write_run_info(run_dir, runs.RunInfo.started(run_dir, environments=[good.name, bad.name], baseline=good.name,
                                                      bisect=f"{bisecting.BISECT_DIR}/{bisect_page.PAGE}"))
    print(f"bisect {axis.package} {axis.good} -> {axis.bad}: {len(versions) - 2} release(s) between; {run_dir}", file=sys.stderr)
    rerun = bisecting.probed_names(good, bad, axis, versions) if args.rerun is not None else set()
    plan = replace(_drift_plan(args, [good, bad], run_dir, "", tolerances, rerun, adaptive=True), settings=settings)
    request = bisecting.Request(plan=plan, axis=axis, versions=tuple(versions), sources=tuple(sources), metric=args.metric, pre=args.pre,
                                all_tasks=args.all_tasks)
    try:
        document = bisecting.run_bisect(request, say=_say)
    except KeyboardInterrupt:
        _mark_incomplete(run_dir)
        raise Interrupted(run_dir) from None
    page = bisect_page.render(document, run_dir / bisecting.BISECT_DIR / bisect_page.PAGE)
    probed = sorted(results.load_results(run_dir), key=lambda result: result.env != good.name)
    pipeline.render_run(run_dir, probed, good.name, tolerances)
    for line in bisect_page.terminal_lines(document):
        print(printable(line))
    print(page)
    return ExitCode.DRIFT if document["boundaries"] else ExitCode.OK


def cmd_list(args: argparse.Namespace) -> int:
    """Print the environments (all, or a selection) as JSON: the source of truth for CI matrices."""
    specs = load_specs(Path(args.envs_dir))
    chosen = _selection(args) if (args.envs or args.tags) else specs
    rows = [
        {"name": spec.name, "python": spec.python, "backend": spec.backend, "tags": list(spec.tags)}
        for spec in chosen
    ]
    print(json.dumps(rows))  # one line: CI matrices read it from a single output line
    return ExitCode.OK


def cmd_prune(args: argparse.Namespace) -> ExitCode:
    """Delete all but the newest --keep runs under --reports (never the one `latest` points at), the
    cached results none of the runs kept has used, and the programs JAX compiled before the oldest of them."""
    reports_dir = Path(args.reports)
    results_cache = _results_cache(args)
    results_cache.check_prunable()  # before anything is deleted
    try:
        for folder in runs.prune(reports_dir, args.keep):
            print(f"removed {folder}", file=sys.stderr)
        kept = runs.run_folders(reports_dir)
        unused_since = runs.started_at(kept[0]).timestamp() if kept else float("inf")
        for entry in results_cache.prune(unused_since):
            print(f"removed {entry}", file=sys.stderr)
        programs = environments.prune_compiled_programs(unused_since)
    except OSError as exc:  # a folder it may not write (0555), removed meanwhile
        raise InputError(f"{exc.filename or reports_dir}: cannot prune: {exc.strerror or exc}") from None
    if programs:
        folder = environments.cache_dir() / environments.COMPILED_PROGRAMS
        print(f"removed {len(programs)} compiled program(s) from {folder}", file=sys.stderr)
    return ExitCode.OK


def cmd_lock(args: argparse.Namespace) -> ExitCode:
    """Write a hash-pinned lock beside every selected pinned environment (floating ones are skipped)."""
    from keras_drift.envs import locks

    selected = _selection(args) if (args.envs or args.tags) else load_specs(Path(args.envs_dir))
    failed = 0
    for spec in selected:
        if spec.floating:
            print(f"{spec.name:<28} floating (resolved fresh each run), not locked", file=sys.stderr)
            continue
        try:
            path = locks.lock_environment(spec)
        except (locks.LockFailed, environments.InterpreterMissing) as exc:
            failed += 1
            print(f"{spec.name:<28} not locked: {exc}", file=sys.stderr)
        else:
            print(f"{spec.name:<28} {path}", file=sys.stderr)
    return ExitCode.LOCK_FAILED if failed else ExitCode.OK


def cmd_bench(args: argparse.Namespace) -> ExitCode:
    """Time cold, warm, parallel, cached and pre-bump runs and the report; print a table, write JSON under reports/bench/."""
    from keras_drift import bench

    selected = _selection(args)
    baseline = choose_baseline([spec.name for spec in selected], None, marked_baselines(selected))
    bench_dir = Path(args.reports) / "bench"
    bench_dir.mkdir(parents=True, exist_ok=True)
    jobs = args.jobs if args.jobs > 1 else (os.cpu_count() or 1)
    bump = None
    if args.bump:
        bump = select(load_specs(Path(args.envs_dir)), names=[args.bump])[0]
        if bump in selected:
            raise InputError(f"--bump: {bump.name} is already selected; name an environment outside the selection")
    plan = replace(_drift_plan(args, selected, bench_dir, baseline, _tolerances(args), set(), adaptive=True), jobs=jobs)
    summary = bench.run_benchmark(plan, bench_dir, cold=not args.skip_cold, bump=bump)
    print(bench.table(summary))
    return ExitCode.OK


def _drift_plan(
    args: argparse.Namespace, selected: Sequence[EnvSpec], run_dir: Path, baseline: str, tolerances: Sequence[compare.Tolerance],
    rerun: set[str], *, adaptive: bool, user_models: Sequence[saved_models.UserModel] = (),
) -> drift.DriftPlan:
    """The frozen plan of a run (:class:`keras_drift.drift.DriftPlan`), built once from the arguments."""
    return drift.DriftPlan(
        specs=tuple(selected), baseline=baseline, run_dir=run_dir, project_root=Path(args.root).resolve(),
        venvs_dir=Path(args.venvs).resolve(), settings=_settings(args, adaptive), judging=_judging(args, tolerances), jobs=args.jobs,
        results_cache=_results_cache(args), rerun=frozenset(rerun), user_models=tuple(user_models),
        explain=not getattr(args, "no_explain", True), explain_budget=getattr(args, "explain_budget", experiment.DEFAULT_BUDGET_S))


def _judging(args: argparse.Namespace, tolerances: Sequence[compare.Tolerance]) -> drift.Judging:
    """How a run is judged: the tolerances, the reviewed accepted drifts, ``--fail-on``, ``--slowdown``, every
    environment the project defines (an accepted drift of one the run left out is not stale), ``--history``."""
    acceptances = tuple(accepted.load_acceptances(Path(args.accepted))) if hasattr(args, "accepted") else ()  # `run`, `load`: none
    return drift.Judging(
        tolerances=tuple(tolerances), acceptances=acceptances,
        fail_on=tuple(getattr(args, "fail_on", ())), slowdown=getattr(args, "slowdown", speed.DEFAULT_FACTOR),
        environments=tuple(path.stem for path in environment_files(Path(getattr(args, "envs_dir", None) or Path(args.root) / "envs"))),
        history_window=getattr(args, "history", 0))


def _recorded(plan: drift.DriftPlan, body: Callable[[], T]) -> T:
    """Run ``body`` as this run, recorded in its ``run.json`` (started, then finished); Ctrl-C marks the run
    incomplete and keeps what it has, a folder that cannot be written mid-run is unusable input."""
    info = runs.RunInfo.started(plan.run_dir, environments=[spec.name for spec in plan.specs], baseline=plan.baseline)
    environments.builder()  # a bad $KERAS_DRIFT_BUILDER is unusable input, refused before anything runs
    runs.write_run_info(plan.run_dir, info)
    try:
        outcome = body()
    except KeyboardInterrupt:
        _mark_incomplete(plan.run_dir)
        raise Interrupted(plan.run_dir) from None
    except OSError as exc:  # disk full, folder removed or unwritable mid-run
        if exc.errno not in _INPUT_ERRNOS:
            raise
        raise InputError(f"{plan.run_dir}: cannot write the run: {exc.strerror or exc}") from None
    runs.write_run_info(plan.run_dir, replace(info, finished_at=runs.now()))
    return outcome


def _say(line: str) -> None:
    """A progress line on stderr: stdout is for what scripts parse (the summary line and the report's path)."""
    print(printable(line), file=sys.stderr, flush=True)


def _render(run_dir: Path, loaded: list[results.Result], baseline: str, judging: drift.Judging) -> ExitCode:
    j = judging
    return _said(pipeline.render_run(run_dir, loaded, baseline, list(j.tolerances), j.history_window, list(j.acceptances),
                                     list(j.fail_on), j.slowdown, list(j.environments)))


def _said(rendered: pipeline.RenderedRun) -> ExitCode:
    """Print a rendered run's warnings, its summary line and the report's path; its exit code."""
    for warning in rendered.warnings:
        print(f"keras-drift: warning: {printable(warning)}", file=sys.stderr)
    print(printable(rendered.summary))  # it names values from the results: no escape sequence reaches the terminal
    print(rendered.report_path)
    return rendered.exit_code


# The paths a command's arguments default to, under ``--root``: the project's layout (``keras-drift init`` writes it).
_UNDER_ROOT = {"envs_dir": "envs", "reports": "reports", "accepted": accepted.DEFAULT_FILE, "saved_models": saved_models.DEFAULT_FILE,
               "venvs": ".drift-envs"}


def _finished_run(args: argparse.Namespace) -> Path:
    """The run folder ``report`` and ``gate`` read: the one named, else ``reports/latest`` in ``--root``."""
    return runs.resolve_run_dir(Path(args.run_dir) if args.run_dir else Path(args.root) / "reports" / runs.LATEST)


def _rooted(args: argparse.Namespace) -> argparse.Namespace:
    """The arguments with every path left out filled in under ``--root``, so every command works from any
    folder that holds a project (a path given on the command line stays relative to the current folder)."""
    if not hasattr(args, "root"):  # `init`: its folder is its argument
        return args
    root = Path(args.root)
    if not root.is_dir():
        raise InputError(f"--root: {args.root}: no such folder")
    for name, default in _UNDER_ROOT.items():
        if getattr(args, name, "") is None:
            setattr(args, name, str(root / default))
    return args


def _settings(args: argparse.Namespace, adaptive: bool = False, saved_models: bool = True) -> runner.ProbeSettings:
    """What every probe is told: time limits, the task selection, the folder of the user's probe modules
    (``--probes``, else ``probes/`` in the project root when there is one), the repeats (``adaptive``:
    repeated after comparison, where a metric drifts), whether model tasks save their models (unless
    ``--no-saved-models``) and whether loads may leave safe mode (``--unsafe-load``)."""
    folder = Path(args.probes or Path(args.root) / "probes").resolve()
    if args.probes and not folder.is_dir():
        raise InputError(f"--probes: {args.probes}: no such folder")
    probes_dir = folder if folder.is_dir() else None
    return runner.ProbeSettings(environment_timeout_s=args.timeout, task_timeout_s=args.task_timeout, tasks=tuple(_split(args.tasks)),
                                probes_dir=probes_dir, repeats=args.repeats, adaptive=adaptive,
                                saved_models=saved_models and not args.no_saved_models, unsafe_load=args.unsafe_load)


def _results_cache(args: argparse.Namespace) -> ResultCache:
    """The result cache of ``--cache`` (else ``cache/`` in ``--reports``); one that exists but is not a
    folder is refused here, before anything runs (it failed only after the probes had run)."""
    folder = Path(args.cache) if args.cache else cache.default_folder(Path(args.reports))
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder}: the result cache is not a folder; pass one with --cache")
    return ResultCache(folder)


def _rerun(args: argparse.Namespace, selected: list[EnvSpec]) -> set[str]:
    """The environments ``--rerun`` forces to probe: all of them (no names), the named ones, or none."""
    if args.rerun is None:
        return set()
    selected_names = [spec.name for spec in selected]
    names = _split(args.rerun)
    return {find_environment(selected_names, name, "--rerun", "the selected environments") for name in names} or set(selected_names)


def _tolerances(args: argparse.Namespace) -> list[compare.Tolerance]:
    return compare.load_tolerances(Path(args.tolerances) if args.tolerances else None)


def _recorded_baseline(run_dir: Path, loaded: list[results.Result], requested: str | None) -> str:
    """The baseline by the one rule, the run's recorded baseline preferred."""
    recorded = runs.read_run_info(run_dir).baseline
    preferred = [recorded] if recorded else []
    return choose_baseline([r.env for r in loaded], requested, preferred, where=f"the results in {run_dir}")


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"--expires: {text!r} is not a date such as 2027-06-30") from None


def _expected(value: str | None) -> list[str]:
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
        names = _split(value)
    for name in names:
        if not (isinstance(name, str) and NAME_RE.fullmatch(name)):  # match() would pass a final newline
            raise InputError(f"--expect: {name!r} is not an environment name")
    return names


def _mark_incomplete(run_dir: Path) -> None:
    runs.write_run_info(run_dir, replace(runs.read_run_info(run_dir), incomplete=True, interrupted_at=runs.now()))


def _save_traceback(argv: Sequence[str]) -> str:
    """Write the current exception's traceback to a file in keras-drift's cache folder; say where, or why
    it could not be written (a crash handler that crashes would print a traceback and exit 1, read as drift)."""
    try:
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        path = environments.cache_dir() / "crashes" / f"{stamp}-{os.getpid()}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"keras-drift {' '.join(argv)}\n{traceback.format_exc()}", encoding="utf-8", errors="backslashreplace")
    except Exception as exc:
        return f"traceback not saved: {_one_line(exc)}"
    return f"traceback in {path}"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


def _selection(args: argparse.Namespace) -> list[EnvSpec]:
    specs = load_specs(Path(args.envs_dir))
    if not specs:
        raise InputError(f"{args.envs_dir}: no environment files (*.toml)")
    names = _split(args.envs)
    tags = _split(args.tags)
    return select(specs, names=names, tags=tags or None)


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors as one line and the exit code of unusable input (not argparse's 2,
    which a CI gate would read as "an environment failed")."""

    def error(self, message: str) -> NoReturn:
        raise InputError(f"{self.prog}: {message} (see --help)")


def _fail_on(text: str) -> tuple[str, ...]:
    chosen = tuple(_split(text))
    unknown = [name for name in chosen if name not in pipeline.FAIL_ON]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"{text!r}: choose from {', '.join(pipeline.FAIL_ON)}")
    return chosen


def _number_above(convert: Callable[[str], float], floor: float, what: str) -> Callable[[str], Any]:
    """An argparse type: ``convert(text)``, finite and above ``floor``; else one line saying it must be ``what``."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            value = math.nan
        if not (value > floor and math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value

    return parse


_positive_seconds = _number_above(float, 0, "a number of seconds above 0")
_positive_count = _number_above(int, 0, "a whole number of 1 or more")
_factor = _number_above(float, 1, "a factor above 1, such as 2")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="keras-drift", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--version", action="version", version=f"keras-drift {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    starting = commands.add_parser("init", help=cmd_init.__doc__)
    starting.add_argument("dir", nargs="?", default=".", help="the project folder (default: the current folder)")
    starting.add_argument("--from", dest="from_file", metavar="REQUIREMENTS",
                          help="pin envs/current.toml to this requirements file's frameworks instead of this interpreter's")
    starting.add_argument("--backend", choices=("tensorflow", "jax", "torch"),
                          help="the Keras 3 backend to pin (default: $KERAS_BACKEND, else the first installed of these)")
    starting.add_argument("--index-url", help="the index to read the newest releases from (default: uv's, from your pip configuration)")
    starting.set_defaults(handler=cmd_init)

    project = _Parser(add_help=False)
    project.add_argument("--root", default=".", help="the project folder: envs/, probes/, accepted.toml, reports/ and .drift-envs/ "
                                                      "are looked for in it unless named (default: the current folder)")

    selection = _Parser(add_help=False)
    selection.add_argument("--envs", help="comma-separated environment names (default: those tagged 'default')")
    selection.add_argument("--tags", help="comma-separated tags; environments carrying any of them are selected")
    selection.add_argument("--envs-dir", help="folder of environment files (default: envs in --root)")

    execution = _Parser(add_help=False)
    execution.add_argument("--reports", help="where run folders are written (default: reports in --root)")
    execution.add_argument(
        "--venvs", default=os.environ.get("KERAS_DRIFT_VENVS"),
        help="where environments are built and reused (default: $KERAS_DRIFT_VENVS, else .drift-envs in --root)",
    )
    execution.add_argument("-j", "--jobs", type=_positive_count, default=1, help="environments run at once (default: 1)")
    execution.add_argument(
        "--timeout", type=_positive_seconds, default=runner.ProbeSettings.environment_timeout_s,
        help="seconds per environment before its probe is killed (default: %(default)g)",
    )
    execution.add_argument("--tasks", help="comma-separated globs of task names to run, e.g. 'optimizer.*,linear.*' (default: all)")
    execution.add_argument("--probes", help="folder of your own probe modules (default: probes in --root, if there is one)")
    execution.add_argument(
        "--repeats", type=_positive_count, default=runner.ProbeSettings.repeats,
        help="most runs of a task with the same seeds, their spread being the noise floor; `drift` repeats only the "
             "tasks that drift, `run` every task (default: %(default)s)",
    )
    execution.add_argument("--cache", help="the result cache folder (default: cache/ in --reports)")
    execution.add_argument(
        "--rerun", nargs="?", const="", metavar="ENVS",
        help="probe even where the result cache has this environment's result: all, or the comma-separated ENVS",
    )
    execution.add_argument(
        "--task-timeout", type=_positive_seconds, default=runner.ProbeSettings.task_timeout_s,
        help="seconds per task before it fails and the next task runs (default: %(default)g)",
    )
    execution.add_argument("--no-saved-models", action="store_true",
                           help="do not save model tasks' trained models, nor load them across environments")
    execution.add_argument("--saved-models", metavar="FILE",
                           help=f"your own model files to load in every environment (default: {saved_models.DEFAULT_FILE} in --root; "
                                "a missing file lists none)")
    execution.add_argument("--unsafe-load", action="store_true",
                           help="load saved models with the library's safe mode off (lambdas and arbitrary code run: trusted files only)")

    comparison = _Parser(add_help=False)
    comparison.add_argument("--baseline", help="environment the others are compared with")
    comparison.add_argument("--tolerances", help="a tolerance TOML replacing the packaged one")
    comparison.add_argument("--accepted",
                            help=f"the reviewed accepted-drifts file (default: {accepted.DEFAULT_FILE} in --root; "
                                 "a missing file accepts nothing)")
    comparison.add_argument(
        "--fail-on", type=_fail_on, default=(), metavar="behaviour,slowdown",
        help="also fail (exit 1) when an API behaviour or resolved default changed (behaviour), or a training task is slower "
             "per step (slowdown), though no metric drifts (default: report them only)",
    )
    comparison.add_argument(
        "--slowdown", type=_factor, default=speed.DEFAULT_FACTOR, metavar="FACTOR",
        help="a training task is slower (faster) when its time per step is beyond this factor of the baseline's (default: %(default)g)",
    )
    comparison.add_argument(
        "--history", type=int, default=history.DEFAULT_WINDOW, help="earlier runs shown in the report's history (0: none)"
    )

    run = commands.add_parser("run", parents=[project, selection, execution], help=cmd_run.__doc__)
    run.add_argument("--run-dir", help="write into this run folder instead of a new one (a CI matrix job)")
    run.set_defaults(handler=cmd_run)

    drift = commands.add_parser("drift", parents=[project, selection, execution, comparison], help=cmd_drift.__doc__)
    drift.add_argument("--no-explain", action="store_true", help="do not re-run drifting tasks to prove their causes")
    drift.add_argument(
        "--explain-budget", type=_positive_seconds, default=experiment.DEFAULT_BUDGET_S,
        help="seconds the re-runs that prove causes may take before the rest stay suspected (default: %(default)g)",
    )
    drift.set_defaults(handler=cmd_drift)

    rerender = commands.add_parser("report", parents=[project, comparison], help=cmd_report.__doc__)
    rerender.add_argument("run_dir", nargs="?", help="run folder (default: reports/latest in --root)")
    rerender.set_defaults(handler=cmd_report)

    gate = commands.add_parser("gate", parents=[project, comparison], help=cmd_gate.__doc__)
    gate.add_argument("run_dir", nargs="?", help="run folder (default: reports/latest in --root)")
    gate.add_argument("--candidate", help="judge only this environment against the baseline")
    gate.add_argument("--expect", help="environments that must have run (names, or the JSON line of `keras-drift list`); "
                                       "default: the run's own selection from run.json")
    gate.set_defaults(handler=cmd_gate)

    merge = commands.add_parser("merge", parents=[project, comparison], help=cmd_merge.__doc__)
    merge.add_argument("folder", help="folder holding result JSONs at any depth")
    merge.add_argument("--reports", help="where the merged run folder is written (default: reports in --root)")
    merge.add_argument("--envs-dir", help="env files; the one marked baseline is the default baseline (default: envs in --root)")
    merge.add_argument("--expect", help="environments that must have a result (names, or the JSON line of `keras-drift list`); "
                                        "each one missing becomes a failed result")
    merge.set_defaults(handler=cmd_merge)

    accepting = commands.add_parser("accept", parents=[project, comparison], help=cmd_accept.__doc__)
    accepting.add_argument("run_dir", help="a finished run folder (e.g. reports/latest)")
    accepting.add_argument("--env", required=True, help="the environment whose drifts are accepted")
    accepting.add_argument("--metric", default="*", help="a glob of the metrics accepted (default: every drifting one)")
    accepting.add_argument("--reason", required=True, help="why, in words: shown in the report beside each accepted drift")
    accepting.add_argument("--expires", help="a date (2027-06-30) after which the entry fails the run until renewed")
    accepting.set_defaults(handler=cmd_accept)

    pruning = commands.add_parser("prune", parents=[project], help=cmd_prune.__doc__)
    pruning.add_argument("--reports", help="the reports folder (default: reports in --root)")
    pruning.add_argument("--keep", type=int, required=True, help="how many of the newest runs to keep")
    pruning.add_argument("--cache", help="the result cache folder (default: cache/ in --reports)")
    pruning.set_defaults(handler=cmd_prune)

    lock = commands.add_parser("lock", parents=[project, selection], help=cmd_lock.__doc__)
    lock.set_defaults(handler=cmd_lock)

    benchmark = commands.add_parser("bench", parents=[project, selection, execution], help=cmd_bench.__doc__)
    benchmark.add_argument("--skip-cold", action="store_true", help="reuse .drift-envs instead of a cold build")
    benchmark.add_argument("--bump", help="an environment outside the selection: the pre-bump review adds it to the cached selection")
    benchmark.set_defaults(handler=cmd_bench)

    loading = commands.add_parser("load", parents=[project, execution], help=cmd_load.__doc__)
    loading.add_argument("--env", required=True, help="the environment that loads (this runner's)")
    loading.add_argument("--results", required=True, help="folder holding every environment's result JSON at any depth")
    loading.add_argument("--artifacts", required=True, help="folder holding the environments' saved models (<env>/<task>/) at any depth")
    loading.add_argument("--run-dir", required=True, help="where the results, the saved models and the loading result are written")
    loading.add_argument("--baseline", help="the environment the others are compared with (default: the one marked in --envs-dir)")
    loading.add_argument("--envs-dir", help="folder of environment files (default: envs in --root)")
    loading.set_defaults(handler=cmd_load)

    bisection = commands.add_parser("bisect", parents=[project, execution], help=cmd_bisect.__doc__)
    bisection.add_argument("--good", required=True, help="the environment file whose results are right (e.g. the one in use today)")
    bisection.add_argument("--bad", required=True, help="the environment file whose results moved")
    bisection.add_argument("--package", help="the package to bisect, when the two files pin more than one differently")
    bisection.add_argument("--metric", default="*", help="a glob of the metrics that count (default: all that differ between the ends)")
    bisection.add_argument("--pre", action="store_true", help="search pre-releases too (default: final releases only)")
    bisection.add_argument("--all-tasks", action="store_true",
                           help="probe every task in each release (default: the tasks that differ between the ends)")
    bisection.add_argument("--index-url", help="the index to list and install releases from (default: uv's, from your pip configuration)")
    bisection.add_argument("--envs-dir", help="folder of environment files (default: envs in --root)")
    bisection.add_argument("--tolerances", help="a tolerance TOML replacing the packaged one")
    bisection.add_argument("--no-explain", action="store_true", help="do not re-run the first bad release to prove its cause")
    bisection.add_argument(
        "--explain-budget", type=_positive_seconds, default=experiment.DEFAULT_BUDGET_S,
        help="seconds the re-runs at each first bad release may take (default: %(default)g)",
    )
    bisection.set_defaults(handler=cmd_bisect)

    listing = commands.add_parser("list", parents=[project, selection], help=cmd_list.__doc__)
    listing.set_defaults(handler=cmd_list)
    return parser


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
