"""Input checks shared by the classification losses (each raises naming the argument)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from handgrad._checks import check_finite, check_real

__all__ = ["as_gamma", "as_real", "check_finite_logits"]


def as_real(value: Any, name: str) -> float:
    """``value`` (a real number or a 0-d numeric array) as a finite float, or a ``TypeError``
    (strings, None, bools, arrays) / ``ValueError`` (NaN, inf) naming it."""
    return check_real(value, name, allow_0d=True)


def as_gamma(gamma: Any) -> float:
    """The focusing parameter as a float >= 0."""
    g = as_real(gamma, "gamma")
    if g < 0:
        raise ValueError(f"gamma must be >= 0 (the focusing parameter); got {gamma!r}")
    return g


def check_finite_logits(x: NDArray[np.floating]) -> None:
    """``check_finite`` with a fast path: min and max are finite iff every element is."""
    if x.size and not (np.isfinite(x.min()) and np.isfinite(x.max())):
        check_finite(x, "logits")
