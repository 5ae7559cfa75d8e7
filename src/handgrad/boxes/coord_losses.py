r"""Coordinate losses on (cx, cy, w, h): the L2 loss of assignment question 4 and smooth L1.

Signature: ``(pred, target, fmt="xyxy", reduction="none")`` (smooth L1 adds ``beta=1.0``).
Both convert ``pred`` and ``target`` from ``fmt`` to (cx, cy, w, h) first and sum over the four
numbers of each box; ``reduction="mean"`` averages over boxes. Their gradients are w.r.t.
``pred`` in ``fmt``: with :math:`J = \partial(c_x, c_y, w, h) / \partial \text{pred}` (constant,
:func:`handgrad.boxes.box_convert_jacobian`), :math:`\nabla_{pred} L = \nabla_{cxcywh} L\, J`.

Unlike the IoU family these accept any finite boxes (negative sizes included, so x2 < x1 is
fine): the losses are plain functions of four numbers. NaN or infinite coordinates, and
coordinates so large that the differences or the loss overflow the dtype, raise ``ValueError``;
``beta`` is a finite real number >= 0 (strings, None and bools raise ``TypeError``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from handgrad._checks import check_finite, check_real
from handgrad._loss_trio import loss_trio
from handgrad._reduction import apply_reduction, check_reduction, reduction_scale
from handgrad.boxes.formats import (
    as_boxes,
    box_convert_jacobian,
    check_fmt,
    from_xyxy_columns,
    to_xyxy_columns,
)

__all__ = [
    "l2_box_loss",
    "l2_box_loss_and_grad",
    "l2_box_loss_grad",
    "smooth_l1_box_loss",
    "smooth_l1_box_loss_and_grad",
    "smooth_l1_box_loss_grad",
]

FloatArray = NDArray[np.floating]
Loss = Any  # ndarray (N,) for reduction="none", else a NumPy scalar of the input dtype

# the docstrings of name_grad and name_and_grad (see handgrad._loss_trio)
GRAD_DOC = "d(reduced :func:`{name}`)/d(pred), shape (N, 4) in ``fmt``."
BOTH_DOC = "(:func:`{name}`, :func:`{name}_grad`) from one pass."


def _differences(
    pred: ArrayLike, target: ArrayLike, reduction: str, fmt: str
) -> tuple[FloatArray, FloatArray]:
    """Checked inputs -> (d, jac): d (N, 4) = cxcywh(pred) - cxcywh(target), jac (4, 4)."""
    check_reduction(reduction)
    check_fmt(fmt)
    sizes: dict[str, int] = {}
    p = as_boxes(pred, "pred", ("N", 4), sizes)
    t = as_boxes(target, "target", ("N", 4), sizes)
    check_finite(p, "pred")
    check_finite(t, "target")
    dtype = np.result_type(p.dtype, t.dtype)
    d = np.empty(p.shape, dtype=dtype)  # (N, 4) cxcywh(pred) - cxcywh(target)
    with np.errstate(over="ignore", invalid="ignore"):  # huge coordinates: reported below
        pc = from_xyxy_columns(*to_xyxy_columns(p[:, 0], p[:, 1], p[:, 2], p[:, 3], fmt), "cxcywh")
        tc = from_xyxy_columns(*to_xyxy_columns(t[:, 0], t[:, 1], t[:, 2], t[:, 3], fmt), "cxcywh")
        for k in range(4):
            np.subtract(pc[k], tc[k], out=d[:, k])
    return d, box_convert_jacobian(fmt, "cxcywh").astype(dtype)


def _check_overflow(loss: FloatArray, dtype: np.dtype) -> None:
    """Raise ``ValueError`` naming the first row whose loss overflowed ``dtype``."""
    if loss.size and not np.isfinite(loss.sum()):
        row = int(np.flatnonzero(~np.isfinite(loss))[0])
        raise ValueError(
            f"pred and target have coordinates too large for {dtype} at row {row}: the "
            "(cx, cy, w, h) differences or their squares overflow (rescale the boxes)"
        )


def _l2_box_loss(
    value: bool,
    grad: bool,
    pred: ArrayLike,
    target: ArrayLike,
    fmt: str = "xyxy",
    reduction: str = "none",
) -> tuple[Loss | None, FloatArray | None]:
    r"""Sum of squared differences of (cx, cy, w, h), per box.

    .. math:: L = \sum_{k \in \{c_x, c_y, w, h\}} (p_k - t_k)^2,\qquad
              \frac{\partial L}{\partial p_k} = 2 (p_k - t_k)

    Assignment question 4: (0, 0, 3, 3) vs the 2 x 2 box at the origin gives 1 + 1 = 2, and so
    do (0, 0, 2 + sqrt 2, 2) and (1, 1, 2, 2), whose IoUs are 4/9, 2 - sqrt 2 and 1/7.

    Parameters
    ----------
    pred, target : array_like, shape (N, 4)
        Boxes in ``fmt``; any finite numbers.
    reduction : {"none", "mean", "sum"}
        "mean" averages the per-box sums over boxes.
    fmt : {"xyxy", "xywh", "cxcywh"}

    Returns
    -------
    ndarray (N,) or scalar
    """
    d, jac = _differences(pred, target, reduction, fmt)
    with np.errstate(over="ignore", invalid="ignore"):
        loss = np.einsum("nk,nk->n", d, d)  # (N,) sum of squared differences
    _check_overflow(loss, d.dtype)
    g = None
    if grad:
        s = d.dtype.type(2 * reduction_scale(d.shape[0], reduction))
        g = (d * s) @ jac  # (N, 4) dL/dpred = 2 s d J
    return apply_reduction(loss, reduction), g


l2_box_loss, l2_box_loss_grad, l2_box_loss_and_grad = loss_trio(
    _l2_box_loss, "l2_box_loss", GRAD_DOC, BOTH_DOC
)


def _smooth_l1_box_loss(
    value: bool,
    grad: bool,
    pred: ArrayLike,
    target: ArrayLike,
    fmt: str = "xyxy",
    reduction: str = "none",
    beta: float = 1.0,
) -> tuple[Loss | None, FloatArray | None]:
    r"""Smooth L1 (Huber / beta) loss of (cx, cy, w, h), summed per box (torch's definition).

    .. math:: \ell(d) = \begin{cases} \tfrac12 d^2 / \beta & |d| < \beta \\
                                       |d| - \tfrac12 \beta & \text{otherwise} \end{cases},\qquad
              \ell'(d) = \begin{cases} d / \beta & |d| < \beta \\ \operatorname{sign}(d) \end{cases}

    ``beta = 0`` is the L1 loss (gradient 0 at d = 0, as torch). At ``|d| = beta`` both branches
    agree. Shapes: (N, 4), (N, 4) -> (N,) for ``reduction="none"``, else a scalar.
    Reference: Girshick, Fast R-CNN, ICCV 2015.
    """
    beta = check_real(beta, "beta", 0.0, None, allow_0d=True)
    d, jac = _differences(pred, target, reduction, fmt)
    ad = np.abs(d)  # (N, 4)
    with np.errstate(over="ignore", invalid="ignore"):
        if beta == 0:
            per = ad  # (N, 4) plain L1 (torch dispatches beta = 0 to l1_loss)
            quad = np.zeros(d.shape, dtype=bool)
        else:
            b = d.dtype.type(beta)
            quad = ad < b  # (N, 4) inside the quadratic zone
            per = np.where(quad, 0.5 * d * d / b, ad - 0.5 * b)
        loss = per.sum(axis=1)  # (N,)
    _check_overflow(loss, d.dtype)
    g = None
    if grad:
        s = d.dtype.type(reduction_scale(d.shape[0], reduction))
        g = np.sign(d)  # (N, 4) dL/dd: d / beta inside, sign(d) outside (0 at d = 0)
        if beta != 0:
            np.divide(d, d.dtype.type(beta), out=g, where=quad)
        g = (g * s) @ jac
    return apply_reduction(loss, reduction), g


smooth_l1_box_loss, smooth_l1_box_loss_grad, smooth_l1_box_loss_and_grad = loss_trio(
    _smooth_l1_box_loss, "smooth_l1_box_loss", GRAD_DOC, BOTH_DOC
)
