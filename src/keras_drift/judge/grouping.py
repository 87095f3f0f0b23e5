"""What a reviewer reads first: the same change in several environments said once, with its environments.

A green run of the default matrix changed 102 behaviours, most of them one config key that Keras 3 added
or dropped, repeated for every optimizer and every Keras 3 environment: printed one per line, they hid
the few that matter. Here a change is one line with the environments it happened in, and the keys only
one side has fold into one line per family of classes with the same keys (``optimizer.{Adadelta, Adam,
...}: new keys ...; gone ...``). The gate and the report print these groups.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from keras_drift.judge.compare import UNSET


@dataclass(frozen=True)
class Group:
    """One line a reviewer reads: what changed, and the environments where it did."""

    text: str
    envs: tuple[str, ...]

    def line(self) -> str:
        return f"{self.text} ({', '.join(self.envs)})"


def behaviour_groups(behaviours: pd.DataFrame, *, show: Callable[[Any], str] = str) -> list[Group]:
    """The rows of :func:`compare.behaviour_changes` as groups: each change of a value (``key: before ->
    after``) once with its environments, then the keys only one side has, folded per family of classes
    whose new and gone keys are the same in the same environments. ``show`` spells a value."""
    if behaviours.empty:
        return []
    one_sided = (behaviours["baseline_value"] == UNSET) | (behaviours["value"] == UNSET)
    changed: dict[tuple[str, str, str], list[str]] = {}
    saved: dict[tuple[str, str, str], tuple[set[str], set[str]]] = {}
    for row in behaviours[~one_sided].itertuples():
        before, after = show(row.baseline_value), show(row.value)
        found = SAVED_KEY.match(str(row.key))
        if found is None:
            changed.setdefault((str(row.key), before, after), []).append(str(row.env))
            continue
        models, envs = saved.setdefault((found["attempt"], _error_kind(before), _error_kind(after)), (set(), set()))
        models.add(found["model"])
        envs.add(str(row.env))
    groups = [Group(f"{key}: {before} -> {after}", _sorted(envs)) for (key, before, after), envs in sorted(changed.items())]
    groups += [Group(f"saved models, {attempt}: {before} -> {after} ({len(models)} model(s): {', '.join(sorted(models))})", _sorted(envs))
               for (attempt, before, after), (models, envs) in sorted(saved.items())]
    return groups + _folded(behaviours[one_sided].itertuples())


# A saved model's load outcome: ``saved.<task>.<format>.<method>.<what>`` (see keras_drift.judge.saved_models).
SAVED_KEY = re.compile(r"^saved\.(?P<model>.+)\.(?P<attempt>(?:keras|savedmodel|weights|weights_legacy|json|h5)\.[^.]+\.[^.]+)$")
# ``fails: TypeError: Error when deserializing class 'InputLayer' using config={...}`` -> ``fails: TypeError``.
_ERROR = re.compile(r"^(?P<kept>.*?\bfails: [A-Za-z_][A-Za-z0-9_.]*)(?::.*)?$", re.DOTALL)


def _error_kind(text: str) -> str:
    """A load outcome with its error cut to the exception's type: the message names each model's layers."""
    found = _ERROR.match(text)
    return found["kept"] if found else text


def _folded(rows: Iterable[Any]) -> list[Group]:
    """Keys only one side has: per owner (``optimizer.Adam``) and environment its new and gone keys; owners
    of one family (``optimizer``) with the same keys in the same environments on one line."""
    per_owner: dict[tuple[str, str], tuple[set[str], set[str]]] = {}
    for row in rows:
        owner, _, name = str(row.key).rpartition(".")
        new, gone = per_owner.setdefault((owner, str(row.env)), (set(), set()))
        (new if row.baseline_value == UNSET else gone).add(name)
    envs_of: dict[tuple[str, tuple[str, ...], tuple[str, ...]], list[str]] = {}
    for (owner, env), (added, dropped) in per_owner.items():
        envs_of.setdefault((owner, tuple(sorted(added)), tuple(sorted(dropped))), []).append(env)
    families: dict[tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]], list[str]] = {}
    for (owner, new_keys, gone_keys), having in envs_of.items():
        family, _, member = owner.rpartition(".")
        families.setdefault((family, _sorted(having), new_keys, gone_keys), []).append(member)
    groups = []
    for (family, envs, new_keys, gone_keys), members in sorted(families.items()):
        owners = members[0] if len(members) == 1 else "{" + ", ".join(sorted(members)) + "}"
        said = [f"new keys {', '.join(new_keys)}"] * bool(new_keys) + [f"gone {', '.join(gone_keys)}"] * bool(gone_keys)
        groups.append(Group(f"{family + '.' if family else ''}{owners}: {'; '.join(said)}", envs))
    return groups


def _sorted(envs: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(envs)))
