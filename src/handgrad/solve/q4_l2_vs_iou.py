"""Q4. L2 loss on box parameters vs IoU.

:func:`~handgrad.solve.q4_boxes.same_l2_boxes` builds a family of boxes at one L2 distance from a ground
truth (points on the sphere of radius sqrt(L2) around its (cx, cy, w, h)) with their IoU, GIoU,
DIoU and CIoU; :func:`~handgrad.solve.q4_boxes.same_iou_boxes` shows the converse (one IoU, L2 growing with
the scale). Checks: the L2 of every box recomputed by :func:`handgrad.boxes.l2_box_loss`; the IoU
recomputed by the paired :func:`handgrad.boxes.iou_loss` (a second algorithm); and the seed's three
boxes in exact arithmetic with sympy (areas of intersection and union of the exact coordinates).

:func:`compute` builds the families and the independent routes, :func:`checks` compares them,
:func:`render` writes the answer; :func:`solve` runs the three. sympy is imported where it is used,
as :func:`handgrad.conv.conv_matrix` does: it takes longer to import than the rest of the package,
and ``handgrad``'s other commands load this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from handgrad import boxes
from handgrad.solve.figures import same_l2_boxes_figure
from handgrad.solve.model import Answer, Cell, Check, Figure, FloatArray, check_close
from handgrad.solve.q4_boxes import SameIoUBoxes, SameL2Boxes, same_iou_boxes, same_l2_boxes

if TYPE_CHECKING:
    import sympy

__all__ = ["GT", "L2", "Q4Result", "checks", "compute", "render", "solve"]

TITLE = "L2 loss on box parameters vs IoU"
GT = (0.0, 0.0, 2.0, 2.0)  # the seed's ground truth, (cx, cy, w, h): centred at 0, 2 x 2
L2 = 2.0  # the seed's common L2 loss
N_BOXES = 48
SAME_IOU = 0.5  # the converse: one IoU at growing scales
SCALES = (0.5, 1.0, 2.0, 4.0, 8.0)


@dataclass(frozen=True)
class Routes:
    """A family's L2 and IoU recomputed by the paired box losses (n boxes)."""

    l2: FloatArray  # (n,) boxes.l2_box_loss of each box against the ground truth
    iou: FloatArray  # (n,) 1 - boxes.iou_loss(eps = 0) of each box


@dataclass(frozen=True)
class Q4Result:
    """The seed's family, its exact examples, a family drawn from the seed, and the converse."""

    family: SameL2Boxes  # GT and L2: N_BOXES boxes (cx, cy, w, h) and their IoU family
    routes: Routes  # the same family through the paired losses
    exact_boxes: tuple[tuple[sympy.Expr, ...], ...]  # (3, 4) the seed's boxes, exact coordinates
    exact_iou: tuple[sympy.Expr, ...]  # (3,) their IoU with GT in exact arithmetic
    other_gt: FloatArray  # (4,) a ground truth (cx, cy, w, h) drawn from the seed
    other_l2: float  # an L2 value drawn from the seed
    other_family: SameL2Boxes  # N_BOXES boxes at other_l2 from other_gt
    other_routes: Routes
    same_iou: SameIoUBoxes  # IoU SAME_IOU at each of SCALES

    @property
    def seed_examples(self) -> FloatArray:
        """(3,) the library's IoU of the seed's three boxes (the first of the family)."""
        return self.family.iou[:3]


def _exact_iou(box: tuple[sympy.Expr, ...], gt: tuple[sympy.Expr, ...]) -> sympy.Expr:
    """IoU of two (cx, cy, w, h) boxes with exact sympy coordinates: the check's closed form."""
    import sympy

    def sides(b: tuple[sympy.Expr, ...]) -> tuple[sympy.Expr, ...]:
        cx, cy, w, h = b
        return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2

    ax1, ay1, ax2, ay2 = sides(box)
    bx1, by1, bx2, by2 = sides(gt)
    iw = sympy.Max(0, sympy.Min(ax2, bx2) - sympy.Max(ax1, bx1))
    ih = sympy.Max(0, sympy.Min(ay2, by2) - sympy.Max(ay1, by1))
    inter = iw * ih
    union = box[2] * box[3] + gt[2] * gt[3] - inter
    return sympy.radsimp(sympy.nsimplify(inter / union))


def _routes(fam: SameL2Boxes) -> Routes:
    gts = np.tile(fam.gt, (len(fam.boxes), 1))  # (n, 4)
    return Routes(
        l2=np.asarray(boxes.l2_box_loss(fam.boxes, gts, fmt="cxcywh"), dtype=np.float64),
        iou=1.0 - np.asarray(boxes.iou_loss(fam.boxes, gts, eps=0.0, fmt="cxcywh")),
    )


def compute(seed: int = 0) -> Q4Result:
    """The families with the library, their L2 and IoU by the paired losses, the exact IoU."""
    import sympy

    fam = same_l2_boxes(np.array(GT), L2, N_BOXES, fmt="cxcywh", seed=seed)
    gt_exact = tuple(sympy.nsimplify(v) for v in GT)
    exact_boxes = tuple(
        tuple(sympy.nsimplify(float(v), [sympy.sqrt(2)]) for v in fam.boxes[i]) for i in range(3)
    )
    # Any ground truth and any L2: one drawn from the seed.
    rng = np.random.default_rng(seed)
    other_gt = np.concatenate([rng.uniform(-5, 5, 2), rng.uniform(1, 6, 2)])  # (4,) cx, cy, w, h
    other_l2 = float(rng.uniform(0.5, 4.0))
    other = same_l2_boxes(other_gt, other_l2, N_BOXES, fmt="cxcywh", seed=seed + 1)
    return Q4Result(
        family=fam,
        routes=_routes(fam),
        exact_boxes=exact_boxes,
        exact_iou=tuple(_exact_iou(b, gt_exact) for b in exact_boxes),
        other_gt=other_gt,
        other_l2=other_l2,
        other_family=other,
        other_routes=_routes(other),
        same_iou=same_iou_boxes(np.array(GT), SAME_IOU, np.array(SCALES), fmt="cxcywh"),
    )


def checks(r: Q4Result) -> list[Check]:
    """L2 and IoU of both families through the paired losses; the seed's boxes exactly."""
    fam, other = r.family, r.other_family
    return [
        check_close(
            "every box of the family has L2 = the requested value",
            r.routes.l2,
            np.full(len(fam.boxes), L2),
            method="l2_box_loss on the boxes",
            tolerance=1e-14,
        ),
        check_close(
            "IoU of the family = 1 - iou_loss(eps = 0)",
            fam.iou,
            r.routes.iou,
            method="second algorithm: the paired IoU loss kernel",
            tolerance=1e-14,
        ),
        check_close(
            "IoU of the seed's three boxes",
            r.seed_examples,
            np.array([float(v) for v in r.exact_iou]),
            method="exact arithmetic (sympy): intersection and union areas",
            tolerance=1e-14,
        ),
        check_close(
            "random ground truth: L2 of every box and IoU via the paired kernel",
            np.concatenate([r.other_routes.l2, other.iou]),
            np.concatenate([np.full(len(other.boxes), r.other_l2), r.other_routes.iou]),
            method="l2_box_loss and iou_loss",
            tolerance=1e-13,
        ),
    ]


def _family_rows(fam: SameL2Boxes, n: int) -> list[list[Cell]]:
    """The first n boxes: index, (cx, cy, w, h), L2 and the four overlaps."""
    return [
        [
            i,
            *(float(v) for v in fam.boxes[i]),
            float(fam.l2_values[i]),
            float(fam.iou[i]),
            float(fam.giou[i]),
            float(fam.diou[i]),
            float(fam.ciou[i]),
        ]
        for i in range(min(n, len(fam.boxes)))
    ]


def render(r: Q4Result, checked: list[Check], figures: bool) -> Answer:
    """The L2 formula, the family, the exact examples, other families, the converse, the figure."""
    a = Answer(4, TITLE)
    fam = r.family
    lo, hi = fam.iou_range
    a.formula(
        "L2 loss on (cx, cy, w, h)",
        "L2 = (cx - cx*)^2 + (cy - cy*)^2 + (w - w*)^2 + (h - h*)^2\n"
        "Boxes with one L2 lie on a sphere of radius sqrt(L2) around the ground truth in R^4;\n"
        "IoU = area(A and B) / area(A or B) varies a lot on that sphere.",
        r"$L_2 = (c_x - c_x^*)^2 + (c_y - c_y^*)^2 + (w - w^*)^2 + (h - h^*)^2$"
        "\n"
        r"Boxes with one $L_2$ lie on a sphere of radius $\sqrt{L_2}$ around the ground truth"
        r" in $\mathbb{R}^4$;"
        "\n"
        r"$\mathrm{IoU} = \frac{\mathrm{area}(A \cap B)}{\mathrm{area}(A \cup B)}$ varies a lot"
        " on that sphere.",
    )
    a.text(
        f"Ground truth (cx, cy, w, h) = {GT}, L2 = {L2:g}: {len(fam.boxes)} boxes with exactly this "
        f"L2 have IoU from {lo:.4f} to {hi:.4f} (the first three are the seed's examples)."
    )
    a.table(
        "The first boxes of the family",
        ["#", "cx", "cy", "w", "h", "L2", "IoU", "GIoU", "DIoU", "CIoU"],
        _family_rows(fam, 8),
        digits=3,
    )
    a.values["gt"] = list(GT)
    a.values["l2"] = L2
    a.values["boxes"] = fam.boxes
    a.values["iou"] = fam.iou
    a.values["iou_range"] = [lo, hi]
    exact_rows: list[list[Cell]] = [
        ["(" + ", ".join(str(v) for v in box) + ")", str(iou), float(iou), float(lib)]
        for box, iou, lib in zip(r.exact_boxes, r.exact_iou, r.seed_examples, strict=True)
    ]
    a.table(
        "The seed's examples in exact arithmetic",
        ["box (cx, cy, w, h)", "IoU (exact)", "IoU (exact, decimal)", "IoU (library)"],
        exact_rows,
        digits=6,
    )
    a.values["seed_examples_iou_exact"] = [row[1] for row in exact_rows]
    lo2, hi2 = r.other_family.iou_range
    a.table(
        "IoU range of a family for other ground truths and L2 values",
        ["ground truth (cx, cy, w, h)", "L2", "boxes", "min IoU", "max IoU"],
        [
            [f"({', '.join(f'{v:.3g}' for v in GT)})", L2, len(fam.boxes), lo, hi],
            [
                f"({', '.join(f'{v:.3g}' for v in r.other_gt)})",
                r.other_l2,
                len(r.other_family.boxes),
                lo2,
                hi2,
            ],
        ],
        digits=4,
    )
    same = r.same_iou
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
    a.checks.extend(checked)
    if figures:
        a.figures.append(_figure(fam))
    return a


def _figure(fam: SameL2Boxes) -> Figure:
    lo, hi = fam.iou_range
    gt_xyxy = [float(v) for v in boxes.box_convert(np.array(GT), "cxcywh", "xyxy")]
    boxes_xyxy = boxes.box_convert(fam.boxes, "cxcywh", "xyxy")
    curves = {"IoU": fam.iou, "GIoU": fam.giou, "DIoU": fam.diou, "CIoU": fam.ciou}
    return Figure(
        "same-l2-boxes",
        f"Boxes with the same L2 loss ({L2:g}) against the ground truth, and their overlap",
        same_l2_boxes_figure(gt_xyxy, boxes_xyxy, curves, L2),
        f"IoU spans {lo:.3f} to {hi:.3f} although every box has the same L2 loss.",
    )


def solve(seed: int = 0, figures: bool = True) -> Answer:
    """Compute, check and render Q4."""
    result = compute(seed)
    return render(result, checks(result), figures)
