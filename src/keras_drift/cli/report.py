"""``keras-drift report``: re-render a run's verdicts and report from its result files, touching no environment."""

from __future__ import annotations

import argparse
from typing import Any

from keras_drift.cli import common, options
from keras_drift.errors import ExitCode
from keras_drift.store import results


def command(args: argparse.Namespace) -> ExitCode:
    """Re-render a run's verdicts and report from its result files, touching no environment."""
    run_dir = common.finished_run(args)
    loaded = results.load_results(run_dir)
    baseline = common.recorded_baseline(run_dir, loaded, args.baseline)
    return common.render(run_dir, loaded, baseline, common.judging(args, common.tolerances(args)))


def add_to(commands: Any, shared: options.Shared) -> None:
    """Add the command and its arguments to the ``keras-drift`` parser's ``commands``."""
    parser = commands.add_parser("report", parents=[shared.project, shared.comparison], help=command.__doc__)
    parser.add_argument("run_dir", nargs="?", help="run folder (default: reports/latest in --root)")
    parser.set_defaults(handler=command)
