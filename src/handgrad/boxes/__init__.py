"""Boxes: formats, pairwise IoU family, paired box losses with hand-derived gradients.

Boxes are (..., 4) arrays, "xyxy" (x1, y1, x2, y2) by default; "xywh" and "cxcywh" are accepted
wherever a ``fmt`` argument exists. Values follow torchvision's definitions; gradients are
w.r.t. the first argument (``pred``), in its format, and agree with torch autograd on the same
formulas, ties included (min / max split the gradient equally).

Modules
-------
:mod:`~handgrad.boxes.formats`       box_convert (+ Jacobian, backward), box_area
:mod:`~handgrad.boxes.pairwise`      box_iou, generalized_box_iou, distance_box_iou, complete_box_iou
:mod:`~handgrad.boxes.losses`        iou / log_iou / giou / diou / ciou losses (+ _grad, _and_grad)
:mod:`~handgrad.boxes.coord_losses`  l2_box_loss, smooth_l1_box_loss (+ _grad, _and_grad)
:mod:`~handgrad.boxes._kernel`       the blocked, threaded driver of the IoU-family losses
:mod:`~handgrad.boxes._iou_family`   their math: shared part, a forward / backward per loss

The assignment's question 4 families (``same_l2_boxes``, ``same_iou_boxes`` and their result
types) live beside their only user, :mod:`handgrad.solve.q4_boxes`; they stay importable from here.
"""

from typing import Any

from handgrad.boxes import coord_losses, formats, losses, pairwise
from handgrad.boxes.coord_losses import *  # noqa: F403
from handgrad.boxes.formats import *  # noqa: F403
from handgrad.boxes.losses import *  # noqa: F403
from handgrad.boxes.pairwise import *  # noqa: F403

__all__ = [
    *formats.__all__,
    *pairwise.__all__,
    *losses.__all__,
    *coord_losses.__all__,
]

_QUESTION_4 = ("SameIoUBoxes", "SameL2Boxes", "same_iou_boxes", "same_l2_boxes")


def __getattr__(name: str) -> Any:
    """``boxes.same_l2_boxes`` and the other question-4 names, imported on first use."""
    if name in _QUESTION_4:
        from handgrad.solve import q4_boxes

        return getattr(q4_boxes, name)
    raise AttributeError(f"module 'handgrad.boxes' has no attribute {name!r}")
