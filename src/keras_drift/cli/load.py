"""``keras-drift load``: load saved models in one environment from downloaded results and saved models (the CI-matrix load stage)."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

from keras_drift import drift
from keras_drift.cli import common, options
from keras_drift.envs.specs import choose_baseline, find_environment, load_specs, marked_baselines
from keras_drift.errors import ExitCode, InputError
from keras_drift.execute import runner
from keras_drift.judge import saved_models
from keras_drift.store import results, runs


def command(args: argparse.Namespace) -> ExitCode:
    """Load saved models in one environment from downloaded results and saved models (the CI-matrix load stage)."""
    specs = load_specs(Path(args.envs_dir))
    by_name = {found.name: found for found in specs}
    spec = by_name[find_environment(list(by_name), args.env, "--env", f"the environment files in {args.envs_dir}")]
    loaded = results.load_unique(common.result_files(Path(args.results)))
    names = [result.env for result in loaded]
    if spec.name not in names:
        raise InputError(f"--env: {spec.name!r} has no result in {args.results}; its probe job wrote none")
    baseline = choose_baseline(names, args.baseline, marked_baselines(specs), where=f"the results in {args.results}")
    user_models = saved_models.load_user_models(Path(args.saved_models))
    common.results_cache(args)
    run_dir = runs.given_run_dir(Path(args.run_dir))
    for manifest in sorted(Path(args.artifacts).rglob(runner.SAVED_MANIFEST)) if Path(args.artifacts).is_dir() else []:
        env_folder = manifest.parent.parent  # <env>/<task>/manifest.json
        target = runner.artifacts_folder(run_dir, env_folder.name)
        if env_folder.name in names and not target.exists():
            try:
                shutil.copytree(env_folder, target)
            except OSError as exc:  # shutil.Error too: a FIFO or an unreadable file among the saved models
                raise InputError(f"--artifacts: {env_folder}: cannot be copied: {' '.join(str(exc).split())[:300]}") from None
    for result in loaded:
        results.write_result(result, run_dir)
    plan = common.drift_plan(args, [spec], run_dir, baseline=baseline, tolerances=[], rerun=common.rerun(args, [spec]), adaptive=False,
                             user_models=user_models)
    drift.load_saved_models(plan, loaded, {}, common.say)
    print(run_dir / results.RESULTS_DIR / f"{spec.name}.json")
    return ExitCode.OK


def add_to(commands: Any, shared: options.Shared) -> None:
    """Add the command and its arguments to the ``keras-drift`` parser's ``commands``."""
    parser = commands.add_parser("load", parents=[shared.project, shared.execution], help=command.__doc__)
    parser.add_argument("--env", required=True, help="the environment that loads (this runner's)")
    parser.add_argument("--results", required=True, help="folder holding every environment's result JSON at any depth")
    parser.add_argument("--artifacts", required=True, help="folder holding the environments' saved models (<env>/<task>/) at any depth")
    parser.add_argument("--run-dir", required=True, help="where the results, the saved models and the loading result are written")
    parser.add_argument("--baseline", help="the environment the others are compared with (default: the one marked in --envs-dir)")
    parser.add_argument("--envs-dir", help="folder of environment files (default: envs in --root)")
    parser.set_defaults(handler=command)
