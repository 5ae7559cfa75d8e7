r"""Ranking metrics: precision and recall at ranks, the precision-recall curve, average precision.

Conventions
-----------
* Labels are binary: bool, or numbers equal to 0 or 1 (1 = relevant / positive). Scores are finite
  reals; a higher score ranks first. float32 and float64 scores are used as given; integer and bool
  scores are converted to float64 (exact up to 2**53).
* ``n_positives`` is the number of positives in the whole collection, the recall denominator. It
  counts positives that were never scored or retrieved, so it is at least the number of positives in
  the list; by default it is that number.
* No positives at all (``n_positives == 0``) leaves recall and AP undefined: the result is ``nan``
  and an :class:`UndefinedMetricWarning` is issued. Nothing raises for it and nothing returns -1.
* Four definitions of average precision (``method``), all on the same ranking:

  ``"step"``
      scikit-learn's ``average_precision_score``: :math:`\sum_t (R_t - R_{t-1}) P_t` over score
      thresholds t; tied scores form one threshold, so their order does not matter.
  ``"voc07"``
      the VOC2007 devkit's 11-point AP: the mean of the interpolated precision at the recall levels
      ``np.arange(0, 1.1, 0.1)``. Those levels are ``i * 0.1``, so 0.3, 0.6 and 0.7 are in fact
      0.30000000000000004, 0.6000000000000001 and 0.7000000000000001; a recall of exactly 3/10 does
      not reach the level "0.3". We keep the quirk: results equal the devkit's bit for bit.
  ``"voc12"``
      the VOC2010+ devkit's all-point AP: the area under the interpolated precision envelope.
  ``"coco"``
      pycocotools' 101-point AP for one category: the envelope read at ``np.linspace(0, 1, 101)``
      with ``searchsorted(side="left")``, levels beyond the last recall counting 0, and precision
      computed as ``tp / (tp + fp + np.spacing(1))`` (a hit at rank 1 has precision 1 - 2**-52).

  The interpolated methods rank by descending score with a stable sort (ties keep input order), as
  pycocotools (``np.argsort(-score, kind="mergesort")``) and the MATLAB VOC devkit (stable ``sort``)
  do; the devkit's Python port uses an unstable quicksort, whose order among ties is unspecified.
* voc07 and voc12 keep the devkit's floating-point order, so a perfect ranking can give
  1.0000000000000002 or 0.9999999999999999 (voc07 adds 1/11 eleven times); coco's lone hit at rank 1
  gives 0.9999999999999999. Bit-for-bit agreement is the contract, not rounding to 1.
* Interpolated precision at recall r is :math:`P_{interp}(r) = \max\{P_k : R_k \ge r\}` (0 if no
  rank reaches r).
* Input is checked once, at the public function, and errors name the argument: ``TypeError`` for
  ragged sequences and non-numeric labels or scores (strings, None); ``ValueError`` for NaN or
  infinite scores, labels other than 0 and 1, arrays that are not 1-D, labels and scores of
  different lengths, ``n_positives`` below 0 or below the positives listed, and empty input:
  a ranking of nothing has no precision, so an empty ``y_true`` / ``relevance`` raises
  (:func:`interpolated_precision` alone accepts zero points and returns zeros).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from fractions import Fraction
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from handgrad._checks import (
    as_array,
    as_float_array,
    check_bool,
    check_choice,
    check_finite,
    check_ndim,
    check_positive_int,
    check_same_shape,
)
from handgrad.metrics import _average_precision as _ap

__all__ = [
    "COCO_RECALL_LEVELS",
    "VOC07_RECALL_LEVELS",
    "UndefinedMetricWarning",
    "average_precision",
    "average_precision_at_ranks",
    "eleven_point_table",
    "interpolated_precision",
    "mean_average_precision",
    "precision_at_k",
    "precision_recall_at_ranks",
    "precision_recall_curve",
    "recall_at_k",
]

Method = Literal["step", "voc07", "voc12", "coco"]
VOC07_RECALL_LEVELS = _ap.VOC07_RECALL_LEVELS  # (11,) np.arange(0, 1.1, 0.1), the devkit's levels
COCO_RECALL_LEVELS = _ap.COCO_RECALL_LEVELS  # (101,) np.linspace(0, 1, 101), pycocotools' recThrs
METHODS = ("step", "voc07", "voc12", "coco")


class UndefinedMetricWarning(UserWarning):
    """A metric is undefined for this input (no positives at all); its value is ``nan``."""


# --------------------------------------------------------------------------------------------------
# input checks


def _labels(y: ArrayLike, name: str) -> NDArray[np.bool_]:
    """A non-empty 1-D array of 0/1 (or bool) labels as bool.

    ``TypeError`` for ragged sequences and non-numeric labels (strings, None, objects);
    ``ValueError`` for other shapes, emptiness and values other than 0 and 1.
    """
    arr = as_array(y, name, "a 1-D array of binary labels")
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must hold binary labels (bool or 0/1 numbers); got dtype {arr.dtype}"
        )
    check_ndim(arr, name, 1)
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty; got an array of shape {arr.shape}")
    if arr.dtype == np.bool_:
        return arr
    if arr.dtype.kind in "iu":
        if arr.min() >= 0 and arr.max() <= 1:
            return arr.astype(bool)
    else:
        pos = arr == 1
        if np.count_nonzero(pos) + np.count_nonzero(arr == 0) == arr.size:
            return pos
    bad = int(np.flatnonzero((arr != 0) & (arr != 1))[0])
    raise ValueError(
        f"{name} must hold binary labels (0 or 1, or bool); got {arr[bad].item()!r} at index {bad}"
    )


def _scores(y_score: ArrayLike, name: str) -> NDArray[np.floating]:
    """A 1-D array of finite scores (float32/float64 kept; ints and bools promoted)."""
    score = as_float_array(y_score, name)
    check_ndim(score, name, 1)
    if score.size and not (np.isfinite(score.min()) and np.isfinite(score.max())):
        check_finite(score, name)  # min and max propagate NaN and hold any inf: raises here
    return score


def _n_positives(n_positives: Any, hits: int, name: str = "n_positives") -> int:
    """``n_positives`` (default ``hits``) as an int, at least the number of positives listed."""
    if n_positives is None:
        return hits
    n = check_positive_int(n_positives, name, allow_zero=True)
    if n < hits:
        raise ValueError(
            f"{name} must be at least the number of positives in the list ({hits}); got {n}"
        )
    return n


def _check_unit_interval(x: NDArray[np.floating], name: str) -> None:
    """Raise ``ValueError`` unless every element of finite ``x`` lies in [0, 1]."""
    outside = (x < 0) | (x > 1)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise ValueError(f"{name} must hold values in [0, 1]; got {x[i].item()!r} at index {i}")


def _undefined(what: str, stacklevel: int = 3) -> float:
    warnings.warn(
        f"{what} is undefined without positives (n_positives = 0); returning nan",
        UndefinedMetricWarning,
        stacklevel=stacklevel,
    )
    return float("nan")


# --------------------------------------------------------------------------------------------------
# precision and recall at ranks


def precision_recall_at_ranks(
    relevance: ArrayLike, n_positives: int | None = None, *, exact: bool = False
) -> tuple[Any, Any]:
    r"""Precision and recall after each rank of a ranked list.

    .. math::

        P_k = \frac{h_k}{k}, \qquad R_k = \frac{h_k}{n_{pos}}, \qquad h_k = \sum_{i \le k} rel_i

    Parameters
    ----------
    relevance : array_like of shape (K,)
        0/1 (or bool) relevance of each rank, best rank first.
    n_positives : int, optional
        Positives in the collection (the recall denominator); default: ``sum(relevance)``.
    exact : bool, default False
        Return lists of :class:`fractions.Fraction` instead of float64 arrays.

    Returns
    -------
    precision, recall : ndarray of shape (K,), float64 (or lists of Fraction)
        Element k-1 is the precision (recall) of the top k ranks. Without positives
        (``n_positives == 0``) recall is ``nan`` (``None`` with ``exact``) with an
        :class:`UndefinedMetricWarning`.
    """
    exact = check_bool(exact, "exact")
    rel = _labels(relevance, "relevance")
    hits = np.cumsum(rel, dtype=np.int64)  # (K,) h_k
    n_pos = _n_positives(n_positives, int(hits[-1]))
    if exact:
        precision_f = [Fraction(int(h), k + 1) for k, h in enumerate(hits)]
        if n_pos == 0:
            _undefined("recall")
            return precision_f, [None] * len(precision_f)
        return precision_f, [Fraction(int(h), n_pos) for h in hits]
    precision = hits / np.arange(1, hits.size + 1)  # (K,)
    if n_pos == 0:
        return precision, np.full(hits.size, _undefined("recall"))
    return precision, hits / n_pos


def _check_k(k: Any, size: int) -> int:
    k = check_positive_int(k, "k")
    if k > size:
        raise ValueError(f"k must be at most the length of relevance ({size}); got {k}")
    return k


def precision_at_k(relevance: ArrayLike, k: int) -> float:
    """Precision of the top ``k`` ranks: relevant among them / k (1 <= k <= len(relevance))."""
    rel = _labels(relevance, "relevance")
    k = _check_k(k, rel.size)
    return int(np.count_nonzero(rel[:k])) / k


def recall_at_k(relevance: ArrayLike, k: int, n_positives: int | None = None) -> float:
    """Recall of the top ``k`` ranks: relevant among them / ``n_positives`` (nan if it is 0)."""
    rel = _labels(relevance, "relevance")
    k = _check_k(k, rel.size)
    n_pos = _n_positives(n_positives, int(np.count_nonzero(rel)))
    if n_pos == 0:
        return _undefined("recall")
    return int(np.count_nonzero(rel[:k])) / n_pos


# --------------------------------------------------------------------------------------------------
# interpolated precision


def interpolated_precision(
    precision: ArrayLike, recall: ArrayLike, recall_levels: ArrayLike | None = None
) -> NDArray[np.float64]:
    r"""Interpolated precision :math:`P_{interp}(r) = \max\{P_k : R_k \ge r\}`, 0 if unreached.

    With ``recall_levels=None`` it is evaluated at each point's own recall: the monotone
    (non-increasing in recall) envelope drawn over a precision-recall plot. The points may come in
    any order (rank order or scikit-learn's decreasing recall).

    Parameters
    ----------
    precision, recall : array_like of shape (K,)
        Precision and recall of K operating points, each in [0, 1].
    recall_levels : array_like of shape (L,), optional
        Finite recall levels; default ``recall``. :data:`VOC07_RECALL_LEVELS` and
        :data:`COCO_RECALL_LEVELS` are the levels of the 11-point and 101-point definitions.

    Returns
    -------
    ndarray of shape (L,) (or (K,)), float64
        Without points (K = 0) every level is unreached: zeros of shape (L,) (an empty array
        when ``recall_levels`` is None).
    """
    p = as_float_array(precision, "precision", dtype=np.float64)
    r = as_float_array(recall, "recall", dtype=np.float64)
    check_ndim(p, "precision", 1)
    check_same_shape(p, "precision", r, "recall")
    for arr, name in ((p, "precision"), (r, "recall")):
        check_finite(arr, name)
        _check_unit_interval(arr, name)
    levels = (
        r
        if recall_levels is None
        else as_float_array(recall_levels, "recall_levels", dtype=np.float64)
    )
    check_ndim(levels, "recall_levels", 1)
    check_finite(levels, "recall_levels")
    order = np.argsort(r, kind="stable")  # (K,) by increasing recall
    r_sorted = r[order]  # (K,)
    envelope = np.maximum.accumulate(p[order][::-1])[
        ::-1
    ]  # (K,) max precision at this or more recall
    first = np.searchsorted(r_sorted, levels, side="left")  # (L,) first point with recall >= level
    out = np.zeros(levels.shape)  # (L,)
    reached = first < r.size
    out[reached] = envelope[first[reached]]
    return out


def eleven_point_table(
    relevance: ArrayLike, n_positives: int | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The 11 VOC recall levels and the interpolated precision at each, for a ranked list.

    Returns ``levels, precision`` (11,): ``levels`` is ``np.arange(0, 1.1, 0.1)`` (the devkit's
    levels, quirks included) and
    ``average_precision_at_ranks(relevance, method="voc07", n_positives=n_positives)`` equals
    ``sum(precision[i] / 11)`` summed left to right.
    """
    precision, recall = precision_recall_at_ranks(relevance, n_positives)
    levels = VOC07_RECALL_LEVELS.copy()  # (11,)
    if np.isnan(recall).any():  # no positives: already warned
        return levels, np.full(levels.size, np.nan)
    return levels, interpolated_precision(precision, recall, levels)


# --------------------------------------------------------------------------------------------------
# precision-recall curve and average precision


def precision_recall_curve(
    y_true: ArrayLike, y_score: ArrayLike, *, drop_intermediate: bool = False
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.floating]]:
    """Precision and recall at every distinct score, as scikit-learn's ``precision_recall_curve``.

    Equal to scikit-learn's call with the same arguments, bit for bit (scikit-learn's ``pos_label``
    and ``sample_weight`` are not offered: labels are 0/1 and unweighted).

    Parameters
    ----------
    y_true : array_like of shape (n,)
        Binary labels (0/1 or bool).
    y_score : array_like of shape (n,)
        Finite scores; higher means more likely positive.
    drop_intermediate : bool, default False
        Keep only the first and last threshold of each run of equal true-positive counts (the
        points that shape the plotted curve), as scikit-learn does.

    Returns
    -------
    precision : ndarray of shape (T + 1,), float64
        ``precision[i]`` is the precision of predicting positive when score >= ``thresholds[i]``;
        the last element is 1 and has no threshold.
    recall : ndarray of shape (T + 1,), float64
        Recall at the same thresholds, decreasing; the last element is 0. Without positives the
        first T are 1, as scikit-learn sets them, with an :class:`UndefinedMetricWarning`.
    thresholds : ndarray of shape (T,), the scores' dtype
        The T distinct scores, increasing.
    """
    drop_intermediate = check_bool(drop_intermediate, "drop_intermediate")
    is_pos = _labels(y_true, "y_true")
    score = _scores(y_score, "y_score")
    check_same_shape(is_pos, "y_true", score, "y_score")
    tp, fp, index = _ap.curve_points(is_pos, _ap.descending_keys(score))  # (T,) each
    if drop_intermediate and tp.size > 2:
        keep = np.flatnonzero(np.r_[True, (np.diff(tp[:-1]) != 0) | (np.diff(tp[1:]) != 0), True])
        tp, fp, index = tp[keep], fp[keep], index[keep]
    precision = tp / (tp + fp)  # (T,)
    if tp[-1] == 0:
        warnings.warn(
            "no positives in y_true: recall is undefined and set to 1 at every threshold, "
            "as scikit-learn does",
            UndefinedMetricWarning,
            stacklevel=2,
        )
        recall = np.ones(tp.size)
    else:
        recall = tp / tp[-1]  # (T,)
    return (
        np.concatenate([precision[::-1], [1.0]]),
        np.concatenate([recall[::-1], [0.0]]),
        score[index[::-1]],
    )


def _average_precision(
    is_pos: NDArray[np.bool_], score: NDArray[np.floating], method: str, n_positives: Any
) -> float:
    """AP of validated inputs; ``nan`` (no warning) without positives."""
    hits = int(np.count_nonzero(is_pos))
    n_pos = _n_positives(n_positives, hits)
    if n_pos == 0:
        return float("nan")
    if method == "step":
        tp, fp = _ap.step_points(is_pos, score)
        return _ap.ap_step(tp, fp, n_pos)
    ranks = _ap.hit_ranks(is_pos, score)  # (P,)
    return _RANKED[method](ranks, n_pos)


_RANKED = {"voc07": _ap.ap_voc07, "voc12": _ap.ap_voc12, "coco": _ap.ap_coco}


def average_precision(
    y_true: ArrayLike,
    y_score: ArrayLike,
    *,
    method: Method = "step",
    n_positives: int | None = None,
) -> float:
    r"""Average precision of scored items under one of four definitions (see the module docstring).

    ``"step"``: :math:`\sum_t (R_t - R_{t-1}) P_t` over distinct score thresholds t, equal to
    ``sklearn.metrics.average_precision_score`` to rounding (a few 1e-16, relative). With
    ``n_positives`` the recall steps are taken over ``n_positives``: scikit-learn's AP x hits /
    n_positives. ``"voc07"``, ``"voc12"``, ``"coco"``: interpolated AP on the stable descending
    ranking, equal bit for bit to the VOC devkit's ``voc_ap`` (11-point and all-point) and to
    pycocotools' 101-point AP.

    Parameters
    ----------
    y_true : array_like of shape (n,)
        Binary labels (0/1 or bool).
    y_score : array_like of shape (n,)
        Finite scores; higher ranks first.
    method : {"step", "voc07", "voc12", "coco"}
    n_positives : int, optional
        Positives in the collection, including those never scored (the recall denominator);
        default ``sum(y_true)``.

    Returns
    -------
    float
        AP in [0, 1]; ``nan`` with an :class:`UndefinedMetricWarning` when there are no positives.
    """
    check_choice(method, "method", METHODS)
    is_pos = _labels(y_true, "y_true")
    score = _scores(y_score, "y_score")
    check_same_shape(is_pos, "y_true", score, "y_score")
    ap = _average_precision(is_pos, score, method, n_positives)
    if np.isnan(ap):
        return _undefined("average precision")
    return ap


def average_precision_at_ranks(
    relevance: ArrayLike, *, method: Method = "step", n_positives: int | None = None
) -> float:
    """Average precision of a ranked list (best first, no ties); see :func:`average_precision`.

    Equals ``average_precision(relevance, -np.arange(len(relevance)), method=method,
    n_positives=n_positives)``.
    """
    check_choice(method, "method", METHODS)
    rel = _labels(relevance, "relevance")
    ranks = np.flatnonzero(rel).astype(np.int64)  # (P,)
    n_pos = _n_positives(n_positives, ranks.size)
    if n_pos == 0:
        return _undefined("average precision")
    if method == "step":
        return _ap.ap_step_from_hit_ranks(ranks, n_pos)
    return _RANKED[method](ranks, n_pos)


def _check_per_query(value: Any, name: str, what: str) -> None:
    """Raise ``TypeError`` unless ``value`` is a sequence (list, tuple, array) with one entry per
    query; a string, a number or None is not."""
    if (
        isinstance(value, str | bytes)
        or not hasattr(value, "__len__")
        or (isinstance(value, np.ndarray) and value.ndim == 0)
    ):
        raise TypeError(
            f"{name} must be a sequence of {what}, one per query; got {type(value).__name__} "
            f"{value!r}"[:160]
        )


def mean_average_precision(
    y_trues: Sequence[ArrayLike],
    y_scores: Sequence[ArrayLike],
    *,
    method: Method = "step",
    n_positives: Sequence[int | None] | None = None,
) -> float:
    """Mean over queries of :func:`average_precision` (retrieval mAP).

    Each query q has its labels ``y_trues[q]``, scores ``y_scores[q]`` and, optionally, its own
    ``n_positives[q]`` (``None`` entries default to the positives listed).

    Policy: a query without positives has no AP; it is left out of the mean and one
    :class:`UndefinedMetricWarning` says how many were left out. If no query has positives the
    result is ``nan`` (with the warning).
    """
    check_choice(method, "method", METHODS)
    _check_per_query(y_trues, "y_trues", "label arrays")
    _check_per_query(y_scores, "y_scores", "score arrays")
    if n_positives is not None:
        _check_per_query(n_positives, "n_positives", "counts (int or None)")
    if len(y_trues) != len(y_scores):
        raise ValueError(
            "y_trues and y_scores must hold one entry per query; "
            f"got {len(y_trues)} and {len(y_scores)}"
        )
    if len(y_trues) == 0:
        raise ValueError("y_trues must hold at least one query; got an empty sequence")
    counts: Sequence[int | None] = [None] * len(y_trues) if n_positives is None else n_positives
    if len(counts) != len(y_trues):
        raise ValueError(
            f"n_positives must hold one entry per query ({len(y_trues)}); got {len(counts)}"
        )
    aps = []
    for q, (y, s, n) in enumerate(zip(y_trues, y_scores, counts, strict=True)):
        is_pos = _labels(y, f"y_trues[{q}]")
        score = _scores(s, f"y_scores[{q}]")
        check_same_shape(is_pos, f"y_trues[{q}]", score, f"y_scores[{q}]")
        try:
            aps.append(_average_precision(is_pos, score, method, n))
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"query {q}: {exc}") from None
    values = np.array(aps)  # (Q,)
    defined = ~np.isnan(values)
    skipped = values.size - int(np.count_nonzero(defined))
    if skipped:
        warnings.warn(
            f"{skipped} of {values.size} queries have no positives; they are left out of the mean",
            UndefinedMetricWarning,
            stacklevel=2,
        )
    if skipped == values.size:
        return float("nan")
    return float(np.mean(values[defined]))
