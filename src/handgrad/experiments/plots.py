"""Figures of the experiments' results (matplotlib, no pyplot state: nothing global is created).

Each function takes a result dataclass and returns a :class:`matplotlib.figure.Figure`; saving or
embedding it is the caller's business (the CLI writes a file, ``handgrad solve`` embeds an SVG).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from handgrad.experiments.repeated_words import RepeatedWordsResult

__all__ = ["repeated_words_figure"]

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
