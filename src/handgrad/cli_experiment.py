"""``handgrad experiment``: run the experiments that test the assignment's claims.

``handgrad experiment repeated-words [--lags 2,5,10,20] [--steps N] [--seed S] [--hidden-size H]
[--gate-bias B] [--cells RNN,LSTM,GRU] [--json OUT] [--plot PATH]`` trains a vanilla RNN, an LSTM and a GRU on the repeated-words task of
:mod:`handgrad.experiments.repeated_words` at each lag and prints their held-out accuracy. A progress
bar (on stderr) follows the training; a library ``ValueError`` or ``TypeError`` (a bad option value)
becomes a one-line error with exit code 2.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

experiment_app = typer.Typer(
    help="Run the experiments behind the assignment's claims.",
    no_args_is_help=True,
)


@contextmanager
def _library_errors(err: Console) -> Iterator[None]:
    """Library ValueError/TypeError -> one line on stderr and exit code 2."""
    try:
        yield
    except (ValueError, TypeError) as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None


def _parse_ints(text: str, name: str) -> tuple[int, ...]:
    """ "2,5,10" -> (2, 5, 10); anything else is a ValueError naming the option."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        return tuple(int(p) for p in parts)
    except ValueError:
        raise ValueError(
            f"{name} must be comma-separated integers such as 2,5,10; got {text!r}"
        ) from None


@experiment_app.command("repeated-words")
def repeated_words(
    lags: Annotated[
        str, typer.Option("--lags", help="Comma-separated lags (steps from a word to its repeat).")
    ] = "2,5,10,20",
    steps: Annotated[int, typer.Option("--steps", help="Adam steps per cell and lag.")] = 400,
    seed: Annotated[int, typer.Option("--seed", help="Seed of data and initial weights.")] = 0,
    hidden_size: Annotated[int, typer.Option("--hidden-size", help="Hidden units H.")] = 16,
    gate_bias: Annotated[
        float,
        typer.Option(
            "--gate-bias", help="Added to the LSTM forget / GRU update gate bias at init."
        ),
    ] = 2.0,
    cells: Annotated[
        str, typer.Option("--cells", help="Comma-separated cells among RNN, LSTM, GRU.")
    ] = "RNN,LSTM,GRU",
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the results to this JSON file.")
    ] = None,
    plot: Annotated[
        Path | None,
        typer.Option("--plot", help="Save the accuracy-vs-lag figure here (.png, .svg)."),
    ] = None,
) -> None:
    """RNN vs LSTM vs GRU on a repeated-words task as the lag grows (assignment Q1(c))."""
    from handgrad.experiments.repeated_words import RepeatedWordsConfig, run

    out, err = Console(), Console(stderr=True)
    with _library_errors(err):
        config = RepeatedWordsConfig(
            lags=_parse_ints(lags, "--lags"),
            cells=tuple(c.strip() for c in cells.split(",") if c.strip()),
            steps=steps,
            seed=seed,
            hidden_size=hidden_size,
            gate_bias=gate_bias,
        )
        bar = Progress(
            TextColumn("training"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} steps"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        )
        with bar:
            task = bar.add_task("training", total=None)
            result = run(
                config, progress=lambda done, total: bar.update(task, completed=done, total=total)
            )
    table = Table(title="Held-out accuracy")
    table.add_column("cell")
    for lag in config.lags:
        table.add_column(f"lag {lag}", justify="right")
    for cell in config.cells:
        table.add_row(cell, *(f"{result.get(cell, lag).test_accuracy:.3f}" for lag in config.lags))
    out.print(table)
    out.print(
        f"{config.test_size} held-out sequences per lag; chance accuracy {result.chance:g}.",
        highlight=False,
    )
    out.print(
        f"H = {config.hidden_size}, {config.steps} Adam steps of {config.batch_size} sequences "
        f"(lr {config.lr:g}, clip {config.max_grad_norm:g}, gate bias {config.gate_bias:g}), "
        f"seed {config.seed}",
        highlight=False,
    )
    with _library_errors(err):
        try:
            if json_out is not None:
                json_out.write_text(json.dumps(result.as_dict(), indent=2))
            if plot is not None:
                from handgrad.experiments.plots import repeated_words_figure

                repeated_words_figure(result).savefig(plot)
        except OSError as exc:
            raise ValueError(f"cannot write the output: {exc}") from None
