"""Shared helpers for the tests: writing env files and building results the way the probe does."""

from __future__ import annotations

import os
import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from keras_drift.store.results import Result

# In CI (CI=true, as .ci/run runs), the property tests draw the same examples every run, so a submission
# lands or not on its own code; locally they draw new ones each run, which is how the fuzz finds bugs.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI", "").lower() == "true":
    settings.load_profile("ci")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
# tf.keras 2.15 against Keras 3 on TensorFlow: one real run shared by the end-to-end tests of localisation
# and of saved models (tf_pair_run).
TF_PAIR = ("tf-2.15", "keras-3.15-tf-2.21")
# The user's own model files of that run, good and hostile (see tf_pair_run).
USER_MODELS = """\
[[model]]
name = "classifier"
path = "models/user_classifier.h5"
input = "models/user_classifier_input.npy"
reference = "tf-2.15"

[[model]]
name = "truncated"
path = "models/truncated.h5"
input = "models/user_classifier_input.npy"
reference = "tf-2.15"

[[model]]
name = "bad-config"
path = "models/bad_config.keras"
input = "models/user_classifier_input.npy"
reference = "tf-2.15"

[[model]]
name = "outside"
path = "../outside.h5"
input = "models/user_classifier_input.npy"
reference = "tf-2.15"
"""


@pytest.fixture(autouse=True)
def own_cache_folder(request, tmp_path_factory, monkeypatch):
    """A test without real environments gets a keras-drift cache folder of its own: ``prune`` deletes the
    compiled programs there, and a crash writes its record there; neither may touch the user's. Tests with
    real environments (``network``) share the machine's, so Theano and JAX compile once per machine, as in use."""
    if request.node.get_closest_marker("network") is None:
        monkeypatch.setenv("KERAS_DRIFT_CACHE", str(tmp_path_factory.mktemp("keras-drift-cache")))


@pytest.fixture(scope="session")
def tf_pair_run(tmp_path_factory):
    """`drift` of :data:`TF_PAIR` with the middle-layer probe (tests/middle_layer_probe.py), the seed
    classifier and the nested model, and :data:`USER_MODELS`: a tf.keras 2.15 classifier file saved for
    these tests, the same file cut in half, a ``.keras`` zip whose config is not JSON, and a path outside
    the project (a real file there). Returns ``(work folder, completed process)``."""
    import zipfile

    from test_e2e import drift_in

    work = tmp_path_factory.mktemp("tf-pair")
    (work / "probes").mkdir()
    shutil.copy(PROJECT_ROOT / "tests" / "middle_layer_probe.py", work / "probes" / "middle.py")
    models = work / "project" / "models"
    models.mkdir(parents=True)
    for name in ("user_classifier.h5", "user_classifier_input.npy"):
        shutil.copy(DATA / name, models / name)
    whole = (DATA / "user_classifier.h5").read_bytes()
    (models / "truncated.h5").write_bytes(whole[: len(whole) // 2])
    with zipfile.ZipFile(models / "bad_config.keras", "w") as archive:
        archive.writestr("metadata.json", '{"keras_version": "3.15.1"}')
        archive.writestr("config.json", "{not json")
        archive.writestr("model.weights.h5", b"")
    shutil.copy(DATA / "user_classifier.h5", work / "project" / ".." / "outside.h5")
    (work / "project" / "saved-models.toml").write_text(USER_MODELS, encoding="utf-8")
    completed = drift_in(work, TF_PAIR, "--baseline", TF_PAIR[0], "--tasks", "middle.*,classifier.shared_init,nested.*",
                         "--probes", str(work / "probes"), "--accepted", str(work / "none.toml"),
                         "--saved-models", str(work / "project" / "saved-models.toml"))
    return work, completed


@pytest.fixture
def write_env(tmp_path: Path):
    """Write ``envs/<name>.toml`` under a temporary folder and return its path."""
    folder = tmp_path / "envs"
    folder.mkdir(exist_ok=True)

    def write(name: str, text: str) -> Path:
        path = folder / f"{name}.toml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


def make_result(env: str, metrics: dict[str, Any], status: str = "ok", **extra: Any) -> Result:
    """A result as the probe and host write it, with only the fields a test needs."""
    return Result({"schema_version": 1, "env": env, "status": status, "metrics": dict(metrics), "series": {}, "errors": {}, **extra})
