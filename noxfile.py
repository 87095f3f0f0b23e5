"""Sessions of keras-drift. Thin by design: each session installs the package and calls its command.

Probe sessions are generated from ``envs/``, one per environment file: adding an environment is adding
a file. ``nox -l`` lists them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nox

ROOT = Path(__file__).parent
sys.path.insert(0, str(ROOT / "src"))
from keras_drift.envs.specs import load_specs  # noqa: E402  (stdlib + packaging only)
from keras_drift.errors import InputError  # noqa: E402  (stdlib only)

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_venv = "yes"
nox.options.sessions = ["drift"]
WORKFLOWS = [str(path.relative_to(ROOT)) for path in sorted((ROOT / ".github" / "workflows").glob("*.yml"))]


def _install_host(session: nox.Session, extras: str = "") -> None:
    # Compiled to bytecode as installed (pip always does; uv when asked): where PYTHONDONTWRITEBYTECODE is
    # set, as on many CI images, every keras-drift command would compile pandas and matplotlib from source.
    session.install("-e", f".{extras}", env={"UV_COMPILE_BYTECODE": "1"})


@nox.session
def drift(session: nox.Session) -> None:
    """Build/reuse the selected environments, run the probe in each, compare, render the report.

    Arguments after -- go to `keras-drift drift`, e.g. `nox -s drift -- --envs tf-2.15,keras-3.15-jax`.
    """
    _install_host(session)
    session.run("keras-drift", "drift", *session.posargs)


@nox.session
def report(session: nox.Session) -> None:
    """Re-render verdicts and report from existing results (default: reports/latest)."""
    _install_host(session)
    session.run("keras-drift", "report", *session.posargs)


@nox.session
def bisect(session: nox.Session) -> None:
    """Name the first release where the numbers move, between two env files.

    E.g. `nox -s bisect -- --good keras-0.3.3-theano --bad keras-1.2.0-theano` (see `keras-drift bisect --help`).
    """
    _install_host(session)
    session.run("keras-drift", "bisect", *session.posargs)


@nox.session
def lock(session: nox.Session) -> None:
    """Write envs/<name>.lock.txt (every dependency pinned with hashes) for each pinned environment."""
    _install_host(session)
    session.run("keras-drift", "lock", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmark: cold, warm and parallel wall times, per-environment costs, render time (reports/bench/)."""
    _install_host(session)
    session.run("keras-drift", "bench", *session.posargs)


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite: unit tests plus end-to-end tests on real environments."""
    _install_host(session, "[test]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff on everything, mypy on src/, and a static audit of the nightly workflow (offline)."""
    _install_host(session, "[lint]")
    session.run("ruff", "check", ".")
    session.run("mypy", "src")
    session.run("lint-imports")  # the layout by stage: each layer imports only those below it (pyproject.toml)
    session.run("check-jsonschema", "--builtin-schema", "vendor.github-workflows", *WORKFLOWS)
    session.run("zizmor", "--offline", *WORKFLOWS)


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site into site/ (MkDocs, offline), warnings as errors.

    Its reference pages (the CLI from the parser, the JSON schemas, the changelog) are generated during the
    build by docs/hooks.py. `nox -s docs -- serve` previews it instead.
    """
    _install_host(session, "[docs]")
    if session.posargs:
        session.run("mkdocs", *session.posargs)
    else:
        session.run("mkdocs", "build", "--strict", "--site-dir", "site")


def _probe_session(name: str):
    def probe(session: nox.Session) -> None:
        _install_host(session)
        session.run("keras-drift", "run", "--envs", name, *session.posargs)

    probe.__doc__ = f"Run the probe in the {name} environment only (results under reports/)."
    return probe


try:
    _SPECS = load_specs(ROOT / "envs")
except InputError as error:
    # `nox -s drift` still runs and reports this with exit code 3; only the per-env sessions are missing.
    print(f"noxfile: no probe sessions: {error}", file=sys.stderr)
    _SPECS = []

for _spec in _SPECS:
    # Tagged with the env's own tags too, so `nox -t keras3` runs the probe sessions of those envs.
    nox.session(name=f"probe-{_spec.name}", tags=["probe", *_spec.tags])(_probe_session(_spec.name))
