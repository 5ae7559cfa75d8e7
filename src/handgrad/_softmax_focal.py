r"""Kernels of the softmax cross-entropy and softmax focal loss (private; see :mod:`handgrad.losses`).

Math (row ``i`` of logits ``z`` (N, C), target class ``y_i``)
    .. math::
        \log p_{ij} = z_{ij} - \mathrm{lse}_i, \quad
        \mathrm{lse}_i = m_i + \log \sum_j e^{z_{ij} - m_i}, \quad m_i \ge \max_j z_{ij},
        \quad p_t = p_{i y_i},

        \mathrm{FL}_i = -a_i (1 - p_t)^\gamma \log p_t \quad
        (\gamma = 0,\ a_i = 1: \text{the cross-entropy}),

        \frac{\partial \mathrm{FL}_i}{\partial z_{ij}} = \omega_i (p_{ij} - [j = y_i]), \qquad
        \omega_i = a_i (1 - p_t)^\gamma \left(1 - \gamma p_t r_i\right), \quad
        r_i = \frac{\log p_t}{1 - p_t} \le -1,

    from :math:`d\mathrm{FL}/d\log p_t = -\omega_i` and
    :math:`\partial \log p_t / \partial z_{ij} = [j = y_i] - p_{ij}`. ``r`` has the limit -1 at
    :math:`p_t = 1`, used there, and :math:`1 - p_t = -\mathrm{expm1}(\log p_t)` is exact near 1.
    With :math:`\gamma = 0` and no weights, :math:`\omega_i = 1` is not computed at all, so the focal
    loss equals the cross-entropy bit for bit.

The shift :math:`m_i` is the block's maximum when the block's logits span a narrow range (one
scalar), else the row's maximum (see ``_shift``). Blocks of rows (about :data:`BLOCK_BYTES` of
logits each) are processed one after the other, a contiguous part of the rows per thread when the
input is large; the exponentials of a block are written straight into the gradient's rows, which
the backward turns into the gradient in place. Per-sample vectors (N,) are the only other arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from handgrad import _parallel

__all__ = ["BLOCK_BYTES", "softmax_focal_backward", "softmax_focal_blocks", "softmax_focal_forward"]

Array = NDArray[np.floating]
BLOCK_BYTES = 1 << 18  # bytes of logits per block of rows


def softmax_focal_blocks(
    z: Array, y: NDArray[np.integer], gamma: float, a: Array | None, *, scale: float | None
) -> tuple[Array, Array | None]:
    """Per-sample loss (N,) and, if ``scale`` is not None, ``scale * dloss/dz`` (N, C).

    ``z`` finite (N, C) with C >= 1, ``y`` (N,) in [0, C), ``a`` (N,) per-sample weights or None,
    ``gamma >= 0`` (all checked by the caller).
    """
    N, C = z.shape
    loss = np.empty(N, dtype=z.dtype)  # (N,) per-sample loss
    dz = None if scale is None else np.empty_like(z)  # (N, C) gradient, built block by block
    rows = max(1, BLOCK_BYTES // max(1, C * z.itemsize))  # rows per block

    def work(part: slice) -> None:
        """The blocks of rows ``part``; large inputs run a part per thread (handgrad._parallel)."""
        n = part.stop - part.start
        scratch = np.empty((min(rows, n), C), dtype=z.dtype) if dz is None else None  # (rows, C)
        for start in range(part.start, part.stop, rows):
            stop = min(part.stop, start + rows)
            e = dz[start:stop] if dz is not None else scratch[: stop - start]  # type: ignore[index]
            cache = softmax_focal_forward(
                z[start:stop], y[start:stop], gamma, None if a is None else a[start:stop], e,
                loss[start:stop],
            )  # fmt: skip
            if scale is not None:
                softmax_focal_backward(scale, cache)

    _parallel.run_split(N, C, work)
    return loss, dz


def _shift(z: Array) -> Array | np.floating:
    """The log-sum-exp shift m: the block's maximum when its range is narrow, else each row's.

    Any m with max_j z_ij - m in [0, R] is safe: exp(z - m) <= 1 cannot overflow and the row's
    largest term exp(max_j z_ij - m) >= e^{-R} is a normal number. Rounding z - m costs
    ~eps |z - m| in each exponent, so R bounds the extra error of a row far below the block's
    maximum: R = 24 in float32 (7e-7 relative), 512 in float64 (3e-14). One scalar per block
    costs a min and a max, where NumPy's row-wise max over short rows is ~10x slower.
    """
    if z.size == 0:
        return z.max(axis=1, keepdims=True)
    hi = z.max()
    if hi - z.min() <= (24.0 if z.dtype == np.float32 else 512.0):
        return hi
    return z.max(axis=1, keepdims=True)  # (n, 1)


def softmax_focal_forward(
    z: Array, y: NDArray[np.integer], gamma: float, a: Array | None, e: Array, loss: Array
) -> tuple[Any, ...]:
    """Loss of a block of rows into ``loss`` (n,); ``e`` (n, C) receives exp(z - max), the cache."""
    n = z.shape[0]
    rows = np.arange(n)  # (n,)
    np.subtract(z, _shift(z), out=e)  # (n, C) z - m: exp cannot overflow
    shifted_t = e[rows, y]  # (n,) z_y - m
    np.exp(e, out=e)  # (n, C) exp(z - m)
    total = e.sum(axis=1)  # (n,) sum_j exp(z_ij - m_i), in [1, C]
    logpt = shifted_t - np.log(total)  # (n,) log p_t = z_y - lse
    weight = None  # (n,) omega, None when it is 1 (cross-entropy)
    if gamma == 0:
        np.negative(logpt, out=loss)  # CE
    else:
        one_m_pt = -np.expm1(logpt)  # (n,) 1 - p_t
        focus = np.power(one_m_pt, gamma)  # (n,) (1 - p_t)^gamma
        np.multiply(focus, -logpt, out=loss)
        r = np.divide(logpt, one_m_pt, out=np.full_like(logpt, -1.0), where=one_m_pt > 0)  # (n,)
        weight = focus * (1.0 - gamma * np.exp(logpt) * r)  # (n,) omega without a
    if a is not None:
        loss *= a
        weight = a if weight is None else weight * a
    return e, total, rows, y, weight


def softmax_focal_backward(scale: float, cache: tuple[Any, ...]) -> None:
    """Turn the cache's ``e`` (n, C) into ``scale * omega_i (p_ij - [j = y_i])`` in place."""
    e, total, rows, y, weight = cache
    factor = scale if weight is None else weight * scale  # scalar or (n,)
    e *= (factor / total)[:, None]  # p omega (p = e / total)
    e[rows, y] -= factor  # - omega at the target
