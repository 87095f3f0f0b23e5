"""`keras-drift init`: a project's files, pinned from an interpreter or a requirements file, written once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import PROJECT_ROOT

from keras_drift import __version__, scaffold
from keras_drift.cli import main
from keras_drift.envs import environments
from keras_drift.envs.releases import Source
from keras_drift.envs.specs import load_specs
from keras_drift.errors import InputError

REQUIREMENTS = "# the team's pins\nkeras==3.5.0\njax==0.4.31  # the backend\njaxlib==0.4.31\nnumpy==1.26.4\ntensorflow>=2\n-r other.txt\n"
FILES = ["envs/current.toml", "envs/proposed.toml", "probes/example_model.py", "accepted.toml", "noxfile.py",
         ".github/workflows/keras-drift.yml", ".gitignore"]


@pytest.fixture(autouse=True)
def only_the_named_index(monkeypatch):
    """The releases come from the index a test names, not from the machine's pip configuration."""
    monkeypatch.setattr(environments, "installer_variables", lambda: {})


def index(tmp_path: Path, versions: dict[str, list[str]]) -> str:
    """A PEP 503 index on disk listing ``versions`` of each package (sdists named as the index names them)."""
    for package, listed in versions.items():
        folder = tmp_path / "simple" / package
        folder.mkdir(parents=True)
        links = "".join(f'<a href="../../f/{package}-{v}.tar.gz">{package}-{v}.tar.gz</a>\n' for v in listed)
        (folder / "index.html").write_text(f"<html><body>{links}</body></html>")
    return (tmp_path / "simple").as_uri()


def init(project: Path, *args: str, capsys) -> tuple[int, list[str]]:
    code = main(["init", str(project), *args])
    return code, capsys.readouterr().err.splitlines()


def test_a_requirements_file_pins_its_frameworks_with_the_backend_the_others_need(tmp_path):
    path = tmp_path / "requirements.txt"
    path.write_text(REQUIREMENTS)
    pins = scaffold.requirement_pins(path)
    # numpy is not a framework, tensorflow>=2 not an exact pin, -r not read: Keras 3 on JAX
    assert (dict(pins.versions), pins.backend) == ({"keras": "3.5.0", "jax": "0.4.31", "jaxlib": "0.4.31"}, "jax")
    assert pins.requirements() == ["keras==3.5.0", "jax[cpu]==0.4.31", "jaxlib==0.4.31"]
    with pytest.raises(InputError, match=r"--backend: 'torch': .*requirements.txt has no torch to pin \(it has jax\)"):
        scaffold.requirement_pins(path, "torch")
    path.write_text("tensorflow==2.15.1\nkeras==2.15.0\n")  # tf.keras: the backend is TensorFlow, keras comes with it
    assert (dict(scaffold.requirement_pins(path).versions), scaffold.requirement_pins(path).backend) == ({"tensorflow": "2.15.1"}, "tensorflow")
    path.write_text("numpy==2.0\n")
    with pytest.raises(InputError, match=r"requirements\.txt: no Keras nor TensorFlow to pin; pin keras"):
        scaffold.requirement_pins(path)
    path.write_text("keras=3\n")
    with pytest.raises(InputError, match=r"requirements.txt: line 1: 'keras=3' is not a requirement"):
        scaffold.requirement_pins(path)


def test_the_proposed_pins_are_the_newest_final_releases(tmp_path):
    url = index(tmp_path, {"keras": ["3.5.0", "3.15.1", "3.16.0rc1", "3.9.2"], "jax": ["0.4.31", "0.10.2", "0.11.0.dev1"]})
    current = scaffold.Pins({"keras": "3.5.0", "jax": "0.4.31", "jaxlib": "0.4.31"}, "x", "jax")
    newest = scaffold.newest_pins(current, [Source(url, "--index-url")])
    assert dict(newest.versions) == {"keras": "3.15.1", "jax": "0.10.2"}  # jaxlib follows jax[cpu]
    with pytest.raises(InputError, match="torch: no release on the index"):
        scaffold.newest_pins(scaffold.Pins({"torch": "2.1.0"}, "x", "torch"), [Source(url, "--index-url")])


def test_init_writes_a_project_that_lists_its_two_environments_and_never_overwrites(tmp_path, capsys, monkeypatch):
    project = tmp_path / "project"
    (tmp_path / "requirements.txt").write_text(REQUIREMENTS)
    url = index(tmp_path, {"keras": ["3.5.0", "3.15.1"], "jax": ["0.4.31", "0.10.2"]})
    code, said = init(project, "--from", str(tmp_path / "requirements.txt"), "--index-url", url, capsys=capsys)
    assert code == 0 and [line.split(":")[0] for line in said[:-1]] == FILES and all("written" in line for line in said[:-1])
    specs = {spec.name: spec for spec in load_specs(project / "envs")}
    assert specs["current"].requirements == ("keras==3.5.0", "jax[cpu]==0.4.31", "jaxlib==0.4.31") and specs["current"].baseline
    assert specs["proposed"].requirements == ("keras==3.15.1", "jax[cpu]==0.10.2") and not specs["proposed"].baseline
    assert {spec.python for spec in specs.values()} == {f"{sys.version_info.major}.{sys.version_info.minor}"}
    assert (project / "probes" / "example_model.py").read_text() == (PROJECT_ROOT / "probes" / "example_model.py").read_text()
    workflow = yaml.safe_load((project / ".github" / "workflows" / "keras-drift.yml").read_text())
    assert workflow["permissions"] == {"contents": "read"}
    steps = workflow["jobs"]["drift"]["steps"]
    assert f'"keras-drift=={__version__}"' in " ".join(step.get("run", "") for step in steps)
    assert all(len(step["uses"].split("@")[1]) == 40 for step in steps if "uses" in step)  # pinned to commit SHAs
    # a second run, with the user's edits in place: every file is left alone and said so, one line each
    (project / "accepted.toml").write_text("# mine\n")
    (project / ".gitignore").write_text("/reports\n.drift-envs/\n")
    code, said = init(project, "--from", str(tmp_path / "requirements.txt"), "--index-url", url, capsys=capsys)
    assert code == 0 and [line.split(":")[0] for line in said[:-1]] == FILES
    assert all("left alone" in line for line in said[:-1])
    assert (project / "accepted.toml").read_text() == "# mine\n" and (project / ".gitignore").read_text() == "/reports\n.drift-envs/\n"
    # a .gitignore of the user's own gains only the entries it lacks
    (project / ".gitignore").write_text("*.pyc")
    init(project, "--from", str(tmp_path / "requirements.txt"), "--index-url", url, capsys=capsys)
    assert (project / ".gitignore").read_text() == "*.pyc\n# keras-drift\nreports/\n.drift-envs/\n"


def test_without_an_index_the_project_starts_with_its_current_environment(tmp_path, capsys):
    (tmp_path / "requirements.txt").write_text("keras==3.5.0\njax==0.4.31\n")
    code, said = init(tmp_path / "p", "--from", str(tmp_path / "requirements.txt"), "--index-url", "http://127.0.0.1:9/simple",
                      capsys=capsys)
    assert code == 0 and (tmp_path / "p" / "envs" / "current.toml").is_file()
    assert not (tmp_path / "p" / "envs" / "proposed.toml").exists()
    assert said[1].startswith("envs/proposed.toml: not written: the newest releases could not be read (--index-url: http://127.0.0.1:9/simple")


def test_an_interpreter_without_keras_is_told_to_pass_a_requirements_file(tmp_path, capsys):
    code = main(["init", str(tmp_path)])  # the test interpreter has neither Keras nor TensorFlow
    assert code == 3 and capsys.readouterr().err.strip() == (
        f"keras-drift: error: the packages of {sys.executable}: no Keras nor TensorFlow to pin; pass --from requirements.txt")
    assert list(tmp_path.iterdir()) == []


def test_the_written_noxfile_has_the_sessions_and_one_per_environment(tmp_path, capsys):
    (tmp_path / "requirements.txt").write_text("keras==3.5.0\njax==0.4.31\n")
    init(tmp_path / "p", "--from", str(tmp_path / "requirements.txt"), "--index-url", index(tmp_path, {}), capsys=capsys)
    (tmp_path / "p" / "envs" / "older.toml").write_text('requirements = ["keras==3.4.1", "jax[cpu]==0.4.30"]\npython = "3.11"\nbackend = "jax"\n')
    listed = subprocess.run([sys.executable, "-m", "nox", "-l", "-f", str(tmp_path / "p" / "noxfile.py")],
                            capture_output=True, text=True, check=True)
    # `nox -l` marks the sessions a bare `nox` runs with *, the others with -
    marks = {line[2:].split(" ")[0]: line[0] for line in listed.stdout.splitlines() if line[:2] in ("* ", "- ")}
    assert marks == {"drift": "*", "report": "-", "gate": "-", "lock": "-", "bisect": "-", "probe-current": "-", "probe-older": "-"}
