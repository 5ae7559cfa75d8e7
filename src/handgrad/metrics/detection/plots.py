"""Precision-recall curves of a COCO evaluation as a matplotlib figure (the caller saves it).

The curves are pycocotools' interpolated precision, read from ``CocoEvaluation.precision`` at the
recall levels ``rec_thrs``, for one area range and one max_dets (default: the first range, "all",
and the largest max_dets). Averaged: the mean over the categories with ground truth (entries
> -1) at IoU 0.50, at 0.75 and over all thresholds (COCO's AP is the mean of the last curve).
Per category: one curve per category, averaged over the thresholds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from handgrad.metrics.detection.evaluation import CocoEvaluation

__all__ = ["pr_curve_figure", "pr_curves"]


def _defined_mean(s: NDArray[np.float64], axis: tuple[int, ...]) -> NDArray[np.float64]:
    """Mean over ``axis`` of the entries > -1; NaN where there is none."""
    defined = s > -1
    total = np.where(defined, s, 0.0).sum(axis=axis)
    n = defined.sum(axis=axis)
    return np.divide(total, n, out=np.full(total.shape, np.nan), where=n > 0)


def pr_curves(
    evaluation: CocoEvaluation,
    *,
    per_category: bool = False,
    area: str | None = None,
    max_dets: int | None = None,
) -> dict[str, NDArray[np.float64]]:
    """The curves :func:`pr_curve_figure` draws: label -> (R,) precision at ``rec_thrs``.

    Averaged labels are "IoU=0.50", "IoU=0.75" (when those thresholds are in ``iou_thrs``) and
    "IoU=0.50:0.95" (the first and last thresholds); per-category labels are the category ids.
    """
    p = evaluation.params
    a = 0 if area is None else _index(list(p.area_rng_lbl), area, "area")
    m = len(p.max_dets) - 1 if max_dets is None else _index(list(p.max_dets), max_dets, "max_dets")
    prec = evaluation.precision[:, :, :, a, m]  # (T, R, K)
    if per_category:
        curves = _defined_mean(prec, (0,))  # (R, K)
        return {str(int(c)): curves[:, k] for k, c in enumerate(p.cat_ids)}
    out = {}
    for thr in (0.5, 0.75):
        t = np.flatnonzero(p.iou_thrs == thr)
        if t.size:
            out[f"IoU={thr:0.2f}"] = _defined_mean(prec[t[0]], (1,))
    out[f"IoU={p.iou_thrs[0]:0.2f}:{p.iou_thrs[-1]:0.2f}"] = _defined_mean(prec, (0, 2))
    return out


def _index(values: list[Any], value: Any, name: str) -> int:
    if value not in values:
        raise ValueError(f"{name} must be one of {values}; got {value!r}")
    return values.index(value)


def pr_curve_figure(
    evaluation: CocoEvaluation,
    *,
    per_category: bool = False,
    category_names: dict[int, str] | None = None,
    area: str | None = None,
    max_dets: int | None = None,
) -> Any:
    """A ``matplotlib.figure.Figure`` of the precision-recall curves (see :func:`pr_curves`).

    Nothing is shown or written: save it with ``fig.savefig(path)``. ``category_names`` labels
    per-category curves (id -> name).
    """
    from matplotlib.figure import Figure

    curves = pr_curves(evaluation, per_category=per_category, area=area, max_dets=max_dets)
    p = evaluation.params
    fig = Figure(figsize=(6.4, 4.8), layout="constrained")
    ax = fig.add_subplot()
    for label, y in curves.items():
        if per_category and category_names is not None:
            label = f"{label} {category_names.get(int(label), '')}".strip()
        ax.plot(p.rec_thrs, y, label=label)
    a = p.area_rng_lbl[0] if area is None else area
    m = p.max_dets[-1] if max_dets is None else max_dets
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))
    ax.set_title(f"COCO {p.iou_type} precision-recall (area={a}, maxDets={m})")
    if curves and len(curves) <= 20:
        ax.legend(fontsize="small", loc="lower left")
    ax.grid(alpha=0.3)
    return fig
