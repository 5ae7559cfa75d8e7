"""Figures of the experiments' results (matplotlib, no pyplot state: nothing global is created).

Each function takes a result (a dataclass, or curves computed from a run's rows) and returns a
:class:`matplotlib.figure.Figure`; saving or embedding it is the caller's business (the runner
writes PNG and SVG, ``handgrad solve`` embeds an SVG).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from handgrad.experiments.repeated_words import RepeatedWordsResult

__all__ = ["lag_curves_figure", "repeated_words_figure"]

Y_FLOOR = -80.0  # lag_curves_figure's lowest log10 on the y axis

_STYLE = {"RNN": ("C0", "o"), "LSTM": ("C1", "s"), "GRU": ("C2", "^")}


def repeated_words_figure(result: RepeatedWordsResult) -> Figure:
    """Held-out accuracy against the lag, one line per cell, with the chance level dashed.

    Parameters
    ----------
    result : RepeatedWordsResult
        The outcome of :func:`handgrad.experiments.repeated_words.run`.

    Returns
    -------
    matplotlib.figure.Figure
        One axes: x the lags (in the config's order, sorted), y the accuracy in [0, 1].
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from handgrad.experiments.repeated_words import RepeatedWordsResult

    if not isinstance(result, RepeatedWordsResult):
        raise TypeError(f"result must be a RepeatedWordsResult; got {type(result).__name__}")
    cfg = result.config
    lags = sorted(cfg.lags)
    fig = Figure(figsize=(6.4, 4.0), layout="constrained")
    ax = fig.subplots()
    ax.grid(True, alpha=0.3)
    for cell in cfg.cells:
        color, marker = _STYLE[cell]
        acc = [result.get(cell, lag).test_accuracy for lag in lags]
        ax.plot(lags, acc, color=color, marker=marker, label=cell)
    ax.axhline(result.chance, color="0.5", linestyle="--", linewidth=1, label="chance")
    ax.set_xlabel("lag (steps between a word and its possible repeat)")
    ax.set_ylabel("held-out accuracy")
    ax.set_ylim(0.0, 1.05)
    ax.set_xticks(lags)
    ax.set_title(
        f"Repeated words: H = {cfg.hidden_size}, {cfg.steps} Adam steps of {cfg.batch_size}, "
        f"seed {cfg.seed}",
        fontsize=10,
    )
    ax.legend(loc="lower left")
    return fig


def lag_curves_figure(
    curves: Mapping[tuple[str, str], tuple[Any, Any, Any]],
    models: Sequence[str],
    *,
    ylabel: str,
    title: str,
    xlabel: str = "t - k (steps back)",
    phases: Sequence[str] = ("init", "trained"),
) -> Figure:
    """One panel per phase: for each model, the mean over seeds of log10 of a norm against the
    lag, with a band of one standard deviation over seeds.

    Parameters
    ----------
    curves : mapping
        ``{(model, phase): (lags, mean, sd)}``, e.g. from
        :func:`handgrad.experiments.vanishing_gradients.curves`.
    models : sequence of str
        The models to draw, in legend order (one colour each, the same in every panel).
    ylabel, title, xlabel : str
        Axis labels and the figure's title.
    phases : sequence of str
        The panels, left to right ("init": at initialisation, "trained": after training).
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11.0, 4.4), layout="constrained")
    axes = fig.subplots(1, len(phases), sharey=True, squeeze=False)[0]
    lows, highs = [0.0], [0.0]
    for ax, phase in zip(axes, phases, strict=True):
        ax.grid(True, alpha=0.3)
        for i, model in enumerate(models):
            if (model, phase) not in curves:
                continue
            lags, mean, sd = curves[(model, phase)]
            color = f"C{i % 10}"
            ax.plot(lags, mean, color=color, label=model, linewidth=1.5)
            ax.fill_between(lags, mean - sd, mean + sd, color=color, alpha=0.15, linewidth=0)
            lows.append(float(np.min(mean - sd)))
            highs.append(float(np.max(mean + sd)))
        ax.axhline(0.0, color="0.4", linestyle="--", linewidth=0.8)
        ax.set_xlabel(xlabel)
        names = {"init": "at initialisation", "trained": "after training"}
        ax.set_title(names.get(phase, phase), fontsize=10)
    # A dead ReLU RNN's norm is 0 (log -300): keep the axis on the other curves' range.
    axes[0].set_ylim(max(min(lows), Y_FLOOR) - 0.5, max(highs) + 0.5)
    axes[0].set_ylabel(ylabel)
    axes[-1].legend(loc="lower left", fontsize=8, ncol=2)
    fig.suptitle(title, fontsize=11)
    return fig
