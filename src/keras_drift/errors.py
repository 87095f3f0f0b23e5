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


class InputError(Exception):
    """Unusable input (a spec, a selection, a result file): a one-line message naming file and field."""
