"""Tests of handgrad._reduction: the one reduction helper (forward and backward)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from handgrad._reduction import (
    ALL_REDUCTIONS,
    REDUCTIONS,
    apply_reduction,
    check_reduction,
    reduce_total,
    reduction_grad,
    reduction_scale,
)
from handgrad.gradcheck import assert_grad_close


def test_worked_example() -> None:
    loss = np.array([1.0, 2.0, 6.0])
    assert apply_reduction(loss, "none") is loss
    assert apply_reduction(loss, "sum") == 9.0  # 1 + 2 + 6
    assert apply_reduction(loss, "mean") == 3.0  # 9 / 3
    assert apply_reduction(loss, "normalized", normalizer=2) == 4.5  # 9 / max(1, 2)
    assert apply_reduction(loss, "normalized", normalizer=0) == 9.0  # 9 / max(1, 0)
    assert apply_reduction(loss, "normalized", normalizer=0.5) == 9.0  # 9 / max(1, 0.5)
    np.testing.assert_array_equal(reduction_grad(loss, "none"), [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(reduction_grad(loss, "sum"), [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(reduction_grad(loss, "mean"), [1 / 3, 1 / 3, 1 / 3])
    np.testing.assert_array_equal(
        reduction_grad(loss, "normalized", normalizer=4), [0.25, 0.25, 0.25]
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "normalized"])
def test_scalar_keeps_dtype(dtype: type, reduction: str) -> None:
    loss = np.arange(6, dtype=dtype).reshape(2, 3)
    out = apply_reduction(loss, reduction, normalizer=3)
    assert isinstance(out, dtype)
    assert reduction_grad(loss, reduction, normalizer=3).dtype == dtype


def test_grad_from_shape_and_dtype() -> None:
    g = reduction_grad((2, 4), "mean", np.float32)
    assert g.dtype == np.float32 and g.shape == (2, 4)
    np.testing.assert_array_equal(g, np.full((2, 4), 0.125, dtype=np.float32))
    assert reduction_grad((3,), "sum").dtype == np.float64


@pytest.mark.parametrize("shape", [(0,), (0, 5), (3, 0)])
def test_empty_mean_is_zero_with_zero_gradient(shape: tuple[int, ...]) -> None:
    loss = np.zeros(shape, dtype=np.float32)
    out = apply_reduction(loss, "mean")
    assert out == 0.0 and isinstance(out, np.float32) and not np.isnan(out)
    assert apply_reduction(loss, "sum") == 0.0
    assert reduction_scale(0, "mean") == 0.0
    g = reduction_grad(loss, "mean")
    assert g.shape == shape and not np.any(np.isnan(g))


@pytest.mark.parametrize("reduction", ALL_REDUCTIONS)
def test_gradient_finite_differences(reduction: str, rng: np.random.Generator) -> None:
    loss = rng.standard_normal((3, 4))

    def f(x: np.ndarray) -> float:
        out = apply_reduction(x, reduction, normalizer=5)
        return float(np.sum(out))

    assert_grad_close(f, reduction_grad(loss, reduction, normalizer=5), loss)


@given(
    hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6),
        elements=st.floats(-1e3, 1e3),
    )
)
def test_properties(loss: np.ndarray) -> None:
    n = loss.size
    total = apply_reduction(loss, "sum")
    np.testing.assert_allclose(apply_reduction(loss, "mean") * n, total, rtol=1e-12, atol=1e-9)
    # mean is linear: its gradient dotted with the loss gives the mean back
    np.testing.assert_allclose(
        np.sum(reduction_grad(loss, "mean") * loss),
        apply_reduction(loss, "mean"),
        rtol=1e-12,
        atol=1e-9,
    )
    assert apply_reduction(loss, "normalized", normalizer=n) == pytest.approx(
        apply_reduction(loss, "mean"), rel=1e-12, abs=1e-9
    )


def test_check_reduction() -> None:
    assert check_reduction("sum") == "sum"
    assert check_reduction("normalized", ALL_REDUCTIONS) == "normalized"
    with pytest.raises(
        ValueError, match=r"reduction must be one of 'none', 'mean', 'sum'; got 'avg'"
    ):
        check_reduction("avg")
    with pytest.raises(ValueError, match="got 'normalized'"):
        check_reduction("normalized")  # opt-in only
    assert set(REDUCTIONS) < set(ALL_REDUCTIONS)


def test_bad_reduction_and_normalizer() -> None:
    loss = np.ones(3)
    with pytest.raises(ValueError, match="reduction must be one of"):
        apply_reduction(loss, "max")
    with pytest.raises(ValueError, match="reduction must be one of"):
        reduction_grad(loss, "max")
    with pytest.raises(ValueError, match="needs a normalizer"):
        apply_reduction(loss, "normalized")
    for bad in (-1.0, np.nan, np.inf):
        with pytest.raises(ValueError, match="normalizer must be a finite count >= 0"):
            reduction_scale(3, "normalized", normalizer=bad)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reduce_total_matches_apply_reduction(dtype: type, rng: np.random.Generator) -> None:
    loss = rng.random((4, 5)).astype(dtype)
    for reduction in ("mean", "sum", "normalized"):
        out = reduce_total(float(loss.sum()), loss.size, reduction, dtype, normalizer=3)
        assert isinstance(out, dtype)
        assert out == apply_reduction(loss, reduction, normalizer=3)
    # worked example: total 9 over 3 elements
    assert reduce_total(9.0, 3, "mean", np.float64) == 3.0
    assert reduce_total(9.0, 0, "mean", np.float64) == 0.0  # mean of nothing
    assert reduce_total(9.0, 3, "normalized", np.float64, normalizer=0) == 9.0
    with pytest.raises(ValueError, match="no scalar value"):
        reduce_total(9.0, 3, "none", np.float64)
    with pytest.raises(ValueError, match="reduction must be one of"):
        reduce_total(9.0, 3, "max", np.float64)
