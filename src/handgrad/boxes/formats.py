r"""Box formats, conversions with their Jacobians, areas, and the box input checks.

Formats (the last axis holds the four numbers)
----------------------------------------------
``"xyxy"``    (x1, y1, x2, y2): top-left and bottom-right corners, x2 >= x1, y2 >= y1.
``"xywh"``    (x1, y1, w, h): top-left corner, width and height.
``"cxcywh"``  (cx, cy, w, h): centre, width and height.

Every conversion is linear, so its Jacobian ``J`` (``out = in @ J.T`` row by row) is a constant
4 x 4 matrix and the backward pass of ``box_convert`` is ``grad_in = grad_out @ J``:

.. math::
    \text{cxcywh} \to \text{xyxy}:\; x_1 = c_x - w/2,\ x_2 = c_x + w/2, \qquad
    \frac{\partial L}{\partial c_x} = g_{x_1} + g_{x_2},\
    \frac{\partial L}{\partial w} = \frac{g_{x_2} - g_{x_1}}{2}

.. math::
    \text{xywh} \to \text{xyxy}:\; x_2 = x_1 + w, \qquad
    \frac{\partial L}{\partial x_1} = g_{x_1} + g_{x_2},\
    \frac{\partial L}{\partial w} = g_{x_2}

Conversions go through ``xyxy`` (torchvision's ``box_convert`` does the same), so
``box_convert(b, "xywh", "cxcywh")`` rounds exactly like the two-step conversion.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from handgrad._checks import as_float_array, check_choice, check_finite, check_shape

__all__ = [
    "FORMATS",
    "box_area",
    "box_convert",
    "box_convert_backward",
    "box_convert_jacobian",
]

FORMATS: tuple[str, ...] = ("xyxy", "xywh", "cxcywh")

FloatArray = NDArray[np.floating]

# Jacobians of the conversions to xyxy: xyxy = boxes @ _TO_XYXY[fmt].T
_TO_XYXY: dict[str, NDArray[np.float64]] = {
    "xyxy": np.eye(4),
    "xywh": np.array([[1, 0, 0, 0], [0, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 1]], dtype=np.float64),
    "cxcywh": np.array(
        [[1, 0, -0.5, 0], [0, 1, 0, -0.5], [1, 0, 0.5, 0], [0, 1, 0, 0.5]], dtype=np.float64
    ),
}
# and from xyxy: out = xyxy @ _FROM_XYXY[fmt].T
_FROM_XYXY: dict[str, NDArray[np.float64]] = {
    "xyxy": np.eye(4),
    "xywh": np.array([[1, 0, 0, 0], [0, 1, 0, 0], [-1, 0, 1, 0], [0, -1, 0, 1]], dtype=np.float64),
    "cxcywh": np.array(
        [[0.5, 0, 0.5, 0], [0, 0.5, 0, 0.5], [-1, 0, 1, 0], [0, -1, 0, 1]], dtype=np.float64
    ),
}


def check_fmt(fmt: Any, name: str = "fmt") -> str:
    """Raise ``ValueError`` unless ``fmt`` is one of :data:`FORMATS`; return it."""
    check_choice(fmt, name, FORMATS)
    return str(fmt)


# ----------------------------------------------------------------------------------------------
# column-wise conversions (used by the kernels on (4, n) column blocks and by box_convert)


def to_xyxy_columns(
    a: FloatArray, b: FloatArray, c: FloatArray, d: FloatArray, fmt: str
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """The four xyxy columns of boxes given as four columns in ``fmt`` (new arrays unless xyxy)."""
    if fmt == "xyxy":
        return a, b, c, d
    if fmt == "xywh":
        return a, b, a + c, b + d
    half_w = c * 0.5
    half_h = d * 0.5
    return a - half_w, b - half_h, a + half_w, b + half_h


def from_xyxy_columns(
    x1: FloatArray, y1: FloatArray, x2: FloatArray, y2: FloatArray, fmt: str
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """The four columns in ``fmt`` of boxes given as xyxy columns."""
    if fmt == "xyxy":
        return x1, y1, x2, y2
    if fmt == "xywh":
        return x1, y1, x2 - x1, y2 - y1
    return (x1 + x2) * 0.5, (y1 + y2) * 0.5, x2 - x1, y2 - y1


def xyxy_grad_to_fmt(g: FloatArray, fmt: str) -> None:
    """In place: turn a (4, n) block of dL/d(x1, y1, x2, y2) into dL/d(boxes in ``fmt``).

    Backward of :func:`to_xyxy_columns` (``grad_in = grad_xyxy @ J``, ``J = _TO_XYXY[fmt]``).
    """
    if fmt == "xyxy":
        return
    g0, g1, g2, g3 = g
    if fmt == "xywh":
        g0 += g2  # dL/dx1 = g_x1 + g_x2; dL/dw = g_x2 (already in place)
        g1 += g3
        return
    # cxcywh: dL/dcx = g_x1 + g_x2; dL/dw = (g_x2 - g_x1) / 2 = g_x2 - dL/dcx / 2
    g0 += g2
    g2 -= 0.5 * g0
    g1 += g3
    g3 -= 0.5 * g1


# ----------------------------------------------------------------------------------------------
# public conversions


def box_convert(boxes: ArrayLike, in_fmt: str, out_fmt: str) -> FloatArray:
    """Convert boxes between "xyxy", "xywh" and "cxcywh".

    Parameters
    ----------
    boxes : array_like, shape (..., 4)
        Boxes in ``in_fmt``; any leading dimensions.
    in_fmt, out_fmt : {"xyxy", "xywh", "cxcywh"}
        Formats (see the module docstring).

    Returns
    -------
    ndarray, shape (..., 4)
        The same boxes in ``out_fmt`` (a new array; float32 stays float32, ints become float64).

    Examples
    --------
    >>> box_convert([[10, 15, 30, 35]], "xyxy", "cxcywh")
    array([[20., 25., 20., 20.]])
    """
    check_fmt(in_fmt, "in_fmt")
    check_fmt(out_fmt, "out_fmt")
    arr = as_float_array(boxes, "boxes")
    if arr.ndim == 0 or arr.shape[-1] != 4:
        raise ValueError(f"boxes must have shape (..., 4); got {arr.shape}")
    out = np.empty_like(arr)
    cols = to_xyxy_columns(arr[..., 0], arr[..., 1], arr[..., 2], arr[..., 3], in_fmt)
    for k, col in enumerate(from_xyxy_columns(*cols, out_fmt)):
        out[..., k] = col
    return out


def box_convert_jacobian(in_fmt: str, out_fmt: str) -> NDArray[np.float64]:
    """The constant 4 x 4 Jacobian ``J = d out / d in`` of :func:`box_convert` (``out = in @ J.T``)."""
    check_fmt(in_fmt, "in_fmt")
    check_fmt(out_fmt, "out_fmt")
    return _FROM_XYXY[out_fmt] @ _TO_XYXY[in_fmt]


def box_convert_backward(grad_out: ArrayLike, in_fmt: str, out_fmt: str) -> FloatArray:
    """Backward of :func:`box_convert`: dL/d(boxes in ``in_fmt``) from dL/d(boxes in ``out_fmt``).

    .. math:: \\frac{\\partial L}{\\partial b_{in}} = \\frac{\\partial L}{\\partial b_{out}} J,
              \\quad J = \\frac{\\partial b_{out}}{\\partial b_{in}}

    Shapes: (..., 4) -> (..., 4).
    """
    g = as_float_array(grad_out, "grad_out")
    if g.ndim == 0 or g.shape[-1] != 4:
        raise ValueError(f"grad_out must have shape (..., 4); got {g.shape}")
    jac = box_convert_jacobian(in_fmt, out_fmt).astype(g.dtype)
    return g @ jac


def box_area(boxes: ArrayLike, fmt: str = "xyxy") -> FloatArray:
    """Area of each box, ``(x2 - x1) * (y2 - y1)`` (``w * h`` for xywh and cxcywh).

    Parameters
    ----------
    boxes : array_like, shape (..., 4)
        Any leading dimensions.
    fmt : {"xyxy", "xywh", "cxcywh"}

    Returns
    -------
    ndarray, shape (...)
        Areas (negative for boxes with x2 < x1 in exactly one axis, as in torchvision; no check).
    """
    check_fmt(fmt)
    arr = as_float_array(boxes, "boxes")
    if arr.ndim == 0 or arr.shape[-1] != 4:
        raise ValueError(f"boxes must have shape (..., 4); got {arr.shape}")
    if fmt == "xyxy":
        return (arr[..., 2] - arr[..., 0]) * (arr[..., 3] - arr[..., 1])
    return arr[..., 2] * arr[..., 3]


# ----------------------------------------------------------------------------------------------
# input checks shared by the pairwise functions and the losses


def as_boxes(
    x: ArrayLike, name: str, pattern: tuple[Any, ...], sizes: dict[str, int]
) -> FloatArray:
    """A floating (N, 4) array from ``x``, shape checked against ``pattern`` (bound in ``sizes``)."""
    arr = as_float_array(x, name)
    check_shape(arr, name, pattern, sizes)
    return arr


def check_valid_boxes(boxes: FloatArray, name: str, fmt: str) -> None:
    """Raise ``ValueError`` for non-finite values or negative sizes (the full, slow check).

    Called up front by the pairwise functions and, by the fused losses, only once a cheap
    per-block test has found something wrong (so the message names the first bad row).
    """
    check_finite(boxes, name)
    w: FloatArray
    h: FloatArray
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported below
        if fmt == "xyxy":
            w = boxes[..., 2] - boxes[..., 0]
            h = boxes[..., 3] - boxes[..., 1]
            what = "x2 >= x1 and y2 >= y1"
        else:
            w = boxes[..., 2]
            h = boxes[..., 3]
            what = "w >= 0 and h >= 0"
    negative = (w < 0) | (h < 0)
    if negative.any():
        row = tuple(int(i) for i in np.argwhere(negative)[0])
        raise ValueError(
            f"{name} must hold boxes with {what} (fmt {fmt!r}); got {boxes[row].tolist()} "
            f"at row {row[0] if len(row) == 1 else row}"
        )
    overflow = ~(np.isfinite(w) & np.isfinite(h))
    if overflow.any():
        row = tuple(int(i) for i in np.argwhere(overflow)[0])
        raise ValueError(
            f"{name} has coordinates too large for {boxes.dtype}: the size of "
            f"{boxes[row].tolist()} at row {row[0] if len(row) == 1 else row} overflows"
        )
