"""Compare every environment's metrics with the baseline's and give each a verdict.

The rule, stated once: a float metric is ``identical`` when it equals the baseline bit for bit,
``within_tolerance`` when ``|value - baseline| <= atol + noise + rtol * |baseline|`` and ``drift``
otherwise, where ``noise`` is the noise floor: the spread of repeated runs of the same task inside each of
the two environments, added up (0 where runs are bitwise repeatable).
Integers, booleans and strings are compared exactly. NaN equals NaN (the same failure twice); NaN against
a number is drift. An environment that failed or was skipped gives ``failed``/``skipped`` for every metric;
a metric that one side lacks is ``missing`` (``failed`` where the task that makes it raised).
"""

from __future__ import annotations

import fnmatch
import math
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from keras_drift.results import Result
from keras_drift.specs import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

VERDICTS = ("identical", "within_tolerance", "drift", "failed", "skipped", "missing")
COLUMNS = ("env", "metric", "value", "baseline_value", "abs_diff", "rel_diff", "atol", "rtol", "noise_floor", "verdict")
EXIT_OK, EXIT_DRIFT, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2, 3


@dataclass(frozen=True)
class Tolerance:
    """How far a metric matching ``pattern`` may move before it counts as drift."""

    pattern: str
    atol: float
    rtol: float


def load_tolerances(path: Path | None = None) -> list[Tolerance]:
    """Read a tolerance table (the packaged default when ``path`` is ``None``)."""
    source: Any = path if path is not None else resources.files("keras_drift").joinpath("tolerances.toml")
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{source}: cannot be read as TOML: {exc}") from None
    entries = data.get("tolerance")
    if not isinstance(entries, list) or not entries:
        raise InputError(f"{source}: tolerance: expected one or more [[tolerance]] tables")
    tolerances = []
    for index, entry in enumerate(entries):
        where = f"{source}: tolerance[{index}]"
        if set(entry) != {"pattern", "atol", "rtol"}:
            raise InputError(f"{where}: needs exactly the keys pattern, atol, rtol; got {', '.join(sorted(entry))}")
        if not isinstance(entry["pattern"], str):
            raise InputError(f"{where}.pattern: must be a string")
        for key in ("atol", "rtol"):
            value = entry[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise InputError(f"{where}.{key}: must be a number >= 0, got {value!r}")
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
) -> tuple[str, float | None, float | None]:
    """The verdict for one value against its baseline, with the signed absolute and relative difference."""
    if not (_is_number(value) and _is_number(baseline)):
        return ("identical" if type(value) is type(baseline) and value == baseline else "drift"), None, None
    if isinstance(value, int) and isinstance(baseline, int):
        difference = float(value - baseline)
        return ("identical" if value == baseline else "drift"), difference, _relative(difference, baseline)
    value, baseline = float(value), float(baseline)
    if math.isnan(value) or math.isnan(baseline):
        same = math.isnan(value) and math.isnan(baseline)
        return ("identical" if same else "drift"), None, None
    if value == baseline:
        return "identical", 0.0, 0.0
    if math.isinf(value) or math.isinf(baseline):
        return "drift", None, None
    difference = value - baseline
    within = abs(difference) <= tolerance.atol + noise_floor + tolerance.rtol * abs(baseline)
    return ("within_tolerance" if within else "drift"), difference, _relative(difference, baseline)


def compare(results: Sequence[Result], baseline: str, tolerances: Sequence[Tolerance]) -> pd.DataFrame:
    """One row per (environment, metric): value, baseline value, differences, tolerance, verdict."""
    by_env = {result["env"]: result for result in results}
    if baseline not in by_env:
        raise InputError(f"--baseline: {baseline!r} has no result in this run ({', '.join(by_env)})")
    reference = by_env[baseline]
    metrics = sorted({metric for result in results for metric in result["metrics"]})
    rows = []
    for result in results:
        for metric in metrics:
            tolerance = tolerance_for(metric, tolerances)
            value = result["metrics"].get(metric)
            base = reference["metrics"].get(metric)
            floor = noise_floor(result, metric) + noise_floor(reference, metric)
            verdict, absolute, relative = _verdict(result, reference, metric, tolerance, floor)
            rows.append(
                (result["env"], metric, value, base, absolute, relative, tolerance.atol, tolerance.rtol, floor, verdict)
            )
    # object dtype keeps None (no value) apart from NaN (a value that is NaN).
    return pd.DataFrame(rows, columns=list(COLUMNS), dtype=object)


def exit_code(verdicts: pd.DataFrame, results: Sequence[Result] = ()) -> int:
    """0 when nothing drifted or failed, 1 when something drifted, 2 when an environment or task failed.

    The results count as well as the rows: environments that all failed leave no metric rows at all.
    """
    found = set(verdicts["verdict"])
    if "failed" in found or any(result["status"] == "failed" for result in results):
        return EXIT_FAILED
    if "drift" in found:
        return EXIT_DRIFT
    return EXIT_OK


def verdicts_document(verdicts: pd.DataFrame, results: Sequence[Result], baseline: str, run_id: str) -> dict:
    """The ``verdicts.json`` contract: per environment, per metric, the row of :func:`compare` with the
    ``cause`` and ``evidence`` columns of :func:`keras_drift.attribute.attribute` on drifting rows."""
    environments = {}
    for result in results:
        rows = verdicts[verdicts["env"] == result["env"]]
        environments[result["env"]] = {
            "status": result["status"],
            "reason": result.get("reason", ""),
            "metrics": {
                row.metric: {
                    "value": _json_number(row.value),
                    "baseline": _json_number(row.baseline_value),
                    "abs_diff": _json_number(row.abs_diff),
                    "rel_diff": _json_number(row.rel_diff),
                    "tolerance": {"atol": row.atol, "rtol": row.rtol},
                    "noise_floor": row.noise_floor,
                    "verdict": row.verdict,
                    **({"cause": row.cause, "evidence": row.evidence} if row.verdict == "drift" else {}),
                }
                for row in rows.itertuples()
            },
        }
    counts = verdicts[verdicts["env"] != baseline]["verdict"].value_counts()
    return {
        "schema_version": 1,
        "run_id": run_id,
        "baseline": baseline,
        "exit_code": exit_code(verdicts, results),
        "counts": {verdict: int(counts.get(verdict, 0)) for verdict in VERDICTS},
        "closest_to_oracle": closest_to_oracle(results),
        "environments": environments,
    }


def oracle_distances(results: Sequence[Result]) -> pd.DataFrame:
    """Per metric the NumPy oracle's float64 and float32 values and each environment's distance to float64."""
    reference = next((r["oracle"] for r in results if r["status"] == "ok" and r.get("oracle")), None)
    if not reference:
        return pd.DataFrame()
    expected = reference.get("float64", {})
    rows = {}
    for metric, value in sorted(expected.items()):
        row: dict[str, Any] = {"oracle float64": value, "oracle float32": reference.get("float32", {}).get(metric)}
        for result in results:
            actual = result["metrics"].get(metric) if result["status"] == "ok" else None
            if _is_number(actual) and _is_number(value):
                row[result["env"]] = abs(float(actual) - float(value))
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
    spread = result.get("noise", {}).get(metric, 0.0)
    return float(spread) if _is_number(spread) and math.isfinite(spread) else 0.0


def _verdict(
    result: Result, reference: Result, metric: str, tolerance: Tolerance, floor: float
) -> tuple[str, Any, Any]:
    for side in (result, reference):
        if side["status"] != "ok":
            return ("skipped" if side["status"] == "skipped" else "failed"), None, None
    for side in (result, reference):
        if any(metric.startswith(task + ".") for task in side.get("errors", {})):
            return "failed", None, None  # the task raised, or produced NaN or infinity in training
    for side in (result, reference):
        if metric not in side["metrics"]:
            return "missing", None, None
    return judge(result["metrics"][metric], reference["metrics"][metric], tolerance, floor)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _relative(difference: float, baseline: float) -> float | None:
    return difference / abs(baseline) if baseline else None


def _json_number(value: Any) -> Any:
    """JSON-safe: NaN and infinities as the strings the result files use."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value
