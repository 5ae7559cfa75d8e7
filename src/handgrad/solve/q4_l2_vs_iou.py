"""Q4. L2 loss on box parameters vs IoU.

:func:`handgrad.boxes.same_l2_boxes` builds a family of boxes at one L2 distance from a ground
truth (points on the sphere of radius sqrt(L2) around its (cx, cy, w, h)) with their IoU, GIoU,
DIoU and CIoU; :func:`handgrad.boxes.same_iou_boxes` shows the converse (one IoU, L2 growing with
the scale). Checks: the L2 of every box recomputed by :func:`handgrad.boxes.l2_box_loss`; the IoU
recomputed by the paired :func:`handgrad.boxes.iou_loss` (a second algorithm); and the seed's three
boxes in exact arithmetic with sympy (areas of intersection and union of the exact coordinates).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from handgrad.solve.model import Answer, Figure, check_close

__all__ = ["GT", "L2", "solve"]

TITLE = "L2 loss on box parameters vs IoU"
GT = (0.0, 0.0, 2.0, 2.0)  # the seed's ground truth, (cx, cy, w, h): centred at 0, 2 x 2
L2 = 2.0  # the seed's common L2 loss
N_BOXES = 48


def _exact_iou(box: Any, gt: Any) -> Any:
    """IoU of two (cx, cy, w, h) boxes with exact sympy coordinates: the check's closed form."""
    import sympy

    def sides(b: Any) -> tuple[Any, Any, Any, Any]:
        cx, cy, w, h = b
        return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2

    ax1, ay1, ax2, ay2 = sides(box)
    bx1, by1, bx2, by2 = sides(gt)
    iw = sympy.Max(0, sympy.Min(ax2, bx2) - sympy.Max(ax1, bx1))
    ih = sympy.Max(0, sympy.Min(ay2, by2) - sympy.Max(ay1, by1))
    inter = iw * ih
    union = box[2] * box[3] + gt[2] * gt[3] - inter
    return sympy.radsimp(sympy.nsimplify(inter / union))


def solve(seed: int = 0, figures: bool = True) -> Answer:
    """Compute and check Q4."""
    import sympy

    from handgrad.boxes import box_convert, iou_loss, l2_box_loss, same_iou_boxes, same_l2_boxes

    a = Answer(4, TITLE)
    fam = same_l2_boxes(np.array(GT), L2, N_BOXES, fmt="cxcywh", seed=seed)
    lo, hi = fam.iou_range
    a.formula(
        "L2 loss on (cx, cy, w, h)",
        "L2 = (cx - cx*)^2 + (cy - cy*)^2 + (w - w*)^2 + (h - h*)^2\n"
        "Boxes with one L2 lie on a sphere of radius sqrt(L2) around the ground truth in R^4;\n"
        "IoU = area(A and B) / area(A or B) varies a lot on that sphere.",
    )
    a.text(
        f"Ground truth (cx, cy, w, h) = {GT}, L2 = {L2:g}: {len(fam.boxes)} boxes with exactly this "
        f"L2 have IoU from {lo:.4f} to {hi:.4f} (the first three are the seed's examples)."
    )
    rows: list[list[str | int | float]] = []
    for i in range(min(8, len(fam.boxes))):
        cx, cy, w, h = (float(v) for v in fam.boxes[i])
        rows.append(
            [
                i,
                cx,
                cy,
                w,
                h,
                float(fam.l2_values[i]),
                float(fam.iou[i]),
                float(fam.giou[i]),
                float(fam.diou[i]),
                float(fam.ciou[i]),
            ]
        )
    a.table(
        "The first boxes of the family",
        ["#", "cx", "cy", "w", "h", "L2", "IoU", "GIoU", "DIoU", "CIoU"],
        rows,
        digits=3,
    )
    a.values["gt"] = list(GT)
    a.values["l2"] = L2
    a.values["boxes"] = fam.boxes
    a.values["iou"] = fam.iou
    a.values["iou_range"] = [lo, hi]

    # The seed's three boxes, exactly.
    gt_exact = [sympy.nsimplify(v) for v in GT]
    exact_rows: list[list[str | int | float]] = []
    exact_values = []
    for i in range(3):
        box_exact = [sympy.nsimplify(float(v), [sympy.sqrt(2)]) for v in fam.boxes[i]]
        iou_exact = _exact_iou(box_exact, gt_exact)
        exact_values.append(float(iou_exact))
        exact_rows.append(
            [
                "(" + ", ".join(str(v) for v in box_exact) + ")",
                str(iou_exact),
                float(iou_exact),
                float(fam.iou[i]),
            ]
        )
    a.table(
        "The seed's examples in exact arithmetic",
        ["box (cx, cy, w, h)", "IoU (exact)", "IoU (exact, decimal)", "IoU (library)"],
        exact_rows,
        digits=6,
    )
    a.values["seed_examples_iou_exact"] = [r[1] for r in exact_rows]

    # Any ground truth and any L2: one drawn from the seed.
    rng = np.random.default_rng(seed)
    gt2 = np.concatenate([rng.uniform(-5, 5, 2), rng.uniform(1, 6, 2)])  # (4,) cx, cy, w, h
    l2_2 = float(rng.uniform(0.5, 4.0))
    fam2 = same_l2_boxes(gt2, l2_2, N_BOXES, fmt="cxcywh", seed=seed + 1)
    lo2, hi2 = fam2.iou_range
    a.table(
        "IoU range of a family for other ground truths and L2 values",
        ["ground truth (cx, cy, w, h)", "L2", "boxes", "min IoU", "max IoU"],
        [
            [f"({', '.join(f'{v:.3g}' for v in GT)})", L2, len(fam.boxes), lo, hi],
            [f"({', '.join(f'{v:.3g}' for v in gt2)})", l2_2, len(fam2.boxes), lo2, hi2],
        ],
        digits=4,
    )
    scales = np.array([0.5, 1.0, 2.0, 4.0, 8.0])  # (5,)
    same = same_iou_boxes(np.array(GT), 0.5, scales, fmt="cxcywh")
    a.table(
        "The converse: one IoU (0.5), concentric boxes at growing scale; L2 grows as scale^2",
        ["scale", "IoU", "L2"],
        [
            [float(s), float(i), float(v)]
            for s, i, v in zip(same.scales, same.iou, same.l2, strict=True)
        ],
        digits=5,
    )
    a.text(
        "L2 treats the four numbers as independent and is not scale invariant; IoU measures the "
        "overlap of areas and is. This motivates the IoU loss family (IoU, GIoU, DIoU, CIoU)."
    )

    # Checks.
    gts = np.tile(np.array(GT), (len(fam.boxes), 1))  # (n, 4)
    a.checks.append(
        check_close(
            "every box of the family has L2 = the requested value",
            np.asarray(l2_box_loss(fam.boxes, gts, fmt="cxcywh")),
            np.full(len(fam.boxes), L2),
            method="l2_box_loss on the boxes",
            tolerance=1e-14,
        )
    )
    a.checks.append(
        check_close(
            "IoU of the family = 1 - iou_loss(eps = 0)",
            fam.iou,
            1.0 - np.asarray(iou_loss(fam.boxes, gts, eps=0.0, fmt="cxcywh")),
            method="second algorithm: the paired IoU loss kernel",
            tolerance=1e-14,
        )
    )
    a.checks.append(
        check_close(
            "IoU of the seed's three boxes",
            fam.iou[:3],
            np.array(exact_values),
            method="exact arithmetic (sympy): intersection and union areas",
            tolerance=1e-14,
        )
    )
    gts2 = np.tile(gt2, (len(fam2.boxes), 1))  # (n, 4)
    a.checks.append(
        check_close(
            "random ground truth: L2 of every box and IoU via the paired kernel",
            np.concatenate([np.asarray(l2_box_loss(fam2.boxes, gts2, fmt="cxcywh")), fam2.iou]),
            np.concatenate(
                [
                    np.full(len(fam2.boxes), l2_2),
                    1.0 - np.asarray(iou_loss(fam2.boxes, gts2, eps=0.0, fmt="cxcywh")),
                ]
            ),
            method="l2_box_loss and iou_loss",
            tolerance=1e-13,
        )
    )
    if figures:
        from handgrad.solve.figures import same_l2_boxes_figure

        gt_xyxy = [float(v) for v in box_convert(np.array(GT), "cxcywh", "xyxy")]
        boxes_xyxy = box_convert(fam.boxes, "cxcywh", "xyxy")
        curves = {"IoU": fam.iou, "GIoU": fam.giou, "DIoU": fam.diou, "CIoU": fam.ciou}
        a.figures.append(
            Figure(
                "same-l2-boxes",
                f"Boxes with the same L2 loss ({L2:g}) against the ground truth, and their overlap",
                same_l2_boxes_figure(gt_xyxy, boxes_xyxy, curves, L2),
                f"IoU spans {lo:.3f} to {hi:.3f} although every box has the same L2 loss.",
            )
        )
    return a
