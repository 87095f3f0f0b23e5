"""Result files: one JSON per environment, validated against the committed schema on every load."""

from __future__ import annotations

import json
import math
import os
import secrets
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from keras_drift.specs import InputError

SCHEMA_VERSION = 1
RESULTS_DIR = "results"
# The probe spells non-finite floats as these strings because JSON has no NaN or infinity.
NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}

Result = dict[str, Any]


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The JSON Schema of a result file, as committed in the package."""
    return json.loads(resources.files("keras_drift").joinpath("schemas/result.schema.json").read_text("utf-8"))


def validate(result: Any, source: Path | str) -> Result:
    """Check ``result`` against the schema; raise :class:`InputError` naming the file and the field."""
    version = result.get("schema_version") if isinstance(result, dict) else None
    if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
        raise InputError(
            f"{source}: schema_version: {version} is newer than this keras-drift understands ({SCHEMA_VERSION}); upgrade keras-drift"
        )
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema()).iter_errors(result))
    if error is not None:
        # Keys come from the file: escape them (a key may hold a newline) so the message stays one line.
        field = "/".join(json.dumps(part)[1:-1] if isinstance(part, str) else str(part) for part in error.absolute_path)
        raise InputError(f"{source}: {field or '(top level)'}: {' '.join(error.message.splitlines())}")
    return result


def load_result(path: Path) -> Result:
    """Read, validate and decode one result file (non-finite strings become floats again)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read: {exc}") from None
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except (json.JSONDecodeError, ValueError) as exc:
        raise InputError(f"{path}: not valid JSON (truncated?): {exc}") from None
    return decode(validate(data, path))


def load_results(run_dir: Path) -> list[Result]:
    """Every result of a run, sorted by environment name."""
    folder = Path(run_dir) / RESULTS_DIR
    if not folder.is_dir():
        raise InputError(f"{folder}: no results folder; run `keras-drift drift` or `keras-drift run` first")
    results = [load_result(path) for path in sorted(folder.glob("*.json"))]
    if not results:
        raise InputError(f"{folder}: no result files")
    return results


def write_result(result: Result, run_dir: Path) -> Path:
    """Validate and write ``result`` atomically as ``results/<env>.json``; return its path."""
    path = Path(run_dir) / RESULTS_DIR / f"{result['env']}.json"
    validate(encode(result), path)
    write_json_atomically(path, encode(result))
    return path


def write_json_atomically(path: Path, data: Any) -> None:
    """Write JSON through a temporary file in the same folder and a rename: readers never see half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with temporary.open("x", encoding="utf-8") as stream:
            json.dump(data, stream, indent=1, sort_keys=True, allow_nan=False)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def status_result(env: str, status: str, reason: str, log_tail: str = "", **extra: Any) -> Result:
    """The result of an environment that produced no probe output: ``failed`` or ``skipped``."""
    return {
        "schema_version": SCHEMA_VERSION,
        "env": env,
        "status": status,
        "metrics": {},
        "series": {},
        "errors": {},
        "reason": reason,
        "log_tail": log_tail,
        **extra,
    }


def decode(result: Result) -> Result:
    """Turn the probe's non-finite spellings back into floats, wherever numbers are stored."""
    return _map_numbers(result, _decode_scalar)


def encode(result: Result) -> Result:
    """The inverse of :func:`decode`: non-finite floats become their JSON-safe strings."""
    return _map_numbers(dict(result), _encode_scalar)


def _map_numbers(result: Result, convert: Any) -> Result:
    """Apply ``convert`` to every value of the numeric sections (flat, per-dtype and per-series)."""
    for key in ("metrics", "noise"):
        result[key] = {name: convert(value) for name, value in result.get(key, {}).items()}
    if "oracle" in result:
        result["oracle"] = {
            dtype: {name: convert(value) for name, value in values.items()} for dtype, values in result["oracle"].items()
        }
    result["series"] = {
        name: {column: [convert(v) for v in values] for column, values in series.items()}
        for name, series in result.get("series", {}).items()
    }
    return result


def _decode_scalar(value: Any) -> Any:
    return NON_FINITE.get(value, value) if isinstance(value, str) else value


def _encode_scalar(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"bare {name} is not JSON; write it as the string {name!r}")
