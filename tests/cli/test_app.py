"""The command-line tool: help, version, python -m."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

import handgrad
from handgrad.cli import app

runner = CliRunner()


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"handgrad {handgrad.__version__}"


def test_help_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "solve" in result.output


def test_python_dash_m():
    out = subprocess.run(
        [sys.executable, "-m", "handgrad", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"handgrad {handgrad.__version__}"
