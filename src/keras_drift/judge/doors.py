"""Doors to Keras: what a user of the other door gets, compared across environments.

On TensorFlow 2.11 and 2.12, ``import keras`` reaches the legacy optimizers where ``tf.keras`` (the
documented door, which the tasks use) reaches the new ones, so the probe runs the tasks that call them
through that door too, as ``<task>@keras`` (``probe/run.py``'s ``door_tasks``). An environment where the
door reaches the same objects as the documented one (TensorFlow 2.13 and later, Keras 3, where there is
only one) runs no such task: for it, ``<task>@keras`` is ``<task>``. Judging fills that in, so a user of
``import keras`` on 2.12 sees what bumping to 2.15 does to their numbers (a drift where the legacy
optimizer's update differs), instead of a metric missing on one side.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pandas as pd

from keras_drift.store.results import Result

# ``optimizer.defaults.Nadam@keras``: a task run through the door ``keras``.
DOOR_TASK = re.compile(r"^(?P<task>[^@]+)@(?P<door>[A-Za-z0-9_.]+)$")


def aligned(results: Sequence[Result]) -> list[Result]:
    """``results`` where each one that lacks a door's task some other result ran gets the documented task's
    metrics, noise, series, facts and declaration under the door's name, when that door reaches the same
    objects there (it names no differing class, or the environment has no such door: Keras 3). A result
    that gains any records them in ``door_aliases`` (door task -> task). The others are returned as they are."""
    door_tasks = sorted({task for result in results for task in result.tasks if DOOR_TASK.match(task)})
    return [_with_aliases(result, door_tasks) for result in results] if door_tasks else list(results)


def _with_aliases(result: Result, door_tasks: Sequence[str]) -> Result:
    aliases = {}
    for door_task in door_tasks:
        found = DOOR_TASK.match(door_task)
        assert found is not None
        task, door = found["task"], found["door"]
        if door_task in result.tasks or task not in result.tasks or _differs(result, door):
            continue
        aliases[door_task] = task
    if not aliases:
        return result
    copy = Result(result)
    copy["metrics"] = {**result.metrics, **_renamed(result.metrics, aliases)}
    copy["noise"] = {**result.noise, **_renamed(result.noise, aliases)}
    copy["series"] = {**result.series, **_renamed(result.series, aliases)}
    copy["facts"] = {**result.get("facts", {}), **{alias: result.get("facts", {}).get(task, {}) for alias, task in aliases.items()}}
    copy["tasks"] = {**result.tasks, **{alias: result.tasks[task] for alias, task in aliases.items()}}
    copy["door_aliases"] = aliases
    return copy


def _differs(result: Result, door: str) -> bool:
    """Whether ``door`` reaches other objects than the documented door in ``result``'s environment."""
    doors = result.get("fingerprint", {}).get("front_doors", {})
    return bool(isinstance(doors, dict) and isinstance(doors.get(door), dict) and doors[door].get("differs"))


def _renamed(values: dict[str, Any], aliases: dict[str, str]) -> dict[str, Any]:
    """The entries of ``values`` named after an aliased task (``task`` or ``task.rest``), under the door
    task's name."""
    found = {}
    for alias, task in aliases.items():
        for key, value in values.items():
            if key == task or key.startswith(task + "."):
                found[alias + key[len(task):]] = value
    return found


def relevant(verdicts: pd.DataFrame, results: Sequence[Result], baseline: str) -> pd.DataFrame:
    """The rows of :func:`keras_drift.judge.compare.compare` less those of a door's task where neither the
    environment nor the baseline ran it: both stand in the documented task there, which its own rows
    already compare."""
    aliased = {result.env: set(result.get("door_aliases", {})) for result in results}
    if not any(aliased.values()) or verdicts.empty:
        return verdicts
    stand_in = [env != baseline and _task_of(str(metric)) in aliased.get(env, set()) & aliased.get(baseline, set())
                for env, metric in zip(verdicts["env"], verdicts["metric"], strict=True)]
    return verdicts[[not dropped for dropped in stand_in]].reset_index(drop=True)


def _task_of(metric: str) -> str:
    """The door task a metric belongs to (``optimizer.defaults.Nadam@keras.w0`` -> ``optimizer.defaults.Nadam@keras``)."""
    head, at, tail = metric.partition("@")
    return head + at + tail.split(".", 1)[0] if at else ""
