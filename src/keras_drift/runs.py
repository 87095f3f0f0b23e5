"""Run folders under ``reports/``: one per run, never reused, with ``reports/latest`` pointing at the newest.

A run folder is created exclusively, so two runs started at once get two folders. ``latest`` is switched
with an atomic rename only after the report is written, so it never points at half a run.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from pathlib import Path
from typing import Any

from keras_drift.results import write_json_atomically
from keras_drift.specs import InputError

LATEST = "latest"
RUN_FILE = "run.json"


def new_run_dir(reports_dir: Path) -> Path:
    """Create and return a fresh run folder named by UTC time (sortable) plus a random suffix."""
    reports_dir = Path(reports_dir)
    try:
        reports_dir.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        run_dir = reports_dir / f"{stamp}-{secrets.token_hex(3)}"
        run_dir.mkdir()
    except OSError as exc:
        raise InputError(f"{reports_dir}: cannot create a run folder: {exc.strerror or exc}") from None
    return run_dir


def point_latest(reports_dir: Path, run_dir: Path) -> None:
    """Make ``reports/latest`` a relative link to ``run_dir``, replacing the old link atomically."""
    link = Path(reports_dir) / LATEST
    temporary = Path(reports_dir) / f".{LATEST}.{secrets.token_hex(4)}"
    temporary.symlink_to(Path(run_dir).name, target_is_directory=True)
    os.replace(temporary, link)


def resolve_run_dir(path: Path) -> Path:
    """A run folder given by path (``reports/latest`` included), checked to hold results."""
    run_dir = Path(path)
    if not (run_dir / "results").is_dir():
        raise InputError(f"{run_dir}: not a run folder (it has no results/); pass reports/<run-id> or reports/latest")
    return run_dir.resolve()


def write_run_info(run_dir: Path, info: dict[str, Any]) -> None:
    """Record the run's provenance (command, selection, baseline, times) as ``run.json``."""
    write_json_atomically(Path(run_dir) / RUN_FILE, info)


def read_run_info(run_dir: Path) -> dict[str, Any]:
    """The run's provenance, or an empty record for a folder assembled elsewhere (a CI download)."""
    path = Path(run_dir) / RUN_FILE
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot be read: {exc}") from None
