"""The benchmark behind ``nox -s bench``: what a drift run costs, and how much of it is keras-drift's own.

The physical floor of a run is, per environment, its install plus the interpreter's start and the
framework's import plus the probe's compute. Everything else is the tool's overhead. Runs over the same
selection, each as ``drift --no-explain`` does it (adaptive repeats included): cold (an empty environment
folder and an empty keras-drift cache folder, so JAX compiles every program again; uv's download cache as
it is), warm (environments reused) and warm in parallel, all three without
reading the result cache; then a re-run with nothing changed (every result from the cache), and a
pre-bump review (the selection plus one new environment file, ``--bump``), the full API sweep alone
(what the nightly's sweep costs; the warm run's own sweep is the targeted one), the example scripts (the seed case's linear fit,
the Adam classifier) with their calls recorded and without, in two rounds of alternating order, the sweep off (what
recording costs); then the report is rendered for the run and for a
large generated matrix.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import json
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from keras_drift import drift, pipeline
from keras_drift.envs.specs import EnvSpec
from keras_drift.execute.cache import ResultCache
from keras_drift.judge import compare
from keras_drift.store import history
from keras_drift.store.results import Result, write_json_atomically
from keras_drift.store.verdicts import VERDICTS_FILE

TARGET_WARM_RATIO = 1.15
TARGET_RENDER_S = 2.0
TARGET_CACHED_S = 10.0
TARGET_LOADS_SHARE = 0.15  # "the load phase ... at most 15% on the warm default matrix" (the saved-models issue)
TARGET_SWEEP_SHARE = 0.25  # canaries plus the targeted sweep, over the rest of a warm run (issue 39)
TARGET_SCRIPT_OVERHEAD = 0.10  # what recording a script's calls may add to its own run time (issue 40)
# The scripts bench times: the seed case's linear fit (1001 recorded train_on_batch calls) and the Adam
# classifier (fit(), whose batch order and first steps' losses are recorded too).
SCRIPTS = ("examples/linear_fit.py", "examples/adam_classifier.py")
SCRIPT_ROUNDS = 2  # rounds of each script with and without recording; the quickest first run of each counts
# The report's size: the default matrix's at most 300 KiB (a reviewer's page); 40 generated environments in
# which every number moves (so every model task is localised in every one of them) at most 6 MiB.
TARGET_REPORT_BYTES = 300 * 1024
TARGET_REPORT_40_BYTES = 6 * 1024 * 1024


def env_costs(result: Result) -> dict[str, float]:
    """Split one environment's wall time into install, start + import, compute and overhead (a result
    from the cache cost only its wall time: its other timings are those of the run that probed it)."""
    timings = result.get("timings", {})
    if result.cached_from:
        return {"install_s": 0.0, "start_import_s": 0.0, "compute_s": 0.0, "overhead_s": timings.get("wall_s", 0.0),
                "wall_s": timings.get("wall_s", 0.0)}
    compute = timings.get("total_s", 0.0) - timings.get("import_s", 0.0)
    start_import = timings.get("probe_process_s", 0.0) - compute
    install = timings.get("install_s", 0.0)
    wall = timings.get("wall_s", 0.0)
    return {
        "install_s": install,
        "start_import_s": start_import,
        "compute_s": compute,
        "overhead_s": wall - install - start_import - compute,
        "wall_s": wall,
    }


def task_seconds_by_kind(results: Sequence[Result]) -> dict[str, float]:
    """Probe seconds spent in tasks of each kind (``seed``, ``canary``, ``user``), summed over environments."""
    seconds: dict[str, float] = {}
    for result in results:
        for key, spent in result.get("timings", {}).get("tasks_s", {}).items():
            kind = result.tasks.get(key.rsplit("#", 1)[0], {}).get("kind", "unknown")
            seconds[kind] = seconds.get(kind, 0.0) + spent
    return seconds


def timed_run(plan: drift.DriftPlan) -> dict[str, Any]:
    """One run of the drift sequence as `keras-drift drift --no-explain` runs it (:func:`drift.run_drift`:
    probe everywhere or reuse cached results, load the saved models, repeat the drifting tasks, render), timed."""
    started = time.monotonic()
    outcome = drift.run_drift(replace(plan, explain=False))
    results, rendered = outcome.results, outcome.rendered
    # what each environment's load phase added to the run (runner: a process the repeats needed anyway is theirs)
    load_s = sum(result.get("timings", {}).get("load_s", 0.0) for result in results)
    render_s = outcome.seconds["render"]
    return {
        "wall_s": time.monotonic() - started,
        "render_s": render_s,
        # saving and loading inside the probes, and the load phase: what saved models add to the run
        "saved_models_s": load_s + sum(result.get("timings", {}).get(name, 0.0) for result in results if not result.cached_from
                                       for name in ("artifacts_s", "loads_in_probe_s")),
        # of which the loading alone: inside the probes, and the load phase
        "loads_s": load_s + sum(result.get("timings", {}).get("loads_in_probe_s", 0.0) for result in results if not result.cached_from),
        "html_bytes": rendered.report_path.stat().st_size,
        "results": results,
        "verdicts": {env: section["metrics"] for env, section in rendered.document["environments"].items()},
        "envs": {result.env: env_costs(result) for result in results},
        "cached": sorted(result.env for result in results if result.cached_from),
    }


def generated_matrix(template: Result, count: int) -> list[Result]:
    """``count`` environments cloned from a real result with slightly moved metrics, for render timing."""
    generated = []
    for index in range(count):
        clone = copy.deepcopy(template)
        clone["env"] = f"generated-{index:02d}"
        clone["metrics"] = {
            key: value * (1 + 1e-3 * (index % 7)) if isinstance(value, float) else value
            for key, value in template["metrics"].items()
        }
        generated.append(clone)
    return generated


RELEASE_EVERY = 30  # days: the generated nightly values hold for a month, then every number moves a little


def released(document: dict[str, Any], day: int) -> tuple[str, dict[str, Any]]:
    """A verdicts document as the nightly of ``day`` would write it (as text) and its ``history.json``: each
    number moved by a relative 1e-4 per release since day 0, as a monthly dependency bump might."""
    factor = 1 + 1e-4 * (day // RELEASE_EVERY)
    moved = copy.deepcopy(document)
    for entry in moved["environments"].values():
        for row in entry["metrics"].values():
            if isinstance(row["value"], float):  # counts (epochs, steps) stay whole
                row["value"] *= factor
    return json.dumps(moved), history.compact(moved)


def render_generated(template: Result, count: int, out: Path, history_runs: int = 0) -> dict[str, float]:
    """Render time and size of a run over ``count`` generated environments, with ``history_runs`` earlier
    nightly runs of them in the same reports folder (history loading included in the time), whose values
    move once a month (:func:`released`), so that every numeric metric draws a sparkline. The page is
    kept in ``out`` as ``generated-<count>x<history_runs>.html``."""
    results = generated_matrix(template, count)
    baseline = results[0].env
    tolerances = compare.load_tolerances()
    reports = out / f"history-{count}x{history_runs}"
    document = pipeline.verdicts_document(pipeline.judge(results, baseline, tolerances), results, baseline, run_id="generated")
    releases = {release: released(document, release) for release in range(0, history_runs, RELEASE_EVERY)}
    for day in range(history_runs):
        run = reports / f"2025{day:04d}T000000Z-000000"
        run.mkdir(parents=True)
        verdicts_text, compact = releases[day - day % RELEASE_EVERY]
        (run / VERDICTS_FILE).write_text(verdicts_text)
        write_json_atomically(run / history.HISTORY_FILE, compact)
    current = reports / "20260101T000000Z-ffffff"
    current.mkdir(parents=True)
    started = time.monotonic()
    rendered = pipeline.render_run(current, results, baseline, tolerances=tolerances, history_window=history_runs)
    elapsed = time.monotonic() - started
    page = rendered.report_path.replace(out / f"generated-{count}x{history_runs}.html")  # kept to look at
    shutil.rmtree(reports)
    return {"environments": count, "history_runs": history_runs, "render_s": elapsed, "html_bytes": page.stat().st_size}


def run_benchmark(plan: drift.DriftPlan, bench_dir: Path, *, cold: bool = True, bump: EnvSpec | None = None) -> dict[str, Any]:
    """Cold, warm and parallel runs (result cache disabled), a cached re-run, a pre-bump review (``bump``
    added to the selection), plus render timings; written as JSON under ``bench_dir``. Each run is the
    drift sequence of ``plan`` (its environments, baseline, probe settings and ``jobs`` for the parallel
    run), without explaining re-runs and without history.

    With ``cold`` the first run builds every environment in an empty folder; without it, the environments
    of ``plan.venvs_dir`` are reused and the cold run is skipped.
    """
    specs, jobs = list(plan.specs), plan.jobs
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    work = Path(tempfile.mkdtemp(prefix=f"bench-{stamp}-", dir=bench_dir))
    venvs = work / "venvs" if cold else plan.venvs_dir
    results_cache, everyone = ResultCache(work / "cache"), {spec.name for spec in specs}
    runs = {}
    # name, selection, jobs, cache lookups: the warm run fills the cache without reading it
    planned = ([("cold", specs, 1, None, ())] if cold else []) + [
        ("warm", specs, 1, results_cache, everyone), ("parallel", specs, jobs, None, ()), ("cached", specs, 1, results_cache, ())]
    if bump is not None:
        planned.append(("review", [*specs, bump], 1, results_cache, ()))
    judging = replace(plan.judging, history_window=0)
    for name, selection, run_jobs, use_cache, rerun in planned:
        with _cache_folder(work / "cold-cache") if name == "cold" else contextlib.nullcontext():
            runs[name] = timed_run(replace(plan, specs=tuple(selection), run_dir=work / name, venvs_dir=venvs, jobs=run_jobs,
                                           results_cache=use_cache, rerun=frozenset(rerun), judging=judging))
    # The API sweep (issue 39): the full sweep alone, per environment (the warm run sweeps as the plan says).
    runs["full_sweep"] = timed_run(replace(plan, run_dir=work / "full_sweep", venvs_dir=venvs, jobs=1, results_cache=None, judging=judging,
                                           settings=replace(plan.settings, sweep="full", tasks=("sweep.*",))))
    # Scripts, unchanged (issue 40): each example with its calls recorded, and without, in SCRIPT_ROUNDS rounds of
    # alternating order (which goes first pays for warming the caches); no sweep, which is not the script's time.
    scripts = [plan.project_root / script for script in SCRIPTS if (plan.project_root / script).is_file()]
    script_rounds: dict[str, dict[bool, list[dict[str, Any]]]] = {}  # script -> recorded or not -> its rounds
    for script in scripts:
        rounds = script_rounds[script.stem] = {True: [], False: []}
        for number in range(1, SCRIPT_ROUNDS + 1):
            for recorded in (True, False) if number % 2 else (False, True):
                kind = "script" if recorded else "script_plain"
                runs[f"{kind}:{script.stem}#{number}"] = timed_run(replace(
                    plan, run_dir=work / f"{kind}-{script.stem}-{number}", venvs_dir=venvs, jobs=1, results_cache=None, judging=judging,
                    settings=replace(plan.settings, tasks=("script",), script=script, script_recorded=recorded, sweep="off")))
                rounds[recorded].append(runs[f"{kind}:{script.stem}#{number}"])
    warm, parallel, cached = runs["warm"], runs["parallel"], runs["cached"]
    floor = sum(costs["start_import_s"] + costs["compute_s"] for costs in warm["envs"].values())
    summary = {
        "date": stamp,
        "machine": f"{platform.platform()}, {os.cpu_count()} cores",
        "environments": [spec.name for spec in specs],
        "cold_wall_s": runs["cold"]["wall_s"] if "cold" in runs else None,
        "warm_wall_s": warm["wall_s"],
        "parallel_wall_s": parallel["wall_s"],
        "parallel_jobs": jobs,
        "parallel_speedup": warm["wall_s"] / parallel["wall_s"],
        "warm_floor_s": floor,
        "warm_ratio": warm["wall_s"] / floor if floor else None,
        "warm_ratio_target": TARGET_WARM_RATIO,
        "parallel_matches_sequential": _same_metrics(warm["results"], parallel["results"]),
        "warm_repeated_tasks": {result.env: result.repeated_tasks for result in warm["results"] if result.repeated_tasks},
        "cached_wall_s": cached["wall_s"],
        "cached_hits": len(cached["cached"]),
        "cached_verdicts_match_warm": cached["verdicts"] == warm["verdicts"],
        "cached_target_s": TARGET_CACHED_S,
        "review_env": bump.name if bump else None,
        "review_wall_s": runs["review"]["wall_s"] if bump else None,
        "review_new_env_s": runs["review"]["envs"][bump.name]["wall_s"] if bump else None,
        "warm_task_s_by_kind": task_seconds_by_kind(warm["results"]),
        "per_env": {name: {run: runs[run]["envs"][name] for run in runs if name in runs[run]["envs"]} for name in warm["envs"]},
        "render": {"run": {"render_s": warm["render_s"], "html_bytes": warm["html_bytes"]}},
        "render_target_s": TARGET_RENDER_S,
    }
    if bump:
        summary["review_overhead_s"] = summary["review_wall_s"] - summary["review_new_env_s"]
    by_kind = summary["warm_task_s_by_kind"]
    # what the built-in canaries add to a warm run: their seconds over the rest of the run's wall time
    summary["canary_share_of_warm"] = by_kind.get("canary", 0.0) / max(warm["wall_s"] - by_kind.get("canary", 0.0), 1e-9)
    # and what the per-layer and per-gradient records add (keras_drift.judge.localise), the same way
    records_s = sum(result.get("timings", {}).get("records_s", 0.0) for result in warm["results"])
    summary["records_share_of_warm"] = records_s / max(warm["wall_s"] - records_s, 1e-9)
    # and what saving every model task's model and the load phase add (keras_drift.judge.saved_models), the same way
    summary["saved_models_s"] = warm["saved_models_s"]
    summary["saved_models_share_of_warm"] = warm["saved_models_s"] / max(warm["wall_s"] - warm["saved_models_s"], 1e-9)
    summary["loads_s"] = warm["loads_s"]  # the loading alone, without the saving: the load phase's cost
    summary["loads_share_of_warm"] = warm["loads_s"] / max(warm["wall_s"] - warm["loads_s"], 1e-9)
    summary["loads_share_target"] = TARGET_LOADS_SHARE
    summary.update(sweep_shares(warm, runs["full_sweep"], mode=plan.settings.sweep))
    if script_rounds:
        by_script = {stem: script_overhead(rounds[True], rounds[False]) for stem, rounds in script_rounds.items()}
        summary["script_overhead_by_script"] = by_script
        summary.update(max(by_script.values(), key=lambda found: found["script_overhead"]))  # the costlier one
    summary["render"]["run"]["bytes_target"] = TARGET_REPORT_BYTES
    summary["render"]["generated_40"] = dict(render_generated(warm["results"][0], 40, work), bytes_target=TARGET_REPORT_40_BYTES)
    summary["render"]["generated_40_history_365"] = render_generated(warm["results"][0], 40, work, 365)
    write_json_atomically(bench_dir / f"bench-{stamp}.json", summary)
    shutil.rmtree(work / "venvs", ignore_errors=True)
    return summary


def sweep_shares(warm: dict[str, Any], full: dict[str, Any], *, mode: str) -> dict[str, Any]:
    """What the built-in canaries and the API sweep cost: in the warm run (whose sweep is the plan's, the
    targeted one by default: ``mode``), their task seconds together over the rest of that run (issue 39's budget:
    :data:`TARGET_SWEEP_SHARE`), the same over the whole run, and the full sweep's task seconds per
    environment."""
    by_kind = task_seconds_by_kind(warm["results"])
    added = by_kind.get("canary", 0.0) + by_kind.get("sweep", 0.0)
    return {
        "sweep_mode": mode,
        "canary_and_sweep_s": added,
        "canary_and_sweep_share_of_warm": added / max(warm["wall_s"] - added, 1e-9),
        "canary_and_sweep_fraction_of_warm": added / max(warm["wall_s"], 1e-9),
        "canary_and_sweep_share_target": TARGET_SWEEP_SHARE,
        "full_sweep_s_per_env": {result.env: task_seconds_by_kind([result]).get("sweep", 0.0) for result in full["results"]},
        "full_sweep_wall_s": full["wall_s"],
    }


def script_overhead(recorded: Sequence[dict[str, Any]], plain: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """What recording a script's calls adds to its own run: the script task's first run, the quickest of the
    rounds in each environment, summed over the environments, with and without recording (issue 40's bound:
    :data:`TARGET_SCRIPT_OVERHEAD`). One round alone moved by 20% in an environment between runs."""
    def seconds(runs: Sequence[dict[str, Any]]) -> float:
        quickest: dict[str, float] = {}
        for run in runs:
            for result in run["results"]:
                spent = result.get("timings", {}).get("tasks_s", {}).get("script#0")
                if spent is not None:
                    quickest[result.env] = min(spent, quickest.get(result.env, spent))
        return sum(quickest.values())

    with_calls, without = seconds(recorded), seconds(plain)
    return {"script_s": with_calls, "script_plain_s": without, "script_overhead": with_calls / max(without, 1e-9) - 1,
            "script_overhead_target": TARGET_SCRIPT_OVERHEAD}


@contextlib.contextmanager
def _cache_folder(folder: Path) -> Iterator[None]:
    """keras-drift's cache folder (``$KERAS_DRIFT_CACHE``) set to ``folder`` while the block runs."""
    before = os.environ.get("KERAS_DRIFT_CACHE")
    os.environ["KERAS_DRIFT_CACHE"] = str(folder)
    try:
        yield
    finally:
        if before is None:
            del os.environ["KERAS_DRIFT_CACHE"]
        else:
            os.environ["KERAS_DRIFT_CACHE"] = before


def table(summary: dict[str, Any]) -> str:
    """The per-environment breakdown and the headline figures, as text."""
    rows = {
        (env, run): costs for env, per_run in summary["per_env"].items() for run, costs in per_run.items()
    }
    frame = pd.DataFrame.from_dict(rows, orient="index").round(2)
    frame.index = pd.MultiIndex.from_tuples(frame.index, names=["environment", "run"])
    lines = [frame.to_string(), ""]
    for key in ("cold_wall_s", "warm_wall_s", "parallel_wall_s", "parallel_speedup", "warm_floor_s", "warm_ratio",
                "canary_share_of_warm", "records_share_of_warm", "saved_models_s", "saved_models_share_of_warm", "loads_s",
                "loads_share_of_warm", "sweep_mode", "canary_and_sweep_s", "canary_and_sweep_share_of_warm",
                "canary_and_sweep_fraction_of_warm", "full_sweep_wall_s", "script_s",
                "script_plain_s", "script_overhead", "cached_wall_s",
                "cached_hits", "cached_verdicts_match_warm", "review_env",
                "review_new_env_s", "review_overhead_s"):
        value = summary.get(key)
        lines.append(f"{key:<28} {value:.2f}" if isinstance(value, float) else f"{key:<28} {value}")
    lines.append(f"{'parallel_jobs':<28} {summary['parallel_jobs']}")
    for env, seconds in summary.get("full_sweep_s_per_env", {}).items():
        lines.append(f"{'full sweep ' + env:<28} {seconds:.1f} s")
    for stem, found in summary.get("script_overhead_by_script", {}).items():
        seconds = f"{found['script_s']:.2f} s against {found['script_plain_s']:.2f} s"
        lines.append(f"{'recording ' + stem:<28} {found['script_overhead']:+.1%} ({seconds})")
    lines.append(f"{'parallel_matches_sequential':<28} {summary['parallel_matches_sequential']}")
    for name, render in summary["render"].items():
        budget = render.get("bytes_target")
        said = f" (budget {budget / 1024:.0f} KiB: {'met' if render['html_bytes'] <= budget else 'NOT met'})" if budget else ""
        lines.append(f"render {name:<21} {render['render_s']:.2f} s, {render['html_bytes'] / 1024:.0f} KiB{said}")
    return "\n".join(lines)


def _same_metrics(first: Sequence[Result], second: Sequence[Result]) -> bool:
    def metrics(results: Sequence[Result]) -> dict[str, Any]:
        return {r.env: json.dumps(r.metrics, sort_keys=True) for r in results}

    return metrics(first) == metrics(second)
