"""Run every task in one process and write the result file atomically.

The result goes to the file named by ``--out``, never to stdout: frameworks print freely, and the host
must not parse their chatter. A task that raises is recorded with its error and the others still run.
The file is rewritten after every task, marked ``partial`` until the last: a probe that is killed, crashes
or times out still leaves the tasks it finished. Each task has its own time budget (``--task-timeout``).

With ``--trials FILE`` the probe runs interventions instead (see :mod:`probe.overrides`): each trial is one
run of one task with some overrides in force, and the file written holds each trial's metrics, the
overrides it applied, and its error if it raised.
With ``--load PLAN`` it loads saved models instead (see :mod:`probe.saving`), after the trials the plan
names: an environment that needs a process of its own to load takes its repeats along in it.

A process that dies natively (a segmentation fault, an abort) leaves its finished tasks in the result file
and, in :mod:`probe.progress`'s file, the task and phase it died in; ``faulthandler`` writes its stack to
the log. The host then starts another process with ``--resume`` (the tasks already done are not run
again) and ``--without`` the mechanism that was in force (see :data:`progress.MECHANISMS`).
"""

import argparse
import contextlib
import faulthandler
import fnmatch
import importlib.util
import json
import math
import os
import time
import traceback

from probe import batch_order, canaries, fingerprint, frameworks, introspect, optimizers, oracle, overrides, pace, progress, records, saving, script, sweep, tasks
from probe.sweep import selection, tables
from probe.numbers import json_scalar, plain
from probe.state import STATE
from probe.task import select, through_door, touches

SCHEMA_VERSION = 1


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m probe", description=__doc__)
    parser.add_argument("--out", required=True, help="where to write the result JSON")
    parser.add_argument("--env", default="", help="the environment's name, recorded in the result")
    parser.add_argument("--tasks", default="", help="comma-separated globs of task names (default: all)")
    parser.add_argument("--probes", default="", help="a folder of the user's own probe modules, each defining TASKS")
    parser.add_argument(
        "--repeats", type=int, default=2, help="runs of each task with the same seeds; their spread is the noise floor"
    )
    parser.add_argument(
        "--task-timeout", type=float, default=0, help="seconds one task (all its repeats) may take before it fails; 0: no limit"
    )
    parser.add_argument("--trials", default="", help="a JSON file of interventions to run instead of the tasks")
    parser.add_argument(
        "--repeat-drifting", default="",
        help="a JSON file of the baseline's metrics, the tolerances and a repeat count: a task run once with a metric "
             "beyond tolerance is repeated at once, in this process")
    parser.add_argument("--artifacts", default="", help="a folder to save each model task's trained model in, in every format")
    parser.add_argument(
        "--load", default="",
        help='a JSON file {"sources": [{"env", "direction", "folder"}], "user_models": [{"name", "path", "input"}], '
             '"trials": [as --trials]}: run those trials, if any, then load those saved models, instead of running tasks')
    parser.add_argument("--load-after", default="", help="a load plan (as --load) carried out after the tasks, in this process")
    parser.add_argument("--unsafe-load", action="store_true", help="load with the library's safe mode off (trusted files only)")
    parser.add_argument(
        "--compile-cache", default="", help="a folder where the backend keeps compiled programs between runs (JAX); results do not depend on it")
    parser.add_argument(
        "--without", default="",
        help="optional mechanisms to leave off, comma-separated (%s): one was in force when an earlier process died natively"
             % ", ".join(progress.MECHANISMS))
    parser.add_argument("--script", default="", help="your training script, run unchanged as the task script")
    parser.add_argument("--script-args", default="[]", help="its arguments, as a JSON list of strings")
    parser.add_argument("--script-unrecorded", action="store_true", help="run the script without recording its calls (to time it)")
    parser.add_argument(
        "--sweep", choices=tables.MODES, default=tables.DEFAULT_MODE,
        help="the API sweep (probe/sweep/), run after the other tasks: a fixed core plus the classes they constructed "
             "(targeted), every public entry (full), or none (off)")
    parser.add_argument(
        "--resume", default="",
        help='the partial result of an earlier process of this environment: its finished tasks are kept and not run again, '
             'and those it names under "crashed" ({task: reason}) are recorded as failed')
    args = parser.parse_args(argv)
    faulthandler.enable()  # a native crash writes every thread's Python stack to the log before the process dies
    args.without = set(name for name in args.without.split(",") if name)
    unknown = args.without - set(progress.MECHANISMS)
    if unknown:
        parser.error("--without: unknown mechanism %s (known: %s)" % (", ".join(sorted(unknown)), ", ".join(progress.MECHANISMS)))
    if "records" in args.without:
        records.disable()
    if "compile-cache" in args.without:
        args.compile_cache = ""
    if "saving" in args.without:
        args.artifacts = ""
    if "loading" in args.without:
        args.load_after = ""
    selection.SETTINGS.mode = args.sweep
    script.SETTINGS.path = os.path.abspath(args.script) if args.script else None
    script.SETTINGS.args = json.loads(args.script_args)
    script.SETTINGS.recorded = not args.script_unrecorded
    script.SETTINGS.env = args.env
    selection.SETTINGS.scratch = os.path.abspath(args.out + ".sweep-scratch")
    progress.start(args.out, ())
    wanted = [pattern for pattern in args.tasks.split(",") if pattern]
    if args.trials:
        run_trials(args)
        return
    if args.load:
        run_loads(args)
        return

    started = time.time()
    keras = frameworks.load_keras(args.compile_cache)
    _watch(keras)
    import_s = time.time() - started
    progress.start(args.out, _mechanisms(args))
    result = {
        "schema_version": SCHEMA_VERSION,
        "env": args.env,
        "status": "ok",
        "metrics": {},
        "series": {},
        "errors": {},
        "timings": {"import_s": 0.0, "tasks_s": {}},
    }
    if args.resume:
        result.update(_load_json(args.resume))
    result["timings"]["import_s"] += import_s  # every process's import, after a restart too
    crashed = result.pop("crashed", {})
    seeding = frameworks.seed_everything(keras, tasks.SEED)
    for key, empty in (("facts", {}), ("noise", {}), ("not_applicable", {}), ("tasks", {})):
        result.setdefault(key, empty)
    result.update(repeats=max(1, args.repeats), partial=True)
    available, custom_objects = available_tasks(args.probes, result)
    watch = _load_json(args.repeat_drifting) if args.repeat_drifting else None
    if args.artifacts:
        result.setdefault("artifacts", {})
    chosen = list(select(available, wanted))
    for number, task in enumerate(chosen, start=1):
        progress.enter(task.name, "task", of=(number, len(chosen)))
        if task.name in result["tasks"]:  # finished by an earlier process of this environment (--resume)
            continue
        if task.kind == "sweep":  # the classes the tasks before it constructed, this process's and a resumed one's
            selection.SETTINGS.called = selection.called_in(result["facts"])
        if task.name in crashed:  # it died natively with nothing left to leave off: recorded, not run again
            result["tasks"][task.name] = dict(task.declaration(), status="failed")
            result["errors"][task.name] = crashed[task.name]
        else:
            _run_task(task, keras, result, args.task_timeout, watch, args.artifacts)
        write_atomically(args.out, result)
    sections = (
        ("introspection", lambda: {"defaults": _defaults(keras, result), "api": introspect.api_behaviour(keras),
                                   "api_surface": introspect.api_surface(keras), "api_surface_doors": introspect.door_surfaces()}),
        ("oracle", lambda: dict((dtype, oracle.expected(dtype)) for dtype in ("float64", "float32"))),
        ("fingerprint", lambda: fingerprint.collect(keras, seeding)),
    )
    for name, collect in sections:
        progress.enter(progress.OUTSIDE, name)
        try:
            result[name] = collect()
        except Exception as exc:  # the task results above are worth keeping without it
            result["errors"][name] = _error_text(exc)
            traceback.print_exc()
    if args.load_after:
        _load_after(args, keras, result, available, custom_objects)
    result["timings"]["total_s"] = time.time() - started
    result["timings"]["records_s"] = result["timings"].get("records_s", 0.0) + STATE.records_seconds
    del result["partial"]
    write_atomically(args.out, result)
    progress.finish()


def _watch(keras):
    """Watch every door's optimizers for the ``lr=`` spelling (:func:`optimizers.watch_api_calls`) and the
    public classes the tasks construct (:func:`selection.watch_constructions`)."""
    for _, module in STATE.doors or [(None, keras)]:
        optimizers.watch_api_calls(module)
        selection.watch_constructions(module)


def _mechanisms(args):
    """The optional mechanisms in force in this process (see :data:`progress.MECHANISMS`)."""
    return [name for name, on in (("compile-cache", STATE.compile_cache_on), ("records", records.enabled()),
                                  ("saving", bool(args.artifacts)), ("loading", bool(args.load_after or args.load)))
            if on]


def _load_after(args, keras, result, available, custom_objects):
    """Carry out the load plan of ``--load-after`` in this process (one import for the tasks and the loads);
    a failure is recorded under ``errors["saved models"]`` and leaves the tasks' results as they are."""
    started = time.time()
    progress.enter(progress.OUTSIDE, "loading")
    result.update(loads=[], user_models=[])
    try:
        carry_out(_load_json(args.load_after), keras, result, available, custom_objects, args.unsafe_load,
                  growing_writer(args.out, result, ("loads", "user_models")))
    except Exception as exc:
        result["errors"]["saved models"] = _error_text(exc)
        traceback.print_exc()
    result["timings"]["loads_in_probe_s"] = time.time() - started


def carry_out(plan, keras, result, available, custom_objects, unsafe, save):
    """Load the user's files and every source of ``plan`` (see :mod:`probe.saving`) into ``result["loads"]``
    and ``result["user_models"]``, calling ``save()`` after each; ``available`` tasks rebuild architectures."""
    by_name = dict((task.name, task) for task in available)
    for model in plan.get("user_models", []):
        result["user_models"].append(saving.load_user_model(keras, model, custom_objects, unsafe))
        save()

    def record(attempt):
        result["loads"].append(attempt)
        save()

    for source in plan.get("sources", []):
        saving.load_source(keras, source, by_name, custom_objects, unsafe, record)


def run_trials(args):
    """Run each trial of ``args.trials`` (``{"trials": [{"id", "task", "overrides"}]}``) once and write
    ``{"env", "trials": {id: {"task", "metrics", "applied", "error", "seconds"}}}`` after each."""
    _after_probe(args, _load_json(args.trials)["trials"], None)


def run_loads(args):
    """Run the trials the plan of ``args.load`` names, if any (an environment's drifting tasks repeated:
    they take no process of their own), then load what it plans (see :mod:`probe.saving`); write ``{"env",
    "trials", "loads": [attempt], "user_models": [outcome]}`` after each, ``partial`` until the last."""
    plan = _load_json(args.load)
    _after_probe(args, plan.get("trials", []), plan)


def _after_probe(args, trials, load_plan):
    """A probe process after the probes: ``trials`` first, each as a fresh trials process runs it (one
    task under its overrides, records off), then the ``load_plan``, if any."""
    started = time.time()
    keras = frameworks.load_keras(args.compile_cache)
    _watch(keras)
    frameworks.seed_everything(keras, tasks.SEED)
    records.disable()
    progress.start(args.out, _mechanisms(args))
    result = {"schema_version": SCHEMA_VERSION, "env": args.env, "trials": {}, "errors": {}, "partial": True,
              "timings": {"import_s": time.time() - started}}
    available, custom_objects = available_tasks(args.probes, result)
    by_name = dict((task.name, task) for task in available)
    for number, trial in enumerate(trials, start=1):
        progress.enter(trial["task"], "task", of=(number, len(trials)))
        result["trials"][trial["id"]] = _trial(keras, trial, by_name, args.task_timeout)
        write_atomically(args.out, result)
    if load_plan is not None:
        progress.enter(progress.OUTSIDE, "loading")
        loading = time.time()
        result.update(loads=[], user_models=[])
        carry_out(load_plan, keras, result, available, custom_objects, args.unsafe_load,
                  growing_writer(args.out, result, ("loads", "user_models")))
        result["timings"]["loads_s"] = time.time() - loading
    result["timings"]["total_s"] = time.time() - started
    del result["partial"]
    write_atomically(args.out, result)
    progress.finish()


def _trial(keras, trial, by_name, task_timeout):
    """One run of one task with the trial's overrides in force: its metrics, final weights, the overrides
    it applied, its error, seconds and training steps."""
    outcome = {"task": trial["task"], "metrics": {}, "applied": [], "error": None}
    started, steps_before = time.time(), STATE.steps
    STATE.start_task_run()
    overrides.start(trial.get("overrides", {}))
    try:
        if trial["task"] not in by_name:
            raise frameworks.NotApplicable("no task %s here" % trial["task"])
        with _budget(task_timeout):
            metrics, _, facts = by_name[trial["task"]].run(keras)
        outcome["metrics"] = dict((key, json_scalar(value)) for key, value in metrics.items())
        outcome["final_weights"] = facts.get("final_weights")
    except pace.TaskTimeout:
        outcome["error"] = _timeout_message(time.time() - started, tasks.PROGRESS)
    except pace.SlowTask as slow:
        outcome["error"] = str(slow)
    except Exception as exc:
        outcome["error"] = _error_text(exc)
        traceback.print_exc()
    finally:
        outcome["applied"] = overrides.stop()
    outcome["seconds"] = time.time() - started
    outcome["steps"] = STATE.steps - steps_before
    return outcome


def available_tasks(folder, result):
    """Every task this probe can run, the built-in ones and the user's (:func:`user_probes`), then each of
    them again through every other door to Keras that reaches other classes than the documented one
    (:func:`door_tasks`), then the API sweep's (last: a targeted sweep exercises what the others
    constructed), and the user's custom objects, as ``(tasks, custom_objects)``."""
    found, custom_objects = user_probes(folder, result)
    every = list(tasks.TASKS) + list(canaries.CANARIES) + found + script.tasks()
    return every + door_tasks(every, STATE.doors, frameworks.door_differences()) + sweep.tasks(), custom_objects


# The settings prefix a differing class of a namespace is declared under (``optimizer.Adam.``, ``dense.``).
_DECLARED_AS = {"optimizers": "optimizer.%s.", "layers": "%s.", "losses": "loss.%s."}


def door_tasks(every, doors, differences):
    """The tasks that call a class another door reaches as another object (see :func:`frameworks.door_differences`),
    run through that door too (:func:`task.through_door`): on TensorFlow 2.11 and 2.12, ``import keras``
    gives the legacy optimizers where ``tf.keras`` gives the new ones."""
    modules = dict(doors)
    found = []
    for door, difference in sorted(differences.items()):
        prefixes = []
        for qualified in difference["differs"]:
            namespace, name = qualified.split(".", 1)
            if namespace in _DECLARED_AS:
                prefixes.append(_DECLARED_AS[namespace] % (name if namespace != "layers" else name.lower()))
        found.extend(through_door(task, door, modules[door]) for task in every if touches(task, difference["differs"], tuple(prefixes)))
    return found


def user_probes(folder, result):
    """The tasks of the user's own probe modules (``*.py`` in ``folder``, each defining ``TASKS``) and the
    custom objects they declare for loading saved models (``CUSTOM_OBJECTS``, optional), as ``(tasks,
    custom_objects)``; a module that cannot be imported is recorded as an error under ``probes/<file>``
    and left out."""
    found, custom_objects = [], {}
    if not folder:
        return found, custom_objects
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".py") or name.startswith("_"):
            continue
        path = os.path.join(folder, name)
        try:
            spec = importlib.util.spec_from_file_location("keras_drift_user_probe_" + name[:-3], path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            found.extend(module.TASKS)
            custom_objects.update(getattr(module, "CUSTOM_OBJECTS", {}))
        except Exception as exc:
            result["errors"]["probes/" + name] = _error_text(exc)
            traceback.print_exc()
    return found, custom_objects


def _defaults(keras, result):
    """The library's resolved defaults, with those the tasks found in force (``facts.resolved_defaults``)."""
    found = introspect.resolved_defaults(keras)
    for facts in result["facts"].values():
        found.update(facts.get("resolved_defaults", {}))
    return found


def _error_text(exc):
    """An exception as the result records it: its type and message, without the traceback."""
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


# A task projected to take longer than this is cut short (see :class:`pace.Pace`); at most half its budget.
SLOW_TASK_S = 120.0


@contextlib.contextmanager
def _budget(timeout_s):
    """Raise :class:`pace.TaskTimeout` in the block once ``timeout_s`` seconds have passed (0: no limit), and
    :class:`pace.SlowTask` once its steps show it would take far longer than a task should."""
    tasks.PROGRESS.update(step=0, of=0)
    pace.PACE.start(min(SLOW_TASK_S, timeout_s / 2) if timeout_s > 0 else SLOW_TASK_S, tasks.PROGRESS)
    try:
        with pace.deadline(timeout_s):
            yield
    finally:
        pace.PACE.stop()


def _run_task(task, keras, result, timeout_s=0, watch=None, artifacts=""):
    """Run one task ``result["repeats"]`` times (once if it needs no repeat), or, told the baseline's
    metrics (``watch``: ``--repeat-drifting``), as often as ``watch["repeats"]`` when its first run drifts
    from them; keep the first run, record the spread of the others; record its declaration and whether it
    ran, was skipped or failed. A model task's first run is saved under ``artifacts`` when given."""
    name = task.name
    result["tasks"][name] = dict(task.declaration(), status="failed")
    runs = []
    budget_started = time.time()
    planned = result["repeats"] if task.repeat else 1
    try:
        with _budget(timeout_s):
            repeat = 0
            while repeat < planned:
                task_started, steps_before, compiling_before = time.time(), STATE.steps, STATE.compile_seconds
                STATE.start_task_run()
                try:
                    metrics, series, facts = task.run(keras)
                    if STATE.api_calls:
                        facts = dict(facts, api_calls=sorted(STATE.api_calls))
                    if STATE.constructed:
                        facts = dict(facts, constructed=sorted(STATE.constructed))
                    if STATE.step_losses:
                        facts = dict(facts, step_losses=[json_scalar(loss) for loss in STATE.step_losses])
                    facts = dict(facts, **batch_order.facts())
                finally:
                    result["timings"]["tasks_s"][name + "#" + str(repeat)] = time.time() - task_started
                    result["timings"].setdefault("steps", {})[name] = STATE.steps - steps_before
                    if STATE.compile_seconds > compiling_before:
                        result["timings"].setdefault("compile_s", {})[name + "#" + str(repeat)] = STATE.compile_seconds - compiling_before
                if repeat == 0:  # later repeats only measure the noise
                    _keep(name, metrics, series, facts, result)
                    if artifacts and task.saving is not None:
                        _save_artifacts(keras, task, artifacts, result)
                    if task.repeat and watch and planned < watch["repeats"] and drifts_from_baseline(metrics, watch):
                        planned = watch["repeats"]
                runs.append(metrics)
                repeat += 1
    except frameworks.NotApplicable as reason:
        result["not_applicable"][name] = str(reason)
        result["tasks"][name]["status"] = "skipped"
        return
    except pace.SlowTask as slow:  # a slowdown to report, with what its first steps measured; not a failure
        result["not_applicable"][name] = str(slow)
        measured = dict((key, json_scalar(value)) for key, value in slow.measured.items())
        result["tasks"][name].update(status="skipped", cut_short=measured)
        return
    except pace.TaskTimeout:
        result["errors"][name] = _timeout_message(time.time() - budget_started, tasks.PROGRESS)
        return
    except Exception as exc:  # one broken task must not hide the others
        result["errors"][name] = _error_text(exc)
        traceback.print_exc()
        return
    if name not in result["errors"]:
        result["tasks"][name]["status"] = "ok"
    result["tasks"][name]["runs"] = len(runs)
    if len(runs) > 1:  # a task run once measured no noise: it has none recorded (the floor is then 0)
        for key in runs[0]:  # only the repeats that recorded the metric measure its spread
            spreads = [_spread(run[key], runs[0][key]) for run in runs if key in run]
            result["noise"][key] = json_scalar(max(spreads))


def _save_artifacts(keras, task, folder, result):
    """Save the model the task trained in every format; a failure is recorded, and the task still counts."""
    started = time.time()
    previous = progress.phase("saving")
    try:
        manifest = saving.save(keras, task.name, task.saving, folder)
        if manifest is not None:
            result["artifacts"][task.name] = manifest
    except Exception as exc:
        result["artifacts"][task.name] = {"error": saving.error_line(exc)}
        traceback.print_exc()
    finally:
        progress.phase(previous)
    timings = result["timings"]
    timings["artifacts_s"] = timings.get("artifacts_s", 0.0) + time.time() - started


def drifts_from_baseline(metrics, watch):
    """Whether a metric differs from the baseline's (``watch["metrics"]``) beyond its tolerance: the first
    ``(pattern, atol, rtol)`` of ``watch["tolerances"]`` that matches, as the host judges, else exact. Only
    decides whether to repeat at once: the host still judges every metric."""
    for key, value in metrics.items():
        if key not in watch["metrics"]:
            continue
        expected = watch["metrics"][key]
        if _is_number(value) and _is_number(expected):
            atol, rtol = next(((atol, rtol) for pattern, atol, rtol in watch["tolerances"] if fnmatch.fnmatchcase(key, pattern)), (0.0, 0.0))
            a, b = float(value), float(expected)
            if (a != a) != (b != b) or (a == a and a != b and abs(a - b) > atol + rtol * abs(b)):
                return True
        elif json_scalar(value) != expected:
            return True
    return False


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _load_json(path):
    with open(path) as handle:
        return json.load(handle)


def _timeout_message(elapsed, progress):
    """What a task knew when its budget ran out, e.g. 'step 212 of 1001 after 300 s, 1.4 s per step'."""
    if progress.get("of") and progress.get("step"):
        return "timed out: step %d of %d after %.0f s, %.3g s per step" % (
            progress["step"], progress["of"], elapsed, elapsed / progress["step"])
    return "timed out after %.0f s" % elapsed


def _keep(name, metrics, series, facts, result):
    """Record the first run of a task: its metrics, series and facts, with what the oracle recomputes from
    its final weights (``recomputed``) where it can."""
    result["metrics"].update((key, json_scalar(value)) for key, value in metrics.items())
    for series_name, columns in series.items():
        result["series"][series_name] = _json_series(columns)
    recomputed = oracle.recompute(name, facts.get("final_arrays"))
    facts = dict(facts, recomputed=recomputed) if recomputed else dict(facts)
    if "sweep" in facts:  # the sweep's entries, with their snippets: a section of the result of their own
        result.setdefault("sweep", {}).update(facts.pop("sweep"))
    non_finite = sorted(key for key, value in metrics.items() if isinstance(value, float) and not math.isfinite(value))
    if non_finite:  # training diverged: the values are kept and compared (NaN against a number is a drift)
        facts["non_finite"] = non_finite
    result["facts"][name] = facts


def _spread(value, first):
    """How far a repeat moved from the first run: 0.0 when bitwise equal (NaN included)."""
    if value == first or (value != value and first != first):
        return 0.0
    if isinstance(value, (int, float)) and isinstance(first, (int, float)):
        return abs(float(value) - float(first))
    return float("nan")


def write_atomically(path, data):
    """Write JSON to ``path`` through a temporary file and a rename, so no reader sees half a file.

    Written after every task (and every load attempt: :func:`growing_writer`), so it must be cheap:
    ``json.dumps`` without ``indent`` runs in C (``json.dump``, or any ``indent``, encodes in Python: 22 ms
    for a 375 KB result against 10 ms).
    The host writes the result it keeps indented."""
    _replace_text(path, encode(data))


def encode(data):
    """``data`` as the result file's JSON: non-finite floats spelt as :func:`json_scalar` spells them and NumPy
    values as plain ones, wherever they are (a metric, a series, a fact, a record, a load outcome). Tasks
    spell what they know to be numbers; whatever slipped through is caught here instead of killing the
    writer, at the cost of a second, walked encoding only when there is something to mend."""
    try:
        return json.dumps(data, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):  # NaN, an infinity or a NumPy value somewhere nothing spelt it
        return json.dumps(plain(data), sort_keys=True, allow_nan=False, default=repr)


def growing_writer(path, data, growing):
    """A ``write()`` of ``data`` to ``path``, as :func:`write_atomically`, for a stretch in which only the
    entries named in ``growing`` change (the load attempts after the tasks): the rest is encoded once.
    A result's finished tasks are about 375 KB, 8 ms to encode, and it is written after every attempt."""
    fixed = encode(dict((key, value) for key, value in data.items() if key not in growing))

    def write():
        changing = encode(dict((key, data[key]) for key in growing))
        if changing == "{}" or fixed == "{}":
            _replace_text(path, fixed if changing == "{}" else changing)
        else:
            _replace_text(path, fixed[:-1] + ", " + changing[1:])

    return write


def _replace_text(path, text):
    temporary = path + ".tmp"
    with open(temporary, "w") as handle:
        handle.write(text)
    os.replace(temporary, path)


def _json_series(series):
    return dict((key, [json_scalar(value) for value in values]) for key, values in series.items())
