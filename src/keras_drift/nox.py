"""keras-drift's nox sessions, for any project's noxfile: one import and one call add them.

    # noxfile.py
    from keras_drift.nox import add_sessions
    add_sessions()

adds ``drift``, ``report``, ``gate``, ``lock`` and ``bisect`` (each runs that ``keras-drift`` command with
the arguments after ``--``) and one ``probe-<env>`` session per environment file in ``envs/``, tagged
``probe`` and with the environment's own tags (``nox -t keras3``): adding an environment is adding a file.
A session runs keras-drift with the interpreter running nox, where this module was imported from; a
project that installs keras-drift in each session instead (as keras-drift's own noxfile does) passes
``install``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import nox

from keras_drift.envs.specs import load_specs
from keras_drift.errors import InputError

# The commands that get a session of their own, with what each session does.
COMMANDS = {
    "drift": "Build/reuse the selected environments, run the probe in each, compare, render the report. "
             "Arguments after -- go to `keras-drift drift`, e.g. `nox -s drift -- --envs current,proposed`.",
    "report": "Re-render verdicts and report from existing results (default: reports/latest).",
    "gate": "Judge a finished run for CI (default: reports/latest): 0 no drift, 1 drift, 2 an environment failed.",
    "lock": "Write envs/<name>.lock.txt (every dependency pinned with hashes) for each pinned environment.",
    "bisect": "Name the first release where the numbers move, between two env files "
              "(e.g. `nox -s bisect -- --good current --bad proposed`).",
}

Install = Callable[[nox.Session], None]


def add_sessions(root: Path | str | None = None, *, install: Install | None = None) -> None:
    """Register the sessions of the module docstring. ``root`` holds ``envs/`` (default: the current folder,
    which nox sets to the noxfile's); ``install``, when given, installs keras-drift into each session's own
    virtual environment, where the sessions then run it."""
    folder = Path(root) if root is not None else Path.cwd()
    for command, doc in COMMANDS.items():
        nox.session(name=command, python=None if install else False)(_command_session([command], doc, install))
    try:
        specs = load_specs(folder / "envs")
    except InputError as error:
        # `nox -s drift` still runs and reports this with exit code 3; only the per-env sessions are missing.
        print(f"noxfile: no probe sessions: {error}", file=sys.stderr)
        specs = []
    for spec in specs:
        doc = f"Run the probe in the {spec.name} environment only (results under reports/)."
        session = _command_session(["run", "--envs", spec.name], doc, install)
        nox.session(name=f"probe-{spec.name}", tags=["probe", *spec.tags], python=None if install else False)(session)


def _command_session(arguments: list[str], doc: str, install: Install | None) -> Callable[[nox.Session], None]:
    def session(session: nox.Session) -> None:
        if install is None:
            session.run(sys.executable, "-m", "keras_drift", *arguments, *session.posargs, external=True)
        else:
            install(session)
            session.run("keras-drift", *arguments, *session.posargs)

    session.__doc__ = doc
    return session
