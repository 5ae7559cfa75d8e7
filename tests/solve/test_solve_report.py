"""The report renderers (terminal, JSON, HTML), the exit code's summary and a real browser.

HTML structure is checked with the standard library's parser; the page is also loaded in headless
Chromium (skipped, with the reason, only when no Chromium is installed), which must typeset the
formulas' MathML.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from rich.console import Console

from handgrad.solve.figures import new_figure, to_svg
from handgrad.solve.model import Answer, Figure, Formula, check_close, check_equal
from handgrad.solve.report import format_cell, render_console, summary, to_html, to_json
from solve.solve_html import checked_html, chromium, load_page, parse

needs_chromium = pytest.mark.skipif(
    chromium() is None, reason="Chromium is not installed (apt-get install chromium)"
)
SUM_TEXT = "dE_t/dW = sum_{k=1..t} delta_k H_{k-1}^T,  for t < T"
SUM_TEX = (
    r"$\frac{\partial E_t}{\partial W} = \sum_{k=1}^{t} \delta_k H_{k-1}^\top$"
    "\n"
    r"for $t < T$, with $\delta_k = \frac{\partial E_t}{\partial a_k}$"
)

# ------------------------------------------------------------------------------------ fixtures


def _line_svg(y: list[float]) -> str:
    fig, ax = new_figure(3.0, 2.0)
    ax.plot(np.arange(len(y)), y)
    return to_svg(fig)


def _answers(failing: bool = False) -> list[Answer]:
    a = Answer(2, "A question <with> & markup")
    a.text("Hits at ranks 1 and 2 & more.")
    a.formula("F", "x < y & y > z")
    a.formula("Sum", SUM_TEXT, SUM_TEX)
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


# ---------------------------------------------------------------------------------- renderers


def test_format_cell():
    assert format_cell(0.123456789, 3) == "0.123"
    assert format_cell(7) == "7"
    assert format_cell("4/7") == "4/7"


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
    assert [i["kind"] for i in first["items"]] == ["text", "formula", "formula", "table", "matrix"]
    assert first["items"][4]["entries"] == [[1.0, 2.0], [3.0, 4.0]]
    # Formulas keep their plain text in JSON; the TeX is for the HTML only.
    assert first["items"][2] == {"kind": "formula", "title": "Sum", "text": SUM_TEXT}
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
    assert "sum_{k=1..t} delta_k" in text and "\\frac" not in text and "<math" not in text


def test_html_structure_escaping_and_responsiveness():
    document = to_html(_answers(failing=True), seed=0, version="0")
    p = checked_html(document, 2)
    assert "A question &lt;with&gt; &amp; markup" in document
    assert "max-width: 100%" in document and "@media" in document
    assert [t[1]["id"] for t in p.tags if t[0] == "section"] == ["q2", "q5"]
    assert "1 of 3 checks failed" in document
    # A formula with TeX is MathML (block and inline), one without it a monospace block.
    assert "<pre>x &lt; y &amp; y &gt; z</pre>" in document
    names = [t[0] for t in p.tags]
    assert names.count("math") == 3 and names.count("mfrac") == 2 and "munderover" in names
    assert SUM_TEXT not in document


# The probe measures the layout: a typeset fraction has its numerator above its denominator, and
# a typeset sum its lower limit below the sign (without MathML both would sit on one line).
_PROBE = """<script>
window.addEventListener("load", function () {
  function below(a, b) { return a.getBoundingClientRect().bottom <= b.getBoundingClientRect().top + 1; }
  var fracs = document.querySelectorAll("mfrac"), sums = document.querySelectorAll("munderover");
  var stacked = 0, limits = 0;
  fracs.forEach(function (f) { if (below(f.children[0], f.children[1])) stacked += 1; });
  sums.forEach(function (s) { if (below(s.children[0], s.children[1])) limits += 1; });
  document.body.setAttribute("data-fractions", stacked + " of " + fracs.length);
  document.body.setAttribute("data-limits", limits + " of " + sums.length);
});
</script>"""
_CONTROL = '<script>console.error("control: the page\'s messages reach the log");</script>'


def _plain_formulas(answers: list[Answer]) -> list[Answer]:
    """The same answers with every formula's TeX dropped: plain text in a monospace block."""
    return [
        replace(a, items=[replace(i, tex="") if isinstance(i, Formula) else i for i in a.items])
        for a in answers
    ]


@needs_chromium
def test_html_renders_in_headless_chromium_with_typeset_math(tmp_path):
    answers = _answers()
    math_page, plain_page = tmp_path / "math.html", tmp_path / "plain.html"
    math_page.write_text(
        to_html(answers, seed=0, version="0").replace("</body>", _PROBE + "</body>"),
        encoding="utf-8",
    )
    # The plain page logs one message on purpose: it shows that the log read below is the page's.
    plain_page.write_text(
        to_html(_plain_formulas(answers), seed=0, version="0").replace(
            "</body>", _CONTROL + "</body>"
        ),
        encoding="utf-8",
    )
    math = load_page(math_page, screenshot=tmp_path / "math.png")
    plain = load_page(plain_page, screenshot=tmp_path / "plain.png")
    p = parse(math.dom)
    body = next(t[1] for t in p.tags if t[0] == "body")
    assert body.get("data-report-ready") == "yes"  # the inline script ran after the load event
    assert body.get("data-figures") == "2"
    assert len([t for t in p.tags if t[0] == "svg" and t[2] and t[2][-1] == "figure"]) == 2
    assert body.get("data-fractions") == "2 of 2" and body.get("data-limits") == "1 of 1"
    assert (tmp_path / "math.png").read_bytes() != (tmp_path / "plain.png").read_bytes()
    assert math.console == []  # no error, warning or log from the page
    assert len(plain.console) == 1 and "control: the page's messages" in plain.console[0]
