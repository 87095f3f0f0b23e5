"""The public API surface across versions: the names a bump adds and removes, and the signatures whose
parameters or defaults change.

Each probe records, in ``introspection.api_surface``, every public name of the namespaces users call
(``layers``, ``optimizers``, ``ops``, ...) through the documented door, with its kind and its signature as
one canonical string (``probe/introspect.py``); beside it, in ``introspection.api_surface_doors``, what
every other door (``import keras`` beside ``tf.keras`` on TensorFlow 2) reaches differently. Judging
compares the baseline's surface with each environment's, door by door: the documented doors' (what a user
of each environment is told to call), and, for a door some environment has besides its documented one,
that door's surface on both sides (an environment without such a door is reached through its documented
one, as :mod:`keras_drift.judge.doors` aligns door tasks).

A removed name that a task called (a built-in task's or a user probe's, as the probe recorded in its
facts: ``api_calls``, the spellings it used, and ``constructed``, the public classes it built) is a
finding of its own (:class:`RemovedCall`): the code that calls it breaks on the bump. Results recorded
before the probe took the surface have none: the diff is then empty, and nothing of it shows in
``verdicts.json``, the report or the gate.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from keras_drift.store.results import Result

# namespace -> public name -> {"kind": ..., "signature": ...}
Surface = Mapping[str, Mapping[str, Mapping[str, Any]]]

UNKNOWN = "unknown"  # a signature the probe could not read: not compared
# The prefixes a recorded call may carry before its namespace (``keras.layers.Dense``): the doors' names.
DOOR_PREFIXES = ("tf.keras.", "tf_keras.", "keras.")
# Parameter kinds, as the canonical signature spells them.
POSITIONAL_ONLY, POSITIONAL, VAR_POSITIONAL, KEYWORD_ONLY, VAR_KEYWORD = (
    "positional-only", "positional", "*args", "keyword-only", "**kwargs")
_OPENING, _CLOSING = "([{", ")]}"


@dataclass(frozen=True)
class Parameter:
    """One parameter of a canonical signature: its name, kind and default as written (``None``: none)."""

    name: str
    kind: str
    default: str | None


@dataclass(frozen=True)
class SignatureChange:
    """How one public name changed between the two sides: its kind (``class`` -> ``function``), the
    parameters added and removed, the defaults that changed (``(parameter, before, after)``, ``None`` for
    no default), the parameters whose kind changed (``(parameter, before, after)``), whether the
    positional parameters both have are in another order, and whether the new signature takes ``**kwargs``
    beside removed parameters (``into_kwargs``): a call that names one may still be taken there, or silently
    ignored, rather than refused (Keras 3.15's ``LayerNormalization`` pops ``rms_scaling`` from its
    ``**kwargs``)."""

    name: str
    kind: tuple[str, str] | None = None
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    defaults: tuple[tuple[str, str | None, str | None], ...] = ()
    kinds: tuple[tuple[str, str, str], ...] = ()
    reordered: bool = False
    into_kwargs: bool = False

    def document(self) -> dict[str, Any]:
        """The change as ``verdicts.json`` writes it: only what changed."""
        found: dict[str, Any] = {}
        if self.kind:
            found["kind"] = list(self.kind)
        if self.added:
            found["added"] = list(self.added)
        if self.removed:
            found["removed"] = list(self.removed)
        if self.into_kwargs:
            found["into_kwargs"] = True
        if self.defaults:
            found["defaults"] = {name: [before, after] for name, before, after in self.defaults}
        if self.kinds:
            found["kinds"] = {name: [before, after] for name, before, after in self.kinds}
        if self.reordered:
            found["reordered"] = True
        return found

    def text(self) -> str:
        """One line: ``Dense: + lora_rank; − bias; use_bias True → False; units positional → keyword-only``."""
        parts = []
        if self.kind:
            parts.append(f"{self.kind[0]} → {self.kind[1]}")
        if self.added:
            parts.append("+ " + ", ".join(self.added))
        if self.removed:
            parts.append("− " + ", ".join(self.removed) + (" (**kwargs may take them)" if self.into_kwargs else ""))
        parts += [f"{name} {_shown(before)} → {_shown(after)}" for name, before, after in self.defaults]
        parts += [f"{name} {before} → {after}" for name, before, after in self.kinds]
        if self.reordered:
            parts.append("positional parameters reordered")
        return f"{self.name}: " + "; ".join(parts)


def _shown(default: str | None) -> str:
    return "(no default)" if default is None else default


@dataclass(frozen=True)
class EnvDiff:
    """One environment's surface against the baseline's, through one door (``None``: each side's
    documented door), per namespace: the names added, removed, and those whose signature changed."""

    env: str
    door: str | None
    added: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    removed: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    changed: Mapping[str, tuple[SignatureChange, ...]] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        return {"added": sum(map(len, self.added.values())), "removed": sum(map(len, self.removed.values())),
                "changed": sum(map(len, self.changed.values()))}

    @property
    def empty(self) -> bool:
        return not any(self.counts.values())

    def line(self) -> str:
        """``12 added, 3 removed, 5 signatures changed`` (``identical`` when nothing changed)."""
        counts = self.counts
        if self.empty:
            return "identical"
        signatures = "signature" if counts["changed"] == 1 else "signatures"
        return f"{counts['added']} added, {counts['removed']} removed, {counts['changed']} {signatures} changed"

    def label(self) -> str:
        """The environment, and the door when it is not the documented one (``tf-2.12 through keras``)."""
        return self.env if self.door is None else f"{self.env} through {self.door}"

    def same_changes(self, other: EnvDiff) -> bool:
        return (self.added, self.removed, self.changed) == (other.added, other.removed, other.changed)

    def document(self) -> dict[str, Any]:
        return {"env": self.env, "door": self.door, "counts": self.counts,
                "added": {namespace: list(names) for namespace, names in self.added.items()},
                "removed": {namespace: list(names) for namespace, names in self.removed.items()},
                "changed": {namespace: {change.name: change.document() for change in changes}
                            for namespace, changes in self.changed.items()}}


@dataclass(frozen=True)
class RemovedCall:
    """A name the candidate no longer has (``optimizers.SGD``) that tasks called: which tasks, spelling what."""

    env: str
    door: str | None
    name: str
    tasks: tuple[str, ...]
    calls: tuple[str, ...]

    def line(self) -> str:
        where = self.env if self.door is None else f"{self.env} through {self.door}"
        return f"{where}: {self.name} is removed, and called by {', '.join(self.tasks)} ({', '.join(self.calls)})"

    def document(self) -> dict[str, Any]:
        return {"env": self.env, "door": self.door, "name": self.name, "tasks": list(self.tasks), "calls": list(self.calls)}


@dataclass(frozen=True)
class SurfaceDiff:
    """Every environment's surface against the baseline's (:func:`diff`): ``recorded`` when any result has
    a surface at all (none: the run predates it, and nothing of it is shown), the diffs (each
    environment's documented door first, then each other door where it differs), the removed names the tasks
    called, and the environments whose surface is not recorded (the baseline's, when it lacks one)."""

    recorded: bool = False
    diffs: tuple[EnvDiff, ...] = ()
    called: tuple[RemovedCall, ...] = ()
    not_recorded: tuple[str, ...] = ()

    def called_in(self, env: str) -> list[RemovedCall]:
        return [found for found in self.called if found.env == env]

    def documented(self, env: str) -> EnvDiff | None:
        """``env``'s diff through the documented doors."""
        return next((found for found in self.diffs if found.env == env and found.door is None), None)

    def document(self) -> dict[str, Any]:
        """The ``api_surface`` key of ``verdicts.json``."""
        return {"removed_and_called": [found.document() for found in self.called],
                "environments": [found.document() for found in self.diffs],
                "not_recorded": list(self.not_recorded)}


def recorded(result: Result) -> bool:
    """Whether the probe recorded ``result``'s surface."""
    return isinstance(result.get("introspection", {}).get("api_surface"), dict)


def surface_of(result: Result, door: str | None = None) -> Surface:
    """``result``'s surface through ``door``: the documented door's (``door`` ``None`` or that door), that
    one with what ``door`` reaches differently, or the documented door's where the environment has no such
    door (Keras 3, where ``import keras`` is the documented door)."""
    introspection = result.get("introspection", {})
    surface: Surface = introspection.get("api_surface") or {}
    delta = (introspection.get("api_surface_doors") or {}).get(door) if door is not None else None
    if not delta or door == result.get("fingerprint", {}).get("front_door", "keras"):
        return surface
    patched = {namespace: dict(entries) for namespace, entries in surface.items()}
    for namespace, changes in delta.items():
        entries = patched.setdefault(namespace, {})
        for name, entry in changes.items():
            if entry is None:
                entries.pop(name, None)
            else:
                entries[name] = entry
        if not entries:
            del patched[namespace]
    return patched


def compare_surfaces(env: str, door: str | None, before: Surface, after: Surface) -> EnvDiff:
    """What changed from ``before`` (the baseline's surface) to ``after``, per namespace."""
    added, removed, changed = {}, {}, {}
    for namespace in sorted(set(before) | set(after)):
        old, new = before.get(namespace, {}), after.get(namespace, {})
        if gained := tuple(sorted(set(new) - set(old))):
            added[namespace] = gained
        if lost := tuple(sorted(set(old) - set(new))):
            removed[namespace] = lost
        changes = tuple(found for name in sorted(set(old) & set(new)) if (found := entry_change(name, old[name], new[name])))
        if changes:
            changed[namespace] = changes
    return EnvDiff(env, door, added, removed, changed)


def entry_change(name: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> SignatureChange | None:
    """How one name's entry changed (its kind, its parameters), or ``None``: a signature unknown on either
    side is not compared."""
    kind = (str(before.get("kind")), str(after.get("kind"))) if before.get("kind") != after.get("kind") else None
    old, new = before.get("signature"), after.get("signature")
    if old == new or not isinstance(old, str) or not isinstance(new, str) or UNKNOWN in (old, new):
        return SignatureChange(name, kind) if kind else None
    first, second = parse_signature(old), parse_signature(new)
    by_name = {parameter.name: parameter for parameter in first}
    theirs = {parameter.name: parameter for parameter in second}
    common = [parameter.name for parameter in second if parameter.name in by_name]
    positional = (POSITIONAL_ONLY, POSITIONAL)
    order = [p.name for p in first if p.name in theirs and p.kind in positional and theirs[p.name].kind in positional]
    change = SignatureChange(
        name, kind,
        added=tuple(parameter.name for parameter in second if parameter.name not in by_name),
        removed=tuple(parameter.name for parameter in first if parameter.name not in theirs),
        defaults=tuple((name, by_name[name].default, theirs[name].default) for name in common
                       if by_name[name].default != theirs[name].default),
        kinds=tuple((name, by_name[name].kind, theirs[name].kind) for name in common if by_name[name].kind != theirs[name].kind),
        reordered=order != [name for name in (p.name for p in second) if name in order],
        into_kwargs=any(p.name not in theirs for p in first) and any(p.kind == VAR_KEYWORD for p in second),
    )
    return change if change != SignatureChange(name) else None


def parse_signature(text: str) -> list[Parameter]:
    """The parameters of a canonical signature (``(units, activation=None, *, name=None, **kwargs)``):
    ``/`` closes the positional-only ones, ``*`` or ``*args`` opens the keyword-only ones; a default is
    the text after the first ``=``, kept as written (commas inside brackets or quotes do not split)."""
    parameters: list[Parameter] = []
    keyword_only = False
    for token in _split(text.strip()[1:-1] if text.strip().startswith("(") else text):
        if token == "/":
            parameters = [Parameter(p.name, POSITIONAL_ONLY, p.default) if p.kind == POSITIONAL else p for p in parameters]
        elif token == "*":
            keyword_only = True
        elif token.startswith("**"):
            parameters.append(Parameter(token[2:], VAR_KEYWORD, None))
        elif token.startswith("*"):
            parameters.append(Parameter(token[1:], VAR_POSITIONAL, None))
            keyword_only = True
        else:
            name, equals, default = token.partition("=")
            parameters.append(Parameter(name.strip(), KEYWORD_ONLY if keyword_only else POSITIONAL, default.strip() if equals else None))
    return parameters


def _split(text: str) -> Iterator[str]:
    """The top-level comma-separated parts of ``text``: not inside brackets or a quoted string."""
    depth, quote, start, escaped = 0, "", 0, False
    for index, character in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif character == "\\":
                escaped = True
            elif character == quote:
                quote = ""
        elif character in "'\"":
            quote = character
        elif character in _OPENING:
            depth += 1
        elif character in _CLOSING:
            depth = max(0, depth - 1)
        elif character == "," and depth == 0:
            yield text[start:index].strip()
            start = index + 1
    if text[start:].strip():
        yield text[start:].strip()


def diff(results: Sequence[Result], baseline: str) -> SurfaceDiff:
    """Each environment's surface against the baseline's (see the module): the documented doors' diff of
    every environment that recorded one, then each other door's where it says something else, and the
    removed names the tasks called."""
    if not any(recorded(result) for result in results):
        return SurfaceDiff()
    by_env = {result.env: result for result in results}
    base = by_env.get(baseline)
    missing = tuple(result.env for result in results if result.ok and not recorded(result))
    if base is None or not recorded(base):
        return SurfaceDiff(True, not_recorded=missing)
    doors = sorted({door for result in results for door in (result.get("introspection", {}).get("api_surface_doors") or {})})
    diffs: list[EnvDiff] = []
    for result in sorted(results, key=lambda result: result.env):  # the same order whichever order the run had
        if result.env == baseline or not recorded(result):
            continue
        documented = compare_surfaces(result.env, None, surface_of(base), surface_of(result))
        diffs.append(documented)
        for door in doors:
            through = compare_surfaces(result.env, door, surface_of(base, door), surface_of(result, door))
            if not through.same_changes(documented):
                diffs.append(through)
    return SurfaceDiff(True, tuple(diffs), removed_and_called(diffs, base, by_env), missing)


def removed_and_called(diffs: Sequence[EnvDiff], base: Result, by_env: Mapping[str, Result]) -> tuple[RemovedCall, ...]:
    """The removed names a task called, on either side (its facts' ``api_calls``, ``SGD(lr=0.1)``,
    ``optimizers.Adam(amsgrad=True)`` or ``keras.layers.Dense``, and ``constructed``, ``layers.Dense``), each
    once per environment, the documented door's first."""
    found: dict[tuple[str, str], RemovedCall] = {}
    for entry in diffs:
        calls = _calls(base) + _calls(by_env[entry.env])
        for namespace, names in entry.removed.items():
            for name in names:
                qualified = f"{namespace}.{name}"
                matching = [(task, call) for task, call, called in calls if called in (qualified, name)]
                if matching and (entry.env, qualified) not in found:
                    tasks, spelt = tuple(sorted({task for task, _ in matching})), tuple(sorted({call for _, call in matching}))
                    found[(entry.env, qualified)] = RemovedCall(entry.env, entry.door, qualified, tasks, spelt)
    return tuple(found.values())


def _calls(result: Result) -> list[tuple[str, str, str]]:
    """``(task, call as recorded, the name it calls)`` for every API call ``result``'s tasks recorded."""
    found = []
    for task, facts in sorted((result.get("facts") or {}).items()):
        for call in [*((facts or {}).get("api_calls") or []), *((facts or {}).get("constructed") or [])]:
            name = str(call).split("(", 1)[0].strip()
            for prefix in DOOR_PREFIXES:
                if name.startswith(prefix):
                    name = name[len(prefix):]
                    break
            found.append((task, str(call), name))
    return found
