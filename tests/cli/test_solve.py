"""`handgrad solve` end to end: options, JSON, the HTML report in a browser, the exit code."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from handgrad.cli import app
from solve.solve_html import checked_html, chromium, dump_dom, parse

runner = CliRunner()


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    """One full run (all questions, figures on) writing JSON to stdout and HTML to a file."""
    out = tmp_path_factory.mktemp("solve") / "report.html"
    result = runner.invoke(app, ["solve", "--json", "--html", str(out)])
    return result, json.loads(result.stdout), out


def test_json_covers_every_question(full_run):
    result, doc, _ = full_run
    assert [a["question"] for a in doc["answers"]] == [1, 2, 3, 4, 5]
    s = doc["summary"]
    assert s["checks"] == sum(len(a["checks"]) for a in doc["answers"])
    assert s["failed"] == 0, s["failed_checks"]
    assert result.exit_code == 0
    for a in doc["answers"]:
        assert a["checks"], f"Q{a['question']} has no check"
        assert a["passed"] and all(c["passed"] for c in a["checks"])


def test_html_report_structure(full_run):
    _, doc, path = full_run
    n_figures = sum(len(a["figures"]) for a in doc["answers"])
    p = checked_html(path.read_text(encoding="utf-8"), n_figures)
    assert [t[1]["id"] for t in p.tags if t[0] == "section"] == [f"q{i}" for i in range(1, 6)]


@pytest.mark.skipif(
    chromium() is None, reason="Chromium is not installed (apt-get install chromium)"
)
def test_html_report_loads_in_chromium(full_run):
    _, doc, path = full_run
    n_figures = sum(len(a["figures"]) for a in doc["answers"])
    body = next(t[1] for t in parse(dump_dom(path)).tags if t[0] == "body")
    assert body.get("data-report-ready") == "yes"
    assert body.get("data-figures") == str(n_figures)


def test_default_run_prints_and_writes_report(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["solve", "--question", "5", "--no-figures"])
    assert result.exit_code == 0, result.output
    report = tmp_path / "handgrad-report.html"
    assert report.exists()
    flat = re.sub(r"\s+", "", result.output)
    assert re.sub(r"\s+", "", str(report.resolve())) in flat
    assert "Q5." in result.output and "Q1." not in result.output


def test_json_alone_writes_no_report(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["solve", "--question", "3", "--no-figures", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["summary"]["all_passed"] is True
    assert list(tmp_path.iterdir()) == []


def test_question_option_range():
    result = runner.invoke(app, ["solve", "--question", "6"])
    assert result.exit_code == 2


def test_failed_check_gives_non_zero_exit(tmp_path, monkeypatch):
    import handgrad.conv as conv

    original = conv.conv_transpose2d
    monkeypatch.setattr(conv, "conv_transpose2d", lambda *a, **k: original(*a, **k) + 1e-3)
    result = runner.invoke(app, ["solve", "-q", "5", "--json"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["summary"]["failed"] >= 1 and not doc["summary"]["all_passed"]


def test_library_value_error_is_one_clean_line(monkeypatch, tmp_path):
    import handgrad.solve as solve

    def boom(*args, **kwargs):
        raise ValueError("kernel must be 2-D; got shape (3,)")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(solve, "solve_question", boom)
    result = runner.invoke(app, ["solve", "-q", "1"])
    assert result.exit_code == 2
    assert "error: kernel must be 2-D; got shape (3,)" in result.output
    assert "Traceback" not in result.output


def test_report_is_written_where_asked(tmp_path):
    target = Path(tmp_path) / "sub.html"
    result = runner.invoke(app, ["solve", "-q", "3", "--html", str(target), "--no-figures"])
    assert result.exit_code == 0
    assert target.exists()


def test_unwritable_report_path_is_one_clean_line(tmp_path):
    target = tmp_path / "missing-dir" / "r.html"
    result = runner.invoke(app, ["solve", "-q", "3", "--no-figures", "--html", str(target)])
    assert result.exit_code == 2
    assert "error:" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("seed", [1, 2])
def test_other_seeds_pass_every_check(seed, tmp_path):
    result = runner.invoke(
        app,
        [
            "solve",
            "--json",
            "--no-figures",
            "--seed",
            str(seed),
            "--html",
            str(tmp_path / "r.html"),
        ],
    )
    doc = json.loads(result.stdout)
    assert doc["seed"] == seed
    assert doc["summary"]["failed"] == 0, doc["summary"]["failed_checks"]
    assert result.exit_code == 0


def test_the_cli_knows_the_question_count_and_default_seed():
    from handgrad.cli.solve import DEFAULT_SEED, N_QUESTIONS
    from handgrad.solve import DEFAULT_SEED as SOLVE_SEED
    from handgrad.solve import QUESTIONS

    assert N_QUESTIONS == len(QUESTIONS) == max(QUESTIONS)
    assert DEFAULT_SEED == SOLVE_SEED
