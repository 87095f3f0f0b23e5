"""Reviewed TOML files that hold one kind of ``[[table]]`` (``accepted.toml``, ``saved-models.toml``): read
them once, the same way, with one-line errors naming the file and the key.

Also the guards every input file goes through before it is opened (:func:`read_input`): only a regular
file is read (a FIFO would block forever, a device never end), and a TOML text nested deeper than any
file of ours is refused before the parser recurses into it (:func:`read_toml`)."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import Any

from keras_drift.errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# Deeper TOML is never a file of ours, and would exhaust the parser's recursion (specs.MAX_NESTING's twin).
MAX_NESTING = 50


def check_regular(path: Path) -> None:
    """Refuse ``path`` unless it is a regular file (a link to one is one): a FIFO, socket, device or folder
    would block, never end or not be text. An :class:`InputError` naming the path; a missing path passes."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    except (OSError, ValueError) as exc:  # a NUL byte, a name too long, a loop of links, no permission
        raise InputError(f"{shown_path(path)}: cannot be read: {_reason(exc)}") from None
    if not stat.S_ISREG(mode):
        raise InputError(f"{shown_path(path)}: is not a regular file")


def read_input(path: Path, encoding: str = "utf-8") -> str:
    """The text of the input file ``path``, refused with a one-line :class:`InputError` when it is not a
    regular file or cannot be read or decoded (``FileNotFoundError`` is raised as it is, for callers that
    treat a missing file as empty)."""
    check_regular(path)
    try:
        return Path(path).read_text(encoding=encoding)
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{shown_path(path)}: cannot be read: {_reason(exc)}") from None


def nesting(text: str) -> int:
    """An upper bound of how deep the brackets of a TOML or JSON text nest (strings included, which only over-counts)."""
    depth = deepest = 0
    for character in text:
        if character in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif character in "]}":
            depth = max(0, depth - 1)
    return deepest


def parse_toml(text: str, source: object) -> dict[str, Any]:
    """``text`` parsed as TOML, or a one-line :class:`InputError` naming ``source``: malformed, or nested
    more than :data:`MAX_NESTING` levels deep."""
    if nesting(text) > MAX_NESTING:
        raise InputError(f"{source}: nested more than {MAX_NESTING} levels deep")
    try:
        return tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError, ValueError) as exc:
        raise InputError(f"{source}: cannot be read as TOML: {_reason(exc)}") from None


def read_toml(path: Path) -> dict[str, Any]:
    """The TOML file ``path`` (a byte-order mark is not part of it), guarded by :func:`read_input` and
    :func:`parse_toml`; ``FileNotFoundError`` when it does not exist."""
    return parse_toml(read_input(path, encoding="utf-8-sig"), shown_path(path))


def read_tables(path: Path, name: str) -> list[Any]:
    """The ``[[name]]`` entries of ``path`` (none when the file does not exist), as TOML gives them; an
    :class:`InputError` when the file cannot be read, holds another key, or ``name`` is not a list."""
    try:
        data = read_toml(path)
    except FileNotFoundError:
        return []
    unknown = sorted(set(data) - {name})
    if unknown:
        raise InputError(f"{shown_path(path)}: {unknown[0]}: unknown key; the file holds [[{name}]] tables only")
    entries = data.get(name, [])
    if not isinstance(entries, list):
        raise InputError(f"{shown_path(path)}: {name}: must be a list of [[{name}]] tables")
    return entries


def shown_path(path: object) -> str:
    """A path as one printable line (a name may hold a newline or an undecodable byte)."""
    return ascii(str(path))[1:-1] if not str(path).isprintable() else str(path)


def _reason(exc: BaseException) -> str:
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return " ".join(text.split())
