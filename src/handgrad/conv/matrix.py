r"""Convolution as an explicit matrix, numeric (dense or sparse) or symbolic (sympy).

For an input of size H x W, :func:`conv_matrix` returns C with

.. math:: \mathrm{conv2d}(x)[0].\mathrm{ravel}() = C\, x[0].\mathrm{ravel}(), \qquad
          \mathrm{conv\_transpose2d}(y, a)[0].\mathrm{ravel}() = C^T y[0].\mathrm{ravel}()

Rows index the outputs (o, i, j) and columns the inputs (c, r, q), both row-major; entry
``C[(o, i, j), (c, i s + u d - p, j s + v d - p)] = w[o, c, u, v]`` for taps inside the input.
The transposed identity holds with output padding ``a = (H + 2p - d(k - 1) - 1) mod s`` (the rows
no window reaches, relationship 14 of Dumoulin & Visin); with ``a = 0`` the transposed
convolution is C^T with those trailing rows dropped.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from handgrad._checks import as_float_array, check_pair
from handgrad.conv._args import (
    _conv_out_hw,
    _shown_args,
    check_sample_sizes,
    clamp_unused,
    prepare_kernel_args,
)

__all__ = ["SymbolicTranspose", "conv_matrix", "conv_matrix_output_hw", "symbolic_conv_transpose"]


def conv_matrix_output_hw(
    input_hw: int | tuple[int, int],
    kernel_hw: tuple[int, int],
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
) -> tuple[int, int]:
    """(Ho, Wo) of conv2d on an ``input_hw`` input (checks every argument)."""
    H, W = check_pair(input_hw, "input_hw", allow_zero=False)
    geom = prepare_kernel_args(kernel_hw, stride, padding, dilation)
    return _conv_out_hw((H, W), geom)


def conv_matrix(
    input_hw: int | tuple[int, int],
    kernel: ArrayLike,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] | str = 0,
    dilation: int | tuple[int, int] = 1,
    sparse: bool = False,
    groups: int = 1,
) -> Any:
    r"""The matrix C of conv2d on one (H, W) image.

    Parameters
    ----------
    input_hw : int or (int, int)
        Input size (H, W).
    kernel : array_like, (kh, kw) or (C_out, C_in / groups, kh, kw)
        One channel, or a conv2d weight (block matrix). An object array of sympy expressions
        gives a symbolic C (dense only).
    stride, padding, dilation
        As in :func:`~handgrad.conv.conv2d` ("same" / "valid" padding accepted).
    sparse : bool
        Return a ``scipy.sparse.csr_array`` instead of a dense ndarray.
    groups : int
        For a 4-D weight: output channel o reads input channels of its group only (the other
        blocks of C are zero).

    Returns
    -------
    C : (Ho Wo, H W) for a 2-D kernel, (C_out Ho Wo, C_in H W) for a 4-D weight.

    Examples
    --------
    The seed's 2 x 2 kernel over a 3 x 3 input: C is 4 x 9, its first row
    (k1, k2, 0, k3, k4, 0, 0, 0, 0), each next row that pattern shifted to the next window.
    """
    arr = np.asarray(kernel)
    symbolic = arr.dtype == object
    if not symbolic:
        arr = as_float_array(kernel, "kernel")
    if arr.ndim == 2:
        w = arr[None, None]
    elif arr.ndim == 4:
        w = arr
    else:
        raise ValueError(
            f"kernel must be 2-D (kh, kw) or 4-D (C_out, C_in / groups, kh, kw); got shape {arr.shape}"
        )
    if symbolic and sparse:
        raise TypeError("sparse=True needs a numeric kernel; got an object (symbolic) array")
    if not isinstance(sparse, bool):
        raise TypeError(f"sparse must be True or False; got {sparse!r}")
    H, W = check_pair(input_hw, "input_hw", allow_zero=False)
    O, Cg, kh, kw = w.shape
    if min(w.shape) < 1:
        raise ValueError(f"kernel must be non-empty; got shape {arr.shape}")
    geom = prepare_kernel_args((kh, kw), stride, padding, dilation, groups)
    G = geom.groups
    if O % G:
        raise ValueError(f"groups must divide C_out; got groups={G}, C_out={O}")
    Ho, Wo = conv_matrix_output_hw((H, W), (kh, kw), stride, padding, dilation)
    pt, pb, pl, pr = geom.pads
    sizes = {
        "the windows": (Ho, Wo, kh, kw),
        "the entries": (O, Cg, Ho * Wo * kh * kw),
    }
    if not sparse:
        sizes["the dense matrix"] = (O * Ho * Wo, Cg * G * H * W)
    check_sample_sizes(
        "conv_matrix",
        _shown_args(input_hw=input_hw, padding=padding, stride=stride, dilation=dilation),
        sizes,
    )
    geom = clamp_unused(geom, (Ho, Wo), (H + pt + pb, W + pl + pr))
    (sh, sw), (dh, dw) = geom.stride, geom.dilation
    # one channel pair: every (output position, tap) whose input position is inside
    i, j, u, v = np.meshgrid(
        np.arange(Ho), np.arange(Wo), np.arange(kh), np.arange(kw), indexing="ij"
    )
    r = i * sh + u * dh - pt  # input row read by output (i, j) at tap (u, v)
    q = j * sw + v * dw - pl
    inside = (r >= 0) & (r < H) & (q >= 0) & (q < W)
    base_row = (i * Wo + j)[inside]  # (m,)
    base_col = (r * W + q)[inside]  # (m,)
    base_tap = (u * kw + v)[inside]  # (m,)
    # blocks: output channel o reads input channels g(o) Cg + c
    o_idx = np.arange(O)[:, None, None]  # (O, 1, 1)
    c_idx = (o_idx // (O // G)) * Cg + np.arange(Cg)[None, :, None]  # (O, Cg, 1) global channel
    rows = (o_idx * Ho * Wo + base_row[None, None, :]) + 0 * c_idx  # (O, Cg, m)
    cols = c_idx * H * W + base_col[None, None, :]  # (O, Cg, m)
    data = w.reshape(O, Cg, kh * kw)[:, :, base_tap]  # (O, Cg, m)
    shape = (O * Ho * Wo, Cg * G * H * W)
    if sparse:
        from scipy.sparse import coo_array

        return coo_array((data.ravel(), (rows.ravel(), cols.ravel())), shape=shape).tocsr()
    C = np.zeros(shape, dtype=w.dtype)
    C[rows.ravel(), cols.ravel()] = data.ravel()
    return C


class SymbolicTranspose(NamedTuple):
    """Symbolic transposed convolution: kernel K, input x, conv matrix C and ``(C^T x)`` reshaped."""

    kernel: Any  # sympy.Matrix (kh, kw) of symbols k1, k2, ... (row-major)
    x: Any  # sympy.Matrix (H, W) of symbols x1, x2, ...
    C: Any  # sympy.Matrix (H W, Ho Wo): conv2d on the output size
    result: Any  # sympy.Matrix (Ho, Wo): conv_transpose2d(x, K)


def symbolic_conv_transpose(
    input_hw: int | tuple[int, int] = 2,
    kernel_hw: int | tuple[int, int] = 2,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    output_padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    kernel_symbol: str = "k",
    input_symbol: str = "x",
) -> SymbolicTranspose:
    """Transposed convolution of a symbolic input with a symbolic kernel, through ``C^T``.

    The defaults are the seed's question: a 2 x 2 kernel [[k1, k2], [k3, k4]], a 2 x 2 input
    [[x1, x2], [x3, x4]]; C (conv2d on the 3 x 3 output) is 4 x 9 and the result is the 3 x 3
    matrix whose centre is k1 x4 + k2 x3 + k3 x2 + k4 x1.
    """
    import sympy

    from handgrad.conv.arithmetic import conv_transpose_output_size

    H, W = check_pair(input_hw, "input_hw", allow_zero=False)
    kh, kw = check_pair(kernel_hw, "kernel_hw", allow_zero=False)
    (sh, sw), (ph, pw), (ah, aw), (dh, dw) = (
        check_pair(stride, "stride", allow_zero=False),
        check_pair(padding, "padding"),
        check_pair(output_padding, "output_padding"),
        check_pair(dilation, "dilation", allow_zero=False),
    )
    for name in (kernel_symbol, input_symbol):
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"symbol names must be identifiers; got {name!r}")
    out_hw = (
        conv_transpose_output_size(H, kh, sh, ph, ah, dh),
        conv_transpose_output_size(W, kw, sw, pw, aw, dw),
    )
    k_syms = sympy.symbols(f"{kernel_symbol}1:{kh * kw + 1}")
    x_syms = sympy.symbols(f"{input_symbol}1:{H * W + 1}")
    K = np.array(k_syms, dtype=object).reshape(kh, kw)
    C = conv_matrix(out_hw, K, (sh, sw), (ph, pw), (dh, dw))  # (Hc Wc, Ho Wo)
    Hc, Wc = conv_matrix_output_hw(out_hw, (kh, kw), (sh, sw), (ph, pw), (dh, dw))
    xz = np.zeros((Hc, Wc), dtype=object)  # zero beyond H x W (output padding >= stride)
    xz[:H, :W] = np.array(x_syms, dtype=object).reshape(H, W)
    y = (C.T @ xz.ravel()).reshape(out_hw)
    return SymbolicTranspose(
        kernel=sympy.Matrix(K.tolist()),
        x=sympy.Matrix(np.array(x_syms, dtype=object).reshape(H, W).tolist()),
        C=sympy.Matrix(C.tolist()),
        result=sympy.Matrix(y.tolist()).applyfunc(sympy.expand),
    )
