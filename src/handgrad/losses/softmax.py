r"""Softmax cross-entropy and softmax focal loss from logits, with their blocked kernels.

The public functions check their input once and reduce; the kernels (``softmax_focal_blocks``,
``softmax_focal_forward`` and ``softmax_focal_backward``, internal) compute the per-sample loss
and the gradient. Conventions: :mod:`handgrad.losses`.

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
from numpy.typing import ArrayLike, NDArray

from handgrad import _parallel
from handgrad._checks import as_array, as_float_array, as_int_array, check_shape
from handgrad._loss_trio import loss_trio
from handgrad._reduction import REDUCTIONS, apply_reduction, check_reduction, reduction_scale
from handgrad.losses._inputs import as_gamma, as_real, check_finite_logits

__all__ = [
    "softmax_cross_entropy",
    "softmax_cross_entropy_and_grad",
    "softmax_cross_entropy_grad",
    "softmax_focal_loss",
    "softmax_focal_loss_and_grad",
    "softmax_focal_loss_grad",
]

Array = NDArray[np.floating]
Loss = Array | np.floating
BOTH_DOC = ":func:`{name}` and its gradient from one pass."


def _cross_entropy(
    value: bool, grad: bool, logits: ArrayLike, targets: ArrayLike, reduction: str = "mean"
) -> tuple[Loss | None, Array | None]:
    r"""Cross-entropy of a softmax over classes, from logits (``torch.nn.functional.cross_entropy``).

    .. math:: \mathrm{CE}_i = -\log p_{i, y_i} = \log \sum_j e^{z_{ij}} - z_{i, y_i}

    computed with the log-sum-exp shift :math:`\max_j z_{ij}`.

    Parameters
    ----------
    logits : array_like, shape (N, C)
        Unnormalised class scores, finite.
    targets : array_like of int, shape (N,)
        Class index of each sample, in [0, C).
    reduction : {"none", "mean", "sum"}
        ``"none"``: the (N,) losses; ``"mean"``: their mean (0 for N = 0); ``"sum"``.

    Returns
    -------
    ndarray (N,) or scalar of the logits' dtype.

    Examples
    --------
    Two classes with logits (0, log 3): p = (1/4, 3/4), so CE for target 1 is -log(3/4) = 0.2877.

    >>> float(softmax_cross_entropy([[0.0, np.log(3.0)]], [1]))  # doctest: +ELLIPSIS
    0.2876...
    """
    return _softmax_loss(logits, targets, 0.0, None, reduction, value=value, grad=grad)


softmax_cross_entropy, softmax_cross_entropy_grad, softmax_cross_entropy_and_grad = loss_trio(
    _cross_entropy,
    "softmax_cross_entropy",
    r"""Gradient of :func:`softmax_cross_entropy` w.r.t. the logits, shape (N, C).

    .. math:: \partial \mathrm{CE}_i / \partial z_{ij} = p_{ij} - [j = y_i]

    times 1 (``"none"``, ``"sum"``) or 1/N (``"mean"``).
    """,
    BOTH_DOC,
)


def _focal(
    value: bool,
    grad: bool,
    logits: ArrayLike,
    targets: ArrayLike,
    gamma: float = 2.0,
    alpha: float | ArrayLike | None = None,
    reduction: str = "mean",
) -> tuple[Loss | None, Array | None]:
    r"""Focal loss of a softmax over classes (the multi-class form of Lin et al., 2017).

    .. math:: \mathrm{FL}_i = -a_i (1 - p_{t,i})^\gamma \log p_{t,i}, \qquad p_{t,i} = p_{i, y_i}

    with :math:`\log p_t` from log-sum-exp and :math:`1 - p_t = -\mathrm{expm1}(\log p_t)`.

    Parameters
    ----------
    logits : array_like, shape (N, C)
        Unnormalised class scores, finite.
    targets : array_like of int, shape (N,)
        Class indices in [0, C).
    gamma : float, >= 0
        Focusing parameter; 0 gives :func:`softmax_cross_entropy` exactly.
    alpha : None, float >= 0 or array_like (C,) of weights >= 0
        :math:`a_i = 1` (None), ``alpha`` (scalar), or ``alpha[y_i]`` (per-class weights).
    reduction : {"none", "mean", "sum"}
        ``"mean"`` divides the sum by N (not by the sum of the weights, unlike torch's ``weight=``).

    Returns
    -------
    ndarray (N,) or scalar of the logits' dtype.

    Examples
    --------
    p_t = 3/4 (logits (0, log 3), target 1), gamma = 2: (1/4)^2 * 0.2877 = 0.01798, 16x below CE.

    >>> float(softmax_focal_loss([[0.0, np.log(3.0)]], [1], gamma=2.0))  # doctest: +ELLIPSIS
    0.01798...
    """
    return _softmax_loss(logits, targets, gamma, alpha, reduction, value=value, grad=grad)


softmax_focal_loss, softmax_focal_loss_grad, softmax_focal_loss_and_grad = loss_trio(
    _focal,
    "softmax_focal_loss",
    r"""Gradient of :func:`softmax_focal_loss` w.r.t. the logits, shape (N, C).

    .. math::
        \frac{\partial \mathrm{FL}_i}{\partial z_{ij}} = a_i (1 - p_t)^\gamma
        \left(1 - \gamma \frac{p_t \log p_t}{1 - p_t}\right) (p_{ij} - [j = y_i])

    where :math:`p_t \log p_t / (1 - p_t) \to -1` as :math:`p_t \to 1` (used at :math:`p_t = 1`).
    """,
    BOTH_DOC,
)


# ---------------------------------------------------------------------------------------------
# input checks and the shared driver (once, at the public entry points)


def _softmax_loss(
    logits: ArrayLike,
    targets: ArrayLike,
    gamma: Any,
    alpha: Any,
    reduction: str,
    *,
    value: bool,
    grad: bool,
) -> tuple[Any, Any]:
    """``(reduced loss or None, gradient or None)``, as ``value`` and ``grad`` ask."""
    check_reduction(reduction, REDUCTIONS)
    z, y = _class_inputs(logits, targets)
    g = as_gamma(gamma)
    a = _alpha_weights(alpha, y, z.shape[1], z.dtype)
    scale = reduction_scale(z.shape[0], reduction) if grad else None
    loss, dz = softmax_focal_blocks(z, y, g, a, scale=scale)
    return (apply_reduction(loss, reduction) if value else None), dz


def _class_inputs(logits: ArrayLike, targets: ArrayLike) -> tuple[Array, NDArray[np.integer]]:
    """Logits (N, C) with C >= 1, finite; targets (N,) integer class indices in [0, C)."""
    z = as_float_array(logits, "logits")
    sizes = check_shape(z, "logits", ("N", "C"))
    if sizes["C"] < 1:
        raise ValueError(f"logits must have shape (N, C) with C >= 1 classes; got {z.shape}")
    check_finite_logits(z)
    raw = as_array(targets, "targets", "an integer array")
    if raw.dtype.kind == "u" and raw.size:  # range first: uint64 above 2**63 wraps in int64
        _check_classes(int(raw.min()), int(raw.max()), sizes["C"])
    y = as_int_array(raw, "targets")
    check_shape(y, "targets", ("N",), sizes)
    if y.size:
        _check_classes(int(y.min()), int(y.max()), sizes["C"])
    return z, y


def _check_classes(lo: int, hi: int, C: int) -> None:
    """Raise ``ValueError`` unless the targets' range [lo, hi] lies in [0, C)."""
    if lo < 0 or hi >= C:
        raise ValueError(
            f"targets must be class indices in [0, {C - 1}] (C = {C}); got values in [{lo}, {hi}]"
        )


def _alpha_weights(alpha: Any, y: NDArray[np.integer], C: int, dtype: np.dtype) -> Array | None:
    """Per-sample weights a_{y_i} (N,) from alpha = None, a scalar >= 0 or per-class weights (C,)."""
    if alpha is None:
        return None
    a = as_array(alpha, "alpha", "None, a number or per-class weights (C,)")
    if a.ndim == 0:
        a_val = as_real(alpha, "alpha")
        if a_val < 0:
            raise ValueError(f"alpha must be >= 0 (or None for no weighting); got {alpha!r}")
        return np.full(y.shape, a_val, dtype=dtype)
    a = as_float_array(alpha, "alpha", dtype=dtype)
    check_shape(a, "alpha", ("C",), {"C": C})
    if not (np.all(np.isfinite(a)) and np.all(a >= 0)):
        raise ValueError(f"alpha must hold finite per-class weights >= 0; got {a!r}")
    return a[y]


# ---------------------------------------------------------------------------------------------
# kernels: blocks of rows, forward beside backward


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
        # (rows, C) exp(z - m) of a block when no gradient array receives it
        scratch = np.empty((min(rows, n) if dz is None else 0, C), dtype=z.dtype)
        for start in range(part.start, part.stop, rows):
            stop = min(part.stop, start + rows)
            e = dz[start:stop] if dz is not None else scratch[: stop - start]
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
