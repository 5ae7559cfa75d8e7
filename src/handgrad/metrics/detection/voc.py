"""PASCAL VOC detection AP (the devkit's ``voc_eval`` / ``voc_ap``), per class and mean.

Rules, per class, as the devkit's Python ``voc_eval``:

* Detections of all images are sorted by descending score (here a *stable* sort, so ties keep input
  order; the devkit's ``np.argsort`` quicksort leaves their order unspecified).
* Each detection looks only at its best-overlapping ground-truth box of the same image and class
  (the first one on ties), difficult boxes included. With overlap > ``iou_threshold`` (strictly):
  a difficult box makes the detection ignored (neither TP nor FP); a box not yet detected makes it a
  TP; a box already detected makes it a FP (no fall-back to the second best box). Otherwise FP.
* rec = tp / npos (npos: boxes that are not difficult), prec = tp / max(tp + fp, eps).
* ``method="voc07"``: the 11-point mean of max(prec[rec >= t]) for t in ``np.arange(0, 1.1, 0.1)``
  (so t = 0.30000000000000004, ... exactly as the devkit); ``"voc12"``: the area under the
  monotone envelope of the precision/recall curve, summed where recall changes.
* ``plus_one=True`` is the devkit's pixel convention: widths are x2 - x1 + 1 and overlaps
  ix2 - ix1 + 1. Boxes are read from the COCO ``bbox`` field as (x, y, w, h) with x2 = x + w, or as
  (x1, y1, x2, y2) with ``box_format="xyxy"`` (VOC's XML coordinates).

A class without a box that is not difficult has AP NaN (the devkit divides by zero there) and is
left out of the mean. ``iscrowd`` is not used; mark such boxes ``difficult``.

Reference: Everingham et al., "The PASCAL Visual Object Classes (VOC) Challenge", IJCV 2010.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from handgrad._checks import (
    as_float_array,
    check_bool,
    check_choice,
    check_finite,
    check_ndim,
    check_real,
    check_same_shape,
)
from handgrad.metrics.detection.detections import load_detections
from handgrad.metrics.detection.inputs import load_coco_ground_truth

__all__ = ["VocEvaluation", "voc_ap", "voc_evaluate"]


@dataclass(frozen=True)
class VocEvaluation:
    """Per-class VOC AP.

    Attributes
    ----------
    category_ids : (K,) int64
        Categories of the ground truth, sorted.
    category_names : dict
        Category id -> name.
    ap : (K,) float64
        AP of each category; NaN where it has no box that is not difficult.
    n_positives : (K,) int64
        Boxes that are not difficult, per category.
    precision, recall : list of (D_k,) float64 arrays
        The devkit's prec and rec for each category, detections in descending score order.
    """

    category_ids: NDArray[np.int64]
    category_names: dict[int, str]
    ap: NDArray[np.float64]
    n_positives: NDArray[np.int64]
    precision: list[NDArray[np.float64]]
    recall: list[NDArray[np.float64]]

    @property
    def mean_ap(self) -> float:
        """Mean of the per-class APs that are defined (NaN when none is)."""
        defined = ~np.isnan(self.ap)
        return float(np.mean(self.ap[defined])) if defined.any() else float("nan")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary, per class keyed by category id (as text: JSON keys are strings).

        ``{"mAP": float | None, "per_class": {"<id>": {"name": str, "AP": float | None,
        "n_positives": int}}}``, classes in ``category_ids`` order; NaN becomes None. Keys are
        ids, not names, so categories that share a name keep one entry each (the mean already
        counts each of them).
        """
        per = {
            str(int(c)): {
                "name": self.category_names.get(int(c), str(int(c))),
                "AP": None if np.isnan(a) else float(a),
                "n_positives": int(n),
            }
            for c, a, n in zip(self.category_ids, self.ap, self.n_positives, strict=True)
        }
        mean = self.mean_ap
        return {"mAP": None if np.isnan(mean) else mean, "per_class": per}


def voc_ap(rec: Any, prec: Any, method: str = "voc12") -> float:
    """AP from the devkit's recall and precision arrays (``voc_ap`` of the devkit).

    .. math::
        AP_{07} = \\frac{1}{11} \\sum_{t \\in \\{0, 0.1, \\dots, 1\\}} \\max_{rec_i \\ge t} prec_i,
        \\qquad
        AP_{12} = \\sum_i (r_{i+1} - r_i) \\, \\hat p_{i+1},\\;
        \\hat p_i = \\max_{j \\ge i} p_j

    with (r, p) = ([0, rec, 1], [0, prec, 0]) for voc12. Shapes: (D,), (D,) -> float.

    Parameters
    ----------
    rec : array_like of shape (D,)
        Recall after each detection in descending score order: values in [0, 1], non-decreasing
        (a cumulative count over the number of positives).
    prec : array_like of shape (D,)
        Precision after each detection, values in [0, 1].
    method : {"voc12", "voc07"}

    Returns
    -------
    float
        With no detections (D = 0) the AP is 0.0, as the devkit computes it.

    Raises
    ------
    TypeError
        Ragged or non-numeric input.
    ValueError
        Arrays that are not 1-D or differ in length, NaN or infinite values, values outside
        [0, 1], a decreasing ``rec``.
    """
    check_choice(method, "method", ("voc07", "voc12"))
    r = as_float_array(rec, "rec", dtype=np.float64)
    p = as_float_array(prec, "prec", dtype=np.float64)
    check_ndim(r, "rec", 1)
    check_ndim(p, "prec", 1)
    check_same_shape(r, "rec", p, "prec")
    for arr, name in ((r, "rec"), (p, "prec")):
        check_finite(arr, name)
        outside = (arr < 0) | (arr > 1)
        if outside.any():
            i = int(np.flatnonzero(outside)[0])
            raise ValueError(
                f"{name} must hold values in [0, 1]; got {arr[i].item()!r} at index {i}"
            )
    falls = np.flatnonzero(np.diff(r) < 0)
    if falls.size:
        i = int(falls[0]) + 1
        raise ValueError(
            "rec must be non-decreasing (recall after each detection in descending score "
            f"order); got {r[i - 1].item()!r} then {r[i].item()!r} at index {i}"
        )
    return _voc_ap(r, p, method)


def _voc_ap(rec: NDArray[np.floating], prec: NDArray[np.floating], method: str) -> float:
    """:func:`voc_ap` of checked arrays."""
    if method == "voc07":
        ap = 0.0
        for t in np.arange(0.0, 1.1, 0.1):  # the devkit's grid, 0.30000000000000004 included
            above = rec >= t
            p = float(np.max(prec[above])) if above.any() else 0.0
            ap = ap + p / 11.0
        return ap
    mrec = np.concatenate(([0.0], rec, [1.0]))  # (D + 2,)
    mpre = np.concatenate(([0.0], prec, [0.0]))
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]  # the envelope
    i = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def _xyxy(bbox: NDArray[np.float64], box_format: str) -> NDArray[np.float64]:
    if box_format == "xyxy":
        return bbox
    return np.concatenate([bbox[:, :2], bbox[:, :2] + bbox[:, 2:]], axis=1)


def _voc_flags(
    g_box: NDArray[np.float64],
    g_img: NDArray[np.int64],
    difficult: NDArray[np.bool_],
    d_box: NDArray[np.float64],
    d_img: NDArray[np.int64],
    iou_threshold: float,
    one: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """True- and false-positive flags (D,) of one category's detections (descending score)
    against its boxes (grouped by image), as the devkit's loop sets them."""
    D = d_box.shape[0]
    # every (detection, box of its image) pair
    lo = np.searchsorted(g_img, d_img, side="left")  # (D,)
    n = np.searchsorted(g_img, d_img, side="right") - lo
    pair_d = np.repeat(np.arange(D), n)  # (P,)
    pair_g = lo[pair_d] + np.arange(pair_d.size) - np.repeat(np.cumsum(n) - n, n)
    bb, gg = d_box[pair_d], g_box[pair_g]  # (P, 4)
    iw = np.maximum(np.minimum(gg[:, 2], bb[:, 2]) - np.maximum(gg[:, 0], bb[:, 0]) + one, 0.0)
    ih = np.maximum(np.minimum(gg[:, 3], bb[:, 3]) - np.maximum(gg[:, 1], bb[:, 1]) + one, 0.0)
    inters = iw * ih
    uni = (
        (bb[:, 2] - bb[:, 0] + one) * (bb[:, 3] - bb[:, 1] + one)
        + (gg[:, 2] - gg[:, 0] + one) * (gg[:, 3] - gg[:, 1] + one)
        - inters
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        overlaps = np.where(uni > 0, inters / np.where(uni > 0, uni, 1.0), 0.0)  # (P,)
    # best box per detection, the first one on ties (np.argmax)
    ovmax = np.full(D, -np.inf)
    np.maximum.at(ovmax, pair_d, overlaps)
    is_max = np.flatnonzero(overlaps == ovmax[pair_d])  # pairs holding their det's max
    first_pair = np.full(D, pair_d.size, dtype=np.int64)
    np.minimum.at(first_pair, pair_d[is_max], is_max)
    over = ovmax > iou_threshold  # (D,)
    jmax = np.where(over, np.append(pair_g, -1)[first_pair], -1)  # (D,) best box
    ignored = over & np.append(difficult, False)[jmax]  # jmax = -1: the appended False
    claim = over & ~ignored  # detections that claim their best box, in score order
    c = np.flatnonzero(claim)
    _, first_claim = np.unique(jmax[c], return_index=True)
    tp = np.zeros(D)
    tp[c[first_claim]] = 1.0
    fp = np.where(ignored, 0.0, 1.0 - tp)
    return tp, fp


def voc_evaluate(
    ground_truth: Any,
    detections: Any,
    *,
    iou_threshold: float = 0.5,
    method: str = "voc12",
    plus_one: bool = False,
    box_format: str = "xywh",
) -> VocEvaluation:
    """PASCAL VOC AP per class and its mean, with ``difficult`` boxes ignored.

    Parameters
    ----------
    ground_truth : dict, path or CocoGroundTruth
        COCO-style ground truth; annotations may carry ``"difficult": 1``. ``area`` is not used.
    detections : list of dict, path, (N, 7) array, dict of arrays or Detections
        As for :func:`coco_evaluate`.
    iou_threshold : float in (0, 1]
        A detection needs overlap > iou_threshold (strictly), 0.5 in VOC.
    method : {"voc12", "voc07"}
        All-point (VOC2010+) or 11-point (VOC2007) interpolated AP.
    plus_one : bool
        The devkit's +1 pixel convention in widths, heights and overlaps.
    box_format : {"xywh", "xyxy"}
        How the ``bbox`` fields are read.

    Returns
    -------
    VocEvaluation
    """
    check_choice(method, "method", ("voc07", "voc12"))
    check_choice(box_format, "box_format", ("xywh", "xyxy"))
    iou_threshold = check_real(iou_threshold, "iou_threshold", 0.0, 1.0, low_inclusive=False)
    plus_one = check_bool(plus_one, "plus_one")
    gt = load_coco_ground_truth(ground_truth)
    dets = load_detections(detections, gt)
    one = 1.0 if plus_one else 0.0
    cats = np.unique(gt.category_ids)
    g_box = _xyxy(gt.bbox, box_format)  # (G, 4)
    d_box = _xyxy(dets.bbox, box_format)  # (N, 4)
    for name, box in (("ground_truth", g_box), ("detections", d_box)):
        bad = np.flatnonzero((box[:, 2] < box[:, 0]) | (box[:, 3] < box[:, 1]))
        if bad.size:
            raise ValueError(f"{name}[{int(bad[0])}] has x2 < x1 or y2 < y1: {box[bad[0]]}")

    aps = np.full(cats.size, np.nan)
    npos = np.zeros(cats.size, dtype=np.int64)
    precs: list[NDArray[np.float64]] = []
    recs: list[NDArray[np.float64]] = []
    for k, cat in enumerate(cats):
        g = np.flatnonzero(gt.ann_category_id == cat)  # (Gk,) file order
        g = g[np.argsort(gt.ann_image_id[g], kind="stable")]  # grouped by image
        npos[k] = int(np.count_nonzero(~gt.difficult[g]))
        d = np.flatnonzero(dets.category_id == cat)
        d = d[np.argsort(-dets.score[d], kind="stable")]  # (Dk,) descending score
        tp, fp = _voc_flags(
            g_box[g], gt.ann_image_id[g], gt.difficult[g], d_box[d], dets.image_id[d],
            iou_threshold, one,
        )  # fmt: skip
        tp_cum, fp_cum = np.cumsum(tp), np.cumsum(fp)
        with np.errstate(divide="ignore", invalid="ignore"):
            rec = tp_cum / float(npos[k])
        prec = tp_cum / np.maximum(tp_cum + fp_cum, np.finfo(np.float64).eps)
        precs.append(prec)
        recs.append(rec)
        if npos[k] > 0:
            aps[k] = _voc_ap(rec, prec, method)
    return VocEvaluation(
        category_ids=cats,
        category_names={int(c): gt.category_names.get(int(c), str(int(c))) for c in cats},
        ap=aps,
        n_positives=npos,
        precision=precs,
        recall=recs,
    )
