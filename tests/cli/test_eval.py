"""``handgrad eval coco`` and ``handgrad eval voc``."""

from __future__ import annotations

import contextlib
import copy
import io
import json

import numpy as np
import pytest
from benchmarks.coco_synth import make_coco
from typer.testing import CliRunner

from handgrad.cli import app
from handgrad.metrics import STAT_NAMES, coco_evaluate, coco_evaluation, voc_evaluate

runner = CliRunner()


@pytest.fixture
def files(tmp_path):
    gt, dets = make_coco(12, n_categories=3, dets_per_image=10, seed=31)
    gt_path, det_path = tmp_path / "gt.json", tmp_path / "dets.json"
    gt_path.write_text(json.dumps(gt))
    det_path.write_text(json.dumps(dets))
    return gt, dets, gt_path, det_path


def test_coco_prints_pycocotools_summary(files):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt, dets, gt_path, det_path = files
    result = runner.invoke(app, ["eval", "coco", str(gt_path), str(det_path)])
    assert result.exit_code == 0, result.output
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        ev = COCOeval(coco_gt, coco_gt.loadRes(copy.deepcopy(dets)), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    want = [line for line in printed.getvalue().splitlines() if line.startswith(" Average")]
    got = [line for line in result.stdout.splitlines() if line.startswith(" Average")]
    assert got == want and len(got) == 12


def test_coco_per_class_and_json(files, tmp_path):
    gt, dets, gt_path, det_path = files
    out = tmp_path / "out.json"
    result = runner.invoke(
        app, ["eval", "coco", str(gt_path), str(det_path), "--per-class", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "class1" in result.stdout and "AP50" in result.stdout
    payload = json.loads(out.read_text())
    stats = coco_evaluate(gt, dets)
    assert payload["stats"] == stats
    assert set(payload["stats"]) == set(STAT_NAMES)
    assert set(payload["per_class"]) == {"1", "2", "3"}
    assert [v["name"] for v in payload["per_class"].values()] == ["class1", "class2", "class3"]


def test_coco_per_class_json_keeps_categories_that_share_a_name(files, tmp_path):
    gt, _, _, det_path = files
    for cat in gt["categories"]:
        cat["name"] = "same"
    gt_path, out = tmp_path / "same.json", tmp_path / "out.json"
    gt_path.write_text(json.dumps(gt))
    result = runner.invoke(app, ["eval", "coco", str(gt_path), str(det_path), "--json", str(out)])
    assert result.exit_code == 0, result.output
    per_class = json.loads(out.read_text())["per_class"]
    assert sorted(per_class) == ["1", "2", "3"]
    assert {v["name"] for v in per_class.values()} == {"same"}


def test_coco_malformed_file_is_one_line_error_exit_2(files, tmp_path):
    _, dets, gt_path, _ = files
    dets[3]["bbox"] = [1, 2, -3, 4]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(dets))
    result = runner.invoke(app, ["eval", "coco", str(gt_path), str(bad)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: detections {str(bad)!r}: detections[3]")
    assert "Traceback" not in result.output


def test_coco_missing_file_exit_2(tmp_path):
    result = runner.invoke(app, ["eval", "coco", str(tmp_path / "no.json"), str(tmp_path / "x")])
    assert result.exit_code == 2 and "cannot read file" in result.output


def test_coco_warning_is_shown(tmp_path):
    gt = {
        "images": [{"id": 1}],
        "categories": [{"id": 1}],
        "annotations": [
            {"id": 0, "image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5], "area": 25}
        ],
    }
    dets = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 1.0}]
    (tmp_path / "g.json").write_text(json.dumps(gt))
    (tmp_path / "d.json").write_text(json.dumps(dets))
    result = runner.invoke(
        app, ["eval", "coco", str(tmp_path / "g.json"), str(tmp_path / "d.json")]
    )
    assert result.exit_code == 0
    assert "warning: a ground-truth annotation has id 0" in result.output


def test_voc_table_and_json(files, tmp_path):
    gt, dets, gt_path, det_path = files
    out = tmp_path / "voc.json"
    result = runner.invoke(
        app,
        ["eval", "voc", str(gt_path), str(det_path), "--method", "voc07", "--json", str(out)],
    )
    assert result.exit_code == 0, result.output
    want = voc_evaluate(gt, dets, method="voc07")
    assert f"mAP = {want.mean_ap:.3f}" in result.stdout
    assert json.loads(out.read_text()) == want.as_dict()
    np.testing.assert_allclose(json.loads(out.read_text())["mAP"], want.mean_ap)


def test_voc_bad_method_exit_2(files):
    _, _, gt_path, det_path = files
    result = runner.invoke(app, ["eval", "voc", str(gt_path), str(det_path), "--method", "x"])
    assert result.exit_code == 2 and "method must be one of" in result.output


# ---------------------------------------------------------------- masks, keypoints, plots, Dask


def pycoco_lines(gt, dets, iou_type):
    import warnings

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        ev = COCOeval(coco_gt, coco_gt.loadRes(copy.deepcopy(dets)), iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return [line for line in printed.getvalue().splitlines() if line.startswith(" Average")]


def write(tmp_path, gt, dets):
    gt_path, det_path = tmp_path / "gt.json", tmp_path / "dets.json"
    gt_path.write_text(json.dumps(gt))
    det_path.write_text(json.dumps(dets))
    return gt_path, det_path


@pytest.mark.parametrize("iou_type", ["segm", "keypoints"])
def test_masks_and_keypoints_print_pycocotools_summary(tmp_path, iou_type):
    from benchmarks.coco_synth import make_coco_keypoints, make_coco_segm

    if iou_type == "segm":
        gt, dets = make_coco_segm(6, n_categories=3, dets_per_image=10, seed=32)
    else:
        gt, dets = make_coco_keypoints(10, seed=33)
    gt_path, det_path = write(tmp_path, gt, dets)
    out = tmp_path / "out.json"
    args = ["eval", "coco", str(gt_path), str(det_path), "--iou-type", iou_type, "--json", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    got = [line for line in result.stdout.splitlines() if line.startswith(" Average")]
    assert got == pycoco_lines(gt, dets, iou_type)
    assert len(got) == (12 if iou_type == "segm" else 10)
    payload = json.loads(out.read_text())
    want = coco_evaluation(gt, dets, iou_type=iou_type)
    assert payload["iou_type"] == iou_type and payload["stats"] == want.stats
    np.testing.assert_array_equal(payload["precision"], want.precision)
    np.testing.assert_array_equal(payload["recall"], want.recall)
    assert payload["params"]["max_dets"] == list(want.params.max_dets)


def test_plot_writes_a_figure_averaged_or_per_class(files, tmp_path):
    _, _, gt_path, det_path = files
    png, svg = tmp_path / "pr.png", tmp_path / "pr.svg"
    result = runner.invoke(app, ["eval", "coco", str(gt_path), str(det_path), "--plot", str(png)])
    assert result.exit_code == 0, result.output
    assert png.read_bytes().startswith(b"\x89PNG")
    args = ["eval", "coco", str(gt_path), str(det_path), "--plot", str(svg), "--per-class"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert b"<svg" in svg.read_bytes()[:400] and b"class1" in svg.read_bytes()


def test_pr_curves_are_the_precision_array_averaged(files):
    from handgrad.metrics.detection.plots import pr_curve_figure, pr_curves

    gt, dets, _, _ = files
    result = coco_evaluation(gt, dets)
    curves = pr_curves(result)
    assert list(curves) == ["IoU=0.50", "IoU=0.75", "IoU=0.50:0.95"]
    # the mean over recall levels of the 0.50:0.95 curve is COCO's AP (categories all defined)
    assert np.mean(curves["IoU=0.50:0.95"]) == pytest.approx(result.stats["AP"], abs=1e-12)
    per_cat = pr_curves(result, per_category=True)
    np.testing.assert_allclose(
        [np.mean(c) for c in per_cat.values()], result.per_category_ap, rtol=1e-12
    )
    assert len(pr_curve_figure(result).axes[0].lines) == 3


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--iou-type", "mask"],
            "error: iou_type must be one of 'bbox', 'segm', 'keypoints'; got 'mask'",
        ),
        (["--plot", "pr.xyz"], "error: --plot: cannot tell the figure format"),
        (
            ["--plot", "same.png", "--json", "same.png"],
            "error: --json and --plot name the same file",
        ),
    ],
)
def test_bad_options_are_one_line_errors_before_work(files, tmp_path, monkeypatch, extra, message):
    _, _, gt_path, det_path = files
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["eval", "coco", str(gt_path), str(det_path), *extra])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(message), result.output
    assert not (tmp_path / "same.png").exists()


def test_dask_scheduler_without_dask_says_how_to_install(files, monkeypatch):
    import handgrad._dask as dask_module

    _, _, gt_path, det_path = files
    monkeypatch.setattr(dask_module, "dask_available", lambda: False)
    args = ["eval", "coco", str(gt_path), str(det_path), "--dask-scheduler", "tcp://x:1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert (
        result.output.strip() == "error: --dask-scheduler needs Dask: pip install 'handgrad[dask]'"
    )


def test_dask_scheduler_that_does_not_answer_and_one_that_does(files):
    import socket

    distributed = pytest.importorskip("distributed")
    gt, dets, gt_path, det_path = files
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    args = ["eval", "coco", str(gt_path), str(det_path), "--dask-timeout", "1"]
    result = runner.invoke(app, [*args, "--dask-scheduler", address])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(
        f"error: no Dask scheduler answered at '{address}'"
    )
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        result = runner.invoke(app, [*args, "--dask-scheduler", cluster.scheduler_address])
    assert result.exit_code == 0, result.output
    got = [line for line in result.stdout.splitlines() if line.startswith(" Average")]
    assert got == pycoco_lines(gt, dets, "bbox")
