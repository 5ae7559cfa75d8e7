"""pycocotools' ``accumulate`` step, vectorised over categories, thresholds and recall levels.

For one (category k, area range a, max_dets m), pycocotools concatenates the kept detections of all
images (the first m of each image), sorts them by descending score (stable; ties by image id, then by
rank in the image), and at each IoU threshold computes with cumulative sums::

    rc = tp / npig,   pr = tp / (fp + tp + spacing(1)),   pr[i] <- max(pr[i:])   (the envelope)
    precision[t, r, k, a, m] = pr[searchsorted(rc, rec_thrs[r], side="left")]   (0 past the end)
    recall[t, k, a, m] = rc[-1]   (0 without detections)

and leaves -1 where the category has no ground truth that is not ignored (npig = 0).

Here nothing is looped per category and nothing of size T x N is built. One global sort
(category, -score, image, rank) lays each category out as a contiguous segment. Three facts make the
rest sparse, over the true positives only:

* fp + tp at position i is the number of detections up to i that are not ignored; an unmatched
  detection is ignored exactly when its area is outside the range, the same at every threshold. So
  this count is one cumulative sum over all detections plus a correction over the few matched ones.
* rc = tp / npig is nondecreasing in the integer tp, so ``searchsorted(rc, r)`` is the position of the
  c-th true positive of the segment, c being the smallest count with fl(c / npig) >= r.
* Between two true positives pr only falls (tp fixed, fp + tp growing), so the envelope
  max(pr[i:]) at the c-th true positive is the running maximum, from the end, of pr over the true
  positives j >= c: a segmented reverse maximum over a short array.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from handgrad.metrics.detection.evaluation import CocoEvaluation
from handgrad.metrics.detection.state import CocoEvalState

__all__ = ["accumulate", "accumulate_arrays"]

EPS = np.spacing(1)  # pycocotools' np.spacing(1) in the precision denominator


def _min_counts(rec_thrs: NDArray[np.float64], npig: NDArray[np.int64]) -> NDArray[np.int64]:
    """(K, R): the smallest integer c >= 0 with c / npig[k] >= rec_thrs[r] in float64.

    Equals ``searchsorted(rc, r, side="left")`` in counts: rc = tp / npig is nondecreasing in tp.
    Entries past npig (r above every reachable recall) are npig + 1.
    """
    n = np.maximum(npig, 1).astype(np.float64)[:, None, None]  # (K, 1, 1)
    r = rec_thrs[None, :, None]  # (1, R, 1)
    c0 = np.maximum(np.floor(rec_thrs[None, :] * n[:, :, 0]) - 2, 0)  # (K, R)
    cands = c0[:, :, None] + np.arange(6)[None, None, :]  # (K, R, 6)
    ok = (cands / n >= r) & (cands <= n)
    first = np.where(ok.any(-1), cands[..., 0] + np.argmax(ok, axis=-1), n[:, :, 0] + 1)
    return first.astype(np.int64)


def _segment_base(values: NDArray[np.int64], seg: NDArray[np.int64]) -> NDArray[np.int64]:
    """Cumulative sums restarted at each segment (segments contiguous and in order); axis -1."""
    cum = np.cumsum(values, axis=-1)
    if seg.size == 0:
        return cum
    first = np.flatnonzero(np.r_[True, seg[1:] != seg[:-1]])  # (S,) first element of each
    before = np.take(cum, first, axis=-1) - np.take(values, first, axis=-1)  # sum before each
    starts_per = np.repeat(np.arange(first.size), np.diff(np.r_[first, seg.size]))
    return cum - np.take(before, starts_per, axis=-1)


def _reverse_segment_max(
    values: NDArray[np.float64], seg: NDArray[np.int64]
) -> NDArray[np.float64]:
    """max(values[i:end of i's segment]) for segments numbered in ascending order, exactly.

    Values are replaced by their ranks, and each segment's keys are shifted above those of the
    segments after it, so one reverse running maximum over int64 keys restarts at every boundary.
    """
    if values.size == 0:
        return values
    uniq, rank = np.unique(values, return_inverse=True)
    big = uniq.size + 1
    key = (seg.max() - seg) * big + rank  # (E,) later segments get smaller keys
    best = np.maximum.accumulate(key[::-1])[::-1]
    return uniq[best % big]


def accumulate(state: CocoEvalState) -> CocoEvaluation:
    """Precision, recall and scores arrays and the summary (pycocotools' ``accumulate``).

    ``accumulate(merge_states(parts))`` equals the single-pass evaluation exactly.
    """
    precision, recall, scores = accumulate_arrays(state)
    return CocoEvaluation(state.params, precision, recall, scores)


def accumulate_arrays(
    state: CocoEvalState,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """precision (T, R, K, A, M), recall (T, K, A, M), scores (T, R, K, A, M), as pycocotools."""
    p = state.params
    T, R, K = len(p.iou_thrs), len(p.rec_thrs), len(p.cat_ids)
    A, M = len(p.area_rng), len(p.max_dets)
    N = state.score.shape[0]
    precision = -np.ones((T, R, K, A, M))
    recall = -np.ones((T, K, A, M))
    scores = -np.ones((T, R, K, A, M))
    if K == 0:
        return precision, recall, scores
    r_order = np.argsort(p.rec_thrs, kind="stable")  # queries in ascending order
    r_sorted = p.rec_thrs[r_order]  # (R,)
    order = np.lexsort((state.rank, state.image_id, -state.score, state.category_index))
    for m, max_det in enumerate(p.max_dets):
        idx = order[state.rank[order] < max_det]  # (Nm,) kept detections in accumulate order
        Nm = idx.size
        seg = state.category_index[idx]  # (Nm,) category of each, nondecreasing
        count = np.bincount(seg, minlength=K)  # (K,)
        start = np.cumsum(count) - count  # (K,)
        first_score = state.score[idx][np.minimum(start, max(Nm - 1, 0))] if Nm else None
        pos_of = np.full(N, -1, dtype=np.int64)
        pos_of[idx] = np.arange(Nm)
        sp_pos_all = pos_of[state.match_index]  # (S,)
        sp_keep = np.flatnonzero(sp_pos_all >= 0)
        sp_keep = sp_keep[np.argsort(sp_pos_all[sp_keep], kind="stable")]  # position order
        sp_pos = sp_pos_all[sp_keep]  # (Sm,) positions of the matched detections, ascending
        sp_seg = seg[sp_pos]  # (Sm,)
        sp_score = state.score[idx[sp_pos]]
        for a in range(A):
            npig = state.n_positives[:, a]  # (K,)
            defined = npig > 0  # (K,)
            base = (~state.outside[a][idx]).astype(np.int64)  # (Nm,) unmatched: not ignored
            base_cum = _segment_base(base, seg)  # (Nm,)
            tp_s = state.match_tp[a][:, sp_keep]  # (T, Sm)
            counted = (tp_s | state.match_fp[a][:, sp_keep]).astype(np.int64)  # not ignored
            delta = counted - base[sp_pos][None, :]  # (T, Sm) in {-1, 0, 1}
            n_counted = base_cum[sp_pos][None, :] + _segment_base(delta, sp_seg)  # fp + tp
            tp_cum = _segment_base(tp_s.astype(np.int64), sp_seg)  # (T, Sm)

            # the true positives, t-major, in position order within each threshold
            ev_t, ev_j = np.nonzero(tp_s)  # (E,)
            ev_seg = ev_t * K + sp_seg[ev_j]  # (E,) segment number (t, k)
            ev_tp = tp_cum[ev_t, ev_j].astype(np.float64)
            ev_fp = (n_counted[ev_t, ev_j] - tp_cum[ev_t, ev_j]).astype(np.float64)
            ev_pr = ev_tp / (ev_fp + ev_tp + EPS)  # (E,) pycocotools' expression
            ev_env = _reverse_segment_max(ev_pr, ev_seg)  # (E,) envelope at each
            n_tp = np.bincount(ev_seg, minlength=T * K).reshape(T, K)  # (T, K)
            ev_first = (np.cumsum(n_tp) - n_tp.ravel()).reshape(T, K)  # (T, K)

            recall[:, :, a, m] = np.where(defined[None, :], n_tp / np.maximum(npig, 1), -1.0)

            c = _min_counts(r_sorted, npig)[None, :, :]  # (1, K, R)
            j = np.maximum(c, 1)  # (1, K, R) the j-th true positive holds the answer
            has_j = j <= n_tp[:, :, None]  # (T, K, R)
            valid = np.where(c == 0, (count > 0)[None, :, None], has_j)  # (T, K, R)
            at = np.where(has_j, ev_first[:, :, None] + j - 1, 0)  # (T, K, R) event index
            q = np.where(has_j, ev_env[at] if ev_env.size else 0.0, 0.0)
            ss = np.where(has_j & (c > 0), sp_score[ev_j[at]] if ev_j.size else 0.0, 0.0)
            if first_score is not None:
                ss = np.where(c == 0, first_score[None, :, None], ss)

            # back to the caller's recall order; pycocotools stops at the first query past
            # the end (an IndexError caught by a bare except), leaving zeros from there on
            q_u = np.empty(q.shape)
            q_u[..., r_order] = q
            ss_u = np.empty(q.shape)
            ss_u[..., r_order] = np.where(valid, ss, 0.0)
            valid_u = np.empty(q.shape, dtype=bool)
            valid_u[..., r_order] = valid
            alive = np.logical_and.accumulate(valid_u, axis=2)  # (T, K, R)
            prec = np.where(alive, q_u, 0.0)
            scr = np.where(alive, ss_u, 0.0)
            undefined = ~defined[None, :, None]
            precision[:, :, :, a, m] = np.where(undefined, -1.0, prec).transpose(0, 2, 1)
            scores[:, :, :, a, m] = np.where(undefined, -1.0, scr).transpose(0, 2, 1)
    return precision, recall, scores
