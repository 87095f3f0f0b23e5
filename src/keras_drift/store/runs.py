"""Run folders under ``reports/``: one per run, never reused, with ``reports/latest`` pointing at the newest.

A run folder is created exclusively, so two runs started at once get two folders. ``latest`` is switched
with an atomic rename only after the report is written, so it never points at half a run. Only folders
named like run ids are runs: discovery and pruning leave every other folder alone.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import shlex
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from keras_drift.errors import InputError
from keras_drift.store.results import write_json_atomically
from keras_drift.store.tables import read_input
from keras_drift.store.verdicts import VERDICTS_FILE

LATEST = "latest"
RUN_FILE = "run.json"
# UTC start time (sortable) and a random suffix, e.g. 20261123T193000Z-4f2a9c.
RUN_ID_RE = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}")  # used with fullmatch: "$" would pass a final newline


def utc_now() -> dt.datetime:
    """The current time in UTC (the default clock of :func:`new_run_dir`)."""
    return dt.datetime.now(dt.timezone.utc)


def new_run_dir(reports_dir: Path, clock: Callable[[], dt.datetime] = utc_now) -> Path:
    """Create and return a fresh run folder named by ``clock``'s UTC time plus a random suffix."""
    reports_dir = Path(reports_dir)
    try:
        reports_dir.mkdir(parents=True, exist_ok=True)
        run_dir = reports_dir / f"{clock().strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"
        run_dir.mkdir()
    except OSError as exc:
        raise InputError(f"{reports_dir}: cannot create a run folder: {exc.strerror or exc}") from None
    return run_dir


def given_run_dir(run_dir: Path) -> Path:
    """The folder ``--run-dir`` names (a CI job's), created when missing; an :class:`InputError` where it is
    a file, lies below one, or cannot be created or written."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InputError(f"--run-dir: {run_dir}: cannot be created as a folder: {reason}") from None
    if not os.access(run_dir, os.W_OK | os.X_OK):
        raise InputError(f"--run-dir: {run_dir}: cannot be written")
    return run_dir


def started_at(run_dir: Path) -> dt.datetime:
    """When a run started, read from its id (``20261123T193000Z-4f2a9c``)."""
    return dt.datetime.strptime(Path(run_dir).name[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)


def check_latest(reports_dir: Path) -> None:
    """Refuse, before anything runs, a ``reports/latest`` that is not a link (an artifact download that
    followed links makes it a real folder): it could not be switched to the new run afterwards."""
    link = Path(reports_dir) / LATEST
    if link.exists() and not link.is_symlink():
        raise InputError(f"{link}: is a real folder or file, not the link keras-drift keeps to the newest run; move it away")


def point_latest(reports_dir: Path, run_dir: Path) -> None:
    """Make ``reports/latest`` a relative link to ``run_dir``, replacing the old link atomically."""
    link = Path(reports_dir) / LATEST
    temporary = Path(reports_dir) / f".{LATEST}.{secrets.token_hex(4)}"
    temporary.symlink_to(Path(run_dir).name, target_is_directory=True)
    try:
        os.replace(temporary, link)
    except OSError as exc:
        temporary.unlink()
        raise InputError(f"{link}: cannot be pointed at {Path(run_dir).name}: {exc.strerror or exc}") from None


def resolve_run_dir(path: Path) -> Path:
    """A run folder given by path (``reports/latest`` included), checked to hold results."""
    run_dir = Path(path)
    if not (run_dir / "results").is_dir():
        raise InputError(f"{run_dir}: not a run folder (it has no results/); pass reports/<run-id> or reports/latest")
    return run_dir.resolve()


@dataclass(frozen=True, kw_only=True)
class RunInfo:
    """A run's provenance, its ``run.json``: the command, the environments and the baseline, when it started
    and finished, whether it was interrupted, and where a merged or bisect run came from. Written by
    :func:`write_run_info`, read back by :func:`read_run_info`: the one owner of the file's shape."""

    run_id: str
    command: str = ""
    environments: tuple[str, ...] = ()
    baseline: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    incomplete: bool = False
    interrupted_at: str | None = None
    merged_from: str | None = None
    bisect: str | None = None  # the bisect page, relative to the run folder

    @classmethod
    def started(cls, run_dir: Path, *, environments: Sequence[str], baseline: str | None, **more: Any) -> RunInfo:
        """The record of a run starting now in ``run_dir``, by the command line that runs."""
        return cls(run_id=Path(run_dir).name, command=shlex.join(["keras-drift", *sys.argv[1:]]), environments=tuple(environments),
                   baseline=baseline or None, started_at=now(), **more)

    def to_json(self) -> dict[str, Any]:
        """The JSON object written, without the fields that are not set."""
        return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()
                if value not in (None, False, (), "")}


def now() -> str:
    """The time now, as ``run.json`` records times (UTC, seconds)."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def write_run_info(run_dir: Path, info: RunInfo) -> None:
    """Record the run's provenance (command, selection, baseline, times) as ``run.json``."""
    write_json_atomically(Path(run_dir) / RUN_FILE, info.to_json())


def read_run_info(run_dir: Path) -> RunInfo:
    """The run's provenance; for a folder assembled elsewhere (a CI download), a record with its id only."""
    path = Path(run_dir) / RUN_FILE
    if not path.exists():
        return RunInfo(run_id=Path(run_dir).name)
    try:
        info = json.loads(read_input(path))
    except (OSError, ValueError, RecursionError) as exc:
        raise InputError(f"{path}: cannot be read: {' '.join(str(exc).split())}") from None
    if not isinstance(info, dict):
        raise InputError(f"{path}: must be a JSON object, got {type(info).__name__}")
    texts = ("run_id", "command", "baseline", "started_at", "finished_at", "interrupted_at", "merged_from", "bisect")
    for key in texts:
        if info.get(key) is not None and not isinstance(info[key], str):
            raise InputError(f"{path}: {key}: must be a string, got {type(info[key]).__name__}")
    environments = info.get("environments")
    if environments is not None and not (isinstance(environments, list) and all(isinstance(n, str) for n in environments)):
        raise InputError(f"{path}: environments: must be a list of names")
    return RunInfo(environments=tuple(environments or ()), incomplete=bool(info.get("incomplete")),
                   **{key: info[key] for key in texts if info.get(key) is not None and key != "run_id"},
                   run_id=str(info.get("run_id") or Path(run_dir).name))


def is_incomplete(run_dir: Path) -> bool:
    """Whether the run's ``run.json`` says it was interrupted (unreadable counts as complete)."""
    return bool(_recorded(run_dir, "incomplete"))


def is_bisect(run_dir: Path) -> bool:
    """Whether the run is a bisect (its results are releases of one package, not the nightly's environments)."""
    return bool(_recorded(run_dir, "bisect"))


def _recorded(run_dir: Path, key: str) -> Any:
    """``key`` of the run's ``run.json``; ``None`` when it is absent or the file unreadable."""
    try:
        return json.loads(read_input(Path(run_dir) / RUN_FILE)).get(key)
    except (OSError, ValueError, AttributeError, RecursionError, InputError):
        return None


def run_folders(reports_dir: Path) -> list[Path]:
    """Every folder under ``reports_dir`` named like a run id, oldest first (``latest`` is a link, not a run)."""
    folder = Path(reports_dir)
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if RUN_ID_RE.fullmatch(path.name) and path.is_dir() and not path.is_symlink())


def earlier_runs(reports_dir: Path, current: Path | None, window: int) -> list[Path]:
    """The newest ``window`` finished runs before ``current`` that wrote verdicts, oldest first; a bisect is
    not one (comparing the nightly with releases of one package would call everything new)."""
    candidates = []
    for folder in reversed(run_folders(reports_dir)):
        if current is not None and (folder.resolve() == current.resolve() or folder.name > current.name):
            continue  # a run started later than the one being rendered is not its history
        if not (folder / VERDICTS_FILE).is_file() or is_incomplete(folder) or is_bisect(folder):
            continue
        candidates.append(folder)
        if len(candidates) == window:
            break
    return list(reversed(candidates))


def prune(reports_dir: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` runs (finished or interrupted); never the run ``latest`` points at."""
    if keep < 0:
        raise InputError(f"--keep: must be 0 or more, got {keep}")
    link = Path(reports_dir) / LATEST
    latest = link.resolve() if link.exists() else None
    folders = run_folders(reports_dir)
    removed = []
    for folder in folders[: max(0, len(folders) - keep)]:
        if folder.resolve() == latest:
            continue
        shutil.rmtree(folder)
        removed.append(folder)
    return removed
