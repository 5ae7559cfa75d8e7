"""The report renderers (terminal, JSON, HTML), the data model, the exit code and a real browser.

HTML structure is checked with the standard library's parser; the page is also loaded in headless
Chromium (skipped, with the reason, only when no Chromium is installed).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from rich.console import Console

from handgrad.solve.figures import new_figure, to_svg
from handgrad.solve.model import (
    Answer,
    Figure,
    check_close,
    check_equal,
    jsonable,
)
from handgrad.solve.report import format_cell, render_console, summary, to_html, to_json
from solve.solve_html import checked_html, chromium, dump_dom, parse

# ------------------------------------------------------------------------------------ fixtures


def _line_svg(y: list[float]) -> str:
    fig, ax = new_figure(3.0, 2.0)
    ax.plot(np.arange(len(y)), y)
    return to_svg(fig)


def _answers(failing: bool = False) -> list[Answer]:
    a = Answer(2, "A question <with> & markup")
    a.text("Hits at ranks 1 and 2 & more.")
    a.formula("F", "x < y & y > z")
    a.table("T", ["k", "value"], [[1, 0.123456789], [2, "2/3"]], digits=3)
    a.matrix("M", np.array([[1.0, 2.0], [3.0, 4.0]]))
    a.values["ap"] = 0.75
    a.values["nan"] = float("nan")
    a.checks.append(check_close("ok", 1.0, 1.0 + 1e-16, method="exact", tolerance=1e-15))
    if failing:
        a.checks.append(check_close("bad", 1.0, 1.1, method="closed form", tolerance=1e-12))
    a.figures.append(Figure("one", "First", _line_svg([1.0, 2.0, 0.5]), "a caption"))
    a.figures.append(Figure("two", "Second", _line_svg([3.0, 1.0])))
    b = Answer(5, "A second question")
    b.text("No figures here.")
    b.checks.append(check_equal("output shape", (9, 9), (9, 9), method="size formula"))
    return [a, b]


# ---------------------------------------------------------------------------------- data model


def test_check_close_relative_error_worked_example():
    # |1.0 - 1.1| / max(1.0, 1.1) = 0.1 / 1.1 = 0.0909...
    c = check_close("x", 1.0, 1.1, method="m", tolerance=0.1)
    assert c.error == pytest.approx(0.1 / 1.1, rel=1e-14)
    assert c.passed
    assert not check_close("x", 1.0, 1.1, method="m", tolerance=0.09).passed


def test_check_close_shape_mismatch_and_nan_fail():
    assert not check_close("x", np.ones(3), np.ones(4), method="m", tolerance=1.0).passed
    assert not check_close("x", np.nan, 1.0, method="m", tolerance=1.0).passed
    both_zero = check_close("x", np.zeros(2), np.zeros(2), method="m", tolerance=0.0)
    assert both_zero.passed and both_zero.error == 0.0


def test_check_equal():
    assert check_equal("s", (9, 9), (9, 9), method="m").passed
    c = check_equal("s", 8, 9, method="m")
    assert (c.passed, c.error) == (False, 1.0)


def test_jsonable_handles_numpy_fractions_and_non_finite():
    from fractions import Fraction

    out = jsonable(
        {"a": np.arange(3), "b": Fraction(1, 4), "c": np.float32(0.5), 1: [np.inf, -np.inf, np.nan]}
    )
    assert out == {"a": [0, 1, 2], "b": 0.25, "c": 0.5, "1": ["inf", "-inf", "nan"]}
    json.dumps(out, allow_nan=False)


def test_format_cell():
    assert format_cell(0.123456789, 3) == "0.123"
    assert format_cell(7) == "7"
    assert format_cell("4/7") == "4/7"


# ---------------------------------------------------------------------------------- renderers


def test_summary_counts():
    s = summary(_answers(failing=True))
    assert s["checks"] == 3 and s["passed"] == 2 and s["failed"] == 1
    assert s["failed_checks"] == ["Q2: bad"]
    assert not s["all_passed"]


def test_json_schema():
    doc = json.loads(to_json(_answers(), seed=3, version="9.9"))
    assert set(doc) == {"handgrad_version", "seed", "summary", "answers"}
    assert doc["seed"] == 3 and doc["handgrad_version"] == "9.9"
    first, second = doc["answers"]
    assert set(first) == {
        "question", "title", "passed", "values", "checks", "items", "figures",
    }  # fmt: skip
    assert first["values"] == {"ap": 0.75, "nan": "nan"}
    assert [i["kind"] for i in first["items"]] == ["text", "formula", "table", "matrix"]
    assert first["items"][3]["entries"] == [[1.0, 2.0], [3.0, 4.0]]
    check = first["checks"][0]
    assert set(check) == {"name", "method", "value", "reference", "error", "tolerance", "passed"}
    assert check["passed"] is True
    assert [f["name"] for f in first["figures"]] == ["one", "two"]
    assert second["passed"] is True and second["figures"] == []
    assert second["checks"][0]["value"] == [9, 9]


def test_console_marks_pass_and_fail():
    console = Console(record=True, width=120, color_system=None)
    render_console(_answers(failing=True), console, html_path="r.html")
    text = console.export_text()
    assert "PASS" in text and "FAIL" in text
    assert "2 of 3 checks passed" in text and "failed: Q2: bad" in text
    assert "figure: First (in r.html)" in text


def test_html_structure_escaping_and_responsiveness():
    document = to_html(_answers(failing=True), seed=0, version="0")
    p = checked_html(document, 2)
    assert "A question &lt;with&gt; &amp; markup" in document
    assert "max-width: 100%" in document and "@media" in document
    assert [t[1]["id"] for t in p.tags if t[0] == "section"] == ["q2", "q5"]
    assert "1 of 3 checks failed" in document


@pytest.mark.skipif(
    chromium() is None, reason="Chromium is not installed (apt-get install chromium)"
)
def test_html_renders_in_headless_chromium(tmp_path):
    path = tmp_path / "report.html"
    path.write_text(to_html(_answers(), seed=0, version="0"), encoding="utf-8")
    dom = dump_dom(path)
    p = parse(dom)
    body = next(t[1] for t in p.tags if t[0] == "body")
    assert body.get("data-report-ready") == "yes"  # the inline script ran after the load event
    assert body.get("data-figures") == "2"
    assert len([t for t in p.tags if t[0] == "svg" and t[2] and t[2][-1] == "figure"]) == 2


def test_solve_question_rejects_unknown_numbers():
    from handgrad.solve import solve_question

    with pytest.raises(ValueError, match=r"question must be one of \[1, 2, 3, 4, 5\]; got 6"):
        solve_question(6)
