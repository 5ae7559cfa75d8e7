"""Convolution: size arithmetic, convolution matrices, conv2d / conv_transpose2d with backward passes.

Conventions (PyTorch's): NCHW input (an unbatched CHW input is accepted), conv2d weight
(C_out, C_in / groups, kh, kw), conv_transpose2d weight (C_in, C_out / groups, kh, kw), bias
(C_out,); stride, padding, dilation and output_padding are ints or (h, w) pairs. Every
``*_backward(grad_out, x, weight, ...)`` returns ``(dx, dweight, dbias)`` with dbias = grad_out summed
over N, H, W. float32 stays float32, float64 stays float64 (mixed inputs follow NumPy's promotion).

Checks: arguments are checked once, before anything is allocated (errors name the argument).
Zero-size spatial inputs, channel counts that ``groups`` does not divide and kernels larger than
the padded input raise ``ValueError``; an empty batch (N = 0) gives an empty output. No array of
a call may hold more than 2**32 elements per sample (output, padded input, im2col columns, the
uncropped transposed output): ``padding=10**6`` raises a ``ValueError`` naming the arguments
instead of trying to allocate terabytes. A stride along an axis with a single window, or a
dilation of a size-1 kernel, cannot change the result; any value is accepted there (2**70 too).
NaN and inf in ``x`` or ``weight`` propagate as in PyTorch.

Speed: im2col / col2im + BLAS GEMMs; with threadpoolctl installed, large batches are split over
as many threads as BLAS may use (every stage in parallel, BLAS held at one thread meanwhile).

Modules: :mod:`~handgrad.conv.arithmetic` (sizes, output padding, explanations),
:mod:`~handgrad.conv.matrix` (explicit and symbolic convolution matrices),
:mod:`~handgrad.conv.conv2d` and :mod:`~handgrad.conv.transpose` (operations, forward beside
backward), ``_gemm`` (the shared im2col / col2im machinery).
"""

from __future__ import annotations

from handgrad.conv.arithmetic import (
    TransposedEquivalent,
    conv_output_size,
    conv_transpose_output_size,
    effective_kernel_size,
    explain,
    full_padding,
    half_padding,
    inputs_with_same_output,
    output_padding_for,
    output_padding_remainder,
    transposed_equivalent,
)
from handgrad.conv.conv2d import conv1d, conv1d_backward, conv2d, conv2d_backward
from handgrad.conv.matrix import (
    SymbolicTranspose,
    conv_matrix,
    conv_matrix_output_hw,
    symbolic_conv_transpose,
)
from handgrad.conv.transpose import (
    METHODS,
    conv_transpose1d,
    conv_transpose1d_backward,
    conv_transpose2d,
    conv_transpose2d_backward,
)

__all__ = [
    "METHODS",
    "SymbolicTranspose",
    "TransposedEquivalent",
    "conv1d",
    "conv1d_backward",
    "conv2d",
    "conv2d_backward",
    "conv_matrix",
    "conv_matrix_output_hw",
    "conv_output_size",
    "conv_transpose1d",
    "conv_transpose1d_backward",
    "conv_transpose2d",
    "conv_transpose2d_backward",
    "conv_transpose_output_size",
    "effective_kernel_size",
    "explain",
    "full_padding",
    "half_padding",
    "inputs_with_same_output",
    "output_padding_for",
    "output_padding_remainder",
    "symbolic_conv_transpose",
    "transposed_equivalent",
]
