r"""Classification losses from logits: softmax cross-entropy, sigmoid and softmax focal losses.

Each loss ``name(...)`` has ``name_grad(...)`` (same arguments) returning d(reduced loss)/d(logits),
and ``name_and_grad(...)`` returning both from one pass (sharing every intermediate). With
``reduction="none"`` the gradient is that of ``loss.sum()``.

Conventions
-----------
* Everything is computed in log space from the logits: log-softmax through log-sum-exp, log-sigmoid
  as :math:`-\mathrm{softplus}(-x)`; logits of :math:`\pm 10^4` give finite losses and gradients in
  float32 and float64. Logits must be finite (NaN or inf raise ``ValueError``).
* float32 in, float32 out; float64 in, float64 out; integer or bool logits are promoted to float64.
  Reduced losses are NumPy scalars of the logits' dtype.
* Reductions (one helper, :mod:`handgrad._reduction`): ``"none"``, ``"mean"`` (over every element
  of the per-element loss: samples for the softmax losses, all (anchor, class) entries for the
  sigmoid focal loss; the mean of nothing is 0 with a zero gradient), ``"sum"``, and for
  :func:`sigmoid_focal_loss` only, ``"normalized"``: the focal loss paper's sum divided by
  :math:`\max(1, \sum t)`, the number of positive targets (the number of positive anchors for
  one-hot targets; for soft targets, their total mass). The normaliser is a constant of the
  gradient, as in RetinaNet training code.
* ``gamma >= 0``; ``gamma = 0`` makes the softmax focal loss equal to the cross-entropy (values
  and gradients, bit for bit), and the sigmoid focal loss equal to the (alpha-weighted) binary
  cross-entropy.

Reference: T.-Y. Lin, P. Goyal, R. Girshick, K. He, P. Dollár, "Focal Loss for Dense Object
Detection", ICCV 2017 (the sigmoid form and its appendix gradient); torchvision's
``sigmoid_focal_loss`` for the exact definition with soft targets.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from handgrad import _sigmoid_focal, _softmax_focal
from handgrad._checks import (
    as_array,
    as_float_array,
    as_int_array,
    check_finite,
    check_real,
    check_same_shape,
    check_shape,
)
from handgrad._reduction import (
    ALL_REDUCTIONS,
    REDUCTIONS,
    apply_reduction,
    check_reduction,
    reduce_total,
    reduction_scale,
)

__all__ = [
    "cross_entropy_from_probability",
    "focal_loss_from_probability",
    "sigmoid_focal_loss",
    "sigmoid_focal_loss_and_grad",
    "sigmoid_focal_loss_grad",
    "softmax_cross_entropy",
    "softmax_cross_entropy_and_grad",
    "softmax_cross_entropy_grad",
    "softmax_focal_loss",
    "softmax_focal_loss_and_grad",
    "softmax_focal_loss_grad",
]

Array = NDArray[np.floating]
Loss = Array | np.floating


# ---------------------------------------------------------------------------------------------
# input checks (once, at the public entry points)


def _real(value: Any, name: str) -> float:
    """``value`` (a real number or a 0-d numeric array) as a finite float, or a ``TypeError``
    (strings, None, bools, arrays) / ``ValueError`` (NaN, inf) naming it."""
    return check_real(value, name, allow_0d=True)


def _gamma(gamma: Any) -> float:
    g = _real(gamma, "gamma")
    if g < 0:
        raise ValueError(f"gamma must be >= 0 (the focusing parameter); got {gamma!r}")
    return g


def _finite_logits(x: Array) -> None:
    """``check_finite`` with a fast path: min and max are finite iff every element is."""
    if x.size and not (np.isfinite(x.min()) and np.isfinite(x.max())):
        check_finite(x, "logits")


def _class_inputs(logits: ArrayLike, targets: ArrayLike) -> tuple[Array, NDArray[np.integer]]:
    """Logits (N, C) with C >= 1, finite; targets (N,) integer class indices in [0, C)."""
    z = as_float_array(logits, "logits")
    sizes = check_shape(z, "logits", ("N", "C"))
    if sizes["C"] < 1:
        raise ValueError(f"logits must have shape (N, C) with C >= 1 classes; got {z.shape}")
    _finite_logits(z)
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


def _binary_inputs(
    logits: ArrayLike, targets: ArrayLike
) -> tuple[Array, NDArray[Any], bool | None]:
    """Logits of any shape, finite; targets of the same shape in [0, 1] (any real dtype).

    Returns ``(x, t, binary)``: ``binary`` is True for integer or bool targets (0 or 1 once in
    range) and None for floating targets (the kernels look at each block).
    """
    x = as_float_array(logits, "logits")
    _finite_logits(x)
    t = as_array(targets, "targets", "a real numeric array")
    if t.dtype.kind not in "biuf":
        raise TypeError(f"targets must be a real numeric array; got dtype {t.dtype}")
    check_same_shape(x, "logits", t, "targets")
    if t.size:
        lo, hi = t.min(), t.max()
        if not (lo >= 0 and hi <= 1):  # also false for NaN
            raise ValueError(
                f"targets must be in [0, 1] (probabilities of the positive class); "
                f"got values in [{lo}, {hi}]"
            )
    return x, t, (True if t.dtype.kind in "biu" else None)


def _alpha_weights(alpha: Any, y: NDArray[np.integer], C: int, dtype: np.dtype) -> Array | None:
    """Per-sample weights a_{y_i} (N,) from alpha = None, a scalar >= 0 or per-class weights (C,)."""
    if alpha is None:
        return None
    a = as_array(alpha, "alpha", "None, a number or per-class weights (C,)")
    if a.ndim == 0:
        a_val = _real(alpha, "alpha")
        if a_val < 0:
            raise ValueError(f"alpha must be >= 0 (or None for no weighting); got {alpha!r}")
        return np.full(y.shape, a_val, dtype=dtype)
    a = as_float_array(alpha, "alpha", dtype=dtype)
    check_shape(a, "alpha", ("C",), {"C": C})
    if not (np.all(np.isfinite(a)) and np.all(a >= 0)):
        raise ValueError(f"alpha must hold finite per-class weights >= 0; got {a!r}")
    return a[y]


# ---------------------------------------------------------------------------------------------
# softmax family (kernels, forward beside backward, in handgrad._softmax_focal)


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
    g = _gamma(gamma)
    a = _alpha_weights(alpha, y, z.shape[1], z.dtype)
    scale = reduction_scale(z.shape[0], reduction) if grad else None
    loss, dz = _softmax_focal.softmax_focal_blocks(z, y, g, a, scale=scale)
    return (apply_reduction(loss, reduction) if value else None), dz


def softmax_cross_entropy(logits: ArrayLike, targets: ArrayLike, reduction: str = "mean") -> Loss:
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
    return _softmax_loss(logits, targets, 0.0, None, reduction, value=True, grad=False)[0]


def softmax_cross_entropy_grad(
    logits: ArrayLike, targets: ArrayLike, reduction: str = "mean"
) -> Array:
    r"""Gradient of :func:`softmax_cross_entropy` w.r.t. the logits, shape (N, C).

    .. math:: \partial \mathrm{CE}_i / \partial z_{ij} = p_{ij} - [j = y_i]

    times 1 (``"none"``, ``"sum"``) or 1/N (``"mean"``).
    """
    return _softmax_loss(logits, targets, 0.0, None, reduction, value=False, grad=True)[1]


def softmax_cross_entropy_and_grad(
    logits: ArrayLike, targets: ArrayLike, reduction: str = "mean"
) -> tuple[Loss, Array]:
    """:func:`softmax_cross_entropy` and its gradient from one pass."""
    return _softmax_loss(logits, targets, 0.0, None, reduction, value=True, grad=True)


def softmax_focal_loss(
    logits: ArrayLike,
    targets: ArrayLike,
    gamma: float = 2.0,
    alpha: float | ArrayLike | None = None,
    reduction: str = "mean",
) -> Loss:
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
    return _softmax_loss(logits, targets, gamma, alpha, reduction, value=True, grad=False)[0]


def softmax_focal_loss_grad(
    logits: ArrayLike,
    targets: ArrayLike,
    gamma: float = 2.0,
    alpha: float | ArrayLike | None = None,
    reduction: str = "mean",
) -> Array:
    r"""Gradient of :func:`softmax_focal_loss` w.r.t. the logits, shape (N, C).

    .. math::
        \frac{\partial \mathrm{FL}_i}{\partial z_{ij}} = a_i (1 - p_t)^\gamma
        \left(1 - \gamma \frac{p_t \log p_t}{1 - p_t}\right) (p_{ij} - [j = y_i])

    where :math:`p_t \log p_t / (1 - p_t) \to -1` as :math:`p_t \to 1` (used at :math:`p_t = 1`).
    """
    return _softmax_loss(logits, targets, gamma, alpha, reduction, value=False, grad=True)[1]


def softmax_focal_loss_and_grad(
    logits: ArrayLike,
    targets: ArrayLike,
    gamma: float = 2.0,
    alpha: float | ArrayLike | None = None,
    reduction: str = "mean",
) -> tuple[Loss, Array]:
    """:func:`softmax_focal_loss` and its gradient from one pass."""
    return _softmax_loss(logits, targets, gamma, alpha, reduction, value=True, grad=True)


# ---------------------------------------------------------------------------------------------
# sigmoid focal loss (kernels, forward beside backward, in handgrad._sigmoid_focal)


def _sigmoid_loss(
    logits: ArrayLike,
    targets: ArrayLike,
    alpha: Any,
    gamma: Any,
    reduction: str,
    *,
    value: bool,
    grad: bool,
) -> tuple[Any, Any]:
    """``(reduced loss or None, gradient or None)``, as ``value`` and ``grad`` ask."""
    check_reduction(reduction, ALL_REDUCTIONS)
    a = _real(alpha, "alpha")
    if a > 1:
        raise ValueError(
            f"alpha must be in [0, 1] (or < 0 to disable the weighting); got {alpha!r}"
        )
    g = _gamma(gamma)
    x, t, binary = _binary_inputs(logits, targets)
    normalizer = float(t.sum(dtype=np.float64)) if reduction == "normalized" else None
    keep = value and reduction == "none"  # only then is the per-element loss returned
    loss = np.empty(x.shape, dtype=x.dtype) if keep else None  # (shape of x)
    scale = reduction_scale(x.size, reduction, normalizer) if grad else None
    total, dx = _sigmoid_focal.sigmoid_focal_blocks(
        x, t, a, g, binary=binary, loss_out=None if loss is None else loss.reshape(-1), scale=scale
    )
    if not value:
        return None, dx
    if loss is not None:
        return loss, dx
    return reduce_total(total, x.size, reduction, x.dtype, normalizer), dx


def sigmoid_focal_loss(
    logits: ArrayLike,
    targets: ArrayLike,
    alpha: float = 0.25,
    gamma: float = 2.0,
    reduction: str = "none",
) -> Loss:
    r"""Sigmoid focal loss (Lin et al., 2017), torchvision's definition, from logits.

    .. math::
        \mathrm{FL} = a_t (1 - p_t)^\gamma \, \mathrm{CE}(x, t), \quad
        p = \sigma(x), \quad p_t = p t + (1 - p)(1 - t), \quad
        a_t = \alpha t + (1 - \alpha)(1 - t),

    with :math:`\mathrm{CE}(x, t) = \mathrm{softplus}(x) - t x` the binary cross-entropy with logits.
    ``p`` and ``1 - p`` are each computed as :math:`e^{-\mathrm{softplus}(\mp x)}` (no cancellation).

    Parameters
    ----------
    logits : array_like, any shape
        Finite logits, e.g. (anchors, classes).
    targets : array_like, same shape
        Values in [0, 1]: binary labels or soft targets (as torchvision allows).
    alpha : float, <= 1
        Weight of the positive class; ``alpha < 0`` disables the weighting (:math:`a_t = 1`).
    gamma : float, >= 0
        Focusing parameter.
    reduction : {"none", "mean", "sum", "normalized"}
        ``"normalized"``: sum / max(1, targets.sum()), the paper's normalisation by the number of
        positive anchors.

    Returns
    -------
    ndarray (shape of logits) or scalar of the logits' dtype.

    Examples
    --------
    x = 0 (p = 1/2), t = 1, alpha = 0.25, gamma = 2: 0.25 * (1/2)^2 * log 2 = 0.04332.

    >>> float(sigmoid_focal_loss(0.0, 1.0))  # doctest: +ELLIPSIS
    0.0433...
    """
    return _sigmoid_loss(logits, targets, alpha, gamma, reduction, value=True, grad=False)[0]


def sigmoid_focal_loss_grad(
    logits: ArrayLike,
    targets: ArrayLike,
    alpha: float = 0.25,
    gamma: float = 2.0,
    reduction: str = "none",
) -> Array:
    r"""Gradient of :func:`sigmoid_focal_loss` w.r.t. the logits (shape of logits).

    .. math::
        \frac{d\mathrm{FL}}{dx} = a_t s^\gamma \left[\gamma (1 - 2t)
        \frac{p (1 - p)}{s} \mathrm{CE} + p - t\right], \qquad s = 1 - p_t,

    times the reduction's factor. For binary targets, with :math:`y = 2t - 1 \in \{-1, +1\}` and
    :math:`p_t = \sigma(y x)`, this is the appendix of the paper (times :math:`a_t`):
    :math:`y (1 - p_t)^\gamma (\gamma p_t \log p_t + p_t - 1)`.
    """
    return _sigmoid_loss(logits, targets, alpha, gamma, reduction, value=False, grad=True)[1]


def sigmoid_focal_loss_and_grad(
    logits: ArrayLike,
    targets: ArrayLike,
    alpha: float = 0.25,
    gamma: float = 2.0,
    reduction: str = "none",
) -> tuple[Loss, Array]:
    """:func:`sigmoid_focal_loss` and its gradient from one fused pass (one exp, one log1p).

    The forward's intermediates (s^gamma, s, CE, 1 - 2t) are reused, in place, by the backward.
    """
    return _sigmoid_loss(logits, targets, alpha, gamma, reduction, value=True, grad=True)


# ---------------------------------------------------------------------------------------------
# losses of a probability (the worked solution's table and figure)


def _probability(p: ArrayLike) -> Array:
    arr = as_float_array(p, "p")
    if arr.size and not (arr.min() >= 0 and arr.max() <= 1):  # also false for NaN
        raise ValueError(
            f"p must hold probabilities in [0, 1]; got values in [{arr.min()}, {arr.max()}]"
        )
    return arr


def cross_entropy_from_probability(p: ArrayLike) -> Array:
    r"""Cross-entropy of the true class's probability: :math:`\mathrm{CE}(p) = -\log p`.

    ``p = 0`` gives ``inf`` (no warning), ``p = 1`` gives ``0.0`` (not ``-0.0``). Same shape and
    dtype as ``p`` (a 0-d array for a scalar).
    """
    arr = _probability(p)
    with np.errstate(divide="ignore"):
        return 0.0 - np.log(arr)  # 0.0 - 0.0 = +0.0 at p = 1


def focal_loss_from_probability(p: ArrayLike, gamma: float = 2.0) -> Array:
    r"""Focal loss of the true class's probability: :math:`\mathrm{FL}(p) = -(1 - p)^\gamma \log p`.

    ``gamma = 0`` gives :func:`cross_entropy_from_probability`; ``p = 0`` gives ``inf``, ``p = 1``
    gives ``0.0`` (also for ``gamma = 0``, where :math:`0^0 = 1`). The ratio CE / FL is
    :math:`(1 - p)^{-\gamma}`: 100 at p = 0.9 and gamma = 2, about 1000 at p = 0.968, at most 4
    for p <= 0.5.
    """
    g = _gamma(gamma)
    arr = _probability(p)
    return np.power(1.0 - arr, g) * cross_entropy_from_probability(arr)
