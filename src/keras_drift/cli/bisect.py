"""``keras-drift bisect``: name the first release of a package where the numbers move, between a good and a bad environment file:."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from keras_drift import live, pipeline
from keras_drift.bisect import bisecting
from keras_drift.cli import common, options
from keras_drift.envs import environments, releases
from keras_drift.envs.specs import find_environment, load_specs
from keras_drift.errors import ExitCode, Interrupted
from keras_drift.execute import experiment
from keras_drift.render import bisect_page
from keras_drift.store import results, runs
from keras_drift.store.results import printable


def command(args: argparse.Namespace) -> ExitCode:
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
    tolerances, settings = common.tolerances(args), common.settings(args, adaptive=True, saved_models=False)
    environments.builder()  # a bad $KERAS_DRIFT_BUILDER is unusable input, refused before anything runs
    run_dir = runs.new_run_dir(Path(args.reports))
    runs.write_run_info(run_dir, runs.RunInfo.started(run_dir, environments=[good.name, bad.name], baseline=good.name,
                                                      bisect=f"{bisecting.BISECT_DIR}/{bisect_page.PAGE}"))
    print(f"bisect {axis.package} {axis.good} -> {axis.bad}: {len(versions) - 2} release(s) between; {run_dir}", file=sys.stderr)
    rerun = bisecting.probed_names(good, bad, axis, versions) if args.rerun is not None else set()
    plan = replace(common.drift_plan(args, [good, bad], run_dir, baseline="", tolerances=tolerances, rerun=rerun, adaptive=True),
                   settings=settings)
    request = bisecting.Request(plan=plan, axis=axis, versions=tuple(versions), sources=tuple(sources), metric=args.metric, pre=args.pre,
                                all_tasks=args.all_tasks)
    try:
        with live.Live(run_dir) as shown:
            document = bisecting.run_bisect(request, say=shown.say)
    except KeyboardInterrupt:
        common.mark_incomplete(run_dir)
        raise Interrupted(run_dir) from None
    page = bisect_page.render(document, run_dir / bisecting.BISECT_DIR / bisect_page.PAGE)
    probed = sorted(results.load_results(run_dir), key=lambda result: result.env != good.name)
    pipeline.render_run(run_dir, probed, good.name, tolerances=tolerances)
    for line in bisect_page.terminal_lines(document):
        print(printable(line))
    print(page)
    return ExitCode.DRIFT if document["boundaries"] else ExitCode.OK


def add_to(commands: Any, shared: options.Shared) -> None:
    """Add the command and its arguments to the ``keras-drift`` parser's ``commands``."""
    parser = commands.add_parser("bisect", parents=[shared.project, shared.execution], help=command.__doc__)
    parser.add_argument("--good", required=True, help="the environment file whose results are right (e.g. the one in use today)")
    parser.add_argument("--bad", required=True, help="the environment file whose results moved")
    parser.add_argument("--package", help="the package to bisect, when the two files pin more than one differently")
    parser.add_argument("--metric", default="*", help="a glob of the metrics that count (default: all that differ between the ends)")
    parser.add_argument("--pre", action="store_true", help="search pre-releases too (default: final releases only)")
    parser.add_argument("--all-tasks", action="store_true",
                           help="probe every task in each release (default: the tasks that differ between the ends)")
    parser.add_argument("--index-url", help="the index to list and install releases from (default: uv's, from your pip configuration)")
    parser.add_argument("--envs-dir", help="folder of environment files (default: envs in --root)")
    parser.add_argument("--tolerances", help="a tolerance TOML replacing the packaged one")
    parser.add_argument("--no-explain", action="store_true", help="do not re-run the first bad release to prove its cause")
    parser.add_argument(
        "--explain-budget", type=options.positive_seconds, default=experiment.DEFAULT_BUDGET_S,
        help="seconds the re-runs at each first bad release may take (default: %(default)g)",
    )
    parser.set_defaults(handler=command)
