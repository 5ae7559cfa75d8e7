"""Argument checking for the convolution entry points (PyTorch's rules, handgrad's messages).

Every public function in :mod:`handgrad.conv` calls one ``prepare_*`` helper here once; the
computational kernels trust what they receive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from handgrad._checks import (
    as_float_array,
    check_choice,
    check_ndim,
    check_pair,
    check_positive_int,
)
from handgrad.conv.arithmetic import conv_transpose_output_size

FloatArray = NDArray[np.floating]

__all__ = [
    "MAX_SAMPLE_ELEMENTS",
    "Geometry",
    "as_1d_arrays",
    "bias_grad",
    "check_grad_out",
    "check_sample_sizes",
    "clamp_unused",
    "prepare_conv2d",
    "prepare_conv_transpose2d",
    "prepare_kernel_args",
]

# The most elements any one array of a call may hold per sample (the output, the padded input,
# the im2col columns, the uncropped transposed output): 2**32, 32 GiB in float64. Checked with
# Python integers before anything is allocated, so padding=10**6 is a ValueError naming the
# arguments instead of an attempt to allocate terabytes. The batch size is not limited.
MAX_SAMPLE_ELEMENTS = 1 << 32


def check_sample_sizes(op: str, args: str, shapes: dict[str, tuple[int, ...]]) -> None:
    """Raise ``ValueError`` if an array of ``shapes`` would exceed :data:`MAX_SAMPLE_ELEMENTS`.

    ``args`` shows the arguments that set the sizes (``"padding=1000000, stride=1, ..."``).
    """
    for what, shape in shapes.items():
        count = math.prod(shape)
        if count > MAX_SAMPLE_ELEMENTS:
            raise ValueError(
                f"{op} with {args}: {what} would have shape {shape}, {count:,} elements, more "
                f"than the limit of 2**32 = {MAX_SAMPLE_ELEMENTS:,}; reduce padding, stride, "
                "dilation or the input size"
            )


def _shown_args(**kwargs: Any) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())


def clamp_unused(geom: Geometry, windows: tuple[int, int], reach: tuple[int, int]) -> Geometry:
    """``geom`` with every stride and dilation that cannot change the result made small.

    Along an axis with a single window (``windows`` 1: one output row of conv2d, one input row of
    conv_transpose2d) the stride is never multiplied by anything but 0, and with a kernel of
    size 1 neither is the dilation. Values above ``reach + 1`` (``reach``: the padded input of
    conv2d, the uncropped output of conv_transpose2d, or output padding if larger) become
    ``reach + 1``: every index, phase and route of the kernels is the same for both, so the
    result is bit for bit the same, and a stride of 2**70 no longer overflows NumPy's strides.
    """
    stride = tuple(
        min(s, r + 1) if n == 1 else s for s, n, r in zip(geom.stride, windows, reach, strict=True)
    )
    dilation = tuple(
        min(d, r + 1) if k == 1 else d
        for d, k, r in zip(geom.dilation, geom.kernel, reach, strict=True)
    )
    return replace(geom, stride=(stride[0], stride[1]), dilation=(dilation[0], dilation[1]))


@dataclass(frozen=True)
class Geometry:
    """Spatial parameters of one 2-D convolution, all as (h, w) pairs.

    ``pads`` is (top, bottom, left, right): PyTorch's "same" padding puts the odd extra row and
    column at the bottom and right.
    """

    kernel: tuple[int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    pads: tuple[int, int, int, int]
    groups: int


def _pads_from(
    padding: Any, kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int]
) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) from an int, a pair, "valid" or "same" (stride 1 only)."""
    if isinstance(padding, str):
        check_choice(padding, "padding", ("same", "valid"))
        if padding == "valid":
            return (0, 0, 0, 0)
        if stride != (1, 1):
            raise ValueError(
                f"padding='same' needs stride 1 (as in PyTorch: the output size would depend on "
                f"where the padding goes); got stride={stride}"
            )
        total_h = dilation[0] * (kernel[0] - 1)
        total_w = dilation[1] * (kernel[1] - 1)
        return (total_h // 2, total_h - total_h // 2, total_w // 2, total_w - total_w // 2)
    ph, pw = check_pair(padding, "padding", allow_zero=True)
    return (ph, ph, pw, pw)


def prepare_kernel_args(
    kernel: tuple[int, int], stride: Any, padding: Any, dilation: Any, groups: Any = 1
) -> Geometry:
    """Validate stride, padding, dilation and groups for a kernel of size ``kernel``."""
    st = check_pair(stride, "stride", allow_zero=False)
    dl = check_pair(dilation, "dilation", allow_zero=False)
    g = check_positive_int(groups, "groups")
    return Geometry(kernel, st, dl, _pads_from(padding, kernel, st, dl), g)


def _float_pair(
    x: ArrayLike, x_name: str, w: ArrayLike, w_name: str
) -> tuple[FloatArray, FloatArray]:
    xa = as_float_array(x, x_name)
    wa = as_float_array(w, w_name)
    dtype = np.result_type(xa.dtype, wa.dtype)
    return xa.astype(dtype, copy=False), wa.astype(dtype, copy=False)


def _batched(x: FloatArray, name: str, spatial: int) -> tuple[FloatArray, bool]:
    """Accept (N, C, *S) or unbatched (C, *S) input; return the batched array and the flag."""
    if x.ndim == spatial + 1:
        return x[None], True
    if x.ndim != spatial + 2:
        dims = "(N, C, H, W)" if spatial == 2 else "(N, C, L)"
        raise ValueError(f"{name} must be {spatial + 2}-D {dims} or unbatched; got shape {x.shape}")
    return x, False


def _bias(bias: ArrayLike | None, channels: int, dtype: Any) -> FloatArray | None:
    if bias is None:
        return None
    b = as_float_array(bias, "bias").astype(dtype, copy=False)
    if b.shape != (channels,):
        raise ValueError(f"bias must have shape (C_out,) = ({channels},); got {b.shape}")
    return b


def _check_groups(c_in: int, c_out: int, groups: int, layout: str) -> None:
    if c_in % groups or c_out % groups:
        raise ValueError(
            f"groups must divide both channel counts; got groups={groups}, C_in={c_in}, "
            f"C_out={c_out} (weight layout {layout})"
        )


def prepare_conv2d(
    x: ArrayLike,
    weight: ArrayLike,
    bias: ArrayLike | None,
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: Any,
) -> tuple[FloatArray, FloatArray, FloatArray | None, Geometry, bool, tuple[int, int]]:
    """Check conv2d's arguments; return (x, weight, bias, geometry, unbatched, output (H, W))."""
    xa, wa = _float_pair(x, "x", weight, "weight")
    xa, unbatched = _batched(xa, "x", 2)
    if wa.ndim != 4:
        raise ValueError(f"weight must be 4-D (C_out, C_in / groups, kh, kw); got shape {wa.shape}")
    geom = prepare_kernel_args((wa.shape[2], wa.shape[3]), stride, padding, dilation, groups)
    c_out, c_in_g = wa.shape[0], wa.shape[1]
    if min(wa.shape) < 1 or xa.shape[1] < 1:
        raise ValueError(f"x and weight must be non-empty; got {xa.shape} and {wa.shape}")
    _check_groups(xa.shape[1], c_out, geom.groups, "(C_out, C_in / groups, kh, kw)")
    if xa.shape[1] != c_in_g * geom.groups:
        raise ValueError(
            f"x has C_in = {xa.shape[1]} channels but weight {wa.shape} with groups="
            f"{geom.groups} expects C_in = weight.shape[1] * groups = {c_in_g * geom.groups}"
        )
    out_hw = _conv_out_hw(xa.shape[2:], geom)
    pt, pb, pl, pr = geom.pads
    padded = (xa.shape[2] + pt + pb, xa.shape[3] + pl + pr)
    check_sample_sizes(
        "conv2d",
        _shown_args(padding=padding, stride=stride, dilation=dilation, kernel=geom.kernel),
        {
            "one sample's output": (c_out, *out_hw),
            "one sample's padded input": (xa.shape[1], *padded),
            "one sample's im2col columns": (xa.shape[1] * wa.shape[2] * wa.shape[3], *out_hw),
        },
    )
    geom = clamp_unused(geom, out_hw, padded)
    return xa, wa, _bias(bias, c_out, xa.dtype), geom, unbatched, out_hw


def _conv_out_hw(in_hw: tuple[int, ...], geom: Geometry) -> tuple[int, int]:
    pt, pb, pl, pr = geom.pads
    sizes = []
    for axis, n, k, s, d, p in (
        ("height", in_hw[0], geom.kernel[0], geom.stride[0], geom.dilation[0], pt + pb),
        ("width", in_hw[1], geom.kernel[1], geom.stride[1], geom.dilation[1], pl + pr),
    ):
        k_eff = d * (k - 1) + 1
        if n < 1:
            raise ValueError(f"x must have a positive {axis}; got {n}")
        if k_eff > n + p:
            raise ValueError(
                f"kernel larger than padded input along the {axis}: the dilated kernel spans "
                f"d(k - 1) + 1 = {k_eff} (k={k}, dilation={d}) but the padded input has "
                f"{n + p} (size {n} + padding {p})"
            )
        sizes.append((n + p - k_eff) // s + 1)
    return sizes[0], sizes[1]


def prepare_conv_transpose2d(
    x: ArrayLike,
    weight: ArrayLike,
    bias: ArrayLike | None,
    stride: Any,
    padding: Any,
    output_padding: Any,
    groups: Any,
    dilation: Any,
) -> tuple[
    FloatArray, FloatArray, FloatArray | None, Geometry, bool, tuple[int, int], tuple[int, int]
]:
    """Check conv_transpose2d's arguments.

    Returns (x, weight, bias, geometry, unbatched, output (H, W), output_padding pair).
    """
    xa, wa = _float_pair(x, "x", weight, "weight")
    xa, unbatched = _batched(xa, "x", 2)
    if wa.ndim != 4:
        raise ValueError(f"weight must be 4-D (C_in, C_out / groups, kh, kw); got shape {wa.shape}")
    if isinstance(padding, str):
        raise ValueError(
            f"padding must be an int or an (h, w) pair for conv_transpose2d (PyTorch has no "
            f"'same'/'valid' there); got {padding!r}"
        )
    geom = prepare_kernel_args((wa.shape[2], wa.shape[3]), stride, padding, dilation, groups)
    op = check_pair(output_padding, "output_padding", allow_zero=True)
    if min(wa.shape) < 1:
        raise ValueError(f"weight must be non-empty; got shape {wa.shape}")
    c_in, c_out_g = wa.shape[0], wa.shape[1]
    if xa.shape[1] != c_in:
        raise ValueError(
            f"x has C_in = {xa.shape[1]} channels but weight (C_in, C_out / groups, kh, kw) "
            f"has shape {wa.shape}"
        )
    _check_groups(c_in, c_out_g * geom.groups, geom.groups, "(C_in, C_out / groups, kh, kw)")
    out = []
    for axis in (0, 1):
        n, k, s, d, p, a = (
            xa.shape[2 + axis],
            geom.kernel[axis],
            geom.stride[axis],
            geom.dilation[axis],
            geom.pads[2 * axis],
            op[axis],
        )
        name = ("height", "width")[axis]
        if n < 1:
            raise ValueError(f"x must have a positive {name}; got {n}")
        try:  # one copy of the output-size rules: the arithmetic module's
            size = conv_transpose_output_size(n, k, s, p, a, d)
        except ValueError as exc:
            raise ValueError(f"{exc} (along the {name})") from None
        out.append(size)
    c_out = c_out_g * geom.groups
    H, W = xa.shape[2:]
    full = tuple(  # the uncropped output grid: the last tap's reach, or padding + output
        max((n - 1) * s + d * (k - 1) + 1, geom.pads[2 * axis] + o)
        for axis, (n, s, d, k, o) in enumerate(
            zip((H, W), geom.stride, geom.dilation, geom.kernel, out, strict=True)
        )
    )
    check_sample_sizes(
        "conv_transpose2d",
        _shown_args(
            padding=padding,
            stride=stride,
            dilation=dilation,
            output_padding=output_padding,
            kernel=geom.kernel,
        ),
        {
            "one sample's output": (c_out, *out),
            "one sample's uncropped output": (c_out, *full),
            "one sample's GEMM columns": (c_out * geom.kernel[0] * geom.kernel[1], H, W),
        },
    )
    geom = clamp_unused(geom, (H, W), (max(full[0], op[0]), max(full[1], op[1])))
    return xa, wa, _bias(bias, c_out, xa.dtype), geom, unbatched, (out[0], out[1]), op


def check_grad_out(grad_out: ArrayLike, shape: tuple[int, ...], dtype: Any) -> FloatArray:
    """grad_out as a float array of exactly the forward output's ``shape``."""
    g = as_float_array(grad_out, "grad_out").astype(dtype, copy=False)
    if g.shape != shape:
        raise ValueError(f"grad_out must have the forward output's shape {shape}; got {g.shape}")
    return g


def as_1d_arrays(x: ArrayLike, weight: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """(N, C, L) or (C, L) input and a 3-D weight, lifted to height-1 2-D arrays for the 2-D code."""
    xa = as_float_array(x, "x")
    wa = as_float_array(weight, "weight")
    check_ndim(xa, "x", (2, 3))
    check_ndim(wa, "weight", 3)
    return xa[..., None, :], wa[:, :, None, :]


def bias_grad(grad_out: FloatArray) -> FloatArray:
    """dL/dbias (C_out,): ``grad_out`` (N, C_out, H, W) summed over N, H and W."""
    N, C, H, W = grad_out.shape
    return grad_out.reshape(N, C, H * W).sum(axis=2).sum(axis=0)
