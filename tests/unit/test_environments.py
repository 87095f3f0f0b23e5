import os
import subprocess
import sys

import pytest

from keras_drift.envs import environments
from keras_drift.envs.specs import load_spec
from keras_drift.errors import InputError


@pytest.fixture
def pip_config(tmp_path, monkeypatch):
    """Point pip at a config file of the test's own, and clear what the machine has."""
    for name in ("PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "UV_FIND_LINKS", "UV_INDEX_URL",
                 "UV_EXTRA_INDEX_URL", "UV_INDEX_STRATEGY"):
        monkeypatch.delenv(name, raising=False)
    # pip reads $XDG_CONFIG_HOME/pip/pip.conf as the user's file; the machine's own stays out of the way.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    config = tmp_path / "pip" / "pip.conf"
    config.parent.mkdir()
    environments.package_index_env.cache_clear()
    yield config
    environments.package_index_env.cache_clear()


def test_pip_find_links_and_indexes_reach_uv(pip_config):
    pip_config.write_text("[global]\nfind-links = /srv/wheels\nextra-index-url = https://example.invalid/simple\n")
    assert environments.package_index_env() == {
        "UV_FIND_LINKS": "/srv/wheels",
        "UV_EXTRA_INDEX_URL": "https://example.invalid/simple",
        "UV_INDEX_STRATEGY": "unsafe-best-match",
    }


def test_uv_settings_of_the_user_win_over_pip_config(pip_config, monkeypatch):
    pip_config.write_text("[global]\nfind-links = /srv/wheels\n")
    monkeypatch.setenv("UV_FIND_LINKS", "/mine")
    assert environments.package_index_env() == {}


def test_no_pip_config_adds_nothing(pip_config, monkeypatch):
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)  # pip's documented switch: load no config file
    assert environments.package_index_env() == {}


def test_missing_interpreter_is_reported_as_such():
    with pytest.raises(environments.InterpreterMissing, match=r"no Python 3\.99 interpreter"):
        environments.find_interpreter("3.99")


def test_running_interpreter_is_found():
    version = "%d.%d" % sys.version_info[:2]
    found = environments.find_interpreter(version)
    out = subprocess.run([found, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True)
    assert out.stdout.strip() == str(tuple(sys.version_info[:2]))


@pytest.mark.network
def test_environment_is_reused_until_its_install_key_changes(write_env, tmp_path):
    """A real (tiny) environment: built once, reused, rebuilt when a pin changes."""
    version = "%d.%d" % sys.version_info[:2]
    text = f'requirements = ["six==1.16.0"]\npython = "{version}"\nbackend = "jax"\n'
    lines = []
    first = environments.ensure_environment(load_spec(write_env("tiny", text)), tmp_path / "venvs", lines.append)
    assert not first.reused and first.python.exists()
    again = environments.ensure_environment(load_spec(write_env("tiny", text)), tmp_path / "venvs", lines.append)
    assert again.reused
    key_file = first.path / environments.KEY_FILE
    key_file.write_text(key_file.read_text().split()[0] + "\n")  # as an older keras-drift's recipe wrote it
    assert not environments.ensure_environment(load_spec(write_env("tiny", text)), tmp_path / "venvs", lines.append).reused
    changed = environments.ensure_environment(
        load_spec(write_env("tiny", text.replace("1.16.0", "1.17.0"))), tmp_path / "venvs", lines.append
    )
    assert not changed.reused
    version_of_six = subprocess.run(
        [str(changed.python), "-c", "import six; print(six.__version__)"], capture_output=True, text=True
    )
    assert version_of_six.stdout.strip() == "1.17.0"


@pytest.mark.network
def test_failed_install_raises_build_failed_with_the_log(write_env, tmp_path):
    version = "%d.%d" % sys.version_info[:2]
    spec = load_spec(write_env("nope", f'requirements = ["keras-drift-no-such-dist==1.0"]\npython = "{version}"\nbackend = "jax"\n'))
    lines = []
    with pytest.raises(environments.BuildFailed, match=r"(uv pip|python -m) .*failed: .*keras-drift-no-such-dist"):
        environments.ensure_environment(spec, tmp_path / "venvs", lines.append)
    assert "keras-drift-no-such-dist" in "\n".join(lines)


SIX_WHEEL_SHA256 = "8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254"


@pytest.mark.network
@pytest.mark.parametrize("builder", environments.BUILDERS)
@pytest.mark.parametrize(("digest", "installs"), [(SIX_WHEEL_SHA256, True), ("0" * 64, False)])
def test_a_lock_beside_the_env_file_is_installed_with_hash_checking(write_env, tmp_path, monkeypatch, builder, digest, installs):
    """Both builders: uv, and the virtualenv + pip fallback; either compiles the modules at build, even where
    ``PYTHONDONTWRITEBYTECODE`` would keep every probe from caching its compiled imports."""
    monkeypatch.setenv("KERAS_DRIFT_BUILDER", builder)
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    version = "%d.%d" % sys.version_info[:2]
    path = write_env("locked", f'requirements = ["six==1.16.0"]\npython = "{version}"\nbackend = "jax"\n')
    path.with_suffix(".lock.txt").write_text(f"six==1.16.0 \\\n    --hash=sha256:{digest}\n")
    spec = load_spec(path)
    lines = []
    if installs:
        built = environments.ensure_environment(spec, tmp_path / "venvs", lines.append)
        log = "\n".join(lines)
        assert "--require-hashes" in log and ("-m virtualenv" in log) == (builder == "virtualenv")
        imported = subprocess.run([str(built.python), "-c", "import six; print(six.__version__)"], capture_output=True, text=True)
        assert imported.stdout.strip() == "1.16.0"
        assert list(built.path.glob("lib/python*/site-packages/__pycache__/six.*.pyc"))
    else:
        with pytest.raises(environments.BuildFailed, match=r"(?i)^(uv pip|pip) failed: .*hash"):
            environments.ensure_environment(spec, tmp_path / "venvs", lines.append)


def test_virtualenv_is_the_builder_where_uv_is_missing(monkeypatch):
    monkeypatch.delenv("KERAS_DRIFT_BUILDER", raising=False)
    monkeypatch.setattr(environments, "uv_binary", lambda: None)
    assert environments.builder() == "virtualenv"
    monkeypatch.setenv("KERAS_DRIFT_BUILDER", "conda")
    with pytest.raises(InputError, match=r"^\$KERAS_DRIFT_BUILDER: 'conda' is not one of uv, virtualenv$"):
        environments.builder()


@pytest.mark.network
def test_floating_environment_is_resolved_afresh_every_run(write_env, tmp_path):
    version = "%d.%d" % sys.version_info[:2]
    spec = load_spec(write_env("newest", f'requirements = ["six"]\npython = "{version}"\nbackend = "jax"\ntags = ["nightly"]\n'))
    lines = []
    assert not environments.ensure_environment(spec, tmp_path / "venvs", lines.append).reused
    assert not environments.ensure_environment(spec, tmp_path / "venvs", lines.append).reused
