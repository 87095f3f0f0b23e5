
from conftest import PROJECT_ROOT

from keras_drift.results import load_result
from keras_drift.runner import ProbeSettings, run_environment
from keras_drift.specs import load_spec


def test_missing_interpreter_is_skipped_with_its_reason(write_env, tmp_path):
    spec = load_spec(write_env("future", 'requirements = ["keras==3.15.1"]\npython = "3.99"\nbackend = "jax"\n'))
    result = run_environment(spec, tmp_path / "run", PROJECT_ROOT, tmp_path / "venvs", settings=ProbeSettings(60, 60))
    assert result["status"] == "skipped"
    assert result["reason"] == "no Python 3.99 interpreter is installed on this machine"
    assert load_result(tmp_path / "run" / "results" / "future.json")["status"] == "skipped"
    assert not (tmp_path / "venvs" / "future").exists()


def test_each_environment_loads_its_own_files_and_the_baseline_trades_files_with_every_candidate(tmp_path):
    from conftest import make_result

    from keras_drift.runner import load_sources

    saved = {"m": {"formats": {}}}
    found = [make_result("base", {}, artifacts=saved), make_result("a", {}, artifacts=saved), make_result("b", {}),
             make_result("c", {}, artifacts=saved)]
    plans = {result.env: [(source["env"], source["direction"]) for source in load_sources(result.env, "base", found, tmp_path)]
             for result in found}
    assert plans == {"base": [("base", "control"), ("a", "rollback"), ("c", "rollback")],
                     "a": [("a", "control"), ("base", "upgrade")], "b": [("base", "upgrade")], "c": [("c", "control"), ("base", "upgrade")]}
    assert load_sources("a", "base", found, tmp_path)[1]["folder"] == str((tmp_path / "artifacts" / "base").resolve())
