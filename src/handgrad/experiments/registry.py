"""Every experiment the runner knows, by command-line name.

An experiment module defines ``EXPERIMENT`` (an :class:`~handgrad.experiments.base.Experiment`);
adding one here makes it appear in ``handgrad experiment list`` and ``handgrad experiment run``.
"""

from __future__ import annotations

from handgrad.experiments import (
    adding_problem,
    box_regression,
    char_rnn,
    focal_vs_ce,
    repeated_words,
    vanishing_gradients,
)
from handgrad.experiments.base import Experiment

__all__ = ["EXPERIMENTS", "get_experiment"]

EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in (
        vanishing_gradients.EXPERIMENT,
        repeated_words.EXPERIMENT,
        adding_problem.EXPERIMENT,
        char_rnn.EXPERIMENT,
        box_regression.EXPERIMENT,
        focal_vs_ce.EXPERIMENT,
    )
}


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name``; ``ValueError`` listing the names when there is none."""
    try:
        return EXPERIMENTS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown experiment {name!r}; the experiments are: {', '.join(EXPERIMENTS)}"
        ) from None
