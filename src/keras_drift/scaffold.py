"""``keras-drift init``: the files a project needs to compare its Keras environments, written once.

``envs/current.toml`` pins the frameworks of the interpreter ``init`` runs in (or of a requirements file),
``envs/proposed.toml`` the newest releases of the same packages on the index; beside them the template of
a probe module, an empty ``accepted.toml``, a noxfile whose sessions come from :mod:`keras_drift.nox`, the
nightly workflow and the ``.gitignore`` entries. A file that exists is left alone (one line says so), so
``init`` can run twice and never overwrites a user's work.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from keras_drift import __version__
from keras_drift.envs import releases, shipped
from keras_drift.errors import InputError

TEMPLATES = Path(__file__).parent / "templates" / "project"
WORKFLOW = Path(".github") / "workflows" / "keras-drift.yml"
IGNORED = ("reports/", ".drift-envs/")  # what a run writes in the project: never committed
# The packages whose versions an environment file pins, in the order written; a backend's package reaches
# an environment with the extras that keep it on the CPU.
FRAMEWORKS = ("keras", "tf-keras", "tensorflow", "jax", "jaxlib", "torch")
_EXTRAS = {"jax": "[cpu]"}
_BACKEND_OF = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}

Say = Callable[[str], None]


@dataclass(frozen=True)
class Pins:
    """The frameworks of one environment: ``{package: version}``, where they came from, and the backend."""

    versions: Mapping[str, str]
    source: str
    backend: str

    def requirements(self) -> list[str]:
        return [f"{name}{_EXTRAS.get(name, '')}=={version}" for name, version in self.versions.items()]


def installed_pins(backend: str | None = None) -> Pins:
    """The frameworks installed in this interpreter; refused when it has no Keras (nor TensorFlow)."""
    found: dict[str, str] = {}
    for name in FRAMEWORKS:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return _pins(found, f"the packages of {sys.executable}", backend, "pass --from requirements.txt")


def requirement_pins(path: Path, backend: str | None = None) -> Pins:
    """The frameworks a requirements file pins exactly (``name==version``); other lines are not read."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"--from: {path}: cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
    found: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text or text.startswith("-"):
            continue
        try:
            requirement = Requirement(text)
        except InvalidRequirement as exc:
            raise InputError(f"{path}: line {number}: {text!r} is not a requirement ({exc})") from None
        name = canonicalize_name(requirement.name)
        exact = [spec.version for spec in requirement.specifier if spec.operator == "=="]
        if name in FRAMEWORKS and exact:
            found[name] = exact[0]
    return _pins(found, str(path), backend, "pin keras (or tensorflow) with ==")


def _pins(found: dict[str, str], source: str, backend: str | None, hint: str) -> Pins:
    if "keras" not in found and "tensorflow" not in found:
        raise InputError(f"{source}: no Keras nor TensorFlow to pin; {hint}")
    keras_major = int(found.get("keras", "2").split(".")[0])
    choices = [_BACKEND_OF[name] for name in ("tensorflow", "jax", "torch") if name in found]
    chosen = backend or os.environ.get("KERAS_BACKEND") or (choices[0] if keras_major >= 3 and choices else "tensorflow")
    if chosen not in choices:
        raise InputError(f"--backend: {chosen!r}: {source} has no {chosen} to pin (it has {', '.join(choices) or 'no backend'})")
    # Keras 3 on a backend needs only that backend's package; tf.keras's keras comes with TensorFlow
    keep = {"keras", chosen, "jaxlib" if chosen == "jax" else ""} if keras_major >= 3 else {"tensorflow", "tf-keras"}
    return Pins({name: version for name, version in found.items() if name in keep}, source, chosen)


def newest_pins(current: Pins, sources: Iterable[releases.Source]) -> Pins:
    """The same packages at their newest final release on the index (``jaxlib`` follows ``jax``)."""
    newest = {}
    for name in current.versions:
        if name == "jaxlib":
            continue
        finals = [release.version for release in releases.list_releases(name, list(sources))
                  if not (release.yanked or release.version.is_prerelease or release.version.is_devrelease or release.version.local)]
        if not finals:
            raise InputError(f"{name}: no release on the index")
        newest[name] = str(max(finals))
    return Pins(newest, "the newest releases on the index", current.backend)


def environment_file(pins: Pins, *, description: str, baseline: bool) -> str:
    """The text of an environment file for ``pins`` on this interpreter's Python."""
    lines = [f"# Written by `keras-drift init` from {pins.source}. Add the packages your probes or scripts need.",
             f"description = {json.dumps(description)}",
             f"requirements = {json.dumps(pins.requirements())}",
             f'python = "{sys.version_info.major}.{sys.version_info.minor}"',
             f'backend = "{pins.backend}"',
             'tags = ["default"]']
    return "\n".join([*lines, *(["baseline = true"] if baseline else [])]) + "\n"


def init_project(folder: Path, current: Pins, proposed: Pins | str, say: Say) -> None:
    """Write the project's files under ``folder`` (created if missing), each only where none exists.
    ``proposed`` is the newest pins, or why they could not be read (then no ``proposed.toml``)."""
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder, Path("envs") / "current.toml",
           environment_file(current, description=f"What this project uses today ({_described(current)})", baseline=True), say)
    if isinstance(proposed, str):
        say(f"envs/proposed.toml: not written: {proposed}; copy current.toml and change its pins")
    else:
        _write(folder, Path("envs") / "proposed.toml",
               environment_file(proposed, description=f"The newest releases ({_described(proposed)})", baseline=False), say)
    for template in sorted(shipped.example_probes().glob("*.py")):
        _write(folder, Path("probes") / template.name, template.read_text(encoding="utf-8"), say)
    _write(folder, Path("accepted.toml"), (TEMPLATES / "accepted.toml").read_text(encoding="utf-8"), say)
    _write(folder, Path("noxfile.py"), (TEMPLATES / "noxfile.py").read_text(encoding="utf-8"), say,
           otherwise="add `from keras_drift.nox import add_sessions` and `add_sessions()` to it for the sessions")
    workflow = (TEMPLATES / "keras-drift.yml").read_text(encoding="utf-8").replace("KERAS_DRIFT_VERSION", __version__)
    _write(folder, WORKFLOW, workflow, say)
    _ignore(folder / ".gitignore", say)


def _described(pins: Pins) -> str:
    return ", ".join(f"{name} {version}" for name, version in pins.versions.items())


def _write(folder: Path, relative: Path, text: str, say: Say, otherwise: str = "") -> None:
    path = folder / relative
    if path.exists() or path.is_symlink():
        say(f"{relative.as_posix()}: exists, left alone" + (f"; {otherwise}" if otherwise else ""))
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("x", encoding="utf-8") as handle:  # never over a file that appeared meanwhile
        handle.write(text)
    say(f"{relative.as_posix()}: written")


def _ignore(path: Path, say: Say) -> None:
    """Add the entries of :data:`IGNORED` that ``.gitignore`` lacks (its own lines are kept as they are)."""
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    present = {line.strip().strip("/") for line in text.splitlines()}
    missing = [entry for entry in IGNORED if entry.strip("/") not in present]
    if not missing:
        say(".gitignore: has keras-drift's entries, left alone")
        return
    with path.open("a", encoding="utf-8") as handle:
        handle.write(("" if not text or text.endswith("\n") else "\n") + "# keras-drift\n" + "".join(f"{entry}\n" for entry in missing))
    say(f".gitignore: {'added' if text else 'written with'} {', '.join(missing)}")

