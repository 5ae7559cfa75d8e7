"""COCO evaluation on a Dask LocalCluster equals the single-process evaluation bit for bit."""

from __future__ import annotations

import json
import socket
import time

import numpy as np
import pytest
from benchmarks.coco_synth import make_coco, make_coco_keypoints, make_coco_segm

from handgrad.metrics import DetectionEvalWarning, coco_evaluation
from handgrad.metrics.detection.distributed import coco_evaluate_dask, dask_client

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def assert_same(a, b):
    np.testing.assert_array_equal(a.precision, b.precision)
    np.testing.assert_array_equal(a.recall, b.recall)
    np.testing.assert_array_equal(a.scores, b.scores)
    assert a.stats == b.stats


@pytest.mark.parametrize(
    ("iou_type", "make"),
    [
        ("bbox", lambda: make_coco(30, n_categories=5, dets_per_image=20, seed=21)),
        ("segm", lambda: make_coco_segm(10, n_categories=5, dets_per_image=20, seed=22)),
        ("keypoints", lambda: make_coco_keypoints(20, seed=23)),
    ],
)
def test_files_on_a_local_cluster_equal_one_pass(client, tmp_path, iou_type, make):
    gt, dets = make()
    gt_path, det_path = tmp_path / "gt.json", tmp_path / "dets.json"
    gt_path.write_text(json.dumps(gt))
    det_path.write_text(json.dumps(dets))
    on_dask = coco_evaluate_dask(client, gt_path, det_path, iou_type=iou_type, n_shards=3)
    assert_same(on_dask, coco_evaluation(gt, dets, iou_type=iou_type))


def test_more_shards_than_images_and_default_shards(client):
    gt, dets = make_coco(3, n_categories=2, dets_per_image=5, seed=24)
    single = coco_evaluation(gt, dets)
    assert_same(coco_evaluate_dask(client, gt, dets, n_shards=10), single)
    assert_same(coco_evaluate_dask(client, gt, dets), single)
    with pytest.raises(ValueError, match="n_shards must be a positive integer"):
        coco_evaluate_dask(client, gt, dets, n_shards=0)


def test_worker_errors_name_the_result_in_the_file_and_warnings_reach_the_client(client):
    gt, dets = make_coco_segm(6, n_categories=2, dets_per_image=4, seed=25)
    dets[17]["segmentation"] = {"size": [1, 2], "counts": "2"}
    with pytest.raises(ValueError, match=r"detections\[17\]: RLE size \[1, 2\] does not match"):
        coco_evaluate_dask(client, gt, dets, iou_type="segm", n_shards=3)
    gt, dets = make_coco(6, n_categories=2, dets_per_image=4, seed=26)
    gt["annotations"][0]["id"] = 0
    with pytest.warns(DetectionEvalWarning, match="annotation has id 0"):
        coco_evaluate_dask(client, gt, dets, n_shards=3)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_scheduler_that_does_not_answer_is_a_clear_error_in_time():
    address = f"tcp://127.0.0.1:{_free_port()}"
    start = time.monotonic()
    with pytest.raises(ValueError) as info:
        dask_client(address, timeout=1)
    assert time.monotonic() - start < 30
    assert str(info.value).startswith(f"no Dask scheduler answered at '{address}' within 1 s")


def test_without_dask_the_error_says_how_to_install_it(monkeypatch):
    import handgrad._dask as dask_module

    monkeypatch.setattr(dask_module, "dask_available", lambda: False)
    with pytest.raises(ValueError, match=r"needs Dask: pip install 'handgrad\[dask\]'"):
        dask_client("tcp://127.0.0.1:1")
