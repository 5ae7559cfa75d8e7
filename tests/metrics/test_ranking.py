"""Ranking metrics: worked examples, conventions, the no-positive policy and bad input."""

from __future__ import annotations

import warnings
from fractions import Fraction

import numpy as np
import pytest

from handgrad.metrics import (
    COCO_RECALL_LEVELS,
    VOC07_RECALL_LEVELS,
    UndefinedMetricWarning,
    average_precision,
    average_precision_at_ranks,
    eleven_point_table,
    interpolated_precision,
    mean_average_precision,
    precision_at_k,
    precision_recall_at_ranks,
    precision_recall_curve,
    recall_at_k,
)

METHODS = ["step", "voc07", "voc12", "coco"]
SEED = [1, 1, 0, 0, 0, 1, 1, 0, 0, 1]  # ASSIGNMENT.md Q2: hits at ranks 1, 2, 6, 7, 10; 5 positives


# --- the seed (ASSIGNMENT.md Q2) ---------------------------------------------------------------


def test_seed_rank_table_exact():
    precision, recall = precision_recall_at_ranks(SEED, n_positives=5, exact=True)
    # hits after each rank: 1 2 2 2 2 3 4 4 4 5; precision = hits / rank, recall = hits / 5
    assert precision == [
        Fraction(1), Fraction(1), Fraction(2, 3), Fraction(2, 4), Fraction(2, 5),
        Fraction(3, 6), Fraction(4, 7), Fraction(4, 8), Fraction(4, 9), Fraction(5, 10),
    ]  # fmt: skip
    assert recall == [Fraction(h, 5) for h in (1, 2, 2, 2, 2, 3, 4, 4, 4, 5)]
    p, r = precision_recall_at_ranks(SEED, n_positives=5)
    assert p.dtype == np.float64 and r.dtype == np.float64
    assert p.tolist() == [float(v) for v in precision]  # a / b correctly rounded, bit for bit
    assert r.tolist() == [0.2, 0.4, 0.4, 0.4, 0.4, 0.6, 0.8, 0.8, 0.8, 1.0]


def test_seed_eleven_point_table_and_voc07():
    levels, p = eleven_point_table(SEED, n_positives=5)
    assert levels.tolist() == np.arange(0, 1.1, 0.1).tolist()
    # r = 0 .. 0.4 -> 1 (ranks 1, 2); r = 0.5 .. 0.8 -> 4/7 (rank 7); r = 0.9, 1 -> 1/2 (rank 10)
    assert p.tolist() == [1.0] * 5 + [4 / 7] * 4 + [0.5] * 2
    ap = average_precision_at_ranks(SEED, method="voc07", n_positives=5)
    expected = 0.0
    for v in p:  # the devkit's left-to-right sum of p / 11
        expected = expected + v / 11.0
    assert ap == expected
    # (5 * 1 + 4 * 4/7 + 2 * 1/2) / 11 = (6 + 16/7) / 11 = 58/77 = 0.753246...
    assert ap == pytest.approx(58 / 77, rel=1e-15)
    assert round(ap, 5) == 0.75325


def test_seed_every_definition():
    scores = np.arange(10, 0, -1.0)  # distinct, descending: the list's own order
    ap = {m: average_precision(SEED, scores, method=m, n_positives=5) for m in METHODS}
    # step: (1 + 1 + 3/6 + 4/7 + 5/10) / 5 = 5/7
    assert ap["step"] == pytest.approx(5 / 7, rel=1e-15)
    # voc12: 0.4 * 1 + 0.4 * 4/7 + 0.2 * 1/2 = 51/70
    assert ap["voc12"] == pytest.approx(51 / 70, rel=1e-15)
    # coco: 41 levels (0 .. 0.40) at 1, 40 levels (0.41 .. 0.80) at 4/7, 20 (0.81 .. 1) at 1/2
    assert ap["coco"] == pytest.approx((41 + 40 * 4 / 7 + 20 / 2) / 101, rel=1e-15)
    assert ap["voc07"] == pytest.approx(58 / 77, rel=1e-15)
    for m in METHODS:
        assert average_precision_at_ranks(SEED, method=m, n_positives=5) == pytest.approx(
            ap[m], rel=1e-15
        )


def test_precision_and_recall_at_k():
    assert precision_at_k(SEED, 1) == 1.0
    assert precision_at_k(SEED, 7) == 4 / 7  # hits at 1, 2, 6, 7
    assert recall_at_k(SEED, 7, n_positives=8) == 4 / 8
    assert recall_at_k(SEED, 10) == 1.0  # default n_positives: the 5 listed
    with pytest.raises(ValueError, match="k must be at most the length of relevance"):
        precision_at_k(SEED, 11)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        recall_at_k(SEED, 0)


# --- documented quirks ---------------------------------------------------------------------------


def test_voc07_level_point_three_is_above_three_tenths():
    # 10 positives; hits at ranks 1, 2, 3 (recall 0.3 at precision 1), then the 4th at rank 8.
    rel = [1, 1, 1, 0, 0, 0, 0, 1]
    levels, p = eleven_point_table(rel, n_positives=10)
    assert levels[3] == 0.30000000000000004 and 3 / 10 < levels[3]
    # Level "0.3" is not reached by recall 3/10, so it reads the 4th hit: 4/8, not 1.
    assert p.tolist() == [1.0, 1.0, 1.0, 0.5, 0.5] + [0.0] * 6
    ap = average_precision_at_ranks(rel, method="voc07", n_positives=10)
    assert ap == pytest.approx((3 + 2 * 0.5) / 11, rel=1e-15)


def test_recall_levels_are_the_references_arrays():
    assert VOC07_RECALL_LEVELS.tolist() == np.arange(0.0, 1.1, 0.1).tolist()
    assert VOC07_RECALL_LEVELS[[3, 6, 7]].tolist() == [
        0.30000000000000004, 0.6000000000000001, 0.7000000000000001,
    ]  # fmt: skip
    assert COCO_RECALL_LEVELS.tolist() == np.linspace(0.0, 1.0, 101).tolist()
    assert COCO_RECALL_LEVELS[7] == 0.07000000000000001  # i * 0.01, not the decimal 0.07


def test_coco_precision_at_rank_one_carries_eps():
    # pycocotools: pr = tp / (tp + fp + eps), so a lone hit at rank 1 has 1 / (1 + 2**-52) < 1.
    ap = average_precision([1, 0], [0.9, 0.1], method="coco")
    assert ap == float(np.mean(np.full(101, 1 / (1 + np.spacing(1)))))
    assert ap < 1.0 and ap == pytest.approx(1.0, abs=1e-15)
    # With a second hit at rank 2 the envelope is max(1/(1+eps), 2/2) = 1 everywhere.
    assert average_precision([1, 1, 0], [0.9, 0.8, 0.1], method="coco") == 1.0


def test_interpolated_methods_keep_input_order_among_ties():
    # All scores equal: the ranking is the input order (stable), step sees one threshold.
    y = [0, 1, 1, 0]
    s = [0.5] * 4
    # ranking 0 1 1 0: hits at ranks 2 and 3, precision 1/2 and 2/3 -> envelope 2/3 at both
    assert average_precision(y, s, method="voc12") == pytest.approx(2 / 3, rel=1e-15)
    assert average_precision([1, 1, 0, 0], s, method="voc12") == 1.0
    # step: one threshold, recall 0 -> 1 at precision 2/4
    assert average_precision(y, s, method="step") == 0.5
    assert average_precision([1, 1, 0, 0], s, method="step") == 0.5


def test_negative_zero_ties_with_zero():
    # -0.0 == 0.0: a tie, so input order decides (the negative comes first here).
    assert average_precision([0, 1], [-0.0, 0.0], method="voc12") == 0.5
    assert average_precision([0, 1], [0.0, -0.0], method="voc12") == 0.5
    assert average_precision([0, 1], [-1e-300, 0.0], method="voc12") == 1.0


# --- interpolated precision ----------------------------------------------------------------------


def _slow_interpolated(p, r, levels):
    return [max((pi for pi, ri in zip(p, r) if ri >= lv), default=0.0) for lv in levels]


def test_interpolated_precision_matches_definition(rng):
    for _ in range(20):
        n = int(rng.integers(1, 30))
        p = rng.choice([0.0, 0.25, 0.5, 1.0, 1 / 3], size=n)
        r = rng.choice([0.0, 0.2, 0.5, 0.7, 1.0], size=n)
        levels = np.concatenate([r, rng.random(5), [0.0, 1.0, 1.5]])
        assert interpolated_precision(p, r, levels).tolist() == _slow_interpolated(p, r, levels)
        env = interpolated_precision(p, r)
        assert env.tolist() == _slow_interpolated(p, r, r)
        order = np.argsort(r, kind="stable")
        assert np.all(np.diff(env[order]) <= 0)  # non-increasing in recall
        assert np.all(env >= p)


def test_interpolated_precision_envelope_of_sklearn_order():
    precision, recall, _ = precision_recall_curve([0, 1, 1, 0, 1], [0.1, 0.4, 0.35, 0.8, 0.9])
    env = interpolated_precision(precision, recall)
    assert env.tolist() == _slow_interpolated(precision, recall, recall)


# --- the no-positive policy ----------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_no_positives_is_nan_with_warning(method):
    with pytest.warns(UndefinedMetricWarning, match="undefined without positives"):
        assert np.isnan(average_precision([0, 0, 0], [0.3, 0.2, 0.1], method=method))
    with pytest.warns(UndefinedMetricWarning):
        assert np.isnan(average_precision_at_ranks([0, 0], method=method, n_positives=0))


@pytest.mark.parametrize("method", METHODS)
def test_positives_never_retrieved_give_zero_without_warning(method):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert average_precision([0, 0], [0.3, 0.2], method=method, n_positives=4) == 0.0


def test_no_positives_in_rank_table_and_curve():
    with pytest.warns(UndefinedMetricWarning):
        p, r = precision_recall_at_ranks([0, 0, 0])
    assert p.tolist() == [0.0, 0.0, 0.0] and np.isnan(r).all()
    with pytest.warns(UndefinedMetricWarning):
        p_exact, r_exact = precision_recall_at_ranks([0, 0], exact=True)
    assert p_exact == [Fraction(0), Fraction(0)] and r_exact == [None, None]
    with pytest.warns(UndefinedMetricWarning):
        assert np.isnan(recall_at_k([0, 0], 1))
    with pytest.warns(UndefinedMetricWarning):
        precision, recall, thresholds = precision_recall_curve([0, 0], [0.1, 0.2])
    # scikit-learn's convention: recall 1 at every threshold, then the final 0.
    assert precision.tolist() == [0.0, 0.0, 1.0] and recall.tolist() == [1.0, 1.0, 0.0]
    assert thresholds.tolist() == [0.1, 0.2]
    with pytest.warns(UndefinedMetricWarning):
        _levels, p11 = eleven_point_table([0, 0])
    assert np.isnan(p11).all()


def test_mean_average_precision_skips_queries_without_positives():
    y = [[1, 0, 1], [0, 0], [0, 1]]
    s = [[0.9, 0.8, 0.1], [0.5, 0.4], [0.3, 0.7]]
    # query 0: hits at ranks 1, 3 -> (1 + 2/3) / 2 = 5/6; query 1 skipped; query 2: 1
    with pytest.warns(UndefinedMetricWarning, match="1 of 3 queries"):
        m = mean_average_precision(y, s)
    assert m == pytest.approx((5 / 6 + 1) / 2, rel=1e-15)
    # each query its own n_positives: query 0 has 4 positives, query 1 has 2 (none retrieved)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = mean_average_precision(y, s, method="voc12", n_positives=[4, 2, None])
    assert m == pytest.approx((1 / 4 + 2 / 3 / 4 + 0 + 1) / 3, rel=1e-15)
    with pytest.warns(UndefinedMetricWarning, match="2 of 2"):
        assert np.isnan(mean_average_precision([[0], [0, 0]], [[1.0], [2.0, 3.0]]))


def test_mean_average_precision_equals_mean_of_queries(rng):
    ys = [rng.random(int(rng.integers(1, 40))) < 0.4 for _ in range(8)]
    ys = [np.append(y, True) for y in ys]
    ss = [rng.random(y.size) for y in ys]
    for method in METHODS:
        each = [average_precision(y, s, method=method) for y, s in zip(ys, ss)]
        assert mean_average_precision(ys, ss, method=method) == float(np.mean(each))


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("y_true", "y_score", "error", "match"),
    [
        ([0, 1], [0.1, np.nan], ValueError, r"y_score must be finite .* nan at index \(1,\)"),
        ([0, 1], [np.inf, 0.1], ValueError, r"y_score must be finite .* inf at index \(0,\)"),
        ([0, 1], [0.1, -np.inf], ValueError, "y_score must be finite"),
        ([0, 2], [0.1, 0.2], ValueError, "y_true must hold binary labels .* got 2 at index 1"),
        ([0, -1], [0.1, 0.2], ValueError, "y_true must hold binary labels"),
        ([0, 0.5], [0.1, 0.2], ValueError, "y_true must hold binary labels .* 0.5 at index 1"),
        (["a", "b"], [0.1, 0.2], TypeError, "y_true must hold binary labels"),
        ([0, 1], ["a", "b"], TypeError, "y_score must be a real numeric array"),
        ([0, 1, 1], [0.1, 0.2], ValueError, r"y_true and y_score must have the same shape"),
        ([], [], ValueError, "y_true must not be empty"),
        ([[0, 1]], [[0.1, 0.2]], ValueError, "y_true must be 1-D"),
        ([0, 1], [[0.1, 0.2]], ValueError, "y_score must be 1-D"),
    ],
)
def test_bad_input_names_the_argument(y_true, y_score, error, match):
    with pytest.raises(error, match=match):
        average_precision(y_true, y_score)
    with pytest.raises(error, match=match):
        precision_recall_curve(y_true, y_score)


def test_bad_n_positives_and_method():
    with pytest.raises(ValueError, match=r"n_positives must be at least .* \(2\); got 1"):
        average_precision([1, 1, 0], [0.3, 0.2, 0.1], method="voc07", n_positives=1)
    with pytest.raises(ValueError, match="n_positives must be a non-negative integer; got -1"):
        average_precision([0, 0], [0.3, 0.2], n_positives=-1)
    with pytest.raises(TypeError, match="n_positives must be an integer"):
        average_precision([1, 0], [0.3, 0.2], n_positives=2.5)
    with pytest.raises(ValueError, match="method must be one of 'step', 'voc07', 'voc12', 'coco'"):
        average_precision([1, 0], [0.3, 0.2], method="11point")
    with pytest.raises(ValueError, match="n_positives must be at least"):
        precision_recall_at_ranks([1, 1], n_positives=1)
    with pytest.raises(ValueError, match="relevance must not be empty"):
        precision_recall_at_ranks([])
    with pytest.raises(ValueError, match="relevance must hold binary labels"):
        average_precision_at_ranks([1, 3])


def test_bad_input_to_mean_and_interpolation():
    with pytest.raises(ValueError, match="one entry per query; got 2 and 1"):
        mean_average_precision([[1], [0]], [[0.5]])
    with pytest.raises(ValueError, match="at least one query"):
        mean_average_precision([], [])
    with pytest.raises(ValueError, match=r"n_positives must hold one entry per query \(1\)"):
        mean_average_precision([[1]], [[0.5]], n_positives=[1, 2])
    with pytest.raises(ValueError, match=r"y_scores\[1\] must be finite"):
        mean_average_precision([[1], [0, 1]], [[0.5], [0.1, np.nan]])
    with pytest.raises(ValueError, match=r"query 0: n_positives must be at least"):
        mean_average_precision([[1, 1]], [[0.5, 0.4]], n_positives=[1])
    with pytest.raises(ValueError, match="precision and recall must have the same shape"):
        interpolated_precision([1.0, 0.5], [0.5])
    with pytest.raises(ValueError, match="recall must be finite"):
        interpolated_precision([1.0], [np.nan])


# --- dtypes --------------------------------------------------------------------------------------


def test_dtypes(rng):
    y = rng.random(200) < 0.3
    s32 = rng.random(200).astype(np.float32)
    for method in METHODS:
        a32 = average_precision(y, s32, method=method)
        assert isinstance(a32, float)
        assert a32 == average_precision(y.astype(np.int64), s32.astype(np.float64), method=method)
        assert a32 == average_precision(y.astype(np.float32), s32, method=method)
    precision, recall, thresholds = precision_recall_curve(y, s32)
    assert precision.dtype == np.float64 and recall.dtype == np.float64
    assert thresholds.dtype == np.float32
    assert average_precision([True, False], [1, 0]) == 1.0  # ints and bools are promoted


def test_recall_levels_are_read_only():
    with pytest.raises(ValueError, match="read-only"):
        VOC07_RECALL_LEVELS[0] = 0.5
    with pytest.raises(ValueError, match="read-only"):
        COCO_RECALL_LEVELS[0] = 0.5


def test_unusual_array_layouts_and_dtypes(rng):
    y = rng.random(300) < 0.3
    s = rng.random(300)
    for method in METHODS:
        ap = average_precision(y, s, method=method)
        assert average_precision(y.astype(">i8"), s.astype(">f8"), method=method) == ap
        frozen = s.copy()
        frozen.flags.writeable = False
        assert average_precision(y, frozen, method=method) == ap
        strided = average_precision(y[::-2], s[::-2], method=method)
        assert strided == average_precision(y[::-2].copy(), s[::-2].copy(), method=method)
        assert average_precision(list(y), list(s), method=method) == ap
        half = s.astype(np.float16)
        assert average_precision(y, half, method=method) == average_precision(
            y, half.astype(np.float64), method=method
        )


def test_mean_average_precision_accepts_a_query_matrix(rng):
    y = rng.random((4, 25)) < 0.4  # (Q, n): one row per query
    y[:, 0] = True
    s = rng.random((4, 25))
    for method in METHODS:
        each = [average_precision(y[q], s[q], method=method) for q in range(4)]
        assert mean_average_precision(y, s, method=method) == float(np.mean(each))
