"""The base of the project's closed sets of strings (a result's status, a verdict, a cause, a proof)."""

from __future__ import annotations

import enum


class Label(str, enum.Enum):
    """A closed set of strings that is also a ``str``: equal to, hashed like and printed as its value, so
    it can be compared with what a JSON file or a DataFrame holds, and is written to one as its value
    (``enum.StrEnum`` would do, but the project supports Python 3.10)."""

    def __str__(self) -> str:
        return str(self.value)

    def __hash__(self) -> int:
        return hash(self.value)
