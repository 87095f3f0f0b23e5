
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
