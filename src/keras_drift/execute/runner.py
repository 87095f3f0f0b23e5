"""Run the probe in each selected environment and write one result per environment.

Whatever happens to an environment (its interpreter is missing, its install fails, the probe crashes or
hangs), it ends as a result file with a status, so one broken environment never stops the others.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from filelock import FileLock

from keras_drift import __version__
from keras_drift.envs import environments, shipped
from keras_drift.envs.specs import EnvSpec
from keras_drift.errors import EnvironmentFailed, InputError
from keras_drift.execute.cache import ResultCache, cache_key, load_key, reusable, user_files
from keras_drift.store.results import (
    RESULTS_DIR,
    Result,
    Status,
    encode,
    encode_scalar,
    load_result,
    printable,
    status_result,
    write_json_atomically,
    write_result,
)

LOG_TAIL_LINES = 40
LOGS_DIR = "logs"
ARTIFACTS_DIR = "artifacts"
SAVED_MANIFEST = "manifest.json"  # what describes one task's saved models (probe/saving.py's MANIFEST)
# Probes running now, so that an interrupted run can kill them (they run in sessions of their own and
# do not receive the terminal's Ctrl-C).
_RUNNING: set[subprocess.Popen] = set()
_RUNNING_LOCK = threading.Lock()
# What a partial probe result contributes to the failed result that replaces it.
_TASK_SECTIONS = ("metrics", "series", "errors", "noise", "facts", "not_applicable", "repeats", "timings")
# Host variables that would make the probe's interpreter see the host's packages instead of its own.
_HOST_ONLY_VARS = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")


@dataclass(frozen=True, kw_only=True)
class ProbeSettings:
    """What every probe of a run is told: how long the whole environment may take (then its process group
    is killed) and each task in it (then that task fails with how far it got, and the next one runs), which
    tasks to run (globs; none: all), the folder of the user's own probe modules, if any, and how many runs
    of each task measure the noise: ``repeats`` up front, or (``adaptive``) one run, repeated afterwards
    only where a metric drifts (:mod:`keras_drift.execute.noise`) or the environment is not deterministic. With
    ``saved_models`` each model task's trained model is saved for the load phase (:func:`run_load_phase`),
    whose loads leave the library's safe mode on unless ``unsafe_load``. ``sweep`` is the API sweep's mode
    (``probe/sweep/``): a fixed core plus the classes the tasks constructed, each as its class needs to be
    called (``targeted``, the default), every public entry with every option of its tables (``full``, the
    nightly's), or none (``off``). ``script`` is the user's training script, run unchanged
    with ``script_args`` as the task ``script`` (``probe/script.py``)."""

    environment_timeout_s: float = 1800.0
    task_timeout_s: float = 900.0
    tasks: tuple[str, ...] = ()
    probes_dir: Path | None = None
    repeats: int = 2
    adaptive: bool = False
    saved_models: bool = False
    unsafe_load: bool = False
    sweep: str = "targeted"
    script: Path | None = None
    script_args: tuple[str, ...] = ()
    script_recorded: bool = True  # off only to time the script's own run (nox -s bench)

    def arguments(self, repeat_up_front: bool = True) -> list[str]:
        """The probe's command-line arguments for these settings."""
        arguments = ["--sweep", self.sweep, "--task-timeout", f"{self.task_timeout_s:g}",
                     "--repeats", str(self.repeats if repeat_up_front else 1)]
        if self.tasks:
            arguments += ["--tasks", ",".join(self.tasks)]
        if self.probes_dir is not None:
            arguments += ["--probes", str(self.probes_dir)]
        if self.script is not None:
            arguments += ["--script", str(self.script), "--script-args", json.dumps(list(self.script_args))]
            if not self.script_recorded:
                arguments.append("--script-unrecorded")
        return arguments

    def record(self) -> dict[str, Any]:
        """What a result records of them: the task selection, a digest of the user's probe modules, the task
        time limit, whether models are saved, and the sweep's mode (each changes the result: its cache key)."""
        digest = hashlib.sha256()
        for path in sorted(self.probes_dir.glob("*.py")) if self.probes_dir else []:
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
        found: dict[str, Any] = {"tasks": list(self.tasks), "probes_sha256": digest.hexdigest()[:16] if self.probes_dir else None,
                                 "task_timeout_s": self.task_timeout_s, "saved_models": self.saved_models, "sweep": self.sweep}
        if self.script is not None:  # the script's text and arguments decide its result too
            found["script"] = {"name": self.script.name, "sha256": hashlib.sha256(self.script.read_bytes()).hexdigest()[:16],
                               "args": list(self.script_args), "recorded": self.script_recorded}
        return found


@dataclass(frozen=True)
class BaselineWatch:
    """What lets a probe repeat its drifting tasks at once, in its own process, instead of in a second process
    afterwards (adaptive repeats, :mod:`keras_drift.execute.noise`): the baseline, which is then probed first, and
    the tolerances as ``(pattern, atol, rtol)``. A probe that starts before the baseline has finished (with
    ``-j``) is not told, and its drifting tasks are repeated afterwards as before."""

    baseline: str
    tolerances: tuple[tuple[str, float, float], ...] = ()

    @classmethod
    def of(cls, baseline: str, tolerances: Iterable[Any]) -> BaselineWatch:
        """From tolerances that have a ``pattern``, an ``atol`` and an ``rtol`` (``compare.Tolerance``)."""
        return cls(baseline, tuple((tolerance.pattern, tolerance.atol, tolerance.rtol) for tolerance in tolerances))


class ProbeFailed(EnvironmentFailed):
    """The probe did not produce a complete result: it crashed, hung, or wrote something unusable.
    ``partial`` holds the tasks it finished before that, when it wrote any."""

    def __init__(self, message: str, partial: Result | None = None) -> None:
        super().__init__(message)
        self.partial = partial


def run_environments(
    specs: Sequence[EnvSpec],
    run_dir: Path,
    project_root: Path,
    venvs_dir: Path,
    jobs: int = 1,
    settings: ProbeSettings = ProbeSettings(),
    on_done: Callable[[Result], None] = lambda result: None,
    results_cache: ResultCache | None = None,
    rerun: Container[str] = (),
    watch: BaselineWatch | None = None,
) -> list[Result]:
    """Run every spec, ``jobs`` at a time; return their results in the order of ``specs``.

    ``on_done`` is called with each result as soon as its environment finishes (progress output). With
    ``results_cache``, an environment whose result is cached is not probed (unless named in ``rerun``),
    and every complete result is stored. With ``watch``, the baseline goes first and each probe started
    after it repeats its drifting tasks in its own process (:class:`BaselineWatch`). A probe that saves
    models loads them back itself after its tasks (control) and, started after the baseline, the
    baseline's (upgrade): the load phase then has only the rest to do (:func:`run_load_phase`).
    """
    finished: dict[str, Result] = {}

    def one(spec: EnvSpec) -> Result:
        def told() -> Path | None:
            return _baseline_file(watch, finished, spec.name, run_dir, settings.repeats)

        def loads() -> list[dict[str, str]]:
            return _probe_load_sources(spec.name, watch, finished, run_dir)

        result = run_environment(spec, run_dir, project_root, venvs_dir, settings, results_cache, spec.name not in rerun, told, loads)
        finished[spec.name] = result
        on_done(result)
        return result

    first = [spec for spec in specs if watch is not None and spec.name == watch.baseline]
    ordered = first + [spec for spec in specs if spec not in first]
    by_name = dict(zip((spec.name for spec in ordered), in_slots(ordered, jobs, one, lambda spec: spec.exclusive), strict=True))
    return [by_name[spec.name] for spec in specs]


def in_slots(items: Sequence[Any], jobs: int, work: Callable[[Any], Result], resource: Callable[[Any], str]) -> list[Result]:
    """``work`` on every item, ``jobs`` at a time, in order; except that an item whose ``resource`` (an
    environment's ``exclusive``; ``""``: none) another running item holds lets the next free one go first, so
    a slot never waits on a busy resource while other work could run. Results in the order of ``items``.

    Two probes of one resource never run at once here; the file lock of :func:`_exclusive` still keeps
    apart two keras-drift runs on one machine."""
    pending = list(range(len(items)))
    held: set[str] = set()
    stopping = [False]
    changed = threading.Condition()

    def claim() -> int | None:
        with changed:
            while not stopping[0]:
                index = next((i for i in pending if not resource(items[i]) or resource(items[i]) not in held), None)
                if index is not None:
                    pending.remove(index)
                    if resource(items[index]):
                        held.add(resource(items[index]))
                    return index
                changed.wait()
            return None

    def slot(_: int) -> tuple[int, Result] | None:
        index = claim()
        if index is None:
            return None
        try:
            return index, work(items[index])
        except BaseException:  # a fault of keras-drift itself: the run ends with it, so start nothing more
            stopping[0] = True
            raise
        finally:
            with changed:
                held.discard(resource(items[index]))
                changed.notify_all()

    with _probe_pool(jobs) as pool:
        try:
            finished = dict(found for found in pool.map(slot, range(len(items))) if found is not None)
        except BaseException:  # Ctrl-C or a fault: the slots waiting for a resource start nothing more
            with changed:
                stopping[0] = True
                changed.notify_all()
            raise
    return [finished[index] for index in range(len(items))]


@contextlib.contextmanager
def _probe_pool(jobs: int) -> Iterator[ThreadPoolExecutor]:
    """A pool of ``jobs`` threads, each running probes; on Ctrl-C (or any error) it starts nothing new and
    kills the probes already running."""
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        kill_running_probes()
        raise
    finally:
        pool.shutdown(wait=True)


def _baseline_file(watch: BaselineWatch | None, finished: Mapping[str, Result], env: str, run_dir: Path, repeats: int) -> Path | None:
    """The file that tells ``env``'s probe the baseline's metrics and the tolerances, once the baseline has
    finished with metrics; ``None`` for the baseline itself, or before then."""
    if watch is None or env == watch.baseline:
        return None
    baseline = finished.get(watch.baseline)
    if baseline is None or not baseline.get("metrics"):
        return None
    path = Path(run_dir) / LOGS_DIR / f"{env}.baseline.json"
    # NaN and infinities as the result files spell them (a diverged loss, a swept activation at 1000): the
    # probe compares its own values in that spelling
    metrics = {key: encode_scalar(value) for key, value in baseline["metrics"].items()}
    write_json_atomically(path, {"baseline": watch.baseline, "metrics": metrics, "repeats": repeats,
                                 "tolerances": [list(row) for row in watch.tolerances]})
    return path


def _probe_load_sources(env: str, watch: BaselineWatch | None, finished: Mapping[str, Result], run_dir: Path) -> list[dict[str, str]]:
    """The loads a probe carries out after its tasks, in its own process: its own saved models and, when
    the baseline has finished with saved models, the baseline's (the user's files are loaded apart, in the
    load phase: a hostile file must not take the probe's results with it)."""
    sources = [{"env": env, "direction": "control", "folder": str(artifacts_folder(run_dir, env).resolve())}]
    baseline = finished.get(watch.baseline) if watch is not None and env != watch.baseline else None
    if baseline is not None and baseline.get("artifacts"):
        sources.append({"env": baseline.env, "direction": "upgrade", "folder": str(artifacts_folder(run_dir, baseline.env).resolve())})
    return sources


def kill_running_probes() -> None:
    """Kill every probe this process started and that is still running, with its whole process group."""
    with _RUNNING_LOCK:
        running = list(_RUNNING)
    for process in running:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def run_environment(
    spec: EnvSpec, run_dir: Path, project_root: Path, venvs_dir: Path, settings: ProbeSettings = ProbeSettings(),
    results_cache: ResultCache | None = None, reuse: bool = True, baseline_file: Callable[[], Path | None] = lambda: None,
    load_sources_after: Callable[[], list[dict[str, str]]] = lambda: [],
) -> Result:
    """Build or reuse the environment of ``spec``, run the probe in it, write and return the result; or,
    when ``results_cache`` holds a result of the same key and ``reuse`` allows, copy that one. A probe
    that runs each task once is given the file ``baseline_file()`` names when it starts (after the build
    and any wait for an exclusive folder: the baseline may have finished meanwhile), if any; one that saves
    models loads the sources ``load_sources_after()`` names after its tasks."""
    started = time.monotonic()
    probe_record = settings.record()
    spec_record = {**_spec_record(spec), **probe_record}
    spec_record["cache_key"] = key = cache_key(spec, probe_record)
    artifacts = artifacts_folder(run_dir, spec.name)
    cached = results_cache.lookup(key, artifacts) if results_cache is not None and reuse and reusable(spec) else None
    if cached is not None:
        cached["spec"] = spec_record
        cached.setdefault("timings", {}).update(wall_s=time.monotonic() - started, install_s=0.0)
        write_result(cached, run_dir)
        return cached
    known_noisy = results_cache is not None and results_cache.showed_noise(key)
    repeat_up_front = not settings.adaptive or not spec.deterministic or known_noisy
    log_path = Path(run_dir) / LOGS_DIR / f"{spec.name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w", encoding="utf-8") as log_file:

        def log(line: str) -> None:
            log_file.write(line + "\n")
            log_file.flush()

        try:
            environment = environments.ensure_environment(spec, venvs_dir, log)
            spec_record["resolution"] = environment.resolution
            install_s = time.monotonic() - started
            with _exclusive(spec, log):
                told_file = None if repeat_up_front else baseline_file()
                told = [] if told_file is None else ["--repeat-drifting", str(told_file)]
                planned = load_sources_after() if settings.saved_models else []
                if settings.saved_models:
                    plan = Path(run_dir) / LOGS_DIR / f"{spec.name}.probe-load-plan.json"
                    write_json_atomically(plan, {"sources": planned, "user_models": []})
                    told += ["--artifacts", str(artifacts.resolve()), "--load-after", str(plan.resolve())]
                result = _probe(spec, environment.python, run_dir, project_root, settings, log_file, repeat_up_front, told)
                if "loads" in result:
                    result["load_phase"] = {"status": Status.OK, "reason": "", "sources": [source["env"] for source in planned],
                                            "cached": [], "in_probe": [_parcel(source) for source in planned]}
            # The probe process from start to exit: interpreter start, framework import, compute.
            result.setdefault("timings", {})["probe_process_s"] = time.monotonic() - started - install_s
        except environments.InterpreterMissing as exc:
            result = status_result(spec.name, Status.SKIPPED, str(exc))
            install_s = 0.0
        except (environments.BuildFailed, ProbeFailed, OSError) as exc:
            log(f"keras-drift: {exc}")
            log_file.flush()
            result = status_result(spec.name, Status.FAILED, str(exc), _tail(log_path))
            partial = exc.partial if isinstance(exc, ProbeFailed) else None
            if partial is not None:  # the tasks it finished are kept, marked partial, and compared
                result.update({key: value for key, value in partial.items() if key not in result or key in _TASK_SECTIONS})
                result["partial"] = True
            install_s = time.monotonic() - started
        else:
            result.setdefault("timings", {})["reused_environment"] = environment.reused
    timings = result.setdefault("timings", {})
    timings["install_s"] = install_s
    timings["wall_s"] = time.monotonic() - started
    result["spec"] = spec_record
    result["tool_version"] = __version__  # a cached result keeps the version that probed it
    write_result(result, run_dir)
    if results_cache is not None:
        results_cache.store(result, Path(run_dir).name, artifacts)
    return result


def artifacts_folder(run_dir: Path, env: str) -> Path:
    """Where an environment's saved models are written in a run: ``artifacts/<env>/<task>/``."""
    return Path(run_dir) / ARTIFACTS_DIR / env


def load_sources(env: str, baseline: str, results: Sequence[Result], run_dir: Path) -> list[dict[str, str]]:
    """What ``env`` loads: its own files (``control``), and the baseline's when it is a candidate
    (``upgrade``) or every candidate's when it is the baseline (``rollback``); only environments whose
    probe saved models."""
    saved = [result.env for result in results if result.get("artifacts")]
    sources = [(env, "control")] if env in saved else []
    if env == baseline:
        sources += [(other, "rollback") for other in saved if other != env]
    elif baseline in saved:
        sources.append((baseline, "upgrade"))
    return [{"env": name, "direction": direction, "folder": str(artifacts_folder(run_dir, name).resolve())} for name, direction in sources]


def run_load_phase(
    specs: Sequence[EnvSpec], results: Sequence[Result], run_dir: Path, project_root: Path, venvs_dir: Path, baseline: str,
    settings: ProbeSettings, user_models: Sequence[Any] = (), jobs: int = 1, on_done: Callable[[Result], None] = lambda result: None,
    results_cache: ResultCache | None = None, rerun: Container[str] = (), trials: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> dict[str, dict[str, dict[str, Any]]]:
    """Load saved models in every environment whose probe succeeded (one probe process each, ``jobs`` at a
    time): the sources of :func:`load_sources` and the user's own files (``user_models``, :class:`UserModel`s; one
    with a ``problem`` fails in every environment without being loaded). Each result gains ``loads``,
    ``user_models`` and ``load_phase`` (its status and time) and is written again. With ``results_cache``,
    each parcel of an environment's loads (one source, or the user's files) found under its key
    (:func:`cache.load_key`) is not loaded again (unless the environment is named in ``rerun``), and the
    parcels of every complete load phase are stored.

    ``trials`` (environment -> trials, as :func:`run_trials` takes them: the drifting tasks to repeat) ride
    along in an environment's load process where it needs one, before its loads, which saves them a
    framework import of their own (2 to 5 s). Returned: environment -> trial id -> outcome, for the
    environments whose load process ran its trials; the caller runs the others."""
    by_name = {spec.name: spec for spec in specs}
    ran = [result for result in results if result.env in by_name and result.ok]
    outcomes: dict[str, dict[str, dict[str, Any]]] = {}

    def load(found: Result) -> Result:
        loaded, trial_outcomes = _load_in(by_name[found.env], found, results, run_dir, project_root, venvs_dir, baseline, settings,
                                          user_models, results_cache, found.env not in rerun, (trials or {}).get(found.env, ()))
        if trial_outcomes is not None:
            outcomes[found.env] = trial_outcomes
        on_done(loaded)
        return loaded

    in_slots(ran, jobs, load, lambda found: by_name[found.env].exclusive)
    return outcomes


def _load_in(
    spec: EnvSpec, result: Result, results: Sequence[Result], run_dir: Path, project_root: Path, venvs_dir: Path, baseline: str,
    settings: ProbeSettings, user_models: Sequence[Any], results_cache: ResultCache | None = None, reuse: bool = True,
    trials: Sequence[Mapping[str, Any]] = (),
) -> tuple[Result, dict[str, dict[str, Any]] | None]:
    """The load phase of one environment: the parcels the cache holds, the others loaded by one probe
    process, which runs ``trials`` first; the result rewritten with all of them, and the trials' outcomes
    by id (``None`` when no process was needed: nothing ran them)."""
    started = time.monotonic()
    folder = Path(run_dir) / LOGS_DIR
    plan_path, out = folder / f"{spec.name}.load-plan.json", folder / f"{spec.name}.loads.json"
    sources = load_sources(spec.name, baseline, results, run_dir)
    keys = {found.env: found.get("spec", {}).get("cache_key") for found in results}
    # parcels of the phase, each kept in the cache on its own: one per source, and the user's files
    parcels: dict[str, dict[str, Any]] = {_parcel(source): {"source": source["env"], "direction": source["direction"],
                                                            "key": keys.get(source["env"])} for source in sources}
    if user_models:
        parcels[USER_PARCEL] = user_files(user_models)
    parcel_keys = {name: load_key(str(keys[spec.name]), parcel, settings.unsafe_load) for name, parcel in parcels.items()
                   if keys.get(spec.name) and parcel.get("key", True)}
    # what the probe loaded itself after its tasks (run_environments)
    in_probe = {name: [attempt for attempt in result.get("loads", []) if _parcel(attempt) == name]
                for name in result.get("load_phase", {}).get("in_probe", []) if name in parcels}
    cached: dict[str, list[dict[str, Any]]] = {}
    for name, key in parcel_keys.items():
        found = results_cache.lookup_loads(key) if results_cache is not None and reuse and name not in in_probe else None
        if found is not None:
            cached[name] = found
    plan = {"sources": [source for source in sources if _parcel(source) not in cached and _parcel(source) not in in_probe],
            "user_models": [] if USER_PARCEL in cached else [model.plan() for model in user_models if model.problem is None]}
    written: dict[str, Any] = {}
    problem = ""
    needs_process = bool(plan["sources"] or plan["user_models"])
    if needs_process:
        plan["trials"] = list(trials)
    write_json_atomically(plan_path, plan)
    if needs_process:
        written, problem = _run_loads(spec, plan_path, out, folder / f"{spec.name}.loads.log", project_root, venvs_dir, settings)
    attempts = [attempt for attempt in written.get("loads", []) if isinstance(attempt, dict)]
    fresh = {_parcel(source): [attempt for attempt in attempts if _parcel(attempt) == _parcel(source)] for source in plan["sources"]}
    fresh.update(in_probe)
    if USER_PARCEL not in cached:
        fresh[USER_PARCEL] = [found for found in written.get("user_models", []) if isinstance(found, dict)] + [
            model.failed() for model in user_models if model.problem is not None]
    gathered = {**fresh, **cached}
    result["loads"] = [attempt for name in parcels if name != USER_PARCEL for attempt in gathered.get(name, [])]
    result["user_models"] = gathered.get(USER_PARCEL, [])
    ran_trials = written.get("trials") if isinstance(written.get("trials"), dict) else None
    trial_outcomes = {str(key): value for key, value in (ran_trials or {}).items() if isinstance(value, dict)}
    result["load_phase"] = {"status": Status.FAILED if problem else Status.OK, "reason": f"the load probe {problem}" if problem else "",
                            "sources": [source["env"] for source in sources], "cached": sorted(cached), "in_probe": sorted(in_probe),
                            "trials": len(trial_outcomes)}
    # A process that ran repeats as well would have started for them anyway (a process of their own
    # otherwise): the loading adds its own time to the run, as the probe timed it.
    process_timings = written.get("timings")
    loading = process_timings.get("loads_s") if isinstance(process_timings, dict) else None
    result.setdefault("timings", {})["load_s"] = (float(loading) if trial_outcomes and isinstance(loading, (int, float))
                                                  else time.monotonic() - started)
    write_result(result, run_dir)
    if results_cache is not None and not problem:
        for name, key in parcel_keys.items():
            if name in fresh:
                results_cache.store_loads(key, fresh[name])
    return result, (trial_outcomes if needs_process else None)


USER_PARCEL = "user models"


def _parcel(source: Mapping[str, Any]) -> str:
    """The name of a source's parcel (a source of the plan, or an attempt, which names its source)."""
    return f"{source['direction']} from {source.get('env', source.get('source'))}"


def _run_loads(
    spec: EnvSpec, plan_path: Path, out: Path, log_path: Path, project_root: Path, venvs_dir: Path, settings: ProbeSettings,
) -> tuple[dict[str, Any], str]:
    """Run the probe in load mode over ``plan_path``; what it wrote, and the problem that stopped it, if any."""
    written: dict[str, Any] = {}
    with log_path.open("w", encoding="utf-8") as log_file:
        try:
            environment = environments.ensure_environment(spec, venvs_dir, lambda line: print(line, file=log_file))
            arguments = ["--load", str(plan_path.resolve()), *settings.arguments()]  # the time limit and probes of its trials
            with _exclusive(spec, lambda line: print(line, file=log_file)):
                returncode = _probe_process(spec, environment.python, project_root, settings, log_file, out,
                                            arguments + (["--unsafe-load"] if settings.unsafe_load else []))
            written = json.loads(out.read_text(encoding="utf-8")) if out.is_file() else {}
            problem = ("timed out" if returncode is None else _exit_text(returncode) if returncode
                       else "stopped before its last load" if written.get("partial") else "")
        except (environments.BuildFailed, environments.InterpreterMissing, OSError, ValueError) as exc:
            problem = str(exc)
    return written, problem


def _probe(
    spec: EnvSpec, python: Path, run_dir: Path, project_root: Path, settings: ProbeSettings, log_file: IO[str], repeat_up_front: bool,
    extra_arguments: Sequence[str] = (),
) -> Result:
    """Run the probe until it has finished every task: a process that dies natively is followed by another
    that resumes after its finished tasks (:func:`recovery`), within the environment's time limit."""
    out = Path(run_dir) / LOGS_DIR / f"{spec.name}.probe.json"
    arguments = settings.arguments(repeat_up_front) + list(extra_arguments)
    deadline = time.monotonic() + settings.environment_timeout_s
    restarts: list[dict[str, Any]] = []
    while True:
        returncode = _probe_process(spec, python, project_root, settings, log_file, out, arguments,
                                    timeout_s=max(1.0, deadline - time.monotonic()))
        if returncode is None:
            raise ProbeFailed(f"probe timed out after {settings.environment_timeout_s:g} s and was killed", _partial(out))
        step = recovery(returncode, out, restarts) if returncode < 0 and len(restarts) < MAX_RESTARTS else None
        if step is None:
            break
        restarts.append(step.record)
        log_file.write(f"keras-drift: {step.record['what']}; resuming in a new process without {', '.join(step.without) or 'nothing'}\n")
        resume = Path(run_dir) / LOGS_DIR / f"{spec.name}.resume.json"
        write_json_atomically(resume, step.resume)
        # the probe's own --without switches a mechanism off, whatever other arguments ask for it
        arguments = [*settings.arguments(repeat_up_front), *extra_arguments, "--resume", str(resume.resolve())]
        if step.without:
            arguments += ["--without", ",".join(step.without)]
    if returncode != 0:
        raise ProbeFailed(f"probe {_exit_text(returncode)}", _with_restarts(_partial(out), restarts))
    try:
        result = load_result(out)
    except InputError as exc:
        raise ProbeFailed(f"probe wrote an unusable result: {exc}") from None
    out.unlink()
    if restarts:
        result["restarts"] = restarts
    if result.partial:
        raise ProbeFailed("probe stopped before its last task", result)
    result["env"] = spec.name
    return result


# How many times one environment's probe is resumed after a native crash before it counts as failed.
MAX_RESTARTS = 8


@dataclass(frozen=True)
class Recovery:
    """How to go on after a probe process died natively: the mechanisms the next process leaves off (all
    that earlier ones left off too), what it resumes from (the finished tasks, plus a ``crashed`` entry
    for a task that died with nothing left to leave off), and what the result records of the crash."""

    without: tuple[str, ...]
    resume: dict[str, Any]
    record: dict[str, Any]


def recovery(returncode: int, out: Path, restarts: Sequence[Mapping[str, Any]]) -> Recovery | None:
    """What to do after a probe process was killed by signal ``-returncode``; ``None`` where it cannot be
    resumed (it wrote no result, or died outside any task).

    The probe notes where it is beside its result (``probe/progress.py``): the task, the phase (running
    the task, taking its records, saving its model, loading models) and the optional mechanisms in force.
    The mechanism of the phase is left off next time; a task that died while simply running leaves off
    JAX's compile cache where it was on (the crashes seen: its garbage collection). With nothing left to
    leave off, the task is recorded as failed with the signal, and the next process starts after it."""
    partial = _partial(out)
    where = _progress(out)
    if partial is None or where is None:
        return None
    without = tuple(sorted({name for restart in restarts for name in restart.get("without", ())}))
    task, phase, in_force = str(where.get("task", "")), str(where.get("phase", "")), list(where.get("mechanisms", []))
    suspect = phase if phase in in_force else "compile-cache" if phase == "task" and "compile-cache" in in_force else None
    signal_name = _signal_name(-returncode)
    what = f"probe died of {signal_name} in {'task ' + task if task else phase} ({phase})"
    resume = dict(encode(partial))
    resume["crashed"] = dict(partial.get("crashed", {}))
    if suspect is None:
        if not task:
            return None
        resume["crashed"][task] = f"crashed natively: {signal_name} while running (no optional mechanism was in force)"
    return Recovery(tuple(sorted(set(without) | ({suspect} if suspect else set()))), resume,
                    {"what": what, "task": task, "phase": phase, "signal": signal_name, "without": sorted({suspect} if suspect else set())})


# A probe process's progress file (``<out>.running``) by what the process does: the probe itself, the load
# phase, re-runs (repeats and explaining).
_RUNNING_RE = re.compile(r"(?P<env>.+)\.(?P<kind>probe|loads|trials-[0-9a-f]{8}\.out)\.json\.running\Z")
_DOING = {"probe": "probing", "loads": "loading", "trials": "re-running"}
_LOG_RE = re.compile(r"(?P<env>.+?)(?P<aux>\.loads|\.trials-[0-9a-f]{8})?\.log\Z")
# What a build step logs that says what it is doing (uv's lines: `Downloading tensorflow (585.0MiB)`).
_BUILD_LINE = re.compile(r"^\s*(Downloading|Resolved|Prepared|Installed|Building|Built|Using CPython|Creating)\b")
_LOG_TAIL_BYTES = 16_384


@dataclass(frozen=True)
class Activity:
    """What one environment's processes are doing now: ``building`` (with what the installer last said it
    downloads or installs), ``probing``, ``loading`` or ``re-running`` (with the task and its ``n`` of
    ``total``)."""

    env: str
    doing: str
    detail: str = ""
    n: int = 0
    total: int = 0


def activities(run_dir: Path) -> list[Activity]:
    """What every environment of the run is doing now, read from the files its processes write as they go
    (the build log, each probe process's progress file): nothing here waits for a process, so a display
    can poll it. An environment whose result is written and runs no process is not listed."""
    logs, found = Path(run_dir) / LOGS_DIR, {}
    for path in sorted(logs.glob("*.running")) if logs.is_dir() else []:
        match = _RUNNING_RE.match(path.name)
        where = _progress(path.with_suffix("")) if match else None
        if match is None or where is None:
            continue
        of = where.get("of")
        n, total = of if isinstance(of, list) and len(of) == 2 and all(isinstance(x, int) for x in of) else (0, 0)
        detail = str(where.get("task") or where.get("phase") or "")
        found[match["env"]] = Activity(match["env"], _DOING[match["kind"].split("-")[0]], detail, n, total)
    for log in sorted(logs.glob("*.log")) if logs.is_dir() else []:
        match = _LOG_RE.match(log.name)  # an environment's own log, not that of its loads or re-runs
        if match is None or match["aux"] or match["env"] in found or (Path(run_dir) / RESULTS_DIR / f"{match['env']}.json").exists():
            continue
        found[match["env"]] = _from_log(match["env"], log)
    return [found[env] for env in sorted(found)]


def _from_log(env: str, log: Path) -> Activity:
    """What an environment with no probe process running is doing, by its log: building (with the
    installer's last line that says what it does), or, once a probe was launched, probing (between two
    probe processes, or writing its result)."""
    try:
        with log.open("rb") as handle:
            handle.seek(max(0, log.stat().st_size - _LOG_TAIL_BYTES))
            tail = handle.read().decode("utf-8", errors="replace").splitlines()
    except OSError:
        tail = []
    commands = [line for line in tail if line.startswith("$ ")]
    if commands and shipped.PACKAGE in commands[-1] and "runpy" in commands[-1]:
        return Activity(env, "probing")
    said = [line.strip() for line in tail if _BUILD_LINE.match(line)]
    return Activity(env, "building", said[-1] if said else "")


def _progress(out: Path) -> dict[str, Any] | None:
    """What the probe's progress file beside ``out`` says (see ``probe/progress.py``), or ``None``."""
    path = out.with_name(out.name + ".running")
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def _signal_name(number: int) -> str:
    """``SIGSEGV (signal 11)``, or ``signal N`` for a number the platform does not name."""
    try:
        return f"{signal.Signals(number).name} (signal {number})"
    except ValueError:
        return f"signal {number}"


def _exit_text(returncode: int) -> str:
    """How a probe process ended, for a reason line: ``died of SIGSEGV (signal 11)`` or ``exited with status 1``."""
    return f"died of {_signal_name(-returncode)}" if returncode < 0 else f"exited with status {returncode}"


def _with_restarts(partial: Result | None, restarts: list[dict[str, Any]]) -> Result | None:
    if partial is not None and restarts:
        partial["restarts"] = restarts
    return partial


# Runs trials ({"id", "task", "overrides"}) in one environment, by name; returns each one's outcome by id.
Execute = Callable[[str, Sequence[Mapping[str, Any]]], Mapping[str, Mapping[str, Any]]]


def trial_executor(
    specs: Sequence[EnvSpec], run_dir: Path, project_root: Path, venvs_dir: Path, settings: ProbeSettings,
    announce: Callable[[str, int], None] = lambda env, count: None,
) -> Execute:
    """An :data:`Execute` over the environments of ``specs`` (already built), announcing each batch."""
    by_name = {spec.name: spec for spec in specs}

    def execute(env: str, trials: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
        announce(env, len(trials))
        return run_trials(by_name[env], trials, run_dir, project_root, venvs_dir, settings)

    return execute


def run_trials(
    spec: EnvSpec, trials: Sequence[Mapping[str, Any]], run_dir: Path, project_root: Path, venvs_dir: Path,
    settings: ProbeSettings = ProbeSettings(),
) -> dict[str, dict[str, Any]]:
    """Run interventions (``{"id", "task", "overrides"}`` each) in the existing environment of ``spec``, one
    probe process for all of them; return each trial's outcome by id. A trial the probe never reached, or
    an environment that cannot run them, gives outcomes with an ``error``."""
    label = hashlib.sha256(json.dumps(list(trials), sort_keys=True).encode()).hexdigest()[:8]
    folder = Path(run_dir) / LOGS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    request, out = folder / f"{spec.name}.trials-{label}.json", folder / f"{spec.name}.trials-{label}.out.json"
    write_json_atomically(request, {"trials": list(trials)})
    outcomes: dict[str, dict[str, Any]] = {}
    with (folder / f"{spec.name}.trials-{label}.log").open("w", encoding="utf-8") as log_file:
        try:
            environment = environments.built_environment(spec, venvs_dir)
            with _exclusive(spec, lambda line: print(line, file=log_file)):
                returncode = _probe_process(spec, environment.python, project_root, settings, log_file, out,
                                            ["--trials", str(request.resolve()), *settings.arguments()])
            written = json.loads(out.read_text(encoding="utf-8")) if out.is_file() else {}
            outcomes = {str(key): value for key, value in written.get("trials", {}).items() if isinstance(value, dict)}
            problem = "timed out" if returncode is None else (_exit_text(returncode) if returncode else "")
        except (environments.BuildFailed, OSError, ValueError) as exc:
            problem = str(exc)
    for trial in trials:
        outcomes.setdefault(str(trial["id"]), {"task": trial["task"], "metrics": {}, "applied": [],
                                               "error": f"not run: the probe {problem or 'stopped before it'}"})
    return outcomes


def _probe_process(
    spec: EnvSpec, python: Path, project_root: Path, settings: ProbeSettings, log_file: IO[str], out: Path, arguments: list[str],
    timeout_s: float | None = None,
) -> int | None:
    """Run the probe once with ``arguments``, writing to ``out``; its exit status (negative: the signal that
    killed it), ``None`` if it ran past ``timeout_s`` (default: the environment's limit)."""
    out.unlink(missing_ok=True)
    out.with_name(out.name + ".running").unlink(missing_ok=True)  # the progress file of an earlier process
    env = {key: value for key, value in os.environ.items() if key not in _HOST_ONLY_VARS}
    cache = environments.cache_dir()
    env.update(spec.process_env(cache))
    compiled = environments.compiled_programs_dir(cache, spec.name)  # JAX keeps its programs there between runs
    command = shipped.launch_command(python, ["--out", str(out.resolve()), "--env", spec.name, "--compile-cache", str(compiled),
                                              *arguments])
    log_file.write("$ " + " ".join(command) + "\n")
    log_file.flush()
    # A session of its own, so a timeout kills the probe and every process it started.
    process = subprocess.Popen(
        command, cwd=project_root, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
    )
    with _RUNNING_LOCK:
        _RUNNING.add(process)
    try:
        return process.wait(timeout=settings.environment_timeout_s if timeout_s is None else timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return None
    finally:
        with _RUNNING_LOCK:
            _RUNNING.discard(process)


def _partial(out: Path) -> Result | None:
    """What a probe that did not finish had written: the tasks it completed (the probe rewrites its file
    after every task), or ``None``."""
    try:
        return load_result(out) if out.is_file() else None
    except InputError:
        return None


def _exclusive(spec: EnvSpec, log: Callable[[str], None]) -> AbstractContextManager[Any]:
    """Hold the lock of the resource the spec names as ``exclusive`` (e.g. a shared Theano compile
    folder, which two compiling processes corrupt), so such environments never probe at the same time."""
    if not spec.exclusive:
        return contextlib.nullcontext()
    log(f"waiting for exclusive use of {spec.exclusive!r}")
    return FileLock(str(environments.cache_dir() / f"exclusive-{spec.exclusive}.lock"))


def _spec_record(spec: EnvSpec) -> dict:
    return {
        "requirements": list(spec.requirements),
        "python": spec.python,
        "backend": spec.backend,
        "tags": list(spec.tags),
        "env": dict(spec.env_vars),
        "description": spec.description,
        "install_key": spec.install_key(),
        "deterministic": spec.deterministic,
        "hooks": list(spec.hooks),
        "hooks_added": dict(spec.hooks_added),
        "requirements_added": dict(spec.requirements_added),
        "file_sha256": hashlib.sha256(spec.path.read_bytes()).hexdigest(),
    }


def _tail(path: Path) -> str:
    lines = printable(path.read_text(encoding="utf-8", errors="replace")).splitlines()
    return "\n".join(lines[-LOG_TAIL_LINES:])
