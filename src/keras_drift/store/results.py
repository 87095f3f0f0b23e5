"""Result files: one JSON per environment, validated against the committed schema on every load."""

from __future__ import annotations

import json
import math
import os
import re
import secrets
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
from packaging.utils import canonicalize_name

from keras_drift.errors import InputError
from keras_drift.store.labels import Label
from keras_drift.store.tables import read_input

SCHEMA_VERSION = 1
RESULTS_DIR = "results"
# A log tail is for reading: a merged file's tail is cut to this many characters (its end is kept).
LOG_TAIL_CHARS = 20_000
# Terminal escape sequences (colours, cursor moves) and other control characters but newline and tab.
_CONTROL = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]|[\x00-\x08\x0b-\x1f\x7f]")
# The probe spells non-finite floats as these strings because JSON has no NaN or infinity.
NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


class Status(Label):
    """How an environment's probe ended (a result's ``status``), and how one of its tasks did (``tasks`` ->
    ``status``) or its load phase (``load_phase`` -> ``status``: ``ok`` or ``failed``)."""

    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"


class Result(dict[str, Any]):
    """One environment's result: the JSON contract of ``results/<env>.json`` (a plain dict, so it is
    written as it is read), with accessors for the nested sections the pipeline reads."""

    @property
    def env(self) -> str:
        return self["env"]

    @property
    def status(self) -> Status:
        return Status(self["status"])

    @property
    def ok(self) -> bool:
        return self.status == Status.OK

    @property
    def partial(self) -> bool:
        """The probe stopped before its last task; the metrics are those of the tasks that finished."""
        return bool(self.get("partial"))

    @property
    def metrics(self) -> dict[str, Any]:
        return self.get("metrics", {})

    @property
    def series(self) -> dict[str, dict[str, list[Any]]]:
        return self.get("series", {})

    @property
    def errors(self) -> dict[str, str]:
        """Task name -> the error that task raised."""
        return self.get("errors", {})

    @property
    def noise(self) -> dict[str, Any]:
        """Metric -> spread of its repeats inside this environment."""
        return self.get("noise", {})

    @property
    def reason(self) -> str:
        return self.get("reason", "")

    @property
    def defaults(self) -> dict[str, Any]:
        """Resolved library defaults the probe recorded (``optimizer.Adam.epsilon`` -> value)."""
        return self.get("introspection", {}).get("defaults", {})

    @property
    def api(self) -> dict[str, Any]:
        """API behaviour probes (``SGD(lr=0.1)`` -> what happened)."""
        return self.get("introspection", {}).get("api", {})

    @property
    def distributions(self) -> dict[str, str]:
        """Installed distributions -> versions, by their normalised (PEP 503) names: ``tf_keras`` is ``tf-keras``."""
        return {canonicalize_name(name): version for name, version in self.get("fingerprint", {}).get("distributions", {}).items()}

    @property
    def env_vars(self) -> dict[str, str]:
        """The environment variables (flags) the probe recorded."""
        return self.get("fingerprint", {}).get("env_vars", {})

    @property
    def backend(self) -> str:
        return self.get("fingerprint", {}).get("backend") or self.get("spec", {}).get("backend", "")

    @property
    def tasks(self) -> dict[str, dict[str, Any]]:
        """Every task the probe tried: its declaration (family, doc, defaults, explicit, random_stream) and status."""
        return self.get("tasks", {})

    @property
    def cached_from(self) -> str | None:
        """The run whose probe produced this result, when it was reused from the result cache."""
        return self.get("cached_from")

    @property
    def repeated_tasks(self) -> dict[str, int]:
        """Task -> how many runs measured its noise, for the tasks run more than once."""
        return {name: int(task["runs"]) for name, task in self.tasks.items() if task.get("runs", 1) > 1}

    def task_of(self, metric: str) -> str:
        """The task that made ``metric``: the longest task name it starts with (metric names may hold dots,
        e.g. ``sweep.activations.relu(x).at(-0.5)``), else all but its last part."""
        owners = [task for task in self.tasks if metric.startswith(task + ".")]
        return max(owners, key=len) if owners else metric.rsplit(".", 1)[0]

    def facts(self, task: str) -> dict[str, Any]:
        """What the probe recorded to explain ``task``'s results (empty when the task did not run)."""
        return self.get("facts", {}).get(task, {})

    def initial_weights(self, task: str) -> dict[str, Any]:
        """Checksum and first values of the weights ``task`` started from (empty when not recorded)."""
        return self.facts(task).get("initial_weights", {})

    def final_weights(self, task: str) -> dict[str, Any]:
        """Checksum and first values of the weights ``task`` ended with (empty when not recorded)."""
        return self.facts(task).get("final_weights") or {}

    def recomputed(self, task: str) -> dict[str, Any]:
        """Metric -> the value the probe's NumPy oracle recomputed from ``task``'s final weights (empty when none)."""
        return dict(self.facts(task).get("recomputed") or {})

    def api_calls(self, task: str) -> list[str]:
        """The API behaviour probes whose spelling ``task`` used (``SGD(lr=0.1)`` for an ``lr=`` keyword)."""
        return list(self.facts(task).get("api_calls") or [])

    def initial_arrays(self, task: str) -> list[Any] | dict[str, list[Any]] | None:
        """The whole initial weights of ``task`` (nested lists; a script's by model), for models small enough
        to replay them."""
        return self.facts(task).get("initial_arrays")

    def batch_order(self, task: str) -> dict[str, Any]:
        """Checksum, draws and first indices of the orders ``task``'s ``fit()`` shuffled its samples in (empty
        when it did not shuffle)."""
        return self.facts(task).get("batch_order") or {}

    def batch_orders(self, task: str) -> list[list[int]] | None:
        """Those orders whole (one permutation of the samples per epoch, every ``fit`` in turn), where they
        are small enough to replay."""
        return self.facts(task).get("batch_orders")

    def draws(self, task: str, key: str) -> Any:
        """What a re-run needs to replay the random draw ``key`` of ``task`` (``initial_weights``:
        :meth:`initial_arrays`; ``batch_order``: :meth:`batch_orders`), ``None`` where it was not recorded whole."""
        return {"initial_weights": self.initial_arrays, "batch_order": self.batch_orders}[key](task)


@cache
def schema(name: str = "result") -> dict[str, Any]:
    """A JSON Schema committed in the package: ``result`` (a result file) or ``verdicts`` (``verdicts.json``)."""
    return json.loads(resources.files("keras_drift").joinpath(f"schemas/{name}.schema.json").read_text("utf-8"))


def validate_document(document: Any, schema_name: str, source: Path | str) -> None:
    """Check ``document`` against a packaged schema; raise :class:`InputError` naming the file and the field."""
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema(schema_name)).iter_errors(document))
    if error is not None:
        # Keys come from the file: escape them (a key may hold a newline) so the message stays one line.
        field = "/".join(json.dumps(part)[1:-1] if isinstance(part, str) else str(part) for part in error.absolute_path)
        raise InputError(f"{source}: {field or '(top level)'}: {' '.join(error.message.splitlines())}")


def validate(result: Any, source: Path | str) -> dict[str, Any]:
    """Check a result against its schema; raise :class:`InputError` naming the file and the field."""
    version = result.get("schema_version") if isinstance(result, dict) else None
    if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
        raise InputError(
            f"{source}: schema_version: {version} is newer than this keras-drift understands ({SCHEMA_VERSION}); upgrade keras-drift"
        )
    validate_document(result, "result", source)
    _check_numbers_and_series(result, source)
    return result


def _check_numbers_and_series(result: dict[str, Any], source: Path | str) -> None:
    """What the schema cannot say: every number fits a float, every text is Unicode, each numeric field
    holds numbers, and a series' columns have one length (:func:`_check_numeric_fields`)."""
    _check_text(result, source)
    _check_magnitudes(result, source, ())
    _check_numeric_fields(result, source)
    for name, series in result.get("series", {}).items():
        lengths = {column: len(values) for column, values in series.items()}
        if len(set(lengths.values())) > 1:
            shown = ", ".join(f"{_key(column)}={length}" for column, length in sorted(lengths.items()))
            raise InputError(f"{source}: series/{_key(name)}: columns of different lengths ({shown})")


def _key(part: Any) -> str:
    """A key of the file as it reads in a one-line message (a newline escaped)."""
    return json.dumps(part)[1:-1] if isinstance(part, str) else str(part)


def _check_text(result: dict[str, Any], source: Path | str) -> None:
    """Refuse a lone surrogate (JSON's ``"\\ud800"``) anywhere: it is no character, and printing or writing it fails."""
    try:
        json.dumps(result, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"{source}: holds a lone surrogate (an escape such as \\ud800 that is not a character)") from None


def _check_magnitudes(value: Any, source: Path | str, where: tuple[Any, ...]) -> None:
    """Refuse a number a float cannot hold: an integer beyond 2**53 (outside the introspected defaults, which
    are compared as they are), or a literal such as 1e999 that JSON reading turned into infinity (the file
    spells infinity "Infinity")."""
    if isinstance(value, dict):
        for key, item in value.items():
            if where != ("introspection",) or key != "defaults":
                _check_magnitudes(item, source, (*where, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_magnitudes(item, source, (*where, index))
    elif isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"{source}: {'/'.join(map(_key, where))}: {value} does not fit a float; spell it \"Infinity\" or \"NaN\"")
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
        raise InputError(f"{source}: {'/'.join(map(_key, where))}: integer {str(value)[:20]}... is too large to compare")


def _numeric(value: Any, null: bool = False) -> bool:
    """A number as a result file holds it: an int or float, or a non-finite float's spelling (``None`` if ``null``)."""
    if value is None:
        return null
    return (isinstance(value, (int, float)) and not isinstance(value, bool)) or (isinstance(value, str) and value in NON_FINITE)


def _seconds(value: Any) -> bool:
    """A time the probe measured: a finite number of seconds, not below 0."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < math.inf


def _check_numeric_fields(result: dict[str, Any], source: Path | str) -> None:
    """The fields that the pipeline computes with hold numbers (the schema lets them hold any scalar)."""
    for field, value, null in _numeric_fields(result):
        if not _numeric(value, null):
            raise InputError(f"{source}: {'/'.join(map(_key, field))}: {json.dumps(value)[:40]} is not a number")
    for name, value in result.get("timings", {}).items():  # seconds are named *_s (a flag beside them is not)
        if name == "steps":
            if not (isinstance(value, dict) and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in value.values())):
                raise InputError(f"{source}: timings/steps: must map each task to a whole number of steps")
        elif name in _BY_RUN and not (isinstance(value, dict) and all(_seconds(item) for item in value.values())):
            raise InputError(f"{source}: timings/{_key(name)}: must be an object of seconds by run of a task")
        elif name.endswith("_s") and not (_seconds(value) or (isinstance(value, dict) and all(_seconds(item) for item in value.values()))):
            raise InputError(f"{source}: timings/{_key(name)}: must be seconds, or an object of seconds by task")
    for name in result.get("metrics", {}):
        if name.startswith("saved."):
            raise InputError(f"{source}: metrics/{_key(name)}: names starting with 'saved.' belong to the load phase's verdicts")


# The timings kept per run of a task (``task#0``), which the speed comparison reads.
_BY_RUN = ("tasks_s", "compile_s")


def _numeric_fields(result: dict[str, Any]) -> Any:
    """(field, value, whether null is allowed) of every value that must be a number."""
    for dtype, values in result.get("oracle", {}).items():
        for name, value in values.items():
            yield ("oracle", dtype, name), value, True
    for name, series in result.get("series", {}).items():
        for column, values in series.items():
            for index, value in enumerate(values):
                yield ("series", name, column, index), value, False
    for task, facts in result.get("facts", {}).items():
        for index, value in enumerate(facts.get("step_losses") or []):
            yield ("facts", task, "step_losses", index), value, False
    for index, attempt in enumerate(result.get("loads", [])):
        for key in ("max_abs_diff", "evaluate_diff"):
            yield ("loads", index, key), attempt.get(key), True
    for index, model in enumerate(result.get("user_models", [])):
        for position, value in _leaves(model.get("predictions") or [], ()):
            yield ("user_models", index, "predictions", *position), value, False


def _leaves(value: Any, where: tuple[int, ...]) -> Any:
    """(position, item) of every item of nested lists (predictions keep the shape of the model's output)."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*where, index))
    else:
        yield where, value


def load_result(path: Path) -> Result:
    """Read, validate and decode one result file (non-finite strings become floats again)."""
    try:
        text = read_input(path)
    except FileNotFoundError as exc:
        raise InputError(f"{path}: cannot be read: {exc.strerror}") from None
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except (json.JSONDecodeError, ValueError) as exc:
        raise InputError(f"{path}: not valid JSON (truncated?): {exc}") from None
    except RecursionError:
        raise InputError(f"{path}: nested too deep to be a result") from None
    try:
        result = decode(validate(data, path))
    except RecursionError:
        raise InputError(f"{path}: nested too deep to be a result") from None
    # Text meant for people is shown in terminals and the report: no escape sequences, a bounded tail.
    for key in ("reason", "log_tail"):
        if key in result:
            result[key] = printable(result[key])[-LOG_TAIL_CHARS:]
    result["errors"] = {task: printable(error) for task, error in result.errors.items()}
    return result


def printable(text: str) -> str:
    """``text`` without terminal escape sequences and control characters (newlines and tabs kept), so a
    result file cannot recolour or rewrite the terminal that prints it."""
    return _CONTROL.sub("", text)


def load_results(run_dir: Path) -> list[Result]:
    """Every result of a run, sorted by environment name."""
    folder = Path(run_dir) / RESULTS_DIR
    if not folder.is_dir():
        raise InputError(f"{folder}: no results folder; run `keras-drift drift` or `keras-drift run` first")
    results = load_unique(sorted(folder.glob("*.json")))
    if not results:
        raise InputError(f"{folder}: no result files")
    return results


def load_unique(paths: list[Path]) -> list[Result]:
    """Load result files, refusing two that are the result of the same environment."""
    seen: dict[str, Path] = {}
    results = []
    for path in paths:
        result = load_result(path)
        if seen.setdefault(result.env, path) != path:
            raise InputError(f"{path}: env: {result.env!r} is also the result in {seen[result.env]}")
        results.append(result)
    return results


def write_result(result: Result, run_dir: Path) -> Path:
    """Validate and write ``result`` atomically as ``results/<env>.json``; return its path."""
    path = Path(run_dir) / RESULTS_DIR / f"{result['env']}.json"
    validate(encode(result), path)
    write_json_atomically(path, encode(result))
    return path


def write_json_atomically(path: Path, data: Any) -> None:
    """Write ``data`` as JSON with :func:`write_text_atomically`."""
    write_text_atomically(path, json.dumps(data, indent=1, sort_keys=True, allow_nan=False))


def write_text_atomically(path: Path, text: str) -> None:
    """Write through a temporary file in the same folder and a rename: readers never see half a file, a
    process killed mid-write leaves the previous file whole, and a link at ``path`` is replaced, never
    followed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with temporary.open("x", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def status_result(env: str, status: Status | str, reason: str, log_tail: str = "", **extra: Any) -> Result:
    """The result of an environment that produced no probe output: ``status`` is :attr:`Status.FAILED` or
    :attr:`Status.SKIPPED` (or its value)."""
    return Result({
        "schema_version": SCHEMA_VERSION,
        "env": env,
        "status": Status(status).value,
        "metrics": {},
        "series": {},
        "errors": {},
        "reason": reason,
        "log_tail": log_tail,
        **extra,
    })


def decode(result: dict[str, Any]) -> Result:
    """Turn the probe's non-finite spellings back into floats, wherever numbers are stored."""
    return Result(_map_numbers(dict(result), _decode_scalar))


def encode(result: dict[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`decode`: non-finite floats become their JSON-safe strings."""
    return _map_numbers(dict(result), encode_scalar)


def _map_numbers(result: dict[str, Any], convert: Any) -> dict[str, Any]:
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
    if "facts" in result:
        result["facts"] = {task: {**facts, "step_losses": [convert(v) for v in facts["step_losses"]]} if facts.get("step_losses") else facts
                           for task, facts in result["facts"].items()}
    for key, fields in (("loads", ("max_abs_diff", "evaluate_diff")), ("user_models", ("predictions",))):
        if key in result:
            result[key] = [{**entry, **{name: _convert(entry[name], convert) for name in fields if name in entry}} for entry in result[key]]
    return result


def _convert(value: Any, convert: Any) -> Any:
    """``convert`` applied to a scalar, or to each item of nested lists."""
    return [_convert(item, convert) for item in value] if isinstance(value, list) else convert(value)


def _decode_scalar(value: Any) -> Any:
    return NON_FINITE.get(value, value) if isinstance(value, str) else value


def encode_scalar(value: Any) -> Any:
    """A number as JSON can hold it: NaN and infinities as the strings the result files use."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"bare {name} is not JSON; write it as the string {name!r}")
