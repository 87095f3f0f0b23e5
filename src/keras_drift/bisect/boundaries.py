"""The search of a bisect: over releases ordered from the good end to the bad end, find for each metric
family the first release whose results no longer agree with the good end.

Pure bookkeeping, no probing (``keras_drift.bisect.bisecting`` probes): :class:`Search` is told what each probed
release showed (:meth:`Search.record`) and says which releases to probe next (:meth:`Search.next_versions`).
Each family is searched on its own, so a bump that holds two changes gets two boundaries; a release that
could not be tested is stepped around, as ``git bisect skip`` does, and where only such releases are left
the boundary names all the releases it could be.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Boundary:
    """Where one family turns: the last release seen agreeing with the good end, the first seen not to, and
    the untestable releases between them (any of which may be the real first bad one)."""

    family: str
    last_good: str
    first_bad: str
    untestable: tuple[str, ...] = ()

    @property
    def exact(self) -> bool:
        """Whether the first bad release is known for certain (nothing untestable in between)."""
        return not self.untestable


class Search:
    """A multi-family bisection over ``versions`` (good end first, bad end last) of the ``families`` that
    differ at the bad end. The good end agrees with itself, so it counts as good for every family."""

    def __init__(self, versions: Sequence[str], families: Iterable[str]) -> None:
        if len(versions) < 2:
            raise ValueError("a bisect needs the good and the bad end")
        self.versions = list(versions)
        self.families = sorted(set(families))
        # per probed version: the families that differ from the good end, or None (untestable)
        self.outcomes: dict[str, frozenset[str] | None] = {versions[0]: frozenset()}
        self.outcomes[versions[-1]] = frozenset(self.families)

    def record(self, version: str, differing: Iterable[str] | None) -> None:
        """What probing ``version`` showed: the families that differ from the good end (only the searched
        ones count), or ``None`` when it could not be installed or probed."""
        if version not in self.versions:
            raise ValueError(f"{version} is not one of the releases searched")
        self.outcomes[version] = None if differing is None else frozenset(differing).intersection(self.families)

    def _differs(self, version: str, family: str) -> bool | None:
        """Whether ``version`` differs from the good end in ``family``; ``None`` when untried or untestable."""
        outcome = self.outcomes.get(version)
        return None if outcome is None else family in outcome

    def _interval(self, family: str) -> tuple[int, int]:
        """Indices of the last release agreeing in ``family`` before the first one that differs, and of that one."""
        first_bad = min(i for i, version in enumerate(self.versions) if self._differs(version, family))
        last_good = max(i for i, version in enumerate(self.versions[:first_bad]) if self._differs(version, family) is False)
        return last_good, first_bad

    def _untried(self, family: str) -> list[int]:
        low, high = self._interval(family)
        return [i for i in range(low + 1, high) if self.versions[i] not in self.outcomes]

    def next_versions(self, jobs: int = 1) -> list[str]:
        """Up to ``jobs`` releases to probe at once, splitting the open intervals evenly (one probe halves an
        interval, ``jobs`` probes cut it into ``jobs + 1``); the widest intervals get probes first. Empty
        when every family's boundary is found."""
        open_intervals = {tuple(untried) for family in self.families if (untried := self._untried(family))}
        allocation = dict.fromkeys(open_intervals, 0)
        for _ in range(max(1, jobs)):
            wider = [interval for interval in allocation if allocation[interval] < len(interval)]
            if not wider:
                break
            widest = max(wider, key=lambda interval: (len(interval) / (allocation[interval] + 1), interval))
            allocation[widest] += 1
        chosen: set[int] = set()
        for interval, probes in allocation.items():
            chosen.update(interval[(j + 1) * (len(interval) + 1) // (probes + 1) - 1] for j in range(probes))
        return [self.versions[i] for i in sorted(chosen)][: max(1, jobs)]

    def boundaries(self) -> list[Boundary]:
        """Each family's boundary as far as the probes so far show it."""
        found = []
        for family in self.families:
            low, high = self._interval(family)
            skipped = tuple(version for version in self.versions[low + 1:high] if self.verdict(version) == "untestable")
            found.append(Boundary(family, self.versions[low], self.versions[high], skipped))
        return found

    def verdict(self, version: str) -> str:
        """``good``, ``bad`` (some family differs), ``untestable`` or ``untried``."""
        if version not in self.outcomes:
            return "untried"
        outcome = self.outcomes[version]
        return "untestable" if outcome is None else ("bad" if outcome else "good")
