"""Progress a person can follow: what each environment is doing, read from the files its processes write."""

from __future__ import annotations

import io
import json
from pathlib import Path

from keras_drift.execute.runner import Activity, activities
from keras_drift.live import Live

BUILD_LOG = """$ uv venv --python 3.11 /venvs/a
Using CPython 3.11.7
$ uv pip install keras==3.15.1
Resolved 41 packages in 1.2s
Downloading jaxlib (80.1MiB)
 Downloaded jaxlib
Downloading tensorflow (585.0MiB)
"""


def running(logs: Path, name: str, **progress) -> None:
    (logs / f"{name}.running").write_text(json.dumps({"mechanisms": [], **progress}))


def test_each_environment_is_building_probing_loading_or_re_running_by_its_files(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.log").write_text(BUILD_LOG)  # building: the installer's last line that says what it does
    (logs / "b.log").write_text(BUILD_LOG)
    running(logs, "b.probe.json", task="linear.defaults", phase="task", of=[3, 40])
    (tmp_path / "results").mkdir()
    (logs / "tf-2.12.log").write_text(BUILD_LOG)  # its probe finished (a result), now it loads
    (tmp_path / "results" / "tf-2.12.json").write_text("{}")
    (logs / "tf-2.12.loads.log").write_text("")
    running(logs, "tf-2.12.loads.json", task="", phase="loading", of=[])
    running(logs, "c.trials-0123abcd.out.json", task="classifier.defaults", phase="records", of=[1, 2])
    (logs / "done.log").write_text(BUILD_LOG)  # finished and running nothing: not listed
    (tmp_path / "results" / "done.json").write_text("{}")
    (logs / "broken.probe.json.running").write_text("{not json")  # being written: skipped until readable
    (logs / "d.log").write_text(BUILD_LOG + "Installed 41 packages in 2s\n$ /venvs/d/bin/python -c import runpy, sys; ... probe\n")
    assert activities(tmp_path) == [
        Activity("a", "building", "Downloading tensorflow (585.0MiB)"),
        Activity("b", "probing", "linear.defaults", 3, 40),
        Activity("c", "re-running", "classifier.defaults", 1, 2),
        Activity("d", "probing"),  # its probe was launched: between two probe processes, or writing its result
        Activity("tf-2.12", "loading", "loading"),
    ]
    assert activities(tmp_path / "no-run-yet") == []


def test_plain_lines_say_each_new_phase_once(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.log").write_text(BUILD_LOG)
    stream = io.StringIO()
    shown = Live(tmp_path, stream=stream, terminal=False)
    shown.refresh()
    shown.refresh()  # nothing new: nothing said
    with (logs / "a.log").open("a") as log:
        log.write(" Downloaded tensorflow\nDownloading jax (2.1MiB)\n")
    shown.refresh()  # still building: a new download is said
    with (logs / "a.log").open("a") as log:
        log.write(" Downloaded jax\nPrepared 41 packages in 9s\n")
    shown.refresh()  # still building: the installer's other lines are not
    running(logs, "a.probe.json", task="linear.defaults", phase="task", of=[1, 40])
    shown.refresh()
    running(logs, "a.probe.json", task="linear.raw", phase="task", of=[2, 40])
    shown.refresh()  # the same phase, another task: a CI log is not flooded
    shown.say("a                            ok          9.0 s")
    assert stream.getvalue().splitlines() == [
        f"{'a':<28} building: Downloading tensorflow (585.0MiB)",
        f"{'a':<28} building: Downloading jax (2.1MiB)",
        f"{'a':<28} probing: linear.defaults (task 1 of 40)",
        f"{'a':<28} ok          9.0 s",
    ]


def test_on_a_terminal_the_steps_lines_print_above_the_live_lines(tmp_path):
    stream = io.StringIO()
    with Live(tmp_path, stream=stream, terminal=True) as shown:
        (tmp_path / "logs").mkdir()
        (tmp_path / "logs" / "a.log").write_text(BUILD_LOG)
        shown.refresh()
        shown.say("a [x] ok")  # printed as it is: no markup read into an environment's name
    assert "a [x] ok" in stream.getvalue()
