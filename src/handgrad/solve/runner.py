"""What ``handgrad solve`` does: solve, render, write the report, choose the exit code.

The CLI passes its options and a rich console here; this is the only place in ``solve`` that writes
(the terminal, stdout for JSON, the HTML file).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from handgrad.solve import DEFAULT_SEED, solve_all
from handgrad.solve.report import render_console, summary, to_html, to_json

__all__ = ["DEFAULT_HTML", "EXIT_FAILED_CHECK", "run"]

DEFAULT_HTML = "handgrad-report.html"
EXIT_FAILED_CHECK = 1


def run(
    console: Any,
    *,
    question: int | None = None,
    json_output: bool = False,
    html_path: str | None = None,
    figures: bool = True,
    seed: int = DEFAULT_SEED,
) -> int:
    """Solve, print and write; return the exit code (0, or 1 when any check failed).

    Without ``json_output`` the answers go to the terminal and the HTML report is written to
    ``html_path`` (default ``handgrad-report.html`` in the current directory). With ``json_output``
    stdout carries only the JSON document, and HTML is written only when ``html_path`` is given.
    """
    from handgrad import __version__

    answers = solve_all(None if question is None else [question], seed=seed, figures=figures)
    target = html_path if (html_path is not None or json_output) else DEFAULT_HTML
    if json_output:
        sys.stdout.write(to_json(answers, seed=seed, version=__version__) + "\n")
        sys.stdout.flush()
    else:
        render_console(answers, console, html_path=target)
    if target is not None:
        path = Path(target)
        path.write_text(to_html(answers, seed=seed, version=__version__), encoding="utf-8")
        if not json_output:
            console.print(f"HTML report written to {path.resolve()}")
    return 0 if summary(answers)["all_passed"] else EXIT_FAILED_CHECK
