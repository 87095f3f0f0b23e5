"""Accepted drifts: drifts a team has looked at and accepted, in a committed, reviewed file.

The file is ``accepted.toml`` in the project root, beside ``envs/`` rather than in it (every ``*.toml`` in
``envs/`` is an environment). Each ``[[accept]]`` entry names an environment glob, a metric glob, the cause
it was accepted for, the reason in words, and optionally the baseline it was reviewed against (a glob;
``keras-drift accept`` writes the run's) and an expiry date::

    [[accept]]
    env = "keras-3.15-*"
    metric = "*"
    cause = "random_stream"
    reason = "Keras 3 draws initial weights from each backend's own random stream"
    baseline = "tf-2.15"
    expires = 2027-06-30

A drifting metric that an entry matches with the same cause, in a run whose baseline the entry names (or
any, when it names none), is ``accepted``: shown with its reason, not failing ``drift`` or ``gate``. If the
cause changes, the entry no longer matches. An entry is stale (reported) only when the run compared what it
names and nothing drifted: an environment or a task the run left out, or another baseline, says nothing
about it (so an entry whose glob names a project environment the run left out is not stale: that one may
still drift as it says). An expired entry accepts nothing and fails the run, naming it.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from filelock import FileLock, Timeout

from keras_drift.errors import InputError
from keras_drift.judge.compare import BEHAVIOUR_COLUMNS
from keras_drift.judge.localise import Localisation
from keras_drift.judge.saved_models import Judgement
from keras_drift.judge.speed import COLUMNS as SPEED_COLUMNS
from keras_drift.store.results import printable, write_text_atomically
from keras_drift.store.tables import read_input, read_tables
from keras_drift.store.verdicts import Cause, Verdict

DEFAULT_FILE = "accepted.toml"
# How long `accept` waits for another one appending to the same file.
LOCK_TIMEOUT_S = 60
_KEYS = {"env", "metric", "cause", "reason", "baseline", "expires"}


@dataclass(frozen=True)
class Acceptance:
    """One reviewed, accepted drift: which environments and metrics, for which cause, and why."""

    env: str
    metric: str
    cause: str
    reason: str
    expires: dt.date | None = None
    baseline: str | None = None  # a glob of the baselines it was reviewed against; None: any

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and self.expires < today

    def applies_against(self, baseline: str | None) -> bool:
        """Whether the entry speaks of a run against ``baseline`` (``None``: a baseline not known)."""
        return self.baseline is None or baseline is None or fnmatch.fnmatchcase(baseline, self.baseline)

    def names(self, env: str, metric: str) -> bool:
        return fnmatch.fnmatchcase(env, self.env) and fnmatch.fnmatchcase(metric, self.metric)

    def matches(self, env: str, metric: str, cause: Any) -> bool:
        return self.names(env, metric) and cause == self.cause

    def describe(self) -> str:
        against = f", against baseline {self.baseline!r}" if self.baseline else ""
        until = f", until {self.expires}" if self.expires else ""
        return f"env {self.env!r}, metric {self.metric!r}, cause {self.cause}{against}{until}: {self.reason}"


def load_acceptances(path: Path) -> list[Acceptance]:
    """The entries of an accepted-drifts file (none when it does not exist); one-line errors otherwise."""
    return [_entry(path, index, entry) for index, entry in enumerate(read_tables(path, "accept"))]


def _entry(path: Path, index: int, entry: Any) -> Acceptance:
    where = f"{path}: accept[{index}]"
    if not isinstance(entry, dict):
        raise InputError(f"{where}: must be a table")
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise InputError(f"{where}.{unknown[0]}: unknown key; allowed keys are {', '.join(sorted(_KEYS))}")
    for key in ("env", "metric", "cause", "reason"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise InputError(f"{where}.{key}: is required, a non-empty string")
    if entry["cause"] not in {cause.value for cause in Cause}:
        raise InputError(f"{where}.cause: {entry['cause']!r} is not one of {', '.join(cause.value for cause in Cause)}")
    expires = entry.get("expires")
    if expires is not None and not (isinstance(expires, dt.date) and not isinstance(expires, dt.datetime)):
        raise InputError(f"{where}.expires: must be a date such as 2027-06-30")
    baseline = entry.get("baseline")
    if baseline is not None and (not isinstance(baseline, str) or not baseline.strip()):
        raise InputError(f"{where}.baseline: must be a non-empty string, a glob of environment names")
    return Acceptance(entry["env"], entry["metric"], entry["cause"], entry["reason"], expires, baseline)


@dataclass(frozen=True)
class Review:
    """Verdicts with accepted drifts marked, the entries that matched nothing or have expired, and the
    behaviour changes and per-step speeds judged beside them (:func:`keras_drift.judge.compare.behaviour_changes`,
    :func:`keras_drift.judge.speed.speed_table`)."""

    verdicts: pd.DataFrame
    stale: tuple[Acceptance, ...] = ()
    expired: tuple[Acceptance, ...] = ()
    behaviours: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(BEHAVIOUR_COLUMNS)))
    speed: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(SPEED_COLUMNS)))
    # where each drifting model task's numbers part, by (environment, task) (keras_drift.judge.localise)
    localisations: Mapping[tuple[str, str], Localisation] = field(default_factory=dict)
    # what the load phase found of the saved models (keras_drift.judge.saved_models)
    saved: Judgement | None = None


# what was compared: a metric with one of these verdicts could have drifted
COMPARED = (Verdict.IDENTICAL, Verdict.WITHIN_TOLERANCE, Verdict.DRIFT)


def review(verdicts: pd.DataFrame, acceptances: list[Acceptance], baseline: str | None = None,
           today: dt.date | None = None, environments: Collection[str] = ()) -> Review:
    """Mark each drifting row that a live entry for this ``baseline`` accepts (same cause) as ``accepted``,
    with its reason; the entries that accept nothing although the run compared what they name, and that name
    none of the project's ``environments`` the run left out, are stale."""
    today = today or dt.date.today()
    live = [entry for entry in acceptances if not entry.expired(today) and entry.applies_against(baseline)]
    used: set[int] = set()
    verdict_column: list[Any] = []
    reasons: list[str | None] = []
    for row in verdicts.itertuples():
        found = None
        if row.verdict == Verdict.DRIFT:
            found = next((i for i, entry in enumerate(live) if entry.matches(str(row.env), str(row.metric), row.cause)), None)
        if found is not None:
            used.add(found)
            verdict_column.append(Verdict.ACCEPTED)
            reasons.append(live[found].reason)
        else:
            verdict_column.append(row.verdict)
            reasons.append(None)
    marked = verdicts.assign(verdict=pd.Series(verdict_column, index=verdicts.index, dtype=object),
                             accepted_reason=pd.Series(reasons, index=verdicts.index, dtype=object))
    compared = [(str(row.env), str(row.metric)) for row in verdicts.itertuples() if row.env != baseline and row.verdict in COMPARED]
    in_run = set(verdicts["env"].astype(str))
    left_out = [env for env in environments if env not in in_run]
    stale = tuple(entry for i, entry in enumerate(live) if i not in used and any(entry.names(*pair) for pair in compared)
                  and not any(fnmatch.fnmatchcase(env, entry.env) for env in left_out))
    return Review(marked, stale, tuple(entry for entry in acceptances if entry.expired(today)))


def append(path: Path, entries: list[Acceptance]) -> None:
    """Add entries at the end of the file (created when missing), keeping what is there, atomically. A lock
    beside the file makes concurrent appends take turns (read, append and replace unlocked, two of them
    would each keep only their own entry); a file that is not a valid accepted-drifts file is refused."""
    try:
        with FileLock(str(path.with_name(f".{path.name}.lock")), timeout=LOCK_TIMEOUT_S):
            _append_locked(path, entries)
    except Timeout:
        raise InputError(f"{path}: another `keras-drift accept` held it for {LOCK_TIMEOUT_S} s; try again") from None


def _append_locked(path: Path, entries: list[Acceptance]) -> None:
    try:
        text = read_input(path)
    except FileNotFoundError:
        text = _HEADER
    load_acceptances(path)  # what is there must be valid before more is added (the next run would refuse it)
    for entry in entries:
        # A JSON string without ASCII escapes is a TOML basic string; printable() leaves no control character.
        text += "\n[[accept]]\n" + "".join(
            f"{key} = {json.dumps(printable(getattr(entry, key)), ensure_ascii=False)}\n"
            for key in ("env", "metric", "cause", "reason", "baseline") if getattr(entry, key) is not None
        ) + (f"expires = {entry.expires.isoformat()}\n" if entry.expires else "")
    write_text_atomically(path, text)


_HEADER = """# Drifts reviewed and accepted (keras-drift accept RUN --env NAME --reason "..."); see docs/how-to/review-a-bump.md.
"""
