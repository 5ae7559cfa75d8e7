"""``handgrad experiment``: run the experiments that test the assignment's claims.

``handgrad experiment list``
    Every experiment: its name, the claim it tests, the reference result, and the wall time of
    its ``--quick`` and full runs on a 2-core machine.

``handgrad experiment run NAME [--quick] [--seed S] [--out DIR] [--jobs N] [--dask-scheduler ADDR]
[--resume] [--set key=value ...]``
    Runs one experiment through :func:`handgrad.experiments.runner.run_experiment` and writes its
    folder (default ``runs/NAME-YYYYmmdd-HHMMSS``): ``config.json``, ``results.csv``,
    ``summary.json``, ``summary.md`` and the figures as PNG and SVG. ``--set`` takes any field of
    the experiment's config (``--set lags=2,5,10 --set steps=200``); ``--quick`` starts from the
    quick run's values. The config and the ``--out`` folder are checked before any work: a bad
    value, an unknown key or an existing folder (without ``--resume``) is a one-line error with
    exit code 2. A progress bar over all units of work (with ETA) is drawn on stderr when it is
    a terminal; the verdict and the folder are printed on stdout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from handgrad.cli._common import fail, library_errors, progress

__all__ = ["experiment_app"]

experiment_app = typer.Typer(
    help="Run the experiments behind the assignment's claims.",
    no_args_is_help=True,
)


@experiment_app.command("list")
def list_experiments() -> None:
    """Every experiment: name, claim, reference result, time of --quick and full runs."""
    from handgrad.experiments.registry import EXPERIMENTS

    out = Console(soft_wrap=True)
    for i, e in enumerate(EXPERIMENTS.values()):
        if i:
            out.print()
        out.print(f"[bold]{e.name}[/bold]", highlight=False)
        out.print(f"  claim: {e.claim}", highlight=False)
        out.print(f"  reference: {e.reference}", highlight=False)
        out.print(f"  time on 2 cores: --quick {e.quick_time}, full {e.full_time}", highlight=False)


@experiment_app.command("run")
def run(
    name: Annotated[str, typer.Argument(help="The experiment (see 'handgrad experiment list').")],
    quick: Annotated[
        bool, typer.Option("--quick", help="The short run (under 2 minutes on 2 cores).")
    ] = False,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Root seed (replaces the config's).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Run folder (default runs/NAME-YYYYmmdd-HHMMSS); must be new."),
    ] = None,
    jobs: Annotated[
        int, typer.Option("--jobs", help="Units at a time, in local processes (joblib).")
    ] = 1,
    dask_scheduler: Annotated[
        str | None,
        typer.Option("--dask-scheduler", help="Run the units on this Dask scheduler (address)."),
    ] = None,
    dask_timeout: Annotated[
        float, typer.Option("--dask-timeout", help="Seconds to wait for the Dask scheduler.")
    ] = 10.0,
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Continue the killed run in --out from its checkpoints."),
    ] = False,
    checkpoint_every: Annotated[
        int, typer.Option("--checkpoint-every", help="Training steps between checkpoints.")
    ] = 50,
    settings: Annotated[
        list[str] | None,
        typer.Option("--set", help="key=value: set a config field (repeat for several)."),
    ] = None,
) -> None:
    """Run one experiment and write its folder: config, tidy results, summary, figures."""
    from handgrad._dask import DASK_INSTALL, dask_available
    from handgrad.experiments.config import resolve_config
    from handgrad.experiments.registry import get_experiment
    from handgrad.experiments.runner import (
        default_out_dir,
        prepare_out_dir,
        run_experiment,
    )

    with library_errors():
        experiment = get_experiment(name)
        config = resolve_config(
            experiment.config_type,
            quick_overrides=experiment.quick if quick else None,
            overrides=settings or [],
            seed=seed,
        )
        if jobs < 1:
            raise ValueError(f"--jobs must be at least 1; got {jobs}")
        if checkpoint_every < 1:
            raise ValueError(f"--checkpoint-every must be at least 1; got {checkpoint_every}")
        if not dask_timeout > 0:
            raise ValueError(f"--dask-timeout must be a positive number; got {dask_timeout}")
        if resume and out is None:
            raise ValueError("--resume needs --out DIR, the folder of the run to continue")
        if dask_scheduler is not None and not dask_available():
            fail(f"--dask-scheduler needs Dask: {DASK_INSTALL}")
        folder = out if out is not None else default_out_dir(experiment.name)
        prepare_out_dir(folder, experiment, config, resume=resume, option="--out")
        with progress() as bar:
            task = bar.add_task(experiment.name, total=None)

            def report(done: float, total: int) -> None:
                bar.update(task, completed=done, total=total)

            result = run_experiment(
                experiment,
                config,
                folder,
                quick=quick,
                jobs=jobs,
                dask_scheduler=dask_scheduler,
                dask_timeout=dask_timeout,
                resume=resume,
                checkpoint_every=checkpoint_every,
                progress=report,
            )
    console = Console(soft_wrap=True)
    verdict = result.verdict
    answer = "[green]reproduced[/green]" if verdict.reproduced else "[red]not reproduced[/red]"
    console.print(f"[bold]{experiment.name}[/bold]: {answer}", highlight=False)
    console.print(f"rule: {verdict.rule}", highlight=False)
    checks = verdict.measured.get("checks")
    if isinstance(checks, dict):
        for check, held in checks.items():
            console.print(f"  [{'x' if held else ' '}] {check}", highlight=False, markup=False)
    where = result.where if not result.resumed_units else f"{result.where}, resumed"
    console.print(
        f"{result.units} units ({where}) in {result.seconds:.1f} s; the run folder: {result.out}",
        highlight=False,
    )
    console.print("files: " + ", ".join(result.files), highlight=False)
