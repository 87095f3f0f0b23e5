"""What keras-drift ships into every environment: the probe package and its start-up hooks.

The probe runs inside each pinned environment, so it travels with keras-drift itself, never with the
user's project: a wheel carries it as ``keras_drift/_probe/probe/`` (``pyproject.toml`` maps the
repository's ``probe/`` there, and its ``probes/``, the template of a user's own probe modules, beside
it), and a source checkout (an editable install, this repository's own
noxfile) has it at the repository's root. Environments get it from here, whatever folder a command runs
in; the user's own probe modules (``probes/``) stay in the user's project.
"""

from __future__ import annotations

import functools
from pathlib import Path

from keras_drift.errors import InputError

PACKAGE = "probe"
_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # keras_drift/
# Where the probe is, in the order looked at: inside the installed package (a wheel), then beside it in a
# source checkout (src/keras_drift/ -> the repository root).
_PLACES = (_PACKAGE_DIR / "_probe", _PACKAGE_DIR.parents[1])


@functools.cache
def probe_root() -> Path:
    """The folder that holds the ``probe`` package (what goes first on the probe's ``sys.path``)."""
    for place in _PLACES:
        if (place / PACKAGE / "__main__.py").is_file():
            return place
    raise InputError(f"{_PACKAGE_DIR}: this keras-drift has no probe (looked in {', '.join(map(str, _PLACES))}); reinstall it")


def probe_dir() -> Path:
    """The ``probe`` package itself."""
    return probe_root() / PACKAGE


def hooks_dir() -> Path:
    """keras-drift's own start-up hooks (``probe/hooks/``): those an environment file may name and those
    :data:`keras_drift.envs.specs.ERA_RULES` add."""
    return probe_dir() / "hooks"


def example_probes() -> Path:
    """The template of a user's probe modules (this repository's ``probes/``), which ``keras-drift init``
    copies into a new project."""
    return probe_root() / "probes"


def launch_command(python: Path, arguments: list[str]) -> list[str]:
    """The command that runs the shipped probe with ``python``: the probe's folder goes first on its path,
    ahead of the working folder (the user's project, which may hold a ``probe`` of its own), so the probe
    is always keras-drift's. Python 3.6 to today run it the same way."""
    bootstrap = ("import runpy, sys; sys.path.insert(0, sys.argv.pop(1)); "
                 f"runpy.run_module({PACKAGE!r}, run_name='__main__', alter_sys=True)")
    return [str(python), "-c", bootstrap, str(probe_root()), *arguments]
