"""Sessions of keras-drift. Thin by design: each session installs the package and calls its command.

The sessions every project gets (drift, report, gate, lock, bisect, and one probe session per file in
``envs/``: adding an environment is adding a file) come from :mod:`keras_drift.nox`; the developer's own
(bench, tests, lint, docs) are here. ``nox -l`` lists them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nox

ROOT = Path(__file__).parent
sys.path.insert(0, str(ROOT / "src"))
from keras_drift.nox import add_sessions  # noqa: E402  (nox, stdlib and packaging only)

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_venv = "yes"
nox.options.sessions = ["drift"]
# This repository's workflows, and the one `keras-drift init` writes into a project.
WORKFLOWS = [*(str(path.relative_to(ROOT)) for path in sorted((ROOT / ".github" / "workflows").glob("*.yml"))),
             "src/keras_drift/templates/project/keras-drift.yml"]


def _install_host(session: nox.Session, extras: str = "") -> None:
    # Compiled to bytecode as installed (pip always does; uv when asked): where PYTHONDONTWRITEBYTECODE is
    # set, as on many CI images, every keras-drift command would compile pandas and matplotlib from source.
    session.install("-e", f".{extras}", env={"UV_COMPILE_BYTECODE": "1"})


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


# drift, report, gate, lock, bisect and probe-<env> (one per env file): the sessions any project gets from
# keras_drift.nox, here each installing this checkout first.
add_sessions(ROOT, install=_install_host)
