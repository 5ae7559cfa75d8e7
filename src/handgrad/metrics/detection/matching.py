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
of its group; every other detection matches nothing at any threshold and is skipped. Likewise a box
whose IoU with every candidate is below the smallest threshold can never be chosen, so G counts only
the *relevant* boxes of a group (in file order, which keeps the tie rule). Groups are bucketed by
their number of relevant boxes (rounded up to a power of two) so that padding stays small.

Bounding-box IoU follows pycocotools' ``bbIou`` operation by operation (boxes are x, y, w, h)::

    w = min(dx + dw, gx + gw) - max(dx, gx);  h likewise;  0 unless w > 0 and h > 0
    IoU = w h / (dw dh + gw gh - w h)        (crowd box: w h / (dw dh))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
    pair_gt: NDArray[np.int64],
    det_group: NDArray[np.int64],
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
        IoU of the (detection, ground truth) pairs of the same group that reach the smallest
        threshold, ordered by detection and then by box in pycocotools' order. Pairs below it
        can never match and are left out.
    pair_det, pair_gt : (P,) int64
        Detection and box index of each pair.
    det_group : (N,) int64
        Group of each detection; detections are sorted by group, then by descending score.
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
    thr_min = thr.min()

    # candidates: detections with IoU >= the smallest threshold against some box of their group
    best = np.full(N, -1.0)
    if iou.size:
        np.maximum.at(best, pair_det, iou)
    cand = np.flatnonzero(best >= thr_min)  # (C,) sorted: by group, then by score
    C = cand.size
    matched = np.zeros((A, T, C), dtype=bool)
    matched_ign = np.zeros((A, T, C), dtype=bool)
    matched_nz = np.zeros((A, T, C), dtype=bool)
    if C == 0:
        return cand, matched, matched_ign, matched_nz
    cand_of = np.full(N, -1, dtype=np.int64)
    cand_of[cand] = np.arange(C)
    keep = iou >= thr_min
    r_cand, r_gt, r_iou = cand_of[pair_det[keep]], pair_gt[keep], iou[keep]  # (P',)
    # relevant boxes: those of some pair; sorted = grouped and in file order within a group
    rel_gt, r_slot = np.unique(r_gt, return_inverse=True)  # (U,), (P',)

    cand_group = det_group[cand]  # (C,)
    groups, first, counts = np.unique(cand_group, return_index=True, return_counts=True)
    # relevant boxes per group: contiguous runs of rel_gt (boxes are sorted by group)
    box_group = np.full(rel_gt.size, -1, dtype=np.int64)
    box_group[r_slot] = cand_group[r_cand]
    gq = np.searchsorted(groups, box_group)  # (U,) group number of each relevant box
    sizes = np.bincount(gq, minlength=groups.size)  # (Qc,) relevant boxes per group (>= 1)
    gstart = np.cumsum(sizes) - sizes  # (Qc,) first relevant box of each group
    col_of_pair = r_slot - gstart[gq[r_slot]]  # (P',) column within its group
    padded = 1 << np.ceil(np.log2(sizes)).astype(np.int64)  # (Qc,) power of two
    n_buckets = len(np.unique(padded))
    out = (matched, matched_ign, matched_nz)
    for done, gp in enumerate(np.unique(padded)):
        if progress is not None:
            progress("matching", done / n_buckets)
        sel = np.flatnonzero(padded == gp)  # groups in this bucket
        sel = sel[np.argsort(-counts[sel], kind="stable")]  # most candidates first
        boxes = (rel_gt, gstart, sizes, gt_ignore, gt_crowd, gt_id_nonzero)
        pairs = (r_cand, col_of_pair, r_iou)
        _match_bucket(sel, int(gp), first, counts, boxes, pairs, thr, out)
    if progress is not None:
        progress("matching", 1.0)
    return cand, matched, matched_ign, matched_nz


def _match_bucket(
    sel: NDArray[np.int64],
    gp: int,
    first: NDArray[np.int64],
    counts: NDArray[np.int64],
    boxes: tuple[NDArray[Any], ...],
    pairs: tuple[NDArray[Any], ...],
    thr: NDArray[np.float64],
    out: tuple[NDArray[np.bool_], NDArray[np.bool_], NDArray[np.bool_]],
) -> None:
    """Match the groups ``sel`` (Gp = ``gp`` relevant-box columns each, padded), candidate by
    candidate, writing ``out`` = (matched, matched_ignored, matched_id_nonzero) (A, T, C)."""
    rel_gt, gstart, sizes, gt_ignore, gt_crowd, gt_id_nonzero = boxes
    r_cand, col_of_pair, r_iou = pairs
    matched, matched_ign, matched_nz = out
    A, T, C = matched.shape
    nb = len(sel)
    col = np.arange(gp)  # (Gp,)
    real = col[None, :] < sizes[sel][:, None]  # (B, Gp)
    box = np.where(real, gstart[sel][:, None] + col[None, :], 0)  # (B, Gp) relevant slot
    g_idx = rel_gt[box]  # (B, Gp) box index
    ign = gt_ignore[:, g_idx].transpose(1, 0, 2) & real[:, None, :]  # (B, A, Gp)
    ign_t = ign[:, :, None, :]  # (B, A, 1, Gp)
    crowd = gt_crowd[g_idx] & real  # (B, Gp) a crowd box is never used up
    nonzero = gt_id_nonzero[g_idx]  # (B, Gp)
    taken = np.broadcast_to(~real[:, None, None, :], (nb, A, T, gp)).copy()  # padding: taken
    # IoU rows of this bucket's candidates, -1 where a box is padding
    b_cand = np.concatenate([first[q] + np.arange(counts[q]) for q in sel])  # (Cb,)
    row_of = np.full(C, -1, dtype=np.int64)
    row_of[b_cand] = np.arange(b_cand.size)
    rows = np.full((b_cand.size, gp), -1.0)  # (Cb, Gp)
    mine = row_of[r_cand] >= 0
    rows[row_of[r_cand[mine]], col_of_pair[mine]] = r_iou[mine]
    offset = np.cumsum(counts[sel]) - counts[sel]  # (B,) first row of each group
    n_cand = counts[sel]  # (B,) descending
    for j in range(int(n_cand[0])):
        n = int(np.count_nonzero(n_cand > j))  # groups with more than j candidates
        row = rows[offset[:n] + j]  # (n, Gp) IoU of each group's j-th candidate
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
        ci = first[sel[b_i]] + j  # candidate index
        matched[a_i, t_i, ci] = True
        matched_ign[a_i, t_i, ci] = ign[b_i, a_i, m_i]
        matched_nz[a_i, t_i, ci] = nonzero[b_i, m_i]
