"""Detection inputs, traps and the mergeable state."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import warnings

import numpy as np
import pytest
from benchmarks.coco_synth import make_coco
from hypothesis import given, settings
from hypothesis import strategies as st

from handgrad.metrics import (
    STAT_NAMES,
    DetectionEvalWarning,
    accumulate,
    coco_eval_state,
    coco_evaluate,
    coco_evaluation,
    merge_states,
)

pytest.importorskip("pycocotools")
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def pycoco_stats(gt, dets, **attrs):
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        ev = COCOeval(coco_gt, coco_gt.loadRes(copy.deepcopy(dets)), "bbox")
        for k, v in attrs.items():
            setattr(ev.params, k, v)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def one_box_gt(ann_id=1, n_boxes=1):
    return {
        "images": [{"id": 1}],
        "categories": [{"id": 1, "name": "thing"}],
        "annotations": [
            {
                "id": ann_id + i,
                "image_id": 1,
                "category_id": 1,
                "bbox": [30.0 * i, 0, 20, 20],
                "area": 400.0,
                "iscrowd": 0,
            }
            for i in range(n_boxes)
        ],
    }


# ---------------------------------------------------------------- input forms


def test_array_dict_and_file_inputs_agree(tmp_path):
    gt, dets = make_coco(15, n_categories=4, dets_per_image=12, seed=11)
    want = coco_evaluate(gt, dets)
    rows = np.array(
        [[d["image_id"], *d["bbox"], d["score"], d["category_id"]] for d in dets], dtype=float
    )
    assert coco_evaluate(gt, rows) == want
    columns = {
        "image_id": np.array([d["image_id"] for d in dets]),
        "category_id": np.array([d["category_id"] for d in dets]),
        "bbox": np.array([d["bbox"] for d in dets]),
        "score": np.array([d["score"] for d in dets]),
    }
    assert coco_evaluate(gt, columns) == want
    gt_path, det_path = tmp_path / "gt.json", tmp_path / "dets.json"
    gt_path.write_text(json.dumps(gt))
    det_path.write_text(json.dumps(dets))
    assert coco_evaluate(str(gt_path), det_path) == want


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda g, d: g.pop("annotations"), "missing the key 'annotations'"),
        (
            lambda g, d: g["annotations"][2].pop("area"),
            r"annotations\[2\] is missing the key 'area'",
        ),
        (
            lambda g, d: g["annotations"][1].update(bbox=[0, 0, -1, 5]),
            r"annotations\[1\].*negative",
        ),
        (lambda g, d: g["annotations"][0].update(bbox=[0, 0, 5]), r"annotations\[0\].*four finite"),
        (lambda g, d: g["annotations"][3].update(image_id=999), r"annotations\[3\].*999"),
        (lambda g, d: g["annotations"][0].update(category_id=77), r"annotations\[0\].*77"),
        (lambda g, d: d[4].pop("score"), r"detections\[4\] is missing the key 'score'"),
        (lambda g, d: d[5].update(bbox=[1, 2, 3, -4]), r"detections\[5\].*negative"),
        (lambda g, d: d[6].update(bbox=[1, 2, float("nan"), 4]), r"detections\[6\].*finite"),
        (lambda g, d: d[7].update(image_id=12345), r"detections\[7\].*12345.*images"),
        (lambda g, d: d[8].update(category_id=99), r"detections\[8\].*99.*categories"),
        (lambda g, d: d[9].update(score="high"), r"detections\[9\]\['score'\] must be a number"),
        (lambda g, d: d[1].update(image_id=1.5), r"detections\[1\]\['image_id'\].*integer"),
    ],
)
def test_malformed_inputs_name_the_entry(mutate, message):
    gt, dets = make_coco(10, n_categories=3, dets_per_image=5, seed=12)
    mutate(gt, dets)
    with pytest.raises(ValueError, match=message):
        coco_evaluate(gt, dets)


def test_wrong_kinds_raise_type_error(tmp_path):
    gt, dets = make_coco(3, n_categories=2, dets_per_image=3, seed=13)
    with pytest.raises(TypeError, match="coco_gt must be a COCO dict"):
        coco_evaluate([gt], dets)
    with pytest.raises(TypeError, match="detections must be"):
        coco_evaluate(gt, 42)
    with pytest.raises(ValueError, match=r"shape \(N, 7\)"):
        coco_evaluate(gt, np.zeros((3, 6)))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        coco_evaluate(bad, dets)
    with pytest.raises(ValueError, match="cannot read file"):
        coco_evaluate(tmp_path / "missing.json", dets)


def test_bad_parameters():
    gt, dets = make_coco(3, n_categories=2, dets_per_image=3, seed=14)
    with pytest.raises(ValueError, match="iou_thrs must lie in"):
        coco_evaluate(gt, dets, iou_thrs=[0.5, 1.5])
    with pytest.raises(ValueError, match="max_dets must be positive"):
        coco_evaluate(gt, dets, max_dets=[0, 10, 100])
    with pytest.raises(ValueError, match="at least three max_dets"):
        coco_evaluate(gt, dets, max_dets=[10, 100])
    with pytest.raises(ValueError, match="area_rng_lbl is required"):
        coco_evaluate(gt, dets, area_rng=[[0, 1e10]])
    with pytest.raises(ValueError, match="rec_thrs must be finite"):
        coco_evaluate(gt, dets, rec_thrs=[0.0, np.nan])


# ---------------------------------------------------------------- traps


def test_annotation_id_zero_warns_and_counts_as_pycocotools():
    # a perfect detection of the box with id 0: pycocotools stores the match as id 0 = "no
    # match", so it is a false positive and AP is 0; with id 1 it is 1 / (1 + spacing(1))
    gt = one_box_gt(ann_id=0)
    dets = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 20, 20], "score": 0.9}]
    with pytest.warns(DetectionEvalWarning, match="id 0"):
        stats = coco_evaluate(gt, dets)
    assert stats["AP"] == 0.0
    np.testing.assert_array_equal([stats[k] for k in STAT_NAMES], pycoco_stats(gt, dets).stats)
    assert coco_evaluate(one_box_gt(ann_id=1), dets)["AP"] == 1 / (1 + np.spacing(1))


def test_more_boxes_than_max_dets_warns():
    gt = one_box_gt(n_boxes=4)
    dets = [
        {"image_id": 1, "category_id": 1, "bbox": [30.0 * i, 0, 20, 20], "score": 0.5}
        for i in range(4)
    ]
    with pytest.warns(DetectionEvalWarning, match="more than max_dets = 3"):
        stats = coco_evaluate(gt, dets, max_dets=[1, 2, 3])
    assert stats["AR_small"] == 0.75  # only 3 of the 4 boxes can be found
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        coco_evaluate(gt, dets)  # 4 <= 100: quiet


def test_inexact_iou_grid_warns_and_loses_ap75_like_pycocotools():
    gt, dets = make_coco(10, n_categories=3, dets_per_image=10, seed=15)
    grid = np.arange(0.5, 0.951, 0.05)  # its 0.75 is 0.7500000000000001
    with pytest.warns(DetectionEvalWarning, match="not exactly"):
        stats = coco_evaluate(gt, dets, iou_thrs=grid)
    assert stats["AP75"] == -1.0
    ev = pycoco_stats(gt, dets, iouThrs=grid)
    np.testing.assert_array_equal([stats[k] for k in STAT_NAMES], ev.stats)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        coco_evaluate(gt, dets, iou_thrs=np.linspace(0.5, 0.95, 10))


def test_repeated_annotation_ids_follow_pycocotools_and_warn():
    gt, dets = make_coco(8, n_categories=3, dets_per_image=15, seed=16)
    gt["annotations"][3]["id"] = gt["annotations"][10]["id"]
    gt["annotations"][5]["id"] = gt["annotations"][6]["id"]
    with pytest.warns(DetectionEvalWarning, match="not unique"):
        ours = coco_evaluation(gt, dets)
    ev = pycoco_stats(gt, dets)
    np.testing.assert_array_equal(ours.precision, ev.eval["precision"])
    np.testing.assert_array_equal(ours.recall, ev.eval["recall"])


def test_threshold_of_one_and_zero_follow_pycocotools():
    gt, dets = make_coco(10, n_categories=3, dets_per_image=10, seed=17)
    thrs = np.array([0.0, 0.5, 0.75, 1.0])
    ours = coco_evaluation(gt, dets, iou_thrs=thrs)
    ev = pycoco_stats(gt, dets, iouThrs=thrs)
    np.testing.assert_array_equal(ours.precision, ev.eval["precision"])
    np.testing.assert_array_equal(ours.recall, ev.eval["recall"])


# ---------------------------------------------------------------- mergeable state


@pytest.mark.parametrize("n_shards", [2, 3, 7])
def test_merged_shards_equal_single_pass(n_shards):
    gt, dets = make_coco(30, n_categories=5, dets_per_image=20, seed=18)
    single = coco_evaluation(gt, dets)
    ids = np.array([im["id"] for im in gt["images"]])
    rng = np.random.default_rng(n_shards)
    shards = np.array_split(rng.permutation(ids), n_shards)
    states = []
    for shard in shards:
        keep = set(shard.tolist())
        part = [d for d in dets if d["image_id"] in keep]  # each worker sees its own detections
        states.append(coco_eval_state(gt, part, img_ids=shard))
    merged = accumulate(merge_states(states[::-1]))  # any order
    np.testing.assert_array_equal(merged.precision, single.precision)
    np.testing.assert_array_equal(merged.recall, single.recall)
    np.testing.assert_array_equal(merged.scores, single.scores)
    assert merged.stats == single.stats
    pairwise = states[0]
    for s in states[1:]:
        pairwise = pairwise.merge(s)
    assert accumulate(pairwise).stats == single.stats


def test_merge_rejects_overlap_and_mismatch():
    gt, dets = make_coco(6, n_categories=2, dets_per_image=5, seed=19)
    a = coco_eval_state(gt, dets, img_ids=[1, 2, 3])
    b = coco_eval_state(gt, dets, img_ids=[3, 4])
    with pytest.raises(ValueError, match="disjoint image sets; image id 3"):
        a.merge(b)
    c = coco_eval_state(gt, dets, img_ids=[5, 6], max_dets=[1, 10, 50])
    with pytest.raises(ValueError, match="other parameters"):
        a.merge(c)
    with pytest.raises(ValueError, match="at least one state"):
        merge_states([])


@settings(max_examples=25)
@given(
    st.lists(
        st.tuples(st.integers(1, 5), st.integers(1, 2), st.integers(0, 6), st.integers(1, 4)),
        max_size=15,
    ),
    st.lists(
        st.tuples(
            st.integers(1, 5),
            st.integers(1, 2),
            st.integers(0, 6),
            st.integers(1, 4),
            st.sampled_from([0.3, 0.6, 0.6, 0.9]),
        ),
        max_size=25,
    ),
    st.lists(st.integers(0, 3), min_size=5, max_size=5),
)
def test_merge_property_any_sharding(boxes, detections, shard_of_image):
    # boxes on a coarse grid (ties everywhere); images 1..5 assigned to up to 4 shards
    gt = {
        "images": [{"id": i} for i in range(1, 6)],
        "categories": [{"id": 1}, {"id": 2}],
        "annotations": [
            {
                "id": n + 1,
                "image_id": i,
                "category_id": c,
                "bbox": [10.0 * x, 0.0, 10.0 * w, 10.0],
                "area": 100.0 * w * (1 + 30 * (n % 2)),
                "iscrowd": int(n % 5 == 4),
            }
            for n, (i, c, x, w) in enumerate(boxes)
        ],
    }
    dets = [
        {"image_id": i, "category_id": c, "bbox": [10.0 * x, 0.0, 10.0 * w, 10.0], "score": s}
        for i, c, x, w, s in detections
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DetectionEvalWarning)
        single = coco_evaluation(gt, dets)
        states = []
        for shard in sorted(set(shard_of_image)):
            ids = [i + 1 for i, s in enumerate(shard_of_image) if s == shard]
            states.append(coco_eval_state(gt, dets, img_ids=ids))
    merged = accumulate(merge_states(states))
    np.testing.assert_array_equal(merged.precision, single.precision)
    np.testing.assert_array_equal(merged.recall, single.recall)
    np.testing.assert_array_equal(merged.scores, single.scores)
