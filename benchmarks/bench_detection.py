"""COCO evaluation: handgrad vs pycocotools and faster-coco-eval (C++), for boxes, masks and
keypoints; the RLE decision; memory on LVIS-sized result files.

Every callable goes from the same in-memory ground-truth dict and result list to the summary
numbers (pycocotools and faster-coco-eval: COCO index, loadRes, evaluate, accumulate, summarize).
The anchors add keys to the dicts they are given ("ignore", "area", "id", ...), which a later call
recomputes identically; each library gets its own copy, made once outside the timed region. The
full-size cases have COCO val2017's shape (5000 images, 80 categories, ~7 objects and 100
detections per image, ~1% crowd; masks: polygons in the ground truth, crowd regions and results
as RLE; keypoints: ~4 people per image, 20 results); pycocotools takes minutes there, so it runs
on 500 images for masks and keypoints.

The mask-operation case times what a segm evaluation does with masks (decode every result's
compressed RLE and take its area, rasterise the ground-truth polygons, IoU of the pairs of one
image and category) in handgrad's NumPy against pycocotools' C mask API (``pycocotools.mask``),
the alternative dependency. The file cases run each evaluation in a fresh process, from JSON
files, and put each process's peak memory (``VmHWM``, Linux) in the case name.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.coco_synth import make_coco, make_coco_keypoints, make_coco_segm, write_coco_files
from benchmarks.harness import Case
from handgrad.metrics import coco_evaluate


def _fresh(
    gt: dict[str, Any], dets: list[dict[str, Any]], iou_type: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """For masks and keypoints, shallow copies of the annotations and results (timed: under 1%
    of the anchors' time): the anchors replace a polygon by its RLE and add a box array to
    each result, which would spare (or break) their next call."""
    if iou_type == "bbox":
        return gt, dets
    return {**gt, "annotations": [dict(a) for a in gt["annotations"]]}, [dict(d) for d in dets]


def _pycocotools(
    gt: dict[str, Any], dets: list[dict[str, Any]], iou_type: str = "bbox"
) -> Callable[[], Any]:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    g0, d0 = copy.deepcopy(gt), copy.deepcopy(dets)

    def run() -> Any:
        g, d = _fresh(g0, d0, iou_type)
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # its mask decode, NumPy 2
            coco_gt = COCO()
            coco_gt.dataset = g
            coco_gt.createIndex()
            ev = COCOeval(coco_gt, coco_gt.loadRes(d), iou_type)
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        return ev.stats

    return run


def _faster_coco_eval(
    gt: dict[str, Any], dets: list[dict[str, Any]], iou_type: str = "bbox"
) -> Callable[[], Any]:
    from faster_coco_eval import COCO, COCOeval_faster

    g0, d0 = copy.deepcopy(gt), copy.deepcopy(dets)

    def run() -> Any:
        g, d = _fresh(g0, d0, iou_type)
        with contextlib.redirect_stdout(io.StringIO()):
            coco_gt = COCO(g)
            ev = COCOeval_faster(coco_gt, coco_gt.loadRes(d), iou_type)
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


def _segm_case(n_images: int, with_pycocotools: bool) -> Case:
    gt, dets = make_coco_segm(n_images, seed=2026)
    anchors = {"faster-coco-eval": _faster_coco_eval(gt, dets, "segm")}
    targets = {"faster-coco-eval": 1.0}
    if with_pycocotools:
        anchors["pycocotools"] = _pycocotools(gt, dets, "segm")
    return Case(
        area="detection",
        name=f"coco_evaluate segm {n_images} images, {len(dets)} results as compressed RLE",
        ours=lambda: coco_evaluate(gt, dets, iou_type="segm"),
        anchors=anchors,
        targets=targets,
        repeats=1,
        warmup=0,
    )


def _keypoint_case(n_images: int, with_pycocotools: bool) -> Case:
    gt, dets = make_coco_keypoints(n_images, seed=2026)
    anchors = {"faster-coco-eval": _faster_coco_eval(gt, dets, "keypoints")}
    if with_pycocotools:
        anchors["pycocotools"] = _pycocotools(gt, dets, "keypoints")
    return Case(
        area="detection",
        name=f"coco_evaluate keypoints {n_images} images, {len(dets)} results",
        ours=lambda: coco_evaluate(gt, dets, iou_type="keypoints"),
        anchors=anchors,
        repeats=1,
        warmup=0,
    )


def _mask_ops_case(n_images: int) -> Case:
    """The RLE decision: handgrad's NumPy mask operations vs pycocotools' C mask API."""
    from pycocotools import mask as mask_api

    from handgrad.metrics.detection.rle import pair_intersections
    from handgrad.metrics.detection.segmentation import masks_from_segmentations

    gt, dets = make_coco_segm(n_images, seed=2026)
    h, w = gt["images"][0]["height"], gt["images"][0]["width"]
    anns = gt["annotations"]
    d_segm = [d["segmentation"] for d in dets]
    g_segm = [a["segmentation"] for a in anns]
    crowd = np.array([a["iscrowd"] for a in anns], dtype=bool)
    d_key = np.array([d["image_id"] * 10**6 + d["category_id"] for d in dets])
    g_key = np.array([a["image_id"] * 10**6 + a["category_id"] for a in anns])
    groups: dict[int, tuple[list[int], list[int]]] = {}
    for i, k in enumerate(d_key.tolist()):
        groups.setdefault(k, ([], []))[0].append(i)
    for j, k in enumerate(g_key.tolist()):
        groups.setdefault(k, ([], []))[1].append(j)
    pairs = [(i, j) for di, gj in groups.values() for i in di for j in gj]
    pd, pg = (np.array([p[k] for p in pairs], dtype=np.int64) for k in (0, 1))

    def numpy_ops() -> float:
        dm = masks_from_segmentations(d_segm, np.full(len(dets), h), np.full(len(dets), w), str)
        gm = masks_from_segmentations(g_segm, np.full(len(anns), h), np.full(len(anns), w), str)
        db, gb = dm.bbox[pd], gm.bbox[pg]
        ww = np.minimum(db[:, 0] + db[:, 2], gb[:, 0] + gb[:, 2]) - np.maximum(db[:, 0], gb[:, 0])
        hh = np.minimum(db[:, 1] + db[:, 3], gb[:, 1] + gb[:, 3]) - np.maximum(db[:, 1], gb[:, 1])
        near = (ww > 0) & (hh > 0)
        inter = np.zeros(pd.size, dtype=np.int64)
        inter[near] = pair_intersections(dm, pd[near], gm, pg[near])
        da, ga = dm.area[pd], gm.area[pg]
        union = np.where(crowd[pg], da, da + ga - inter)
        return float(np.sum(np.where(inter > 0, inter / np.maximum(union, 1), 0.0)))

    def pycocotools_ops() -> float:
        # its area() of a list of more than 255 masks overflows a uint8 under NumPy 2
        for lo in range(0, len(d_segm), 255):
            mask_api.area(d_segm[lo : lo + 255])
        g_rle = [
            mask_api.merge(mask_api.frPyObjects(s, h, w))
            if isinstance(s, list)
            else mask_api.frPyObjects(s, h, w)
            for s in g_segm
        ]
        total = 0.0
        for di, gj in groups.values():
            if di and gj:
                iou = mask_api.iou([d_segm[i] for i in di], [g_rle[j] for j in gj], crowd[gj])
                total += float(np.sum(iou))
        return total

    return Case(
        area="detection",
        name=(
            f"RLE decision: segm mask operations, {n_images} images ({len(dets)} results, "
            f"{len(anns)} objects, {len(pairs)} pairs): decode + area, rasterise, IoU"
        ),
        ours=numpy_ops,
        anchors={"pycocotools.mask (C)": pycocotools_ops},
        notes={"pycocotools.mask (C)": "informational: the alternative dependency"},
        repeats=1,
        warmup=0,
    )


# The child's own peak: VmHWM of its address space. (ru_maxrss would count the parent's pages
# that a forked child shares before exec: the benchmark process's, gigabytes here.)
_PEAK = """
def peak_kib():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
"""
_OURS_CHILD = (
    _PEAK
    + """
import sys
from handgrad.metrics import coco_evaluate
coco_evaluate(sys.argv[1], sys.argv[2])
print(peak_kib())
"""
)
_FCE_CHILD = (
    _PEAK
    + """
import contextlib, io, sys
from faster_coco_eval import COCO, COCOeval_faster
with contextlib.redirect_stdout(io.StringIO()):
    gt = COCO(sys.argv[1])
    ev = COCOeval_faster(gt, gt.loadRes(sys.argv[2]), "bbox")
    ev.evaluate(); ev.accumulate(); ev.summarize()
print(peak_kib())
"""
)


def _file_case(n_images: int, streamed_anchor: bool) -> Case:
    """Evaluation from JSON files in a fresh process; peak memory of each goes in the name."""
    folder = tempfile.TemporaryDirectory(prefix="handgrad-bench-")  # removed with the case
    gt_path = os.path.join(folder.name, "gt.json")
    det_path = os.path.join(folder.name, "dets.json")
    n = write_coco_files(
        gt_path, det_path, n_images, n_categories=1203, gt_per_image=12, dets_per_image=250
    )
    peaks: dict[str, float] = {}

    def child(label: str, code: str, env: dict[str, str] | None = None) -> Callable[[], None]:
        def run() -> None:
            assert folder  # keeps the files while the case lives
            out = subprocess.run(
                [sys.executable, "-c", code, gt_path, det_path],
                check=True,
                capture_output=True,
                text=True,
                env={**os.environ, **(env or {})},
            )
            peaks[label] = max(peaks.get(label, 0.0), int(out.stdout.split()[-1]) / 2**20)
            case.name = (
                f"{title} (peak memory: "
                + ", ".join(f"{k} {v:.2f} GB" for k, v in peaks.items())
                + ")"
            )

        return run

    title = f"coco_evaluate from JSON files, {n} box results, {n_images} images x 1203 categories"
    anchors = {}
    if streamed_anchor:  # the same evaluation reading the whole file with json.load
        no_stream = _OURS_CHILD.replace(
            "from handgrad.metrics import coco_evaluate",
            "from handgrad.metrics import coco_evaluate\n"
            "import handgrad.metrics.detection.streaming as s; s.STREAM_BYTES = 2**62",
        )
        anchors["handgrad, json.load"] = child("handgrad, json.load", no_stream)
        notes = {"handgrad, json.load": "informational: without streaming"}
        targets = {}
    else:
        anchors["faster-coco-eval"] = child("faster-coco-eval", _FCE_CHILD)
        notes, targets = {}, {"faster-coco-eval": 1.0}
    case = Case(
        area="detection",
        name=title,
        ours=child("handgrad", _OURS_CHILD),
        anchors=anchors,
        targets=targets,
        notes=notes,
        repeats=1,
        warmup=0,
    )
    return case


def cases() -> list[Case]:
    return [
        _case(500, repeats=3, warmup=1),
        _case(5000, repeats=1, warmup=0),
        _strict_case(5000),
        _segm_case(500, with_pycocotools=True),
        _segm_case(5000, with_pycocotools=False),
        _mask_ops_case(5000),
        _keypoint_case(500, with_pycocotools=True),
        _keypoint_case(5000, with_pycocotools=False),
        _file_case(4000, streamed_anchor=False),
        _file_case(20000, streamed_anchor=True),
    ]
