"""Shared helpers for the tests: writing env files and building results the way the probe does."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from keras_drift.results import Result

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def write_env(tmp_path: Path):
    """Write ``envs/<name>.toml`` under a temporary folder and return its path."""
    folder = tmp_path / "envs"
    folder.mkdir(exist_ok=True)

    def write(name: str, text: str) -> Path:
        path = folder / f"{name}.toml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


def make_result(env: str, metrics: dict[str, Any], status: str = "ok", **extra: Any) -> Result:
    """A result as the probe and host write it, with only the fields a test needs."""
    return Result({"schema_version": 1, "env": env, "status": status, "metrics": dict(metrics), "series": {}, "errors": {}, **extra})
