"""``keras-drift accept``: accept the drifts of one environment in a finished run: append an entry per cause to the accepted-drifts file."""

from __future__ import annotations

import argparse
import datetime as dt
import fnmatch
import sys
from pathlib import Path
from typing import Any

from keras_drift import pipeline
from keras_drift.cli import common, options
from keras_drift.envs.specs import find_environment
from keras_drift.errors import ExitCode, InputError
from keras_drift.judge import accepted
from keras_drift.store import results, runs
from keras_drift.store.verdicts import Verdict


def command(args: argparse.Namespace) -> ExitCode:
    """Accept the drifts of one environment in a finished run: append an entry per cause to the accepted-drifts file."""
    run_dir = runs.resolve_run_dir(Path(args.run_dir))
    loaded = results.load_results(run_dir)
    env = find_environment([r.env for r in loaded], args.env, "--env", f"the results in {run_dir}")
    if not args.reason.strip():
        raise InputError("--reason: say in words why this drift is accepted")
    baseline = common.recorded_baseline(run_dir, loaded, None)
    judged = pipeline.judge(loaded, baseline, common.tolerances(args))
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


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"--expires: {text!r} is not a date such as 2027-06-30") from None


def add_to(commands: Any, shared: options.Shared) -> None:
    """Add the command and its arguments to the ``keras-drift`` parser's ``commands``."""
    parser = commands.add_parser("accept", parents=[shared.project, shared.comparison], help=command.__doc__)
    parser.add_argument("run_dir", help="a finished run folder (e.g. reports/latest)")
    parser.add_argument("--env", required=True, help="the environment whose drifts are accepted")
    parser.add_argument("--metric", default="*", help="a glob of the metrics accepted (default: every drifting one)")
    parser.add_argument("--reason", required=True, help="why, in words: shown in the report beside each accepted drift")
    parser.add_argument("--expires", help="a date (2027-06-30) after which the entry fails the run until renewed")
    parser.set_defaults(handler=command)
