"""COCO keypoint evaluation (iou_type="keypoints", OKS) against pycocotools."""

from __future__ import annotations

import contextlib
import copy
import io
import math
import warnings

import numpy as np
import pytest
from benchmarks.coco_synth import make_coco_keypoints
from hypothesis import given, settings
from hypothesis import strategies as st

from handgrad.metrics import (
    COCO_PERSON_SIGMAS,
    KEYPOINT_STAT_NAMES,
    DetectionEvalWarning,
    accumulate,
    coco_eval_state,
    coco_evaluate,
    coco_evaluation,
    merge_states,
)
from handgrad.metrics.detection.keypoints import oks_pairs

pytest.importorskip("pycocotools")
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def pycoco(gt, dets, sigmas=None, cat_ids=None):
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        ev = COCOeval(coco_gt, coco_gt.loadRes(copy.deepcopy(dets)), "keypoints")
        if sigmas is not None:
            ev.params.kpt_oks_sigmas = np.asarray(sigmas)
        if cat_ids is not None:
            ev.params.catIds = cat_ids
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def assert_same(ours, ev):
    np.testing.assert_array_equal(ours.precision, ev.eval["precision"])
    np.testing.assert_array_equal(ours.recall, ev.eval["recall"])
    np.testing.assert_array_equal(ours.scores, ev.eval["scores"])
    assert [ours.stats[k] for k in KEYPOINT_STAT_NAMES] == list(ev.stats)


# ---------------------------------------------------------------- worked example


def test_oks_worked_example():
    # one labelled keypoint 3 px off, one not labelled; area 100, sigma 0.5 -> kappa = 1:
    # e = 3^2 / 1 / (100 + eps) / 2 = 0.045 (to 1e-16), OKS = exp(-0.045)
    gt = np.array([[10.0, 10.0, 2.0, 50.0, 50.0, 0.0]])
    det = np.array([[13.0, 10.0, 1.0, 0.0, 0.0, 1.0]])
    oks = oks_pairs(
        det, gt, np.array([[0.0, 0.0, 20.0, 20.0]]), np.array([100.0]), np.full((1, 2), 0.5)
    )
    assert oks[0] == pytest.approx(math.exp(-0.045), rel=1e-15)
    # no labelled keypoint: the distance to the box enlarged by its size on every side,
    # [x - w, x + 2w] x [y - h, y + 2h] = [-20, 40]^2; (50, -25) is 10 right and 5 above
    gt[0, 2] = 0.0
    det = np.array([[50.0, -25.0, 1.0, 0.0, 0.0, 1.0]])  # the second one is inside: 0
    oks = oks_pairs(
        det, gt, np.array([[0.0, 0.0, 20.0, 20.0]]), np.array([100.0]), np.full((1, 2), 0.5)
    )
    e = (10.0**2 + 5.0**2) / 1.0 / 100.0 / 2
    assert oks[0] == pytest.approx((math.exp(-e) + 1.0) / 2, rel=1e-15)


# ---------------------------------------------------------------- against pycocotools


@pytest.mark.parametrize("seed", [0, 1])
def test_synthetic_person_keypoints_equal_pycocotools(seed):
    gt, dets = make_coco_keypoints(40, seed=seed)
    ours = coco_evaluation(gt, dets, iou_type="keypoints")
    assert_same(ours, pycoco(gt, dets))
    assert set(ours.stats) == set(KEYPOINT_STAT_NAMES) and ours.stats["AP"] > 0.1
    assert ours.params.max_dets == (20,) and ours.params.area_rng_lbl == ("all", "medium", "large")


def test_results_with_a_box_use_its_area_as_pycocotools():
    gt, dets = make_coco_keypoints(20, seed=2)
    rng = np.random.default_rng(0)
    for d in dets:
        d["bbox"] = rng.uniform(1, 200, 4).round(1).tolist()
    assert_same(coco_evaluation(gt, dets, iou_type="keypoints"), pycoco(gt, dets))


def test_user_sigmas_shared_and_per_category():
    gt, dets = make_coco_keypoints(20, n_keypoints=5, seed=3)
    gt["categories"].append({"id": 2, "name": "cat"})
    for a in gt["annotations"][::3]:
        a["category_id"] = 2
    for d in dets[::3]:
        d["category_id"] = 2
    shared = [0.1, 0.2, 0.3, 0.4, 0.5]
    assert_same(
        coco_evaluation(gt, dets, iou_type="keypoints", sigmas=shared), pycoco(gt, dets, shared)
    )
    per_cat = {1: shared, 2: [0.05, 0.05, 0.9, 0.9, 0.3]}
    ours = coco_evaluation(gt, dets, iou_type="keypoints", sigmas=per_cat)
    for k, cat in enumerate((1, 2)):
        ev = pycoco(gt, dets, per_cat[cat], cat_ids=[cat])
        np.testing.assert_array_equal(ours.precision[:, :, k], ev.eval["precision"][:, :, 0])
        np.testing.assert_array_equal(ours.recall[:, k], ev.eval["recall"][:, 0])
    with pytest.raises(ValueError, match="category 1 has 17 sigmas, so 3 x 17 = 51"):
        coco_evaluate(gt, dets, iou_type="keypoints")  # 5 keypoints, COCO's 17 sigmas


@st.composite
def tiny_sets(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_images, k = draw(st.integers(1, 3)), 3
    anns = []
    for i in range(draw(st.integers(0, 8))):
        v = rng.choice([0, 1, 2], k)
        x, y = rng.integers(0, 30, 2).astype(float)
        w, h = rng.integers(1, 30, 2).astype(float)
        kp = np.stack([x + rng.integers(0, 30, k), y + rng.integers(0, 30, k), v], 1)
        anns.append(
            {
                "id": i + 1,
                "image_id": int(rng.integers(1, n_images + 1)),
                "category_id": 1,
                "bbox": [x, y, w, h],
                "area": float(rng.choice([50.0, 2000.0, 12000.0])),
                "iscrowd": int(rng.random() < 0.2),
                "num_keypoints": int((v > 0).sum()),
                "keypoints": kp.ravel().tolist(),
            }
        )
    dets = []
    for _ in range(draw(st.integers(1, 10))):
        kp = np.stack([rng.integers(0, 60, k), rng.integers(0, 60, k), np.ones(k)], 1)
        dets.append(
            {
                "image_id": int(rng.integers(1, n_images + 1)),
                "category_id": 1,
                "keypoints": kp.astype(float).ravel().tolist(),
                "score": float(rng.choice([0.3, 0.6, 0.6, 0.9])),
            }
        )
    images = [{"id": i + 1} for i in range(n_images)]
    return {"images": images, "categories": [{"id": 1}], "annotations": anns}, dets


@settings(max_examples=60)
@given(tiny_sets())
def test_hypothesis_sets_equal_pycocotools(case):
    gt, dets = case
    sigmas = [0.3, 0.6, 0.9]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DetectionEvalWarning)
        ours = coco_evaluation(gt, dets, iou_type="keypoints", sigmas=sigmas)
    assert_same(ours, pycoco(gt, dets, sigmas))


def test_merged_shards_equal_one_pass():
    gt, dets = make_coco_keypoints(20, seed=4)
    single = coco_evaluation(gt, dets, iou_type="keypoints")
    states = [
        coco_eval_state(gt, dets, iou_type="keypoints", img_ids=ids)
        for ids in np.array_split(np.arange(1, 21), 3)
    ]
    merged = accumulate(merge_states(states))
    np.testing.assert_array_equal(merged.precision, single.precision)
    assert merged.stats == single.stats


def test_num_keypoints_zero_is_ignored_and_absent_count_is_derived():
    gt, dets = make_coco_keypoints(15, seed=5)
    with_field = coco_evaluation(gt, dets, iou_type="keypoints")
    for a in gt["annotations"]:
        del a["num_keypoints"]  # counted from the visibility flags (as the synthetic set is)
    np.testing.assert_array_equal(
        coco_evaluation(gt, dets, iou_type="keypoints").precision, with_field.precision
    )


# ---------------------------------------------------------------- bad input


def person(keypoints, det_keypoints):
    gt = {
        "images": [{"id": 1}],
        "categories": [{"id": 1}],
        "annotations": [
            {"id": 4, "image_id": 1, "category_id": 1, "bbox": [0, 0, 9, 9], "area": 81.0}
            | ({} if keypoints is None else {"keypoints": keypoints})
        ],
    }
    return gt, [{"image_id": 1, "category_id": 1, "score": 0.5, "keypoints": det_keypoints}]


@pytest.mark.parametrize(
    ("gt_kp", "det_kp", "message"),
    [
        ([1, 2, 2] * 16, [1, 2, 1] * 17, r"annotations\[0\] \(id 4\): keypoints hold 48 numbers"),
        ([1, 2, 2] * 17, [1, 2, 1] * 16, r"detections\[0\]: keypoints hold 48 numbers"),
        ([1, 2, 2] * 17, [1, 2], r"detections\[0\]: keypoints must be a list of x, y, v triples"),
        ([1, 2, 2] * 17, [], r"detections\[0\]: keypoints must hold at least one"),
        ([1, "a", 2] * 17, [1, 2, 1] * 17, r"annotations\[0\] \(id 4\): keypoints must be finite"),
        (None, [1, 2, 1] * 17, r"annotations\[0\] \(id 4\): keypoints hold 0 numbers"),
    ],
)
def test_bad_keypoints_name_the_entry(gt_kp, det_kp, message):
    gt, dets = person(gt_kp, det_kp)
    with pytest.raises(ValueError, match=message):
        coco_evaluate(gt, dets, iou_type="keypoints")


def test_sigmas_are_checked():
    gt, dets = person([1, 2, 2] * 17, [1, 2, 1] * 17)
    with pytest.raises(ValueError, match="sigmas apply to iou_type='keypoints' only"):
        coco_evaluate(gt, [], sigmas=[0.1])
    with pytest.raises(ValueError, match="sigmas must be finite and positive"):
        coco_evaluate(gt, dets, iou_type="keypoints", sigmas=[0.1, -1.0])
    ok = coco_evaluate(gt, dets, iou_type="keypoints", kpt_oks_sigmas=COCO_PERSON_SIGMAS)
    assert ok == coco_evaluate(gt, dets, iou_type="keypoints")
