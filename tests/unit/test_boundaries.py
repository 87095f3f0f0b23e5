"""The bisect's search, on made-up outcomes: each expected sequence of probes is worked out by hand from the
rule (one probe halves an interval, N probes cut it into N + 1; the widest open interval first)."""

from __future__ import annotations

import pytest

from keras_drift.bisect.boundaries import Boundary, Search

VERSIONS = [f"v{i}" for i in range(9)]  # v0 the good end, v8 the bad end


def bisect(search: Search, first_bad: dict[str, int], untestable: set[str] = frozenset(), jobs: int = 1) -> list[list[str]]:
    """Drive ``search`` to the end against the truth ``first_bad`` (family -> index); return its steps."""
    steps = []
    while chosen := search.next_versions(jobs):
        steps.append(chosen)
        for version in chosen:
            index = VERSIONS.index(version)
            search.record(version, None if version in untestable else [f for f, bad in first_bad.items() if index >= bad])
    return steps


def test_one_family_halves_its_interval_each_step():
    search = Search(VERSIONS, ["classifier"])
    # candidates v1..v7: the middle one (v4, good); then v5..v7: v6 (bad); then v5 (bad)
    assert bisect(search, {"classifier": 5}) == [["v4"], ["v6"], ["v5"]]
    assert search.boundaries() == [Boundary("classifier", "v4", "v5")]
    assert [search.verdict(v) for v in VERSIONS] == ["good", "untried", "untried", "untried", "good", "bad", "bad", "untried", "bad"]


def test_an_untestable_release_is_stepped_around_and_named_when_it_may_be_the_first_bad():
    search = Search(VERSIONS, ["classifier"])
    # v4 good, v6 bad; v5, the only candidate left, cannot be tested: the first bad is v5 or v6
    assert bisect(search, {"classifier": 5}, untestable={"v5"}) == [["v4"], ["v6"], ["v5"]]
    (boundary,) = search.boundaries()
    assert (boundary.last_good, boundary.first_bad, boundary.untestable, boundary.exact) == ("v4", "v6", ("v5",), False)
    assert search.verdict("v5") == "untestable"


def test_an_untestable_midpoint_moves_the_probe_to_another_candidate():
    search = Search(VERSIONS, ["classifier"])
    # v4 untestable; candidates v1 v2 v3 v5 v6 v7: (6 + 1) // 2 - 1 = 2 -> v3 (good); then v5 v6 v7: v6 (bad); then v5 (bad)
    assert bisect(search, {"classifier": 5}, untestable={"v4"}) == [["v4"], ["v3"], ["v6"], ["v5"]]
    # v4 lies between the last good and the first bad, so it may be the first bad one itself
    assert search.boundaries() == [Boundary("classifier", "v3", "v5", ("v4",))]


def test_two_families_that_change_at_different_releases_get_two_boundaries():
    search = Search(VERSIONS, ["optimizer", "classifier"])
    # v4: optimizer bad, classifier good. Open: optimizer v1-v3, classifier v5-v7, equally wide: the later one first (v6),
    # then optimizer's (v2), then v5 against v1 (one candidate each: the later one), then v1
    assert bisect(search, {"optimizer": 2, "classifier": 6}) == [["v4"], ["v6"], ["v2"], ["v5"], ["v1"]]
    assert search.boundaries() == [Boundary("classifier", "v5", "v6"), Boundary("optimizer", "v1", "v2")]


def test_n_probes_per_step_cut_the_interval_into_n_plus_one():
    search = Search(VERSIONS, ["classifier"])
    # candidates v1..v7, three probes: positions (j + 1) * 8 // 4 - 1 = 1, 3, 5 -> v2, v4, v6; then the one left, v3
    assert bisect(search, {"classifier": 3}, jobs=3) == [["v2", "v4", "v6"], ["v3"]]
    assert search.boundaries() == [Boundary("classifier", "v2", "v3")]


def test_more_jobs_than_candidates_probes_each_candidate_once():
    search = Search(["a", "b", "c", "d"], ["x"])
    assert search.next_versions(5) == ["b", "c"]


def test_adjacent_ends_need_no_probe():
    search = Search(["1.0", "1.1"], ["x"])
    assert search.next_versions() == []
    assert search.boundaries() == [Boundary("x", "1.0", "1.1")]


def test_only_the_searched_families_count_and_unknown_versions_are_refused():
    search = Search(VERSIONS, ["x"])
    search.record("v4", ["x", "not-searched"])
    assert search.outcomes["v4"] == {"x"}
    with pytest.raises(ValueError, match="not one of the releases"):
        search.record("v9", [])
