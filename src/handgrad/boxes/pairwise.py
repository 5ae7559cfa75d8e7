r"""Pairwise (N, M) IoU, GIoU, DIoU and CIoU, as torchvision's ``box_iou`` and friends.

Every function compares each box of ``boxes1`` (N, 4) with each box of ``boxes2`` (M, 4) and
returns an (N, M) matrix. The formulas are torchvision's (note where eps appears: nowhere in
IoU and GIoU, on the squared enclosing diagonal in DIoU and CIoU, in CIoU's alpha):

.. math::
    \mathrm{IoU} = \frac{I}{U},\qquad
    \mathrm{GIoU} = \mathrm{IoU} - \frac{C - U}{C},\qquad
    \mathrm{DIoU} = \mathrm{IoU} - \frac{\rho^2}{c_w^2 + c_h^2 + \epsilon},\qquad
    \mathrm{CIoU} = \mathrm{DIoU} - \frac{v}{1 - \mathrm{IoU} + v + \epsilon}\, v

(I, U, C, rho, v as in :mod:`handgrad.boxes._iou_family`). All of them evaluate one elementwise
function on broadcast columns, the same function :mod:`handgrad.solve.q4_boxes` applies to pairs,
so ``diag(f(a, b))`` equals the paired value exactly (torchvision once shipped pairwise DIoU /
CIoU that did not). With the same ``eps`` the diagonal equals ``1 - loss`` of the paired losses
up to their IoU eps (the losses divide by U + eps); with ``eps=0`` up to rounding.

Degenerate boxes: a zero denominator (two zero-area boxes: U = 0; a zero-area enclosing box:
C = 0; two coincident points with eps = 0) comes with a zero numerator, and the quotient is 0.
So the IoU of two zero-area boxes is 0 and their GIoU is -1 when the enclosing box has an
area, 0 otherwise; torchvision returns NaN there. Inputs must be finite with x2 >= x1 and
y2 >= y1 (``ValueError`` otherwise; torchvision documents the same requirement), and small
enough that areas and squared distances stay finite in their dtype (``ValueError`` naming the
pair otherwise). ``eps`` is a finite real number >= 0.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from handgrad._checks import check_real
from handgrad.boxes.formats import as_boxes, check_fmt, check_valid_boxes, to_xyxy_columns

__all__ = ["box_iou", "complete_box_iou", "distance_box_iou", "generalized_box_iou"]

FloatArray = NDArray[np.floating]
_FOUR_OVER_PI2 = 4.0 / np.pi**2


def _quotient(num: FloatArray, den: FloatArray) -> FloatArray:
    """num / den, with 0 where den == 0 (where the callers' numerators are 0 too)."""
    zero = den == 0
    if zero.any():
        den = np.where(zero, 1, den)
    return num / den


def iou_family(b1: FloatArray, b2: FloatArray, eps: float, what: str) -> FloatArray:
    """IoU / GIoU / DIoU / CIoU of broadcast xyxy boxes ``b1`` (..., 4) and ``b2`` (..., 4)."""
    x1, y1, x2, y2 = (b1[..., k] for k in range(4))
    x1g, y1g, x2g, y2g = (b2[..., k] for k in range(4))
    w, h = x2 - x1, y2 - y1  # (...) sizes
    wg, hg = x2g - x1g, y2g - y1g
    iw = np.clip(np.minimum(x2, x2g) - np.maximum(x1, x1g), 0, None)  # (...) intersection size
    ih = np.clip(np.minimum(y2, y2g) - np.maximum(y1, y1g), 0, None)
    inter = iw * ih
    union = w * h + wg * hg - inter
    iou = _quotient(inter, union)
    if what == "iou":
        return iou
    cw = np.maximum(x2, x2g) - np.minimum(x1, x1g)  # (...) enclosing box size
    ch = np.maximum(y2, y2g) - np.minimum(y1, y1g)
    if what == "giou":
        area_c = cw * ch
        return iou - _quotient(area_c - union, area_c)
    diag2 = cw**2 + ch**2 + eps  # (...) squared enclosing diagonal (+ eps)
    rho2 = ((x1 + x2) / 2 - (x1g + x2g) / 2) ** 2 + ((y1 + y2) / 2 - (y1g + y2g) / 2) ** 2
    diou = iou - _quotient(rho2, diag2)
    if what == "diou":
        return diou
    v = _FOUR_OVER_PI2 * (np.arctan2(w, h) - np.arctan2(wg, hg)) ** 2
    alpha = _quotient(v, 1 - iou + v + eps)
    return diou - alpha * v


def _xyxy(b: FloatArray, fmt: str) -> FloatArray:
    return np.stack(to_xyxy_columns(b[:, 0], b[:, 1], b[:, 2], b[:, 3], fmt), axis=-1)


def _pairwise(boxes1: ArrayLike, boxes2: ArrayLike, eps: float, fmt: str, what: str) -> FloatArray:
    check_fmt(fmt)
    eps = check_real(eps, "eps", 0.0, None, allow_0d=True)
    b1 = as_boxes(boxes1, "boxes1", ("N", 4), {})
    b2 = as_boxes(boxes2, "boxes2", ("M", 4), {})
    check_valid_boxes(b1, "boxes1", fmt)
    check_valid_boxes(b2, "boxes2", fmt)
    dtype = np.result_type(b1.dtype, b2.dtype)
    with np.errstate(over="ignore", invalid="ignore"):  # huge coordinates: reported below
        c1 = _xyxy(b1.astype(dtype, copy=False), fmt)  # (N, 4)
        c2 = _xyxy(b2.astype(dtype, copy=False), fmt)  # (M, 4)
        out = iou_family(c1[:, None, :], c2[None, :, :], dtype.type(eps), what)  # (N, M)
    if out.size and not np.isfinite(out.sum()):
        i, j = (int(k) for k in np.argwhere(~np.isfinite(out))[0])
        raise ValueError(
            f"boxes1 and boxes2 have coordinates too large for {dtype}: areas or squared "
            f"distances overflow for boxes1[{i}] = {b1[i].tolist()} and boxes2[{j}] = "
            f"{b2[j].tolist()} (rescale the boxes)"
        )
    return out.astype(dtype, copy=False)


def box_iou(boxes1: ArrayLike, boxes2: ArrayLike, fmt: str = "xyxy") -> FloatArray:
    r"""Pairwise intersection over union, :math:`I / U` (no eps, as torchvision).

    Parameters
    ----------
    boxes1 : array_like, shape (N, 4)
    boxes2 : array_like, shape (M, 4)
    fmt : {"xyxy", "xywh", "cxcywh"}
        Format of both sets.

    Returns
    -------
    ndarray, shape (N, M)
        ``out[i, j]`` is the IoU of ``boxes1[i]`` and ``boxes2[j]``, in [0, 1]; 0 for two
        zero-area boxes.
    """
    return _pairwise(boxes1, boxes2, 0.0, fmt, "iou")


def generalized_box_iou(boxes1: ArrayLike, boxes2: ArrayLike, fmt: str = "xyxy") -> FloatArray:
    r"""Pairwise generalized IoU, :math:`\mathrm{IoU} - (C - U) / C`, in (-1, 1] for boxes with area.

    ``out[i, j]`` compares ``boxes1[i]`` (N, 4) with ``boxes2[j]`` (M, 4); shape (N, M).
    Reference: Rezatofighi et al., CVPR 2019.
    """
    return _pairwise(boxes1, boxes2, 0.0, fmt, "giou")


def distance_box_iou(
    boxes1: ArrayLike, boxes2: ArrayLike, eps: float = 1e-7, fmt: str = "xyxy"
) -> FloatArray:
    r"""Pairwise distance IoU, :math:`\mathrm{IoU} - \rho^2 / (c_w^2 + c_h^2 + \epsilon)`.

    ``out[i, j]`` compares ``boxes1[i]`` (N, 4) with ``boxes2[j]`` (M, 4); shape (N, M).
    Reference: Zheng et al., AAAI 2020.
    """
    return _pairwise(boxes1, boxes2, eps, fmt, "diou")


def complete_box_iou(
    boxes1: ArrayLike, boxes2: ArrayLike, eps: float = 1e-7, fmt: str = "xyxy"
) -> FloatArray:
    r"""Pairwise complete IoU, :math:`\mathrm{DIoU} - \alpha v` (aspect angle atan2(w, h)).

    ``out[i, j]`` compares ``boxes1[i]`` (N, 4) with ``boxes2[j]`` (M, 4); shape (N, M).
    Reference: Zheng et al., AAAI 2020.
    """
    return _pairwise(boxes1, boxes2, eps, fmt, "ciou")
