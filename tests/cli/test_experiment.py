"""``handgrad experiment repeated-words`` through typer's CliRunner (tiny runs)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from handgrad.cli import app
from handgrad.experiments.repeated_words import RepeatedWordsConfig, run

runner = CliRunner()


def test_repeated_words_table_json_and_plot(tmp_path):
    out_json, out_png = tmp_path / "rw.json", tmp_path / "rw.png"
    args = ["experiment", "repeated-words", "--lags", "1,3", "--steps", "4", "--hidden-size", "4"]
    result = runner.invoke(app, [*args, "--json", str(out_json), "--plot", str(out_png)])
    assert result.exit_code == 0, result.output
    assert "Held-out accuracy" in result.output
    for word in ("RNN", "LSTM", "GRU", "lag 1", "lag 3", "chance accuracy 0.5"):
        assert word in result.output
    payload = json.loads(out_json.read_text())
    assert [(r["cell"], r["lag"]) for r in payload["results"]] == [
        (c, lag) for lag in (1, 3) for c in ("RNN", "LSTM", "GRU")
    ]
    # the numbers are the library's, for the same config
    expected = run(RepeatedWordsConfig(lags=(1, 3), steps=4, hidden_size=4))
    assert [r["test_accuracy"] for r in payload["results"]] == [
        r.test_accuracy for r in expected.results
    ]
    assert f"{expected.get('LSTM', 3).test_accuracy:.3f}" in result.output
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cells_option_and_seed():
    args = ["--lags", "2", "--steps", "2", "--cells", "LSTM", "--seed", "3", "--hidden-size", "3"]
    result = runner.invoke(app, ["experiment", "repeated-words", *args])
    assert result.exit_code == 0, result.output
    assert "LSTM" in result.output and "GRU" not in result.output and "seed 3" in result.output
    assert "gate bias 2" in result.output


def test_gate_bias_option_reaches_the_config(tmp_path):
    out_json = tmp_path / "rw.json"
    args = ["--lags", "2", "--steps", "2", "--cells", "GRU", "--gate-bias", "0.5"]
    result = runner.invoke(app, ["experiment", "repeated-words", *args, "--json", str(out_json)])
    assert result.exit_code == 0, result.output
    assert json.loads(out_json.read_text())["config"]["gate_bias"] == 0.5
    assert "gate bias 0.5" in result.output


def test_bad_values_are_one_line_errors(tmp_path):
    cases = [
        (["--lags", "2,x"], "--lags must be comma-separated integers"),
        (["--lags", "0"], "lags[0] must be a positive integer; got 0"),
        (["--cells", "RNN,TCN"], "cells[1] must be one of"),
        (["--steps", "0"], "steps must be a positive integer; got 0"),
        (["--lags", "1", "--steps", "1", "--plot", str(tmp_path / "f.nope")], "error:"),
    ]
    for extra, message in cases:
        result = runner.invoke(app, ["experiment", "repeated-words", *extra])
        assert result.exit_code == 2, (extra, result.output)
        assert message in result.output, (extra, result.output)
        assert "Traceback" not in result.output


def test_help_lists_the_experiment():
    result = runner.invoke(app, ["experiment", "--help"])
    assert result.exit_code == 0
    assert "repeated-words" in result.output
