"""``keras-drift gate``: judge a finished run: 0 no drift and every expected environment ran, 1 drift, 2 an environment."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from keras_drift import pipeline
from keras_drift.cli import common, options
from keras_drift.envs.specs import find_environment, normalize_name
from keras_drift.errors import ExitCode, InputError
from keras_drift.judge import accepted, grouping, proofs
from keras_drift.judge.surface import SurfaceDiff
from keras_drift.render import report
from keras_drift.store import results, runs
from keras_drift.store.results import printable


def command(args: argparse.Namespace) -> ExitCode:
    """Judge a finished run: 0 no drift and every expected environment ran, 1 drift, 2 an environment
    failed, was skipped or is missing (or the run was interrupted), 3 unusable input."""
    run_dir = common.finished_run(args)
    loaded = results.load_results(run_dir)
    info = runs.read_run_info(run_dir)
    baseline = common.recorded_baseline(run_dir, loaded, args.baseline)
    expected = common.expected(args.expect) or list(info.environments)
    if args.candidate:
        candidate = find_environment([r.env for r in loaded], args.candidate, "--candidate", f"the results in {run_dir}")
        if candidate == baseline:
            raise InputError(f"--candidate: {candidate!r} is the baseline; name the environment to judge against it")
        loaded = [result for result in loaded if result.env in (baseline, candidate)]
        expected = [baseline, candidate]
    judged = pipeline.judge(loaded, baseline, common.tolerances(args), acceptances=accepted.load_acceptances(Path(args.accepted)),
                            experiments=proofs.load(run_dir),
                            slowdown=args.slowdown)
    print(printable(report.summary_line(loaded, judged.verdicts, baseline, judged.behaviours, judged.speed)))
    for called in judged.surface.called:  # a removed name the tasks call breaks their code: first
        print(printable(f"  api surface: {called.line()}"))
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
    for line in _surface_lines(judged.surface):
        print(printable(line))
    for env, verdict, rows in _speed_lines(report.speed_rows(judged.speed)["changed"]):
        tasks = ", ".join(f"{row['task']} {row['baseline_ms']} -> {row['ms']} ms ({row['ratio']})" for row in rows)
        print(printable(f"  {env}: {len(rows)} task(s) {verdict} per step: {tasks}"))
    for line in incomplete + [f"  {warning}" for warning in pipeline.acceptance_warnings(judged)]:
        print(line)
    return ExitCode.FAILED if incomplete else pipeline.exit_code(judged, loaded, args.fail_on)


def _surface_lines(surface: SurfaceDiff) -> list[str]:
    """One line per environment (and per other door where it differs) with the API surface's changes
    against the baseline, where any result recorded a surface."""
    if not surface.recorded:
        return []
    lines = [f"  {found.label()}: api surface: {found.line()}" for found in surface.diffs]
    return lines + [f"  {env}: api surface: not recorded" for env in surface.not_recorded]


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


def add_to(commands: Any, shared: options.Shared) -> None:
    """Add the command and its arguments to the ``keras-drift`` parser's ``commands``."""
    parser = commands.add_parser("gate", parents=[shared.project, shared.comparison], help=command.__doc__)
    parser.add_argument("run_dir", nargs="?", help="run folder (default: reports/latest in --root)")
    parser.add_argument("--candidate", help="judge only this environment against the baseline")
    parser.add_argument("--expect", help="environments that must have run (names, or the JSON line of `keras-drift list`); "
                                       "default: the run's own selection from run.json")
    parser.set_defaults(handler=command)
