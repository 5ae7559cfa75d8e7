"""Sorting kernels and the four definitions of average precision (private; inputs are trusted).

Public entry points: :mod:`handgrad.metrics.ranking`, which validates input and then calls these.

Conventions
-----------
* Ranking is by descending score with a *stable* order: equal scores keep their input order, as
  ``np.argsort(-score, kind="mergesort")`` in pycocotools and MATLAB's stable ``sort`` in the VOC
  devkit.
* For the full argsort (:func:`curve_points`) scores are mapped to int64 *descending keys*
  (:func:`descending_keys`): ascending key order is descending score order, equal keys are exactly
  equal scores (``-0.0`` and ``0.0`` share a key).
* A ranked list is summarised by ``hit_ranks`` (P,): the 0-based positions of the positives in the
  stable descending order, ascending. Precision at the k-th hit is ``k / (hit_ranks[k-1] + 1)`` and
  recall ``k / n_positives``: the interpolated definitions need nothing else, because precision
  between two hits only falls, so every envelope maximum sits on a hit.
* Every interpolated definition reproduces its reference implementation's floating-point operations,
  in the same order, so results agree bit for bit (see each function).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "COCO_RECALL_LEVELS",
    "VOC07_RECALL_LEVELS",
    "ap_coco",
    "ap_step",
    "ap_step_from_hit_ranks",
    "ap_voc07",
    "ap_voc12",
    "curve_points",
    "descending_keys",
    "hit_ranks",
    "step_points",
]

# The VOC devkit's levels: np.arange(0, 1.1, 0.1) computes i * 0.1, so three of the eleven levels
# lie just above the decimal: 0.30000000000000004, 0.6000000000000001 and 0.7000000000000001. A
# recall of exactly 3/10 (0.3) does not reach the level "0.3": the devkit's quirk, kept on purpose.
VOC07_RECALL_LEVELS = np.arange(0.0, 1.1, 0.1)  # (11,)
# pycocotools' p.recThrs: np.linspace(0, 1, 101) is i * 0.01 (0.07 is 0.07000000000000001).
COCO_RECALL_LEVELS = np.linspace(0.0, 1.0, 101)  # (101,)
VOC07_RECALL_LEVELS.flags.writeable = False
COCO_RECALL_LEVELS.flags.writeable = False

_LOW63 = np.int64(0x7FFFFFFFFFFFFFFF)


def descending_keys(score: NDArray[np.floating]) -> NDArray[np.int64]:
    """Int64 keys whose ascending order is the descending order of ``score`` (finite floats).

    IEEE doubles order like sign-magnitude integers. With ``b`` the bit pattern of ``score + 0.0``
    (which turns ``-0.0`` into ``0.0``), the key is ``~b`` for ``b >= 0`` and ``b`` with its sign
    bit cleared for ``b < 0``: larger scores get smaller keys, equal scores equal keys. Sorting
    int64 is markedly faster than sorting float64 (no NaN-aware comparisons), and the stable order
    of the keys *is* ``np.argsort(-score, kind="stable")``. float32 is widened exactly to float64
    first.
    """
    bits = (score.astype(np.float64, copy=False) + 0.0).view(np.int64)  # (n,)
    key = bits >> 63  # (n,) 0 for b >= 0, -1 for b < 0
    key &= _LOW63
    np.invert(key, out=key)  # (n,) -1 for b >= 0, INT64_MIN for b < 0
    key ^= bits
    return key


def _split_sorted(
    is_pos: NDArray[np.bool_], score: NDArray[np.floating]
) -> tuple[NDArray[np.floating], NDArray[np.floating]]:
    """Scores of the positives and of the negatives, each sorted ascending (worst first).

    A plain (unstable) sort of values suffices: only comparisons are used afterwards, under which
    ``-0.0 == 0.0`` as in the stable ranking. float32 stays float32 (a cheaper sort).
    """
    return np.sort(score[is_pos]), np.sort(score[~is_pos])


# Share of repeated scores among positives above which hit_ranks takes one full stable argsort.
_HEAVY_TIES = 0.2
_FIBONACCI = np.uint64(0x9E3779B97F4A7C15)  # multiplicative hashing: 2**64 / golden ratio, odd


def _hash(values: NDArray[np.floating], bits: int) -> NDArray[np.uint64]:
    """``bits``-bit hash of each value; equal values (``-0.0`` and ``0.0`` too) hash alike."""
    pattern = (values.astype(np.float64) + 0.0).view(np.uint64)  # (n,) fresh copy
    pattern *= _FIBONACCI  # wraps modulo 2**64
    pattern >>= np.uint64(64 - bits)
    return pattern


def _holding(
    score: NDArray[np.floating], shared: NDArray[np.floating]
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Input indices (ascending) whose score is in ``shared`` (sorted, distinct), and its slot.

    A hash table of the S shared values, looked up by every score, replaces a binary search per
    score (``searchsorted`` of n unsorted queries costs ~log2(S) mispredicted branches each).
    Candidates are confirmed by exact comparison; scores landing on a bucket shared by two values
    fall back to ``searchsorted``, so the result is exact whatever the hash does.
    """
    S = shared.size
    bits = min(max(S.bit_length() + 6, 12), 20)
    table = np.full(1 << bits, -1, dtype=np.intp)  # (2**bits,) slot of the value hashed there
    bucket = _hash(shared, bits)  # (S,)
    table[bucket] = np.arange(S)
    bucket.sort()
    table[bucket[1:][bucket[1:] == bucket[:-1]]] = -2  # buckets holding two or more shared values
    slot = table[_hash(score, bits)]  # (n,)
    candidates = np.flatnonzero(slot != -1)  # (C,)
    slot = slot[candidates]  # (C,)
    mixed = np.flatnonzero(slot == -2)
    if mixed.size:
        found = np.searchsorted(shared, score[candidates[mixed]])
        slot[mixed] = np.minimum(found, S - 1)
    exact = shared[slot] == score[candidates]  # (C,)
    return candidates[exact], slot[exact]


def hit_ranks(is_pos: NDArray[np.bool_], score: NDArray[np.floating]) -> NDArray[np.int64]:
    """0-based ranks of the positives in the stable descending order, ascending. Shape (P,).

    Equals ``np.flatnonzero(is_pos[np.argsort(-score, kind="stable")])`` without that argsort: the
    k-th best positive (0-based) has rank k + (negatives ranked before it). Negatives with a
    strictly higher score are counted by ``searchsorted`` on the sorted negative scores (two sorts
    of values cost about half one stable argsort); negatives with an *equal* score come first only
    when their input index is smaller, which a stable argsort of just the elements holding a score
    shared by both classes settles. When many positives repeat a score (more than ``_HEAVY_TIES``
    of them), the tie repair would touch most elements, and one stable argsort of the int64 keys is
    cheaper.
    """
    pos = np.sort(score[is_pos])  # (P,) ascending
    P = pos.size
    if P > 1 and np.count_nonzero(pos[1:] != pos[:-1]) < (1 - _HEAVY_TIES) * (P - 1):
        # Heavily tied scores: one stable argsort of int64 keys beats sorting plus tie repair.
        return np.flatnonzero(is_pos[np.argsort(descending_keys(score), kind="stable")])
    neg = np.sort(score[~is_pos])  # (N,) ascending
    N = neg.size
    ranks = np.arange(P, dtype=np.int64)  # (P,) positives ranked before each one, best first
    if N == 0 or P == 0:
        return ranks
    not_above = np.searchsorted(neg, pos, side="right")  # (P,) negatives <= each positive
    ranks += N - not_above[::-1]  # negatives strictly above the k-th best positive
    tied_up = neg[np.maximum(not_above - 1, 0)] == pos  # (P,) a negative shares the score
    tied_up &= not_above > 0
    if not tied_up.any():
        return ranks
    tied = tied_up[::-1]  # (P,) best first
    shared = np.unique(pos[tied_up])  # (S,) scores held by both classes, ascending
    S = shared.size
    members, slot = _holding(score, shared)  # (M,) input indices holding a shared score, (M,)
    group = (S - 1) - slot  # (M,) 0 for the highest shared score
    # A stable sort by group keeps input order in a group; up to 2**16 groups it is a radix sort.
    order = np.argsort(group.astype(np.uint16 if S <= 1 << 16 else np.int64), kind="stable")  # (M,)
    group = group[order]
    sub_neg = ~is_pos[members[order]]  # (M,) negative flags in rank order
    neg_before: NDArray[np.int64] = np.cumsum(sub_neg, dtype=np.int64) - sub_neg  # (M,) exclusive
    size = np.bincount(group, minlength=S)  # (S,) members per group
    start = np.cumsum(size) - size  # (S,) position of each group's first member
    # (M,) negatives of the same score ranked first (smaller input index)
    in_group: NDArray[np.int64] = neg_before - neg_before[start[group]]
    # The tied positives, best first, are exactly the positives of the sub-ranking, in its order.
    ranks[tied] += in_group[~sub_neg]
    return ranks


def step_points(
    is_pos: NDArray[np.bool_], score: NDArray[np.floating]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """True and false positives at each distinct score held by a positive, best score first.

    Returns ``tp, fp`` (T,): counts of positives and negatives with score >= that score. These are
    the thresholds at which scikit-learn's recall steps; all other thresholds add zero to AP.
    """
    pos, neg = _split_sorted(is_pos, score)  # (P,), (N,) ascending
    P, N = pos.size, neg.size
    first = np.flatnonzero(np.r_[True, pos[1:] != pos[:-1]]) if P else np.arange(0)  # (T,)
    tp = (P - first)[::-1]  # (T,) positives >= each distinct positive score, best first
    fp = (N - np.searchsorted(neg, pos[first], side="left"))[::-1]  # (T,)
    return tp.astype(np.int64), fp.astype(np.int64)


def curve_points(
    is_pos: NDArray[np.bool_], key: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.intp]]:
    """``tp, fp, index`` (T,) at every distinct score, best first; ``index`` points into the input.

    scikit-learn's ``confusion_matrix_at_thresholds``: tp and fp count the samples with score >= the
    threshold, ``index`` is one input position holding that score.
    """
    order = np.argsort(key, kind="stable")  # (n,)
    sorted_key = key[order]  # (n,)
    ends = np.flatnonzero(sorted_key[1:] != sorted_key[:-1])  # (T-1,) last of each tie run
    ends = np.append(ends, key.size - 1)  # (T,)
    tp = np.cumsum(is_pos[order], dtype=np.int64)[ends]  # (T,)
    fp = ends + 1 - tp  # (T,)
    return tp, fp, order[ends]


def ap_step(tp: NDArray[np.int64], fp: NDArray[np.int64], n_positives: int) -> float:
    r"""Step AP, scikit-learn's, over the thresholds t where a positive is gained.

    .. math:: AP = \sum_t \frac{TP_t - TP_{t-1}}{n_{pos}} \cdot \frac{TP_t}{TP_t + FP_t}
    """
    gained = np.diff(tp, prepend=0)  # (T,) positives gained at each threshold
    precision = tp / (tp + fp)  # (T,)
    return float(np.sum(gained * precision)) / n_positives


def ap_step_from_hit_ranks(ranks: NDArray[np.int64], n_positives: int) -> float:
    """Step AP of a ranked list without ties: precision at each hit, summed, / ``n_positives``."""
    precision = np.arange(1, ranks.size + 1) / (ranks + 1)  # (P,)
    return float(np.sum(precision)) / n_positives


def _envelope(precision: NDArray[np.float64]) -> NDArray[np.float64]:
    """max of ``precision[k:]`` for each k: the interpolated precision at the k-th hit."""
    return np.maximum.accumulate(precision[::-1])[::-1]


def _at_levels(
    recall: NDArray[np.float64], envelope: NDArray[np.float64], levels: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Envelope at the first hit with recall >= level; 0 where no hit reaches the level."""
    idx = np.searchsorted(recall, levels, side="left")  # (L,)
    out = np.zeros(levels.size)  # (L,)
    reached = idx < recall.size
    out[reached] = envelope[idx[reached]]
    return out


def ap_voc07(ranks: NDArray[np.int64], n_positives: int) -> float:
    """11-point AP, the VOC devkit's ``voc_ap(rec, prec, use_07_metric=True)`` bit for bit.

    The devkit computes ``prec = tp / max(tp + fp, eps)`` and ``rec = tp / npos`` per rank, then
    ``ap = ap + max(prec[rec >= t]) / 11`` for t in ``np.arange(0, 1.1, 0.1)``, left to right.
    """
    k = np.arange(1, ranks.size + 1, dtype=np.float64)  # (P,) hits so far
    recall = k / n_positives  # (P,)
    p = _at_levels(recall, _envelope(k / (ranks + 1)), VOC07_RECALL_LEVELS)  # (11,)
    ap = 0.0
    for value in p.tolist():  # the devkit's sequential sum, term by term
        ap = ap + value / 11.0
    return ap


def ap_voc12(ranks: NDArray[np.int64], n_positives: int) -> float:
    """All-point AP, the VOC devkit's ``voc_ap(rec, prec, use_07_metric=False)`` bit for bit.

    The devkit pads ``mrec = [0, rec, 1]``, ``mpre = [0, prec, 0]``, takes the envelope of ``mpre``
    and sums ``(mrec[i+1] - mrec[i]) * mpre[i+1]`` with ``np.sum`` over the indices where recall
    changes: once per hit, plus a final zero term when the hits do not reach recall 1.
    """
    k = np.arange(1, ranks.size + 1, dtype=np.float64)  # (P,)
    recall = k / n_positives  # (P,)
    terms = np.diff(recall, prepend=0.0) * _envelope(k / (ranks + 1))  # (P,)
    if ranks.size == 0 or recall[-1] != 1.0:
        terms = np.append(terms, 0.0)  # (P+1,) the step to the sentinel recall 1, precision 0
    return float(np.sum(terms))


def ap_coco(ranks: NDArray[np.int64], n_positives: int) -> float:
    """101-point AP, pycocotools' ``COCOeval.accumulate`` for one category, bit for bit.

    pycocotools computes ``pr = tp / (fp + tp + np.spacing(1))`` (so a hit at rank 1 has precision
    1 / (1 + 2**-52) = 0.9999999999999998) and ``rc = tp / npig``, makes ``pr`` monotone from the
    right, reads it at ``np.searchsorted(rc, recThrs, side="left")`` (levels past the last recall
    count 0), and ``summarize`` takes ``np.mean`` over the 101 levels.
    """
    k = np.arange(1, ranks.size + 1, dtype=np.float64)  # (P,)
    precision = k / ((ranks + 1).astype(np.float64) + np.spacing(1))  # (P,)
    q = _at_levels(k / n_positives, _envelope(precision), COCO_RECALL_LEVELS)  # (101,)
    return float(np.mean(q))
