"""The ``handgrad`` command-line tool (typer): ``solve``, ``eval``, ``experiment``.

The CLI is the only place with I/O: library functions return values. Every command follows one
error policy (:mod:`handgrad.cli._common`): a user error is one line on stderr naming the option or
file, with exit code 2 and no traceback; an unexpected error keeps its traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated

import typer

from handgrad import __version__
from handgrad.cli._common import EXIT_USAGE, stderr_console
from handgrad.cli.eval import eval_app
from handgrad.cli.experiment import experiment_app
from handgrad.cli.solve import solve

__all__ = ["app", "main"]

app = typer.Typer(
    name="handgrad",
    help="Deep-learning building blocks with hand-derived, machine-checked gradients.",
    no_args_is_help=True,
    add_completion=False,
)
app.command()(solve)
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


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the console script.

    A usage error (unknown option, bad option value, missing argument) is printed as one line,
    ``error: ...`` followed by where to find help, with exit code 2, instead of typer's panel.
    """
    try:
        code = app(args=None if argv is None else list(argv), standalone_mode=False)
    except typer.Abort:
        stderr_console().print("aborted", highlight=False)
        sys.exit(1)
    except typer.TyperException as exc:  # typer's usage errors (its bundled click exceptions)
        ctx = getattr(exc, "ctx", None)
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        if type(exc).__name__ == "NoArgsIsHelpError":  # a bare command group: show its help
            typer.echo(message, err=True)
            sys.exit(EXIT_USAGE)
        where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        text = " ".join(f"{message}{where}".split())
        stderr_console().print(f"[red]error:[/red] {text}", highlight=False, soft_wrap=True)
        sys.exit(EXIT_USAGE)
    sys.exit(code if isinstance(code, int) else 0)
