"""``keras-drift merge``: collect result files from a folder (e.g. CI artifacts, one sub-folder each) into a new run, rendered."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from keras_drift.cli import common, options
from keras_drift.envs.specs import choose_baseline, load_specs, marked_baselines, normalize_name
from keras_drift.errors import ExitCode, InputError
from keras_drift.store import results, runs
from keras_drift.store.results import Status


def command(args: argparse.Namespace) -> ExitCode:
    """Collect result files from a folder (e.g. CI artifacts, one sub-folder each) into a new run, rendered."""
    loaded = results.load_unique(common.result_files(Path(args.folder)))
    if not loaded:
        raise InputError(f"{args.folder}: no result files (*.json) below it")
    present = {normalize_name(result.env) for result in loaded}
    for name in common.expected(args.expect):  # a probe job that died uploads nothing: its env fails here
        if normalize_name(name) not in present:
            loaded.append(results.status_result(name, Status.FAILED, f"no result for this environment in {args.folder}"))
    names = sorted(result.env for result in loaded)
    envs_dir = Path(args.envs_dir)
    marked = marked_baselines(load_specs(envs_dir)) if envs_dir.is_dir() else []
    baseline = choose_baseline(names, args.baseline, marked, where=f"the results in {args.folder}")
    tolerances = common.tolerances(args)
    reports_dir = Path(args.reports)
    runs.check_latest(reports_dir)
    run_dir = runs.new_run_dir(reports_dir)
    for result in loaded:
        results.write_result(result, run_dir)
    runs.write_run_info(run_dir, runs.RunInfo.started(run_dir, environments=names, baseline=baseline, merged_from=str(args.folder)))
    code = common.render(run_dir, sorted(loaded, key=lambda r: r.env), baseline, common.judging(args, tolerances))
    runs.point_latest(reports_dir, run_dir)
    return code


def add_to(commands: Any, shared: options.Shared) -> None:
    """Add the command and its arguments to the ``keras-drift`` parser's ``commands``."""
    parser = commands.add_parser("merge", parents=[shared.project, shared.comparison], help=command.__doc__)
    parser.add_argument("folder", help="folder holding result JSONs at any depth")
    parser.add_argument("--reports", help="where the merged run folder is written (default: reports in --root)")
    parser.add_argument("--envs-dir", help="env files; the one marked baseline is the default baseline (default: envs in --root)")
    parser.add_argument("--expect", help="environments that must have a result (names, or the JSON line of `keras-drift list`); "
                                        "each one missing becomes a failed result")
    parser.set_defaults(handler=command)
