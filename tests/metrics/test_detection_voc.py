"""PASCAL VOC AP: a transcription of the devkit's voc_eval as the reference, worked examples."""

from __future__ import annotations

import numpy as np
import pytest
from benchmarks.coco_synth import make_coco
from hypothesis import given, settings
from hypothesis import strategies as st

from handgrad.metrics.detection.voc import voc_ap, voc_evaluate


def devkit_voc_ap(rec, prec, use_07_metric):
    """The devkit's voc_ap, verbatim in structure."""
    if use_07_metric:
        ap = 0.0
        for t in np.arange(0.0, 1.1, 0.1):
            p = 0 if np.sum(rec >= t) == 0 else np.max(prec[rec >= t])
            ap = ap + p / 11.0
        return ap
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    for i in range(mpre.size - 1, 0, -1):
        mpre[i - 1] = np.maximum(mpre[i - 1], mpre[i])
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1])


def devkit_voc_eval(gt, dets, cat, ovthresh=0.5, use_07_metric=False, plus_one=True):
    """The devkit's voc_eval loop (boxes x, y, w, h -> x1, y1, x2 = x + w, y2 = y + h),
    with a stable sort of the scores."""
    one = 1.0 if plus_one else 0.0
    recs = {}
    npos = 0
    for a in gt["annotations"]:
        if a["category_id"] != cat:
            continue
        x, y, w, h = a["bbox"]
        r = recs.setdefault(a["image_id"], {"bbox": [], "difficult": [], "det": []})
        r["bbox"].append([x, y, x + w, y + h])
        r["difficult"].append(bool(a.get("difficult", 0)))
        r["det"].append(False)
        npos += not a.get("difficult", 0)
    mine = [d for d in dets if d["category_id"] == cat]
    mine = sorted(mine, key=lambda d: -d["score"])  # stable
    tp = np.zeros(len(mine))
    fp = np.zeros(len(mine))
    for i, d in enumerate(mine):
        x, y, w, h = d["bbox"]
        bb = np.array([x, y, x + w, y + h])
        r = recs.get(d["image_id"], {"bbox": [], "difficult": [], "det": []})
        ovmax = -np.inf
        BBGT = np.array(r["bbox"], dtype=float).reshape(-1, 4)
        if BBGT.size > 0:
            ixmin = np.maximum(BBGT[:, 0], bb[0])
            iymin = np.maximum(BBGT[:, 1], bb[1])
            ixmax = np.minimum(BBGT[:, 2], bb[2])
            iymax = np.minimum(BBGT[:, 3], bb[3])
            iw = np.maximum(ixmax - ixmin + one, 0.0)
            ih = np.maximum(iymax - iymin + one, 0.0)
            inters = iw * ih
            uni = (
                (bb[2] - bb[0] + one) * (bb[3] - bb[1] + one)
                + (BBGT[:, 2] - BBGT[:, 0] + one) * (BBGT[:, 3] - BBGT[:, 1] + one)
                - inters
            )
            with np.errstate(divide="ignore", invalid="ignore"):
                overlaps = inters / uni
            ovmax = np.max(overlaps)
            jmax = np.argmax(overlaps)
        if ovmax > ovthresh:
            if not r["difficult"][jmax]:
                if not r["det"][jmax]:
                    tp[i] = 1.0
                    r["det"][jmax] = True
                else:
                    fp[i] = 1.0
        else:
            fp[i] = 1.0
    fp, tp = np.cumsum(fp), np.cumsum(tp)
    if npos == 0:
        return np.nan
    rec = tp / float(npos)
    prec = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    return devkit_voc_ap(rec, prec, use_07_metric)


coord = st.sampled_from([0.0, 4.0, 10.0, 12.0, 30.0])
size = st.sampled_from([1.0, 6.0, 10.0, 20.0])
gt_box = st.tuples(st.integers(1, 3), st.integers(1, 2), coord, coord, size, size, st.booleans())
det_box = st.tuples(
    st.integers(1, 3), st.integers(1, 2), coord, coord, size, size, st.sampled_from([0.2, 0.5, 0.9])
)


def as_coco(boxes, detections):
    gt = {
        "images": [{"id": i} for i in (1, 2, 3)],
        "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}],
        "annotations": [
            {
                "id": n + 1,
                "image_id": i,
                "category_id": c,
                "bbox": [x, y, w, h],
                "area": w * h,
                "difficult": int(diff),
            }
            for n, (i, c, x, y, w, h, diff) in enumerate(boxes)
        ],
    }
    dets = [
        {"image_id": i, "category_id": c, "bbox": [x, y, w, h], "score": s}
        for i, c, x, y, w, h, s in detections
    ]
    return gt, dets


@settings(max_examples=60)
@given(
    st.lists(gt_box, max_size=10),
    st.lists(det_box, max_size=20),
    st.sampled_from(["voc07", "voc12"]),
    st.booleans(),
)
def test_equals_devkit_loop(boxes, detections, method, plus_one):
    gt, dets = as_coco(boxes, detections)
    ours = voc_evaluate(gt, dets, method=method, plus_one=plus_one)
    for k, cat in enumerate(ours.category_ids):
        want = devkit_voc_eval(gt, dets, cat, use_07_metric=method == "voc07", plus_one=plus_one)
        if np.isnan(want):
            assert np.isnan(ours.ap[k])
        else:
            assert ours.ap[k] == pytest.approx(want, rel=1e-12, abs=1e-15)


def test_equals_devkit_on_synthetic():
    gt, dets = make_coco(30, n_categories=5, dets_per_image=20, seed=21)
    rng = np.random.default_rng(0)
    for a in gt["annotations"]:
        a["difficult"] = int(rng.random() < 0.1)
    for method in ("voc07", "voc12"):
        ours = voc_evaluate(gt, dets, method=method, plus_one=True)
        want = [devkit_voc_eval(gt, dets, c, use_07_metric=method == "voc07") for c in range(1, 6)]
        np.testing.assert_allclose(ours.ap, want, rtol=1e-12)
        assert ours.mean_ap == pytest.approx(np.nanmean(want), rel=1e-12)


def test_worked_example_difficult_and_duplicate():
    # one image, two boxes: A = [0, 0, 10, 10] and a difficult B = [20, 0, 10, 10]
    # detections by score: A exactly (TP), B exactly (ignored: difficult), A again (FP:
    # already detected), far away (FP). tp = 1, 1, 1, 1; fp = 0, 0, 1, 2; npos = 1
    # rec = 1, 1, 1, 1; prec = 1, 1, 1/2, 1/3 -> voc12 AP = 1, voc07 AP = 11 / 11 = 1
    gt = {
        "images": [{"id": 1}],
        "categories": [{"id": 1}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100},
            {
                "id": 2,
                "image_id": 1,
                "category_id": 1,
                "bbox": [20, 0, 10, 10],
                "area": 100,
                "difficult": 1,
            },
        ],
    }
    dets = [
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9},
        {"image_id": 1, "category_id": 1, "bbox": [20, 0, 10, 10], "score": 0.8},
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.7},
        {"image_id": 1, "category_id": 1, "bbox": [50, 50, 5, 5], "score": 0.6},
    ]
    ev = voc_evaluate(gt, dets)
    np.testing.assert_array_equal(ev.precision[0], [1, 1, 1 / 2, 1 / 3])
    np.testing.assert_array_equal(ev.recall[0], [1, 1, 1, 1])
    assert ev.ap[0] == 1.0 and ev.mean_ap == 1.0
    # scores reversed: far (FP), the second copy of A (now the first claim: TP), B (ignored),
    # the first copy of A (FP): tp = 0, 1, 1, 1; fp = 1, 1, 1, 2; prec = 0, 1/2, 1/2, 1/3 at
    # rec = 0, 1, 1, 1. voc12: 1 * max(1/2, 1/2, 1/3) = 1/2; voc07: 1/2 at each of the 11 t
    for d, s in zip(dets, (0.6, 0.7, 0.8, 0.9)):
        d["score"] = s
    np.testing.assert_array_equal(voc_evaluate(gt, dets).precision[0], [0, 1 / 2, 1 / 2, 1 / 3])
    assert voc_evaluate(gt, dets).ap[0] == 0.5
    assert voc_evaluate(gt, dets, method="voc07").ap[0] == pytest.approx(0.5, rel=1e-15)


def test_plus_one_changes_the_overlap_at_the_threshold():
    # box [0, 0, 10, 10] (x1, y1, x2, y2); detection [0, 0, 10, 5]: overlap 50 / 100 = 0.5,
    # not > 0.5 -> FP (AP 0). With +1 pixels: 11 * 6 / (11 * 11) = 0.545... -> TP (AP 1)
    gt = {
        "images": [{"id": 1}],
        "categories": [{"id": 1}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100}
        ],
    }
    dets = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 5], "score": 0.5}]
    assert voc_evaluate(gt, dets, box_format="xyxy").ap[0] == 0.0
    assert voc_evaluate(gt, dets, box_format="xyxy", plus_one=True).ap[0] == 1.0


def test_voc07_grid_and_envelope():
    # rec = 0.2, 0.4, 0.4, 0.6, 1.0 with prec = 1, 1, 2/3, 3/4, 5/8 (the ranks 1, 2, 4, 5, 8)
    rec = np.array([0.2, 0.4, 0.4, 0.6, 1.0])
    prec = np.array([1, 1, 2 / 3, 3 / 4, 5 / 8])
    # voc07: t = 0..0.4 -> 1 (5 points); 0.5 -> 3/4; the devkit's grid point "0.6" is
    # np.arange's 0.6000000000000001 > rec 0.6, so it reads 5/8 like 0.7..1.0 (5 points)
    assert np.arange(0.0, 1.1, 0.1)[6] > 0.6
    assert voc_ap(rec, prec, "voc07") == pytest.approx((5 + 0.75 + 5 * 0.625) / 11, 1e-15)
    # voc12: 0.4 * 1 + 0.2 * 3/4 + 0.4 * 5/8
    assert voc_ap(rec, prec, "voc12") == pytest.approx(0.4 + 0.15 + 0.25, rel=1e-15)
    assert voc_ap(rec, prec, "voc07") == devkit_voc_ap(rec, prec, True)


def test_class_without_positives_is_nan_and_left_out():
    gt = {
        "images": [{"id": 1}],
        "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100}
        ],
    }
    dets = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.5}]
    ev = voc_evaluate(gt, dets)
    assert ev.ap[0] == 1.0 and np.isnan(ev.ap[1]) and ev.mean_ap == 1.0
    assert ev.as_dict() == {
        "mAP": 1.0,
        "per_class": {
            "1": {"name": "a", "AP": 1.0, "n_positives": 1},
            "2": {"name": "b", "AP": None, "n_positives": 0},
        },
    }


def test_bad_arguments():
    gt = {"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": []}
    with pytest.raises(ValueError, match="method must be one of"):
        voc_evaluate(gt, [], method="voc10")
    with pytest.raises(ValueError, match="iou_threshold must be in"):
        voc_evaluate(gt, [], iou_threshold=1.5)
    bad = [{"image_id": 1, "category_id": 1, "bbox": [5, 5, 1, 1], "score": 0.5}]
    with pytest.raises(ValueError, match=r"detections\[0\] has x2 < x1"):
        voc_evaluate(gt, bad, box_format="xyxy")
