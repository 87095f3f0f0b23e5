"""What an experiment established about one drifting (environment, task), and its file in the run folder.

A :class:`Proof` is data: written by :mod:`keras_drift.execute.experiment` after it re-ran the task with recorded
differences undone, read by :mod:`keras_drift.judge.attribute` to replace an inferred cause with a proven one,
and kept in ``experiments.json`` so that ``report`` re-renders a run without re-running anything.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from keras_drift.errors import InputError
from keras_drift.store.labels import Label
from keras_drift.store.results import write_json_atomically
from keras_drift.store.tables import read_input
from keras_drift.store.verdicts import Cause

EXPERIMENTS_FILE = "experiments.json"
INITIAL_WEIGHTS = "initial_weights"
# The order fit() shuffled the samples in, every epoch (``probe/batch_order.py``).
BATCH_ORDER = "batch_order"
# The random draws a re-run can replay from the other side's recording: random streams both.
DRAWS = (INITIAL_WEIGHTS, BATCH_ORDER)


def first_values(fingerprint: Mapping[str, Any]) -> str:
    """The first values of a recorded draw's fingerprint (its ``head``), as evidence quotes them: ``[0.1, -0.2]``."""
    return "[" + ", ".join(f"{value:.4g}" for value in fingerprint.get("head", [])) + "]"


# The key of an API behaviour difference: ``api.`` and the behaviour probe's name (``api.SGD(lr=0.1)``).
API_PREFIX = "api."


class ProofStatus(Label):
    """What an experiment established about one (environment, task): see :class:`Proof`."""

    PROVEN = "proven"
    RULED_OUT = "ruled_out"
    NOT_TRIED = "not_tried"


@dataclass(frozen=True)
class Difference:
    """One recorded difference between the candidate and the baseline that a task run can undo: a
    resolved default by its key, a random draw (``initial_weights``, ``batch_order``: :data:`DRAWS`), or an
    API call's behaviour (``api.<probe>``)."""

    key: str
    baseline: Any
    candidate: Any

    @property
    def cause(self) -> Cause:
        if self.key in DRAWS:
            return Cause.RANDOM_STREAM
        return Cause.API if self.key.startswith(API_PREFIX) else Cause.DEFAULTS

    def undone(self) -> str:
        """The intervention in words, e.g. ``fit.epochs=100`` or ``the baseline's initial weights``."""
        return self._set_to("baseline", self.baseline)

    def reversed(self) -> str:
        """The reverse intervention (in the baseline) in words, e.g. ``fit.epochs=10``."""
        return self._set_to("candidate", self.candidate)

    def _set_to(self, side: str, value: Any) -> str:
        if self.key == INITIAL_WEIGHTS:
            return f"the {side}'s initial weights"
        if self.key == BATCH_ORDER:
            return f"the {side}'s batch order (fit()'s shuffling, every epoch)"
        if self.key.startswith(API_PREFIX):
            return f"{self.key[len(API_PREFIX):]} spelt so that it is {value} as in the {side}"
        return f"{self.key}={_show(value)}"


@dataclass(frozen=True)
class Trial:
    """One re-run of a task in the candidate environment with ``undone`` set to the baseline's values
    (``undone`` empty: a plain repeat), and what came of it."""

    undone: tuple[str, ...]
    applied: bool = False
    error: str | None = None
    within: bool = False
    max_rel_diff: float | None = None
    # The drifting metrics it left beyond tolerance (empty when ``within``).
    left: tuple[str, ...] = ()

    def describe(self) -> str:
        return " + ".join(self.undone) if self.undone else "(nothing undone)"


@dataclass(frozen=True)
class Proof:
    """The outcome of the experiment on one (environment, task).

    ``status``: ``proven`` (undoing ``accounts_for`` brings the task's drifting metrics within tolerance,
    all but those in ``left``: for those it is ruled out), ``ruled_out`` (undoing every recorded difference,
    alone and together, brings none of them within: they are not the cause) or ``not_tried`` (``why`` says:
    budget spent, nothing to undo...).
    """

    env: str
    task: str
    status: ProofStatus
    accounts_for: tuple[str, ...] = ()
    differences: tuple[Difference, ...] = ()
    trials: tuple[Trial, ...] = ()
    why: str = ""
    metrics: tuple[str, ...] = ()
    # The confirmation in the other direction: the baseline re-run with the candidate's values of
    # ``accounts_for``; ``within`` when it lands on the candidate's numbers. None: not tried.
    reverse: Trial | None = None
    # The drifting metrics that undoing ``accounts_for`` leaves beyond tolerance (proven for the others).
    left: tuple[str, ...] = ()

    def accounts_for_metric(self, metric: str) -> bool:
        """Whether the proven cause is ``metric``'s (it was brought within tolerance)."""
        return self.status == ProofStatus.PROVEN and metric not in self.left

    @property
    def cause(self) -> Cause | None:
        """The proven cause: the API when an API call's behaviour is among what accounts for it, else
        defaults when a default is, else the random stream."""
        if self.status != ProofStatus.PROVEN:
            return None
        causes = {difference.cause for difference in self.differences if difference.key in self.accounts_for}
        for cause in (Cause.API, Cause.DEFAULTS):
            if cause in causes:
                return cause
        return Cause.RANDOM_STREAM

    @property
    def settled(self) -> bool:
        """Whether another experiment on the same results would end the same: proven, ruled out, or nothing
        to undo (not a spent budget or a failed re-run)."""
        return self.status != ProofStatus.NOT_TRIED or not self.differences

    def sentence(self) -> str:
        """The experiment in one sentence, as a reviewer checks it."""
        by_key = {difference.key: difference for difference in self.differences}
        if self.status == ProofStatus.PROVEN:
            undone = ", ".join(by_key[key].undone() for key in self.accounts_for)
            sentence = f"re-running {self.task} in {self.env} with {undone} brings {self.task}.* within tolerance"
            if self.left:
                sentence += f" except {', '.join(self.left)}"
            failed = [trial for trial in self.trials
                      if len(trial.undone) == 1 and trial.applied and not trial.within and trial.undone != self.accounts_for]
            if failed:
                sentence += "; " + "; ".join(f"{by_key[trial.undone[0]].undone()} alone does not" for trial in failed)
            if self.reverse is not None and self.reverse.applied and not self.reverse.error:
                redone = ", ".join(by_key[key].reversed() for key in self.accounts_for)
                outcome = "reproduces the drift" if self.reverse.within else "does not reproduce the drift"
                sentence += f"; the reverse, the baseline with {redone}, {outcome}"
            return sentence
        if self.status == ProofStatus.RULED_OUT:
            tried = ", ".join(by_key[key].undone() for key in by_key)
            each = " (each alone and together)" if len(by_key) > 1 else ""
            return f"re-running {self.task} in {self.env} with {tried}{each} leaves the drift"
        return self.why


def save(run_dir: Path, proofs: Sequence[Proof]) -> Path:
    """Write ``experiments.json`` into the run folder."""
    return write(run_dir / EXPERIMENTS_FILE, proofs)


def load(run_dir: Path) -> list[Proof]:
    """The proofs of a run (none when it has no ``experiments.json``, e.g. a merged run)."""
    path = run_dir / EXPERIMENTS_FILE
    return read(path) if path.is_file() else []


def write(path: Path, proofs: Sequence[Proof]) -> Path:
    """Write ``proofs`` as an experiments file at ``path``."""
    write_json_atomically(path, {"schema_version": 1, "proofs": [asdict(proof) for proof in proofs]})
    return path


def read(path: Path) -> list[Proof]:
    """The proofs of the experiments file at ``path``; an :class:`InputError` naming it when it is not one
    keras-drift wrote (a field of the wrong type, a key ``accounts_for`` names that no difference has)."""
    try:
        document = json.loads(read_input(path))
        if not isinstance(document, dict) or not isinstance(document.get("proofs"), list):
            raise ValueError("proofs: missing or not a list")
        return [_proof(entry) for entry in document["proofs"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: not an experiments file keras-drift wrote: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise InputError(f"{path}: not an experiments file keras-drift wrote: nested too deep") from None


def by_task(proofs: Iterable[Proof]) -> dict[tuple[str, str], Proof]:
    return {(proof.env, proof.task): proof for proof in proofs}


def _proof(entry: Any) -> Proof:
    """One proof of an experiments file, its fields checked (TypeError or ValueError naming the field)."""
    _expect(entry, dict, "proof")
    for key in ("env", "task", "why"):
        _expect(entry.get(key), str, key)
    if entry.get("status") not in tuple(ProofStatus):
        raise ValueError(f"status: {entry.get('status')!r} is not one of {', '.join(ProofStatus)}")
    differences = tuple(_difference(item) for item in _strings_or_items(entry.get("differences"), "differences", dict))
    accounts_for = _strings_or_items(entry.get("accounts_for"), "accounts_for", str)
    keys = {difference.key for difference in differences}
    unknown = set(accounts_for) - keys
    if unknown:
        raise ValueError(f"accounts_for: {sorted(unknown)[0]!r} is none of the differences")
    trials = tuple(_trial(trial) for trial in _strings_or_items(entry.get("trials"), "trials", dict))
    undone = {key for trial in trials for key in trial.undone} - keys
    if undone:  # the proof's sentence names each trial's undone differences
        raise ValueError(f"trials/undone: {sorted(undone)[0]!r} is none of the differences")
    return Proof(
        env=entry["env"],
        task=entry["task"],
        status=ProofStatus(entry["status"]),
        accounts_for=tuple(accounts_for),
        differences=differences,
        trials=trials,
        why=entry["why"],
        metrics=tuple(_strings_or_items(entry.get("metrics"), "metrics", str)),
        reverse=_trial(entry["reverse"]) if entry.get("reverse") else None,
        left=tuple(_strings_or_items(entry.get("left", []), "left", str)),
    )


def _expect(value: Any, kind: type | tuple[type, ...], field: str) -> None:
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise TypeError(f"{field}: {json.dumps(value)[:40]} is not of the expected type")


def _strings_or_items(value: Any, field: str, kind: type) -> list[Any]:
    """``value`` checked to be a list of ``kind``."""
    _expect(value, list, field)
    for item in value:
        _expect(item, kind, field)
    return list(value)


def _difference(entry: dict[str, Any]) -> Difference:
    if set(entry) != {"key", "baseline", "candidate"}:
        raise ValueError(f"differences: needs the keys key, baseline, candidate; got {', '.join(sorted(entry))}")
    _expect(entry["key"], str, "differences/key")
    return Difference(**entry)


def _trial(entry: Any) -> Trial:
    _expect(entry, dict, "trial")
    undone = _strings_or_items(entry.get("undone"), "trial/undone", str)
    for key, kind in (("applied", bool), ("within", bool)):
        _expect(entry.get(key, False), kind, f"trial/{key}")
    if entry.get("error") is not None:
        _expect(entry["error"], str, "trial/error")
    if entry.get("max_rel_diff") is not None:
        _expect(entry["max_rel_diff"], (int, float), "trial/max_rel_diff")
    unknown = set(entry) - {"undone", "applied", "error", "within", "max_rel_diff", "left"}
    if unknown:
        raise ValueError(f"trial: {sorted(unknown)[0]}: unknown key")
    left = _strings_or_items(entry.get("left", []), "trial/left", str)
    return Trial(**{**entry, "undone": tuple(undone), "left": tuple(left)})


def _show(value: Any) -> str:
    return f"{value:.7g}" if isinstance(value, float) else repr(value) if isinstance(value, str) else str(value)
