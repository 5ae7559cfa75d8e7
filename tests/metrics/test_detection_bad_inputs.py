"""Bad input to COCO / VOC evaluation: each case raises naming the entry and field (or argument).

Ground truth and detections are small dicts built here; each case breaks one field of one entry
(or one argument). Tables are grouped by what is wrong: type, shape, NaN/inf, range, empty,
ragged, overflow.
"""

from __future__ import annotations

import copy
import json
from functools import partial as call

import numpy as np
import pytest

from handgrad.metrics.detection import coco_evaluate, voc_ap, voc_evaluate


def ground_truth() -> dict:
    """Two images, two categories (both named "cat"), one box each; area = w * h."""
    return {
        "images": [{"id": 1}, {"id": 2}],
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "cat"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100},
            {"id": 2, "image_id": 2, "category_id": 2, "bbox": [5, 5, 10, 10], "area": 100},
        ],
    }


def detections() -> list[dict]:
    return [
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9},
        {"image_id": 2, "category_id": 2, "bbox": [5, 5, 9, 9], "score": 0.8},
    ]


def gt_with(section: str, index: int, key: str, value: object) -> dict:
    """Ground truth with ``gt[section][index][key] = value`` (the key dropped for ``DROP``)."""
    gt = ground_truth()
    entry = gt[section][index]
    if value is DROP:
        del entry[key]
    else:
        entry[key] = value
    return gt


def dets_with(index: int, key: str, value: object) -> list[dict]:
    dets = detections()
    if value is DROP:
        del dets[index][key]
    else:
        dets[index][key] = value
    return dets


DROP = object()
ROWS = np.array([[1, 0, 0, 10, 10, 0.9, 1], [2, 5, 5, 9, 9, 0.8, 2]], dtype=float)
COLUMNS = {"image_id": [1, 2], "category_id": [1, 2], "bbox": ROWS[:, 1:5], "score": [0.9, 0.8]}


def rows_with(row: int, col: int, value: float) -> np.ndarray:
    rows = ROWS.copy()
    rows[row, col] = value
    return rows


def columns_with(key: str, value: object) -> dict:
    return {**COLUMNS, key: value}


def coco_gt(section: str, index: int, key: str, value: object):
    return call(coco_evaluate, gt_with(section, index, key, value), detections())


def coco_dets(index: int, key: str, value: object):
    return call(coco_evaluate, ground_truth(), dets_with(index, key, value))


def coco(dets: object, **params: object):
    return call(coco_evaluate, ground_truth(), dets, **params)


def voc(**kwargs: object):
    return call(voc_evaluate, ground_truth(), detections(), **kwargs)


ANN = r"annotations\[0\]"
DET = r"detections\[0\]"
INT64 = "in the int64 range"

TYPE = [
    pytest.param(coco_gt("annotations", 0, "category_id", True), ValueError, rf"{ANN}\['category_id'\] must be an integer id", id="gt-category-bool"),
    pytest.param(coco_gt("annotations", 0, "category_id", "1"), ValueError, rf"{ANN}\['category_id'\] must be an integer id", id="gt-category-str"),
    pytest.param(coco_gt("annotations", 0, "category_id", None), ValueError, rf"{ANN}\['category_id'\] must be an integer id", id="gt-category-None"),
    pytest.param(coco_gt("annotations", 0, "image_id", 1.5), ValueError, rf"{ANN}\['image_id'\] must be an integer id", id="gt-image-fraction"),
    pytest.param(coco_gt("annotations", 0, "id", [1]), ValueError, rf"{ANN}\['id'\] must be an integer id", id="gt-ann-id-list"),
    pytest.param(coco_gt("images", 0, "id", "1"), ValueError, r"images\[0\]\['id'\] must be an integer id", id="gt-image-id-str"),
    pytest.param(coco_gt("categories", 0, "id", True), ValueError, r"categories\[0\]\['id'\] must be an integer id", id="gt-category-id-bool"),
    pytest.param(coco_gt("annotations", 0, "bbox", "abcd"), ValueError, rf"{ANN}\['bbox'\] must be four finite numbers", id="gt-bbox-str"),
    pytest.param(coco_gt("annotations", 0, "bbox", [0, 0, "1", 1]), ValueError, rf"{ANN}\['bbox'\] must be four finite numbers", id="gt-bbox-holds-str"),
    pytest.param(coco_gt("annotations", 0, "bbox", [True, 0, 1, 1]), ValueError, rf"{ANN}\['bbox'\] must be four finite numbers", id="gt-bbox-holds-bool"),
    pytest.param(coco_gt("annotations", 0, "area", "100"), ValueError, rf"{ANN}\['area'\] must be a number", id="gt-area-str"),
    pytest.param(coco_gt("annotations", 0, "iscrowd", "1"), ValueError, rf"{ANN}\['iscrowd'\] must be a number", id="gt-iscrowd-str"),
    pytest.param(coco_gt("annotations", 0, "id", DROP), ValueError, rf"{ANN} is missing the key 'id'", id="gt-missing-id"),
    pytest.param(coco_gt("annotations", 0, "bbox", DROP), ValueError, rf"{ANN} is missing the key 'bbox'", id="gt-missing-bbox"),
    pytest.param(coco_gt("annotations", 0, "category_id", DROP), ValueError, rf"{ANN} is missing the key 'category_id'", id="gt-missing-category"),
    pytest.param(call(coco_evaluate, {"images": [], "categories": []}, []), ValueError, r"coco_gt is missing the key 'annotations'", id="gt-missing-annotations"),
    pytest.param(call(coco_evaluate, None, []), TypeError, r"coco_gt must be a COCO dict", id="gt-None"),
    pytest.param(coco_dets(0, "category_id", "1"), ValueError, rf"{DET}\['category_id'\] must be an integer id", id="det-category-str"),
    pytest.param(coco_dets(0, "image_id", True), ValueError, rf"{DET}\['image_id'\] must be an integer id", id="det-image-bool"),
    pytest.param(coco_dets(0, "score", "0.9"), ValueError, rf"{DET}\['score'\] must be a number", id="det-score-str"),
    pytest.param(coco_dets(0, "score", None), ValueError, rf"{DET}\['score'\] must be a number", id="det-score-None"),
    pytest.param(coco_dets(0, "score", True), ValueError, rf"{DET}\['score'\] must be a number", id="det-score-bool"),
    pytest.param(coco_dets(0, "score", DROP), ValueError, rf"{DET} is missing the key 'score'", id="det-missing-score"),
    pytest.param(coco([5]), TypeError, r"detections\[0\] must be a JSON object", id="det-entry-int"),
    pytest.param(coco(42), TypeError, r"detections must be a COCO result list", id="det-int"),
    pytest.param(coco(np.array([[1, 0, 0, 1, 1, 0.5, "a"]], dtype=object)), TypeError, r"detections must be a numeric array", id="det-rows-object"),
    pytest.param(coco(columns_with("score", 0.9)), TypeError, r"detections\['score'\] must be an array", id="det-columns-score-scalar"),
    pytest.param(coco(columns_with("bbox", "abcd")), TypeError, r"detections\['bbox'\] must be an array", id="det-columns-bbox-str"),
    pytest.param(coco(columns_with("bbox", [[0, 0, 1, "a"], [0, 0, 1, 1]])), ValueError, rf"{DET}\['bbox'\] must be four finite numbers", id="det-columns-bbox-holds-str"),
    pytest.param(coco(detections(), iou_thrs="0.5"), TypeError, r"iou_thrs must be a sequence of numbers", id="param-iou-str"),
    pytest.param(coco(detections(), iou_thrs=["a"]), TypeError, r"iou_thrs must be a sequence of numbers", id="param-iou-strs"),
    pytest.param(coco(detections(), area_rng="a"), TypeError, r"area_rng must be a list of \(min, max\)", id="param-area-str"),
    pytest.param(coco(detections(), img_ids=[1.5]), TypeError, r"img_ids must be integer ids", id="param-img-ids-float"),
    pytest.param(coco(detections(), max_dets="100"), ValueError, r"max_dets must be a non-empty list", id="param-max-dets-str"),
    pytest.param(coco(detections(), useCats=0), ValueError, r"unknown evaluation parameter 'useCats'", id="param-unknown"),
    pytest.param(voc(iou_threshold="0.5"), TypeError, r"^iou_threshold must be a real number; got str", id="voc-iou-str"),
    pytest.param(voc(iou_threshold=None), TypeError, r"^iou_threshold must be a real number", id="voc-iou-None"),
    pytest.param(voc(iou_threshold=True), TypeError, r"^iou_threshold must be a real number; got bool", id="voc-iou-bool"),
    pytest.param(voc(method="voc10"), ValueError, r"^method must be one of 'voc07', 'voc12'", id="voc-method"),
    pytest.param(voc(box_format="cxcywh"), ValueError, r"^box_format must be one of", id="voc-box-format"),
    pytest.param(voc(plus_one="yes"), TypeError, r"^plus_one must be True or False", id="voc-plus-one-str"),
    pytest.param(call(voc_ap, ["a"], ["b"]), TypeError, r"^rec must be a real numeric array", id="voc-ap-str"),
    pytest.param(call(voc_ap, [0.5], [1.0], "coco"), ValueError, r"^method must be one of 'voc07', 'voc12'", id="voc-ap-method"),
]  # fmt: skip

SHAPE = [
    pytest.param(coco_gt("annotations", 0, "bbox", [0, 0, 10]), ValueError, rf"{ANN}\['bbox'\] must be four finite numbers", id="gt-bbox-3"),
    pytest.param(coco_gt("annotations", 0, "bbox", [0, 0, 10, 10, 1]), ValueError, rf"{ANN}\['bbox'\] must be four finite numbers", id="gt-bbox-5"),
    pytest.param(coco_gt("annotations", 0, "bbox", [[0, 0], [1, 1]]), ValueError, rf"{ANN}\['bbox'\] must be four finite numbers", id="gt-bbox-2x2"),
    pytest.param(coco_dets(0, "bbox", [0, 0, 10]), ValueError, rf"{DET}\['bbox'\] must be four finite numbers", id="det-bbox-3"),
    pytest.param(coco_dets(0, "score", [0.9]), ValueError, rf"{DET}\['score'\] must be a number", id="det-score-list"),
    pytest.param(coco(ROWS[:, :6]), ValueError, r"detections as an array must have shape \(N, 7\)", id="det-rows-6-columns"),
    pytest.param(coco(columns_with("bbox", ROWS[:, 1:4])), ValueError, r"detections\['bbox'\] must have shape \(2, 4\)", id="det-columns-bbox-3"),
    pytest.param(coco(columns_with("image_id", [1])), ValueError, r"detections\['image_id'\] must have 2 entries", id="det-columns-length"),
    pytest.param(coco(detections(), iou_thrs=[[0.5]]), ValueError, r"iou_thrs must be a 1-D sequence", id="param-iou-2d"),
    pytest.param(coco(detections(), area_rng=[[0, 1, 2]], area_rng_lbl=["a"]), ValueError, r"area_rng must be a list of \(min, max\) pairs", id="param-area-triple"),
    pytest.param(coco(detections(), area_rng_lbl=["all"]), ValueError, r"area_rng_lbl must name each of the 4", id="param-area-labels"),
    pytest.param(call(voc_ap, [0.5, 1.0], [1.0]), ValueError, r"^rec and prec must have the same shape; got \(2,\) and \(1,\)", id="voc-ap-lengths"),
    pytest.param(call(voc_ap, [0.5, 1.0], [1.0], "voc07"), ValueError, r"^rec and prec must have the same shape", id="voc-ap07-lengths"),
    pytest.param(call(voc_ap, [[0.5, 1.0]], [[1.0, 1.0]]), ValueError, r"^rec must be 1-D", id="voc-ap-2d"),
    pytest.param(call(voc_ap, 0.5, 1.0), ValueError, r"^rec must be 1-D", id="voc-ap-0d"),
]  # fmt: skip

NAN_INF = [
    pytest.param(coco_gt("annotations", 0, "bbox", [0, 0, np.nan, 10]), ValueError, rf"{ANN}\['bbox'\] must be four finite numbers", id="gt-bbox-nan"),
    pytest.param(coco_gt("annotations", 0, "bbox", [0, 0, 10, np.inf]), ValueError, rf"{ANN}\['bbox'\] must be four finite numbers", id="gt-bbox-inf"),
    pytest.param(coco_gt("annotations", 0, "area", np.nan), ValueError, rf"{ANN}\['area'\] must be finite", id="gt-area-nan"),
    pytest.param(coco_gt("annotations", 0, "category_id", np.nan), ValueError, rf"{ANN}\['category_id'\] must be an integer id", id="gt-category-nan"),
    pytest.param(coco_gt("annotations", 0, "iscrowd", np.nan), ValueError, rf"{ANN}\['iscrowd'\] must be finite", id="gt-iscrowd-nan"),
    pytest.param(coco_dets(0, "score", np.nan), ValueError, rf"{DET}\['score'\] must be finite; got nan", id="det-score-nan"),
    pytest.param(coco_dets(0, "score", -np.inf), ValueError, rf"{DET}\['score'\] must be finite", id="det-score-inf"),
    pytest.param(coco_dets(0, "bbox", [0, 0, 1, np.inf]), ValueError, rf"{DET}\['bbox'\] must be four finite numbers", id="det-bbox-inf"),
    pytest.param(coco(rows_with(0, 0, np.nan)), ValueError, r"detections\[0\] image_id \(column 0 of the \(N, 7\) array\) must be a finite id", id="det-rows-image-nan"),
    pytest.param(coco(rows_with(1, 6, np.inf)), ValueError, r"detections\[1\] category_id \(column 6", id="det-rows-category-inf"),
    pytest.param(coco(rows_with(0, 5, np.nan)), ValueError, r"detections\[0\] score must be finite", id="det-rows-score-nan"),
    pytest.param(coco(rows_with(0, 3, np.nan)), ValueError, rf"{DET}\['bbox'\] must be four finite numbers", id="det-rows-bbox-nan"),
    pytest.param(coco(columns_with("score", [np.nan, 0.8])), ValueError, rf"{DET}\['score'\] must be finite", id="det-columns-score-nan"),
    pytest.param(coco(detections(), iou_thrs=[np.nan]), ValueError, r"iou_thrs must be finite", id="param-iou-nan"),
    pytest.param(coco(detections(), area_rng=[[0, np.nan]], area_rng_lbl=["a"]), ValueError, r"area_rng must not hold NaN", id="param-area-nan"),
    pytest.param(voc(iou_threshold=np.nan), ValueError, r"^iou_threshold must be a finite number", id="voc-iou-nan"),
    pytest.param(call(voc_ap, [np.nan, 1.0], [1.0, 1.0]), ValueError, r"^rec must be finite .* nan at index \(0,\)", id="voc-ap-rec-nan"),
    pytest.param(call(voc_ap, [0.5, 1.0], [1.0, np.nan], "voc07"), ValueError, r"^prec must be finite", id="voc-ap07-prec-nan"),
    pytest.param(call(voc_ap, [0.5, np.inf], [1.0, 1.0]), ValueError, r"^rec must be finite .* inf", id="voc-ap-rec-inf"),
]  # fmt: skip

RANGE = [
    pytest.param(coco_gt("annotations", 0, "bbox", [0, 0, -1, 10]), ValueError, rf"{ANN}\['bbox'\] has negative width or height", id="gt-bbox-negative-w"),
    pytest.param(coco_gt("annotations", 0, "bbox", [0, 0, 10, -1]), ValueError, rf"{ANN}\['bbox'\] has negative width or height", id="gt-bbox-negative-h"),
    pytest.param(coco_gt("annotations", 0, "area", -1), ValueError, rf"{ANN}\['area'\] must be >= 0; got -1", id="gt-area-negative"),
    pytest.param(coco_gt("annotations", 0, "iscrowd", 2), ValueError, rf"{ANN}\['iscrowd'\] must be 0 or 1 \(or a bool\); got 2", id="gt-iscrowd-2"),
    pytest.param(coco_gt("annotations", 0, "iscrowd", 0.5), ValueError, rf"{ANN}\['iscrowd'\] must be 0 or 1", id="gt-iscrowd-half"),
    pytest.param(coco_gt("annotations", 0, "difficult", -1), ValueError, rf"{ANN}\['difficult'\] must be 0 or 1", id="gt-difficult-neg"),
    pytest.param(coco_gt("annotations", 0, "category_id", 7), ValueError, rf"{ANN}\['category_id'\] = 7 is not among", id="gt-unknown-category"),
    pytest.param(coco_dets(0, "bbox", [0, 0, -1, 1]), ValueError, rf"{DET}\['bbox'\] has negative width or height", id="det-bbox-negative"),
    pytest.param(coco_dets(0, "image_id", 99), ValueError, rf"{DET}\['image_id'\] = 99 is not among the ground truth's images", id="det-unknown-image"),
    pytest.param(coco(detections(), iou_thrs=[1.5]), ValueError, r"iou_thrs must lie in \[0, 1\]", id="param-iou-above-1"),
    pytest.param(coco(detections(), rec_thrs=[-0.5, 0.5]), ValueError, r"rec_thrs must lie in \[0, 1\]", id="param-rec-negative"),
    pytest.param(coco(detections(), rec_thrs=[2]), ValueError, r"rec_thrs must lie in \[0, 1\]", id="param-rec-above-1"),
    pytest.param(coco(detections(), max_dets=[0, 10, 100]), ValueError, r"max_dets must be positive", id="param-max-dets-0"),
    pytest.param(coco(detections(), area_rng=[[5, 1]], area_rng_lbl=["a"]), ValueError, r"area_rng must hold \(min, max\) pairs with min <= max", id="param-area-inverted"),
    pytest.param(voc(iou_threshold=0), ValueError, r"^iou_threshold must be in \(0.0, 1.0\]; got 0.0", id="voc-iou-0"),
    pytest.param(voc(iou_threshold=1.5), ValueError, r"^iou_threshold must be in \(0.0, 1.0\]", id="voc-iou-above-1"),
    pytest.param(voc(iou_threshold=-0.1), ValueError, r"^iou_threshold must be in", id="voc-iou-negative"),
    pytest.param(call(voc_ap, [0.5, 1.5], [1.0, 1.0]), ValueError, r"^rec must hold values in \[0, 1\]; got 1.5", id="voc-ap-rec-above-1"),
    pytest.param(call(voc_ap, [0.5, 1.0], [1.0, -0.1]), ValueError, r"^prec must hold values in \[0, 1\]", id="voc-ap-prec-negative"),
    pytest.param(call(voc_ap, [0.5, 0.25], [1.0, 1.0]), ValueError, r"^rec must be non-decreasing .* 0.5 then 0.25 at index 1", id="voc-ap-rec-decreasing"),
]  # fmt: skip

EMPTY = [
    pytest.param(coco(detections(), iou_thrs=[]), ValueError, r"iou_thrs must hold at least one value", id="param-iou"),
    pytest.param(coco(detections(), rec_thrs=[]), ValueError, r"rec_thrs must hold at least one value", id="param-rec"),
    pytest.param(coco(detections(), max_dets=[]), ValueError, r"max_dets must be a non-empty list", id="param-max-dets"),
    pytest.param(coco(detections(), area_rng=np.zeros((0, 2)), area_rng_lbl=[]), ValueError, r"area_rng must be a list of \(min, max\) pairs; got shape \(0, 2\)", id="param-area"),
    pytest.param(coco(columns_with("bbox", [])), ValueError, r"detections\['bbox'\] must have 2 entries", id="det-columns-bbox"),
]  # fmt: skip

RAGGED = [
    pytest.param(coco(columns_with("bbox", [[0, 0, 1, 1], [0, 0, 1]])), TypeError, r"detections\['bbox'\] must be an array .* \(ragged", id="det-columns-bbox"),
    pytest.param(coco(columns_with("score", [0.9, [0.8]])), TypeError, r"detections\['score'\] must be an array .* \(ragged", id="det-columns-score"),
    pytest.param(coco(detections(), iou_thrs=[0.5, [0.75]]), TypeError, r"iou_thrs must be a sequence of numbers", id="param-iou"),
    pytest.param(coco(detections(), img_ids=[1, [2]]), TypeError, r"img_ids must be a sequence of integer ids", id="param-img-ids"),
    pytest.param(call(voc_ap, [0.5, [1.0]], [1.0, 1.0]), TypeError, r"^rec must be a numeric array; .* \(ragged", id="voc-ap-rec"),
    pytest.param(call(voc_ap, [0.5, 1.0], [[1.0], 1.0]), TypeError, r"^prec must be a numeric array; .* \(ragged", id="voc-ap-prec"),
]  # fmt: skip

OVERFLOW = [
    pytest.param(coco_gt("annotations", 0, "category_id", 2**70), ValueError, rf"{ANN}\['category_id'\] must be an integer id {INT64} .* got 1180591620717411303424", id="gt-category-2**70"),
    pytest.param(coco_gt("annotations", 0, "category_id", -(2**70)), ValueError, rf"{ANN}\['category_id'\] must be an integer id {INT64}", id="gt-category--2**70"),
    pytest.param(coco_gt("annotations", 0, "category_id", 2**63), ValueError, rf"{ANN}\['category_id'\] must be an integer id {INT64}", id="gt-category-2**63"),
    pytest.param(coco_gt("annotations", 0, "category_id", np.uint64(2**64 - 1)), ValueError, rf"{ANN}\['category_id'\] must be an integer id {INT64}", id="gt-category-uint64-max"),
    pytest.param(coco_gt("annotations", 0, "category_id", 2.0**70), ValueError, rf"{ANN}\['category_id'\] must be an integer id {INT64}", id="gt-category-float-2**70"),
    pytest.param(coco_gt("annotations", 0, "image_id", 2**70), ValueError, rf"{ANN}\['image_id'\] must be an integer id {INT64}", id="gt-image-2**70"),
    pytest.param(coco_gt("annotations", 0, "id", 2**70), ValueError, rf"{ANN}\['id'\] must be an integer id {INT64}", id="gt-ann-id-2**70"),
    pytest.param(coco_gt("images", 0, "id", 2**70), ValueError, rf"images\[0\]\['id'\] must be an integer id {INT64}", id="gt-image-id-2**70"),
    pytest.param(coco_gt("categories", 1, "id", 2**70), ValueError, rf"categories\[1\]\['id'\] must be an integer id {INT64}", id="gt-category-id-2**70"),
    pytest.param(coco_gt("annotations", 0, "bbox", [0, 0, 1e308, 1e308]), ValueError, rf"{ANN}\['bbox'\] is too large for float64: x \+ w, y \+ h or w \* h overflows", id="gt-bbox-area"),
    pytest.param(coco_gt("annotations", 0, "bbox", [1e308, 0, 1e308, 1]), ValueError, rf"{ANN}\['bbox'\] is too large for float64", id="gt-bbox-corner"),
    pytest.param(coco_gt("annotations", 0, "bbox", [0, 0, 2**1100, 1]), ValueError, rf"{ANN}\['bbox'\] must be four finite numbers", id="gt-bbox-int-beyond-float"),
    pytest.param(coco_gt("annotations", 0, "area", 2**1100), ValueError, rf"{ANN}\['area'\] must be finite", id="gt-area-int-beyond-float"),
    pytest.param(coco_dets(0, "category_id", 2**70), ValueError, rf"{DET}\['category_id'\] must be an integer id {INT64}", id="det-category-2**70"),
    pytest.param(coco_dets(0, "image_id", 2**70), ValueError, rf"{DET}\['image_id'\] must be an integer id {INT64}", id="det-image-2**70"),
    pytest.param(coco_dets(1, "bbox", [0, 0, 1e200, 1e200]), ValueError, r"detections\[1\]\['bbox'\] is too large for float64", id="det-bbox-area"),
    pytest.param(coco(rows_with(0, 0, 2.0**70)), ValueError, r"detections\[0\] image_id \(column 0 .* int64 range", id="det-rows-image-2**70"),
    pytest.param(coco(rows_with(1, 6, -(2.0**70))), ValueError, r"detections\[1\] category_id \(column 6 .* int64 range", id="det-rows-category--2**70"),
    pytest.param(coco(columns_with("image_id", [1, 2**70])), ValueError, r"detections\[1\]\['image_id'\] must be an integer id in the int64", id="det-columns-image-2**70"),
    pytest.param(coco(columns_with("category_id", np.array([1, 2**64 - 1], dtype=np.uint64))), ValueError, r"detections\[1\]\['category_id'\] must be an integer id in the int64", id="det-columns-category-uint64"),
    pytest.param(coco(detections(), img_ids=[2**70]), ValueError, r"img_ids must hold values in the int64 range .* got 1180591620717411303424", id="param-img-ids-2**70"),
    pytest.param(coco(detections(), cat_ids=np.array([2**63], dtype=np.uint64)), ValueError, r"cat_ids must hold values in the int64 range .* 9223372036854775808", id="param-cat-ids-2**63"),
]  # fmt: skip

CASES = [
    *(pytest.param(*p.values, id=f"type:{p.id}") for p in TYPE),
    *(pytest.param(*p.values, id=f"shape:{p.id}") for p in SHAPE),
    *(pytest.param(*p.values, id=f"nan-inf:{p.id}") for p in NAN_INF),
    *(pytest.param(*p.values, id=f"range:{p.id}") for p in RANGE),
    *(pytest.param(*p.values, id=f"empty:{p.id}") for p in EMPTY),
    *(pytest.param(*p.values, id=f"ragged:{p.id}") for p in RAGGED),
    *(pytest.param(*p.values, id=f"overflow:{p.id}") for p in OVERFLOW),
]


@pytest.mark.parametrize(("bad_call", "error", "match"), CASES)
def test_bad_input_raises_naming_the_entry_and_field(bad_call, error, match):
    with pytest.raises(error, match=match):
        bad_call()


def test_the_tables_hold_distinct_cases():
    ids = [p.id for p in CASES]
    assert len(ids) == len(set(ids)) >= 100


def test_the_valid_inputs_behind_the_tables_evaluate():
    assert coco_evaluate(ground_truth(), detections())["AP50"] == pytest.approx(1.0)
    assert coco_evaluate(ground_truth(), ROWS) == coco_evaluate(ground_truth(), COLUMNS)
    assert voc_evaluate(ground_truth(), detections()).mean_ap == 1.0


# --- per-class results are keyed by category id, not by name ----------------------------------


def test_voc_as_dict_keeps_categories_that_share_a_name():
    gt = ground_truth()  # categories 1 and 2 are both "cat"
    dets = detections()[:1]  # category 1 found (AP 1), category 2 missed (AP 0)
    result = voc_evaluate(gt, dets)
    assert result.mean_ap == 0.5
    payload = json.loads(json.dumps(result.as_dict()))
    assert payload == {
        "mAP": 0.5,
        "per_class": {
            "1": {"name": "cat", "AP": 1.0, "n_positives": 1},
            "2": {"name": "cat", "AP": 0.0, "n_positives": 1},
        },
    }


def test_voc_as_dict_orders_classes_by_id_and_names_unnamed_ones_by_id():
    gt = copy.deepcopy(ground_truth())
    gt["categories"] = [{"id": 2}, {"id": 1, "name": "cat"}]
    result = voc_evaluate(gt, detections()).as_dict()
    assert list(result["per_class"]) == ["1", "2"]
    assert result["per_class"]["2"]["name"] == "2"


# --- documented edges ---------------------------------------------------------------------------


def test_voc_ap_of_no_detections_is_zero():
    # a class with positives but no detections: rec = prec = [], AP 0 under both methods
    assert voc_ap([], []) == 0.0
    assert voc_ap(np.zeros(0), np.zeros(0), "voc07") == 0.0


def test_voc_iou_threshold_one_is_accepted_and_nothing_exceeds_it():
    # overlap must exceed the threshold strictly: at 1 even a perfect box is a false positive
    assert voc_evaluate(ground_truth(), detections(), iou_threshold=1).mean_ap == 0.0


def test_crowd_and_difficult_flags_accept_bools_and_zero_one():
    gt = ground_truth()
    gt["annotations"][0]["iscrowd"] = True
    gt["annotations"][1]["difficult"] = 1.0
    assert voc_evaluate(gt, detections()).n_positives.tolist() == [1, 0]


def test_detection_rows_truncate_fractional_ids_as_pycocotools():
    # loadNumpyAnnotations takes int() of the id columns: image 1.5 is image 1
    assert coco_evaluate(ground_truth(), rows_with(0, 0, 1.5)) == coco_evaluate(
        ground_truth(), ROWS
    )
