r"""Assignment question 4: the L2 loss on (cx, cy, w, h) against the IoU family.

:func:`same_l2_boxes` builds boxes at one L2 distance from a ground truth, i.e. points on the
sphere of radius :math:`\sqrt{L_2}` around the ground truth's (cx, cy, w, h) in R^4, restricted to
w, h > 0, and reports how far apart their IoU, GIoU, DIoU and CIoU are. :func:`same_iou_boxes` is
the converse: pairs with one IoU whose L2 grows with the scale (L2 is not scale invariant).

The seed's examples (ground truth centred at 0, 2 x 2, L2 = 2) are the first three directions of
the family: (0, 0, 1, 1)/sqrt 2 gives (0, 0, 3, 3), IoU 4/9; (0, 0, 1, 0) gives (0, 0, 2 + sqrt 2, 2),
IoU 2 - sqrt 2; (1, 1, 0, 0)/sqrt 2 gives (1, 1, 2, 2), IoU 1/7.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from handgrad._checks import as_float_array, check_finite, check_positive_int, check_real
from handgrad.boxes.formats import box_convert, check_fmt
from handgrad.boxes.pairwise import iou_family

__all__ = ["SameIoUBoxes", "SameL2Boxes", "same_iou_boxes", "same_l2_boxes"]

Float64Array = NDArray[np.floating]  # float64 throughout

# The seed's three directions in (cx, cy, w, h), then two more structured ones (shrink both
# sides; trade width for height), used when they keep w, h > 0.
SEED_DIRECTIONS: Float64Array = np.array(
    [
        [0.0, 0.0, 1.0, 1.0],
        [0.0, 0.0, 1.0, 0.0],
        [1.0, 1.0, 0.0, 0.0],
        [0.0, 0.0, -1.0, -1.0],
        [0.0, 0.0, 1.0, -1.0],
    ]
) / np.array([[np.sqrt(2)], [1.0], [np.sqrt(2)], [np.sqrt(2)], [np.sqrt(2)]])


@dataclass(frozen=True)
class SameL2Boxes:
    """Boxes at one L2 distance from a ground truth, with their overlap measures.

    Attributes
    ----------
    gt : ndarray (4,)
        Ground truth (cx, cy, w, h).
    l2 : float
        The common L2 loss, sum of squared differences of (cx, cy, w, h).
    directions : ndarray (n, 4)
        Unit vectors u; ``boxes = gt + sqrt(l2) * u``.
    boxes : ndarray (n, 4)
        The boxes, (cx, cy, w, h), all with w, h > 0.
    l2_values : ndarray (n,)
        Their L2 loss recomputed (equal to ``l2`` up to rounding).
    iou, giou, diou, ciou : ndarray (n,)
        Overlap of each box with ``gt`` (torchvision's pairwise definitions, eps = 1e-7 where
        torchvision has one).
    """

    gt: Float64Array
    l2: float
    directions: Float64Array
    boxes: Float64Array
    l2_values: Float64Array
    iou: Float64Array
    giou: Float64Array
    diou: Float64Array
    ciou: Float64Array

    @property
    def iou_range(self) -> tuple[float, float]:
        """(smallest, largest) IoU over the family: how unequal "equally good" boxes are."""
        return float(self.iou.min()), float(self.iou.max())


@dataclass(frozen=True)
class SameIoUBoxes:
    """Pairs with one IoU whose L2 loss grows with their scale.

    Attributes
    ----------
    scales : ndarray (k,)
    gts : ndarray (k, 4)
        Ground truths (cx, cy, s w, s h): the given one scaled about its centre.
    boxes : ndarray (k, 4)
        Concentric predictions (cx, cy, s w / sqrt(iou), s h / sqrt(iou)).
    iou : ndarray (k,)
        IoU of each pair (equal to the requested one up to rounding).
    l2 : ndarray (k,)
        L2 loss of each pair: s (1/sqrt(iou) - 1)^2 (w^2 + h^2) s, growing as s^2.
    """

    scales: Float64Array
    gts: Float64Array
    boxes: Float64Array
    iou: Float64Array
    l2: Float64Array


def _gt_box(gt: ArrayLike, fmt: str) -> Float64Array:
    check_fmt(fmt)
    g = as_float_array(gt, "gt", dtype=np.float64)
    if g.shape != (4,):
        raise ValueError(f"gt must be one box of shape (4,); got shape {g.shape}")
    check_finite(g, "gt")
    c = box_convert(g, fmt, "cxcywh")
    if not (c[2] > 0 and c[3] > 0):
        raise ValueError(
            f"gt must have positive width and height; got (cx, cy, w, h) = {c.tolist()}"
        )
    return c


def _overlaps(gt: Float64Array, boxes: Float64Array) -> dict[str, Float64Array]:
    g = box_convert(gt, "cxcywh", "xyxy")[None, :]  # (1, 4)
    b = box_convert(boxes, "cxcywh", "xyxy")  # (n, 4)
    return {
        what: iou_family(b, g, 1e-7 if what in ("diou", "ciou") else 0.0, what)
        for what in ("iou", "giou", "diou", "ciou")
    }


def same_l2_boxes(
    gt: ArrayLike, l2: float, n: int = 64, *, fmt: str = "cxcywh", seed: int = 0
) -> SameL2Boxes:
    r"""``n`` boxes with the same L2 loss ``l2`` against ``gt``, and their IoU family.

    The boxes are :math:`b = g + \sqrt{l_2}\, u` for unit vectors u in R^4 (g = gt's
    (cx, cy, w, h)), keeping only those with w, h > 0. The first directions are the seed's
    (see the module docstring), then (0, 0, -1, -1)/sqrt 2 and (0, 0, 1, -1)/sqrt 2 when
    feasible, then directions uniform on the sphere (normalised Gaussians from ``seed``),
    rejected while infeasible.

    Parameters
    ----------
    gt : array_like (4,)
        Ground truth box in ``fmt``, with positive width and height.
    l2 : float
        The common L2 loss (> 0).
    n : int
        Number of boxes.
    fmt : {"cxcywh", "xyxy", "xywh"}
        Format of ``gt``. The returned boxes are always (cx, cy, w, h).
    seed : int
        Seed of the random directions.

    Returns
    -------
    SameL2Boxes
    """
    g = _gt_box(gt, fmt)
    l2 = check_real(l2, "l2", 0.0, None, low_inclusive=False, allow_0d=True)
    n = check_positive_int(n, "n")
    r = float(np.sqrt(l2))
    size = g[2:]

    def feasible(u: Float64Array) -> NDArray[np.bool_]:
        return np.all(size + r * u[:, 2:] > 0, axis=1)  # (k,)

    dirs = SEED_DIRECTIONS[feasible(SEED_DIRECTIONS)][:n]
    rng = np.random.default_rng(seed)
    while len(dirs) < n:
        cand = rng.standard_normal((2 * (n - len(dirs)) + 8, 4))  # (k, 4)
        cand /= np.linalg.norm(cand, axis=1, keepdims=True)
        dirs = np.concatenate([dirs, cand[feasible(cand)]])[:n]
    boxes = g + r * dirs  # (n, 4)
    l2_values = np.sum((boxes - g) ** 2, axis=1)  # (n,)
    return SameL2Boxes(
        gt=g, l2=float(l2), directions=dirs, boxes=boxes, l2_values=l2_values,
        **_overlaps(g, boxes),
    )  # fmt: skip


def same_iou_boxes(
    gt: ArrayLike, iou: float, scales: ArrayLike, *, fmt: str = "cxcywh"
) -> SameIoUBoxes:
    r"""Pairs with IoU ``iou`` at every scale in ``scales``: same overlap, very different L2.

    At scale s the ground truth is gt scaled about its centre, (cx, cy, s w, s h), and the
    prediction the concentric box enlarged by :math:`k = 1/\sqrt{\mathrm{iou}}`, whose IoU is
    :math:`1/k^2 = \mathrm{iou}` whatever s, while
    :math:`L_2 = s^2 (k - 1)^2 (w^2 + h^2)` grows as s^2.

    Parameters
    ----------
    gt : array_like (4,)
        Box in ``fmt`` with positive width and height.
    iou : float
        Target IoU in (0, 1].
    scales : array_like (k,)
        Positive scales.
    fmt : {"cxcywh", "xyxy", "xywh"}
        Format of ``gt``; returned boxes are (cx, cy, w, h).
    """
    g = _gt_box(gt, fmt)
    iou = check_real(iou, "iou", 0.0, 1.0, low_inclusive=False, allow_0d=True)
    s = as_float_array(scales, "scales", dtype=np.float64).reshape(-1)
    check_finite(s, "scales")
    if not np.all(s > 0):
        raise ValueError(f"scales must all be positive; got {s.tolist()}")
    k = 1.0 / np.sqrt(iou)
    gts = np.tile(g, (s.size, 1))  # (k, 4)
    gts[:, 2:] *= s[:, None]
    boxes = gts.copy()
    boxes[:, 2:] *= k
    ious = np.array(
        [_overlaps(gt_i, box_i[None])["iou"][0] for gt_i, box_i in zip(gts, boxes, strict=True)]
    )
    l2 = np.sum((boxes - gts) ** 2, axis=1)
    return SameIoUBoxes(scales=s, gts=gts, boxes=boxes, iou=ious, l2=l2)
