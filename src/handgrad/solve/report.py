"""Renderers for worked answers: the terminal (rich), JSON and a self-contained HTML page.

The HTML page needs no network: figures are inline SVG, formulas are MathML (from each formula's
TeX, see :mod:`handgrad.solve.mathml`; the browser typesets them natively), the style sheet and the
one script are inline, and a viewport meta tag with responsive CSS makes it readable on a phone.
The terminal and JSON keep the formulas' plain text. After the page has loaded, the inline script
sets ``data-report-ready="yes"`` on ``<body>`` and records the number of figures it found in
``data-figures`` (a browser test reads both).
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Any

from handgrad.solve.mathml import tex_lines_to_html
from handgrad.solve.model import Answer, Cell, Check, Formula, Matrix, Table, Text, jsonable

__all__ = ["format_cell", "render_console", "summary", "to_html", "to_json"]


def format_cell(value: Cell, digits: int = 6) -> str:
    """Floats with ``digits`` significant digits; integers and strings as they are."""
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def summary(answers: Sequence[Answer]) -> dict[str, Any]:
    """Counts of checks and questions: the numbers behind the exit code."""
    checks = [c for a in answers for c in a.checks]
    failed = [f"Q{a.question}: {c.name}" for a in answers for c in a.checks if not c.passed]
    return {
        "questions": [a.question for a in answers],
        "checks": len(checks),
        "passed": len(checks) - len(failed),
        "failed": len(failed),
        "failed_checks": failed,
        "all_passed": not failed,
    }


# ----------------------------------------------------------------------------------------- JSON


def _check_dict(c: Check) -> dict[str, Any]:
    return {
        "name": c.name,
        "method": c.method,
        "value": jsonable(c.value),
        "reference": jsonable(c.reference),
        "error": jsonable(c.error),
        "tolerance": c.tolerance,
        "passed": c.passed,
    }


def _item_dict(item: Text | Formula | Table | Matrix) -> dict[str, Any]:
    if isinstance(item, Text):
        return {"kind": "text", "text": item.text}
    if isinstance(item, Formula):
        return {"kind": "formula", "title": item.title, "text": item.text}
    if isinstance(item, Table):
        return {
            "kind": "table",
            "title": item.title,
            "columns": item.columns,
            "rows": jsonable(item.rows),
        }
    return {"kind": "matrix", "title": item.title, "entries": jsonable(item.entries)}


def answer_dict(a: Answer, *, include_svg: bool = False) -> dict[str, Any]:
    """One answer as a JSON-friendly dict (figures by name and title; SVG text on request)."""
    return {
        "question": a.question,
        "title": a.title,
        "passed": a.passed,
        "values": jsonable(a.values),
        "checks": [_check_dict(c) for c in a.checks],
        "items": [_item_dict(i) for i in a.items],
        "figures": [
            {"name": f.name, "title": f.title, "caption": f.caption}
            | ({"svg": f.svg} if include_svg else {})
            for f in a.figures
        ],
    }


def to_json(answers: Sequence[Answer], *, seed: int, version: str) -> str:
    """Every answer and check, machine-readable."""
    doc = {
        "handgrad_version": version,
        "seed": seed,
        "summary": summary(answers),
        "answers": [answer_dict(a) for a in answers],
    }
    return json.dumps(doc, indent=2, allow_nan=False)


# ------------------------------------------------------------------------------------- terminal


def render_console(
    answers: Sequence[Answer], console: Any, *, html_path: str | None = None
) -> None:
    """Print the answers with rich: items, then checks marked PASS / FAIL with their errors."""
    from rich.markup import escape
    from rich.panel import Panel
    from rich.table import Table as RichTable
    from rich.text import Text as RichText

    for a in answers:
        console.rule(f"[bold]Q{a.question}. {escape(a.title)}")
        for item in a.items:
            if isinstance(item, Text):
                console.print(RichText(item.text))
            elif isinstance(item, Formula):
                console.print(
                    Panel(RichText(item.text), title=escape(item.title), title_align="left")
                )
            elif isinstance(item, Table):
                t = RichTable(title=escape(item.title), title_justify="left")
                text_cols = _text_columns(item.rows)
                for j, col in enumerate(item.columns):
                    t.add_column(escape(col), justify="left" if j in text_cols else "right")
                for row in item.rows:
                    t.add_row(*(RichText(format_cell(v, item.digits)) for v in row))
                console.print(t)
            else:
                m = RichTable(title=escape(item.title), title_justify="left", show_header=False)
                for _ in item.entries[0] if item.entries else []:
                    m.add_column(justify="right")
                for row in item.entries:
                    m.add_row(*(RichText(format_cell(v, item.digits)) for v in row))
                console.print(m)
        for f in a.figures:
            where = f" (in {html_path})" if html_path else ""
            console.print(f"[cyan]figure[/cyan]: {escape(f.title + where)}")
        if a.checks:
            ct = RichTable(title=f"Q{a.question} checks", title_justify="left")
            for col in ("check", "independent route", "error", "tolerance", ""):
                ct.add_column(col)
            for c in a.checks:
                mark = "[green]PASS[/green]" if c.passed else "[bold red]FAIL[/bold red]"
                ct.add_row(
                    RichText(c.name),
                    RichText(c.method),
                    f"{c.error:.2e}",
                    f"{c.tolerance:.0e}",
                    mark,
                )
            console.print(ct)
    s = summary(answers)
    colour = "green" if s["all_passed"] else "red"
    console.rule()
    console.print(
        f"[{colour}]{s['passed']} of {s['checks']} checks passed[/{colour}]"
        + (f"; failed: {escape(', '.join(s['failed_checks']))}" if s["failed"] else "")
    )


# ----------------------------------------------------------------------------------------- HTML

_CSS = """
:root { color-scheme: light; --fg: #1d1f21; --muted: #5f6368; --ok: #137333; --bad: #b3261e; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 60rem; padding: 0.75rem; font: 16px/1.5 system-ui, sans-serif;
       color: var(--fg); background: #fff; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.25rem; border-bottom: 1px solid #ddd; }
h3 { font-size: 1rem; margin-bottom: 0.25rem; }
.scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; }
table { border-collapse: collapse; margin: 0.25rem 0 1rem; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.45rem; text-align: right; white-space: nowrap; }
th { background: #f3f3f3; }
table.matrix td { border: none; padding: 0.1rem 0.6rem; }
.matrix-block { display: inline-block; vertical-align: top; margin-right: 1.5rem; max-width: 100%; }
table.matrix { border-left: 2px solid #444; border-right: 2px solid #444; }
pre { background: #f6f8fa; padding: 0.6rem; overflow-x: auto; font-size: 0.85rem; }
.formula { background: #f6f8fa; padding: 0.1rem 0.6rem; overflow-x: auto; }
.formula p { margin: 0.4rem 0; } .formula math[display="block"] { margin: 0.5rem 0; }
math { font-size: 1.05em; }
figure { margin: 1rem 0; }
figure svg { display: block; width: 100%; max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 0.9rem; }
.pass { color: var(--ok); font-weight: bold; } .fail { color: var(--bad); font-weight: bold; }
td.left, th.left { text-align: left; white-space: normal; }
@media (max-width: 40rem) { body { font-size: 15px; padding: 0.5rem; } pre { font-size: 0.75rem; } }
"""

_SCRIPT = """
window.addEventListener("load", function () {
  var figs = document.querySelectorAll("figure.answer-figure svg");
  document.body.setAttribute("data-figures", String(figs.length));
  document.body.setAttribute("data-report-ready", "yes");
});
"""


def _e(s: object) -> str:
    return html.escape(str(s), quote=True)


def _text_columns(rows: list[list[Cell]]) -> set[int]:
    """Columns holding prose (a string with a space somewhere): shown left-aligned."""
    return {j for row in rows for j, v in enumerate(row) if isinstance(v, str) and " " in v}


def _html_table(columns: list[str] | None, rows: list[list[Cell]], digits: int, cls: str) -> str:
    out = [f'<div class="scroll"><table class="{cls}">']
    text_cols = _text_columns(rows)

    def attr(j: int) -> str:
        return ' class="left"' if j in text_cols else ""

    if columns:
        heads = "".join(f"<th{attr(j)}>{_e(c)}</th>" for j, c in enumerate(columns))
        out.append(f"<thead><tr>{heads}</tr></thead>")
    out.append("<tbody>")
    for row in rows:
        cells = "".join(
            f"<td{attr(j)}>{_e(format_cell(v, digits))}</td>" for j, v in enumerate(row)
        )
        out.append(f"<tr>{cells}</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _html_answer(a: Answer) -> str:
    out = [f'<section id="q{a.question}"><h2>Q{a.question}. {_e(a.title)}</h2>']
    for item in a.items:
        if isinstance(item, Text):
            out.append(f"<p>{_e(item.text)}</p>")
        elif isinstance(item, Formula):
            body = tex_lines_to_html(item.tex) if item.tex else f"<pre>{_e(item.text)}</pre>"
            out.append(f"<h3>{_e(item.title)}</h3>{body}")
        elif isinstance(item, Table):
            out.append(f"<h3>{_e(item.title)}</h3>")
            out.append(_html_table(item.columns, item.rows, item.digits, "data"))
        else:
            out.append(f'<div class="matrix-block"><h3>{_e(item.title)}</h3>')
            out.append(_html_table(None, item.entries, item.digits, "matrix") + "</div>")
    for f in a.figures:
        out.append(f'<figure class="answer-figure" id="fig-{_e(f.name)}">{f.svg}')
        out.append(f"<figcaption>{_e(f.title)}{'. ' + _e(f.caption) if f.caption else ''}")
        out.append("</figcaption></figure>")
    if a.checks:
        out.append("<h3>Checks</h3>")
        out.append('<div class="scroll"><table class="checks"><thead><tr>')
        for col in ("check", "independent route", "error", "tolerance", "result"):
            out.append(f'<th class="left">{col}</th>')
        out.append("</tr></thead><tbody>")
        for c in a.checks:
            mark = (
                '<span class="pass">PASS</span>' if c.passed else '<span class="fail">FAIL</span>'
            )
            out.append(
                f'<tr><td class="left">{_e(c.name)}</td><td class="left">{_e(c.method)}</td>'
                f"<td>{c.error:.2e}</td><td>{c.tolerance:.0e}</td><td>{mark}</td></tr>"
            )
        out.append("</tbody></table></div>")
    out.append("</section>")
    return "".join(out)


def to_html(answers: Sequence[Answer], *, seed: int, version: str) -> str:
    """One self-contained HTML document: inline CSS, inline SVG figures, no external resources."""
    s = summary(answers)
    verdict = (
        f'<span class="pass">{s["passed"]} of {s["checks"]} checks passed</span>'
        if s["all_passed"]
        else f'<span class="fail">{s["failed"]} of {s["checks"]} checks failed</span>'
    )
    toc = "".join(
        f'<li><a href="#q{a.question}">Q{a.question}. {_e(a.title)}</a></li>' for a in answers
    )
    body = "".join(_html_answer(a) for a in answers)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>handgrad: the assignment, recomputed and verified</title><style>{_CSS}</style>"
        "</head><body>"
        "<header><h1>The assignment, recomputed and verified</h1>"
        f"<p>handgrad {_e(version)}, seed {seed}. {verdict}.</p>"
        f"<nav><ol>{toc}</ol></nav></header>"
        f"<main>{body}</main>"
        f"<script>{_SCRIPT}</script>"
        "</body></html>\n"
    )
