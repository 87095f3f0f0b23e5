"""How a bisect installs a release between the ends, offline: tiny wheels in a find-links folder stand in
for the index, so that each rung of the install ladder is reached by a release made to need it."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from packaging.version import Version

from keras_drift.bisect import bisecting
from keras_drift.envs import locks
from keras_drift.envs.specs import load_spec

WHEELS = {  # name, version -> requirements
    ("alpha", "1.0"): ["gamma"], ("alpha", "1.5"): ["gamma"], ("alpha", "1.7"): ["gamma>=1.1"],
    ("alpha", "2.0"): ["beta>=2", "gamma"], ("alpha", "2.5"): ["no-such-dist"], ("alpha", "3.0"): ["beta>=2", "gamma"],
    ("beta", "1.0"): [], ("beta", "2.0"): [], ("gamma", "1.0"): [],
}


def wheel(folder: Path, name: str, version: str, requires: list[str]) -> None:
    """A wheel holding nothing but its metadata: enough for the resolver."""
    info = f"{name}-{version}.dist-info"
    files = {f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                                 + "".join(f"Requires-Dist: {r}\n" for r in requires),
             f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    with zipfile.ZipFile(folder / f"{name}-{version}-py3-none-any.whl", "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
        archive.writestr(f"{info}/RECORD", "".join(f"{path},,\n" for path in [*files, f"{info}/RECORD"]))


@pytest.fixture
def ends(tmp_path: Path, monkeypatch):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for (name, version), requires in WHEELS.items():
        wheel(wheels, name, version, requires)
    monkeypatch.setenv("UV_NO_INDEX", "1")
    monkeypatch.setenv("UV_FIND_LINKS", str(wheels))
    monkeypatch.setenv("UV_EXTRA_INDEX_URL", "")
    (tmp_path / "probe" / "hooks").mkdir(parents=True)
    (tmp_path / "probe" / "hooks" / "old_shim.py").write_text("")
    envs = tmp_path / "envs"
    envs.mkdir()
    common = 'python = "3.11"\nbackend = "jax"\nenv = { FLAG = "1" }\n'
    (envs / "good.toml").write_text(f'requirements = ["alpha==1.0", "beta==1.0"]\nhooks = ["old-shim"]\n{common}')
    (envs / "bad.toml").write_text(f'requirements = ["alpha==3.0", "beta==2.0"]\n{common}')
    good, bad = load_spec(envs / "good.toml"), load_spec(envs / "bad.toml")
    locks.lock_environment(good)
    assert locks.pins(good.lock_path) == {"alpha": "1.0", "beta": "1.0", "gamma": "1.0"}
    wheel(wheels, "gamma", "1.1", [])  # released after the good end was locked
    axis = bisecting.choose_axis(good, bad, "alpha")
    return good, bad, axis, tmp_path / "run" / "bisect"


@pytest.mark.parametrize(("version", "strategy", "companions"), [
    ("1.5", "the good end's pins and the good end's lock", {}),
    ("1.7", "the good end's pins, dependencies resolved afresh", {"gamma": ["1.0", "1.1"]}),
    ("2.0", "the bad end's pins of beta==2.0, the good end's lock for the rest", {"beta": ["1.0", "2.0"]}),
])
def test_each_release_is_installed_as_close_to_the_good_end_as_it_allows(ends, version, strategy, companions):
    good, bad, axis, folder = ends
    probed = bisecting.synthesise(good, bad, axis, Version(version), folder)
    assert probed.spec is not None, probed.install.error
    assert (probed.install.strategy, probed.install.companions) == (strategy, companions)
    assert probed.install.closest == (version == "1.5")  # only 1.5 installs the good end's own way
    note = bisecting._install_note("alpha", probed)
    assert note == ("" if version == "1.5" else f"alpha {version}: installed with {strategy}; moved: "
                    + ", ".join(f"{name} {before} -> {after}" for name, (before, after) in companions.items()))
    assert probed.spec.name == f"good--alpha-{version}" and probed.spec.path.parent == folder / "envs"
    assert locks.pins(probed.spec.lock_path)["alpha"] == version
    # the good end's settings travel with it; its hooks are copied beside the generated file
    assert (probed.spec.backend, probed.spec.env_vars, probed.spec.hooks, probed.spec.tags) == ("jax", {"FLAG": "1"}, ("old-shim",), ("bisect",))
    assert probed.spec.hook_files[0].read_text() == "" and probed.spec.hook_files[0].is_relative_to(folder)


def test_a_release_that_cannot_be_installed_says_why_for_every_rung(ends):
    good, bad, axis, folder = ends
    probed = bisecting.synthesise(good, bad, axis, Version("2.5"), folder)
    assert probed.spec is None
    assert probed.install.error.startswith(
        "no way resolves (tried the good end's pins and the good end's lock; the good end's pins, dependencies resolved afresh; "
        "the bad end's pins of beta==2.0, the good end's lock for the rest; the bad end's pins of beta==2.0, dependencies resolved "
        "afresh); the last said: "), probed.install.error
    assert "no-such-dist" in probed.install.error
