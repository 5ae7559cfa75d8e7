"""Focal loss and cross-entropy of a probability (the worked solution's Q3 table and figure)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from handgrad.losses import (
    cross_entropy_from_probability,
    focal_loss_from_probability,
    sigmoid_focal_loss,
)

GAMMAS = (0.0, 0.5, 1.0, 2.0, 5.0)


def test_worked_values() -> None:
    # CE(1/2) = log 2 = 0.693147; FL(1/2, gamma = 2) = (1/2)^2 log 2 = 0.173287
    assert cross_entropy_from_probability(0.5) == pytest.approx(math.log(2), rel=1e-15)
    assert focal_loss_from_probability(0.5, 2.0) == pytest.approx(0.25 * math.log(2), rel=1e-15)
    # FL(0.9, gamma = 1) = 0.1 * -log 0.9 = 0.0105361
    assert focal_loss_from_probability(0.9, 1.0) == pytest.approx(0.1 * -math.log(0.9), rel=1e-14)
    # gamma = 5 at p = 0.25: 0.75^5 * log 4 = 0.2373046875 * 1.3862944 = 0.3289691
    assert focal_loss_from_probability(0.25, 5.0) == pytest.approx(
        0.2373046875 * math.log(4), rel=1e-14
    )


def test_paper_ratios() -> None:
    p = np.array([0.9, 0.968, 1 - 1 / math.sqrt(1000)])
    ratio = cross_entropy_from_probability(p) / focal_loss_from_probability(p, 2.0)
    # (1 - p)^-2: 0.1^-2 = 100; 0.032^-2 = 976.6 ("about 1000x"); exactly 1000 at 1 - 1/sqrt(1000)
    np.testing.assert_allclose(ratio, [100.0, 1 / 0.032**2, 1000.0], rtol=1e-10)
    grid = np.linspace(0.0 + 1e-9, 0.5, 101)
    ratio = cross_entropy_from_probability(grid) / focal_loss_from_probability(grid, 2.0)
    assert ratio.max() == pytest.approx(4.0, rel=1e-12) and ratio.min() >= 1.0  # at most 4x


@pytest.mark.parametrize("gamma", GAMMAS)
def test_endpoints(gamma: float) -> None:
    # p = 0: -log 0 = inf, (1 - 0)^gamma = 1 -> inf, and no warning (pytest turns warnings into errors)
    # p = 1: -log 1 = 0 and (1 - 1)^gamma in {0, 1} -> +0.0 (never -0.0)
    fl = focal_loss_from_probability(np.array([0.0, 1.0]), gamma)
    ce = cross_entropy_from_probability(np.array([0.0, 1.0]))
    for arr in (fl, ce):
        assert arr[0] == np.inf and arr[1] == 0.0 and not np.signbit(arr[1])


def test_gamma_zero_is_cross_entropy_exactly() -> None:
    p = np.linspace(0.0, 1.0, 41)
    np.testing.assert_array_equal(
        focal_loss_from_probability(p, 0.0), cross_entropy_from_probability(p)
    )


@pytest.mark.parametrize("gamma", GAMMAS)
def test_agrees_with_sigmoid_focal_loss_from_logits(gamma: float) -> None:
    # second algorithm: log-sigmoid of the logit, target 1, no alpha weighting
    p = np.array([0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99])
    logits = np.log(p) - np.log1p(-p)
    np.testing.assert_allclose(
        focal_loss_from_probability(p, gamma),
        sigmoid_focal_loss(logits, np.ones_like(p), alpha=-1.0, gamma=gamma),
        rtol=1e-12,
    )


@given(st.floats(0, 1), st.floats(0, 1), st.floats(0, 6))
def test_properties(p: float, q: float, gamma: float) -> None:
    fl, ce = focal_loss_from_probability(p, gamma), cross_entropy_from_probability(p)
    assert 0.0 <= fl <= ce  # (1 - p)^gamma in [0, 1]
    lo, hi = min(p, q), max(p, q)
    assert focal_loss_from_probability(hi, gamma) <= focal_loss_from_probability(lo, gamma)
    assert focal_loss_from_probability(p, gamma + 1.0) <= fl  # more focus, less loss


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_and_shape(dtype: type) -> None:
    p = np.array([[0.1, 0.5], [0.9, 1.0]], dtype=dtype)
    for out in (focal_loss_from_probability(p, 2.0), cross_entropy_from_probability(p)):
        assert out.dtype == dtype and out.shape == (2, 2)
    assert focal_loss_from_probability(0.5).shape == ()


@pytest.mark.parametrize(
    ("p", "gamma", "error", "match"),
    [
        (-0.1, 2.0, ValueError, r"p must hold probabilities in \[0, 1\]; got values in \[-0.1"),
        ([0.5, 1.5], 2.0, ValueError, r"p must hold probabilities in \[0, 1\]"),
        ([0.5, np.nan], 2.0, ValueError, r"p must hold probabilities"),
        (0.5, -1.0, ValueError, r"gamma must be >= 0"),
        (0.5, "two", TypeError, r"gamma must be a real number"),
        ("x", 2.0, TypeError, r"p must be a real numeric array"),
    ],
)
def test_bad_input(p: object, gamma: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        focal_loss_from_probability(p, gamma)  # type: ignore[arg-type]
    if gamma == 2.0:
        with pytest.raises(error, match=match):
            cross_entropy_from_probability(p)  # type: ignore[arg-type]
