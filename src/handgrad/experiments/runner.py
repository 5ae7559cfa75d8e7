"""Run an experiment: its units serially, in local processes or on a Dask cluster; write its folder.

:func:`run_experiment` takes an :class:`~handgrad.experiments.base.Experiment` and a resolved config
(:func:`handgrad.experiments.config.resolve_config`) and

1. checks the run folder (:func:`prepare_out_dir`: a new folder, or with ``resume=True`` the folder
   of a run made with the same config) and, for Dask, that the scheduler answers;
2. writes ``config.json``, then runs every unit of ``experiment.units(config)`` that has no saved
   rows yet: in this process (``jobs=1``), in ``jobs`` local processes (joblib's loky backend), or on
   the Dask cluster at ``dask_scheduler`` (joblib's Dask backend);
3. saves each finished unit's rows (``checkpoints/unit-NNNN.rows.json``) as soon as it arrives;
4. gathers the rows in unit order, asks the experiment for its verdict and figures, and writes
   the tables, figures and summary (:mod:`handgrad.experiments.output`).

Every file is written atomically. Nothing here prints: progress goes to the ``progress``
callback, ``progress(units_done, units_total)``, where ``units_done`` is a float (a unit running in
this process reports its fraction; units elsewhere count when they finish).

Checkpoints
    A long unit saves its state through the :class:`FileCheckpoint` it is given (from
    :mod:`handgrad.experiments.checkpoint_files`), every ``checkpoint_every`` of its steps, to
    ``checkpoints/unit-NNNN.npz`` (NumPy arrays in an
    ``.npz``, everything else as exact JSON beside them: floats by ``repr``, integers of any size,
    so an RNG's ``bit_generator.state`` survives). The file is replaced atomically, so a run killed
    at any moment leaves the previous checkpoint whole. ``resume=True`` skips the units whose rows
    are saved and hands the others their last checkpoint; they continue from it and end with the
    same rows, bit for bit, as a run that never stopped.

Determinism
    A unit's rows depend on the config and the unit only. Each unit runs with BLAS (and
    handgrad's own batch splitting) held at one thread, so its floating-point sums are done in
    one order whichever way it runs: serially, under ``jobs=N`` and on Dask, the rows, and so
    ``results.csv``, are equal byte for byte.

Dask
    ``dask_scheduler`` is an address such as ``tcp://10.0.0.5:8786``; ``dask[distributed]`` must
    be installed (``pip install 'handgrad[dask]'``). A scheduler that does not answer within
    ``dask_timeout`` seconds is a ``ValueError`` naming the address. Workers write their units'
    checkpoints to the run folder's path, so on a cluster without a shared file system only the
    finished units' rows (saved here) survive a crash.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from handgrad._checks import check_positive_int, check_real
from handgrad._dask import DASK_INSTALL, dask_available, dask_client
from handgrad._files import write_atomic
from handgrad.experiments.base import Experiment, Progress, Rows, Verdict
from handgrad.experiments.checkpoint_files import FileCheckpoint, load_state, save_state
from handgrad.experiments.config import config_to_dict
from handgrad.experiments.output import (
    read_config,
    write_config,
    write_figures,
    write_summary,
    write_tables,
)

__all__ = [
    "DASK_INSTALL",
    "FileCheckpoint",
    "RunResult",
    "dask_available",
    "default_out_dir",
    "load_state",
    "prepare_out_dir",
    "run_experiment",
    "save_state",
]

RunProgress = Callable[[float, int], None]


def _no_progress(done: int, total: int) -> None:
    return None


def _run_unit(
    experiment: Experiment,
    config: Any,
    unit: dict[str, Any],
    index: int,
    checkpoint_dir: str,
    every: int,
    progress: Progress | None = None,
) -> tuple[int, Rows]:
    """Run one unit with BLAS at one thread (picklable: joblib and Dask call it in workers)."""
    from threadpoolctl import threadpool_limits

    checkpoint = FileCheckpoint(Path(checkpoint_dir) / f"unit-{index:04d}.npz", every)
    with threadpool_limits(limits=1):
        rows = experiment.run_unit(config, unit, checkpoint, progress or _no_progress)
    return index, _check_rows(rows, experiment.name)


def _check_rows(rows: Any, name: str) -> Rows:
    if not isinstance(rows, dict) or "results" not in rows:
        raise TypeError(f"{name}: run_unit must return a dict of tables with a 'results' table")
    plain: Rows = {}
    for table, items in rows.items():
        if not isinstance(items, list) or not all(isinstance(r, dict) for r in items):
            raise TypeError(f"{name}: table {table!r} must be a list of dicts (rows)")
        plain[table] = [
            {k: v.item() if isinstance(v, np.generic) else v for k, v in r.items()} for r in items
        ]
    return plain  # NumPy scalars made Python's: equal to the rows read back from JSON


# -- the run folder ---------------------------------------------------------------------------
def default_out_dir(name: str, now: datetime | None = None, root: str | Path = "runs") -> Path:
    """``runs/NAME-YYYYmmdd-HHMMSS`` (local time)."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{name}-{stamp}"


def prepare_out_dir(
    out: str | Path,
    experiment: Experiment,
    config: Any,
    *,
    resume: bool = False,
    option: str = "out",
) -> None:
    """Refuse, before any work, a run folder that cannot take this run.

    Without ``resume`` the folder must not exist. With ``resume`` it must exist, and its
    ``config.json`` (when it has one) must hold this experiment and this config; the message
    names the keys that differ. Raises ``ValueError`` naming ``option``.
    """
    path = Path(out)
    shown = str(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{option}: {shown!r} is a file; give a folder for the run")
    if not resume:
        if path.exists():
            raise ValueError(
                f"{option}: {shown!r} already exists; choose a new folder, or add --resume to "
                "continue the run in it"
            )
        return
    if not path.exists():
        raise ValueError(f"{option}: {shown!r} does not exist; there is no run to resume")
    saved = read_config(path)
    if saved is None:
        return
    if saved.get("experiment") != experiment.name:
        raise ValueError(
            f"{option}: {shown!r} holds a run of {saved.get('experiment')!r}, not of "
            f"{experiment.name!r}"
        )
    ours = config_to_dict(config)
    theirs = saved["config"]
    differ = sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))
    if differ:
        shown_keys = "; ".join(
            f"{k} is {theirs.get(k)!r} there, {ours.get(k)!r} here" for k in differ
        )
        raise ValueError(
            f"{option}: the run in {shown!r} has another config ({shown_keys}); resume it with "
            "the same --quick, --seed and --set, or choose another folder"
        )


# -- where units run --------------------------------------------------------------------------
def _joblib() -> Any:
    try:
        import joblib
    except ImportError:  # pragma: no cover - joblib comes with the test and dask extras
        raise ValueError("running units in parallel needs joblib: pip install joblib") from None
    return joblib


Task = tuple[Experiment, Any, dict[str, Any], int, str, int]


def _in_processes(tasks: list[Task], jobs: int) -> Iterator[tuple[int, Rows]]:
    joblib = _joblib()
    parallel = joblib.Parallel(n_jobs=jobs, backend="loky", return_as="generator_unordered")
    yield from parallel(joblib.delayed(_run_unit)(*task) for task in tasks)


def _on_dask(tasks: list[Task], client: Any) -> Iterator[tuple[int, Rows]]:
    joblib = _joblib()
    with joblib.parallel_config(backend="dask", client=client):
        parallel = joblib.Parallel(n_jobs=-1, return_as="generator_unordered")
        yield from parallel(joblib.delayed(_run_unit)(*task) for task in tasks)


# -- the run ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunResult:
    """What :func:`run_experiment` did.

    Attributes
    ----------
    out : Path
        The run folder.
    config : dataclass
        The config the run used.
    rows : Rows
        Every table, units in order.
    verdict : Verdict
        The experiment's judgement of the rows.
    files : tuple of str
        The files written in ``out`` (names relative to it), checkpoints aside.
    units, resumed_units : int
        How many units the run has, and how many of them were taken from an earlier run's saved
        rows.
    seconds : float
        Wall time of this call.
    where : str
        "serial", "processes (N)" or "dask (ADDRESS)".
    """

    out: Path
    config: Any
    rows: Rows
    verdict: Verdict
    files: tuple[str, ...]
    units: int
    resumed_units: int
    seconds: float
    where: str


def _rows_path(checkpoint_dir: Path, index: int) -> Path:
    return checkpoint_dir / f"unit-{index:04d}.rows.json"


def _load_saved_rows(checkpoint_dir: Path, index: int, unit: dict[str, Any]) -> Rows | None:
    path = _rows_path(checkpoint_dir, index)
    if not path.is_file():
        return None
    saved = json.loads(path.read_text(encoding="utf-8"))
    if saved.get("unit") != unit:
        raise ValueError(f"{str(path)!r} holds the rows of another unit ({saved.get('unit')!r})")
    rows: Rows = saved["rows"]
    return rows


def _save_rows(checkpoint_dir: Path, index: int, unit: dict[str, Any], rows: Rows) -> None:
    write_atomic(_rows_path(checkpoint_dir, index), json.dumps({"unit": unit, "rows": rows}))
    (checkpoint_dir / f"unit-{index:04d}.npz").unlink(missing_ok=True)  # no longer needed


def run_experiment(
    experiment: Experiment,
    config: Any,
    out: str | Path,
    *,
    quick: bool = False,
    jobs: int = 1,
    dask_scheduler: str | None = None,
    dask_timeout: float = 10.0,
    resume: bool = False,
    checkpoint_every: int = 50,
    progress: RunProgress | None = None,
) -> RunResult:
    """Run ``experiment`` with ``config`` and write its folder ``out`` (see the module docstring).

    Parameters
    ----------
    experiment : Experiment
    config : the experiment's config dataclass
        Resolved and validated (``resolve_config``).
    out : path
        The run folder: created (with its parents); with ``resume`` an existing run's folder.
    quick : bool
        Recorded in ``config.json`` and the summary (the config already holds its values).
    jobs : int
        Units at a time in local processes (1: serially, in this process).
    dask_scheduler : str, optional
        Run the units on this Dask scheduler instead (``jobs`` is then ignored).
    dask_timeout : float
        Seconds to wait for the scheduler to answer.
    resume : bool
        Continue the run in ``out``: units with saved rows are not run again, the others start
        from their last checkpoint.
    checkpoint_every : int
        Steps of a unit between two checkpoints.
    progress : callable ``(units_done: float, units_total: int) -> None``, optional

    Returns
    -------
    RunResult
    """
    _check_experiment_and_config(experiment, config)
    jobs = check_positive_int(jobs, "jobs")
    every = check_positive_int(checkpoint_every, "checkpoint_every")
    timeout = check_real(dask_timeout, "dask_timeout", 0.0, None, low_inclusive=False)
    out = Path(out)
    prepare_out_dir(out, experiment, config, resume=resume)
    client = _connect(dask_scheduler, timeout)
    start = time.perf_counter()
    try:
        units = experiment.units(config)
        checkpoint_dir = out / "checkpoints"
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
        if read_config(out) is None:
            write_config(out, experiment, config, quick=quick)
        results = _saved_results(checkpoint_dir, units) if resume else {}
        resumed = len(results)
        if progress is not None:
            progress(float(resumed), len(units))
        tasks: list[Task] = [
            (experiment, config, unit, index, str(checkpoint_dir), every)
            for index, unit in enumerate(units)
            if index not in results
        ]
        where = _run_tasks(
            tasks,
            units,
            results,
            checkpoint_dir,
            jobs=jobs,
            client=client,
            dask_scheduler=dask_scheduler,
            progress=progress,
        )
    finally:
        if client is not None:
            client.close()
    rows = _gather(results, len(units))
    run_info = {"units": len(units), "resumed_units": resumed, "where": where}
    verdict, files, seconds = _judge_and_write(
        out, experiment, config, rows, quick=quick, start=start, run_info=run_info
    )
    return RunResult(
        out=out,
        config=config,
        rows=rows,
        verdict=verdict,
        files=tuple(files),
        units=len(units),
        resumed_units=resumed,
        seconds=seconds,
        where=where,
    )


def _judge_and_write(
    out: Path,
    experiment: Experiment,
    config: Any,
    rows: Rows,
    *,
    quick: bool,
    start: float,
    run_info: dict[str, Any],
) -> tuple[Verdict, list[str], float]:
    """Judge ``rows``, write the tables, figures and summary; return the verdict, the files
    written and the seconds since ``start`` (``run_info`` gets ``wall_time_s`` first)."""
    verdict = experiment.judge(config, rows)
    if not isinstance(verdict, Verdict):
        raise TypeError(f"{experiment.name}: judge must return a Verdict")
    written = [p.name for p in write_tables(out, rows)]
    written += [p.name for p in write_figures(out, experiment.figures(config, rows))]
    seconds = time.perf_counter() - start
    files = ["config.json", *written, "summary.json", "summary.md"]
    run = {"wall_time_s": round(seconds, 3), **run_info}
    write_summary(out, experiment, config, verdict, quick=quick, files=files, run=run)
    return verdict, files, seconds


def _check_experiment_and_config(experiment: Any, config: Any) -> None:
    if not isinstance(experiment, Experiment):
        raise TypeError(f"experiment must be an Experiment; got {type(experiment).__name__}")
    if not isinstance(config, experiment.config_type):
        raise TypeError(
            f"config must be a {experiment.config_type.__name__}; got {type(config).__name__}"
        )


def _connect(dask_scheduler: str | None, timeout: float) -> Any:
    """The Dask client of ``dask_scheduler``, or None to run locally."""
    if dask_scheduler is None:
        return None
    if not isinstance(dask_scheduler, str) or not dask_scheduler.strip():
        raise ValueError(f"dask_scheduler must be an address; got {dask_scheduler!r}")
    return dask_client(dask_scheduler, timeout)


def _saved_results(checkpoint_dir: Path, units: list[dict[str, Any]]) -> dict[int, Rows]:
    """The saved rows of an earlier run, by unit index, for the units that have them."""
    results: dict[int, Rows] = {}
    for index, unit in enumerate(units):
        saved = _load_saved_rows(checkpoint_dir, index, unit)
        if saved is not None:
            results[index] = saved
    return results


def _run_tasks(
    tasks: list[Task],
    units: list[dict[str, Any]],
    results: dict[int, Rows],
    checkpoint_dir: Path,
    *,
    jobs: int,
    client: Any,
    dask_scheduler: str | None,
    progress: RunProgress | None,
) -> str:
    """Run ``tasks`` on Dask (``client`` not None), in ``jobs`` local processes or serially; save
    each unit's rows as it arrives and add them to ``results``. Returns where they ran:
    "dask (ADDRESS)", "processes (N)" or "serial"."""
    total = len(units)
    if client is not None:
        where = f"dask ({dask_scheduler})"
        finished: Iterator[tuple[int, Rows]] = _on_dask(tasks, client)
    elif jobs > 1 and len(tasks) > 1:
        where = f"processes ({jobs})"
        finished = _in_processes(tasks, jobs)
    else:
        where = "serial"
        finished = _serially(tasks, results, total, progress)
    for index, rows in finished:
        _save_rows(checkpoint_dir, index, units[index], rows)
        results[index] = rows
        if progress is not None:
            progress(float(len(results)), total)
    return where


def _serially(
    tasks: list[Task], results: dict[int, Rows], total: int, progress: RunProgress | None
) -> Iterator[tuple[int, Rows]]:
    for task in tasks:
        yield _run_unit(*task, progress=_unit_progress(progress, float(len(results)), total))


def _unit_progress(progress: RunProgress | None, base: float, total: int) -> Progress:
    """A unit's ``(done, of)`` steps -> the run's ``(base + done / of, total)`` units."""

    def report(done: int, total: int, n_units: int = total) -> None:
        if progress is not None and total > 0:
            progress(base + min(done / total, 1.0), n_units)

    return report


def _gather(results: Mapping[int, Rows], n: int) -> Rows:
    rows: Rows = {}
    for index in range(n):
        for name, table in results[index].items():
            rows.setdefault(name, []).extend(table)
    rows.setdefault("results", [])
    return rows
