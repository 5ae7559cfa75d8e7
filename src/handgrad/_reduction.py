r"""The one reduction helper for every loss: forward (:func:`apply_reduction`) and backward
(:func:`reduction_grad`, :func:`reduction_scale`) side by side.

Vocabulary
----------
``"none"``
    The per-element loss array, unchanged. Its "gradient" is that of ``loss.sum()`` (ones), the
    library-wide convention for ``*_grad`` functions with ``reduction="none"``.
``"sum"``
    .. math:: R = \sum_i \ell_i, \qquad \partial R / \partial \ell_i = 1
``"mean"``
    .. math:: R = \frac{1}{n} \sum_i \ell_i, \qquad \partial R / \partial \ell_i = 1 / n

    with ``n = loss.size``. The mean of an empty input is 0 and its gradient is zero (an empty
    array), never a 0/0 NaN.
``"normalized"`` (opt-in: only losses that define a normaliser accept it)
    .. math:: R = \frac{\sum_i \ell_i}{\max(1, m)}, \qquad \partial R / \partial \ell_i = 1 / \max(1, m)

    where ``m`` is a count supplied by the loss (the focal loss paper divides the summed loss by
    the number of positive anchors; ``max(1, .)`` keeps an image without positives finite).
    ``m`` is treated as a constant: it never depends on the differentiated input.

API (stable; ``handgrad.losses`` and ``handgrad.boxes`` import it)
------------------------------------------------------------------
``check_reduction(reduction, allowed=REDUCTIONS)``
    Validate the argument once at a public entry point; returns it.
``apply_reduction(loss, reduction, normalizer=None)``
    ``loss`` itself for ``"none"``, else a NumPy scalar of ``loss.dtype`` (``np.float32`` for
    float32 input).
``reduce_total(total, n, reduction, dtype, normalizer=None)``
    The same scalar from a precomputed ``total = loss.sum()`` of ``n`` elements, for losses that
    accumulate their sum block by block and never hold the whole loss array;
    ``apply_reduction`` is ``reduce_total(loss.sum(), loss.size, ...)``.
``reduction_scale(n, reduction, normalizer=None)``
    The constant factor ``c`` with ``dR/dl_i = c`` for every element (1, 1/n, 1/max(1, m)); ``0``
    for the mean of nothing. Lets a fused backward scale in place instead of allocating ones.
``reduction_grad(shape_or_loss, reduction, dtype=None, normalizer=None)``
    The array ``dR/dloss`` with the loss's shape, filled with ``reduction_scale``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

from handgrad._checks import check_choice

__all__ = [
    "ALL_REDUCTIONS",
    "REDUCTIONS",
    "apply_reduction",
    "check_reduction",
    "reduce_total",
    "reduction_grad",
    "reduction_scale",
]

REDUCTIONS: tuple[str, ...] = ("none", "mean", "sum")
ALL_REDUCTIONS: tuple[str, ...] = (*REDUCTIONS, "normalized")


def check_reduction(reduction: Any, allowed: Iterable[str] = REDUCTIONS) -> str:
    """Raise ``ValueError`` unless ``reduction`` is one of ``allowed``; return it.

    Examples
    --------
    >>> check_reduction("mean")
    'mean'
    >>> check_reduction("avg")
    Traceback (most recent call last):
        ...
    ValueError: reduction must be one of 'none', 'mean', 'sum'; got 'avg'
    """
    check_choice(reduction, "reduction", tuple(allowed))
    return str(reduction)


def _normalizer_count(normalizer: float | None) -> float:
    """``max(1, m)`` for the "normalized" reduction, with ``m`` checked."""
    if normalizer is None:
        raise ValueError('reduction="normalized" needs a normalizer (a count >= 0); got None')
    m = float(normalizer)
    if not np.isfinite(m) or m < 0:
        raise ValueError(f"normalizer must be a finite count >= 0; got {normalizer!r}")
    return max(1.0, m)


def apply_reduction(
    loss: NDArray[np.floating], reduction: str, normalizer: float | None = None
) -> NDArray[np.floating] | np.floating:
    """Reduce a per-element loss (forward).

    Parameters
    ----------
    loss : ndarray, any shape
        Per-element losses (float32 or float64).
    reduction : {"none", "mean", "sum", "normalized"}
        See the module docstring.
    normalizer : float, optional
        The count ``m`` of the ``"normalized"`` reduction (ignored otherwise).

    Returns
    -------
    ndarray or numpy scalar
        ``loss`` unchanged for ``"none"``; otherwise a scalar of ``loss.dtype``.
    """
    if reduction == "none":
        return loss
    return reduce_total(loss.sum(), loss.size, reduction, loss.dtype, normalizer)


def reduce_total(
    total: float,
    n: int,
    reduction: str,
    dtype: DTypeLike,
    normalizer: float | None = None,
) -> np.floating:
    """The reduced loss from the sum ``total`` of ``n`` per-element losses (``reduction != "none"``).

    ``"sum"``: ``total``; ``"mean"``: ``total / n`` (0 when ``n == 0``); ``"normalized"``:
    ``total / max(1, normalizer)``. The division is done in float64 and rounded once to ``dtype``.
    """
    cast: Any = np.dtype(dtype).type  # np.float32 or np.float64
    if reduction == "sum":
        return cast(total)
    if reduction == "mean":
        return cast(0) if n == 0 else cast(float(total) / n)
    if reduction == "normalized":
        return cast(float(total) / _normalizer_count(normalizer))
    check_reduction(reduction, ALL_REDUCTIONS)  # raises with the standard message
    raise ValueError(f"reduction {reduction!r} has no scalar value")


def reduction_scale(n: int, reduction: str, normalizer: float | None = None) -> float:
    """The constant ``dR/dloss_i`` shared by every element (backward of :func:`apply_reduction`).

    ``1`` for ``"none"`` (gradient of ``loss.sum()``) and ``"sum"``; ``1 / n`` for ``"mean"``
    (``0`` when ``n == 0``); ``1 / max(1, m)`` for ``"normalized"``.
    """
    if reduction in ("none", "sum"):
        return 1.0
    if reduction == "mean":
        return 0.0 if n == 0 else 1.0 / n
    if reduction == "normalized":
        return 1.0 / _normalizer_count(normalizer)
    check_reduction(reduction, ALL_REDUCTIONS)
    raise AssertionError("unreachable")  # pragma: no cover


def reduction_grad(
    shape_or_loss: tuple[int, ...] | NDArray[np.floating],
    reduction: str,
    dtype: DTypeLike | None = None,
    normalizer: float | None = None,
) -> NDArray[np.floating]:
    """``dR/dloss`` as an array with the loss's shape (backward of :func:`apply_reduction`).

    Parameters
    ----------
    shape_or_loss : tuple of int or ndarray
        The loss's shape, or the loss array itself (its shape and, by default, dtype are used).
    reduction : {"none", "mean", "sum", "normalized"}
        See the module docstring.
    dtype : dtype, optional
        Dtype of the result; default the loss array's dtype, or float64 when a shape is given.
    normalizer : float, optional
        The count ``m`` of the ``"normalized"`` reduction.

    Returns
    -------
    ndarray, shape of the loss
        Every element equal to :func:`reduction_scale` (ones, ``1/n``, ``1/max(1, m)``).
    """
    if isinstance(shape_or_loss, np.ndarray):
        shape: tuple[int, ...] = shape_or_loss.shape
        out_dtype = shape_or_loss.dtype if dtype is None else np.dtype(dtype)
    else:
        shape = tuple(int(s) for s in shape_or_loss)
        out_dtype = np.dtype(np.float64 if dtype is None else dtype)
    n = int(np.prod(shape, dtype=np.int64))
    return np.full(shape, reduction_scale(n, reduction, normalizer), dtype=out_dtype)
