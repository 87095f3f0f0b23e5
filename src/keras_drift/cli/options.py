"""The command line's argument groups and argument types, shared by the commands; every path left out
defaults under ``--root`` (:func:`rooted`)."""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from keras_drift import pipeline
from keras_drift.errors import InputError
from keras_drift.execute import runner
from keras_drift.judge import accepted, saved_models, speed
from keras_drift.store import history

# The paths a command's arguments default to, under ``--root``: the project's layout (``keras-drift init`` writes it).
UNDER_ROOT = {"envs_dir": "envs", "reports": "reports", "accepted": accepted.DEFAULT_FILE, "saved_models": saved_models.DEFAULT_FILE,
               "venvs": ".drift-envs"}


def rooted(args: argparse.Namespace) -> argparse.Namespace:
    """The arguments with every path left out filled in under ``--root``, so every command works from any
    folder that holds a project (a path given on the command line stays relative to the current folder)."""
    if not hasattr(args, "root"):  # `init`: its folder is its argument
        return args
    root = Path(args.root)
    if not root.is_dir():
        raise InputError(f"--root: {args.root}: no such folder")
    for name, default in UNDER_ROOT.items():
        if getattr(args, name, "") is None:
            setattr(args, name, str(root / default))
    return args


def split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


class Parser(argparse.ArgumentParser):
    """argparse, with usage errors as one line and the exit code of unusable input (not argparse's 2,
    which a CI gate would read as "an environment failed")."""

    def error(self, message: str) -> NoReturn:
        raise InputError(f"{self.prog}: {message} (see --help)")


def fail_on(text: str) -> tuple[str, ...]:
    chosen = tuple(split(text))
    unknown = [name for name in chosen if name not in pipeline.FAIL_ON]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"{text!r}: choose from {', '.join(pipeline.FAIL_ON)}")
    return chosen


def number_above(convert: Callable[[str], float], floor: float, what: str) -> Callable[[str], Any]:
    """An argparse type: ``convert(text)``, finite and above ``floor``; else one line saying it must be ``what``."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            value = math.nan
        if not (value > floor and math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value

    return parse


positive_seconds = number_above(float, 0, "a number of seconds above 0")


positive_count = number_above(int, 0, "a whole number of 1 or more")


factor = number_above(float, 1, "a factor above 1, such as 2")



@dataclass(frozen=True)
class Shared:
    """The argument groups several commands share, as argparse parents: the project folder, the selection of
    environments, how they are run, how a run is judged."""

    project: argparse.ArgumentParser
    selection: argparse.ArgumentParser
    execution: argparse.ArgumentParser
    comparison: argparse.ArgumentParser


def shared() -> Shared:
    """Build the shared argument groups (each command takes the ones it needs as its parser's parents)."""
    project = Parser(add_help=False)
    project.add_argument("--root", default=".", help="the project folder: envs/, probes/, accepted.toml, reports/ and .drift-envs/ "
                                                      "are looked for in it unless named (default: the current folder)")

    selection = Parser(add_help=False)
    selection.add_argument("--envs", help="comma-separated environment names (default: those tagged 'default')")
    selection.add_argument("--tags", help="comma-separated tags; environments carrying any of them are selected")
    selection.add_argument("--envs-dir", help="folder of environment files (default: envs in --root)")

    execution = Parser(add_help=False)
    execution.add_argument("--reports", help="where run folders are written (default: reports in --root)")
    execution.add_argument(
        "--venvs", default=os.environ.get("KERAS_DRIFT_VENVS"),
        help="where environments are built and reused (default: $KERAS_DRIFT_VENVS, else .drift-envs in --root)",
    )
    execution.add_argument("-j", "--jobs", type=positive_count, default=1, help="environments run at once (default: 1)")
    execution.add_argument(
        "--timeout", type=positive_seconds, default=runner.ProbeSettings.environment_timeout_s,
        help="seconds per environment before its probe is killed (default: %(default)g)",
    )
    execution.add_argument("--tasks", help="comma-separated globs of task names to run, e.g. 'optimizer.*,linear.*' (default: all)")
    execution.add_argument("--probes", help="folder of your own probe modules (default: probes in --root, if there is one)")
    execution.add_argument("--script", metavar="FILE",
                           help="your training script, run unchanged in every environment as the task script, "
                                "its Keras calls recorded; without --tasks, the only task (default: script in "
                                "[tool.keras-drift] of pyproject.toml in --root, else none)")
    execution.add_argument("--script-args", metavar="ARGS",
                           help="the script's arguments, one string split as a shell would (default: script-args in "
                                "[tool.keras-drift] of pyproject.toml in --root, else none)")
    execution.add_argument(
        "--repeats", type=positive_count, default=runner.ProbeSettings.repeats,
        help="most runs of a task with the same seeds, their spread being the noise floor; `drift` repeats only the "
             "tasks that drift, `run` every task (default: %(default)s)",
    )
    execution.add_argument("--cache", help="the result cache folder (default: cache/ in --reports)")
    execution.add_argument(
        "--rerun", nargs="?", const="", metavar="ENVS",
        help="probe even where the result cache has this environment's result: all, or the comma-separated ENVS",
    )
    execution.add_argument(
        "--task-timeout", type=positive_seconds, default=runner.ProbeSettings.task_timeout_s,
        help="seconds per task before it fails and the next task runs (default: %(default)g)",
    )
    execution.add_argument(
        "--sweep", choices=("targeted", "full", "off"), default=runner.ProbeSettings.sweep,
        help="the API sweep after the tasks: a fixed core plus the classes the tasks constructed, each as its class needs "
             "(targeted), every public layer, initializer, activation, loss, metric, optimizer, schedule and callback with "
             "every option of the sweep's tables (full, as the nightly runs), or none (off) (default: %(default)s)",
    )
    execution.add_argument("--no-saved-models", action="store_true",
                           help="do not save model tasks' trained models, nor load them across environments")
    execution.add_argument("--saved-models", metavar="FILE",
                           help=f"your own model files to load in every environment (default: {saved_models.DEFAULT_FILE} in --root; "
                                "a missing file lists none)")
    execution.add_argument("--unsafe-load", action="store_true",
                           help="load saved models with the library's safe mode off (lambdas and arbitrary code run: trusted files only)")

    comparison = Parser(add_help=False)
    comparison.add_argument("--baseline", help="environment the others are compared with")
    comparison.add_argument("--tolerances", help="a tolerance TOML replacing the packaged one")
    comparison.add_argument("--accepted",
                            help=f"the reviewed accepted-drifts file (default: {accepted.DEFAULT_FILE} in --root; "
                                 "a missing file accepts nothing)")
    comparison.add_argument(
        "--fail-on", type=fail_on, default=(), metavar="behaviour,slowdown",
        help="also fail (exit 1) when an API behaviour or resolved default changed (behaviour), or a training task is slower "
             "per step (slowdown), though no metric drifts (default: report them only)",
    )
    comparison.add_argument(
        "--slowdown", type=factor, default=speed.DEFAULT_FACTOR, metavar="FACTOR",
        help="a training task is slower (faster) when its time per step is beyond this factor of the baseline's (default: %(default)g)",
    )
    comparison.add_argument(
        "--history", type=int, default=history.DEFAULT_WINDOW, help="earlier runs shown in the report's history (0: none)"
    )
    return Shared(project=project, selection=selection, execution=execution, comparison=comparison)
