"""Saved models across versions: the user's own model files (``saved-models.toml``) and the judgement of
what the load phase found (``probe/saving.py``).

Every model task saves its trained model in each format its version writes; after the probes, each
environment loads files in three directions: its own (``control``), the baseline's in a candidate
(``upgrade``) and a candidate's in the baseline (``rollback``). The rules, stated once:

- **Drift** (a row ``saved.<task>.<format>.<method>`` beside the metric verdicts, cause ``api``, so it
  fails ``drift`` and ``gate`` and can be accepted like any drift): in the upgrade direction, a file the
  baseline loads itself with its own predictions, that the candidate cannot load or loads with
  predictions beyond the tolerance of that name. One that loads within it is ``identical`` (bit for bit)
  or ``within_tolerance``.
- **Behaviour changes** (kind ``saved``, counted and listed, gated with ``--fail-on behaviour``): in the
  upgrade direction, an optimizer state that does not come back intact or training that does not continue
  where the baseline's own round trip kept them; a rollback failure (the candidate loads its own file and
  the baseline cannot); a control round trip that fails in the candidate and works in the baseline.
- **The user's files**: every environment loads each one and predicts on its input; an environment that
  cannot, or whose predictions differ beyond tolerance from the reference environment's, drifts as
  ``saved.user.<name>``.

Where a format fails, :func:`what_loads` names what does work between the same two environments.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from keras_drift.envs.specs import NAME_RE
from keras_drift.errors import InputError
from keras_drift.judge.compare import COLUMNS, Tolerance, tolerance_for
from keras_drift.store.results import Result
from keras_drift.store.tables import read_tables
from keras_drift.store.verdicts import Cause, Certainty, Verdict

DEFAULT_FILE = "saved-models.toml"
DIRECTIONS = ("upgrade", "rollback", "control")
ATTEMPT_COLUMNS = ("saved_with", "loaded_with", "direction", "task", "format", "method", "outcome", "detail",
                   "max_abs_diff", "evaluate_diff", "optimizer", "trains")
# What a method needs of the loading side's code, for the sentence that names a working path.
ADVICE = {
    "rebuild+load_weights": "build the architecture in code and load_weights",
    "model_from_json+load_weights": "model_from_json, then load_weights",
    "TFSMLayer": "keras.layers.TFSMLayer, for inference only",
    "load_model": "load_model",
}
_KEYS = {"name", "path", "input", "reference"}
# The outcomes of an attempt that did not give the saving side's predictions ("n/a": the method does not exist here).
FAILURES = ("fails", "differs", "no predictions")


@dataclass(frozen=True)
class UserModel:
    """One of the user's own model files: a name, the file (or SavedModel folder), a NumPy ``.npy`` input
    to predict on, and the environment whose predictions are the reference. ``problem`` is the one line
    that says why it cannot be loaded as given (outside the project, missing): it is then never handed to
    a probe, and fails in every environment with that line."""

    name: str
    path: Path
    input: Path
    reference: str
    problem: str | None = None

    def plan(self) -> dict[str, str]:
        """What the probe's load plan says of it."""
        return {"name": self.name, "path": str(self.path), "input": str(self.input), "reference": self.reference}

    def failed(self) -> dict[str, Any]:
        """The outcome an environment records for a model with a ``problem``."""
        return {"name": self.name, "path": str(self.path), "reference": self.reference, "loaded": False, "error": self.problem,
                "cause": None}


# Longer is no path a file system takes (Linux's PATH_MAX).
MAX_PATH = 4096


def load_user_models(path: Path) -> list[UserModel]:
    """The entries of ``saved-models.toml`` (none when the file does not exist); an entry that cannot be
    loaded as given carries its ``problem``. A malformed file is an :class:`InputError` naming the field."""
    entries = read_tables(path, "model")
    found, names = [], set()
    root = path.parent.resolve()
    for index, entry in enumerate(entries):
        where = f"{path}: model[{index}]"
        if not isinstance(entry, dict):
            raise InputError(f"{where}: must be a table with the keys {', '.join(sorted(_KEYS))}")
        if set(entry) != _KEYS:
            missing, extra = sorted(_KEYS - set(entry)), sorted(set(entry) - _KEYS)
            raise InputError(f"{where}: " + (f"{missing[0]}: missing" if missing else f"{extra[0]}: unknown key"))
        for key in _KEYS:
            if not isinstance(entry[key], str) or not entry[key]:
                raise InputError(f"{where}.{key}: must be a non-empty string")
        if not NAME_RE.fullmatch(entry["name"]) or entry["name"] in names:  # match() would pass a final newline
            raise InputError(f"{where}.name: {entry['name']!r} must be unique and spelt with letters, digits, '.', '_' or '-'")
        names.add(entry["name"])
        for key in ("path", "input"):
            if "\0" in entry[key] or len(entry[key]) > MAX_PATH:
                raise InputError(f"{where}.{key}: is not a path (a NUL character, or longer than {MAX_PATH} characters)")
        targets = {key: (root / entry[key]).resolve() for key in ("path", "input")}
        problem = next((f"{where}.{key}: {entry[key]!r} is outside {root}; only files below it are loaded"
                        for key, target in targets.items() if not target.is_relative_to(root)), None)
        problem = problem or next((f"{where}.{key}: {entry[key]!r} does not exist"
                                   for key, target in targets.items() if not target.exists()), None)
        problem = problem or next((f"{where}.{key}: {entry[key]!r} is not a regular file or a folder"
                                   for key, target in targets.items() if not (target.is_file() or target.is_dir())), None)
        found.append(UserModel(entry["name"], targets["path"], targets["input"], entry["reference"], problem))
    return found


def attempts_table(results: Sequence[Result], tolerances: Sequence[Tolerance]) -> pd.DataFrame:
    """Every load attempt of every environment, one row each (:data:`ATTEMPT_COLUMNS`), its ``outcome`` one
    of ``loads``, ``differs``, ``fails``, ``no predictions`` or ``n/a``, and ``detail`` the line that
    says why (the error and its cause, or what came back of the optimizer and training). Sorted by the
    loading environment, then in the order each probe tried them, so the table does not depend on the
    order of ``results``."""
    saved_by = {result.env: result.get("artifacts", {}) for result in results}
    rows = []
    for result in sorted(results, key=lambda found: found.env):
        for attempt in result.get("loads", []):
            manifest = saved_by.get(attempt["source"], {}).get(attempt["task"], {})
            outcome, detail = attempt_outcome(attempt, manifest.get("predictions"), tolerance_for(metric_name(attempt), tolerances))
            rows.append((attempt["source"], result.env, attempt["direction"], attempt["task"], attempt["format"], attempt["method"],
                         outcome, detail, attempt.get("max_abs_diff"), attempt.get("evaluate_diff"), attempt.get("optimizer"),
                         attempt.get("trains")))
    return pd.DataFrame(rows, columns=list(ATTEMPT_COLUMNS), dtype=object)


def metric_name(attempt: Mapping[str, Any]) -> str:
    """The verdict row's name of an attempt's (task, format, method)."""
    return f"saved.{attempt['task']}.{attempt['format']}.{attempt['method']}"


def attempt_outcome(attempt: Mapping[str, Any], expected: Any, tolerance: Tolerance) -> tuple[str, str]:
    """``(outcome, detail)`` of one attempt; predictions count as equal within ``atol + rtol * max|saved|``."""
    if attempt.get("skipped"):
        return "n/a", attempt["skipped"]
    if not attempt.get("loaded"):
        cause = attempt.get("cause")
        return "fails", (attempt.get("error") or "did not load") + (f" (caused by {cause})" if cause else "")
    if attempt.get("max_abs_diff") is None:
        return "no predictions", attempt.get("predict_error") or "no predictions"
    if attempt["max_abs_diff"] > _allowed(expected, tolerance):
        return "differs", f"predictions differ by up to {attempt['max_abs_diff']:.3g}"
    notes = [f"predictions within {attempt['max_abs_diff']:.2g}"]
    optimizer_lost, training_lost = lost(attempt)
    if optimizer_lost:
        notes.append(f"optimizer {attempt['optimizer']}: {attempt.get('optimizer_detail')}")
    if training_lost:
        notes.append(f"cannot train: {attempt.get('train_error')}")
    return "loads", "; ".join(notes)


def lost(attempt: Mapping[Any, Any]) -> tuple[bool, bool]:
    """What a load that kept the predictions lost: ``(optimizer state, the next training step)``."""
    return attempt.get("optimizer") not in (None, "intact"), attempt.get("trains") is False


def _allowed(expected: Any, tolerance: Tolerance) -> float:
    values = [abs(float(value)) for value in _flat(expected) if isinstance(value, (int, float)) and math.isfinite(value)]
    return tolerance.atol + tolerance.rtol * max(values, default=0.0)


def _flat(value: Any) -> list[Any]:
    """Values (predictions) as one flat list, however the file nests them."""
    if isinstance(value, list):
        return [item for inner in value for item in _flat(inner)]
    return [value]


@dataclass(frozen=True)
class Judgement:
    """What the rules (module docstring) make of a run's load attempts."""

    attempts: pd.DataFrame
    verdict_rows: pd.DataFrame
    behaviours: pd.DataFrame
    user_models: pd.DataFrame


def judge(results: Sequence[Result], baseline: str, tolerances: Sequence[Tolerance]) -> Judgement:
    """Apply the rules of the module docstring to every attempt of ``results``."""
    table = attempts_table(results, tolerances)
    control = {_round_trip(row, row["loaded_with"]): row for row in table[table["direction"] == "control"].to_dict("records")}
    verdict_rows: list[tuple[Any, ...]] = []
    behaviours: list[tuple[Any, ...]] = []
    for row in table.to_dict("records"):
        own = control.get(_round_trip(row, row["saved_with"]))
        own_loads = own is not None and own["outcome"] == "loads"
        name = f"saved.{row['task']}.{row['format']}.{row['method']}"
        if row["direction"] == "upgrade" and own is not None and own_loads:
            verdict_rows.append(_upgrade_verdict(table, row, own, tolerance_for(name, tolerances)))
            for aspect, lost in (("optimizer", own["optimizer"] == "intact" and row["optimizer"] != "intact"),
                                 ("trains", own["trains"] is True and row["trains"] is not True)):
                if row["outcome"] == "loads" and lost:
                    behaviours.append((row["loaded_with"], "saved", f"{name}.{aspect}", _aspect(own, aspect), _aspect(row, aspect)))
        elif row["direction"] == "rollback" and own_loads and row["outcome"] in FAILURES:
            behaviours.append((row["saved_with"], "saved", f"{name}.rollback", f"{row['loaded_with']} loads it",
                               f"{row['loaded_with']} {row['outcome']}: {row['detail']}"))
        elif row["direction"] == "control" and row["loaded_with"] != baseline and row["outcome"] in FAILURES:
            reference = control.get(_round_trip(row, baseline))
            if reference is not None and reference["outcome"] == "loads":
                behaviours.append((row["loaded_with"], "saved", f"{name}.control", "round trip loads",
                                   f"{row['outcome']}: {row['detail']}"))
    users = user_model_table(results)
    verdict_rows += _user_verdicts(users, tolerances)
    return Judgement(
        table,
        pd.DataFrame(verdict_rows, columns=[*COLUMNS, "cause", "evidence", "proof"], dtype=object),
        pd.DataFrame(behaviours, columns=["env", "kind", "key", "baseline_value", "value"], dtype=object),
        users,
    )


def _round_trip(row: Mapping[Any, Any], env: str) -> tuple[str, str, str, str]:
    """The key of ``env``'s own round trip of the row's (task, format, method)."""
    return row["task"], row["format"], row["method"], env


def _upgrade_verdict(table: pd.DataFrame, row: Mapping[Any, Any], own: Mapping[Any, Any], tolerance: Tolerance) -> tuple[Any, ...]:
    """The verdict row of an upgrade attempt whose file the baseline loads itself."""
    name = f"saved.{row['task']}.{row['format']}.{row['method']}"
    if row["outcome"] in FAILURES:
        evidence = f"{row['outcome']}: {row['detail']}{_working(table, row)}"
        return (row["loaded_with"], name, _cell(row), _cell(own), row["max_abs_diff"], None, tolerance.atol, tolerance.rtol, 0.0,
                Verdict.DRIFT, Cause.API, evidence, Certainty.PROVEN)  # a failed load is its own experiment
    verdict = Verdict.IDENTICAL if row["max_abs_diff"] == 0 else Verdict.WITHIN_TOLERANCE
    return (row["loaded_with"], name, _cell(row), _cell(own), row["max_abs_diff"], None, tolerance.atol, tolerance.rtol, 0.0,
            verdict, None, None, None)


def _cell(row: Mapping[Any, Any]) -> str:
    return row["outcome"] if row["outcome"] != "fails" else f"fails: {row['detail']}"


def _aspect(row: Mapping[Any, Any], aspect: str) -> str:
    if aspect == "optimizer":
        return str(row["optimizer"] or "no optimizer")
    return "trains" if row["trains"] else "cannot train"


def _working(table: pd.DataFrame, row: Mapping[Any, Any]) -> str:
    """The sentence that names what does load, with equal predictions, between the same two environments."""
    paths = what_loads(table, row["task"], row["saved_with"], row["loaded_with"])
    return f"; works: {paths}" if paths else "; no format loads"


def what_loads(table: pd.DataFrame, task: str, saved_with: str, loaded_with: str) -> str:
    """``weights (build the architecture in code and load_weights), ...``: each format of ``task`` saved
    with ``saved_with`` that ``loaded_with`` loads with the saving side's predictions, with what it loses
    (``h5 (load_model; without its optimizer state, cannot train)``); empty when none does."""
    same = table[(table["task"] == task) & (table["saved_with"] == saved_with) & (table["loaded_with"] == loaded_with)
                 & (table["outcome"] == "loads")]
    paths = []
    for row in same.to_dict("records"):
        losses = [text for text, gone in zip(("without its optimizer state", "cannot train"), lost(row), strict=True) if gone]
        how = ADVICE.get(row["method"], row["method"]) + (f"; {', '.join(losses)}" if losses else "")
        paths.append(f"{row['format']} ({how})")
    return ", ".join(paths)


USER_COLUMNS = ("name", "env", "reference", "outcome", "detail", "max_abs_diff")


def user_model_table(results: Sequence[Result]) -> pd.DataFrame:
    """Each environment's outcome on each of the user's files, against the reference environment's
    predictions (``outcome``: ``loads``, ``differs``, ``fails``, ``reference`` for the reference itself,
    or ``no reference`` when the reference did not load it)."""
    outcomes = {(result.env, found["name"]): found for result in results for found in result.get("user_models", [])}
    rows: list[tuple[Any, ...]] = []
    for (env, name), found in sorted(outcomes.items()):
        reference = found.get("reference", "")
        theirs = outcomes.get((reference, name))
        if not found.get("loaded"):
            cause = found.get("cause")
            rows.append((name, env, reference, "fails", (found.get("error") or "") + (f" (caused by {cause})" if cause else ""), None))
        elif env == reference:
            rows.append((name, env, reference, "reference", f"shape {found.get('shape')}", 0.0))
        elif theirs is None or not theirs.get("loaded"):
            rows.append((name, env, reference, "no reference", f"the reference environment {reference} did not load it", None))
        else:
            difference = _prediction_difference(found, theirs)
            outcome = "loads" if difference is not None else "differs"
            rows.append((name, env, reference, outcome,
                         f"predictions within {difference:.2g} of {reference}" if difference is not None else "other predictions' shape",
                         difference))
    return pd.DataFrame(rows, columns=list(USER_COLUMNS), dtype=object)


def _prediction_difference(found: Mapping[str, Any], reference: Mapping[str, Any]) -> float | None:
    mine, theirs = _flat(found.get("predictions") or []), _flat(reference.get("predictions") or [])
    if found.get("shape") != reference.get("shape") or len(mine) != len(theirs):
        return None
    return max((abs(float(a) - float(b)) for a, b in zip(mine, theirs, strict=True)), default=0.0)


def _user_verdicts(users: pd.DataFrame, tolerances: Sequence[Tolerance]) -> list[tuple[Any, ...]]:
    rows = []
    for row in users.to_dict("records"):
        if row["outcome"] in ("reference", "no reference"):
            continue
        name = f"saved.user.{row['name']}"
        tolerance = tolerance_for(name, tolerances)
        difference = row["max_abs_diff"]
        within = difference is not None and difference <= tolerance.atol
        verdict = Verdict.DRIFT if not within else Verdict.IDENTICAL if difference == 0 else Verdict.WITHIN_TOLERANCE
        evidence = f"{row['outcome']}: {row['detail']}" if verdict == Verdict.DRIFT else None
        rows.append((row["env"], name, row["outcome"], f"{row['reference']} loads it", difference, None, tolerance.atol,
                     tolerance.rtol, 0.0, verdict, Cause.API if evidence else None, evidence, Certainty.PROVEN if evidence else None))
    return rows
