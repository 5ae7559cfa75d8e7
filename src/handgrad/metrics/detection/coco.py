"""COCO evaluation equal to pycocotools' ``COCOeval`` for every ``iouType``: bbox, segm, keypoints.

``coco_evaluate(coco_gt, detections, iou_type="bbox", **params)`` returns the summary numbers of
``COCOeval.summarize()``: for "bbox" and "segm" the 12 of "AP", "AP50", "AP75", "AP_small",
"AP_medium", "AP_large", "AR1", "AR10", "AR100", "AR_small", "AR_medium", "AR_large"; for
"keypoints" the 10 of "AP", "AP50", "AP75", "AP_medium", "AP_large", "AR", "AR50", "AR75",
"AR_medium", "AR_large" (see :mod:`~handgrad.metrics.detection.evaluation`).
``coco_evaluation`` returns a :class:`~.evaluation.CocoEvaluation` with the full arrays;
``coco_eval_state`` returns the mergeable per-image state (see :mod:`~.state`), which
:func:`~.accumulate.accumulate` turns into the result.

Differences: an empty detection list is accepted (pycocotools crashes): every defined AP and AR is
0. Malformed inputs, and detections naming images or categories the ground truth does not list,
raise ``ValueError`` instead of being dropped or asserting: masks whose size is not their image's
or whose counts do not cover it (pycocotools reads past them), keypoints whose length is not
3 K. Mask results without a ``bbox`` may be polygons or uncompressed RLE as well as compressed
RLE (pycocotools' ``loadRes`` takes only compressed RLE there); a ground-truth object without
``num_keypoints`` counts its labelled keypoints (pycocotools needs the field).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from handgrad.metrics.detection.accumulate import accumulate
from handgrad.metrics.detection.detections import load_detections
from handgrad.metrics.detection.evaluation import CocoEvaluation
from handgrad.metrics.detection.inputs import load_coco_ground_truth
from handgrad.metrics.detection.params import make_params
from handgrad.metrics.detection.state import CocoEvalState, build_state

__all__ = ["coco_eval_state", "coco_evaluate", "coco_evaluation"]


def coco_eval_state(
    coco_gt: Any,
    detections: Any,
    *,
    iou_type: str = "bbox",
    progress: Callable[[str, float], None] | None = None,
    **params: Any,
) -> CocoEvalState:
    """Match detections to ground truth and return the mergeable state (pycocotools' evaluate).

    Parameters
    ----------
    coco_gt : dict, path or CocoGroundTruth
        COCO ground truth.
    detections : list of dict, path, (N, 7) array, dict of arrays or Detections
        See :mod:`~handgrad.metrics.detection.detections`.
    iou_type : {"bbox", "segm", "keypoints"}
        pycocotools' ``iouType``: compare boxes, masks or keypoints.
    progress : callable, optional
        Called as ``progress(stage, fraction)`` while matching; the CLI draws a progress bar.
    **params
        Overrides of :class:`~.params.CocoParams`: ``iou_thrs``, ``rec_thrs``, ``max_dets``,
        ``area_rng``, ``area_rng_lbl``, ``img_ids``, ``cat_ids``, and for keypoints ``sigmas``.
        Shard a big evaluation with ``img_ids``.

    Examples
    --------
    Split an evaluation by images (across processes or cluster workers), then merge; the
    result equals the single pass exactly::

        shards = np.array_split(np.unique(image_ids), 8)
        parts = [coco_eval_state(gt, dets, img_ids=ids) for ids in shards]
        stats = accumulate(merge_states(parts)).stats  # == coco_evaluate(gt, dets)
    """
    gt = load_coco_ground_truth(coco_gt, iou_type=iou_type)
    dets = load_detections(detections, gt, iou_type=iou_type)
    p = make_params(gt.image_ids, gt.category_ids, iou_type, **params)
    return build_state(gt, dets, p, progress)


def coco_evaluation(
    coco_gt: Any,
    detections: Any,
    *,
    iou_type: str = "bbox",
    progress: Callable[[str, float], None] | None = None,
    **params: Any,
) -> CocoEvaluation:
    """COCO evaluation with the full precision / recall / scores arrays.

    Same arguments as :func:`coco_eval_state`. Equal to pycocotools' ``evaluate()`` and
    ``accumulate()`` (the arrays of ``COCOeval.eval``) on every input pycocotools accepts.
    """
    state = coco_eval_state(coco_gt, detections, iou_type=iou_type, progress=progress, **params)
    return accumulate(state)


def coco_evaluate(
    coco_gt: Any,
    detections: Any,
    *,
    iou_type: str = "bbox",
    progress: Callable[[str, float], None] | None = None,
    **params: Any,
) -> dict[str, float]:
    """The COCO summary numbers, equal to pycocotools' ``COCOeval.stats``.

    Parameters
    ----------
    coco_gt : dict, path or CocoGroundTruth
        COCO ground truth (``images``, ``categories``, ``annotations`` with ``id``, ``image_id``,
        ``category_id``, ``bbox`` = [x, y, w, h], ``area``, optional ``iscrowd``; for "segm" a
        ``segmentation`` and image ``height`` / ``width``, for "keypoints" ``keypoints``).
    detections : list of dict, path, (N, 7) array, dict of arrays or Detections
        Detections (``image_id``, ``category_id``, ``score`` and ``bbox``, ``segmentation`` or
        ``keypoints``); may be empty.
    iou_type : {"bbox", "segm", "keypoints"}
        What is compared: boxes (IoU), masks (mask IoU; crowd regions: intersection over the
        detection's area) or keypoints (OKS). Anything else is a ``ValueError`` naming it.
    progress : callable, optional
        ``progress(stage, fraction)`` callback.
    **params
        ``iou_thrs``, ``rec_thrs``, ``max_dets``, ``area_rng``, ``area_rng_lbl``, ``img_ids``,
        ``cat_ids`` (pycocotools' ``Params`` in snake case), ``sigmas`` (keypoints).

    Returns
    -------
    dict
        For "bbox" and "segm": "AP" (mean over IoU thresholds, recall levels and categories of
        the interpolated precision :math:`p(r) = \\max_{r' \\ge r} P(r')`), "AP50", "AP75",
        "AP_small", "AP_medium", "AP_large", "AR1", "AR10", "AR100", "AR_small", "AR_medium",
        "AR_large". For "keypoints": "AP", "AP50", "AP75", "AP_medium", "AP_large", "AR",
        "AR50", "AR75", "AR_medium", "AR_large" (at 20 detections per image). -1 where nothing
        is defined, as pycocotools.

    Warns
    -----
    DetectionEvalWarning
        Annotation id 0, more boxes in an (image, category) than ``max(max_dets)``, repeated
        annotation ids, IoU thresholds that are not exactly the grid values.

    References
    ----------
    Lin et al., "Microsoft COCO: Common Objects in Context", ECCV 2014; pycocotools'
    ``cocoeval.py``.
    """
    return coco_evaluation(
        coco_gt, detections, iou_type=iou_type, progress=progress, **params
    ).stats
