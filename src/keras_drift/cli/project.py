"""The project's own defaults for the probe's options: ``[tool.keras-drift]`` in ``pyproject.toml`` in
``--root``, the table Python tools keep their settings in.

A team that asks the same question on every bump writes its script down once::

    [tool.keras-drift]
    script = "train.py"          # relative to the project root
    script-args = "--epochs 3"   # split as a shell would

and ``keras-drift drift`` runs it as ``--script train.py --script-args "--epochs 3"`` would. An option given
on the command line wins over the file. A missing file or table sets nothing; an unknown key or a value of
the wrong type is one line naming the file and the key (exit 3).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from keras_drift.errors import InputError
from keras_drift.store.tables import read_toml, shown_path

FILE = "pyproject.toml"
TABLE = "keras-drift"  # under [tool]


@dataclass(frozen=True)
class ProjectConfig:
    """What ``[tool.keras-drift]`` sets: the script (resolved under the project root) and its arguments."""

    script: Path | None = None
    script_args: str | None = None


def load(root: Path) -> ProjectConfig:
    """``[tool.keras-drift]`` of ``root/pyproject.toml`` (empty where there is none)."""
    path = root / FILE
    try:
        data = read_toml(path)
    except FileNotFoundError:
        return ProjectConfig()
    tool = data.get("tool", {})
    table = tool.get(TABLE, {}) if isinstance(tool, dict) else {}
    where = f"{shown_path(path)}: tool.{TABLE}"
    if not isinstance(table, dict):
        raise InputError(f"{where}: must be a table")
    unknown = sorted(set(table) - {"script", "script-args"})
    if unknown:
        raise InputError(f"{where}.{unknown[0]}: unknown key; the table holds script and script-args")
    for key in ("script", "script-args"):
        if key in table and not isinstance(table[key], str):
            raise InputError(f"{where}.{key}: must be a string")
    script = table.get("script")
    if script is not None and not (root / script).is_file():
        raise InputError(f"{where}.script: {script}: no such file under {shown_path(root)}")
    return ProjectConfig(script=(root / script).resolve() if script is not None else None, script_args=table.get("script-args"))
