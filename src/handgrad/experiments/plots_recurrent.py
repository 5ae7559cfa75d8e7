"""Figures of the recurrent experiments: the adding problem and the character-level model.

Each function takes the experiment's config and gathered rows and returns a
:class:`matplotlib.figure.Figure` (no pyplot state); saving it is the runner's business.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from handgrad.experiments.base import Rows

__all__ = ["adding_training_figure", "char_rnn_loss_figure"]

_COLORS = {"lstm": "C1", "gru": "C2", "rnn": "C0", "rnn_clip": "C3"}


def _figure(ncols: int) -> tuple[Figure, Any]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.0 * ncols, 4.2), layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    for ax in axes:
        ax.grid(True, alpha=0.3)
    return fig, axes


def adding_training_figure(config: Any, rows: Rows) -> Figure:
    """Adding problem: the training window's mean squared error (left, log scale) and fraction
    of correct sequences (right) against the training sequences seen, one line per (model, run).

    The constant answer's error and the stopping rule's threshold are drawn dashed and dotted.
    """
    from handgrad.experiments.adding_problem import constant_mse

    fig, (left, right) = _figure(2)
    labelled: set[str] = set()
    for model in config.models:
        for run in range(config.repeats):
            pts = [r for r in rows.get("curves", []) if r["model"] == model and r["run"] == run]
            if not pts:
                continue
            seqs = [r["sequences"] for r in pts]
            label = None if model in labelled else model
            labelled.add(model)
            color = _COLORS.get(model, "C7")
            left.plot(seqs, [r["window_mse"] for r in pts], color=color, label=label, lw=1.2)
            right.plot(seqs, [r["window_correct"] for r in pts], color=color, label=label, lw=1.2)
    left.axhline(constant_mse(config.T), color="0.4", ls="--", lw=1, label="constant 0.5")
    left.axhline(config.max_mse, color="0.4", ls=":", lw=1, label="stopping threshold")
    left.set_yscale("log")
    left.set_xlabel("training sequences")
    left.set_ylabel(f"mean squared error, last {config.window} sequences")
    right.set_xlabel("training sequences")
    right.set_ylabel(f"fraction with |error| < {config.tolerance:g}")
    right.set_ylim(0.0, 1.02)
    left.legend(loc="lower left", fontsize=8)
    fig.suptitle(
        f"Adding problem, T = {config.T}: H = {config.hidden_size}, batches of "
        f"{config.batch_size}, Adam lr {config.lr:g}, {config.repeats} run(s) per model",
        fontsize=10,
    )
    return fig


def char_rnn_loss_figure(config: Any, rows: Rows) -> Figure:
    """Character model: training and held-out bits per character against the characters trained
    on, one colour per cell (training solid, held-out dashed), the unigram entropy dotted."""
    fig, (ax,) = _figure(1)
    colors = {"rnn": "C0", "lstm": "C1", "gru": "C2"}
    curves = rows.get("curves", [])
    for cell in config.cells:
        for run in range(config.repeats):
            pts = [r for r in curves if r["cell"] == cell and r["run"] == run]
            if not pts:
                continue
            first = run == 0
            chars = [r["chars"] for r in pts]
            color = colors.get(cell, "C7")
            ax.plot(
                chars,
                [r["train_bpc"] for r in pts],
                color=color,
                lw=1.0,
                alpha=0.8,
                label=f"{cell} train" if first else None,
            )
            ax.plot(
                chars,
                [r["heldout_bpc"] for r in pts],
                color=color,
                lw=1.6,
                ls="--",
                label=f"{cell} held-out" if first else None,
            )
    results = rows.get("results", [])
    if results:
        ax.axhline(results[0]["unigram_bpc"], color="0.4", ls=":", lw=1, label="unigram entropy")
    ax.set_xlabel("training characters")
    ax.set_ylabel("bits per character")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(
        f"Characters: H = {config.hidden_size}, {config.seq_length}-step truncated BPTT, "
        f"Adagrad lr {config.lr:g}, clip \u00b1{config.clip:g}",
        fontsize=10,
    )
    return fig
