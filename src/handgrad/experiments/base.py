"""What an experiment gives the runner: a claim, a config, independent units, a verdict, figures.

An experiment is a module that builds one :class:`Experiment`. The runner
(:mod:`handgrad.experiments.runner`) resolves its config, splits it into independent *units* (one per
seed and setting: a sweep), runs the units serially, in local processes or on a Dask cluster, gathers
their tidy rows, asks the experiment for its :class:`Verdict` and figures, and writes the run folder.
Nothing in an experiment module prints or writes files: a unit that trains for long saves and
restores its state only through the :class:`Checkpoint` it is given.

Determinism: a unit's rows are a function of the config and the unit alone (its randomness derives
from ``config.seed`` and the unit), so a sweep gives the same rows whichever way its units ran, and
a unit resumed from a checkpoint ends with the same rows, bit for bit, as one that never stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "Checkpoint",
    "Experiment",
    "Progress",
    "Rows",
    "Verdict",
    "load_optimizer_state",
    "optimizer_state",
]

Rows = dict[str, list[dict[str, Any]]]
"""Tables of tidy rows by name: ``"results"`` (the main table, ``results.csv``) and optionally
others (``"error_maps"`` -> ``error_maps.csv``). Row values are str, int, float or bool."""


class Progress(Protocol):
    """Reports a unit's progress: ``progress(done, total)`` in the unit's own steps."""

    def __call__(self, done: int, total: int) -> None: ...


class Checkpoint(Protocol):
    """A unit's checkpoint: the last saved state, and a way to save a new one atomically.

    ``state`` is a dict of NumPy arrays, numbers, strings and nested dicts/lists of those
    (parameters, optimizer state, the RNG's ``bit_generator.state``, the step, partial rows).
    """

    every: int  # save every this many steps (the runner's setting)

    def load(self) -> dict[str, Any] | None: ...

    def save(self, state: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class Verdict:
    """Whether the run reproduced the claim, and on what evidence.

    Attributes
    ----------
    measured : dict
        JSON-ready numbers the verdict rests on (e.g. sequences to solve per model).
    reproduced : bool
        The claim held on this run, by ``rule``.
    rule : str
        The decision rule in words, with its thresholds.
    notes : tuple of str
        Where the setup differs from the reference's, and anything else a reader must know.
    """

    measured: dict[str, Any]
    reproduced: bool
    rule: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Experiment:
    """One experiment, as the runner sees it.

    Attributes
    ----------
    name : str
        The command-line name (``handgrad experiment run NAME``).
    claim : str
        The claim under test, in one or two sentences.
    reference : str
        The published result it is checked against, with its source.
    config_type : type
        A frozen dataclass whose defaults are the full run; ``__post_init__`` validates every field
        with errors naming it. It has an int field ``seed``.
    quick : mapping
        Field overrides for ``--quick`` (a run of under 2 minutes that still shows the effect).
    units : callable
        ``units(config) -> list`` of independent, JSON-ready units of work (dicts).
    run_unit : callable
        ``run_unit(config, unit, checkpoint, progress) -> Rows``.
    judge : callable
        ``judge(config, rows) -> Verdict`` from the gathered rows of every unit.
    figures : callable
        ``figures(config, rows) -> {name: matplotlib Figure}``; each is saved as PNG and SVG.
    quick_time, full_time : str
        Measured wall time of the ``--quick`` and the full run on a 2-core machine.
    """

    name: str
    claim: str
    reference: str
    config_type: type
    units: Callable[[Any], list[dict[str, Any]]]
    run_unit: Callable[[Any, dict[str, Any], Checkpoint, Progress], Rows]
    judge: Callable[[Any, Rows], Verdict]
    figures: Callable[[Any, Rows], Mapping[str, Any]]
    quick: Mapping[str, Any] = field(default_factory=dict)
    quick_time: str = "?"
    full_time: str = "?"


# -- helpers for a unit's checkpoint ----------------------------------------------------------
def optimizer_state(optimizer: Any) -> dict[str, Any]:
    """What a :class:`handgrad.optim.Optimizer` needs to continue exactly: its step count and the
    per-parameter state (Adam's moments and step, SGD's momentum buffer, ...), ready for
    :meth:`Checkpoint.save` (the arrays are the live ones: save before the next step)."""
    return {"step_count": optimizer.step_count, "state": [dict(st) for st in optimizer.state]}


def load_optimizer_state(optimizer: Any, state: Mapping[str, Any]) -> None:
    """Restore what :func:`optimizer_state` saved into an optimizer built on the same parameters
    (arrays are copied, so the optimizer owns them)."""
    optimizer.step_count = int(state["step_count"])
    optimizer.state = [
        {k: v.copy() if hasattr(v, "copy") and hasattr(v, "shape") else v for k, v in st.items()}
        for st in state["state"]
    ]


def finding_notes(findings: Mapping[str, bool], missing: Sequence[str], what: str) -> list[str]:
    """The summary's notes on a verdict's findings: which held, which did not, and which ``what``
    (e.g. "losses") the run lacked to test them."""
    notes = []
    held = [k for k, v in findings.items() if v]
    failed = [k for k, v in findings.items() if not v]
    if held:
        notes.append("Held: " + "; ".join(held) + ".")
    if failed:
        notes.append("Did not hold: " + "; ".join(failed) + ".")
    if missing:
        notes.append(f"Not tested ({what} missing from this run): " + ", ".join(missing) + ".")
    return notes
