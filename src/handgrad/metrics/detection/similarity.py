"""The similarity of (detection, ground truth) pairs for each ``iou_type``, as pycocotools computes it.

* ``bbox``: box IoU (:func:`~.matching.pair_ious`).
* ``segm``: mask IoU, ``|d ∩ g| / |d ∪ g|``, or ``|d ∩ g| / |d|`` for a crowd region, and 0 when
  the masks share no pixel (pycocotools' ``rleIou``: both areas are the masks' pixel counts, not
  the ``area`` fields). Pairs whose mask boxes do not overlap are 0 without looking at the runs.
* ``keypoints``: OKS (:mod:`~.keypoints`), with the sigmas of the pair's category; every selected
  annotation and detection must carry 3 K numbers, K the number of its category's sigmas.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from handgrad.metrics.detection.detections import Detections
from handgrad.metrics.detection.inputs import CocoGroundTruth
from handgrad.metrics.detection.keypoints import oks_pairs
from handgrad.metrics.detection.matching import pair_ious
from handgrad.metrics.detection.params import CocoParams
from handgrad.metrics.detection.rle import pair_intersections

__all__ = ["PairScorer", "pair_scorer"]

# pair_det (P,) indexes the kept detections, pair_gt (P,) the selected annotations -> (P,)
PairScorer = Callable[[NDArray[np.int64], NDArray[np.int64]], NDArray[np.float64]]


def _box_scorer(
    gt: CocoGroundTruth, g: NDArray[np.int64], dets: Detections, keep: NDArray[np.int64]
) -> PairScorer:
    d_box, g_box, g_crowd = dets.bbox[keep], gt.bbox[g], gt.iscrowd[g]

    def score(pair_det: NDArray[np.int64], pair_gt: NDArray[np.int64]) -> NDArray[np.float64]:
        return pair_ious(d_box[pair_det], g_box[pair_gt], g_crowd[pair_gt])

    return score


def _mask_scorer(
    gt: CocoGroundTruth, g: NDArray[np.int64], dets: Detections, keep: NDArray[np.int64]
) -> PairScorer:
    if gt.masks is None or dets.masks is None:
        raise ValueError("iou_type='segm' needs ground truth and detections loaded with masks")
    d_masks, g_masks = dets.masks, gt.masks
    d_area, g_area = d_masks.area[keep], g_masks.area[g]  # (N,), (G,) pixel counts
    d_box, g_box = d_masks.bbox[keep], g_masks.bbox[g]  # (N, 4), (G, 4)
    g_crowd = gt.iscrowd[g]

    def score(pair_det: NDArray[np.int64], pair_gt: NDArray[np.int64]) -> NDArray[np.float64]:
        db, gb = d_box[pair_det], g_box[pair_gt]  # (P, 4)
        w = np.minimum(db[:, 0] + db[:, 2], gb[:, 0] + gb[:, 2]) - np.maximum(db[:, 0], gb[:, 0])
        h = np.minimum(db[:, 1] + db[:, 3], gb[:, 1] + gb[:, 3]) - np.maximum(db[:, 1], gb[:, 1])
        near = np.flatnonzero((w > 0) & (h > 0))  # (P',) pairs that may share pixels
        inter = np.zeros(pair_det.shape, dtype=np.int64)  # (P,)
        inter[near] = pair_intersections(d_masks, keep[pair_det[near]], g_masks, g[pair_gt[near]])
        da, ga = d_area[pair_det], g_area[pair_gt]
        union = np.where(g_crowd[pair_gt], da, da + ga - inter)  # (P,)
        iou = np.zeros(pair_det.shape)
        hit = inter > 0
        iou[hit] = inter[hit].astype(np.float64) / union[hit].astype(np.float64)
        return iou

    return score


def _check_lengths(
    n_points: NDArray[np.int64],
    cat: NDArray[np.int64],
    want: NDArray[np.int64],
    rows: NDArray[np.int64],
    name: Callable[[int], str],
    p: CocoParams,
) -> None:
    bad = np.flatnonzero(n_points != want[cat])
    if bad.size:
        b = int(bad[0])
        k, got = int(want[cat[b]]), int(n_points[b])
        raise ValueError(
            f"{name(int(rows[b]))}: keypoints hold {3 * got} numbers; category "
            f"{int(p.cat_ids[cat[b]])} has {k} sigmas, so 3 x {k} = {3 * k} are expected "
            "(give per-category sigmas with sigmas={category_id: [...]})"
        )


def _keypoint_scorer(
    gt: CocoGroundTruth,
    g: NDArray[np.int64],
    dets: Detections,
    keep: NDArray[np.int64],
    p: CocoParams,
) -> PairScorer:
    if gt.keypoints is None or dets.keypoints is None:
        raise ValueError(
            "iou_type='keypoints' needs ground truth and detections loaded with keypoints"
        )
    g_kp, d_kp = gt.keypoints, dets.keypoints
    n_sigmas = np.asarray([s.size for s in p.sigmas], dtype=np.int64)  # (K,)
    g_cat = np.searchsorted(p.cat_ids, gt.ann_category_id[g])  # (G,)
    d_cat = np.searchsorted(p.cat_ids, dets.category_id[keep])  # (N,)
    g_n, d_n = g_kp.n_points[g], d_kp.n_points[keep]
    _check_lengths(
        g_n, g_cat, n_sigmas, g, lambda i: f"annotations[{i}] (id {int(gt.ann_id[i])})", p
    )
    _check_lengths(d_n, d_cat, n_sigmas, keep, lambda i: f"detections[{i}]", p)
    g_box, g_area = gt.bbox[g], gt.area[g]
    tables = {  # k -> (K, k) sigmas of the categories with k keypoints (zeros for the others)
        int(k): np.stack([s if s.size == k else np.zeros(k) for s in p.sigmas])
        for k in np.unique(n_sigmas)
    }

    def score(pair_det: NDArray[np.int64], pair_gt: NDArray[np.int64]) -> NDArray[np.float64]:
        out = np.zeros(pair_det.shape)
        cat = d_cat[pair_det]  # (P,) the pair's category (the same for both)
        size = n_sigmas[cat]  # (P,)
        for k in np.unique(size):
            sel = np.flatnonzero(size == k)  # pairs whose category has k keypoints
            cols = np.arange(3 * int(k))
            dv = d_kp.values[d_kp.offsets[keep[pair_det[sel]]][:, None] + cols]  # (Pk, 3k)
            gv = g_kp.values[g_kp.offsets[g[pair_gt[sel]]][:, None] + cols]
            sig = tables[int(k)][cat[sel]]  # (Pk, k)
            gi = pair_gt[sel]
            out[sel] = oks_pairs(dv, gv, g_box[gi], g_area[gi], sig)
        return out

    return score


def pair_scorer(
    gt: CocoGroundTruth,
    g: NDArray[np.int64],
    dets: Detections,
    keep: NDArray[np.int64],
    p: CocoParams,
) -> PairScorer:
    """The similarity of pairs (kept detection ``keep[i]``, annotation ``g[j]``) for ``p``."""
    if p.iou_type == "segm":
        return _mask_scorer(gt, g, dets, keep)
    if p.iou_type == "keypoints":
        return _keypoint_scorer(gt, g, dets, keep, p)
    return _box_scorer(gt, g, dets, keep)
