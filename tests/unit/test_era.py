"""Era-authentic resolution: an unlocked environment resolves what its pins leave open as of their era."""

import datetime
import json
import sys
import urllib.request

import pytest

from keras_drift.envs import era, releases
from keras_drift.envs.locks import lock_environment, pins
from keras_drift.envs.specs import load_spec

VERSION = "%d.%d" % sys.version_info[:2]
JSON = releases._JSON_TYPE


def _index(answers):
    """A stand-in for the index: project -> [(file name, upload time or None)]."""

    def read(url):
        project = url.rstrip("/").rsplit("/", 1)[-1]
        files = [{"filename": name, **({"upload-time": when} if when else {})} for name, when in answers.get(project, [])]
        return json.dumps({"files": files}).encode(), JSON

    return read


def test_the_era_is_the_newest_upload_among_the_pins_plus_a_day(write_env, monkeypatch):
    era._newest_upload.cache_clear()
    monkeypatch.setattr(releases, "_read", _index({
        "keras": [("keras-3.1.1-py3-none-any.whl", "2024-03-05T17:00:00Z"), ("keras-3.1.1.tar.gz", "2024-03-05T16:59:00Z"),
                  ("keras-3.2.0-py3-none-any.whl", "2024-04-08T00:00:00Z")],  # another release: not the pin
        "jax": [("jax-0.4.26-py3-none-any.whl", "2024-04-03T21:45:34.479104Z"), ("jax-0.4.26.tar.gz", "2024-04-03T21:45:38Z")],
    }))
    spec = load_spec(write_env("old", 'requirements = ["keras==3.1.1", "jax[cpu]==0.4.26"]\npython = "3.11"\nbackend = "jax"\n'))
    date = era.as_of(spec, {})
    assert date == datetime.datetime(2024, 4, 4, 21, 45, 38, tzinfo=datetime.timezone.utc)  # jax's last file, plus one day
    assert era.stamp(date) == "2024-04-04T21:45:38Z"


def test_no_era_where_the_file_opts_out_or_the_index_gives_no_dates(write_env, monkeypatch):
    era._newest_upload.cache_clear()
    monkeypatch.setattr(releases, "_read", _index({"keras": [("keras-3.1.1-py3-none-any.whl", None)]}))
    text = 'requirements = ["keras==3.1.1"]\npython = "3.11"\nbackend = "jax"\n'
    assert era.as_of(load_spec(write_env("undated", text)), {}) is None
    assert era.as_of(load_spec(write_env("today", text + 'resolve = "latest"\n')), {}) is None


def _uploaded(package, version):
    """The newest upload time of a release's files, read straight from PyPI's simple API (not through
    keras-drift): files named ``<project>-<version>-...whl`` or ``<project>-<version>.tar.gz``."""
    request = urllib.request.Request(f"https://pypi.org/simple/{package}/", headers={"Accept": JSON})
    with urllib.request.urlopen(request, timeout=60) as response:
        files = json.load(response)["files"]
    stem = package.replace("-", "_")
    times = [entry["upload-time"] for entry in files
             if entry["filename"].startswith((f"{stem}-{version}-", f"{stem}-{version}.tar", f"{package}-{version}.tar"))]
    return max(datetime.datetime.fromisoformat(text.replace("Z", "+00:00")) for text in times)


@pytest.mark.network
def test_an_old_jax_pin_locks_dependencies_of_its_own_time(write_env):
    """Resolved today, jax 0.4.26 takes ml-dtypes 0.5 and SciPy 1.17; as of its era, releases that
    existed by then (its upload, plus the day's margin)."""
    era._newest_upload.cache_clear()
    spec = load_spec(write_env("jax-0.4.26", f'requirements = ["jax[cpu]==0.4.26"]\npython = "{VERSION}"\nbackend = "jax"\n'))
    locked = pins(lock_environment(spec))
    assert locked["jax"] == "0.4.26" and locked["jaxlib"] == "0.4.26"
    cutoff = _uploaded("jax", "0.4.26") + datetime.timedelta(days=1)
    for package in ("ml-dtypes", "numpy", "scipy", "opt-einsum"):
        assert _uploaded(package, locked[package]) <= cutoff, (package, locked[package])
