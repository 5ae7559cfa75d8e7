"""Detection evaluation: COCO (equal to pycocotools) and PASCAL VOC, with a mergeable state.

Modules: :mod:`~.inputs` (loading and validating COCO dicts / JSON and detections),
:mod:`~.params` (evaluation parameters), :mod:`~.matching` (vectorised greedy matching),
:mod:`~.state` (mergeable per-detection state), :mod:`~.accumulate` (precision / recall arrays),
:mod:`~.coco` (evaluation, summary, result object), :mod:`~.voc` (PASCAL VOC AP).
"""

from handgrad.metrics.detection.coco import (
    STAT_NAMES,
    CocoEvaluation,
    coco_eval_state,
    coco_evaluate,
    coco_evaluation,
)
from handgrad.metrics.detection.inputs import (
    CocoGroundTruth,
    DetectionEvalWarning,
    Detections,
    load_coco_ground_truth,
    load_detections,
)
from handgrad.metrics.detection.params import CocoParams
from handgrad.metrics.detection.state import CocoEvalState, merge_states
from handgrad.metrics.detection.voc import VocEvaluation, voc_ap, voc_evaluate

__all__ = [
    "STAT_NAMES",
    "CocoEvalState",
    "CocoEvaluation",
    "CocoGroundTruth",
    "CocoParams",
    "DetectionEvalWarning",
    "Detections",
    "VocEvaluation",
    "coco_eval_state",
    "coco_evaluate",
    "coco_evaluation",
    "load_coco_ground_truth",
    "load_detections",
    "merge_states",
    "voc_ap",
    "voc_evaluate",
]
