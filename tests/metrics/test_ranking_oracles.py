"""Ranking metrics against their oracles: scikit-learn, the VOC devkit and pycocotools.

The VOC devkit is not packaged, so its Python ``voc_eval`` / ``voc_ap`` are re-expressed below
(loops, verbatim arithmetic); pycocotools' ``accumulate`` is re-expressed for one category and also
run for real on a one-image dataset. Interpolated methods must agree bit for bit (``==``).
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import average_precision_score
from sklearn.metrics import precision_recall_curve as sk_precision_recall_curve

from handgrad.metrics import (
    average_precision,
    average_precision_at_ranks,
    precision_recall_curve,
)
from handgrad.metrics._average_precision import descending_keys, hit_ranks

INTERPOLATED = ["voc07", "voc12", "coco"]
EXTREMES = [1e300, -1e300, 1.0, 1.0 + 2**-52, 1.0 - 2**-53, 0.0, -0.0, 5e-324, -5e-324, 1e-300]


# --- reference implementations (slow, obviously correct) ---------------------------------------


def devkit_rec_prec(y_true, y_score, npos):
    """voc_eval.py after matching: rank by confidence (stable, like MATLAB's sort), cumulate."""
    sorted_ind = np.argsort(-y_score, kind="mergesort")
    nd = len(sorted_ind)
    tp = np.zeros(nd)
    fp = np.zeros(nd)
    for d in range(nd):
        if y_true[sorted_ind[d]]:
            tp[d] = 1.0
        else:
            fp[d] = 1.0
    fp = np.cumsum(fp)
    tp = np.cumsum(tp)
    rec = tp / float(npos)
    prec = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    return rec, prec


def devkit_voc_ap(rec, prec, use_07_metric=False):
    """voc_ap from the VOC devkit's Python port, verbatim."""
    if use_07_metric:
        ap = 0.0
        for t in np.arange(0.0, 1.1, 0.1):
            if np.sum(rec >= t) == 0:
                p = 0
            else:
                p = np.max(prec[rec >= t])
            ap = ap + p / 11.0
    else:
        mrec = np.concatenate(([0.0], rec, [1.0]))
        mpre = np.concatenate(([0.0], prec, [0.0]))
        for i in range(mpre.size - 1, 0, -1):
            mpre[i - 1] = np.maximum(mpre[i - 1], mpre[i])
        i = np.where(mrec[1:] != mrec[:-1])[0]
        ap = np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1])
    return ap


def coco_accumulate_ap(y_true, y_score, npig):
    """COCOeval.accumulate for one category, one area, one IoU threshold, then summarize's mean."""
    rec_thrs = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
    R = len(rec_thrs)
    inds = np.argsort(-y_score, kind="mergesort")
    dtm = np.asarray(y_true, dtype=bool)[inds]
    tps = dtm
    fps = np.logical_not(dtm)
    tp = np.cumsum(tps).astype(dtype=float)
    fp = np.cumsum(fps).astype(dtype=float)
    nd = len(tp)
    rc = tp / npig
    pr = tp / (fp + tp + np.spacing(1))
    q = np.zeros((R,))
    pr = pr.tolist()
    q = q.tolist()
    for i in range(nd - 1, 0, -1):
        if pr[i] > pr[i - 1]:
            pr[i - 1] = pr[i]
    inds = np.searchsorted(rc, rec_thrs, side="left")
    try:
        for ri, pi in enumerate(inds):
            q[ri] = pr[pi]
    except IndexError:
        pass
    s = np.array(q)
    return np.mean(s[s > -1])


def pycocotools_ap(y_true, y_score, npos):
    """Real pycocotools on one image: positives sit exactly on distinct ground-truth boxes."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    quiet = contextlib.redirect_stdout(io.StringIO())
    with quiet:
        gt = COCO()
        gt.dataset = {
            "images": [{"id": 1, "width": 100000, "height": 100000}],
            "categories": [{"id": 1, "name": "thing"}],
            "annotations": [
                {"id": i + 1, "image_id": 1, "category_id": 1, "bbox": [20.0 * i, 0, 10, 10],
                 "area": 100.0, "iscrowd": 0}
                for i in range(npos)
            ],
        }  # fmt: skip
        gt.createIndex()
        dets, j = [], 0
        for i, (y, s) in enumerate(zip(y_true, y_score)):
            box = [20.0 * j, 0, 10, 10] if y else [20.0 * i, 50000, 10, 10]
            j += bool(y)
            dets.append({"image_id": 1, "category_id": 1, "bbox": box, "score": float(s)})
        dt = gt.loadRes(dets)
        ev = COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
    q = ev.eval["precision"][0, :, 0, 0, 2]  # IoU 0.5, all recall levels, the category, "all", 100
    return float(np.mean(q[q > -1]))


# --- strategies ----------------------------------------------------------------------------------


@st.composite
def scored_lists(draw, max_size=60, min_positives=0):
    """(y_true bool (n,), y_score float64 (n,)): random, tied, all-equal or extreme scores."""
    n = draw(st.integers(max(1, min_positives), max_size))
    kind = draw(st.sampled_from(["random", "tied", "equal", "extreme"]))
    if kind == "random":
        elements = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
        score = draw(arrays(np.float64, n, elements=elements))
    elif kind == "tied":
        values = draw(
            st.lists(st.sampled_from([0.1, 0.5, 0.9, -0.0, 0.0, 3.0]), min_size=1, max_size=3)
        )
        score = np.array(
            [
                values[i]
                for i in draw(st.lists(st.integers(0, len(values) - 1), min_size=n, max_size=n))
            ]
        )
    elif kind == "equal":
        score = np.full(n, draw(st.sampled_from([0.0, 0.5, -7.0, 1e300])))
    else:
        score = np.array(draw(st.lists(st.sampled_from(EXTREMES), min_size=n, max_size=n)))
    y = draw(arrays(np.bool_, n))
    if y.sum() < min_positives:
        y[:min_positives] = True
    return y, score


# --- scikit-learn --------------------------------------------------------------------------------


@given(scored_lists(min_positives=1))
def test_step_equals_sklearn(data):
    y, s = data
    ours = average_precision(y, s, method="step")
    theirs = average_precision_score(y.astype(int), s)
    assert ours == pytest.approx(theirs, rel=1e-14, abs=1e-15)


@given(scored_lists(min_positives=1), st.integers(0, 5))
def test_step_with_n_positives_scales_sklearn(data, missing):
    y, s = data
    hits = int(y.sum())
    ours = average_precision(y, s, method="step", n_positives=hits + missing)
    theirs = average_precision_score(y.astype(int), s) * hits / (hits + missing)
    assert ours == pytest.approx(theirs, rel=1e-14, abs=1e-15)


@given(scored_lists(min_positives=1), st.booleans())
def test_precision_recall_curve_equals_sklearn_bit_for_bit(data, drop):
    y, s = data
    for ours, theirs in zip(
        precision_recall_curve(y, s, drop_intermediate=drop),
        sk_precision_recall_curve(y.astype(int), s, drop_intermediate=drop),
    ):
        assert ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours, theirs, strict=True)


def test_large_random_and_tied_equal_sklearn(rng):
    n = 20000
    y = rng.random(n) < 0.2
    for s in (rng.random(n), np.round(rng.random(n), 2), rng.random(n).astype(np.float32)):
        assert average_precision(y, s) == pytest.approx(average_precision_score(y, s), rel=1e-13)
        for ours, theirs in zip(precision_recall_curve(y, s), sk_precision_recall_curve(y, s)):
            np.testing.assert_array_equal(ours, theirs, strict=True)


# --- the VOC devkit and pycocotools, bit for bit -------------------------------------------------


def _references(y, s, npos):
    rec, prec = devkit_rec_prec(y, s, npos)
    return {
        "voc07": float(devkit_voc_ap(rec, prec, use_07_metric=True)),
        "voc12": float(devkit_voc_ap(rec, prec, use_07_metric=False)),
        "coco": float(coco_accumulate_ap(y, s, npos)),
    }


@given(scored_lists(), st.integers(0, 4))
def test_interpolated_equal_references_bit_for_bit(data, missing):
    y, s = data
    npos = int(y.sum()) + missing
    if npos == 0:
        return  # undefined: covered by the policy tests
    refs = _references(y, s, npos)
    for method in INTERPOLATED:
        assert average_precision(y, s, method=method, n_positives=npos) == refs[method], method


def test_interpolated_equal_references_on_large_tied_lists(rng):
    n = 3000
    for s in (rng.random(n), np.round(rng.random(n), 2), rng.integers(0, 3, n).astype(float)):
        y = rng.random(n) < 0.3
        refs = _references(y, s, int(y.sum()) + 7)
        for method in INTERPOLATED:
            assert (
                average_precision(y, s, method=method, n_positives=int(y.sum()) + 7) == refs[method]
            )


@settings(max_examples=25)
@given(scored_lists(max_size=40, min_positives=1), st.integers(0, 3))
def test_coco_equals_pycocotools(data, missing):
    y, s = data
    npos = int(y.sum()) + missing
    assert average_precision(y, s, method="coco", n_positives=npos) == pycocotools_ap(y, s, npos)


def test_coco_equals_pycocotools_worked_example():
    # The seed's list with descending scores: 517/707 (see test_ranking.py).
    y = np.array([1, 1, 0, 0, 0, 1, 1, 0, 0, 1], dtype=bool)
    s = np.arange(10, 0, -1.0)
    assert average_precision(y, s, method="coco") == pycocotools_ap(y, s, 5)


# --- kernels and properties ----------------------------------------------------------------------


@given(scored_lists())
def test_hit_ranks_equal_stable_argsort(data):
    y, s = data
    expected = np.flatnonzero(y[np.argsort(-s, kind="stable")])
    np.testing.assert_array_equal(hit_ranks(y, s), expected)
    s32 = np.clip(s, -3e38, 3e38).astype(np.float32)  # (n,) more ties (and +-0 from denormals)
    expected32 = np.flatnonzero(y[np.argsort(-s32, kind="stable")])
    np.testing.assert_array_equal(hit_ranks(y, s32), expected32)
    np.testing.assert_array_equal(
        np.argsort(descending_keys(s), kind="stable"), np.argsort(-s, kind="stable")
    )


@pytest.mark.parametrize("share", [0.01, 0.3, 1.0])
def test_hit_ranks_repairs_ties_between_classes(rng, share):
    # Distinct positive scores (the sort-and-repair path); a share of negatives copy one of them.
    n_pos, n_neg = 500, 4000
    pos_scores = rng.permutation(n_pos) / 7.0
    neg_scores = rng.random(n_neg) * 100
    copy = rng.random(n_neg) < share
    neg_scores[copy] = rng.choice(pos_scores, int(copy.sum()))
    s = np.r_[pos_scores, neg_scores]
    y = np.r_[np.ones(n_pos, bool), np.zeros(n_neg, bool)]
    perm = rng.permutation(s.size)
    s, y = s[perm], y[perm]
    expected = np.flatnonzero(y[np.argsort(-s, kind="stable")])
    np.testing.assert_array_equal(hit_ranks(y, s), expected)
    np.testing.assert_array_equal(
        hit_ranks(y, s.astype(np.float32)),
        np.flatnonzero(y[np.argsort(-s.astype(np.float32), kind="stable")]),
    )
    refs = _references(y, s, n_pos)
    for method in INTERPOLATED:
        assert average_precision(y, s, method=method) == refs[method]


def test_descending_keys_order_extremes():
    s = np.array([*EXTREMES, -1.0, 2.5, -2.5, np.finfo(np.float64).max, -np.finfo(np.float64).max])
    key = descending_keys(s)
    for i in range(s.size):
        for j in range(s.size):
            assert (key[i] < key[j]) == (s[i] > s[j]) and (key[i] == key[j]) == (s[i] == s[j])
    s32 = s[np.abs(s) < 1e38].astype(np.float32)  # (denormal doubles round to +-0 in float32)
    s32 = np.r_[s32, np.float32(1e-45), np.float32(-1e-45), np.finfo(np.float32).max]
    np.testing.assert_array_equal(
        np.argsort(descending_keys(s32), kind="stable"), np.argsort(-s32, kind="stable")
    )


@given(scored_lists(min_positives=1), st.integers(0, 3))
def test_ap_in_unit_interval(data, missing):
    y, s = data
    for method in ["step", *INTERPOLATED]:
        ap = average_precision(y, s, method=method, n_positives=int(y.sum()) + missing)
        # voc07 adds 1/11 eleven times (1.0000000000000002 at best) and voc12 sums recall steps,
        # both in the devkit's float order, so they may pass 1 by rounding.
        assert 0.0 <= ap <= (1.0 + 1e-15 if method in ("voc07", "voc12") else 1.0)


@given(st.integers(1, 30), st.integers(0, 30))
def test_perfect_ranking(n_pos, n_neg):
    y = np.r_[np.ones(n_pos, bool), np.zeros(n_neg, bool)]
    s = np.r_[np.full(n_pos, 2.0), np.linspace(1, 0, n_neg)]
    assert average_precision(y, s, method="step") == 1.0
    assert average_precision(y, s, method="voc12") == pytest.approx(1.0, abs=1e-15)
    assert average_precision(y, s, method="voc07") == pytest.approx(1.0, abs=2.3e-16)
    # coco: a hit at rank 1 has precision 1/(1 + eps); with a second hit the envelope reaches 1.
    lone = float(np.mean(np.full(101, 1 / (1 + np.spacing(1)))))  # 0.9999999999999999
    assert average_precision(y, s, method="coco") == (1.0 if n_pos > 1 else lone)


@given(scored_lists(min_positives=1), st.randoms(use_true_random=False))
def test_step_ignores_order_among_ties(data, random):
    y, s = data
    perm = list(range(s.size))
    random.shuffle(perm)
    assert average_precision(y, s, method="step") == average_precision(
        y[perm], s[perm], method="step"
    )


@given(arrays(np.bool_, st.integers(1, 50)), st.sampled_from([0.0, 0.3, -1e300]))
def test_constant_score_step_is_positive_fraction(y, value):
    if not y.any():
        return
    ap = average_precision(y, np.full(y.size, value), method="step")
    assert ap == pytest.approx(y.sum() / y.size, rel=1e-15)


@given(arrays(np.bool_, st.integers(1, 50)), st.integers(0, 3))
def test_ranked_list_helper_equals_scored_version(rel, missing):
    npos = int(rel.sum()) + missing
    if npos == 0:
        return
    scores = -np.arange(rel.size, dtype=np.float64)
    for method in INTERPOLATED:
        assert average_precision_at_ranks(
            rel, method=method, n_positives=npos
        ) == average_precision(rel, scores, method=method, n_positives=npos)
    assert average_precision_at_ranks(rel, method="step", n_positives=npos) == pytest.approx(
        average_precision(rel, scores, method="step", n_positives=npos), rel=1e-14
    )


@pytest.mark.parametrize(
    ("y", "s"),
    [
        ([1], [0.5]),
        ([1, 0], [0.0, -0.0]),
        ([0, 1], [1e300, -1e300]),
        ([0, 1, 1], [1.0, 1.0 + 2**-52, 1.0 - 2**-53]),
        ([1, 0, 1, 0], [5e-324, 0.0, -5e-324, 5e-324]),
        ([0, 1, 0, 1, 1], [2.0] * 5),
    ],
)
def test_small_explicit_cases_equal_all_references(y, s):
    y, s = np.array(y, dtype=bool), np.array(s)
    refs = _references(y, s, int(y.sum()))
    for method in INTERPOLATED:
        assert average_precision(y, s, method=method) == refs[method]
    assert average_precision(y, s, method="coco") == pycocotools_ap(y, s, int(y.sum()))
    assert average_precision(y, s) == pytest.approx(average_precision_score(y, s), rel=1e-15)
    for ours, theirs in zip(precision_recall_curve(y, s), sk_precision_recall_curve(y, s)):
        np.testing.assert_array_equal(ours, theirs, strict=True)


def test_holding_is_exact_when_hash_buckets_collide(rng):
    from handgrad.metrics._average_precision import _hash, _holding

    shared = np.unique(
        rng.integers(0, 10**9, 30000) / 7.0
    )  # (S,) about 2**15 values, 2**20 buckets
    bucket = np.sort(_hash(shared, 20))
    assert np.any(bucket[1:] == bucket[:-1])  # some buckets hold two shared values
    score = rng.permutation(np.r_[shared, shared[::3], rng.random(50000) * 1e9 / 7.0])
    index, slot = _holding(score, shared)
    pos = np.minimum(np.searchsorted(shared, score), shared.size - 1)
    expected = np.flatnonzero(shared[pos] == score)
    np.testing.assert_array_equal(index, expected)
    np.testing.assert_array_equal(slot, pos[expected])


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_curve_without_positives_equals_sklearn():
    y_true, y_score = [0, 0, 0, 0], [0.3, 0.1, 0.3, 0.7]
    ours = precision_recall_curve(y_true, y_score)
    theirs = sk_precision_recall_curve(y_true, y_score)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)
