"""The ``handgrad`` command-line tool (typer).

The CLI is the only place with I/O: library functions return values, and a library ``ValueError``
becomes a one-line error message with exit code 2.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from handgrad import __version__
from handgrad.cli_eval import eval_app
from handgrad.cli_experiment import experiment_app

app = typer.Typer(
    name="handgrad",
    help="Deep-learning building blocks with hand-derived, machine-checked gradients.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(eval_app, name="eval")
app.add_typer(experiment_app, name="experiment")


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"handgrad {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Show the version."
        ),
    ] = False,
) -> None:
    """handgrad: correct, explained and fast deep-learning pieces."""


@app.command()
def solve(
    question: Annotated[
        int | None, typer.Option("--question", "-q", min=1, max=5, help="Only this question (1-5).")
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print every answer and check as JSON to stdout.")
    ] = False,
    html: Annotated[
        str | None,
        typer.Option(
            "--html",
            help="Write the self-contained HTML report here (default: handgrad-report.html, "
            "not written with --json unless asked).",
        ),
    ] = None,
    figures: Annotated[
        bool, typer.Option("--figures/--no-figures", help="Draw the figures (default: yes).")
    ] = True,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random examples.")] = 0,
) -> None:
    """Recompute and verify the assignment's answers (exit code 1 when a check fails)."""
    from handgrad.solve.runner import run

    try:
        code = run(
            Console(),
            question=question,
            json_output=json_output,
            html_path=html,
            figures=figures,
            seed=seed,
        )
    except (ValueError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(code)


def main() -> None:
    """Entry point of the console script."""
    app()
