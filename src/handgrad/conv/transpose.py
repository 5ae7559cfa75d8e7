r"""Transposed convolution (PyTorch's ``conv_transpose2d`` / ``conv_transpose1d``), forward and backward.

Layout: input (N, C_in, H, W) (or unbatched (C_in, H, W)), weight (C_in, C_out / groups, kh, kw),
bias (C_out,). It is the adjoint (the input gradient) of :func:`~handgrad.conv.conv2d` with the
same weight, stride, padding, dilation and groups.

Forward (scatter-add, the definition)
    .. math:: y_f[n, g C_{og} + o, i s_h + u d_h, j s_w + v d_w] \mathrel{+}=
              \sum_{c} w[g C_g + c, o, u, v]\, x[n, g C_g + c, i, j], \qquad
              y = y_f[:, :, p_h : p_h + H_o, p_w : p_w + W_o] + b

    with :math:`H_o = (H - 1) s_h - 2 p_h + d_h (k_h - 1) + 1 + a_h` and :math:`y_f` zero beyond
    the last tap (so output padding larger than padding appends zero rows).

Backward (``g`` = dL/dy)
    .. math::
        \frac{\partial L}{\partial x} = \mathrm{conv2d}(g, w, \text{stride}, \text{padding},
            \text{dilation}, \text{groups}) \text{ (first } H \times W \text{ outputs)}, \quad
        \frac{\partial L}{\partial w}[c, o, u, v] = \sum_{n, i, j} x[n, c, i, j]\,
            g_p[n, o, i s_h + u d_h, j s_w + v d_w], \quad
        \frac{\partial L}{\partial b} = \sum_{n, i, j} g

    Both come from one im2col of ``g``: dx = W @ cols, dweight = x @ cols^T.

Four routes to the forward (``method=``), cross-tested against each other and PyTorch:

* ``"gemm"`` (default, fast): GEMM ``W^T (C_out kk, C_in) @ x (C_in, H W)`` then col2im by
  sub-pixel phases, or, for kernels that are multiples of the stride, one GEMM that computes
  every phase as a stride-1 correlation (see :mod:`handgrad.conv._gemm`).
* ``"scatter"``: the definition, one strided slice-add per kernel tap.
* ``"matrix"``: ``C.T @ x`` with C = :func:`~handgrad.conv.conv_matrix` (sparse).
* ``"zero_insertion"``: insert s - 1 zeros between input pixels, pad by d(k - 1) - p (plus the
  output padding at the end) and run a stride-1 conv2d with the flipped, transposed kernel
  (Dumoulin & Visin, section 4). With an infinite weight, the inserted zeros make NaN (0 * inf)
  where the other routes, like PyTorch, give a finite value or inf.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from handgrad._checks import as_float_array, check_choice, check_ndim, check_positive_int
from handgrad.conv._args import (
    Geometry,
    as_1d_arrays,
    bias_grad,
    check_grad_out,
    check_sample_sizes,
    prepare_conv_transpose2d,
)
from handgrad.conv._gemm import gather_conv, scatter_conv

FloatArray = NDArray[np.floating]

METHODS = ("gemm", "scatter", "matrix", "zero_insertion")

__all__ = [
    "METHODS",
    "conv_transpose1d",
    "conv_transpose1d_backward",
    "conv_transpose2d",
    "conv_transpose2d_backward",
]


def conv_transpose2d(
    x: ArrayLike,
    weight: ArrayLike,
    bias: ArrayLike | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    output_padding: int | tuple[int, int] = 0,
    groups: int = 1,
    dilation: int | tuple[int, int] = 1,
    method: str = "gemm",
) -> FloatArray:
    r"""2-D transposed convolution (``torch.nn.functional.conv_transpose2d``).

    Parameters
    ----------
    x : array_like, (N, C_in, H, W) or (C_in, H, W)
    weight : array_like, (C_in, C_out / groups, kh, kw)
    bias : array_like, (C_out,), optional
    stride, padding, dilation : int or (int, int)
    output_padding : int or (int, int)
        Extra rows / columns at the bottom / right, ``0 <= a < max(stride, dilation)``.
    groups : int
    method : {"gemm", "scatter", "matrix", "zero_insertion"}
        Route to the same result (module docstring); "gemm" is the fast one.

    Returns
    -------
    ndarray, (N, C_out, Ho, Wo) with Ho = (H - 1) s_h - 2 p_h + d_h (kh - 1) + 1 + a_h.

    Notes
    -----
    "gemm" allocates, per chunk of n samples and thread, the GEMM result (n, C_out kh kw, H Wq)
    (about 256 Ki elements, at least one sample; Wq = W + the largest tap offset) and s_h s_w
    phase arrays totalling about the chunk's uncropped output.
    """
    check_choice(method, "method", METHODS)
    xa, w, b, geom, unbatched, out_hw, op = prepare_conv_transpose2d(
        x, weight, bias, stride, padding, output_padding, groups, dilation
    )
    if method == "zero_insertion":  # the stretched input and its im2col columns
        _, C_in, H, W = xa.shape
        kh, kw = geom.kernel
        stretched = tuple(
            (n - 1) * s + 1 + 2 * (d * (k - 1) - p) + a
            for n, s, d, k, p, a in zip(
                (H, W), geom.stride, geom.dilation, geom.kernel, geom.pads[::2], op, strict=True
            )
        )
        check_sample_sizes(
            "conv_transpose2d(method='zero_insertion')",
            f"stride={stride!r}, padding={padding!r}, dilation={dilation!r}",
            {
                "one sample's zero-stretched input": (C_in, *stretched),
                "one sample's im2col columns": (C_in * kh * kw, *out_hw),
            },
        )
    route = {
        "gemm": _transpose_gemm,
        "scatter": _transpose_scatter,
        "matrix": _transpose_matrix,
        "zero_insertion": _transpose_zero_insertion,
    }[method]
    y = route(xa, w, geom, out_hw, op)
    if b is not None:
        y += b[:, None, None]
    return y[0] if unbatched else y


def _full_hw(x: FloatArray, geom: Geometry, out_hw: tuple[int, int]) -> tuple[int, int]:
    """Uncropped grid: the last tap's reach, or padding + output when output padding goes past it."""
    H, W = x.shape[2:]
    (kh, kw), (sh, sw), (dh, dw) = geom.kernel, geom.stride, geom.dilation
    ph, pw = geom.pads[0], geom.pads[2]
    return (
        max((H - 1) * sh + dh * (kh - 1) + 1, ph + out_hw[0]),
        max((W - 1) * sw + dw * (kw - 1) + 1, pw + out_hw[1]),
    )


def _transpose_gemm(
    x: FloatArray, w: FloatArray, geom: Geometry, out_hw: tuple[int, int], op: tuple[int, int]
) -> FloatArray:
    crop = (geom.pads[0], geom.pads[2])
    return scatter_conv(
        x, w, geom.stride, geom.dilation, crop, _full_hw(x, geom, out_hw), out_hw, geom.groups
    )


def _transpose_scatter(
    x: FloatArray, w: FloatArray, geom: Geometry, out_hw: tuple[int, int], op: tuple[int, int]
) -> FloatArray:
    """The definition: for each tap (u, v), add x (x) w[:, :, u, v] at rows i s + u d."""
    N, C, H, W = x.shape
    G = geom.groups
    _, Og, kh, kw = w.shape
    Cg = C // G
    (sh, sw), (dh, dw) = geom.stride, geom.dilation
    Hf, Wf = _full_hw(x, geom, out_hw)
    yf = np.zeros((N, G * Og, Hf, Wf), dtype=x.dtype)  # (N, C_out, Hf, Wf) uncropped
    for g in range(G):
        xg = x[:, g * Cg : (g + 1) * Cg]  # (N, Cg, H, W)
        for u in range(kh):
            for v in range(kw):
                tap = np.einsum("nchw,co->nohw", xg, w[g * Cg : (g + 1) * Cg, :, u, v])
                rows = slice(u * dh, u * dh + (H - 1) * sh + 1, sh)
                cols = slice(v * dw, v * dw + (W - 1) * sw + 1, sw)
                yf[:, g * Og : (g + 1) * Og, rows, cols] += tap
    ph, pw = geom.pads[0], geom.pads[2]
    return np.ascontiguousarray(yf[:, :, ph : ph + out_hw[0], pw : pw + out_hw[1]])


def _transpose_matrix(
    x: FloatArray, w: FloatArray, geom: Geometry, out_hw: tuple[int, int], op: tuple[int, int]
) -> FloatArray:
    """``C.T @ x`` with C the (sparse) matrix of conv2d on the transposed convolution's output size."""
    from handgrad.conv.matrix import conv_matrix, conv_matrix_output_hw

    N, C, H, W = x.shape
    ph, pw = geom.pads[0], geom.pads[2]
    Cm = conv_matrix(
        out_hw, w, geom.stride, (ph, pw), geom.dilation, groups=geom.groups, sparse=True
    )
    Hc, Wc = conv_matrix_output_hw(out_hw, geom.kernel, geom.stride, (ph, pw), geom.dilation)
    # With output_padding >= stride (dilation > stride), conv2d of the output reaches rows
    # beyond H; the transposed convolution's input is zero there.
    xz = np.zeros((N, C, Hc, Wc), dtype=x.dtype)  # (N, C_in, Hc, Wc)
    xz[:, :, :H, :W] = x
    cols = Cm.T @ xz.reshape(N, C * Hc * Wc).T  # (C_out Ho Wo, N)
    C_out = Cm.shape[1] // (out_hw[0] * out_hw[1])
    return np.ascontiguousarray(cols.T.reshape(N, C_out, *out_hw)).astype(x.dtype, copy=False)


def _transpose_zero_insertion(
    x: FloatArray, w: FloatArray, geom: Geometry, out_hw: tuple[int, int], op: tuple[int, int]
) -> FloatArray:
    """Stride-1 conv2d of the zero-stretched, re-padded input with the flipped kernel."""
    N, C, H, W = x.shape
    G = geom.groups
    _, Og, kh, kw = w.shape
    Cg = C // G
    (sh, sw), (dh, dw) = geom.stride, geom.dilation
    # p' = d (k - 1) - p on each side (negative: crop), output padding appended at the end
    pad_h = dh * (kh - 1) - geom.pads[0]
    pad_w = dw * (kw - 1) - geom.pads[2]
    Hz = (H - 1) * sh + 1 + 2 * pad_h + op[0]
    Wz = (W - 1) * sw + 1 + 2 * pad_w + op[1]
    rows = pad_h + sh * np.arange(H)  # where input row i lands in the stretched, padded grid
    cols = pad_w + sw * np.arange(W)
    keep_r = (rows >= 0) & (rows < Hz)
    keep_c = (cols >= 0) & (cols < Wz)
    z = np.zeros((N, C, Hz, Wz), dtype=x.dtype)  # (N, C_in, Hz, Wz)
    z[:, :, rows[keep_r][:, None], cols[keep_c][None, :]] = x[:, :, keep_r][:, :, :, keep_c]
    # flipped kernel in conv2d layout: w'[g Og + o, c, u, v] = w[g Cg + c, o, kh-1-u, kw-1-v]
    wf = w.reshape(G, Cg, Og, kh, kw).transpose(0, 2, 1, 3, 4)[:, :, :, ::-1, ::-1]
    wf = np.ascontiguousarray(wf).reshape(G * Og, Cg, kh, kw)
    y, _ = gather_conv(z, wf, (kh, kw), (1, 1), (dh, dw), (0, 0, 0, 0), out_hw, G)
    assert y is not None
    return y


def conv_transpose2d_backward(
    grad_out: ArrayLike,
    x: ArrayLike,
    weight: ArrayLike,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    output_padding: int | tuple[int, int] = 0,
    groups: int = 1,
    dilation: int | tuple[int, int] = 1,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    r"""Gradients through :func:`conv_transpose2d`: ``(dx, dweight, dbias)``.

    Parameters
    ----------
    grad_out : array_like, (N, C_out, Ho, Wo)
    x, weight, stride, padding, output_padding, groups, dilation
        As in the forward call.

    Returns
    -------
    dx : (N, C_in, H, W)
        ``conv2d(grad_out, weight, stride, padding, dilation, groups)``, its first H x W outputs.
    dweight : (C_in, C_out / groups, kh, kw)
        :math:`\sum_{n, i, j} x[n, c, i, j]\, g_p[n, o, i s + u d, j s + v d]`.
    dbias : (C_out,)
        grad_out summed over N, Ho, Wo.

    Notes
    -----
    One im2col of grad_out per chunk of n samples and thread, (n, C_out kh kw, H W), about
    256 Ki elements (at least one sample), feeds both GEMMs.
    """
    xa, w, _, geom, unbatched, out_hw, _ = prepare_conv_transpose2d(
        x, weight, None, stride, padding, output_padding, groups, dilation
    )
    N, _, H, W = xa.shape  # (N, C_in, H, W)
    C_out = w.shape[1] * geom.groups
    g = check_grad_out(grad_out, (C_out, *out_hw) if unbatched else (N, C_out, *out_hw), xa.dtype)
    g = np.ascontiguousarray(g[None] if unbatched else g)  # (N, C_out, Ho, Wo)
    ph, pw = geom.pads[0], geom.pads[2]
    dx, dw = gather_conv(
        g,
        w,
        geom.kernel,
        geom.stride,
        geom.dilation,
        (ph, ph, pw, pw),
        (H, W),
        geom.groups,
        other=xa,
    )
    assert dx is not None and dw is not None
    dweight = dw.reshape(w.shape)
    dbias = bias_grad(g)
    return (dx[0] if unbatched else dx), dweight, dbias


def _ints_1d(stride: Any, padding: Any, output_padding: Any, dilation: Any) -> tuple[Any, ...]:
    s = check_positive_int(stride, "stride")
    p = check_positive_int(padding, "padding", allow_zero=True)
    a = check_positive_int(output_padding, "output_padding", allow_zero=True)
    d = check_positive_int(dilation, "dilation")
    return (1, s), (0, p), (0, a), (1, d)


def conv_transpose1d(
    x: ArrayLike,
    weight: ArrayLike,
    bias: ArrayLike | None = None,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    groups: int = 1,
    dilation: int = 1,
    method: str = "gemm",
) -> FloatArray:
    """1-D transposed convolution (``torch.nn.functional.conv_transpose1d``) via the 2-D one.

    Shapes: x (N, C_in, L) or (C_in, L), weight (C_in, C_out / groups, k) -> (N, C_out, Lo) with
    Lo = (L - 1) s - 2p + d(k - 1) + 1 + a.
    """
    x4, w4 = as_1d_arrays(x, weight)
    s, p, a, d = _ints_1d(stride, padding, output_padding, dilation)
    y = conv_transpose2d(x4, w4, bias, s, p, a, groups, d, method=method)
    return y[..., 0, :]


def conv_transpose1d_backward(
    grad_out: ArrayLike,
    x: ArrayLike,
    weight: ArrayLike,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    groups: int = 1,
    dilation: int = 1,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Gradients through :func:`conv_transpose1d`: ``(dx, dweight, dbias)``."""
    x4, w4 = as_1d_arrays(x, weight)
    s, p, a, d = _ints_1d(stride, padding, output_padding, dilation)
    g = as_float_array(grad_out, "grad_out")
    check_ndim(g, "grad_out", x4.ndim - 1)
    dx, dw, db = conv_transpose2d_backward(g[..., None, :], x4, w4, s, p, a, groups, d)
    return dx[..., 0, :], dw[:, :, 0, :], db
