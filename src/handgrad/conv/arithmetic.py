r"""Convolution arithmetic: output sizes, output padding, and the relationships between them.

One spatial axis at a time (apply to height and width separately). Symbols follow Dumoulin & Visin,
"A guide to convolution arithmetic for deep learning" (2016): input size :math:`i`, kernel :math:`k`,
stride :math:`s`, zero padding :math:`p` on each side, dilation :math:`d`, output size :math:`o`.

Direct convolution (their relationships 1-6, and 15 for dilation)
    .. math:: o = \left\lfloor \frac{i + 2p - d(k - 1) - 1}{s} \right\rfloor + 1

Transposed convolution (relationships 8-14; 7 is pooling, the case p = 0), with output padding :math:`a`
    .. math:: o' = (i' - 1) s - 2p + d(k - 1) + 1 + a

    The direct convolution maps every input size in :math:`o'_0 + \{0, \dots, s - 1\}` (with
    :math:`o'_0` the size at :math:`a = 0`) to :math:`i'`; ``output_padding`` picks one of them.
    PyTorch accepts :math:`0 \le a < \max(s, d)`.

Every function checks its arguments and raises ``ValueError`` naming the rule that a combination
breaks (non-positive sizes, a kernel larger than the padded input, output padding too large).
"""

from __future__ import annotations

from dataclasses import dataclass

from handgrad._checks import check_positive_int

__all__ = [
    "TransposedEquivalent",
    "conv_output_size",
    "conv_transpose_output_size",
    "effective_kernel_size",
    "explain",
    "full_padding",
    "half_padding",
    "inputs_with_same_output",
    "output_padding_for",
    "output_padding_remainder",
    "transposed_equivalent",
]


def _check_common(n: int, kernel: int, stride: int, padding: int, dilation: int) -> None:
    check_positive_int(n, "n")
    check_positive_int(kernel, "kernel")
    check_positive_int(stride, "stride")
    check_positive_int(padding, "padding", allow_zero=True)
    check_positive_int(dilation, "dilation")


def effective_kernel_size(kernel: int, dilation: int = 1) -> int:
    r"""Extent of a dilated kernel, :math:`\hat k = d (k - 1) + 1` (relationship 15's :math:`\hat k`).

    Example: ``kernel=3, dilation=2`` spans 2 * (3 - 1) + 1 = 5 input positions.
    """
    check_positive_int(kernel, "kernel")
    check_positive_int(dilation, "dilation")
    return dilation * (kernel - 1) + 1


def conv_output_size(
    n: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> int:
    r"""Output size of a direct convolution along one axis.

    .. math:: o = \lfloor (n + 2p - d(k - 1) - 1) / s \rfloor + 1

    Examples (Dumoulin & Visin): i = 5, k = 3, s = 2, p = 1 gives floor((5 + 2 - 3) / 2) + 1 = 3;
    i = 6, k = 3, s = 2, p = 1 also gives floor(5 / 2) + 1 = 3.

    Raises
    ------
    ValueError
        If a size is not positive, padding is negative, or the (dilated) kernel is larger than the
        padded input (the output would be empty).
    """
    _check_common(n, kernel, stride, padding, dilation)
    k_eff = dilation * (kernel - 1) + 1
    if k_eff > n + 2 * padding:
        raise ValueError(
            f"kernel larger than padded input: the dilated kernel spans d(k - 1) + 1 = {k_eff} "
            f"positions (kernel={kernel}, dilation={dilation}) but the padded input has only "
            f"n + 2p = {n + 2 * padding} (n={n}, padding={padding})"
        )
    return (n + 2 * padding - k_eff) // stride + 1


def output_padding_remainder(
    n: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> int:
    r"""Input rows a direct convolution never reaches: :math:`(n + 2p - d(k - 1) - 1) \bmod s`.

    This is the ``output_padding`` with which the transposed convolution returns to size ``n``
    (relationship 14's :math:`a`), and the one with which ``C.T @ y`` equals
    ``conv_transpose2d(y)`` for the convolution matrix ``C`` of an input of size ``n``.
    """
    conv_output_size(n, kernel, stride, padding, dilation)  # validates
    return (n + 2 * padding - dilation * (kernel - 1) - 1) % stride


def conv_transpose_output_size(
    n: int,
    kernel: int,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
) -> int:
    r"""Output size of a transposed convolution along one axis (PyTorch's formula).

    .. math:: o' = (n - 1) s - 2p + d(k - 1) + 1 + a

    Examples: the seed's 3 x 3 input with a 7 x 7 kernel, s = 1, p = 0: (3 - 1) + 7 = 9;
    Dumoulin & Visin's i' = 3, k = 3, s = 2, p = 1, a = 1: 2 * 2 - 2 + 3 + 1 = 6.

    Raises
    ------
    ValueError
        If a size is not positive, ``output_padding`` is not smaller than ``max(stride,
        dilation)`` (PyTorch's rule), or the result is not positive (padding crops everything).
    """
    _check_common(n, kernel, stride, padding, dilation)
    check_positive_int(output_padding, "output_padding", allow_zero=True)
    if output_padding >= max(stride, dilation):
        raise ValueError(
            f"output_padding must be smaller than stride or dilation (PyTorch's rule: "
            f"0 <= output_padding < max(stride, dilation) = {max(stride, dilation)}); "
            f"got output_padding={output_padding} with stride={stride}, dilation={dilation}"
        )
    out = (n - 1) * stride - 2 * padding + dilation * (kernel - 1) + 1 + output_padding
    if out < 1:
        raise ValueError(
            f"non-positive output size: (n - 1) s - 2p + d(k - 1) + 1 + a = {out} for n={n}, "
            f"kernel={kernel}, stride={stride}, padding={padding}, dilation={dilation}, "
            f"output_padding={output_padding}; padding crops more than the transposed "
            f"convolution produces"
        )
    return out


def output_padding_for(
    target: int, n: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> int:
    r"""The ``output_padding`` :math:`a` with which a transposed convolution of size ``n`` gives ``target``.

    .. math:: a = \text{target} - ((n - 1) s - 2p + d(k - 1) + 1), \qquad 0 \le a < \max(s, d)

    Example (Dumoulin & Visin): a 6-long input, k = 3, s = 2, p = 1 convolves to 3; back from 3
    the transposed convolution gives 5 with a = 0, so reaching 6 needs a = 1.

    Raises
    ------
    ValueError
        If no allowed ``output_padding`` reaches ``target``; the message gives the reachable sizes.
    """
    check_positive_int(target, "target")
    _check_common(n, kernel, stride, padding, dilation)
    # size at a = 0 (may be <= 0 when padding crops a lot; a larger a can still reach target)
    smallest = (n - 1) * stride - 2 * padding + dilation * (kernel - 1) + 1
    largest = smallest + max(stride, dilation) - 1
    a = target - smallest
    if a < 0 or a >= max(stride, dilation):
        raise ValueError(
            f"no output_padding reaches target={target}: with n={n}, kernel={kernel}, "
            f"stride={stride}, padding={padding}, dilation={dilation} the transposed convolution "
            f"gives (n - 1) s - 2p + d(k - 1) + 1 + a = {smallest} + a, and output_padding must "
            f"satisfy 0 <= a < max(stride, dilation) = {max(stride, dilation)}, so only sizes "
            f"{max(smallest, 1)}..{largest} are reachable"
        )
    return a


def inputs_with_same_output(
    n: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> list[int]:
    r"""Every input size that a direct convolution maps to the same output size as ``n``.

    With :math:`o` the output size, these are
    :math:`m \in \{(o - 1) s + d(k - 1) + 1 - 2p + r : 0 \le r < s\}` restricted to
    :math:`m \ge 1` and :math:`m + 2p \ge d(k - 1) + 1`. The transposed convolution cannot tell
    them apart; ``output_padding`` = r selects one.

    Example: k = 3, s = 2, p = 1 maps both 5 and 6 to 3, so ``inputs_with_same_output(6, 3, 2, 1)``
    is ``[5, 6]``.
    """
    o = conv_output_size(n, kernel, stride, padding, dilation)
    k_eff = dilation * (kernel - 1) + 1
    first = (o - 1) * stride + k_eff - 2 * padding
    return [m for m in range(first, first + stride) if m >= 1 and m + 2 * padding >= k_eff]


def half_padding(kernel: int, dilation: int = 1) -> int:
    r"""Half ("same") padding :math:`p = \lfloor d(k - 1) / 2 \rfloor` (relationship 3).

    For an odd effective kernel and s = 1 the output size equals the input size.
    """
    return (effective_kernel_size(kernel, dilation) - 1) // 2


def full_padding(kernel: int, dilation: int = 1) -> int:
    r"""Full padding :math:`p = d(k - 1)` (relationship 4): o = i + d(k - 1) for s = 1."""
    return effective_kernel_size(kernel, dilation) - 1


@dataclass(frozen=True)
class TransposedEquivalent:
    r"""The stride-1 direct convolution that equals a transposed convolution (relationships 8-14).

    The transposed convolution's input is stretched by inserting ``stride - 1`` zeros between
    neighbours (:math:`\tilde i' = (i' - 1) s + 1`), padded with ``padding`` zeros on each side (plus
    ``extra_end`` at the end: the output padding), and convolved with stride 1 by the flipped
    kernel at the same dilation. A negative ``padding`` means cropping that many entries.

    Attributes
    ----------
    stretched : int
        :math:`\tilde i' = (i' - 1) s + 1`.
    padding : int
        :math:`p' = d(k - 1) - p`.
    extra_end : int
        :math:`a`, added after the stretched input.
    kernel, dilation : int
        Unchanged.
    output : int
        :math:`o' = \tilde i' + 2p' + a - d(k - 1)`.
    """

    stretched: int
    padding: int
    extra_end: int
    kernel: int
    dilation: int
    output: int


def transposed_equivalent(
    n: int,
    kernel: int,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
) -> TransposedEquivalent:
    r"""Zero-insertion view of a transposed convolution (Dumoulin & Visin section 4).

    Example (relationship 9): i' = 4, k = 4, s = 1, p = 2 equals the direct convolution of the
    input padded by p' = k - p - 1 = 1 on each side: o' = 4 + 2 * 1 - (4 - 1) = 3.
    """
    out = conv_transpose_output_size(n, kernel, stride, padding, output_padding, dilation)
    stretched = (n - 1) * stride + 1
    p_prime = dilation * (kernel - 1) - padding
    return TransposedEquivalent(stretched, p_prime, output_padding, kernel, dilation, out)


def explain(
    n: int,
    kernel: int,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    output_padding: int | None = None,
) -> list[str]:
    """The arithmetic of a convolution and its transpose along one axis, as text lines.

    Lists the direct output size with the formula filled in, the input sizes sharing that output,
    the output padding that returns to ``n``, and the transposed convolution's size. Raises like
    :func:`conv_output_size` for impossible parameters.
    """
    o = conv_output_size(n, kernel, stride, padding, dilation)
    k_eff = dilation * (kernel - 1) + 1
    lines = [
        f"input n = {n}, kernel k = {kernel}, stride s = {stride}, padding p = {padding}, "
        f"dilation d = {dilation}",
        f"dilated kernel extent d(k - 1) + 1 = {dilation} * {kernel - 1} + 1 = {k_eff}",
        f"convolution: o = floor((n + 2p - d(k - 1) - 1) / s) + 1 = "
        f"floor(({n} + {2 * padding} - {k_eff - 1} - 1) / {stride}) + 1 = {o}",
    ]
    same = inputs_with_same_output(n, kernel, stride, padding, dilation)
    lines.append(f"input sizes with the same output {o}: {same}")
    a_back = output_padding_remainder(n, kernel, stride, padding, dilation)
    lines.append(
        f"transposed back from {o}: (o - 1) s - 2p + d(k - 1) + 1 + a = "
        f"{(o - 1) * stride} - {2 * padding} + {k_eff - 1} + 1 + a = {n - a_back} + a; "
        f"output_padding a = {a_back} returns to {n}"
    )
    if output_padding is not None:
        out_t = conv_transpose_output_size(n, kernel, stride, padding, output_padding, dilation)
        lines.append(
            f"transposed convolution of n = {n}: (n - 1) s - 2p + d(k - 1) + 1 + a = "
            f"{(n - 1) * stride} - {2 * padding} + {k_eff - 1} + 1 + {output_padding} = {out_t}"
        )
    return lines
