"""COCO evaluation: equality with pycocotools and with a slow, plain reference of its rules."""

from __future__ import annotations

import contextlib
import copy
import io

import numpy as np
import pytest
from benchmarks.coco_synth import make_coco
from hypothesis import given, settings
from hypothesis import strategies as st

from handgrad.metrics import STAT_NAMES, DetectionEvalWarning, coco_evaluate, coco_evaluation

pycocotools = pytest.importorskip("pycocotools")
from pycocotools.coco import COCO  # noqa: E402
from pycocotools.cocoeval import COCOeval  # noqa: E402

PY_NAMES = {
    "iou_thrs": "iouThrs",
    "rec_thrs": "recThrs",
    "max_dets": "maxDets",
    "area_rng": "areaRng",
    "area_rng_lbl": "areaRngLbl",
    "img_ids": "imgIds",
    "cat_ids": "catIds",
}


def pycoco(gt, dets, **params):
    """pycocotools' COCOeval(bbox) on deep copies (it mutates its inputs), quietly."""
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(copy.deepcopy(dets))
        ev = COCOeval(coco_gt, coco_dt, "bbox")
        for key, value in params.items():
            setattr(ev.params, PY_NAMES[key], value)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def assert_same(ours, ev):
    """Arrays bit for bit, summary to 1e-12."""
    np.testing.assert_array_equal(ours.precision, ev.eval["precision"])
    np.testing.assert_array_equal(ours.recall, ev.eval["recall"])
    np.testing.assert_array_equal(ours.scores, ev.eval["scores"])
    stats = ours.stats
    np.testing.assert_allclose([stats[k] for k in STAT_NAMES], ev.stats, rtol=0, atol=1e-12)


# ---------------------------------------------------------------- a slow, plain reference


def reference_coco(gt, dets, max_dets=(1, 10, 100)):
    """COCO bbox evaluation written from the rules, loop by loop (default thresholds/areas).

    Returns the (T, R, K, A, M) precision and (T, K, A, M) recall arrays.
    """
    iou_thrs = np.linspace(0.5, 0.95, 10)
    rec_thrs = np.linspace(0, 1, 101)
    areas = [(0, 1e10), (0, 32**2), (32**2, 96**2), (96**2, 1e10)]
    img_ids = sorted({im["id"] for im in gt["images"]})
    cat_ids = sorted({c["id"] for c in gt["categories"]})
    T, R, K, A, M = len(iou_thrs), len(rec_thrs), len(cat_ids), len(areas), len(max_dets)
    precision = -np.ones((T, R, K, A, M))
    recall = -np.ones((T, K, A, M))

    def iou(d, g, crowd):
        w = min(d[0] + d[2], g[0] + g[2]) - max(d[0], g[0])
        h = min(d[1] + d[3], g[1] + g[3]) - max(d[1], g[1])
        if w <= 0 or h <= 0:
            return 0.0
        inter = w * h
        union = d[2] * d[3] if crowd else d[2] * d[3] + g[2] * g[3] - inter
        return inter / union

    for k, cat in enumerate(cat_ids):
        for a, (lo, hi) in enumerate(areas):
            # per image: match the top detections, then pool
            pooled = []  # (score, image, rank, tp flags, fp flags)
            npos = 0
            for img in img_ids:
                g_all = [
                    g for g in gt["annotations"] if g["image_id"] == img and g["category_id"] == cat
                ]
                ignore = [bool(g.get("iscrowd", 0)) or not (lo <= g["area"] <= hi) for g in g_all]
                npos += sum(not i for i in ignore)
                d_all = [d for d in dets if d["image_id"] == img and d["category_id"] == cat]
                d_all = sorted(d_all, key=lambda d: -d["score"])[: max(max_dets)]  # stable
                taken = np.zeros((T, len(g_all)), bool)
                for r, d in enumerate(d_all):
                    tps, fps = [], []
                    for t, thr in enumerate(iou_thrs):
                        best, best_iou = None, min(thr, 1 - 1e-10)
                        for want_ignored in (False, True):  # regular boxes first
                            for gi, g in enumerate(g_all):
                                if ignore[gi] != want_ignored:
                                    continue
                                crowd = bool(g.get("iscrowd", 0))
                                if taken[t, gi] and not crowd:
                                    continue
                                v = iou(d["bbox"], g["bbox"], crowd)
                                if v >= best_iou:  # ties: the last box wins
                                    best, best_iou = gi, v
                            if best is not None:
                                break
                        area = d["bbox"][2] * d["bbox"][3]
                        if best is None:
                            ignored = not (lo <= area <= hi)
                            tps.append(False)
                            fps.append(not ignored)
                            continue
                        taken[t, best] = True
                        if ignore[best]:
                            tps.append(False)
                            fps.append(False)
                        else:
                            tps.append(True)
                            fps.append(False)
                    pooled.append((d["score"], img, r, tps, fps))
            if npos == 0:
                continue
            for m, md in enumerate(max_dets):
                rows = sorted((p for p in pooled if p[2] < md), key=lambda p: (-p[0], p[1], p[2]))
                for t in range(T):
                    tp = np.cumsum([p[3][t] for p in rows]).astype(float)
                    fp = np.cumsum([p[4][t] for p in rows]).astype(float)
                    rc = tp / npos
                    pr = tp / (fp + tp + np.spacing(1))
                    recall[t, k, a, m] = rc[-1] if len(rows) else 0
                    for ri, r in enumerate(rec_thrs):
                        above = np.flatnonzero(rc >= r)
                        if above.size == 0:
                            precision[t, ri:, k, a, m] = 0
                            break
                        precision[t, ri, k, a, m] = pr[above[0] :].max()
    return precision, recall


# ---------------------------------------------------------------- data


def small_coco(draw_boxes, draw_dets, n_cats=2):
    """A COCO dict and result list from drawn tuples (image, category, x, y, w, h[, crowd])."""
    images = [{"id": i} for i in range(1, 5)]
    cats = [{"id": c, "name": f"c{c}"} for c in range(1, n_cats + 1)]
    anns = []
    for n, (img, cat, x, y, w, h, crowd, area_scale) in enumerate(draw_boxes):
        anns.append(
            {
                "id": n + 1,
                "image_id": img,
                "category_id": cat,
                "bbox": [x, y, w, h],
                "area": w * h * area_scale,
                "iscrowd": crowd,
            }
        )
    dets = [
        {"image_id": img, "category_id": cat, "bbox": [x, y, w, h], "score": s}
        for img, cat, x, y, w, h, s in draw_dets
    ]
    return {"images": images, "annotations": anns, "categories": cats}, dets


coord = st.sampled_from([0.0, 10.0, 20.0, 30.0, 45.0, 60.0, 100.0])
size = st.sampled_from([0.0, 5.0, 10.0, 20.0, 40.0, 80.0, 130.0])
box = (st.integers(1, 4), st.integers(1, 2), coord, coord, size, size)  # image, category, xywh
gt_box = st.tuples(*box, st.sampled_from([0, 0, 0, 1]), st.sampled_from([0.5, 1.0, 1.0, 3.0]))
det_box = st.tuples(*box, st.sampled_from([0.1, 0.5, 0.5, 0.7, 0.9, 1.0]))


@settings(max_examples=40)
@given(st.lists(gt_box, max_size=12), st.lists(det_box, min_size=1, max_size=25))
def test_equals_pycocotools_random_tied(boxes, detections):
    gt, dets = small_coco(boxes, detections)
    assert_same(coco_evaluation(gt, dets), pycoco(gt, dets))


@settings(max_examples=25)
@given(
    st.lists(gt_box, max_size=10),
    st.lists(det_box, min_size=1, max_size=20),
    st.lists(st.integers(1, 5), min_size=3, max_size=4, unique=True),
)
def test_equals_pycocotools_small_max_dets(boxes, detections, max_dets):
    gt, dets = small_coco(boxes, detections)
    ours = coco_evaluation(gt, dets, max_dets=max_dets)
    assert_same(ours, pycoco(gt, dets, max_dets=sorted(max_dets)))


@settings(max_examples=25)
@given(st.lists(gt_box, max_size=10), st.lists(det_box, min_size=1, max_size=20))
def test_equals_reference_rules(boxes, detections):
    gt, dets = small_coco(boxes, detections)
    ours = coco_evaluation(gt, dets, max_dets=[1, 2, 100])
    precision, recall = reference_coco(gt, dets, max_dets=(1, 2, 100))
    np.testing.assert_array_equal(ours.precision, precision)
    np.testing.assert_array_equal(ours.recall, recall)


@pytest.mark.parametrize("seed", [0, 1])
def test_equals_pycocotools_synthetic(seed):
    gt, dets = make_coco(40, n_categories=6, dets_per_image=30, seed=seed)
    assert_same(coco_evaluation(gt, dets), pycoco(gt, dets))


def test_equals_pycocotools_with_parameter_overrides():
    gt, dets = make_coco(30, n_categories=5, dets_per_image=25, seed=3)
    params = {
        "iou_thrs": np.array([0.3, 0.5, 0.75, 1.0]),
        "rec_thrs": np.array([0.0, 0.2, 0.25, 0.9, 1.0]),
        "max_dets": [2, 5, 20, 100],
        "area_rng": [[0, 1e10], [0, 500.0], [500.0, 5000.0], [5000.0, 1e10]],
        "img_ids": [3, 5, 7, 9, 11, 30, 400],
        "cat_ids": [1, 2, 4, 77],
    }
    assert_same(coco_evaluation(gt, dets, **params), pycoco(gt, dets, **params))


def test_unsorted_recall_thresholds_follow_pycocotools():
    # pycocotools fills precision until the first recall level past the last detection,
    # in the order given: an unsorted grid leaves zeros after that point
    gt, dets = make_coco(20, n_categories=3, dets_per_image=10, seed=4)
    rec = np.array([0.9, 0.1, 1.0, 0.0, 0.5])
    assert_same(coco_evaluation(gt, dets, rec_thrs=rec), pycoco(gt, dets, rec_thrs=rec))


def test_worked_example_one_image():
    # one box [0, 0, 10, 10]; detections: a perfect one (score 0.9) and a shifted one with
    # IoU 50 / 150 = 1/3 (score 0.8). At every threshold: TP then FP, so precision is 1 up to
    # recall 1: AP = 1 / (1 + spacing(1)) (pycocotools' denominator), AR = 1. Area 100 < 32**2:
    # small, so AP_small equals AP and the medium and large ranges have nothing (-1).
    gt = {
        "images": [{"id": 1}],
        "categories": [{"id": 1}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100}
        ],
    }
    dets = [
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9},
        {"image_id": 1, "category_id": 1, "bbox": [5, 0, 10, 10], "score": 0.8},
    ]
    stats = coco_evaluate(gt, dets)
    assert stats["AP"] == 1 / (1 + np.spacing(1)) == stats["AP_small"]
    assert stats["AR1"] == 1.0
    assert stats["AP_medium"] == -1.0 and stats["AP_large"] == -1.0  # nothing defined
    # reversed scores: FP first, TP second: precision 1 / (2 + spacing(1)) = 1/2 exactly in
    # float64 at every recall level
    dets[0]["score"], dets[1]["score"] = 0.8, 0.9
    stats = coco_evaluate(gt, dets)
    assert stats["AP"] == 0.5
    assert stats["AR1"] == 0.0 and stats["AR10"] == 1.0


def test_empty_detections_give_zero_where_defined():
    gt, _ = make_coco(10, n_categories=3, seed=5)
    stats = coco_evaluate(gt, [])
    assert stats["AP"] == 0.0 and stats["AR100"] == 0.0
    ev = coco_evaluation(gt, [])
    assert set(np.unique(ev.precision)) <= {-1.0, 0.0}


def test_no_ground_truth_gives_minus_one_like_pycocotools():
    gt = {"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": []}
    dets = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 3, 3], "score": 0.5}]
    ours = coco_evaluation(gt, dets)
    assert_same(ours, pycoco(gt, dets))
    assert all(v == -1.0 for v in ours.stats.values())
    assert np.isnan(ours.per_category_ap).all()


def test_crowd_absorbs_many_detections():
    # a crowd box [0, 0, 100, 100]; three detections inside it (IoU = inter / det area = 1)
    # are ignored; one regular box elsewhere is found by the lowest-scored detection
    gt = {
        "images": [{"id": 1}],
        "categories": [{"id": 1}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "bbox": [0, 0, 100, 100],
                "area": 1e4,
                "iscrowd": 1,
            },
            {
                "id": 2,
                "image_id": 1,
                "category_id": 1,
                "bbox": [200, 200, 20, 20],
                "area": 400,
                "iscrowd": 0,
            },
        ],
    }
    dets = [
        {"image_id": 1, "category_id": 1, "bbox": [10 * i, 10, 20, 20], "score": 0.9 - 0.1 * i}
        for i in range(3)
    ] + [{"image_id": 1, "category_id": 1, "bbox": [200, 200, 20, 20], "score": 0.1}]
    ours = coco_evaluation(gt, dets)
    assert_same(ours, pycoco(gt, dets))
    # the crowd detections are neither TP nor FP: precision 1 / (1 + spacing(1)) throughout
    assert ours.stats["AP"] == 1 / (1 + np.spacing(1))


def test_per_category_ap_is_mean_over_thresholds_and_recalls():
    gt, dets = make_coco(25, n_categories=4, dets_per_image=20, seed=6)
    ev = pycoco(gt, dets)
    ours = coco_evaluation(gt, dets)
    for k in range(4):
        s = ev.eval["precision"][:, :, k, 0, -1]
        want = s[s > -1].mean() if (s > -1).any() else np.nan
        np.testing.assert_allclose(ours.per_category_ap[k], want, rtol=1e-14)
    np.testing.assert_allclose(np.nanmean(ours.per_category_ap), ours.stats["AP"], rtol=1e-12)


@settings(max_examples=20)
@given(
    st.lists(gt_box, max_size=10),
    st.lists(det_box, min_size=1, max_size=20),
    st.lists(st.sampled_from([0.0, 0.1, 0.3, 0.5, 0.75, 0.9, 1.0]), min_size=1, max_size=4),
    st.lists(st.sampled_from([0.0, 0.05, 0.33, 0.5, 0.99, 1.0]), min_size=1, max_size=5),
)
def test_equals_pycocotools_random_thresholds(boxes, detections, iou_thrs, rec_thrs):
    gt, dets = small_coco(boxes, detections)
    params = {"iou_thrs": np.array(iou_thrs), "rec_thrs": np.array(rec_thrs)}
    assert_same(coco_evaluation(gt, dets, **params), pycoco(gt, dets, **params))


def test_no_categories_and_no_images():
    gt = {"images": [{"id": 1}], "categories": [], "annotations": []}
    ours = coco_evaluation(gt, [])
    assert ours.precision.shape == (10, 101, 0, 4, 3)
    assert all(v == -1.0 for v in ours.stats.values())
    gt = {"images": [], "categories": [{"id": 1}], "annotations": []}
    assert all(v == -1.0 for v in coco_evaluate(gt, []).values())


def test_adversarial_ties_and_bucket_sizes(rng):
    # image i holds i identical boxes (i = 1..40, so groups fall in every power-of-two bucket),
    # a few crowd boxes and out-of-range areas; detections: many identical copies with tied
    # scores, more than max_dets, plus boxes half-overlapping (IoU 1/3)
    images = [{"id": i} for i in range(1, 41)]
    anns, dets = [], []
    for i in range(1, 41):
        for j in range(i):
            crowd = int(j % 7 == 3)
            area = [400.0, 5000.0, 1e5][j % 3]
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": i,
                    "category_id": 1 + j % 2,
                    "bbox": [10.0, 10.0, 20.0, 20.0],
                    "area": area,
                    "iscrowd": crowd,
                }
            )
        for j in range(int(rng.integers(1, 130))):
            shift = 10.0 * (j % 2)
            dets.append(
                {
                    "image_id": i,
                    "category_id": 1 + j % 2,
                    "bbox": [10.0 + shift, 10.0, 20.0, 20.0],
                    "score": float(rng.choice([0.2, 0.5, 0.5, 0.9])),
                }
            )
    gt = {"images": images, "categories": [{"id": 1}, {"id": 2}], "annotations": anns}
    with pytest.warns(DetectionEvalWarning, match="more than max_dets"):
        ours = coco_evaluation(gt, dets, max_dets=[1, 10, 15])
    assert_same(ours, pycoco(gt, dets, max_dets=[1, 10, 15]))
    assert_same(coco_evaluation(gt, dets), pycoco(gt, dets))


def test_chunked_pairs_give_the_same_result(monkeypatch):
    import handgrad.metrics.detection.state as state

    gt, dets = make_coco(30, n_categories=4, dets_per_image=20, seed=9)
    want = coco_evaluation(gt, dets)
    monkeypatch.setattr(state, "PAIR_CHUNK", 7)  # chunks of a handful of pairs
    got = coco_evaluation(gt, dets)
    np.testing.assert_array_equal(got.precision, want.precision)
    np.testing.assert_array_equal(got.scores, want.scores)
    assert got.stats == want.stats


def test_dense_crowds_equal_pycocotools():
    # many overlapping boxes per image: each detection overlaps several boxes, some below and
    # some above the thresholds, so the relevant-box compression is exercised
    gt, dets = make_coco(6, n_categories=1, gt_per_image=60, dets_per_image=80, seed=8)
    assert_same(coco_evaluation(gt, dets), pycoco(gt, dets))
    params = {"iou_thrs": np.array([0.1, 0.3, 0.5, 0.75])}
    assert_same(coco_evaluation(gt, dets, **params), pycoco(gt, dets, **params))


def test_pycocotools_parameter_names_are_accepted():
    gt, dets = make_coco(10, n_categories=3, dets_per_image=15, seed=8)
    ours = coco_evaluate(gt, dets, iouThrs=np.array([0.5, 0.75]), maxDets=[1, 5, 50])
    same = coco_evaluate(gt, dets, iou_thrs=np.array([0.5, 0.75]), max_dets=[1, 5, 50])
    assert ours == same
    ev = pycoco(gt, dets, iou_thrs=np.array([0.5, 0.75]), max_dets=[1, 5, 50])
    np.testing.assert_allclose([ours[k] for k in STAT_NAMES], ev.stats, rtol=0, atol=1e-12)
    with pytest.raises(
        ValueError, match=r"unknown evaluation parameter 'useCats'; accepted: iou_thrs"
    ):
        coco_evaluate(gt, dets, useCats=0)
    with pytest.raises(ValueError, match="'max_dets' given twice"):
        coco_evaluate(gt, dets, max_dets=[1, 10, 100], maxDets=[1, 10, 100])
