"""``keras-drift drift``: run the probe everywhere selected, compare with the baseline, render the report."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from keras_drift import drift
from keras_drift.cli import common, options
from keras_drift.envs.specs import choose_baseline, marked_baselines
from keras_drift.errors import ExitCode
from keras_drift.execute import experiment
from keras_drift.judge import saved_models
from keras_drift.store import runs


def command(args: argparse.Namespace) -> ExitCode:
    """Run the probe everywhere selected, compare with the baseline, render the report."""
    selected = common.selection(args)
    rerun = common.rerun(args, selected)  # refused before anything is written
    baseline = choose_baseline([spec.name for spec in selected], args.baseline, marked_baselines(selected))
    tolerances = common.tolerances(args)
    user_models = [] if args.no_saved_models else saved_models.load_user_models(Path(args.saved_models))
    reports_dir = Path(args.reports)
    runs.check_latest(reports_dir)
    common.results_cache(args)  # a cache folder that is a file is refused before anything runs
    plan = common.drift_plan(args, selected, runs.new_run_dir(reports_dir), baseline=baseline, tolerances=tolerances, rerun=rerun,
                             adaptive=True,
                             user_models=user_models)
    outcome = common.recorded(plan, lambda say: drift.run_drift(plan, say=say))
    code = common.said(outcome.rendered)
    runs.point_latest(reports_dir, plan.run_dir)
    return code


def add_to(commands: Any, shared: options.Shared) -> None:
    """Add the command and its arguments to the ``keras-drift`` parser's ``commands``."""
    parser = commands.add_parser("drift", parents=[shared.project, shared.selection, shared.execution, shared.comparison],
                                   help=command.__doc__)
    parser.add_argument("--no-explain", action="store_true", help="do not re-run drifting tasks to prove their causes")
    parser.add_argument(
        "--explain-budget", type=options.positive_seconds, default=experiment.DEFAULT_BUDGET_S,
        help="seconds the re-runs that prove causes may take before the rest stay suspected (default: %(default)g)",
    )
    parser.set_defaults(handler=command)
