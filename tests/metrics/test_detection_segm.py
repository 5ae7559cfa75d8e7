"""COCO mask evaluation (iou_type="segm") against pycocotools' COCOeval(iouType="segm")."""

from __future__ import annotations

import contextlib
import copy
import io
import warnings

import numpy as np
import pytest
from benchmarks.coco_synth import make_coco_segm
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
from pycocotools import mask as mask_api
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def pycoco(gt, dets, iou_type="segm"):
    """pycocotools' COCOeval on deep copies (it mutates its inputs), quietly."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # its mask decode under NumPy 2
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        ev = COCOeval(coco_gt, coco_gt.loadRes(copy.deepcopy(dets)), iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def assert_same(ours, ev, names=STAT_NAMES):
    """Arrays bit for bit, summary exactly."""
    np.testing.assert_array_equal(ours.precision, ev.eval["precision"])
    np.testing.assert_array_equal(ours.recall, ev.eval["recall"])
    np.testing.assert_array_equal(ours.scores, ev.eval["scores"])
    assert [ours.stats[k] for k in names] == list(ev.stats)


@pytest.fixture(scope="module")
def synth():
    return make_coco_segm(16, seed=3, crowd_fraction=0.1)


def test_compressed_results_without_box_equal_pycocotools(synth):
    gt, dets = synth
    assert "bbox" not in dets[0] and isinstance(dets[0]["segmentation"]["counts"], str)
    ours = coco_evaluation(gt, dets, iou_type="segm")
    assert_same(ours, pycoco(gt, dets))
    assert ours.stats["AP"] > 0.2  # a meaningful set: many matches at several thresholds


@pytest.mark.parametrize("det_format", ["rle", "counts", "polygon"])
def test_results_with_box_use_its_area_as_pycocotools(det_format):
    # pycocotools' loadRes takes w * h of the box as the result's area when results have one,
    # and reads polygons and uncompressed RLE only then
    gt, dets = make_coco_segm(8, seed=4, det_format=det_format, det_bbox=True)
    assert_same(coco_evaluation(gt, dets, iou_type="segm"), pycoco(gt, dets))


def test_crowd_only_images_empty_images_and_several_parts():
    gt, dets = make_coco_segm(10, seed=5, crowd_fraction=0.0)
    anns = gt["annotations"]
    for a in anns:
        if a["image_id"] == 2:  # an image whose ground truth is all crowd regions (RLE)
            a["iscrowd"] = 1
            a["segmentation"] = mask_api.frPyObjects(a["segmentation"], 480, 640)[0]
            a["segmentation"]["counts"] = a["segmentation"]["counts"].decode()
    gt["annotations"] = [a for a in anns if a["image_id"] != 3]  # no ground truth, detections
    gt["images"].append({"id": 99, "height": 480, "width": 640})  # nothing at all
    dets = [d for d in dets if d["image_id"] != 4]  # ground truth, no detections
    assert any(len(a["segmentation"]) == 2 for a in gt["annotations"] if not a["iscrowd"])
    assert_same(coco_evaluation(gt, dets, iou_type="segm"), pycoco(gt, dets))


@st.composite
def tiny_sets(draw):
    """A few small images; ground truth as polygons, uncompressed or compressed RLE, some crowd;
    results as compressed RLE of random blocks, scores with ties."""
    h, w = draw(st.integers(4, 16)), draw(st.integers(4, 16))
    n_images = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))

    def block():
        m = np.zeros((h, w), np.uint8)
        y0, x0 = rng.integers(0, h), rng.integers(0, w)
        m[y0 : rng.integers(y0, h + 1), x0 : rng.integers(x0, w + 1)] = 1
        return m

    def rle(m):
        r = mask_api.encode(np.asfortranarray(m))
        return {"size": [h, w], "counts": r["counts"].decode()}

    anns = []
    for i in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["poly", "counts", "text"]))
        if kind == "poly":
            segm = [rng.uniform(-1, max(h, w) + 1, 2 * int(rng.integers(3, 7))).round(1).tolist()]
        else:
            m = block()
            flat = m.ravel(order="F")
            edges = np.flatnonzero(np.diff(np.r_[0, flat]) != 0)
            counts = np.diff(np.r_[0, edges, flat.size]).tolist()
            segm = {"size": [h, w], "counts": counts} if kind == "counts" else rle(m)
        anns.append(
            {
                "id": i + 1,
                "image_id": int(rng.integers(1, n_images + 1)),
                "category_id": int(rng.integers(1, 3)),
                "bbox": [0, 0, 1, 1],
                "area": float(rng.choice([4.0, 20.0, 2000.0, 20000.0])),
                "iscrowd": int(rng.random() < 0.25),
                "segmentation": segm,
            }
        )
    dets = [
        {
            "image_id": int(rng.integers(1, n_images + 1)),
            "category_id": int(rng.integers(1, 3)),
            "segmentation": rle(block()),
            "score": float(rng.choice([0.3, 0.6, 0.6, 0.9])),
        }
        for _ in range(draw(st.integers(1, 12)))
    ]
    images = [{"id": i + 1, "height": h, "width": w} for i in range(n_images)]
    return {"images": images, "categories": [{"id": 1}, {"id": 2}], "annotations": anns}, dets


@settings(max_examples=60)
@given(tiny_sets())
def test_hypothesis_sets_equal_pycocotools(case):
    gt, dets = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DetectionEvalWarning)
        ours = coco_evaluation(gt, dets, iou_type="segm")
    assert_same(ours, pycoco(gt, dets))


def test_empty_results_give_zeros(synth):
    gt, _ = synth
    stats = coco_evaluate(gt, [], iou_type="segm")
    assert set(stats) == set(STAT_NAMES)
    assert all(v in (0.0, -1.0) for v in stats.values()) and stats["AP"] == 0.0


def test_merged_shards_equal_one_pass(synth):
    gt, dets = synth
    single = coco_evaluation(gt, dets, iou_type="segm")
    ids = np.array([im["id"] for im in gt["images"]])
    states = []
    for shard in np.array_split(np.random.default_rng(1).permutation(ids), 3):
        part = [d for d in dets if d["image_id"] in set(shard.tolist())]
        states.append(coco_eval_state(gt, part, iou_type="segm", img_ids=shard))
    merged = accumulate(merge_states(states))
    np.testing.assert_array_equal(merged.precision, single.precision)
    np.testing.assert_array_equal(merged.scores, single.scores)
    assert merged.stats == single.stats


# ---------------------------------------------------------------- bad input names the entry


def one_image(segm, det_segm):
    gt = {
        "images": [{"id": 1, "height": 5, "width": 4}],
        "categories": [{"id": 1}],
        "annotations": [
            {"id": 7, "image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2], "area": 4.0}
            | ({} if segm is None else {"segmentation": segm})
        ],
    }
    dets = [{"image_id": 1, "category_id": 1, "score": 0.5, "segmentation": det_segm}]
    return gt, dets


GOOD = {"size": [5, 4], "counts": [2, 3, 15]}


@pytest.mark.parametrize(
    ("segm", "det_segm", "message"),
    [
        ("poly", GOOD, r"annotations\[0\] \(id 7\): segmentation must be polygons"),
        (None, GOOD, r"annotations\[0\] is missing the key 'segmentation'"),
        (GOOD, {"size": [4, 5], "counts": "44"}, r"detections\[0\]: RLE size \[4, 5\] does not"),
        (GOOD, {"size": [5, 4], "counts": [2, 3]}, r"detections\[0\]: RLE counts sum to 5"),
        ({"size": [5, 4], "counts": "0~"}, GOOD, r"annotations\[0\] \(id 7\): compressed RLE"),
        (GOOD, 3, r"detections\[0\]: segmentation must be"),
    ],
)
def test_bad_masks_name_the_annotation_or_result(segm, det_segm, message):
    gt, dets = one_image(segm, det_segm)
    with pytest.raises(ValueError, match=message):
        coco_evaluate(gt, dets, iou_type="segm")


def test_missing_image_size_and_unknown_iou_type():
    gt, dets = one_image(GOOD, GOOD)
    del gt["images"][0]["height"]
    with pytest.raises(ValueError, match=r"images\[0\] \(id 1\) height must be a positive integer"):
        coco_evaluate(gt, dets, iou_type="segm")
    with pytest.raises(
        ValueError, match=r"iou_type must be one of 'bbox', 'segm', 'keypoints'; got 'mask'"
    ):
        coco_evaluate(gt, dets, iou_type="mask")


def test_result_without_segmentation_is_named():
    gt, dets = one_image(GOOD, GOOD)
    del dets[0]["segmentation"]
    with pytest.raises(ValueError, match=r"detections\[0\] has no 'segmentation'"):
        coco_evaluate(gt, dets, iou_type="segm")
