"""``keras-drift list``: print the environments (all, or a selection) as JSON: the source of truth for CI matrices."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from keras_drift.cli import common, options
from keras_drift.envs.specs import load_specs
from keras_drift.errors import ExitCode


def command(args: argparse.Namespace) -> int:
    """Print the environments (all, or a selection) as JSON: the source of truth for CI matrices."""
    specs = load_specs(Path(args.envs_dir))
    chosen = common.selection(args) if (args.envs or args.tags) else specs
    rows = [
        {"name": spec.name, "python": spec.python, "backend": spec.backend, "tags": list(spec.tags)}
        for spec in chosen
    ]
    print(json.dumps(rows))  # one line: CI matrices read it from a single output line
    return ExitCode.OK


def add_to(commands: Any, shared: options.Shared) -> None:
    """Add the command and its arguments to the ``keras-drift`` parser's ``commands``."""
    parser = commands.add_parser("list", parents=[shared.project, shared.selection], help=command.__doc__)
    parser.set_defaults(handler=command)
