"""Figures of the worked solution, drawn with matplotlib and returned as inline SVG strings.

Every function takes computed arrays (nothing here computes an answer) and returns the text of one
``<svg>`` element, ready to be embedded in HTML. Figures are built with
:class:`matplotlib.figure.Figure` and the non-interactive SVG canvas: no pyplot state, no window, no
``show``. Output is deterministic (fixed hash salt, no date) so that reports can be compared.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    from matplotlib.figure import Figure as MplFigure

__all__ = [
    "focal_loss_figure",
    "new_figure",
    "precision_recall_figure",
    "same_l2_boxes_figure",
    "to_svg",
    "vanishing_gradient_figure",
]

# Settings read when the SVG is written: text stays text (small files, searchable, the browser draws
# the glyphs), and a fixed hash salt makes the clip-path ids reproducible.
_SVG_RC: Any = {"svg.hashsalt": "handgrad", "svg.fonttype": "none"}


def new_figure(width: float = 6.4, height: float = 4.0, ncols: int = 1) -> tuple[MplFigure, Any]:
    """A figure with ``ncols`` axes side by side (no pyplot: nothing global is created)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, ncols)
    for ax in np.atleast_1d(axes):
        ax.grid(True, alpha=0.3)
    return fig, axes


def to_svg(fig: MplFigure) -> str:
    """Render a figure to the text of its ``<svg>`` element (XML header and DOCTYPE removed)."""
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context(_SVG_RC):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    start = text.find("<svg")
    if start < 0:
        raise RuntimeError("matplotlib did not produce an <svg> element")
    return text[start:].strip()


def vanishing_gradient_figure(lags: ArrayLike, curves: Mapping[str, ArrayLike]) -> str:
    """Norm of dh_t/dh_k against t - k (log scale), one line per network."""
    fig, ax = new_figure()
    x = np.asarray(lags)
    for label, y in curves.items():
        ax.semilogy(x, np.asarray(y), marker=".", label=label)
    ax.set_xlabel("t - k (time steps back)")
    ax.set_ylabel("spectral norm of dS_t/dS_k (S = h, or (h, c))")
    ax.set_title("Vanishing and exploding gradients in recurrent networks")
    ax.legend(fontsize=8)
    return to_svg(fig)


def precision_recall_figure(
    recall: ArrayLike,
    precision: ArrayLike,
    envelope: ArrayLike,
    levels: ArrayLike,
    interpolated: ArrayLike,
) -> str:
    """Precision at each rank against recall, its monotone envelope and the 11 interpolated points.

    ``envelope[i]`` is the interpolated precision at rank ``i`` (the maximum precision at any rank
    with recall >= ``recall[i]``), drawn as a step curve.
    """
    fig, ax = new_figure(height=4.2)
    r = np.asarray(recall, dtype=float)
    p = np.asarray(precision, dtype=float)
    env = np.asarray(envelope, dtype=float)
    ax.plot(r, p, "o-", color="tab:blue", label="precision at each rank")
    ax.step(
        np.concatenate([[0.0], r]),
        np.concatenate([[env[0]], env]),
        where="pre",
        color="tab:orange",
        label="envelope (interpolated precision)",
    )
    ax.plot(np.asarray(levels), np.asarray(interpolated), "s", color="tab:red", label="11 points")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(0.0, 1.05)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title("Precision-recall of the ranked list")
    ax.legend(fontsize=8, loc="lower left")
    return to_svg(fig)


def focal_loss_figure(p: ArrayLike, losses: Mapping[float, ArrayLike]) -> str:
    """Focal loss against the probability of the true class, one line per gamma."""
    fig, ax = new_figure()
    x = np.asarray(p)
    for gamma, y in losses.items():
        label = f"gamma = {gamma:g}" + (" (cross-entropy)" if gamma == 0 else "")
        ax.plot(x, np.asarray(y), label=label)
    ax.set_ylim(0.0, 5.0)
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel("probability of the true class p")
    ax.set_ylabel("loss")
    ax.set_title("Focal loss FL(p) = -(1 - p)^gamma log p")
    ax.legend(fontsize=8)
    return to_svg(fig)


def same_l2_boxes_figure(
    gt: Sequence[float],
    boxes: ArrayLike,
    ious: Mapping[str, ArrayLike],
    l2: float,
) -> str:
    """Boxes with one L2 loss and their overlap with the ground truth.

    Left: the ground truth (black) and the boxes (x1, y1, x2, y2), coloured by the first measure
    in ``ious``; right: every measure, boxes sorted by the first one.
    """
    fig, (ax_boxes, ax_iou) = new_figure(width=9.0, height=4.0, ncols=2)
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.patches import Rectangle

    b = np.asarray(boxes, dtype=float)
    curves = {k: np.asarray(v, dtype=float) for k, v in ious.items()}
    name, first = next(iter(curves.items()))
    norm = Normalize(vmin=float(first.min()), vmax=float(first.max()))
    cmap = colormaps["viridis"]
    for (x1, y1, x2, y2), v in zip(b, first, strict=True):
        ax_boxes.add_patch(
            Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, lw=0.8, color=cmap(norm(v)))
        )
    gx1, gy1, gx2, gy2 = gt
    ax_boxes.add_patch(Rectangle((gx1, gy1), gx2 - gx1, gy2 - gy1, fill=False, lw=2.5, color="k"))
    lo = min(b[:, :2].min(), gx1, gy1)
    hi = max(b[:, 2:].max(), gx2, gy2)
    pad = 0.05 * (hi - lo)
    ax_boxes.set_xlim(lo - pad, hi + pad)
    ax_boxes.set_ylim(lo - pad, hi + pad)
    ax_boxes.set_aspect("equal")
    ax_boxes.set_title(f"ground truth (black), boxes with L2 = {l2:g}")
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax_boxes, label=name)
    order = np.argsort(first, kind="stable")
    rank = np.arange(len(b))
    for label, y in curves.items():
        ax_iou.plot(rank, y[order], ".-", label=label)
    ax_iou.set_xlabel(f"boxes, sorted by {name}")
    ax_iou.set_ylabel("overlap with the ground truth")
    ax_iou.set_title("Same L2 loss, very different IoU")
    ax_iou.legend(fontsize=8)
    return to_svg(fig)
