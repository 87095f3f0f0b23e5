"""Compare every environment's metrics with the baseline's and give each a verdict.

The rule, stated once: a float metric is ``identical`` when it equals the baseline bit for bit,
``within_tolerance`` when ``|value - baseline| <= atol + noise + rtol * |baseline|`` and ``drift``
otherwise, where ``noise`` is the noise floor: the spread of repeated runs of the same task inside each of
the two environments, added up (0 where runs are bitwise repeatable), and never more than the smaller of
the two values' magnitudes (a result's claimed noise of 1e300 would otherwise hide any drift).
Integers, booleans and strings are compared exactly. NaN equals NaN (the same failure twice); NaN against
a number is drift. An environment that failed or was skipped gives ``failed``/``skipped`` for every metric, except
that a partial result (a probe stopped after some tasks) has its finished tasks' metrics compared like any
other and the rest ``failed``; a metric that one side lacks is ``missing`` (``failed`` where the task that
makes it raised).
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeGuard

import pandas as pd

from keras_drift.errors import ExitCode, InputError
from keras_drift.store.results import Result, Status
from keras_drift.store.tables import parse_toml, read_toml
from keras_drift.store.verdicts import Verdict

COLUMNS = ("env", "metric", "value", "baseline_value", "abs_diff", "rel_diff", "atol", "rtol", "noise_floor", "verdict")


@dataclass(frozen=True)
class Tolerance:
    """How far a metric matching ``pattern`` may move before it counts as drift."""

    pattern: str
    atol: float
    rtol: float


def family(metric: str) -> str:
    """The family of a metric: the first part of its name (``optimizer`` for ``optimizer.defaults.Adam.w0``)."""
    return metric.split(".", 1)[0]


def load_tolerances(path: Path | None = None) -> list[Tolerance]:
    """Read a tolerance table (the packaged default when ``path`` is ``None``)."""
    source: Any = path if path is not None else resources.files("keras_drift").joinpath("tolerances.toml")
    try:
        data = read_toml(path) if path is not None else parse_toml(source.read_text(encoding="utf-8"), source)
    except FileNotFoundError:
        raise InputError(f"{source}: no such tolerance file") from None
    entries = data.get("tolerance")
    if not isinstance(entries, list) or not entries:
        raise InputError(f"{source}: tolerance: expected one or more [[tolerance]] tables")
    tolerances = []
    for index, entry in enumerate(entries):
        where = f"{source}: tolerance[{index}]"
        if not isinstance(entry, dict):
            raise InputError(f"{where}: must be a table with the keys pattern, atol, rtol; got {type(entry).__name__}")
        if set(entry) != {"pattern", "atol", "rtol"}:
            raise InputError(f"{where}: needs exactly the keys pattern, atol, rtol; got {', '.join(sorted(entry))}")
        if not isinstance(entry["pattern"], str):
            raise InputError(f"{where}.pattern: must be a string")
        for key in ("atol", "rtol"):
            value = entry[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
                raise InputError(f"{where}.{key}: must be a finite number >= 0, got {value!r}")
        tolerances.append(Tolerance(entry["pattern"], float(entry["atol"]), float(entry["rtol"])))
    return tolerances


def tolerance_for(metric: str, tolerances: Sequence[Tolerance]) -> Tolerance:
    """The first tolerance whose pattern matches ``metric``; exact comparison when none does."""
    for tolerance in tolerances:
        if fnmatch.fnmatchcase(metric, tolerance.pattern):
            return tolerance
    return Tolerance("(none)", 0.0, 0.0)


def judge(
    value: Any, baseline: Any, tolerance: Tolerance, noise_floor: float = 0.0
) -> tuple[Verdict, float | None, float | None]:
    """The verdict for one value against its baseline, with the signed absolute and relative difference."""
    if not (_is_number(value) and _is_number(baseline)):
        same = type(value) is type(baseline) and value == baseline
        return (Verdict.IDENTICAL if same else Verdict.DRIFT), None, None
    if isinstance(value, int) and isinstance(baseline, int):
        difference = float(value - baseline)
        return (Verdict.IDENTICAL if value == baseline else Verdict.DRIFT), difference, _relative(difference, baseline)
    value, baseline = float(value), float(baseline)
    if math.isnan(value) or math.isnan(baseline):
        same = math.isnan(value) and math.isnan(baseline)
        return (Verdict.IDENTICAL if same else Verdict.DRIFT), None, None
    if value == baseline:
        return Verdict.IDENTICAL, 0.0, 0.0
    if math.isinf(value) or math.isinf(baseline):
        return Verdict.DRIFT, None, None
    difference = value - baseline
    # a spread as large as the values themselves says the task does not repeat at all; it must not hide a drift
    noise_floor = min(noise_floor, abs(value), abs(baseline))
    within = abs(difference) <= tolerance.atol + noise_floor + tolerance.rtol * abs(baseline)
    return (Verdict.WITHIN_TOLERANCE if within else Verdict.DRIFT), difference, _relative(difference, baseline)


def compare(results: Sequence[Result], baseline: str, tolerances: Sequence[Tolerance]) -> pd.DataFrame:
    """One row per (environment, metric): value, baseline value, differences, tolerance, verdict."""
    by_env = {result.env: result for result in results}
    if baseline not in by_env:
        raise InputError(f"--baseline: {baseline!r} has no result in this run ({', '.join(by_env)})")
    reference = by_env[baseline]
    metrics = sorted({metric for result in results for metric in result.metrics})
    rows = []
    for result in results:
        for metric in metrics:
            tolerance = tolerance_for(metric, tolerances)
            value = result.metrics.get(metric)
            base = reference.metrics.get(metric)
            floor = noise_floor(result, metric) + noise_floor(reference, metric)
            verdict, absolute, relative = _verdict(result, reference, metric, tolerance, floor)
            rows.append((result.env, metric, value, base, absolute, relative, tolerance.atol, tolerance.rtol, floor, verdict))
    # object dtype keeps None (no value) apart from NaN (a value that is NaN).
    return pd.DataFrame(rows, columns=list(COLUMNS), dtype=object)


def exit_code(verdicts: pd.DataFrame, results: Sequence[Result] = ()) -> ExitCode:
    """OK when nothing drifted or failed, DRIFT when something drifted, FAILED when an environment or a
    task failed. The results count as well as the rows: environments that all failed leave no metric rows,
    and a partial result (the probe stopped before its last task) has numbers unknown whatever its status; a
    run whose environments were all skipped measured nothing, which no gate may read as "no drift"."""
    found = set(verdicts["verdict"])
    if Verdict.FAILED in found or any(result.status == Status.FAILED or result.partial for result in results):
        return ExitCode.FAILED
    if results and not any(result.ok for result in results):  # every environment skipped: nothing was measured
        return ExitCode.FAILED
    if Verdict.DRIFT in found:
        return ExitCode.DRIFT
    return ExitCode.OK


BEHAVIOUR_COLUMNS = ("env", "kind", "key", "baseline_value", "value")
UNSET = "(unset)"  # the value of a key one side does not have


def behaviour_changes(results: Sequence[Result], baseline: str) -> pd.DataFrame:
    """What the library does differently from the baseline whether or not a metric moved: each API
    behaviour probe (``kind`` ``api``) and each resolved default (``default``) whose value differs,
    a key present on one side only included (its other side :data:`UNSET`)."""
    by_env = {result.env: result for result in results}
    reference = by_env.get(baseline)
    rows = []
    for result in results:
        if reference is None or result.env == baseline or not (result.get("introspection") and reference.get("introspection")):
            continue
        for kind, mine, theirs in (("api", result.api, reference.api), ("default", result.defaults, reference.defaults)):
            for key in sorted(set(mine) | set(theirs)):
                if mine.get(key, UNSET) != theirs.get(key, UNSET):
                    rows.append((result.env, kind, key, theirs.get(key, UNSET), mine.get(key, UNSET)))
    return pd.DataFrame(rows, columns=list(BEHAVIOUR_COLUMNS), dtype=object)


def oracle_distances(results: Sequence[Result]) -> pd.DataFrame:
    """Per metric the NumPy oracle's float64 and float32 values and each environment's distance to float64."""
    reference = next((r["oracle"] for r in results if r.ok and r.get("oracle")), None)
    if not reference:
        return pd.DataFrame()
    expected = reference.get("float64", {})
    rows = {}
    for metric, value in sorted(expected.items()):
        row: dict[str, Any] = {"oracle float64": value, "oracle float32": reference.get("float32", {}).get(metric)}
        for result in results:
            actual = result.metrics.get(metric) if result.ok else None
            if _is_number(actual) and _is_number(value):
                row[result.env] = abs(float(actual) - float(value))
        rows[metric] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def closest_to_oracle(results: Sequence[Result]) -> dict[str, list[str]]:
    """Per oracle metric, the environments whose value is nearest the float64 oracle (ties all listed)."""
    table = oracle_distances(results)
    closest = {}
    for metric, row in table.drop(columns=["oracle float64", "oracle float32"], errors="ignore").iterrows():
        distances = row.dropna()
        if not distances.empty:
            closest[metric] = sorted(distances[distances == distances.min()].index)
    return closest


def noise_floor(result: Result, metric: str) -> float:
    """How far repeats of ``metric`` moved inside one environment (0 when repeatable or not measured)."""
    spread = result.noise.get(metric, 0.0)
    return float(spread) if _is_number(spread) and math.isfinite(spread) else 0.0


def _verdict(
    result: Result, reference: Result, metric: str, tolerance: Tolerance, floor: float
) -> tuple[Verdict, Any, Any]:
    for side in (result, reference):
        if side.status == Status.SKIPPED:
            return Verdict.SKIPPED, None, None
        if not side.ok and not side.partial:
            return Verdict.FAILED, None, None
    for side in (result, reference):
        if any(metric.startswith(task + ".") for task in side.errors):
            return Verdict.FAILED, None, None  # the task raised, or produced NaN or infinity in training
    for side in (result, reference):
        if metric not in side.metrics:  # a partial result lacks the tasks it never reached: they failed
            return (Verdict.FAILED if side.partial else Verdict.MISSING), None, None
    return judge(result.metrics[metric], reference.metrics[metric], tolerance, floor)


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _relative(difference: float, baseline: float) -> float | None:
    return difference / abs(baseline) if baseline else None

