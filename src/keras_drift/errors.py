"""Errors and exit codes of keras-drift, in one place.

Standard library only: ``noxfile.py`` imports this module before the package is installed. The exit codes
are a contract with CI gates (a gate reads 1 as "drift", 2 as "an environment failed"), documented once in
the README's "Exit codes" table.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """What a ``keras-drift`` command's exit status means."""

    OK = 0
    """Nothing drifted beyond its tolerance and nothing failed."""
    DRIFT = 1
    """A metric drifted beyond its tolerance."""
    FAILED = 2
    """An environment failed (or a task in it raised), so its numbers are unknown."""
    BAD_INPUT = 3
    """Unusable input: a bad env file, flag, selection, tolerance or result file, or an unwritable folder."""
    LOCK_FAILED = 4
    """``keras-drift lock``: an environment's requirements could not be resolved into a lock."""
    INTERNAL_ERROR = 5
    """A fault in keras-drift itself; the traceback is written to a log file, never to the terminal."""
    INTERRUPTED = 130
    """Stopped by Ctrl-C (the shell's code for SIGINT); partial results are kept."""


class DriftError(Exception):
    """The base of every error keras-drift raises on purpose: each class carries the exit code it means, and
    the command line turns any of them into one line on stderr and that code, in one place
    (``keras_drift.cli.main``). What is not a ``DriftError`` is a fault of keras-drift itself (exit 5)."""

    exit_code: ExitCode = ExitCode.INTERNAL_ERROR
    label = "error"

    def line(self) -> str:
        """What the one line on stderr says after ``keras-drift: <label>:``."""
        return str(self)


class InputError(DriftError):
    """Unusable input (a spec, a selection, a result file): a one-line message naming file and field."""

    exit_code = ExitCode.BAD_INPUT


class EnvironmentFailed(DriftError):
    """An environment could not be built, found or probed, so its numbers are unknown. Inside a run this
    becomes that environment's result (``failed`` or ``skipped``); it reaches the command line only where a
    command needs the environment itself (a bisect's end)."""

    exit_code = ExitCode.FAILED


class LockFailed(DriftError):
    """An environment's requirements could not be resolved for its interpreter (``keras-drift lock``)."""

    exit_code = ExitCode.LOCK_FAILED


class Interrupted(DriftError):
    """A run stopped by Ctrl-C; carries its run folder, whose partial results are kept."""

    exit_code = ExitCode.INTERRUPTED
    label = "interrupted"

    def line(self) -> str:
        return f"partial results kept in {self} (run.json says incomplete); reports/latest is unchanged"
