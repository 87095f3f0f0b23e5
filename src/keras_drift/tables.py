"""Reviewed TOML files that hold one kind of ``[[table]]`` (``accepted.toml``, ``saved-models.toml``): read
them once, the same way, with one-line errors naming the file and the key."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from keras_drift.errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def read_tables(path: Path, name: str) -> list[Any]:
    """The ``[[name]]`` entries of ``path`` (none when the file does not exist), as TOML gives them; an
    :class:`InputError` when the file cannot be read, holds another key, or ``name`` is not a list."""
    if not path.exists():
        return []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{path}: cannot be read as TOML: {' '.join(str(exc).split())}") from None
    unknown = sorted(set(data) - {name})
    if unknown:
        raise InputError(f"{path}: {unknown[0]}: unknown key; the file holds [[{name}]] tables only")
    entries = data.get(name, [])
    if not isinstance(entries, list):
        raise InputError(f"{path}: {name}: must be a list of [[{name}]] tables")
    return entries
