"""``handgrad experiment list`` and ``handgrad experiment run`` (typer's CliRunner; one subprocess)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from handgrad.cli import app
from handgrad.experiments.registry import EXPERIMENTS
from handgrad.experiments.runner import load_state

runner = CliRunner()
TINY = ["--set", "lags=1,3", "--set", "steps=4", "--set", "hidden_size=4", "--set", "test_size=8"]


def test_list_prints_every_experiment():
    result = runner.invoke(app, ["experiment", "list"])
    assert result.exit_code == 0, result.output
    for e in EXPERIMENTS.values():
        assert e.name in result.output
        assert f"claim: {e.claim}" in result.output
        assert f"reference: {e.reference}" in result.output
        assert f"--quick {e.quick_time}, full {e.full_time}" in result.output


def test_run_writes_the_folder_and_prints_the_verdict(tmp_path):
    out = tmp_path / "rw"
    args = ["experiment", "run", "repeated-words", "--out", str(out), "--seed", "2", *TINY]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "repeated-words: not reproduced" in result.output  # 4 steps learn nothing
    assert "rule: at the longest lag (3)" in result.output
    assert "[ ] LSTM keeps lag 3: accuracy >= 0.75" in result.output
    assert "6 units (serial) in " in result.output and str(out) in result.output
    for name in ("config.json", "results.csv", "curves.csv", "summary.json", "summary.md"):
        assert (out / name).is_file(), name
    assert (out / "accuracy_vs_lag.png").is_file() and (out / "accuracy_vs_lag.svg").is_file()
    config = json.loads((out / "config.json").read_text())
    assert config["seed"] == 2 and config["config"]["lags"] == [1, 3]
    assert config["config"]["steps"] == 4 and config["quick"] is False


def test_the_default_folder_is_runs_name_and_time(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["experiment", "run", "repeated-words", "--quick", *TINY])
    assert result.exit_code == 0, result.output
    (folder,) = (tmp_path / "runs").iterdir()
    assert re.fullmatch(r"repeated-words-\d{8}-\d{6}", folder.name)
    assert json.loads((folder / "config.json").read_text())["quick"] is True


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--set", "steps=0"], "steps must be a positive integer; got 0"),
        (["--set", "steps=abc"], "steps must be an integer; got 'abc'"),
        (["--set", "lr=nan"], "lr must be a finite number; got nan"),
        (["--set", "cells=RNN,TCN"], "cells[1] must be one of"),
        (["--set", "stepz=3"], "--set: unknown key 'stepz'; valid keys: batch_size, cells,"),
        (["--set", "steps"], "--set expects key=value; got 'steps'"),
        (["--jobs", "0"], "--jobs must be at least 1; got 0"),
        (["--checkpoint-every", "0"], "--checkpoint-every must be at least 1; got 0"),
        (["--resume"], "--resume needs --out DIR"),
    ],
)
def test_bad_values_are_one_line_errors_before_any_work(tmp_path, monkeypatch, extra, message):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["experiment", "run", "repeated-words", *extra])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert result.output.startswith("error: ") and "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []  # no run folder


def test_an_unknown_experiment_is_named(tmp_path):
    result = runner.invoke(app, ["experiment", "run", "nope", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "error: unknown experiment 'nope'; the experiments are: " in result.output


def test_an_existing_out_folder_is_refused_unless_resumed(tmp_path):
    out = tmp_path / "rw"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    result = runner.invoke(app, ["experiment", "run", "repeated-words", "--out", str(out), *TINY])
    assert result.exit_code == 2
    assert f"error: --out: '{out}' already exists; choose a new folder, or add --resume" in (
        " ".join(result.output.split())
    )
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    # --resume on a folder of another config names what differs
    done = tmp_path / "done"
    assert runner.invoke(app, ["experiment", "run", "repeated-words", "--out", str(done), *TINY])
    args = ["experiment", "run", "repeated-words", "--out", str(done), "--resume", *TINY]
    result = runner.invoke(app, [*args, "--set", "lr=0.5"])
    assert result.exit_code == 2
    assert "has another config (lr is 0.01 there, 0.5 here)" in " ".join(result.output.split())


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_dask_scheduler_that_does_not_answer(tmp_path):
    pytest.importorskip("distributed")
    address = f"tcp://127.0.0.1:{_free_port()}"
    args = ["experiment", "run", "repeated-words", "--out", str(tmp_path / "rw"), *TINY]
    start = time.monotonic()
    result = runner.invoke(app, [*args, "--dask-scheduler", address, "--dask-timeout", "1"])
    assert time.monotonic() - start < 30
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert text.startswith(f"error: no Dask scheduler answered at '{address}' within 1 s")
    assert not (tmp_path / "rw").exists()


def test_without_dask_the_option_says_how_to_install_it(tmp_path, monkeypatch):
    import handgrad._dask as dask_module

    monkeypatch.setattr(dask_module, "dask_available", lambda: False)
    args = ["experiment", "run", "repeated-words", "--out", str(tmp_path / "rw"), *TINY]
    result = runner.invoke(app, [*args, "--dask-scheduler", "tcp://127.0.0.1:8786"])
    assert result.exit_code == 2
    assert (
        result.output.strip() == "error: --dask-scheduler needs Dask: pip install 'handgrad[dask]'"
    )


def test_resume_after_sigkill_equals_an_uninterrupted_run(tmp_path):
    """Kill a run (SIGKILL) while its second unit trains; --resume ends equal, bit for bit."""
    sets = ["--set", "lags=5", "--set", "cells=RNN,LSTM", "--set", "steps=200"]
    sets += ["--checkpoint-every", "10"]
    killed = tmp_path / "killed"
    command = [sys.executable, "-m", "handgrad", "experiment", "run", "repeated-words"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [*command, "--out", str(killed), *sets],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    partial = killed / "checkpoints" / "unit-0001.npz"
    deadline = time.monotonic() + 120
    try:
        while not partial.exists():
            assert proc.poll() is None, f"the run ended before it was killed: {proc.stderr.read()}"
            assert time.monotonic() < deadline, "no checkpoint of the second unit within 120 s"
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert (killed / "checkpoints" / "unit-0000.rows.json").is_file()  # the RNN finished
    assert 10 <= load_state(partial)["step"] < 200  # the LSTM was part way
    assert not (killed / "results.csv").exists()
    resumed = runner.invoke(
        app, ["experiment", "run", "repeated-words", "--out", str(killed), "--resume", *sets]
    )
    assert resumed.exit_code == 0, resumed.output
    assert "(serial, resumed)" in resumed.output
    whole = tmp_path / "whole"
    straight = runner.invoke(
        app, ["experiment", "run", "repeated-words", "--out", str(whole), *sets]
    )
    assert straight.exit_code == 0, straight.output
    for name in ("results.csv", "curves.csv"):
        assert (killed / name).read_bytes() == (whole / name).read_bytes(), name
    summaries = [json.loads((d / "summary.json").read_text()) for d in (killed, whole)]
    assert summaries[0]["measured"] == summaries[1]["measured"]
    assert summaries[0]["run"]["resumed_units"] == 1
