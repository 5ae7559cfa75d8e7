"""Result files read in blocks give the same detections and errors as a list in memory."""

from __future__ import annotations

import json

import numpy as np
import pytest
from benchmarks.coco_synth import make_coco, make_coco_keypoints, make_coco_segm

from handgrad.metrics import coco_evaluate, coco_evaluation
from handgrad.metrics.detection import streaming


@pytest.fixture
def tiny_blocks(monkeypatch):
    """Stream every file, in blocks of 50 characters, 7 results per batch."""
    monkeypatch.setattr(streaming, "STREAM_BYTES", 0)
    monkeypatch.setattr(streaming, "BLOCK_CHARS", 50)
    monkeypatch.setattr(streaming, "BATCH", 7)


@pytest.mark.parametrize(
    ("iou_type", "make", "indent"),
    [
        ("bbox", lambda: make_coco(6, n_categories=3, dets_per_image=9, seed=41), None),
        ("bbox", lambda: make_coco(6, n_categories=3, dets_per_image=9, seed=42), 2),
        ("segm", lambda: make_coco_segm(4, n_categories=3, dets_per_image=9, seed=43), None),
        ("keypoints", lambda: make_coco_keypoints(6, seed=44), 1),
    ],
)
def test_streamed_file_equals_the_list(tmp_path, tiny_blocks, iou_type, make, indent):
    gt, dets = make()
    path = tmp_path / "dets.json"
    path.write_text(json.dumps(dets, indent=indent))
    from_file = coco_evaluation(gt, path, iou_type=iou_type)
    from_list = coco_evaluation(gt, dets, iou_type=iou_type)
    np.testing.assert_array_equal(from_file.precision, from_list.precision)
    np.testing.assert_array_equal(from_file.scores, from_list.scores)
    assert from_file.stats == from_list.stats


def test_errors_name_the_result_by_its_index_in_the_file(tmp_path, tiny_blocks):
    gt, dets = make_coco_segm(4, n_categories=3, dets_per_image=9, seed=45)
    path = tmp_path / "dets.json"
    bad = [dict(d) for d in dets]
    bad[23]["score"] = "high"
    path.write_text(json.dumps(bad))
    with pytest.raises(ValueError, match=r"^detections\[23\]\['score'\] must be a number"):
        coco_evaluate(gt, path, iou_type="segm")
    bad = [dict(d) for d in dets]
    bad[30]["segmentation"] = {"size": [2, 2], "counts": "4"}
    path.write_text(json.dumps(bad))
    with pytest.raises(ValueError, match=r"^detections\[30\]: RLE size \[2, 2\] does not match"):
        coco_evaluate(gt, path, iou_type="segm")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"image_id": 1}', "a result file is a JSON array"),
        ('[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}', "not valid"),
        (
            '[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5} x',
            "expected ','",
        ),
        ('[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.', "not valid JSON"),
    ],
)
def test_malformed_files(tmp_path, tiny_blocks, text, message):
    gt, _ = make_coco(2, n_categories=1, dets_per_image=1, seed=46)
    path = tmp_path / "dets.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        coco_evaluate(gt, path)


def test_empty_array_is_no_detections(tmp_path, tiny_blocks):
    gt, _ = make_coco(2, n_categories=1, dets_per_image=1, seed=47)
    path = tmp_path / "dets.json"
    path.write_text(" [ ] ")
    assert coco_evaluate(gt, path) == coco_evaluate(gt, [])
