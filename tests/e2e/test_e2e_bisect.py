"""End to end: bisect standalone Keras on Theano over a small real range, 0.3.3 -> 1.0.2 (1.0.0 and 1.0.1
between), on the classifier of the second seed case. Keras 1.0.0 changed fit()'s defaults (batch_size
128 -> 32, nb_epoch 100 -> 10: read in keras-team/keras at the tags 0.3.3 and 1.0.0), so 1.0.0 is the
first bad release, and the experiment at that boundary proves it. Then the same range on the linear fit,
which does not drift, and the same bisect again, all from the result cache.
"""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import PROJECT_ROOT
from test_e2e import keras_drift

from keras_drift.store.results import validate_document

pytestmark = [pytest.mark.e2e, pytest.mark.network]
BAD = """description = "Keras 1.0.2 on Theano 1.0.5: the bad end of the bisect test"
requirements = ["keras==1.0.2", "theano==1.0.5", "numpy==1.23.5", "scipy==1.10.1", "setuptools==69.5.1"]
python = "3.11"
backend = "theano"
hooks = ["theano-python-scan"]
env = { THEANO_FLAGS = "blas.ldflags=,base_compiledir={cache}/theano" }
exclusive = "theano-compiledir"
"""


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    work = tmp_path_factory.mktemp("bisect")
    shutil.copytree(PROJECT_ROOT / "probe" / "hooks", work / "probe" / "hooks")
    (work / "envs").mkdir()
    for suffix in (".toml", ".lock.txt"):
        shutil.copy(PROJECT_ROOT / "envs" / f"keras-0.3.3-theano{suffix}", work / "envs")
    (work / "envs" / "keras-1.0.2-theano.toml").write_text(BAD)
    locked = keras_drift("lock", "--envs", "keras-1.0.2-theano", "--envs-dir", str(work / "envs"), cwd=work)
    assert locked.returncode == 0, locked.stderr  # a locked bad end, so that its result is cached too
    return work


def bisect(work, *extra):
    completed = keras_drift(
        "bisect", "--good", "keras-0.3.3-theano", "--bad", "keras-1.0.2-theano", "--envs-dir", str(work / "envs"),
        "--reports", str(work / "reports"), "--venvs", str(work / "venvs"), "--probes", str(PROJECT_ROOT / "probes"), *extra, cwd=work)
    print(completed.stdout, completed.stderr, sep="\n")
    page = completed.stdout.strip().splitlines()[-1]
    document = json.loads((work / page).with_name("bisect.json").read_text()) if page.endswith("bisect.html") else None
    return completed, document


@pytest.fixture(scope="module")
def classifier_bisect(work):
    return bisect(work, "--tasks", "classifier.defaults")


def test_the_first_bad_release_is_1_0_0_proven_by_the_fit_defaults(classifier_bisect):
    completed, document = classifier_bisect
    assert completed.returncode == 1, completed.stderr
    validate_document(document, "bisect", "bisect.json")
    assert [(v["version"], v["verdict"]) for v in document["versions"]] == [
        ("0.3.3", "good"), ("1.0.0", "bad"), ("1.0.1", "untried"), ("1.0.2", "bad")]
    (boundary,) = document["boundaries"]
    assert (boundary["family"], boundary["last_good"], boundary["first_bad"], boundary["exact"]) == ("classifier", "0.3.3", "1.0.0", True)
    epochs = {m["metric"]: m for m in boundary["metrics"]}["classifier.defaults.epochs"]
    assert (epochs["last_good_value"], epochs["first_bad_value"]) == (100, 10)
    (finding,) = [f for f in boundary["findings"] if "classifier.defaults.epochs" in f["metrics"]]
    assert (finding["cause"], finding["proof"]) == ("defaults", "proven")
    assert "fit.batch_size=128, fit.epochs=100 brings classifier.defaults.* within tolerance" in finding["evidence"]
    assert "classifier: first bad release keras 1.0.0 (last good 0.3.3)" in completed.stdout


def test_the_probed_release_is_synthesised_in_the_run_folder_not_in_envs(work, classifier_bisect):
    _, document = classifier_bisect
    run = work / "reports" / document["run_id"]
    probed = document["versions"][1]
    assert probed["env"] == "keras-0.3.3-theano--keras-1.0.0" and probed["install"]["strategy"] == "the good end's pins and the good end's lock"
    generated = (run / "bisect" / "envs" / "keras-0.3.3-theano--keras-1.0.0.toml").read_text()
    assert '"keras==1.0.0", "theano==1.0.5", "numpy==1.23.5"' in generated
    assert "keras==1.0.0 \\" in (run / "bisect" / "envs" / "keras-0.3.3-theano--keras-1.0.0.lock.txt").read_text()
    assert json.loads((run / probed["result"]).read_text())["fingerprint"]["distributions"]["keras"] == "1.0.0"
    assert sorted(p.name for p in (work / "envs").iterdir()) == [
        "keras-0.3.3-theano.lock.txt", "keras-0.3.3-theano.toml", "keras-1.0.2-theano.lock.txt", "keras-1.0.2-theano.toml"]
    page = (run / "bisect" / "bisect.html").read_text()
    assert "first-bad" in page and "https://pypi.org/project/keras/1.0.0/" in page
    assert 'href="bisect/bisect.html"' in (run / "report.html").read_text()


def test_a_range_where_nothing_drifts_probes_only_the_ends(work, classifier_bisect):
    completed, document = bisect(work, "--tasks", "linear.*")
    assert completed.returncode == 0, completed.stderr
    assert document["families"] == [] and document["boundaries"] == [] and document["steps"] == 0
    assert [v["verdict"] for v in document["versions"]] == ["good", "untried", "untried", "good"]  # the "bad" end agrees
    assert "nothing drifts between keras-0.3.3-theano and keras-1.0.2-theano; probed only the two ends" in completed.stdout
    assert len(list((work / "reports" / document["run_id"] / "results").glob("*.json"))) == 2


def test_a_second_bisect_probes_nothing_already_probed(work, classifier_bisect):
    _, first = classifier_bisect
    completed, again = bisect(work, "--tasks", "classifier.defaults")
    assert completed.returncode == 1, completed.stderr
    assert again["boundaries"][0]["first_bad"] == "1.0.0"
    tried = [v for v in again["versions"] if v["verdict"] != "untried"]
    assert [v["cached_from"] for v in tried] == [first["run_id"]] * 3
