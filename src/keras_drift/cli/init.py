"""``keras-drift init``: start a project: envs/current.toml (this interpreter's frameworks, or --from), envs/proposed.toml (the."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from keras_drift.cli import common, options
from keras_drift.envs import environments, releases
from keras_drift.errors import ExitCode, InputError


def command(args: argparse.Namespace) -> ExitCode:
    """Start a project: envs/current.toml (this interpreter's frameworks, or --from), envs/proposed.toml (the
    newest releases), probes/, accepted.toml, noxfile.py, the nightly workflow, .gitignore entries; a file
    that exists is left alone."""
    from keras_drift import scaffold

    if args.from_file:
        current = scaffold.requirement_pins(Path(args.from_file), args.backend)
    else:
        current = scaffold.installed_pins(args.backend)
    proposed: scaffold.Pins | str
    try:
        proposed = scaffold.newest_pins(current, releases.index_sources(args.index_url, environments.installer_variables()))
    except InputError as exc:  # no index here: the project still starts, without the proposed environment
        proposed = f"the newest releases could not be read ({exc.line()})"
    scaffold.init_project(Path(args.dir), current, proposed, common.say)
    common.say(f"next: `keras-drift drift{'' if args.dir == '.' else ' --root ' + args.dir}` compares the environments in envs/")
    return ExitCode.OK


def add_to(commands: Any, shared: options.Shared) -> None:
    """Add the command and its arguments to the ``keras-drift`` parser's ``commands``."""
    parser = commands.add_parser("init", help=command.__doc__)
    parser.add_argument("dir", nargs="?", default=".", help="the project folder (default: the current folder)")
    parser.add_argument("--from", dest="from_file", metavar="REQUIREMENTS",
                          help="pin envs/current.toml to this requirements file's frameworks instead of this interpreter's")
    parser.add_argument("--backend", choices=("tensorflow", "jax", "torch"),
                          help="the Keras 3 backend to pin (default: $KERAS_BACKEND, else the first installed of these)")
    parser.add_argument("--index-url", help="the index to read the newest releases from (default: uv's, from your pip configuration)")
    parser.set_defaults(handler=command)
