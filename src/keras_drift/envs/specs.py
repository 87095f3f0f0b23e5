"""Environment specs: one TOML file per environment under ``envs/``.

This module is imported by ``noxfile.py`` before the package is installed, so it depends only on the
standard library, ``packaging`` (which nox itself brings) and :mod:`keras_drift.errors`.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from keras_drift.envs import shipped
from keras_drift.errors import InputError
from keras_drift.store.tables import nesting

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - nox brings tomli on older interpreters
    import tomli as tomllib

BACKENDS = ("tensorflow", "jax", "torch", "theano")
# Environments with these tags resolve fresh each run, so their requirements may float.
FLOATING_TAGS = frozenset({"latest", "nightly"})
DEFAULT_TAG = "default"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\Z")  # \Z: "$" also matches before a final newline
_HOOK_RE = re.compile(r"^[a-z0-9-]+$")
_VARIABLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Variables keras-drift sets or strips itself: an env file setting them would undo the isolation (the
# interpreter seeing the host's packages) or contradict what the result records (``backend``).
RESERVED_VARIABLES = {
    "KERAS_BACKEND": "set `backend` instead",
    "PYTHONPATH": "the probe must see only its environment's packages",
    "PYTHONHOME": "the probe must see only its environment's packages",
    "VIRTUAL_ENV": "the probe must see only its environment's packages",
    "PYTHONSTARTUP": "use `hooks` for start-up code",
}
# Deeper TOML is never an environment file, and would exhaust the parser's recursion.
MAX_NESTING = 50
# How an environment without a lock resolves the dependencies its pins leave open: ``era`` as of the
# newest upload among its pins (see :mod:`keras_drift.envs.era`), ``latest`` as of today.
RESOLVE_MODES = ("era", "latest")


@dataclass(frozen=True)
class EraRule:
    """What an interpreter and package combination needs, whatever the env file says: the package and the
    versions of it that need it (a specifier), the Python from which on, and why; then either a start-up
    ``hook`` or a ``requirement`` the package imports without declaring it (resolved as of the era too)."""

    package: str
    versions: str
    python_from: tuple[int, int]
    why: str
    hook: str = ""
    requirement: str = ""

    def applies(self, pins: dict[str, str], python: str) -> bool:
        version = pins.get(self.package)
        if version is None or _python_tuple(python) < self.python_from:
            return False
        return SpecifierSet(self.versions).contains(version, prereleases=True)


# What an era needs, applied rather than remembered: an env file written for these releases gets the hook
# or requirement added (recorded in the result and the report) even where it does not name it.
ERA_RULES = (
    EraRule("keras", ">=1.2,<2.4", (3, 10), "Keras 1.2 to 2.3 import collections.Mapping and its siblings, which Python 3.10 removed",
            hook="collections-abc-aliases"),
    EraRule("theano", ">=0", (3, 11), "Theano's compiled scan (every recurrent layer) does not build against Python 3.11's headers",
            hook="theano-python-scan"),
    EraRule("keras", ">=3.0,<3.4", (3, 0), "Keras 3.0 to 3.3 import packaging without declaring it (3.4 declares it)",
            requirement="packaging"),
)


def project_hook_path(spec_path: Path, name: str) -> Path:
    """Where a project keeps a start-up hook of its own: ``probe/hooks/`` beside the ``envs/`` folder the
    environment file is in (the folder of a link, not of its target)."""
    return spec_path.absolute().parent.parent / "probe" / "hooks" / f"{name.replace('-', '_')}.py"


def hook_path(spec_path: Path, name: str) -> Path:
    """The file of a start-up hook an environment file names: the project's own (:func:`project_hook_path`),
    else keras-drift's (:func:`keras_drift.envs.shipped.hooks_dir`)."""
    own = project_hook_path(spec_path, name)
    return own if own.is_file() else shipped.hooks_dir() / own.name


def _available_hooks(spec_path: Path) -> str:
    folders = (project_hook_path(spec_path, "x").parent, shipped.hooks_dir())
    found = sorted({p.stem.replace("_", "-") for folder in folders for p in folder.glob("*.py") if p.stem != "__init__"})
    return ", ".join(found) or "none"


class SpecError(InputError):
    """An environment file is malformed; the message names the file and the key."""

    def __init__(self, path: Path | str, key: str | None, problem: str) -> None:
        where = f"{path}: {key}" if key else str(path)
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True)
class EnvSpec:
    """One pinned environment, as written in ``envs/<name>.toml``."""

    name: str
    path: Path
    requirements: tuple[str, ...]
    python: str
    backend: str
    env_vars: dict[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    description: str = ""
    baseline: bool = False
    hooks: tuple[str, ...] = ()
    exclusive: str = ""
    # False: runs of the same task differ here (threads, GPU kernels), so every task is repeated up front.
    deterministic: bool = True
    resolve: str = "era"
    # Hooks and requirements added because the interpreter and packages need them (:data:`ERA_RULES`): -> why.
    hooks_added: dict[str, str] = field(default_factory=dict)
    requirements_added: dict[str, str] = field(default_factory=dict)

    @property
    def installed_requirements(self) -> tuple[str, ...]:
        """What is installed: the file's requirements, then those its era needs (:data:`ERA_RULES`)."""
        return self.requirements + tuple(self.requirements_added)

    @property
    def floating(self) -> bool:
        """Whether this environment is resolved fresh each run rather than pinned."""
        return bool(FLOATING_TAGS.intersection(self.tags))

    @property
    def lock_path(self) -> Path:
        """Where the hash-pinned lock of this environment lives, beside its spec."""
        return self.path.with_suffix(".lock.txt")

    @property
    def resolves_as_of_its_era(self) -> bool:
        """Whether the dependencies its pins leave open resolve as of their era where no lock fixes them
        (a build) or when it is locked: the file does not say ``resolve = "latest"`` and it does not float."""
        return self.resolve == "era" and not self.floating

    def exact_pins(self) -> dict[str, str]:
        """Package (normalised name) -> version of every ``name==version`` requirement."""
        found: dict[str, str] = {}
        for text in self.requirements:
            requirement = Requirement(text)
            specifiers = list(requirement.specifier)
            if len(specifiers) == 1 and specifiers[0].operator in ("==", "===") and "*" not in specifiers[0].version:
                found[canonicalize_name(requirement.name)] = specifiers[0].version
        return found

    def install_key(self) -> str:
        """A digest of everything that decides what gets installed; environments are reused on it."""
        digest = hashlib.sha256()
        era = ("resolve=era",) if self.resolves_as_of_its_era and not self.lock_path.is_file() else ()
        for part in (self.python, *sorted(self.installed_requirements), *era):
            digest.update(part.encode() + b"\0")
        for path in [self.lock_path, *self.hook_files]:
            if path.is_file():
                digest.update(path.read_bytes())
        return digest.hexdigest()[:16]

    @property
    def hook_files(self) -> list[Path]:
        """The start-up hook files this environment installs (see ``probe/hooks/__init__.py``): the project's
        own where it has one of the name, else keras-drift's (:func:`hook_path`)."""
        return [hook_path(self.path, name) for name in self.hooks]

    def process_env(self, cache_dir: Path) -> dict[str, str]:
        """Environment variables the probe runs with: the backend, then the spec's own table, in which
        ``{cache}`` stands for keras-drift's cache folder (for example a shared Theano compile folder)."""
        expanded = {key: value.replace("{cache}", str(cache_dir)) for key, value in self.env_vars.items()}
        return {"KERAS_BACKEND": self.backend, **expanded}


def normalize_name(name: str) -> str:
    """Normalise an environment name the way package names are (case and separators fold)."""
    return re.sub(r"[-_.]+", "-", name).lower()


_KEYS: dict[str, type] = {
    "requirements": list,
    "python": str,
    "backend": str,
    "env": dict,
    "tags": list,
    "description": str,
    "baseline": bool,
    "hooks": list,
    "exclusive": str,
    "deterministic": bool,
    "resolve": str,
}
_REQUIRED = ("requirements", "python", "backend")


def load_spec(path: Path) -> EnvSpec:
    """Read and validate one environment file; raise :class:`SpecError` naming the offending key."""
    if not path.is_file():  # a FIFO or a device would block or never end
        raise SpecError(path, None, "is not a regular file")
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark is not part of the TOML
        if nesting(text) > MAX_NESTING:
            raise SpecError(path, None, f"nested more than {MAX_NESTING} levels deep")
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(path, None, f"malformed TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(path, None, f"cannot be read: {exc}") from None
    if not NAME_RE.match(path.stem):
        raise SpecError(path, None, "file name must start with a letter or digit and use only letters, digits, '.', '_', '-'")
    for key, value in data.items():
        if key not in _KEYS:
            raise SpecError(path, key, f"unknown key; allowed keys are {', '.join(_KEYS)}")
        expected = _KEYS[key]
        if not isinstance(value, expected):
            raise SpecError(path, key, f"must be a {_type_name(expected)}, got {type(value).__name__}")
    for key in _REQUIRED:
        if key not in data:
            raise SpecError(path, key, "is required")
    tags = tuple(_strings(path, "tags", data.get("tags", [])))
    requirements = tuple(_strings(path, "requirements", data["requirements"]))
    if not requirements:
        raise SpecError(path, "requirements", "must list at least one requirement")
    floating = bool(FLOATING_TAGS.intersection(tags))
    for index, text in enumerate(requirements):
        _check_requirement(path, f"requirements[{index}]", text, floating)
    if data["backend"] not in BACKENDS:
        raise SpecError(path, "backend", f"{data['backend']!r} is not one of {', '.join(BACKENDS)}")
    if not re.fullmatch(r"\d+(\.\d+){0,2}", data["python"]):
        raise SpecError(path, "python", f"{data['python']!r} is not a version such as \"3.11\"")
    hooks = tuple(_strings(path, "hooks", data.get("hooks", [])))
    for index, name in enumerate(hooks):
        if not _HOOK_RE.match(name):
            raise SpecError(path, f"hooks[{index}]", f"{name!r} is not a hook name (lower-case letters, digits and '-')")
        if not hook_path(path, name).is_file():
            raise SpecError(path, f"hooks[{index}]", f"{name!r} is not a hook; available: {_available_hooks(path)}")
    env = data.get("env", {})
    for key, value in env.items():
        where = f"env.{json.dumps(key)[1:-1]}"
        if not _VARIABLE_RE.match(key):
            raise SpecError(path, where, "is not an environment variable name (letters, digits and '_', not starting with a digit)")
        if key in RESERVED_VARIABLES:
            raise SpecError(path, where, f"is set by keras-drift itself; {RESERVED_VARIABLES[key]}")
        if not isinstance(value, str):
            raise SpecError(path, where, f"must be a string, got {type(value).__name__}")
        if "\0" in value:
            raise SpecError(path, where, "must not contain a NUL character")
    resolve = data.get("resolve", "era")
    if resolve not in RESOLVE_MODES:
        raise SpecError(path, "resolve", f"{resolve!r} is not one of {', '.join(RESOLVE_MODES)}")
    spec = EnvSpec(
        name=path.stem,
        path=path,
        requirements=requirements,
        python=data["python"],
        backend=data["backend"],
        env_vars=dict(env),
        tags=tags,
        description=data.get("description", ""),
        baseline=data.get("baseline", False),
        hooks=hooks,
        exclusive=data.get("exclusive", ""),
        deterministic=data.get("deterministic", True),
        resolve=resolve,
    )
    needed = [rule for rule in ERA_RULES if rule.applies(spec.exact_pins(), spec.python)]
    hooks_added = {rule.hook: rule.why for rule in needed if rule.hook and rule.hook not in hooks}
    named = {canonicalize_name(Requirement(text).name) for text in requirements}
    requirements_added = {rule.requirement: rule.why for rule in needed
                          if rule.requirement and canonicalize_name(rule.requirement) not in named}
    return replace(spec, hooks=hooks + tuple(hooks_added), hooks_added=hooks_added, requirements_added=requirements_added)


def environment_files(envs_dir: Path) -> list[Path]:
    """The environment files of ``envs_dir`` (every ``*.toml``), sorted; an environment's name is its file's
    stem. Nothing is read: none when the folder does not exist."""
    return sorted(Path(envs_dir).glob("*.toml"))


def load_specs(envs_dir: Path) -> list[EnvSpec]:
    """Load every ``*.toml`` in ``envs_dir``, sorted by name; names must be unique after normalisation."""
    if not Path(envs_dir).is_dir():
        raise InputError(f"{envs_dir}: no such folder of environment files")
    specs = [load_spec(path) for path in environment_files(envs_dir)]
    seen: dict[str, EnvSpec] = {}
    for spec in specs:
        other = seen.setdefault(normalize_name(spec.name), spec)
        if other is not spec:
            raise SpecError(spec.path, None, f"name clashes with {other.path.name} after normalisation")
    return specs


def select(
    specs: Sequence[EnvSpec],
    names: Iterable[str] | None = None,
    tags: Iterable[str] | None = None,
) -> list[EnvSpec]:
    """Pick environments by name (in the order given) or by tag; default: those tagged ``default``."""
    by_name = {normalize_name(spec.name): spec for spec in specs}
    names = [name for name in (names or []) if name]
    if names:
        chosen = []
        for name in names:
            spec = by_name.get(normalize_name(name))
            if spec is None:
                known = ", ".join(spec.name for spec in specs) or "none"
                raise InputError(f"--envs: unknown environment {name!r}; known: {known}")
            if spec not in chosen:
                chosen.append(spec)
        return chosen
    wanted = set(tags or [DEFAULT_TAG])
    chosen = [spec for spec in specs if wanted.intersection(spec.tags)]
    if not chosen:
        raise InputError(f"--tags: no environment is tagged {', '.join(sorted(wanted))}")
    return chosen


def choose_baseline(
    names: Sequence[str], requested: str | None = None, preferred: Iterable[str] = (), where: str = "the selected environments"
) -> str:
    """The environment the others are compared with, by one rule for every command.

    The one asked for with ``--baseline`` (it must be among ``names``), else the first of ``preferred``
    that is among them (a run's recorded baseline, then env files marked ``baseline = true``), else the
    first name. Names match after normalisation; the spelling in ``names`` is returned.
    """
    if requested:
        return find_environment(names, requested, "--baseline", where)
    by_name = {normalize_name(name): name for name in names}
    for name in preferred:
        if name and normalize_name(name) in by_name:
            return by_name[normalize_name(name)]
    return names[0]


def find_environment(names: Sequence[str], requested: str, flag: str, where: str) -> str:
    """The name in ``names`` that ``requested`` (given with ``flag``) means, matched after normalisation;
    an :class:`InputError` naming the flag when it is not there."""
    by_name = {normalize_name(name): name for name in names}
    if normalize_name(requested) not in by_name:
        raise InputError(f"{flag}: {requested!r} is not among {where} ({', '.join(names)})")
    return by_name[normalize_name(requested)]


def marked_baselines(specs: Iterable[EnvSpec]) -> list[str]:
    """Names of the environments whose file says ``baseline = true``."""
    return [spec.name for spec in specs if spec.baseline]


def _strings(path: Path, key: str, values: list[Any]) -> list[str]:
    for index, value in enumerate(values):
        if not isinstance(value, str):
            raise SpecError(path, f"{key}[{index}]", f"must be a string, got {type(value).__name__}")
    return list(values)


def _check_requirement(path: Path, key: str, text: str, floating: bool) -> None:
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        reason = str(exc).splitlines()[0]
        raise SpecError(path, key, f"{text!r} is not a valid PEP 508 requirement ({reason})") from None
    if requirement.url:
        return
    pins = list(requirement.specifier)
    pinned = len(pins) == 1 and pins[0].operator in ("==", "===") and "*" not in pins[0].version
    if not pinned and not floating:
        raise SpecError(
            path, key, f"{text!r} is not an exact pin (name==version); tag the environment 'latest' or 'nightly' to let it float"
        )


def _python_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".")[:2])


def _type_name(expected: type) -> str:
    names = {list: "list", str: "string", dict: "table", bool: "boolean"}
    return names.get(expected, expected.__name__)
