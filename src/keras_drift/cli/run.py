"""``keras-drift run``: run the probe in the selected environments and write their results; no comparison."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from keras_drift import drift
from keras_drift.cli import common, options
from keras_drift.errors import ExitCode
from keras_drift.store import runs
from keras_drift.store.results import Status


def command(args: argparse.Namespace) -> ExitCode:
    """Run the probe in the selected environments and write their results; no comparison."""
    selected = common.selection(args)
    rerun = common.rerun(args, selected)
    common.results_cache(args)  # a cache folder that is a file is refused before anything runs
    run_dir = runs.given_run_dir(Path(args.run_dir)) if args.run_dir else runs.new_run_dir(Path(args.reports))
    plan = common.drift_plan(args, selected, run_dir, baseline="", tolerances=[], rerun=rerun, adaptive=False)
    outcome = common.recorded(plan, lambda say: drift.probe(plan, say))
    print(run_dir)
    # no comparison here, but an environment whose numbers are unknown is still a failure (README's table)
    unknown = [r for r in outcome if r.status == Status.FAILED or r.partial or r.errors]
    return ExitCode.FAILED if unknown else ExitCode.OK


def add_to(commands: Any, shared: options.Shared) -> None:
    """Add the command and its arguments to the ``keras-drift`` parser's ``commands``."""
    parser = commands.add_parser("run", parents=[shared.project, shared.selection, shared.execution], help=command.__doc__)
    parser.add_argument("--run-dir", help="write into this run folder instead of a new one (a CI matrix job)")
    parser.set_defaults(handler=command)
