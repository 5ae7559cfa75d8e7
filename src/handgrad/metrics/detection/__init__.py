"""Detection evaluation: COCO (equal to pycocotools for boxes, masks and keypoints) and PASCAL
VOC, with a mergeable state.

Modules: :mod:`~.inputs` (ground truth), :mod:`~.detections` (results), :mod:`~.segmentation`,
:mod:`~.rle` and :mod:`~.polygons` (masks, NumPy equal to pycocotools' mask API; public functions
in :mod:`~.masks`), :mod:`~.keypoints` (OKS), :mod:`~.params` (evaluation parameters),
:mod:`~.similarity` (IoU / OKS of pairs), :mod:`~.matching` (vectorised greedy matching),
:mod:`~.state` (mergeable per-detection state), :mod:`~.accumulate` (precision / recall arrays),
:mod:`~.evaluation` (result and summary), :mod:`~.coco` (the entry points),
:mod:`~.distributed` (shards on a Dask cluster), :mod:`~.plots` (PR curves),
:mod:`~.voc` (PASCAL VOC AP).
"""

from handgrad.metrics.detection.accumulate import accumulate
from handgrad.metrics.detection.coco import coco_eval_state, coco_evaluate, coco_evaluation
from handgrad.metrics.detection.detections import Detections, load_detections
from handgrad.metrics.detection.evaluation import (
    KEYPOINT_STAT_NAMES,
    STAT_NAMES,
    CocoEvaluation,
    stat_names,
)
from handgrad.metrics.detection.inputs import (
    IOU_TYPES,
    CocoGroundTruth,
    DetectionEvalWarning,
    load_coco_ground_truth,
)
from handgrad.metrics.detection.keypoints import COCO_PERSON_SIGMAS
from handgrad.metrics.detection.params import CocoParams
from handgrad.metrics.detection.state import CocoEvalState, build_state, merge_states
from handgrad.metrics.detection.voc import VocEvaluation, voc_ap, voc_evaluate

__all__ = [
    "COCO_PERSON_SIGMAS",
    "IOU_TYPES",
    "KEYPOINT_STAT_NAMES",
    "STAT_NAMES",
    "CocoEvalState",
    "CocoEvaluation",
    "CocoGroundTruth",
    "CocoParams",
    "DetectionEvalWarning",
    "Detections",
    "VocEvaluation",
    "accumulate",
    "build_state",
    "coco_eval_state",
    "coco_evaluate",
    "coco_evaluation",
    "load_coco_ground_truth",
    "load_detections",
    "merge_states",
    "stat_names",
    "voc_ap",
    "voc_evaluate",
]
