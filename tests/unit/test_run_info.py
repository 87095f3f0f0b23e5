"""run.json has one owner: RunInfo, written and read back the same, refused in one line when malformed."""

import json

import pytest

from keras_drift.errors import InputError
from keras_drift.store import runs


def test_a_run_s_record_reads_back_as_it_was_written(tmp_path, monkeypatch):
    monkeypatch.setattr(runs.sys, "argv", ["keras-drift", "drift", "--envs", "a,b"])
    run_dir = tmp_path / "20261202T000000Z-abcdef"
    run_dir.mkdir()
    info = runs.RunInfo.started(run_dir, environments=["a", "b"], baseline="a")
    runs.write_run_info(run_dir, info)
    written = json.loads((run_dir / runs.RUN_FILE).read_text())
    assert written == {"run_id": run_dir.name, "command": "keras-drift drift --envs a,b", "environments": ["a", "b"],
                       "baseline": "a", "started_at": info.started_at}  # unset fields are left out
    assert runs.read_run_info(run_dir) == info


def test_a_folder_without_a_record_has_its_id_only_and_a_malformed_one_is_one_line(tmp_path):
    assert runs.read_run_info(tmp_path) == runs.RunInfo(run_id=tmp_path.name)
    (tmp_path / runs.RUN_FILE).write_text(json.dumps({"run_id": "r", "finished_at": 5}))
    with pytest.raises(InputError, match=r"run.json: finished_at: must be a string, got int"):
        runs.read_run_info(tmp_path)
