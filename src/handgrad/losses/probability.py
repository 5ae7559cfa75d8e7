r"""Losses of the true class's probability (the worked solution's table and figure).

:func:`cross_entropy_from_probability` and :func:`focal_loss_from_probability` take the
probability ``p`` itself, not logits: they tabulate and plot the two curves. Training code uses
the losses from logits (:mod:`handgrad.losses.softmax`, :mod:`handgrad.losses.sigmoid_focal`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from handgrad._checks import as_float_array
from handgrad.losses._inputs import as_gamma

__all__ = ["cross_entropy_from_probability", "focal_loss_from_probability"]

Array = NDArray[np.floating]


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
    g = as_gamma(gamma)
    arr = _probability(p)
    return np.power(1.0 - arr, g) * cross_entropy_from_probability(arr)
