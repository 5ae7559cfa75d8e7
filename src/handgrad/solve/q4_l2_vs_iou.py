"""Q4. L2 loss on box parameters vs IoU."""

from __future__ import annotations

from handgrad.solve.model import Answer

__all__ = ["solve"]

TITLE = "L2 loss on box parameters vs IoU"


def solve(seed: int = 0, figures: bool = True) -> Answer:
    """Compute and check Q4."""
    from handgrad.solve import require

    require("boxes", "same_l2_boxes", "box_iou", "l2_box_loss", "box_convert")
    raise NotImplementedError
