"""Bad input to ``keras-drift bisect``: one line naming the flag or file, exit 3, and nothing written (no run
folder, no environment). Releases come from a file:// index made here, so no network is needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from keras_drift.cli import main

THEANO = 'python = "3.11"\nbackend = "theano"\n'


@pytest.fixture
def setup(tmp_path: Path, monkeypatch):
    """Env files, and an index listing keras 1.0.0, 1.0.1, 1.0.2 (1.0.1 yanked); the user's pip configuration
    (extra indexes, find-links) is switched off so only that index is read."""
    monkeypatch.setenv("UV_EXTRA_INDEX_URL", "")
    monkeypatch.setenv("UV_FIND_LINKS", "")
    for variable in ("UV_INDEX_URL", "PIP_INDEX_URL"):  # --index-url sets them for the builders: restored after the test
        monkeypatch.setenv(variable, "")
        monkeypatch.delenv(variable)
    envs = tmp_path / "envs"
    envs.mkdir()
    pins = {"k100": ["keras==1.0.0"], "k101": ["keras==1.0.1"], "k102": ["keras==1.0.2"], "k102b": ["keras==1.0.2"],
            "k102-np": ["keras==1.0.2", "numpy==1.24.0"], "k100-np": ["keras==1.0.0", "numpy==1.23.5"]}
    for name, requirements in pins.items():
        quoted = ", ".join(f'"{r}"' for r in requirements)
        (envs / f"{name}.toml").write_text(f"requirements = [{quoted}]\n{THEANO}")
    (envs / "floating.toml").write_text(f'requirements = ["keras>=1"]\ntags = ["latest"]\n{THEANO}')
    index = tmp_path / "simple" / "keras"
    index.mkdir(parents=True)
    (index / "index.html").write_text(
        '<a href="keras-1.0.0.tar.gz">keras-1.0.0.tar.gz</a><a href="keras-1.0.1.tar.gz" data-yanked="">keras-1.0.1.tar.gz</a>'
        '<a href="keras-1.0.2.tar.gz">keras-1.0.2.tar.gz</a>')
    return tmp_path, (tmp_path / "simple").as_uri()


@pytest.mark.parametrize(("args", "message"), [
    (["--good", "k100", "--bad", "nope"], "--bad: 'nope' is not among the environment files in"),
    (["--good", "k100", "--bad", "k100"], "--bad: k100 is the same environment as --good"),
    (["--good", "k102", "--bad", "k102b"], "--bad: k102 and k102b pin the same versions of the packages they share; nothing to bisect"),
    (["--good", "k100-np", "--bad", "k102-np"], "--package: k100-np and k102-np differ in keras, numpy; choose one"),
    (["--good", "k100-np", "--bad", "k102-np", "--package", "theano"],
     "--package: 'theano' is not pinned differently by k100-np and k102-np (they differ in: keras, numpy)"),
    (["--good", "k100", "--bad", "k102"], "--bad: no release of keras lies between 1.0.0 and 1.0.2; the drift can only come from 1.0.2"),
    (["--good", "k100", "--bad", "k101"], "--bad: no release of keras lies between 1.0.0 and 1.0.1"),
])
def test_bad_input_is_one_line_exit_3_and_writes_nothing(setup, capsys, args, message):
    root, index = setup
    code = main(["bisect", *args, "--envs-dir", str(root / "envs"), "--reports", str(root / "reports"), "--venvs", str(root / "venvs"),
                 "--index-url", index])
    error = capsys.readouterr().err.strip()
    assert code == 3 and "\n" not in error, error
    assert error.startswith(f"keras-drift: error: {message}"), error
    assert not (root / "reports").exists() and not (root / "venvs").exists()
    assert sorted(path.name for path in (root / "envs").iterdir()) == sorted(
        ["k100.toml", "k101.toml", "k102.toml", "k102b.toml", "k102-np.toml", "k100-np.toml", "floating.toml"])


def test_a_floating_end_is_refused_as_not_an_exact_pin(setup, capsys):
    root, index = setup
    assert main(["bisect", "--good", "k100", "--bad", "floating", "--envs-dir", str(root / "envs"), "--index-url", index]) == 3
    assert "'keras>=1' is not an exact pin (name==version); a bisect needs both ends pinned" in capsys.readouterr().err


def test_an_unreachable_index_names_the_flag(setup, capsys):
    root, _ = setup
    code = main(["bisect", "--good", "k100", "--bad", "k102", "--envs-dir", str(root / "envs"), "--reports", str(root / "reports"),
                 "--index-url", "http://127.0.0.1:9/simple"])
    error = capsys.readouterr().err.strip()
    assert code == 3 and error.startswith("keras-drift: error: --index-url: http://127.0.0.1:9/simple: unreachable ("), error
    assert not (root / "reports").exists()


def test_a_package_missing_from_the_index_is_named(setup, capsys, tmp_path):
    root, _ = setup
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["bisect", "--good", "k100", "--bad", "k102", "--envs-dir", str(root / "envs"), "--index-url", empty.as_uri()]) == 3
    assert f"--package: keras has no releases on {empty.as_uri()}" in capsys.readouterr().err
