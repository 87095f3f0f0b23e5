"""``keras-drift bisect``: name the first release of a package where the numbers move.

Between a good and a bad environment file, the package whose pin differs is the axis. Its releases between
the two pins (:mod:`keras_drift.envs.releases`) are probed one environment each, synthesised inside the run
folder from the good end (every other requirement at the good end's pin, its dependencies held at the good
end's lock where they resolve): :func:`synthesise`. Each probed release is compared with the good end on
the metrics that differ between the two ends; :class:`keras_drift.bisect.boundaries.Search` picks what to probe
next, per metric family. At each first bad release the drift is attributed (and, unless told not to,
proven by experiment) against the last good release, the pair that brackets the change.

The probing and the proving are the drift sequence's (:mod:`keras_drift.drift`): each round of releases is
its probe step, each first bad release its explain step, with the request's plan narrowed to their
environments.

Probed results go through the result cache like any other, so a second bisect over an overlapping range
probes nothing already probed with the same install key.
"""

from __future__ import annotations

import fnmatch
import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from keras_drift import drift, pipeline
from keras_drift.bisect.boundaries import Boundary, Search
from keras_drift.envs import environments, locks, releases
from keras_drift.envs.specs import EnvSpec, hook_path, load_spec, project_hook_path
from keras_drift.errors import EnvironmentFailed, InputError
from keras_drift.judge import accepted, compare, localise
from keras_drift.store.results import Result, encode_scalar, validate_document, write_json_atomically
from keras_drift.store.verdicts import Verdict

BISECT_DIR = "bisect"
BISECT_FILE = "bisect.json"
SCHEMA_VERSION = 1
# A metric that drifts, or whose task raised, differs; one only one side has (a newer optimizer) does not.
_DIFFERING_AT_ENDS = (Verdict.DRIFT, Verdict.FAILED)
_DIFFERING = (Verdict.DRIFT, Verdict.FAILED, Verdict.MISSING)


@dataclass(frozen=True)
class Axis:
    """The package bisected and its exact versions at the two ends."""

    package: str
    good: Version
    bad: Version


@dataclass(frozen=True)
class Install:
    """How a probed release was installed: which pins held (``strategy``), the dependencies that moved
    off the good end's lock (name -> [good end's version, this one's]; ``None`` where one side lacks it),
    or why it could not be installed."""

    strategy: str = ""
    companions: dict[str, list[str | None]] = field(default_factory=dict)
    error: str = ""
    closest: bool = True  # installed the first way of the ladder (the good end's own pins and lock)


@dataclass
class Probed:
    """One release of the axis: its environment, its result, and how it was installed."""

    version: str
    spec: EnvSpec | None
    install: Install
    result: Result | None = None
    step: int = 0


def pins(spec: EnvSpec) -> dict[str, Requirement]:
    """The spec's requirements by normalised package name."""
    return {canonicalize_name(requirement.name): requirement for requirement in map(Requirement, spec.requirements)}


def choose_axis(good: EnvSpec, bad: EnvSpec, package: str | None) -> Axis:
    """The package to bisect (``--package``, or the one package whose pin differs) and its two versions;
    an :class:`InputError` naming the flag for a bad choice."""
    if good.name == bad.name:
        raise InputError(f"--bad: {bad.name} is the same environment as --good; name the environment that drifts")
    good_pins, bad_pins = pins(good), pins(bad)
    differing = sorted(name for name in good_pins.keys() & bad_pins.keys() if str(good_pins[name]) != str(bad_pins[name]))
    if package is None:
        if not differing:
            raise InputError(f"--bad: {good.name} and {bad.name} pin the same versions of the packages they share; nothing to bisect")
        if len(differing) > 1:
            raise InputError(f"--package: {good.name} and {bad.name} differ in {', '.join(differing)}; choose one")
        package = differing[0]
    name = canonicalize_name(package)
    if name not in differing:
        known = ", ".join(differing) or "none"
        raise InputError(f"--package: {package!r} is not pinned differently by {good.name} and {bad.name} (they differ in: {known})")
    return Axis(name, _exact(good, good_pins[name], "--good"), _exact(bad, bad_pins[name], "--bad"))


def _exact(spec: EnvSpec, requirement: Requirement, flag: str) -> Version:
    specifiers = list(requirement.specifier)
    if len(specifiers) != 1 or specifiers[0].operator != "==" or "*" in specifiers[0].version:
        raise InputError(f"{flag}: {spec.path}: {str(requirement)!r} is not an exact pin (name==version); a bisect needs both ends pinned")
    try:
        return Version(specifiers[0].version)
    except InvalidVersion:
        raise InputError(f"{flag}: {spec.path}: {str(requirement)!r} does not pin a version") from None


def releases_between(axis: Axis, sources: Sequence[releases.Source], pre: bool) -> list[Version]:
    """The releases to search, good end first and bad end last; an :class:`InputError` when none lies
    between the two pins."""
    listed = releases.list_releases(axis.package, sources)
    if not listed:
        raise InputError(f"--package: {axis.package} has no releases on {', '.join(source.url for source in sources)}")
    inner = releases.between(listed, axis.good, axis.bad, pre)
    if not inner:
        kind = "release" if not pre else "release or pre-release"
        raise InputError(f"--bad: no {kind} of {axis.package} lies between {axis.good} and {axis.bad}; "
                         f"the drift can only come from {axis.bad} (compare the two with `keras-drift drift`)")
    return [axis.good, *inner, axis.bad]


def release_name(good: EnvSpec, axis: Axis, version: Version) -> str:
    """The name of the environment :func:`synthesise` writes for ``version`` of the axis package."""
    return f"{good.name}--{axis.package}-{version}"


def probed_names(good: EnvSpec, bad: EnvSpec, axis: Axis, versions: Sequence[Version]) -> set[str]:
    """Every environment a bisect over ``versions`` (good end first, bad end last) may probe: the two ends
    and the release synthesised for each version between them (what ``--rerun`` probes again)."""
    return {good.name, bad.name, *(release_name(good, axis, version) for version in versions[1:-1])}


def synthesise(good: EnvSpec, bad: EnvSpec, axis: Axis, version: Version, folder: Path) -> Probed:
    """An environment for ``version`` of the axis package, written (file, lock, hooks) under ``folder``,
    installed the first way of :func:`install_ladder` that resolves, with the start-up hooks of both ends
    (they only let an old library import on this interpreter). The way taken and the dependencies that
    moved off the good end's lock are recorded; when no way resolves, why not."""
    path = folder / "envs" / f"{release_name(good, axis, version)}.toml"
    own = _with_version(pins(good)[axis.package], version)
    good_lock = locks.pins(good.lock_path) if good.lock_path.is_file() else {}
    hooks = list(dict.fromkeys([*good.hooks, *bad.hooks]))
    for hook in hooks:  # beside the generated file, where the spec looks for them
        target = project_hook_path(path, hook)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(hook_path(good.path if hook in good.hooks else bad.path, hook), target)
    tried, error = [], ""
    for rung, (requirements, constraints, strategy) in enumerate(install_ladder(good, bad, axis.package, own, good_lock)):
        _write_spec(path, good, [str(requirement) for requirement in requirements], hooks,
                    f"bisect: {good.name} with {own} (generated by keras-drift bisect, not an envs/ file)")
        spec = load_spec(path)
        try:
            locks.lock_environment(spec, constraints, generated_by="`keras-drift bisect`")
        except (locks.LockFailed, environments.InterpreterMissing) as exc:
            tried.append(strategy)
            error = str(exc)
            continue
        installed = locks.pins(spec.lock_path)
        moved = {key: [good_lock.get(key), installed.get(key)] for key in sorted(good_lock.keys() | installed.keys())
                 if key != axis.package and good_lock.get(key) != installed.get(key)} if good_lock else {}
        return Probed(str(version), spec, Install(strategy, moved, closest=rung == 0))
    return Probed(str(version), None, Install(error=f"no way resolves (tried {'; '.join(tried)}); the last said: {error}"))


def install_ladder(
    good: EnvSpec, bad: EnvSpec, package: str, own: Requirement, good_lock: dict[str, str]
) -> list[tuple[list[Requirement], dict[str, str], str]]:
    """The ways to install one release of ``package`` (``own``), closest to the good end first: the good
    end's pins, then the bad end's pins of the other packages it pins differently or adds (a newer Keras
    may need a newer backend); each first with the good end's lock holding every dependency the pins leave
    free, then with those resolved afresh. Each way: requirements, constraints, and its description."""
    good_pins, bad_pins = pins(good), pins(bad)
    rungs = [([own if key == package else requirement for key, requirement in good_pins.items()], "the good end's pins")]
    companions = {key: requirement for key, requirement in bad_pins.items()
                  if key != package and str(requirement) != str(good_pins.get(key))}
    if companions:
        requirements = [own if key == package else companions.get(key, requirement) for key, requirement in good_pins.items()]
        requirements += [requirement for key, requirement in companions.items() if key not in good_pins]
        rungs.append((requirements, f"the bad end's pins of {', '.join(map(str, companions.values()))}"))
    ladder = []
    for requirements, pinned in rungs:
        named = {canonicalize_name(requirement.name) for requirement in requirements}
        held = {key: value for key, value in good_lock.items() if key not in named}
        if held:
            ladder.append((requirements, held, f"{pinned} and the good end's lock" if pinned.startswith("the good")
                           else f"{pinned}, the good end's lock for the rest"))
        ladder.append((requirements, {}, f"{pinned}, dependencies resolved afresh"))
    return ladder


def _with_version(requirement: Requirement, version: Version) -> Requirement:
    changed = Requirement(str(requirement))
    changed.specifier = SpecifierSet(f"=={version}")
    return changed


def _write_spec(path: Path, good: EnvSpec, requirements: list[str], hooks: list[str], description: str) -> None:
    """The generated environment file: the good end's settings with the given requirements and hooks (TOML's
    basic strings are JSON strings, escapes included)."""
    lines = [
        f"description = {json.dumps(description)}",
        f"requirements = {json.dumps(requirements)}",
        f"python = {json.dumps(good.python)}",
        f"backend = {json.dumps(good.backend)}",
        f"hooks = {json.dumps(hooks)}",
        f"deterministic = {json.dumps(good.deterministic)}",
        'tags = ["bisect"]',
        *([f"exclusive = {json.dumps(good.exclusive)}"] if good.exclusive else []),
        "[env]",
        *(f"{json.dumps(key)} = {json.dumps(value)}" for key, value in good.env_vars.items()),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


class EndFailed(EnvironmentFailed):
    """An end of the bisect could not be probed, so nothing can be compared with it."""

    label = "bisect"

    def line(self) -> str:
        return f"cannot compare with an end that failed: {self}"


@dataclass(frozen=True, kw_only=True)
class Request:
    """What a bisect is asked: the axis, its releases (good end first) and the sources listing them, which
    metrics count (a glob), whether pre-releases are searched, and whether each release probes every task
    or only those that differ between the ends; and ``plan``, the drift plan of its first round: the two
    ends (good first) without a baseline (the bisect compares each release with the good end itself), where
    things run, what every probe is told, the tolerances, how many at a time, the result cache, what
    ``--rerun`` probes again (:func:`probed_names`), and whether (within how many seconds) each first bad
    release is explained. Every later round, and each explaining, is this plan with its own environments."""

    plan: drift.DriftPlan
    axis: Axis
    versions: tuple[Version, ...]
    sources: tuple[releases.Source, ...]
    metric: str = "*"
    pre: bool = False
    all_tasks: bool = False


def run_bisect(request: Request, *, say: drift.Say, stages: drift.Stages | None = None) -> dict[str, Any]:
    """Probe the two ends, then the releases the search asks for, round by round, each round the drift
    sequence's probe step (``stages``: the real ones unless the tests hand in stand-ins); attribute each
    family's first bad release against its last good one; write and return ``bisect/bisect.json``."""
    started = time.monotonic()
    stages = stages or drift.real_stages()
    plan, axis = request.plan, request.axis
    good, bad = plan.specs
    tolerances = plan.judging.tolerances
    good_result, bad_result = stages.probe(plan, say)
    for result in (good_result, bad_result):
        if not result.ok:
            raise EndFailed(f"{result.env}: {result.status}: {result.reason}")
    table = compare.compare([good_result, bad_result], good.name, tolerances)
    rows = table[(table["env"] == bad.name) & table["verdict"].isin(_DIFFERING_AT_ENDS)]
    metrics = sorted(metric for metric in rows["metric"] if fnmatch.fnmatchcase(metric, request.metric))
    families = sorted({compare.family(metric) for metric in metrics})
    ends = (Install("the good end's own environment file"), Install("the bad end's own environment file"))
    probed = {str(axis.good): Probed(str(axis.good), good, ends[0], good_result),
              str(axis.bad): Probed(str(axis.bad), bad, ends[1], bad_result)}
    search = Search([str(version) for version in request.versions], families)
    drifting_tasks = {bad_result.task_of(metric) for metric in metrics}
    twins = {f"{task.rsplit('.', 1)[0]}.{localise.TWIN}" for task in drifting_tasks}  # they hold the per-layer records
    tasks = tuple(sorted(drifting_tasks | twins.intersection(bad_result.tasks)))
    rounds = plan if request.all_tasks else replace(plan, settings=replace(plan.settings, tasks=tasks))
    step = 0
    while families and (chosen := search.next_versions(plan.jobs)):
        step += 1
        say(f"step {step}: probing {axis.package} {', '.join(chosen)}")
        batch = [synthesise(good, bad, axis, Version(version), plan.run_dir / BISECT_DIR) for version in chosen]
        runnable = [entry for entry in batch if entry.spec is not None]
        found_now = stages.probe(replace(rounds, specs=tuple(entry.spec for entry in runnable if entry.spec)), say)
        for entry, result in zip(runnable, found_now, strict=True):
            entry.result = result
        for entry in batch:
            entry.step = step
            probed[entry.version] = entry
            if note := _install_note(axis.package, entry):
                say(note)
            search.record(entry.version, _differing(good_result, entry.result, metrics, tolerances))
    found = search.boundaries() if families else []
    judged = {(boundary.last_good, boundary.first_bad): _judge_pair(probed[boundary.last_good], probed[boundary.first_bad],
                                                                      rounds=rounds, stages=stages, say=say)
              for boundary in found}
    document = {
        "schema_version": SCHEMA_VERSION,
        "run_id": plan.run_dir.name,
        "package": axis.package,
        "good": {"env": good.name, "version": str(axis.good)},
        "bad": {"env": bad.name, "version": str(axis.bad)},
        "sources": [{"url": source.url, "named_by": source.named_by} for source in request.sources],
        "metric_glob": request.metric,
        "pre": request.pre,
        "metrics": metrics,
        "families": families,
        "tasks": list(rounds.settings.tasks),
        "steps": step,
        "versions": [_version_entry(version, probed.get(version), search) for version in map(str, request.versions)],
        "boundaries": [_boundary_entry(boundary, judged[boundary.last_good, boundary.first_bad], metrics, request)
                       for boundary in found],
        "wall_s": round(time.monotonic() - started, 1),
    }
    path = plan.run_dir / BISECT_DIR / BISECT_FILE
    validate_document(document, "bisect", path)
    write_json_atomically(path, document)
    return document


def _install_note(package: str, entry: Probed) -> str:
    """A line for the terminal when a release could not be installed, or only off the good end's pins and
    lock (saying which dependencies moved); empty otherwise."""
    if entry.spec is None:
        return f"{package} {entry.version}: untestable: cannot be installed: {entry.install.error}"
    if not entry.install.companions and entry.install.closest:
        return ""
    moved = ", ".join(f"{name} {before or '(none)'} -> {after or '(none)'}" for name, (before, after) in entry.install.companions.items())
    return f"{package} {entry.version}: installed with {entry.install.strategy}" + (f"; moved: {moved}" if moved else "")


def _differing(good: Result, result: Result | None, metrics: Sequence[str], tolerances: Sequence[compare.Tolerance]) -> set[str] | None:
    """The families of ``metrics`` in which ``result`` differs from the good end; ``None`` when it has no
    usable result (it could not be installed, or its probe failed)."""
    if result is None or not result.ok:
        return None
    table = compare.compare([good, result], good.env, tolerances)
    rows = table[(table["env"] == result.env) & table["metric"].isin(metrics) & table["verdict"].isin(_DIFFERING)]
    return {compare.family(metric) for metric in rows["metric"]}


def _version_entry(version: str, entry: Probed | None, search: Search) -> dict[str, Any]:
    """One release in ``bisect.json``: its verdict, the families it differs in, and how it ran."""
    result = entry.result if entry else None
    reason = entry.install.error if entry and entry.spec is None else (result.reason if result is not None and not result.ok else "")
    outcome = search.outcomes.get(version)
    return {
        "version": version,
        "verdict": search.verdict(version),
        "differing_families": sorted(outcome) if outcome else [],
        "env": entry.spec.name if entry and entry.spec else None,
        "result": f"results/{result.env}.json" if result is not None else None,
        "cached_from": result.cached_from if result is not None else None,
        "reason": reason,
        "step": entry.step if entry else None,
        "install": {"strategy": entry.install.strategy, "companions": entry.install.companions} if entry else None,
    }


def _judge_pair(low: Probed, high: Probed, *, rounds: drift.DriftPlan, stages: drift.Stages, say: drift.Say) -> accepted.Review:
    """The verdicts of the first bad release against the last good one, with causes, and with proofs when
    the plan explains: the drift sequence's explain step over the two, the last good one its baseline
    (re-runs in the two environments, cached like ``drift``'s)."""
    assert low.result is not None and high.result is not None and low.spec and high.spec  # both were probed to be compared
    pair, baseline = [low.result, high.result], low.result.env
    # --rerun probes again; the proofs cached for the pair are reused, as a bisect always has
    plan = replace(rounds, specs=(low.spec, high.spec), baseline=baseline, rerun=frozenset())
    found = stages.explain(plan, pair, say) if plan.explain else []
    return pipeline.judge(pair, baseline, plan.judging.tolerances, experiments=found)


def _boundary_entry(boundary: Boundary, review: accepted.Review, metrics: Sequence[str], request: Request) -> dict[str, Any]:
    """One family's first bad release: the metrics that move there, with the cause the attribution (and
    the experiments, when asked) gives on the last good -> first bad pair, and where each model's numbers
    part there (:mod:`keras_drift.judge.localise`)."""
    judged = review.verdicts
    rows = judged[(judged["verdict"] == Verdict.DRIFT) & judged["metric"].isin(metrics)
                  & (judged["metric"].map(compare.family) == boundary.family)]
    findings = [
        {"cause": str(cause), "evidence": evidence, "proof": proof, "metrics": sorted(group["metric"])}
        for (cause, evidence, proof), group in rows.groupby(["cause", "evidence", "proof"], sort=True)
    ]
    return {
        "family": boundary.family,
        "last_good": boundary.last_good,
        "first_bad": boundary.first_bad,
        "exact": boundary.exact,
        "untestable_between": list(boundary.untestable),
        "notes": {version: releases.notes_url(request.axis.package, version, request.sources[0])
                  for version in (*boundary.untestable, boundary.first_bad)},
        "metrics": [
            {"metric": row.metric, "last_good_value": encode_scalar(row.baseline_value), "first_bad_value": encode_scalar(row.value),
             "rel_diff": encode_scalar(row.rel_diff)}
            for row in rows.itertuples()
        ],
        "findings": findings,
        "localisation": {task: found.sentence() for (_, task), found in sorted(review.localisations.items())
                         if compare.family(task) == boundary.family},
    }
