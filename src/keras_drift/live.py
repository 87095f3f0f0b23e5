"""Progress a person can follow while a run goes on, on stderr (stdout is for what scripts parse).

What each environment is doing is read every half second from the files its processes write as they go
(:func:`keras_drift.execute.runner.activities`): what the installer downloads while it builds, task n of N
while it probes, what it loads or re-runs. On a terminal that is one live line per environment (rich),
with the steps' lines (an environment done, loaded, explaining...) printed above them; elsewhere, a CI
log, plain lines: the steps' lines, one line each time an environment starts a new phase, and one per
package it downloads while it builds.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from keras_drift.execute.runner import Activity, activities
from keras_drift.store.results import printable

INTERVAL_S = 0.5
Say = Callable[[str], None]


def describe(activity: Activity) -> str:
    """One environment's activity as the words of its line."""
    detail = f": {activity.detail}" if activity.detail else ""
    return printable(f"{activity.env:<28} {activity.doing}{detail}")


class Live:
    """A context for one run: :meth:`say` prints a step's line; while it is open, the environments'
    activities are shown (see the module docstring). ``terminal`` defaults to whether ``stream`` is one."""

    def __init__(self, run_dir: Path, *, stream: TextIO | None = None, terminal: bool | None = None) -> None:
        self._run_dir = run_dir
        self._stream = stream or sys.stderr
        self._terminal = self._stream.isatty() if terminal is None else terminal
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="keras-drift-progress", daemon=True)
        self._lock = threading.Lock()
        self._phases: dict[str, tuple[str, str]] = {}  # plain lines: each environment's phase and download last said
        self._rows: dict[str, TaskID] = {}
        self._progress = Progress(
            TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=Console(file=self._stream, highlight=False), transient=True,
        ) if self._terminal else None

    def __enter__(self) -> Live:
        if self._progress is not None:
            self._progress.start()
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        if self._progress is not None:
            self._progress.stop()

    def say(self, line: str) -> None:
        """A step's line, above the live lines on a terminal."""
        with self._lock:
            if self._progress is not None:
                self._progress.console.print(printable(line), markup=False, highlight=False, soft_wrap=True)
            else:
                print(printable(line), file=self._stream, flush=True)

    def _watch(self) -> None:
        while not self._stop.wait(INTERVAL_S):
            self.refresh()

    def refresh(self) -> None:
        """Show what every environment is doing now (the watching thread calls it every half second)."""
        now = {activity.env: activity for activity in activities(self._run_dir)}
        with self._lock:
            if self._progress is None:
                self._plain(now)
            else:
                self._live(now, self._progress)

    def _plain(self, now: dict[str, Activity]) -> None:
        for env, activity in now.items():
            # a new phase, or a new download while building (what it downloads, one line per package)
            download = activity.detail if activity.doing == "building" and activity.detail.startswith("Downloading") else ""
            phase = self._phases.get(env, ("", ""))
            if phase[0] != activity.doing or (download and download != phase[1]):
                self._phases[env] = (activity.doing, download or phase[1])
                of = f" (task {activity.n} of {activity.total})" if activity.total else ""
                print(describe(activity) + of, file=self._stream, flush=True)
        for env in set(self._phases) - set(now):
            del self._phases[env]

    def _live(self, now: dict[str, Activity], progress: Progress) -> None:
        for env, activity in now.items():
            if env not in self._rows:
                self._rows[env] = progress.add_task(describe(activity), total=None)
            progress.update(self._rows[env], description=describe(activity), completed=activity.n, total=activity.total or None)
        for env in set(self._rows) - set(now):
            progress.remove_task(self._rows.pop(env))
