"""``handgrad solve``: recompute and verify the assignment, print it, write the HTML report.

Without ``--json`` the answers go to the terminal and the HTML report is written to ``--html``
(default ``handgrad-report.html`` in the current folder). With ``--json`` stdout carries only the JSON
document, and HTML is written only when ``--html`` is given. The exit code is 0 when every check
passed, 1 when any failed, and 2 for a user error (see :mod:`handgrad.cli._common`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from handgrad import __version__
from handgrad._files import write_atomic
from handgrad.cli._common import check_output_path, library_errors

__all__ = ["DEFAULT_HTML", "EXIT_FAILED_CHECK", "N_QUESTIONS", "solve"]

DEFAULT_HTML = Path("handgrad-report.html")
EXIT_FAILED_CHECK = 1
N_QUESTIONS = 5  # len(handgrad.solve.QUESTIONS), kept here so that --help and --version stay fast
DEFAULT_SEED = 0  # handgrad.solve.DEFAULT_SEED (a test pins both)


def solve(
    question: Annotated[
        int | None,
        typer.Option("--question", "-q", min=1, max=N_QUESTIONS, help="Only this question (1-5)."),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print every answer and check as JSON to stdout.")
    ] = False,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            help=f"Write the self-contained HTML report here (default: {DEFAULT_HTML}, "
            "not written with --json unless asked).",
        ),
    ] = None,
    figures: Annotated[
        bool, typer.Option("--figures/--no-figures", help="Draw the figures (default: yes).")
    ] = True,
    seed: Annotated[
        int, typer.Option("--seed", min=0, help="Seed of the random examples (0 or more).")
    ] = DEFAULT_SEED,
) -> None:
    """Recompute and verify the assignment's answers (exit code 1 when a check fails)."""
    from handgrad.solve import solve_all
    from handgrad.solve.report import render_console, summary, to_html, to_json

    console = Console()
    target = html if (html is not None or json_output) else DEFAULT_HTML
    with library_errors():
        check_output_path(target, "--html")
        answers = solve_all(None if question is None else [question], seed=seed, figures=figures)
    if json_output:
        sys.stdout.write(to_json(answers, seed=seed, version=__version__) + "\n")
        sys.stdout.flush()
    else:
        render_console(answers, console, html_path=None if target is None else str(target))
    if target is not None:
        with library_errors():
            write_atomic(target, to_html(answers, seed=seed, version=__version__))
        if not json_output:
            console.print(f"HTML report written to {target.resolve()}")
    raise typer.Exit(0 if summary(answers)["all_passed"] else EXIT_FAILED_CHECK)
