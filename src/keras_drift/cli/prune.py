"""``keras-drift prune``: delete all but the newest --keep runs under --reports (never the one `latest` points at), the."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from keras_drift.cli import common, options
from keras_drift.envs import environments
from keras_drift.errors import ExitCode, InputError
from keras_drift.store import runs


def command(args: argparse.Namespace) -> ExitCode:
    """Delete all but the newest --keep runs under --reports (never the one `latest` points at), the
    cached results none of the runs kept has used, and the programs JAX compiled before the oldest of them."""
    reports_dir = Path(args.reports)
    results_cache = common.results_cache(args)
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


def add_to(commands: Any, shared: options.Shared) -> None:
    """Add the command and its arguments to the ``keras-drift`` parser's ``commands``."""
    parser = commands.add_parser("prune", parents=[shared.project], help=command.__doc__)
    parser.add_argument("--reports", help="the reports folder (default: reports in --root)")
    parser.add_argument("--keep", type=int, required=True, help="how many of the newest runs to keep")
    parser.add_argument("--cache", help="the result cache folder (default: cache/ in --reports)")
    parser.set_defaults(handler=command)
