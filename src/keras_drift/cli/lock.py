"""``keras-drift lock``: write a hash-pinned lock beside every selected pinned environment (floating ones are skipped)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from keras_drift.cli import common, options
from keras_drift.envs import environments
from keras_drift.envs.specs import load_specs
from keras_drift.errors import ExitCode


def command(args: argparse.Namespace) -> ExitCode:
    """Write a hash-pinned lock beside every selected pinned environment (floating ones are skipped)."""
    from keras_drift.envs import locks

    selected = common.selection(args) if (args.envs or args.tags) else load_specs(Path(args.envs_dir))
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


def add_to(commands: Any, shared: options.Shared) -> None:
    """Add the command and its arguments to the ``keras-drift`` parser's ``commands``."""
    parser = commands.add_parser("lock", parents=[shared.project, shared.selection], help=command.__doc__)
    parser.set_defaults(handler=command)
