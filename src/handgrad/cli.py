"""The ``handgrad`` command-line tool (typer).

The CLI is the only place with I/O: library functions return values, and a library ``ValueError``
becomes a one-line error message with exit code 2.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from handgrad import __version__

app = typer.Typer(
    name="handgrad",
    help="Deep-learning building blocks with hand-derived, machine-checked gradients.",
    no_args_is_help=True,
    add_completion=False,
)


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
) -> None:
    """Recompute and verify the assignment's answers."""
    from handgrad.solve import QUESTIONS

    console = Console()
    missing = 0
    for number, title in QUESTIONS.items():
        if question is not None and number != question:
            continue
        console.print(f"[bold]Q{number}.[/bold] {title}")
        console.print("    [yellow]not implemented yet[/yellow]: no answer is computed or shown.")
        missing += 1
    if missing:
        console.print(f"{missing} question(s) not implemented yet.")


def main() -> None:
    """Entry point of the console script."""
    app()
