"""Hostile input, third pass (issue 36): prune deletes only what keras-drift wrote, the gate fails on
incomplete input, concurrent accepts lose nothing, no FIFO hangs a command, the crash handler never crashes,
bad input is one line and exit 3 (never an internal error), and nothing reaches $HOME or the terminal raw."""

from __future__ import annotations

import errno
import os
import shutil
import time
from pathlib import Path

import pytest
from conftest import make_result

from keras_drift.cli import main
from keras_drift.results import write_result

BASE = {"linear.reference.w": 0.6, "linear.reference.b": 0.8}
RUN_ID = "20260101T000000Z-abcdef"


def run_folder(tmp_path: Path, *results) -> Path:
    run = tmp_path / "reports" / RUN_ID
    for result in results:
        write_result(result, run)
    return run


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("keras-drift: error: ") and err.count("\n") == 1, err
    return err


def _old(path: Path, text: str | None = None) -> Path:
    """Make ``path`` (written with ``text`` first, when given) look written long ago (older than any run)."""
    if text is not None:
        path.write_text(text)
    stamp = time.mktime(time.strptime("2001-01-01", "%Y-%m-%d"))
    os.utime(path, (stamp, stamp), follow_symlinks=False)
    return path


# -- 1. prune deletes only what keras-drift wrote ---------------------------------------------------------


def _foreign_files(folder: Path) -> list[Path]:
    """Files keras-drift never writes, old enough for any prune, beside a cache's entries."""
    folder.mkdir(parents=True, exist_ok=True)
    made = [folder / "package.json", folder / "tsconfig.json", folder / "notes.json", folder / f"{'a' * 24}.json.bak",
            folder / f"{'A' * 24}.json", folder / f"{'c' * 23}.json"]
    for path in made:
        path.write_text("{}")
        _old(path)
    return made


def test_prune_deletes_only_its_own_entries_and_run_folders(tmp_path, capsys):
    reports = tmp_path / "reports"
    old_run, new_run = reports / "20261101T000000Z-aaaaaa", reports / "20261120T000000Z-bbbbbb"
    for folder in (old_run, new_run):
        (folder / "results").mkdir(parents=True)
    lookalike = reports / "20261101T000000Z-cccccc\n"  # a run id with a trailing newline is not a run id
    lookalike.mkdir()
    cache = reports / "cache"
    foreign = _foreign_files(cache)
    entry = _old(cache / f"{'a' * 24}.json", "{}")
    elsewhere = tmp_path / "elsewhere"
    elsewhere_files = _foreign_files(elsewhere)
    victim = _old(elsewhere / f"{'d' * 24}.json", "{}")
    link = cache / f"{'e' * 24}.json"  # an entry's name, but a link to a file keras-drift did not write
    link.symlink_to(victim)
    _old(link)
    (cache / f"{'f' * 24}.artifacts").symlink_to(elsewhere, target_is_directory=True)
    assert main(["prune", "--reports", str(reports), "--keep", "1"]) == 0
    assert not old_run.exists() and new_run.exists() and lookalike.exists()
    assert not entry.exists()
    assert all(path.exists() for path in foreign + elsewhere_files + [victim, link])


@pytest.mark.parametrize("where", ["project", "current folder"])
def test_prune_with_the_cache_at_a_project_folder_keeps_the_projects_files(tmp_path, monkeypatch, where):
    project = tmp_path / "proj"
    foreign = _foreign_files(project)
    monkeypatch.chdir(project)
    cache = str(project) if where == "project" else "."
    assert main(["prune", "--reports", str(tmp_path / "reports"), "--keep", "0", "--cache", cache]) == 0
    assert all(path.exists() for path in foreign)


def test_prune_never_follows_a_linked_cache_folder(tmp_path, capsys):
    reports = tmp_path / "reports"
    old_run = reports / "20261101T000000Z-aaaaaa"
    (old_run / "results").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    entry = _old(elsewhere / f"{'a' * 24}.json", "{}")
    (reports / "cache").symlink_to(elsewhere, target_is_directory=True)
    assert main(["prune", "--reports", str(reports), "--keep", "0"]) == 3
    assert "cache: is a symbolic link" in one_line_error(capsys)
    assert entry.exists() and old_run.exists()  # refused before anything was deleted


def test_an_empty_keras_drift_cache_variable_is_refused_and_nothing_in_the_current_folder_goes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    program = tmp_path / "compiled" / "assets" / "app.min.js"
    program.parent.mkdir(parents=True)
    _old(program, "x")
    monkeypatch.setenv("KERAS_DRIFT_CACHE", "")
    assert main(["prune", "--reports", str(tmp_path / "reports"), "--keep", "1"]) == 3
    assert "KERAS_DRIFT_CACHE: is set but empty" in one_line_error(capsys)
    assert program.exists() and not (tmp_path / "crashes").exists()


def test_prune_in_a_folder_it_may_not_write_is_one_line(tmp_path, capsys, monkeypatch):
    reports = tmp_path / "reports"
    run = reports / "20261101T000000Z-aaaaaa"
    (run / "results").mkdir(parents=True)

    def refused(path, *args, **kwargs):  # what rmtree meets in a 0555 folder as an unprivileged user
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(shutil, "rmtree", refused)
    assert main(["prune", "--reports", str(reports), "--keep", "0"]) == 3
    assert f"{run}: cannot" in one_line_error(capsys)


# -- 2. the gate fails on a partial result and on a candidate without metrics ---------------------------------


@pytest.mark.parametrize(
    ("candidate", "said"),
    [
        (make_result("cand", BASE, partial=True), "cand: partial: the probe stopped before its last task"),
        (make_result("cand", {}), "cand: no metrics, though the baseline has 2"),
    ],
    ids=["partial", "no metrics"],
)
def test_the_gate_fails_on_a_result_whose_numbers_are_not_all_known(tmp_path, capsys, candidate, said):
    run = run_folder(tmp_path, make_result("base", BASE), candidate)
    assert main(["gate", str(run), "--baseline", "base", "--candidate", "cand"]) == 2
    assert said in capsys.readouterr().out
    assert main(["gate", str(run), "--baseline", "base"]) == 2


def test_a_partial_baseline_fails_the_gate_too(tmp_path):
    run = run_folder(tmp_path, make_result("base", BASE, partial=True), make_result("cand", BASE))
    assert main(["gate", str(run), "--baseline", "base"]) == 2


# -- 3. concurrent accepts lose nothing; a broken accepted-drifts file is refused --------------------------


def _accept(run: Path, accepted: Path, index: int) -> int:
    return main(["accept", str(run), "--env", "cand", "--reason", f"reviewed {index}", "--accepted", str(accepted)])


def test_twelve_accepts_at_once_keep_every_entry(tmp_path):
    import multiprocessing

    run = run_folder(tmp_path, make_result("base", BASE), make_result("cand", {"linear.reference.w": 0.7, "linear.reference.b": 0.8}))
    accepted = tmp_path / "acc.toml"
    with multiprocessing.get_context("fork").Pool(12) as pool:
        codes = pool.starmap(_accept, [(run, accepted, index) for index in range(12)])
    assert codes == [0] * 12
    text = accepted.read_text()
    assert sorted(int(line.split()[-1].strip('"')) for line in text.splitlines() if line.startswith("reason")) == list(range(12))
    assert main(["report", str(run), "--accepted", str(accepted)]) == 0


@pytest.mark.parametrize(
    ("text", "said"),
    [("[[accept]\n", "cannot be read as TOML"), ("[[accept]]\nenv = 1\n", "accept[0].env: is required"),
     ("\xff", None)],
    ids=["unclosed table", "bad entry", "not UTF-8"],
)
def test_accept_refuses_to_append_to_a_broken_file(tmp_path, capsys, text, said):
    run = run_folder(tmp_path, make_result("base", BASE), make_result("cand", {"linear.reference.w": 0.7, "linear.reference.b": 0.8}))
    accepted = tmp_path / "acc.toml"
    accepted.write_bytes(text.encode("latin-1"))
    assert _accept(run, accepted, 0) == 3
    assert str(accepted) in one_line_error(capsys)
    assert accepted.read_bytes() == text.encode("latin-1")
