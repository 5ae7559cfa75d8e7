r"""Paired IoU-family box losses (N, 4) vs (N, 4), each with its gradient w.r.t. the prediction.

For every loss ``name``: ``name(pred, target, reduction="none", eps=1e-7, fmt="xyxy")`` returns
the loss, ``name_grad(...)`` (same arguments) returns d(reduced loss)/d(pred) with the shape of
``pred`` (the gradient of ``loss.sum()`` for ``reduction="none"``), and ``name_and_grad(...)``
returns both from one fused pass (shared intermediates; what a training step should call).

Conventions
-----------
* Values are torchvision's (``generalized_box_iou_loss``, ``distance_box_iou_loss``,
  ``complete_box_iou_loss``; ``iou_loss`` = 1 - inter / (union + eps)), eps placed as there.
* ``fmt`` is the format of both ``pred`` and ``target`` ("xyxy", "xywh" or "cxcywh"); the
  gradient is w.r.t. ``pred`` in that format (the conversion Jacobian is applied).
* Boxes must be finite with non-negative sizes (x2 >= x1, y2 >= y1; w, h >= 0), in ``pred`` and in
  ``target``; zero sizes (segments, points) are allowed. Anything else raises ``ValueError``
  naming the argument and the row: torchvision does not check, and an inverted box silently
  gives a meaningless loss there. Coordinates so large that the loss or its gradient overflows
  the dtype raise ``ValueError`` too. ``eps`` is a finite real number >= 0 (> 0 for
  ``log_iou_loss``); strings, None and bools raise ``TypeError``.
* float32 in, float32 out (computed in float32, like torch); mixed dtypes use the wider one.
* Min / max ties split the gradient equally (torch's rule); the intersection uses torchvision's
  strict mask (touching boxes: zero intersection and zero intersection gradient). Degenerate
  boxes follow the policy in :mod:`handgrad.boxes._iou_family` (finite where torchvision gives NaN).
* Identical boxes give loss eps / (area + eps) (exactly 0 with ``eps=0``) and a gradient of that
  order (exactly 0 with ``eps=0``); two identical zero-area boxes give IoU 0, so loss 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from handgrad._checks import check_choice, check_real
from handgrad._loss_trio import loss_trio
from handgrad._reduction import check_reduction
from handgrad.boxes._kernel import CIOU_MODES, fused_iou_loss
from handgrad.boxes.formats import as_boxes, check_fmt

__all__ = [
    "ciou_loss",
    "ciou_loss_and_grad",
    "ciou_loss_grad",
    "diou_loss",
    "diou_loss_and_grad",
    "diou_loss_grad",
    "giou_loss",
    "giou_loss_and_grad",
    "giou_loss_grad",
    "iou_loss",
    "iou_loss_and_grad",
    "iou_loss_grad",
    "log_iou_loss",
    "log_iou_loss_and_grad",
    "log_iou_loss_grad",
]

FloatArray = NDArray[np.floating]
Loss = Any  # ndarray (N,) for reduction="none", else a NumPy scalar of the input dtype

# the docstrings of name_grad and name_and_grad (see handgrad._loss_trio)
GRAD_DOC = "d(reduced :func:`{name}`)/d(pred), shape (N, 4) in ``fmt``."
BOTH_DOC = "(:func:`{name}`, :func:`{name}_grad`) from one fused pass."


def _run(
    pred: ArrayLike,
    target: ArrayLike,
    reduction: str,
    eps: float,
    fmt: str,
    kind: str,
    want_grad: bool,
    mode: str = "torchvision",
) -> tuple[Loss, FloatArray | None]:
    """Check the arguments once and run the fused kernel."""
    check_reduction(reduction)
    check_fmt(fmt)
    check_choice(mode, "mode", CIOU_MODES)
    eps = check_real(eps, "eps", 0.0, None, low_inclusive=kind != "log_iou", allow_0d=True)
    sizes: dict[str, int] = {}
    p = as_boxes(pred, "pred", ("N", 4), sizes)
    t = as_boxes(target, "target", ("N", 4), sizes)
    return fused_iou_loss(
        p,
        t,
        kind=kind,
        eps=float(eps),
        fmt=fmt,
        reduction=reduction,
        mode=mode,
        want_grad=want_grad,
    )


# ---- IoU loss ----------------------------------------------------------------------------------


def _iou_loss(
    value: bool,
    grad: bool,
    pred: ArrayLike,
    target: ArrayLike,
    reduction: str = "none",
    eps: float = 1e-7,
    fmt: str = "xyxy",
) -> tuple[Loss | None, FloatArray | None]:
    r"""IoU loss of paired boxes.

    .. math:: L = 1 - \frac{I}{U + \epsilon},\qquad
              \frac{\partial L}{\partial I} = -\frac{1}{U + \epsilon} - \frac{\partial L}{\partial U},\
              \frac{\partial L}{\partial U} = \frac{I}{(U + \epsilon)^2}

    with I the intersection and U the union areas (see :mod:`handgrad.boxes._iou_family` for
    the chain down to the coordinates).

    Parameters
    ----------
    pred, target : array_like, shape (N, 4)
        Predicted and target boxes in ``fmt``.
    reduction : {"none", "mean", "sum"}
    eps : float, >= 0
    fmt : {"xyxy", "xywh", "cxcywh"}

    Returns
    -------
    ndarray (N,) or scalar
        Per-pair losses, or their mean / sum. Disjoint boxes give 1 with zero gradient.
    """
    return _run(pred, target, reduction, eps, fmt, "iou", grad)


iou_loss, iou_loss_grad, iou_loss_and_grad = loss_trio(_iou_loss, "iou_loss", GRAD_DOC, BOTH_DOC)


# ---- log IoU loss (UnitBox) --------------------------------------------------------------------


def _log_iou_loss(
    value: bool,
    grad: bool,
    pred: ArrayLike,
    target: ArrayLike,
    reduction: str = "none",
    eps: float = 1e-7,
    fmt: str = "xyxy",
) -> tuple[Loss | None, FloatArray | None]:
    r"""UnitBox's IoU loss, minus the log of the IoU, clipped below at eps.

    .. math:: L = -\ln \max\!\Big(\frac{I}{U + \epsilon}, \epsilon\Big),\qquad
              \frac{\partial L}{\partial \mathrm{IoU}} = -\frac{[\mathrm{IoU} \ge \epsilon]}{\mathrm{IoU}}

    The clip (as mmdetection's ``IoULoss(mode="log")``) keeps disjoint boxes finite:
    L = -ln eps with zero gradient. Where IoU equals eps exactly the gradient passes, as torch's
    ``clamp(min=eps)`` does. Needs ``eps > 0``. Reference: Yu et al., UnitBox, ACM MM 2016.

    Shapes: (N, 4), (N, 4) -> (N,) for ``reduction="none"``, else a scalar.
    """
    return _run(pred, target, reduction, eps, fmt, "log_iou", grad)


log_iou_loss, log_iou_loss_grad, log_iou_loss_and_grad = loss_trio(
    _log_iou_loss, "log_iou_loss", GRAD_DOC, BOTH_DOC
)


# ---- GIoU loss ---------------------------------------------------------------------------------


def _giou_loss(
    value: bool,
    grad: bool,
    pred: ArrayLike,
    target: ArrayLike,
    reduction: str = "none",
    eps: float = 1e-7,
    fmt: str = "xyxy",
) -> tuple[Loss | None, FloatArray | None]:
    r"""Generalized IoU loss (torchvision's ``generalized_box_iou_loss``).

    .. math:: L = 1 - \frac{I}{U + \epsilon} + \frac{C - U}{C + \epsilon},\qquad
              \frac{\partial L}{\partial C} = \frac{U + \epsilon}{(C + \epsilon)^2}

    C is the area of the smallest box enclosing both. Values lie in [0, 2).
    Shapes: (N, 4), (N, 4) -> (N,) for ``reduction="none"``, else a scalar.
    Reference: Rezatofighi et al., CVPR 2019.
    """
    return _run(pred, target, reduction, eps, fmt, "giou", grad)


giou_loss, giou_loss_grad, giou_loss_and_grad = loss_trio(
    _giou_loss, "giou_loss", GRAD_DOC, BOTH_DOC
)


# ---- DIoU loss ---------------------------------------------------------------------------------


def _diou_loss(
    value: bool,
    grad: bool,
    pred: ArrayLike,
    target: ArrayLike,
    reduction: str = "none",
    eps: float = 1e-7,
    fmt: str = "xyxy",
) -> tuple[Loss | None, FloatArray | None]:
    r"""Distance IoU loss (torchvision's ``distance_box_iou_loss``).

    .. math:: L = 1 - \frac{I}{U + \epsilon} + \frac{\rho^2}{c_w^2 + c_h^2 + \epsilon}

    with rho the distance between the box centres and (c_w, c_h) the enclosing box's size.
    Shapes: (N, 4), (N, 4) -> (N,) for ``reduction="none"``, else a scalar.
    Reference: Zheng et al., AAAI 2020.
    """
    return _run(pred, target, reduction, eps, fmt, "diou", grad)


diou_loss, diou_loss_grad, diou_loss_and_grad = loss_trio(
    _diou_loss, "diou_loss", GRAD_DOC, BOTH_DOC
)


# ---- CIoU loss ---------------------------------------------------------------------------------


def _ciou_loss(
    value: bool,
    grad: bool,
    pred: ArrayLike,
    target: ArrayLike,
    reduction: str = "none",
    eps: float = 1e-7,
    fmt: str = "xyxy",
    mode: str = "torchvision",
) -> tuple[Loss | None, FloatArray | None]:
    r"""Complete IoU loss (torchvision's ``complete_box_iou_loss``).

    .. math:: L = L_{DIoU} + \alpha v,\quad
              v = \frac{4}{\pi^2}\big(\operatorname{atan2}(w_g, h_g) - \operatorname{atan2}(w, h)\big)^2,
              \quad \alpha = \frac{v}{1 - \mathrm{IoU} + v + \epsilon}

    atan2(w, h) equals torchvision's atan(w / h) wherever that is defined and stays finite for
    h = 0 (pi / 2) and for point boxes (0).

    ``mode`` only affects the gradient (accepted here so every function takes the same
    arguments): "torchvision" holds alpha constant (torchvision computes it under
    ``no_grad``), "exact" differentiates alpha too, "paper" holds alpha constant and drops the
    factor 1 / (w^2 + h^2) from dv/dw and dv/dh, as the CIoU paper recommends.
    Shapes: (N, 4), (N, 4) -> (N,) for ``reduction="none"``, else a scalar.
    Reference: Zheng et al., AAAI 2020.
    """
    return _run(pred, target, reduction, eps, fmt, "ciou", grad, mode)


ciou_loss, ciou_loss_grad, ciou_loss_and_grad = loss_trio(
    _ciou_loss, "ciou_loss", GRAD_DOC + " ``mode`` as there.", BOTH_DOC
)
