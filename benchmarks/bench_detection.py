"""COCO bounding-box evaluation: handgrad vs pycocotools and faster-coco-eval (C++).

Every callable goes from the same in-memory ground-truth dict and result list to the 12 summary
numbers (pycocotools and faster-coco-eval: COCO index, loadRes, evaluate, accumulate, summarize).
The anchors add keys to the dicts they are given ("ignore", "area", "id", ...), which a later call
recomputes identically; each library gets its own copy, made once outside the timed region. The full-size case has
COCO val2017's shape (5000 images, 80 categories, ~7 boxes and 100 detections per image, ~1% crowd);
pycocotools takes minutes there, so it runs once without warm-up.
"""

from __future__ import annotations

import contextlib
import copy
import io
from collections.abc import Callable
from typing import Any

from benchmarks.coco_synth import make_coco
from benchmarks.harness import Case
from handgrad.metrics import coco_evaluate


def _pycocotools(gt: dict[str, Any], dets: list[dict[str, Any]]) -> Callable[[], Any]:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    g, d = copy.deepcopy(gt), copy.deepcopy(dets)

    def run() -> Any:
        with contextlib.redirect_stdout(io.StringIO()):
            coco_gt = COCO()
            coco_gt.dataset = g
            coco_gt.createIndex()
            ev = COCOeval(coco_gt, coco_gt.loadRes(d), "bbox")
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        return ev.stats

    return run


def _faster_coco_eval(gt: dict[str, Any], dets: list[dict[str, Any]]) -> Callable[[], Any]:
    from faster_coco_eval import COCO, COCOeval_faster

    g, d = copy.deepcopy(gt), copy.deepcopy(dets)

    def run() -> Any:
        with contextlib.redirect_stdout(io.StringIO()):
            coco_gt = COCO(g)
            ev = COCOeval_faster(coco_gt, coco_gt.loadRes(d), "bbox")
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        return ev.stats

    return run


def _faster_coco_eval_preloaded(
    gt: dict[str, Any], dets: list[dict[str, Any]]
) -> Callable[[], Any]:
    """faster-coco-eval's evaluate + accumulate + summarize only: its loading is done here."""
    from faster_coco_eval import COCO, COCOeval_faster

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(copy.deepcopy(gt))
        coco_dt = coco_gt.loadRes(copy.deepcopy(dets))

    def run() -> Any:
        with contextlib.redirect_stdout(io.StringIO()):
            ev = COCOeval_faster(coco_gt, coco_dt, "bbox")
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        return ev.stats

    return run


def _strict_case(n_images: int) -> Case:
    gt, dets = make_coco(n_images, seed=2026)
    return Case(
        area="detection",
        name=(
            f"coco_evaluate {n_images} images, handgrad from dicts vs faster-coco-eval "
            "evaluate+accumulate only (its loading untimed)"
        ),
        ours=lambda: coco_evaluate(gt, dets),
        anchors={"faster-coco-eval": _faster_coco_eval_preloaded(gt, dets)},
        targets={"faster-coco-eval": 1.0},
        repeats=1,
        warmup=0,
    )


def _case(n_images: int, repeats: int, warmup: int, with_pycocotools: bool = True) -> Case:
    gt, dets = make_coco(n_images, seed=2026)
    anchors = {"faster-coco-eval": _faster_coco_eval(gt, dets)}
    targets = {"faster-coco-eval": 1.0}
    if with_pycocotools:
        anchors["pycocotools"] = _pycocotools(gt, dets)
        targets["pycocotools"] = 1 / 12
    return Case(
        area="detection",
        name=f"coco_evaluate {n_images} images x 80 categories, {100 * n_images} detections",
        ours=lambda: coco_evaluate(gt, dets),
        anchors=anchors,
        targets=targets,
        repeats=repeats,
        warmup=warmup,
    )


def cases() -> list[Case]:
    return [
        _case(500, repeats=3, warmup=1),
        _case(5000, repeats=1, warmup=0),
        _strict_case(5000),
    ]
