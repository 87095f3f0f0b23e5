"""One error base: each error keras-drift raises on purpose carries its exit code, and main turns it into
one line and that code in one place."""

import argparse

import pytest

from keras_drift import cli, drift
from keras_drift.bisect import bisecting
from keras_drift.envs import environments, locks
from keras_drift.errors import DriftError, ExitCode, InputError, Interrupted
from keras_drift.execute import runner


@pytest.mark.parametrize(
    ("error", "code", "line"),
    [
        (InputError("envs/x.toml: backend: 'mxnet' is not one of ..."), ExitCode.BAD_INPUT,
         "keras-drift: error: envs/x.toml: backend: 'mxnet' is not one of ..."),
        (locks.LockFailed("no solution"), ExitCode.LOCK_FAILED, "keras-drift: error: no solution"),
        (bisecting.EndFailed("old: failed: install failed"), ExitCode.FAILED,
         "keras-drift: bisect: cannot compare with an end that failed: old: failed: install failed"),
        (environments.BuildFailed("uv pip failed"), ExitCode.FAILED, "keras-drift: error: uv pip failed"),
        (Interrupted("reports/r1"), ExitCode.INTERRUPTED,
         "keras-drift: interrupted: partial results kept in reports/r1 (run.json says incomplete); reports/latest is unchanged"),
    ],
)
def test_every_error_raised_on_purpose_is_one_line_and_its_code(monkeypatch, capsys, error, code, line):
    def handler(args: argparse.Namespace) -> ExitCode:
        raise error

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    monkeypatch.setattr(parser, "parse_args", lambda argv: argparse.Namespace(handler=handler))
    assert cli.main(["list"]) == code
    assert capsys.readouterr().err == line + "\n"


def test_the_errors_of_environments_share_the_base():
    for cls in (environments.BuildFailed, environments.InterpreterMissing, runner.ProbeFailed, bisecting.EndFailed, locks.LockFailed):
        assert issubclass(cls, DriftError)


def test_run_exits_2_when_an_environment_s_numbers_are_unknown(monkeypatch, tmp_path, capsys):
    """`keras-drift run` compares nothing, but a failed environment is still exit 2 (it was 0)."""
    from conftest import make_result

    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "a.toml").write_text('requirements = ["keras==3.15.1"]\npython = "3.11"\nbackend = "jax"\n')
    outcomes = {"ok": [make_result("a", {"m": 1.0})], "failed": [make_result("a", {}, status="failed", reason="install failed")]}
    for said, code in (("ok", ExitCode.OK), ("failed", ExitCode.FAILED)):
        monkeypatch.setattr(drift, "probe", lambda plan, say, said=said: outcomes[said])
        assert cli.main(["run", "--envs", "a", "--envs-dir", str(tmp_path / "envs"), "--reports", str(tmp_path / "reports")]) == code
