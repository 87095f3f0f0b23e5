"""Build, or reuse, one isolated virtual environment per spec.

uv creates and fills the environments (it hardlinks from its cache, so a second environment with the same
pins costs well under a second); ``virtualenv`` + pip is the fallback where uv cannot be found, or where
``KERAS_DRIFT_BUILDER=virtualenv`` asks for it. Either way its modules are compiled to bytecode once, when
it is built. An environment is reused while its install key (interpreter + requirements + lock + hooks) and
:data:`BUILD_RECIPE` are unchanged.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from keras_drift.envs import era
from keras_drift.envs.specs import EnvSpec
from keras_drift.errors import EnvironmentFailed, InputError

KEY_FILE = ".keras-drift-key"
# How the environment's open dependencies were resolved (see :mod:`keras_drift.envs.era`), written at build.
RESOLUTION_FILE = ".keras-drift-resolution.json"
# What a build does beyond installing the spec, written beside its install key: a change here rebuilds the
# environments built the old way, and nothing else (results do not depend on it, so the cache keeps them).
BUILD_RECIPE = "bytecode-at-build"
BUILDERS = ("uv", "virtualenv")
# pip options whose meaning uv shares, mapped to the variables uv reads.
PIP_TO_UV = {
    "index-url": "UV_INDEX_URL",
    "extra-index-url": "UV_EXTRA_INDEX_URL",
    "find-links": "UV_FIND_LINKS",
}


class InterpreterMissing(EnvironmentFailed):
    """The Python version an environment names is not installed on this machine."""


class BuildFailed(EnvironmentFailed):
    """Creating the environment or installing its requirements failed; the log says why."""


@dataclass(frozen=True)
class Environment:
    """A ready environment: its folder, its interpreter, and whether it was reused."""

    path: Path
    python: Path
    reused: bool

    @property
    def resolution(self) -> dict[str, Any]:
        """How its open dependencies were resolved: ``{"mode": "lock" | "era" | "latest", "as_of": date
        or None, "why": text}``, as the build recorded it (``{}`` for an environment built before)."""
        try:
            found = json.loads((self.path / RESOLUTION_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return found if isinstance(found, dict) else {}


Log = Callable[[str], None]


def ensure_environment(spec: EnvSpec, venvs_dir: Path, log: Log) -> Environment:
    """Return a ready environment for ``spec``, rebuilding it only when its install key changed.

    A lock per environment lets two runs on one checkout share the environments folder: the second
    waits while the first builds, then reuses what it built.
    """
    Path(venvs_dir).mkdir(parents=True, exist_ok=True)
    with FileLock(str(Path(venvs_dir) / f".{spec.name}.lock")):
        return _ensure_environment(spec, venvs_dir, log)


def built_environment(spec: EnvSpec, venvs_dir: Path) -> Environment:
    """The environment this run built or reused for ``spec``, as it is (floating ones too: re-running a
    task in it must not resolve it afresh); :class:`BuildFailed` when there is none."""
    path = Path(venvs_dir) / spec.name
    if _built_for(spec, path):
        return Environment(path, path / "bin" / "python", reused=True)
    raise BuildFailed(f"{path}: no environment built for {spec.name} with install key {spec.install_key()}")


def built_key(spec: EnvSpec) -> str:
    """What an environment's key file says when it was built for ``spec`` by this version's recipe."""
    return f"{spec.install_key()} {BUILD_RECIPE}"


def _built_for(spec: EnvSpec, path: Path) -> bool:
    """Whether ``path`` holds an environment built for ``spec`` by this version's recipe."""
    key_file = path / KEY_FILE
    return (path / "bin" / "python").exists() and key_file.is_file() and key_file.read_text().strip() == built_key(spec)


def _ensure_environment(spec: EnvSpec, venvs_dir: Path, log: Log) -> Environment:
    path = Path(venvs_dir) / spec.name
    python = path / "bin" / "python"
    key = built_key(spec)
    # A floating environment (tagged latest/nightly) is resolved afresh every run, so never reused.
    if not spec.floating and _built_for(spec, path):
        log(f"reusing {path} (install key {key})")
        return Environment(path, python, reused=True)
    if path.exists():
        log(f"rebuilding {path}: install key changed to {key}")
        shutil.rmtree(path)
    if builder() == "uv":
        resolution = _build_with_uv(spec, path, log)
    else:
        resolution = _build_with_virtualenv(spec, path, log)
    (path / RESOLUTION_FILE).write_text(json.dumps(resolution) + "\n")
    site_packages = _site_packages(python)
    _compile_bytecode(python, site_packages, log)  # before the hooks: a hook runs at every interpreter start
    if spec.hooks:
        _install_hooks(spec, site_packages, log)
    (path / KEY_FILE).write_text(key + "\n")
    return Environment(path, python, reused=False)


def builder() -> str:
    """``uv``, or ``virtualenv`` (+ pip) where uv is missing or ``$KERAS_DRIFT_BUILDER`` names it."""
    chosen = os.environ.get("KERAS_DRIFT_BUILDER", "")
    if chosen and chosen not in BUILDERS:
        raise InputError(f"$KERAS_DRIFT_BUILDER: {chosen!r} is not one of {', '.join(BUILDERS)}")
    if chosen:
        return chosen
    return "uv" if uv_binary() else "virtualenv"


@functools.lru_cache(maxsize=1)
def uv_binary() -> str | None:
    """The uv executable: the one installed with keras-drift, else one on PATH, else ``None``."""
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


@functools.lru_cache(maxsize=1)
def package_index_env() -> dict[str, str]:
    """The user's pip index configuration, translated for uv.

    uv does not read pip's configuration files; without this, a wheel folder or a private index that
    ``pip install`` honours here (for example the CPU build of torch) would be invisible to uv. Variables
    the user set for uv themselves win. Like pip, uv is then told to pick the best match over all indexes.
    """
    try:
        listing = subprocess.run(
            [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, timeout=60, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    settings: dict[str, str] = {}
    for line in listing.splitlines():
        key, _, value = line.partition("=")
        option = key.rsplit(".", 1)[-1]
        if option in PIP_TO_UV:
            settings[PIP_TO_UV[option]] = value.strip().strip("'\"")
    translated = {name: value for name, value in settings.items() if name not in os.environ}
    if translated and "UV_INDEX_STRATEGY" not in os.environ:
        translated["UV_INDEX_STRATEGY"] = "unsafe-best-match"
    return translated


def installer_variables() -> dict[str, str]:
    """The variables uv (or pip) runs with: the process's own, with the user's pip index configuration
    translated for uv where the process sets nothing itself (:func:`package_index_env`)."""
    return {**package_index_env(), **os.environ}  # a variable set since the translation was cached still wins


def find_interpreter(version: str) -> str:
    """The path of an installed interpreter for ``version``; raise :class:`InterpreterMissing`."""
    for candidate in _interpreter_candidates(version):
        if _reports_version(candidate, version):
            return candidate
    raise InterpreterMissing(f"no Python {version} interpreter is installed on this machine")


def _interpreter_candidates(version: str) -> Iterator[str]:
    """Where a Python ``version`` may be: uv's discovery, pyenv's installs (whose shims hide versions
    that are not globally active), then ``pythonX.Y`` on PATH."""
    uv = uv_binary()
    if uv:
        found = subprocess.run([uv, "python", "find", "--no-project", version], capture_output=True, text=True)
        if found.returncode == 0 and found.stdout.strip():
            yield found.stdout.strip()
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    for install in sorted((pyenv_root / "versions").glob(f"{version}*"), reverse=True):
        yield str(install / "bin" / "python")
    on_path = shutil.which(f"python{version}")
    if on_path:
        yield on_path


def _build_with_uv(spec: EnvSpec, path: Path, log: Log) -> dict[str, Any]:
    """Create and fill the environment with uv; return how its open dependencies were resolved. Without a
    lock they resolve as of the pins' era (:mod:`keras_drift.envs.era`); where uv finds no solution as of then
    (a pin only an index without upload dates holds), they resolve as of today, and the result says why."""
    uv = uv_binary()
    if uv is None:
        raise BuildFailed("uv is not installed; install it, or set KERAS_DRIFT_BUILDER=virtualenv")
    interpreter = find_interpreter(spec.python)
    env = installer_variables()
    resolution = _resolution(spec, env)
    _run([uv, "venv", "--quiet", "--python", interpreter, str(path)], env, log)
    install = [uv, "pip", "install", "--python", str(path / "bin" / "python"), *_what_to_install(spec)]
    try:
        _run(install + (["--exclude-newer", resolution["as_of"]] if resolution["mode"] == "era" else []), env, log)
    except BuildFailed as exc:
        if resolution["mode"] != "era":
            raise
        log(f"keras-drift: no solution as of {resolution['as_of']}; resolving as of today instead")
        resolution = {"mode": "latest", "as_of": None, "why": f"nothing resolved as of {resolution['as_of']}: {exc}"}
        _run(install, env, log)
    return resolution


def _build_with_virtualenv(spec: EnvSpec, path: Path, log: Log) -> dict[str, Any]:
    """The fallback builder: pip reads the user's own index configuration, so nothing is translated; pip
    cannot exclude uploads after a date, so an environment without a lock resolves as of today."""
    interpreter = find_interpreter(spec.python)
    _run([sys.executable, "-m", "virtualenv", "--quiet", "--python", interpreter, str(path)], dict(os.environ), log)
    _run([str(path / "bin" / "python"), "-m", "pip", "install", "--quiet", *_what_to_install(spec)], dict(os.environ), log)
    if spec.lock_path.is_file():
        return {"mode": "lock", "as_of": None, "why": f"installed from {spec.lock_path.name}"}
    return {"mode": "latest", "as_of": None, "why": "the virtualenv builder (pip) cannot resolve as of a date"}


def _resolution(spec: EnvSpec, env: dict[str, str]) -> dict[str, Any]:
    """How ``spec`` is to be resolved: from its lock, as of its era, or as of today (and why)."""
    if spec.lock_path.is_file():
        return {"mode": "lock", "as_of": None, "why": f"installed from {spec.lock_path.name}"}
    if not spec.resolves_as_of_its_era:
        why = "it floats (tagged latest or nightly)" if spec.floating else 'the env file says resolve = "latest"'
        return {"mode": "latest", "as_of": None, "why": why}
    date = era.as_of(spec, env)
    if date is None:
        return {"mode": "latest", "as_of": None, "why": "the index gives no upload date for any of its pins"}
    return {"mode": "era", "as_of": era.stamp(date),
            "why": f"as of the newest upload among its pins, plus {era.MARGIN.days} day"}


def _what_to_install(spec: EnvSpec) -> list[str]:
    """The install arguments shared by uv and pip: the hash-checked lock if there is one, else the pins."""
    if spec.lock_path.is_file():
        return ["--require-hashes", "--no-deps", "-r", str(spec.lock_path)]
    return list(spec.installed_requirements)


def _site_packages(python: Path) -> str:
    """The folder an environment installs its modules in."""
    return subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()


def _compile_bytecode(python: Path, site_packages: str, log: Log) -> None:
    """Compile the environment's modules to bytecode with its own interpreter (uv's ``--compile-bytecode``
    cannot drive Python 3.6). Where ``PYTHONDONTWRITEBYTECODE`` is set, as on many CI images, nothing is
    compiled lazily, so every probe process would compile TensorFlow from source on import: 3 to 4 s each.
    A module that does not compile (Python 2 leftovers in old packages) fails only where it is imported, as
    it would anyway, so that is logged, not a failed build."""
    completed = subprocess.run(
        [str(python), "-m", "compileall", "-qq", "-j", "0", site_packages], capture_output=True, text=True, check=False
    )
    some_failed = " (some modules did not compile; they fail only where imported)" if completed.returncode else ""
    log(f"compiled {site_packages} to bytecode{some_failed}")


def _install_hooks(spec: EnvSpec, site_packages: str, log: Log) -> None:
    """Copy the spec's start-up hooks into site-packages and import them from a ``.pth`` file."""
    modules = []
    for source in spec.hook_files:
        module = f"_keras_drift_hook_{source.stem}"
        shutil.copyfile(source, Path(site_packages) / f"{module}.py")
        modules.append(module)
    (Path(site_packages) / "_keras_drift_hooks.pth").write_text("".join(f"import {m}\n" for m in modules))
    log(f"installed start-up hooks {', '.join(spec.hooks)} into {site_packages}")


def cache_path() -> Path:
    """keras-drift's cache folder: ``$KERAS_DRIFT_CACHE``, else ``$XDG_CACHE_HOME/keras-drift``, else
    ``~/.cache/keras-drift``. A ``$KERAS_DRIFT_CACHE`` that is set but empty (read as a path, it would be
    the current folder, where ``prune`` deletes and crashes write) or names something that is not a folder
    is unusable input; an empty or relative ``$XDG_CACHE_HOME`` is ignored, as the XDG spec says."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    default = (Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache") / "keras-drift"
    value = os.environ.get("KERAS_DRIFT_CACHE")
    if value is None:
        return default
    if not value.strip():
        raise InputError("KERAS_DRIFT_CACHE: is set but empty; unset it (the default is ~/.cache/keras-drift) or name a folder")
    if os.path.lexists(value) and not os.path.isdir(value):
        raise InputError(f"KERAS_DRIFT_CACHE: {value}: is not a folder")
    return Path(value)


def cache_dir() -> Path:
    """keras-drift's cache folder (:func:`cache_path`), created."""
    folder = cache_path()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# The folder of keras-drift's cache where JAX keeps its compiled programs, one subfolder per environment.
COMPILED_PROGRAMS = "compiled"


def compiled_programs_dir(cache: Path, env: str) -> Path:
    """Where the probes of environment ``env`` keep the programs JAX compiled, between runs (``cache``: the
    folder :func:`cache_dir` returns)."""
    return cache / COMPILED_PROGRAMS / env


def prune_compiled_programs(written_before: float) -> list[Path]:
    """Delete the compiled programs written before ``written_before`` (a POSIX time); return them.

    JAX keeps every program it compiled and never deletes one (its size cap needs the ``filelock`` package,
    which a locked environment does not have), so each new probe or JAX version adds about 1.5 MB per
    environment. A program still in use that is deleted is compiled again by the next run, once."""
    removed: list[Path] = []
    compiled = cache_dir() / COMPILED_PROGRAMS
    if compiled.is_symlink() or not compiled.is_dir():
        return removed  # a linked folder is not ours to empty
    for folder in sorted(compiled.iterdir()):
        if folder.is_symlink() or not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            with contextlib.suppress(FileNotFoundError):  # another prune got there first
                found = path.lstat()  # a link is never followed, nor deleted
                if JAX_PROGRAM.match(path.name) and stat.S_ISREG(found.st_mode) and found.st_mtime < written_before:
                    path.unlink()
                    removed.append(path)
    return removed


# The names JAX gives the programs it keeps (``jit_matmul-<sha256>-cache``, and their access times): the
# only files prune deletes there.
JAX_PROGRAM = re.compile(r"^[A-Za-z0-9_.]+-[0-9a-f]{64}-(cache|atime)\Z")


def _run(command: list[str], env: dict[str, str], log: Log) -> None:
    """Run one build step, its output logged line by line as it comes (what it downloads shows while it
    downloads: the live progress reads the log)."""
    log("$ " + " ".join(command))
    output = []
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace") as process:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if line.strip():
                log(line.rstrip())
    if process.returncode != 0:
        # "uv pip", "uv venv"; for `python -m pip` and `python -m virtualenv` the module's name
        step = command[2] if command[1] == "-m" else f"{Path(command[0]).name} {command[1]}"
        raise BuildFailed(f"{step} failed: {first_error(''.join(output))}")


def first_error(output: str) -> str:
    """The line of an installer's output that says what went wrong, with the line that explains it."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for index, line in enumerate(lines):
        if line.lower().startswith(("error", "× ", "x ")):
            return " ".join(lines[index : index + 2])[:500]
    return lines[-1][:500] if lines else "no output"


def _reports_version(interpreter: str, version: str) -> bool:
    if not Path(interpreter).exists():
        return False
    probe = subprocess.run(
        [interpreter, "-c", "import platform; print(platform.python_version())"], capture_output=True, text=True
    )
    return probe.returncode == 0 and (probe.stdout.strip() + ".").startswith(version + ".")
