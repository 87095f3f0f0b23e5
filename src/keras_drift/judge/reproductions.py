"""Reproduction snippets of the API sweep's drifting entries.

The probe's sweep (``probe/sweep/``) exercises each public entry it calls by construction and records,
per entry, ``result["sweep"]["<kind>.<Call>"] = {"kind", "call", "snippet"}``: a short script that runs as
is in both environments. Its metrics are named ``sweep.<kind>.<Call>.<stat>``
(``sweep.initializers.GlorotUniform(seed=1).shape(3,4,5).std``). A drifting row of such a metric carries
its entry's snippet (``reproduction`` in ``verdicts.json``, a folded block in the report), so that a
reader can run the call on both sides. Results without a ``sweep`` section give none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from keras_drift.store.results import Result
from keras_drift.store.verdicts import Verdict

PREFIX = "sweep."  # what names a sweep metric
SECTION = "sweep"  # the result's section of sweep entries


def entry_of(result: Result | None, metric: str) -> tuple[str, Mapping[str, Any]] | None:
    """``(key, record)`` of the entry of ``result``'s sweep that made ``metric``: the longest key that the
    metric (less ``sweep.``) starts with, followed by a dot or nothing; ``None`` where there is none."""
    if result is None or not metric.startswith(PREFIX):
        return None
    entries = result.get(SECTION)
    if not isinstance(entries, Mapping):
        return None
    rest = metric[len(PREFIX):]
    keys = [key for key in entries if isinstance(key, str) and isinstance(entries[key], Mapping)
            and (rest == key or rest.startswith(key + "."))]
    if not keys:
        return None
    key = max(keys, key=len)
    return key, entries[key]


def snippet(result: Result | None, metric: str) -> str | None:
    """The reproduction snippet of the entry that made ``metric`` (:func:`entry_of`), if it has one."""
    found = entry_of(result, metric)
    text = found[1].get("snippet") if found is not None else None
    return str(text) if isinstance(text, str) and text.strip() else None


def reproductions(verdicts: pd.DataFrame, results: Sequence[Result], baseline: str) -> dict[tuple[str, str], str]:
    """``{(environment, metric): snippet}`` for every drifting or accepted row of a sweep metric, from the
    environment's own sweep, else the baseline's (the snippet runs as is on both sides)."""
    if verdicts.empty or not any(isinstance(result.get(SECTION), Mapping) for result in results):
        return {}
    by_env = {result.env: result for result in results}
    rows = verdicts[verdicts["verdict"].isin([Verdict.DRIFT, Verdict.ACCEPTED]) & verdicts["metric"].astype(str).str.startswith(PREFIX)
                    & (verdicts["env"] != baseline)]
    found = {}
    for env, metric in zip(rows["env"].astype(str), rows["metric"].astype(str), strict=True):
        text = snippet(by_env.get(env), metric) or snippet(by_env.get(baseline), metric)
        if text is not None:
            found[(env, metric)] = text
    return found
