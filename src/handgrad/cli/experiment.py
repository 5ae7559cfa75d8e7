"""``handgrad experiment``: run the experiments that test the assignment's claims.

``handgrad experiment repeated-words [--lags 2,5,10,20] [--steps N] [--seed S] [--hidden-size H]
[--gate-bias B] [--cells RNN,LSTM,GRU] [--json OUT] [--plot PATH]`` trains a vanilla RNN, an LSTM and a GRU on the repeated-words task of
:mod:`handgrad.experiments.repeated_words` at each lag and prints their held-out accuracy. A progress
bar (on stderr) follows the training; a library ``ValueError`` or ``TypeError`` (a bad option value)
becomes a one-line error with exit code 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from handgrad._files import atomic_write, write_atomic
from handgrad.cli._common import (
    check_distinct_outputs,
    check_figure_path,
    check_output_path,
    library_errors,
    progress,
)

__all__ = ["experiment_app"]

experiment_app = typer.Typer(
    help="Run the experiments behind the assignment's claims.",
    no_args_is_help=True,
)


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

    out = Console()
    with library_errors():
        check_output_path(json_out, "--json")
        plot_format = check_figure_path(plot, "--plot")
        check_distinct_outputs({"--json": json_out, "--plot": plot})
        config = RepeatedWordsConfig(
            lags=_parse_ints(lags, "--lags"),
            cells=tuple(c.strip() for c in cells.split(",") if c.strip()),
            steps=steps,
            seed=seed,
            hidden_size=hidden_size,
            gate_bias=gate_bias,
        )
        with progress() as bar:
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
    with library_errors():
        if json_out is not None:
            write_atomic(json_out, json.dumps(result.as_dict(), indent=2))
        if plot is not None:
            from handgrad.experiments.plots import repeated_words_figure

            figure = repeated_words_figure(result)
            with atomic_write(plot, binary=True) as f:
                figure.savefig(f, format=plot_format)
