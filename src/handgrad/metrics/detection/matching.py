"""Per-image greedy matching of detections to ground truth, pycocotools' rules, vectorised.

pycocotools' ``evaluateImg`` walks, for one (image, category, area range) and one IoU threshold t,
the detections in descending score order (stable sort) and gives each the ground truth box that

1. is still free (not matched at t; a crowd box is never used up),
2. has IoU >= min(t, 1 - 1e-10) with it,
3. is not ignored, if any such box exists; otherwise an ignored one (crowd, or area out of range),
4. has the largest IoU among those, ties going to the *last* box in file order.

The walk is sequential per (image, category, area range, t), but it only ever couples detections of
the same (image, category). So here step j processes the j-th *candidate* detection of every
(image, category) group at once, for all area ranges and thresholds together, with arrays of shape
(groups, A, T, G). A candidate is a detection with IoU >= the smallest threshold against some box
of its group; every other detection matches nothing at any threshold and is skipped. Groups are
bucketed by their number of boxes (rounded up to a power of two) so that padding stays small.

Bounding-box IoU follows pycocotools' ``bbIou`` operation by operation (boxes are x, y, w, h)::

    w = min(dx + dw, gx + gw) - max(dx, gx);  h likewise;  0 unless w > 0 and h > 0
    IoU = w h / (dw dh + gw gh - w h)        (crowd box: w h / (dw dh))
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

__all__ = ["greedy_match", "pair_ious"]

Progress = Callable[[str, float], None]


def pair_ious(
    det_box: NDArray[np.float64], gt_box: NDArray[np.float64], gt_crowd: NDArray[np.bool_]
) -> NDArray[np.float64]:
    """IoU of paired boxes (x, y, w, h), with pycocotools' arithmetic and crowd rule.

    Shapes: (P, 4), (P, 4), (P,) -> (P,).
    """
    dx, dy, dw, dh = det_box.T
    gx, gy, gw, gh = gt_box.T
    w = np.minimum(dw + dx, gw + gx) - np.maximum(dx, gx)  # (P,)
    h = np.minimum(dh + dy, gh + gy) - np.maximum(dy, gy)  # (P,)
    inter = w * h  # (P,)
    det_area = dw * dh  # (P,)
    union = np.where(gt_crowd, det_area, det_area + gw * gh - inter)  # (P,)
    hit = (w > 0) & (h > 0)
    return np.divide(inter, union, out=np.zeros_like(inter), where=hit)


def greedy_match(
    iou: NDArray[np.float64],
    pair_det: NDArray[np.int64],
    det_group: NDArray[np.int64],
    det_gt_start: NDArray[np.int64],
    det_gt_count: NDArray[np.int64],
    gt_ignore: NDArray[np.bool_],
    gt_crowd: NDArray[np.bool_],
    gt_id_nonzero: NDArray[np.bool_],
    iou_thrs: NDArray[np.float64],
    progress: Progress | None = None,
) -> tuple[NDArray[np.int64], NDArray[np.bool_], NDArray[np.bool_], NDArray[np.bool_]]:
    """Greedy matching of every detection at every (area range, IoU threshold).

    Parameters
    ----------
    iou : (P,) float64
        IoU of each (detection, ground truth) pair of the same group; pairs are ordered by
        detection, and within a detection by ground truth in pycocotools' order.
    pair_det : (P,) int64
        Detection index of each pair.
    det_group : (N,) int64
        Group of each detection; detections are sorted by group, then by descending score.
    det_gt_start, det_gt_count : (N,) int64
        First ground-truth index and number of boxes of each detection's group (ground truth is
        sorted by group).
    gt_ignore : (A, G) bool
        Ignore flag of each box in each area range (crowd, or area outside the range).
    gt_crowd, gt_id_nonzero : (G,) bool
        Crowd flag; whether the annotation id is nonzero (pycocotools stores matches by id, so a
        match to id 0 looks unmatched).
    iou_thrs : (T,) float64

    Returns
    -------
    cand : (C,) int64
        The candidate detections (IoU >= the smallest threshold with some box of their group);
        no other detection matches anything.
    matched : (A, T, C) bool
        Whether the candidate got a box.
    matched_ignored : (A, T, C) bool
        Whether that box is ignored in the area range.
    matched_id_nonzero : (A, T, C) bool
        Whether that box has a nonzero annotation id.
    """
    A = gt_ignore.shape[0]
    T = iou_thrs.shape[0]
    N = det_group.shape[0]
    thr = np.minimum(iou_thrs, 1 - 1e-10)  # (T,) pycocotools' min([t, 1 - 1e-10])

    # candidates: detections with IoU >= the smallest threshold against some box of their group
    best = np.full(N, -1.0)
    if iou.size:
        np.maximum.at(best, pair_det, iou)
    cand = np.flatnonzero(best >= thr.min())  # (C,) sorted: by group, then by score
    C = cand.size
    matched = np.zeros((A, T, C), dtype=bool)
    matched_ign = np.zeros((A, T, C), dtype=bool)
    matched_nz = np.zeros((A, T, C), dtype=bool)
    if C == 0:
        return cand, matched, matched_ign, matched_nz
    cand_group = det_group[cand]  # (C,)
    _, first, counts = np.unique(cand_group, return_index=True, return_counts=True)
    sizes = det_gt_count[cand[first]]  # (Qc,) boxes per group
    gstart = det_gt_start[cand[first]]  # (Qc,) first box of each group
    padded = 1 << np.ceil(np.log2(np.maximum(sizes, 1))).astype(np.int64)  # (Qc,) power of two
    # pairs of candidate detections: pairs are ordered by detection, so each detection's pairs
    # are contiguous, starting at pair_start
    pair_start = np.searchsorted(pair_det, cand)  # (C,)
    n_buckets = len(np.unique(padded))
    for done, gp in enumerate(np.unique(padded)):
        if progress is not None:
            progress("matching", done / n_buckets)
        sel = np.flatnonzero(padded == gp)  # groups in this bucket
        sel = sel[np.argsort(-counts[sel], kind="stable")]  # most candidates first
        nb, gp = len(sel), int(gp)
        col = np.arange(gp)  # (Gp,)
        gt_idx = gstart[sel][:, None] + col[None, :]  # (B, Gp)
        real = col[None, :] < sizes[sel][:, None]  # (B, Gp)
        gt_idx = np.where(real, gt_idx, 0)
        ign = gt_ignore[:, gt_idx].transpose(1, 0, 2) & real[:, None, :]  # (B, A, Gp)
        ign_t = ign[:, :, None, :]  # (B, A, 1, Gp)
        # a crowd box (and padding, marked taken) never changes its "taken" state
        crowd = gt_crowd[gt_idx] & real  # (B, Gp)
        nonzero = gt_id_nonzero[gt_idx]  # (B, Gp)
        taken = np.broadcast_to(~real[:, None, None, :], (nb, A, T, gp)).copy()  # (B, A, T, Gp)
        n_cand = counts[sel]  # (B,) descending
        for j in range(int(n_cand[0])):
            n = int(np.count_nonzero(n_cand > j))  # groups with more than j candidates
            c = first[sel[:n]] + j  # (n,) candidate indices
            start = pair_start[c]
            idx = start[:, None] + np.minimum(col[None, :], sizes[sel[:n]][:, None] - 1)
            row = np.where(real[:n], iou[idx], -1.0)  # (n, Gp) IoU with each box, -1 = padding
            above = row[:, None, :] >= thr[None, :, None]  # (n, T, Gp)
            elig = above[:, None, :, :] & ~taken[:n]  # (n, A, T, Gp)
            regular = elig & ~ign_t[:n]
            has_regular = np.any(regular, axis=-1)  # (n, A, T)
            choose = np.where(has_regular[..., None], regular, elig & ign_t[:n])
            vals = np.where(choose, row[:, None, None, :], -1.0)  # (n, A, T, Gp)
            m = gp - 1 - np.argmax(vals[..., ::-1], axis=-1)  # (n, A, T) last best box
            got = has_regular | choose.any(axis=-1)  # (n, A, T)
            b_i, a_i, t_i = np.nonzero(got)
            m_i = m[b_i, a_i, t_i]
            keep = ~crowd[b_i, m_i]
            taken[b_i[keep], a_i[keep], t_i[keep], m_i[keep]] = True
            ci = c[b_i]
            matched[a_i, t_i, ci] = True
            matched_ign[a_i, t_i, ci] = ign[b_i, a_i, m_i]
            matched_nz[a_i, t_i, ci] = nonzero[b_i, m_i]
    if progress is not None:
        progress("matching", 1.0)
    return cand, matched, matched_ign, matched_nz
