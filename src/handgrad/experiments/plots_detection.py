"""Figures of the detection experiments (box regression, focal vs cross-entropy), from their rows.

Each function takes tidy rows (lists of dicts, as the experiments return them) and returns a
:class:`matplotlib.figure.Figure` built without pyplot (nothing global is created); saving it is
the caller's business.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "ap_vs_imbalance",
    "box_error_curves",
    "box_error_maps",
    "box_final_table",
    "ce_stability",
    "loss_cdf",
]

_BOX_STYLE = {
    "l2": ("0.55", ":"),
    "smooth_l1": ("0.35", ":"),
    "iou": ("k", "-"),
    "giou": ("C0", "-"),
    "diou": ("C3", "-"),
    "ciou": ("C2", "-"),
}


def _figure(**kw: Any) -> Figure:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(layout="constrained", **kw)


def _losses_in_order(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The losses of ``rows``: l2, smooth_l1, iou, giou, diou, ciou first, others as they come."""
    seen = list(dict.fromkeys(str(r["loss"]) for r in rows))
    known = list(_BOX_STYLE)
    return sorted(seen, key=lambda k: (known.index(k), "") if k in known else (len(known), k))


def box_error_curves(results: Sequence[Mapping[str, Any]]) -> Figure:
    """Total l1 error against the iteration, one line per loss, log scale (the paper's Fig. 4).

    A total of exactly 0 is drawn at the smallest positive value of the figure.
    """
    fig = _figure(figsize=(6.4, 4.2))
    ax = fig.subplots()
    ax.grid(True, which="both", alpha=0.3)
    positive = [float(r["total_error"]) for r in results if float(r["total_error"]) > 0]
    floor = min(positive) if positive else 1.0
    for loss in _losses_in_order(results):
        pts = sorted(
            (int(r["iteration"]), float(r["total_error"])) for r in results if r["loss"] == loss
        )
        color, style = _BOX_STYLE.get(loss, ("C7", "--"))
        ax.plot(
            [t for t, _ in pts],
            [max(e, floor) for _, e in pts],
            color=color,
            linestyle=style,
            label=loss,
        )
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("total l1 error over all cases")
    ax.set_title("Box regression: total error per iteration", fontsize=10)
    ax.legend(loc="lower left", fontsize=8)
    return fig


def box_error_maps(maps: Sequence[Mapping[str, Any]], radius: float = 3.0) -> Figure:
    """Final error of each anchor point (summed over its 343 cases) over the disk, one panel per
    loss (the paper's Fig. 3, seen from above): colour = final error, each panel its own scale."""
    from matplotlib.tri import Triangulation

    losses = _losses_in_order(maps)
    cols = min(3, max(1, len(losses)))
    nrows = max(1, -(-len(losses) // cols))
    fig = _figure(figsize=(3.6 * cols, 3.2 * nrows))
    axes = np.atleast_1d(fig.subplots(nrows, cols)).ravel()
    for ax, loss in zip(axes, losses, strict=False):
        pts = [r for r in maps if r["loss"] == loss]
        x = np.array([float(r["x"]) for r in pts])
        y = np.array([float(r["y"]) for r in pts])
        err = np.array([float(r["final_error"]) for r in pts])
        if len(pts) >= 3:
            art = ax.tripcolor(
                Triangulation(x, y), err, shading="gouraud", cmap="viridis", rasterized=True
            )
        else:
            art = ax.scatter(x, y, c=err, cmap="viridis")
        fig.colorbar(art, ax=ax, shrink=0.8)
        ax.set_title(f"{loss}: final error per point", fontsize=9)
        ax.set_aspect("equal")
        ax.set_xlim(10 - radius, 10 + radius)
        ax.set_ylim(10 - radius, 10 + radius)
    for ax in axes[len(losses) :]:
        ax.set_visible(False)
    return fig


def box_final_table(results: Sequence[Mapping[str, Any]], iterations: int) -> Figure:
    """A table: per loss, the total error at iterations 0, T/5, T/2 and T, the mean final error
    per case, and the number of w, h clamps."""
    at = sorted({0, max(1, round(iterations / 5)), max(1, round(iterations / 2)), iterations})
    by = {(r["loss"], int(r["iteration"])): r for r in results}
    losses = _losses_in_order(results)
    header = ["loss", *(f"error @ {t}" for t in at), "final / case", "clamped"]
    cells = []
    for loss in losses:
        final = by.get((loss, iterations))
        cells.append(
            [
                loss,
                *(f"{by[(loss, t)]['total_error']:.4g}" if (loss, t) in by else "" for t in at),
                f"{final['mean_error']:.3g}" if final else "",
                str(final["clamped"]) if final else "",
            ]
        )
    fig = _figure(figsize=(8.0, 0.45 * (len(losses) + 2)))
    ax = fig.subplots()
    ax.axis("off")
    if cells:
        table = ax.table(cellText=cells, colLabels=header, loc="center")
        table.auto_set_font_size(False)
        table.set_fontsize(8)
    ax.set_title("Box regression: total l1 error at chosen iterations", fontsize=10)
    return fig


def ap_vs_imbalance(
    step: Mapping[str, Mapping[float, np.ndarray]], coco: Mapping[str, Mapping[float, np.ndarray]]
) -> Figure:
    """AP against the foreground fraction (log scale, falling to the right), one line per loss
    setting: mean over seeds with error bars of one standard deviation; step AP left, COCO right."""
    fig = _figure(figsize=(11.0, 4.4))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, table, name in ((axes[0], step, "step AP"), (axes[1], coco, "COCO-style AP")):
        for i, (setting, by_f) in enumerate(table.items()):
            fs = sorted(by_f, reverse=True)
            mean = [float(np.mean(by_f[f])) for f in fs]
            sd = [float(np.std(by_f[f], ddof=1)) if len(by_f[f]) > 1 else 0.0 for f in fs]
            style = "--" if setting.startswith(("ce", "balanced")) else "-"
            ax.errorbar(
                fs,
                mean,
                yerr=sd,
                label=setting,
                linestyle=style,
                marker="o",
                markersize=3,
                color=f"C{i % 10}",
                capsize=2,
            )
        ax.set_xscale("log")
        ax.invert_xaxis()
        ax.grid(True, which="both", alpha=0.3)
        ax.set_xlabel("foreground fraction (imbalance grows to the right)")
        ax.set_title(name, fontsize=10)
    axes[0].set_ylabel("test AP (mean ± sd over seeds)")
    axes[1].legend(fontsize=7, loc="lower left")
    return fig


def loss_cdf(rows: Sequence[Mapping[str, Any]]) -> Figure:
    """Cumulative normalised loss of positives (left) and negatives (right) against the fraction
    of samples sorted by loss, one line per gamma (the paper's Fig. 4), at the smallest foreground
    fraction in the rows, averaged over seeds."""
    fig = _figure(figsize=(10.0, 4.2))
    axes = fig.subplots(1, 2, sharey=True)
    if rows:
        f = min(float(r["foreground_fraction"]) for r in rows)
        sel = [r for r in rows if float(r["foreground_fraction"]) == f]
        gammas = sorted({float(r["gamma"]) for r in sel})
        for ax, group in zip(axes, ("positive", "negative"), strict=True):
            for i, g in enumerate(gammas):
                pts: dict[float, list[float]] = {}
                for r in sel:
                    if r["group"] == group and float(r["gamma"]) == g:
                        pts.setdefault(float(r["fraction_of_samples"]), []).append(
                            float(r["cumulative_loss"])
                        )
                xs = sorted(pts)
                ax.plot(xs, [float(np.mean(pts[x])) for x in xs], color=f"C{i}", label=f"γ = {g:g}")
            ax.set_title(f"{group} anchors, foreground fraction {f:g}", fontsize=10)
            ax.set_xlabel("fraction of samples (sorted by loss)")
            ax.grid(True, alpha=0.3)
        axes[0].set_ylabel("cumulative normalised loss")
        axes[1].legend(fontsize=8, loc="upper left")
    return fig


def ce_stability(rows: Sequence[Mapping[str, Any]], early_steps: int) -> Figure:
    """Training loss of cross-entropy with and without the prior initialisation over the first
    ``2 early_steps`` steps, one panel per foreground fraction, one line per seed (log scale)."""
    ce = [r for r in rows if r["loss"] == "ce"]
    fractions = sorted({float(r["foreground_fraction"]) for r in ce}, reverse=True)
    fig = _figure(figsize=(4.0 * max(1, len(fractions)), 3.8))
    axes = np.atleast_1d(fig.subplots(1, max(1, len(fractions)), sharey=False)).ravel()
    for ax, f in zip(axes, fractions, strict=False):
        for prior, color in ((True, "C0"), (False, "C3")):
            seeds = sorted({int(r["seed"]) for r in ce if r["prior_init"] == prior})
            for j, s in enumerate(seeds):
                pts = sorted(
                    (int(r["step"]), float(r["train_loss"]))
                    for r in ce
                    if r["prior_init"] == prior
                    and int(r["seed"]) == s
                    and float(r["foreground_fraction"]) == f
                    and int(r["step"]) <= 2 * early_steps
                )
                label = ("prior init" if prior else "no prior init") if j == 0 else None
                ax.plot(
                    [k for k, _ in pts], [v for _, v in pts], color=color, alpha=0.8, label=label
                )
        ax.set_yscale("log")
        ax.axvline(early_steps, color="0.5", linestyle=":", linewidth=1)
        ax.set_title(f"CE, foreground fraction {f:g}", fontsize=10)
        ax.set_xlabel("step")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("training loss (sum / positives)")
    axes[0].legend(fontsize=8)
    return fig
