"""``keras-drift bench``: time cold, warm, parallel, cached and pre-bump runs and the report; print a table,
write JSON under reports/bench/."""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from keras_drift.cli import common, options
from keras_drift.envs.specs import choose_baseline, load_specs, marked_baselines, select
from keras_drift.errors import ExitCode, InputError
from keras_drift.judge import compare


def command(args: argparse.Namespace) -> ExitCode:
    """Time cold, warm, parallel, cached and pre-bump runs and the report; print a table, write JSON under reports/bench/."""
    from keras_drift import bench

    selected = common.selection(args)
    baseline = choose_baseline([spec.name for spec in selected], None, marked_baselines(selected))
    bench_dir = Path(args.reports) / "bench"
    bench_dir.mkdir(parents=True, exist_ok=True)
    jobs = args.jobs if args.jobs > 1 else (os.cpu_count() or 1)
    bump = None
    if args.bump:
        bump = select(load_specs(Path(args.envs_dir)), names=[args.bump])[0]
        if bump in selected:
            raise InputError(f"--bump: {bump.name} is already selected; name an environment outside the selection")
    # the packaged tolerances: bench times runs, and takes no comparison options
    plan = replace(common.drift_plan(args, selected, bench_dir, baseline=baseline, tolerances=compare.load_tolerances(), rerun=set(),
                   adaptive=True), jobs=jobs)
    summary = bench.run_benchmark(plan, bench_dir, cold=not args.skip_cold, bump=bump)
    print(bench.table(summary))
    return ExitCode.OK


def add_to(commands: Any, shared: options.Shared) -> None:
    """Add the command and its arguments to the ``keras-drift`` parser's ``commands``."""
    parser = commands.add_parser("bench", parents=[shared.project, shared.selection, shared.execution], help=command.__doc__)
    parser.add_argument("--skip-cold", action="store_true", help="reuse .drift-envs instead of a cold build")
    parser.add_argument("--bump", help="an environment outside the selection: the pre-bump review adds it to the cached selection")
    parser.set_defaults(handler=command)
