"""The ``keras-drift`` command: run probes, compare, render, gate, merge and list environments.

One module per command (``cli/<command>.py``, ``cli/listing.py`` for ``list``: its arguments and what it
does); the argument groups and
types they share are in :mod:`keras_drift.cli.options`, what they share in doing in
:mod:`keras_drift.cli.common`. :func:`main` turns every error into one line and its exit code, in one place.

Exit codes are :class:`keras_drift.errors.ExitCode` (the README's "Exit codes" table).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import traceback
from collections.abc import Sequence

from keras_drift import __version__
from keras_drift.cli import accept, bench, bisect, common, drift, gate, init, listing, load, lock, merge, options, prune, report, run
from keras_drift.envs import environments
from keras_drift.errors import DriftError, ExitCode, InputError
from keras_drift.store.results import printable
from keras_drift.store.tables import shown_path

# The commands in the order `keras-drift --help` lists them.
COMMANDS = (init, run, drift, report, gate, merge, accept, prune, lock, bench, load, bisect, listing)


def build_parser() -> argparse.ArgumentParser:
    """The ``keras-drift`` parser: each command module adds its command with the shared groups it takes."""
    parser = options.Parser(prog="keras-drift", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--version", action="version", version=f"keras-drift {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    groups = options.shared()
    for command in COMMANDS:
        command.add_to(commands, groups)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        _check_arguments(argv)
        _check_cache_variable()
        args = options.rooted(build_parser().parse_args(argv))
        return int(args.handler(args))
    except DriftError as exc:  # every error keras-drift raises on purpose: one line, and the code it means
        print(f"keras-drift: {exc.label}: {printable(exc.line())}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("keras-drift: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except OSError as exc:
        if exc.errno not in common.INPUT_ERRNOS:
            return _internal_error(exc, argv)
        print(f"keras-drift: error: {printable(_os_error(exc))}", file=sys.stderr)  # a folder it may not write, a full disk
        return ExitCode.BAD_INPUT
    except Exception as exc:  # a fault of keras-drift itself: one line here, the traceback in a file
        return _internal_error(exc, argv)


def _os_error(exc: OSError) -> str:
    """An OSError as one line naming the file: ``reports/x: cannot be written: Permission denied``."""
    where = shown_path(exc.filename) if exc.filename is not None else "a file"
    return f"{where}: cannot be written or read: {exc.strerror or exc}"


def _internal_error(exc: BaseException, argv: Sequence[str]) -> ExitCode:
    """A fault of keras-drift itself: one line on stderr, the traceback in a file (exit 5)."""
    print(f"keras-drift: internal error: {_one_line(exc)} ({_save_traceback(argv)})", file=sys.stderr)
    return ExitCode.INTERNAL_ERROR


def _check_arguments(argv: Sequence[str]) -> None:
    """Refuse an argument that is not valid UTF-8 (the shell passed bytes Python could only decode with
    surrogates): every argument may end up in a UTF-8 file (run.json, accepted.toml, a crash log)."""
    for argument in argv:
        try:
            argument.encode("utf-8")
        except UnicodeEncodeError:
            raise InputError(f"argument {argument!a}: is not valid UTF-8") from None


def _check_cache_variable() -> None:
    """Refuse an unusable ``$KERAS_DRIFT_CACHE`` before anything runs (see :func:`environments.cache_path`)."""
    environments.cache_path()


def _save_traceback(argv: Sequence[str]) -> str:
    """Write the current exception's traceback to a file in keras-drift's cache folder; say where, or why
    it could not be written (a crash handler that crashes would print a traceback and exit 1, read as drift)."""
    try:
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        path = environments.cache_dir() / "crashes" / f"{stamp}-{os.getpid()}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"keras-drift {' '.join(argv)}\n{traceback.format_exc()}", encoding="utf-8", errors="backslashreplace")
    except Exception as exc:
        return f"traceback not saved: {_one_line(exc)}"
    return f"traceback in {path}"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__
