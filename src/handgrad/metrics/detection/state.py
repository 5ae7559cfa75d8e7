"""The mergeable per-detection state of a COCO evaluation (pycocotools' ``evaluate`` step).

After matching, everything that pycocotools' ``accumulate`` needs is, per detection, its category,
score, image, rank within its (image, category) and whether it is a true positive, a false
positive or ignored at each (area range, IoU threshold); and per (category, area range) the number of
ground-truth boxes that are not ignored. Both are additive over images, so states of disjoint image
sets merge by concatenation and summation, and ``accumulate(merge_states(parts))`` is exactly the
single-pass result: a big evaluation can be split across processes or cluster workers.

The same matching serves every ``iou_type``; only the similarity of a (detection, ground truth)
pair changes: box IoU (:func:`~.matching.pair_ious`), mask IoU (crowd regions: intersection over
the detection's area) or OKS (:mod:`~.keypoints`), and, for keypoints, objects with
``num_keypoints == 0`` are ignored like crowd regions.

Selection follows pycocotools, quirks included: detections and boxes outside ``img_ids`` /
``cat_ids`` are dropped; per (image, category) only the ``max(max_dets)`` best-scored detections
are kept (stable sort); annotations that share an id are all replaced by the *last* annotation with
that id (pycocotools' ``loadAnns`` looks them up by id), which is reported with a warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from handgrad.metrics.detection.detections import Detections
from handgrad.metrics.detection.inputs import CocoGroundTruth, DetectionEvalWarning
from handgrad.metrics.detection.matching import greedy_match
from handgrad.metrics.detection.params import CocoParams
from handgrad.metrics.detection.similarity import PairScorer, pair_scorer

__all__ = ["CocoEvalState", "build_state", "merge_states"]

Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class CocoEvalState:
    """Per-detection match results of an evaluation over the images ``params.img_ids``.

    Attributes
    ----------
    params : CocoParams
    image_id : (N,) int64
        Image of each kept detection.
    category_index : (N,) int64
        Index of its category in ``params.cat_ids``.
    score : (N,) float64
    rank : (N,) int64
        0-based rank within its (image, category) by descending score, ties in input order.
    outside : (A, N) bool
        Whether the detection's area (w * h) is outside each area range. An unmatched detection
        is a false positive inside the range and ignored outside it, at every threshold.
    match_index : (S,) int64
        The detections that may have matched a box (the others follow the rule above).
    match_tp, match_fp : (A, T, S) bool
        Their true-positive and false-positive flags at each (area range, IoU threshold);
        neither means ignored.
    n_positives : (K, A) int64
        Ground-truth boxes that are not ignored, per category and area range.
    """

    params: CocoParams
    image_id: NDArray[np.int64]
    category_index: NDArray[np.int64]
    score: NDArray[np.float64]
    rank: NDArray[np.int64]
    outside: NDArray[np.bool_]
    match_index: NDArray[np.int64]
    match_tp: NDArray[np.bool_]
    match_fp: NDArray[np.bool_]
    n_positives: NDArray[np.int64]

    def merge(self, other: CocoEvalState) -> CocoEvalState:
        """The state of both image sets together; they must be disjoint and share parameters."""
        return merge_states([self, other])


def merge_states(states: Sequence[CocoEvalState]) -> CocoEvalState:
    """Merge states of disjoint image sets evaluated with the same parameters.

    Raises
    ------
    ValueError
        If ``states`` is empty, if parameters other than ``img_ids`` differ, or if two states
        share an image.
    """
    if len(states) == 0:
        raise ValueError("merge_states needs at least one state; got none")
    first = states[0]
    for i, s in enumerate(states[1:], start=1):
        if not isinstance(s, CocoEvalState):
            raise TypeError(f"states[{i}] must be a CocoEvalState; got {type(s).__name__}")
        if not first.params.same_grid(s.params):
            raise ValueError(
                f"states[{i}] was evaluated with other parameters than states[0] "
                "(IoU/recall thresholds, max_dets, area ranges or categories differ)"
            )
    all_imgs = np.concatenate([s.params.img_ids for s in states])
    uniq, counts = np.unique(all_imgs, return_counts=True)
    if np.any(counts > 1):
        raise ValueError(
            f"states to merge must cover disjoint image sets; image id {int(uniq[counts > 1][0])} "
            f"is in more than one ({int(np.sum(counts > 1))} shared image(s) in all)"
        )
    sizes = [s.score.shape[0] for s in states]
    offsets = np.cumsum([0, *sizes[:-1]])
    return CocoEvalState(
        params=replace(first.params, img_ids=uniq),
        image_id=np.concatenate([s.image_id for s in states]),
        category_index=np.concatenate([s.category_index for s in states]),
        score=np.concatenate([s.score for s in states]),
        rank=np.concatenate([s.rank for s in states]),
        outside=np.concatenate([s.outside for s in states], axis=1),
        match_index=np.concatenate(
            [s.match_index + off for s, off in zip(states, offsets, strict=True)]
        ),
        match_tp=np.concatenate([s.match_tp for s in states], axis=2),
        match_fp=np.concatenate([s.match_fp for s in states], axis=2),
        n_positives=np.sum([s.n_positives for s in states], axis=0),
    )


def _warn(message: str) -> None:
    warnings.warn(message, DetectionEvalWarning, stacklevel=4)


def _ground_truth_rows(gt: CocoGroundTruth, p: CocoParams) -> NDArray[np.int64]:
    """Indices of the annotations pycocotools evaluates, in its order, duplicates resolved.

    pycocotools selects annotations by their own image and category, then looks each up by id,
    which returns the *last* annotation with that id. Within an (image, category) its order is
    (image of the selected annotation, file order).
    """
    keep = np.isin(gt.ann_image_id, p.img_ids) & np.isin(gt.ann_category_id, p.cat_ids)
    rows = np.flatnonzero(keep)  # (G0,) selected annotations, file order
    uniq, inverse, counts = np.unique(gt.ann_id, return_inverse=True, return_counts=True)
    if np.any(counts > 1):
        dup = int(uniq[counts > 1][0])
        _warn(
            f"ground-truth annotation ids are not unique (id {dup} appears {int(counts.max())} "
            "times or more); like pycocotools, every annotation with a repeated id is replaced "
            "by the last annotation with that id"
        )
        last = np.zeros(len(uniq), dtype=np.int64)
        last[inverse] = np.arange(len(gt.ann_id))  # later writes win: the last index per id
        eff = last[inverse[rows]]  # (G0,) the annotation pycocotools actually uses
    else:
        eff = rows
    ok = np.isin(gt.ann_image_id[eff], p.img_ids) & np.isin(gt.ann_category_id[eff], p.cat_ids)
    rows, eff = rows[ok], eff[ok]
    # order: group (image, category) of the used annotation, then selection order
    img_rank = np.searchsorted(p.img_ids, gt.ann_image_id[eff])
    cat_rank = np.searchsorted(p.cat_ids, gt.ann_category_id[eff])
    sel_img_rank = np.searchsorted(p.img_ids, gt.ann_image_id[rows])
    order = np.lexsort((rows, sel_img_rank, cat_rank, img_rank))
    return eff[order]


PAIR_CHUNK = 1 << 20  # (detection, box) pairs per chunk: bounds the memory of the IoU step


def _candidate_pairs(
    d_gstart: NDArray[np.int64],
    per_det: NDArray[np.int64],
    score: PairScorer,
    min_thr: float,
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64]]:
    """The (detection, box of its group) pairs with IoU >= min(min_thr, 1 - 1e-10): the only
    pairs that can ever match. Computed in chunks of about PAIR_CHUNK pairs. Returns iou,
    pair_det and pair_gt (P,), ordered by detection, then box.
    """
    thr = min(min_thr, 1 - 1e-10)
    N = per_det.shape[0]
    ends = np.cumsum(per_det)  # (N,) pairs up to and including each detection
    ious, dets, gts = [], [], []
    lo = 0
    while lo < N:
        base = int(ends[lo - 1]) if lo else 0
        hi = max(int(np.searchsorted(ends, base + PAIR_CHUNK, side="right")), lo + 1)
        counts = per_det[lo:hi]
        pair_det = np.repeat(np.arange(lo, hi), counts)  # (P,)
        pair_first = np.repeat(np.cumsum(counts) - counts, counts)  # (P,) first pair of its det
        pair_gt = d_gstart[pair_det] + np.arange(pair_det.size) - pair_first  # (P,)
        iou = score(pair_det, pair_gt)  # (P,)
        keep = iou >= thr
        ious.append(iou[keep])
        dets.append(pair_det[keep])
        gts.append(pair_gt[keep])
        lo = hi
    if not ious:
        empty = np.zeros(0, dtype=np.int64)
        return np.zeros(0), empty, empty
    return np.concatenate(ious), np.concatenate(dets), np.concatenate(gts)


def build_state(
    gt: CocoGroundTruth,
    dets: Detections,
    params: CocoParams,
    progress: Progress | None = None,
) -> CocoEvalState:
    """Match detections to ground truth for every image of ``params.img_ids`` (see module doc)."""
    p = params
    K, A = len(p.cat_ids), len(p.area_rng)
    max_det = p.max_dets[-1]
    lo, hi = p.area_rng[:, 0], p.area_rng[:, 1]  # (A,)

    # ground truth, grouped by (image, category)
    g = _ground_truth_rows(gt, p)  # (G,)
    g_img = np.searchsorted(p.img_ids, gt.ann_image_id[g])
    g_cat = np.searchsorted(p.cat_ids, gt.ann_category_id[g])
    g_group = g_img * K + g_cat  # (G,) sorted
    g_crowd = gt.iscrowd[g]  # (G,)
    g_area = gt.area[g]
    g_skip = (
        g_crowd
        if gt.no_keypoints is None or p.iou_type != "keypoints"
        else (g_crowd | gt.no_keypoints[g])
    )  # (G,) pycocotools' gt["ignore"]
    g_ignore = g_skip[None, :] | (g_area[None, :] < lo[:, None]) | (g_area[None, :] > hi[:, None])
    n_positives = np.zeros((K, A), dtype=np.int64)
    for a in range(A):
        n_positives[:, a] = np.bincount(g_cat[~g_ignore[a]], minlength=K)
    g_nonzero = gt.ann_id[g] != 0
    if not g_nonzero.all():
        _warn(
            "a ground-truth annotation has id 0: pycocotools records matches by annotation id, "
            "so a detection matched to it counts as a false positive (reproduced here); "
            "renumber annotations from 1"
        )
    if g.size:
        per_group = np.bincount(g_group[~g_crowd])
        if per_group.size and per_group.max() > max_det:
            worst = int(np.argmax(per_group))
            _warn(
                f"image {int(p.img_ids[worst // K])} has {int(per_group.max())} ground-truth boxes "
                f"of category {int(p.cat_ids[worst % K])}, more than max_dets = {max_det}: at most "
                f"{max_det} can be detected, so recall and AP are capped below 1"
            )

    # detections: selected, sorted by (image, category, -score, input order), top max_det kept
    keep = np.flatnonzero(np.isin(dets.image_id, p.img_ids) & np.isin(dets.category_id, p.cat_ids))
    d_img = np.searchsorted(p.img_ids, dets.image_id[keep])
    d_cat = np.searchsorted(p.cat_ids, dets.category_id[keep])
    d_group = d_img * K + d_cat
    order = np.lexsort((keep, -dets.score[keep], d_group))
    keep, d_group = keep[order], d_group[order]
    starts = np.flatnonzero(np.r_[True, d_group[1:] != d_group[:-1]]) if keep.size else keep
    rank = np.arange(keep.size) - np.repeat(starts, np.diff(np.r_[starts, keep.size]))
    top = rank < max_det
    keep, d_group, rank = keep[top], d_group[top], rank[top]
    d_area = dets.range_area()[keep]  # (N,) pycocotools' d["area"]
    if progress is not None:
        progress("matching", 0.0)

    # (detection, box) pairs of the same group
    d_gstart = np.searchsorted(g_group, d_group, side="left")  # (N,) first box of the group
    per_det = np.searchsorted(g_group, d_group, side="right") - d_gstart  # (N,) boxes in it
    score = pair_scorer(gt, g, dets, keep, p)
    iou, pair_det, pair_gt = _candidate_pairs(d_gstart, per_det, score, float(np.min(p.iou_thrs)))

    cand, matched, m_ign, m_nz = greedy_match(
        iou,
        pair_det,
        pair_gt,
        d_group,
        g_ignore,
        g_crowd,
        g_nonzero,
        p.iou_thrs,
        progress,
    )
    # pycocotools: dtIg = gtIg[match], then unmatched (dtm == 0) detections out of range ignored
    outside = (d_area[None, :] < lo[:, None]) | (d_area[None, :] > hi[:, None])  # (A, N)
    hit = matched & m_nz  # (A, T, C) dtm != 0
    ignored = (matched & m_ign) | (~hit & outside[:, None, cand])  # (A, T, C)
    return CocoEvalState(
        params=p,
        image_id=dets.image_id[keep],
        category_index=d_group % K if K else d_group,
        score=dets.score[keep],
        rank=rank,
        outside=outside,
        match_index=cand,
        match_tp=hit & ~ignored,
        match_fp=~hit & ~ignored,
        n_positives=n_positives,
    )
