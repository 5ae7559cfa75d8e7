r"""Direct convolution (cross-correlation, PyTorch's ``conv2d`` / ``conv1d``), forward and backward.

Layout: input (N, C_in, H, W) (or unbatched (C_in, H, W)), weight (C_out, C_in / groups, kh, kw),
bias (C_out,). Channels split into ``groups`` independent blocks.

Forward
    .. math:: y[n, o, i, j] = b[o] + \sum_{c, u, v} w[o, c, u, v]\,
              x_p[n, g(o) C_g + c, i s_h + u d_h, j s_w + v d_w]

    with :math:`x_p` the zero-padded input. Computed as im2col + one GEMM per sample and group.

Backward (``g`` = dL/dy)
    .. math::
        \frac{\partial L}{\partial x} = \mathrm{conv\_transpose2d}(g, w)
            \text{ (with output\_padding = the unreached remainder)}, \qquad
        \frac{\partial L}{\partial w}[o, c, u, v] = \sum_{n, i, j} g[n, o, i, j]\,
            x_p[n, c, i s_h + u d_h, j s_w + v d_w], \qquad
        \frac{\partial L}{\partial b}[o] = \sum_{n, i, j} g[n, o, i, j]

    dx is GEMM + col2im, dweight is a GEMM of g with the im2col columns of x.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from handgrad._checks import as_float_array, check_ndim, check_positive_int
from handgrad.conv._args import as_1d_arrays, bias_grad, check_grad_out, prepare_conv2d
from handgrad.conv._gemm import gather_conv, scatter_conv

FloatArray = NDArray[np.floating]

__all__ = ["conv1d", "conv1d_backward", "conv2d", "conv2d_backward"]


def conv2d(
    x: ArrayLike,
    weight: ArrayLike,
    bias: ArrayLike | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] | str = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
) -> FloatArray:
    r"""2-D convolution with PyTorch's semantics (``torch.nn.functional.conv2d``).

    Parameters
    ----------
    x : array_like, (N, C_in, H, W) or (C_in, H, W)
    weight : array_like, (C_out, C_in / groups, kh, kw)
    bias : array_like, (C_out,), optional
    stride, dilation : int or (int, int)
    padding : int, (int, int), "valid" or "same"
        "same" (stride 1 only) pads d(k - 1) in total, the odd one at the bottom / right.
    groups : int
        Divides C_in and C_out.

    Returns
    -------
    ndarray, (N, C_out, Ho, Wo) (no N for unbatched input), the dtype of x and weight, with
    Ho = floor((H + p_top + p_bottom - d_h (kh - 1) - 1) / s_h) + 1 (likewise Wo).

    Notes
    -----
    Allocates, per chunk of n samples (``handgrad.conv._gemm``), the padded input and its im2col
    columns (n, C_in kh kw, Ho Wo), about 256 Ki elements (at least one sample) per thread; the
    GEMM writes straight into the output. Never the whole batch's columns at once.
    """
    xa, w, b, geom, unbatched, out_hw = prepare_conv2d(
        x, weight, bias, stride, padding, dilation, groups
    )
    y, _ = gather_conv(
        xa, w, geom.kernel, geom.stride, geom.dilation, geom.pads, out_hw, geom.groups
    )
    assert y is not None
    if b is not None:
        y += b[:, None, None]
    return y[0] if unbatched else y


def conv2d_backward(
    grad_out: ArrayLike,
    x: ArrayLike,
    weight: ArrayLike,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] | str = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    r"""Gradients of a loss through :func:`conv2d`: ``(dx, dweight, dbias)``.

    Parameters
    ----------
    grad_out : array_like, (N, C_out, Ho, Wo)
        dL/dy for ``y = conv2d(x, weight, ..., stride, padding, dilation, groups)``.
    x, weight, stride, padding, dilation, groups
        As in the forward call.

    Returns
    -------
    dx : (N, C_in, H, W)
        ``conv_transpose2d(grad_out, weight, stride, padding, output_padding=r, dilation,
        groups)`` with r the remainder (H + 2p - d(k - 1) - 1) mod s: input rows no window
        reached get zero.
    dweight : (C_out, C_in / groups, kh, kw)
        :math:`\sum_{n, i, j} g[n, o, i, j]\, x_p[n, c, i s + u d, j s + v d]`.
    dbias : (C_out,)
        grad_out summed over N, Ho, Wo (returned whether or not the forward had a bias).
    """
    xa, w, _, geom, unbatched, out_hw = prepare_conv2d(
        x, weight, None, stride, padding, dilation, groups
    )
    N, _, H, W = xa.shape  # (N, C_in, H, W)
    C_out = w.shape[0]
    g = check_grad_out(grad_out, (C_out, *out_hw) if unbatched else (N, C_out, *out_hw), xa.dtype)
    g = np.ascontiguousarray(g[None] if unbatched else g)  # (N, C_out, Ho, Wo)
    pt, pb, pl, pr = geom.pads
    # dx: the adjoint (GEMM W^T g, then col2im into the padded input, cropped)
    dx = scatter_conv(
        g, w, geom.stride, geom.dilation, (pt, pl), (H + pt + pb, W + pl + pr), (H, W), geom.groups
    )
    # dweight: g @ im2col(x)^T per sample and group
    _, dw = gather_conv(
        xa, None, geom.kernel, geom.stride, geom.dilation, geom.pads, out_hw, geom.groups, other=g
    )
    assert dw is not None
    dweight = dw.reshape(w.shape)
    dbias = bias_grad(g)
    return (dx[0] if unbatched else dx), dweight, dbias


def _pad_1d(padding: int | str) -> tuple[int, int] | str:
    if isinstance(padding, str):
        return padding
    return (0, check_positive_int(padding, "padding", allow_zero=True))


def conv1d(
    x: ArrayLike,
    weight: ArrayLike,
    bias: ArrayLike | None = None,
    stride: int = 1,
    padding: int | str = 0,
    dilation: int = 1,
    groups: int = 1,
) -> FloatArray:
    """1-D convolution (``torch.nn.functional.conv1d``): :func:`conv2d` on a height-1 input.

    Shapes: x (N, C_in, L) or (C_in, L), weight (C_out, C_in / groups, k) -> (N, C_out, Lo)
    with Lo = floor((L + 2p - d(k - 1) - 1) / s) + 1.
    """
    x4, w4 = as_1d_arrays(x, weight)
    s = check_positive_int(stride, "stride")
    d = check_positive_int(dilation, "dilation")
    y = conv2d(x4, w4, bias, (1, s), _pad_1d(padding), (1, d), groups)
    return y[..., 0, :]


def conv1d_backward(
    grad_out: ArrayLike,
    x: ArrayLike,
    weight: ArrayLike,
    stride: int = 1,
    padding: int | str = 0,
    dilation: int = 1,
    groups: int = 1,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Gradients through :func:`conv1d`: ``(dx, dweight, dbias)`` (see :func:`conv2d_backward`)."""
    x4, w4 = as_1d_arrays(x, weight)
    s = check_positive_int(stride, "stride")
    d = check_positive_int(dilation, "dilation")
    g: Any = as_float_array(grad_out, "grad_out")
    check_ndim(g, "grad_out", x4.ndim - 1)
    dx, dw, db = conv2d_backward(g[..., None, :], x4, w4, (1, s), _pad_1d(padding), (1, d), groups)
    return dx[..., 0, :], dw[:, :, 0, :], db
