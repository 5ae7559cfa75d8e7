"""The gradient checker must accept right gradients and catch wrong ones."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from handgrad.gradcheck import (
    GradCheckError,
    assert_grad_close,
    check_directional,
    check_grad,
    numerical_grad,
    relative_error,
)


def test_numerical_grad_of_quadratic_is_exact_up_to_rounding(rng):
    # f(x) = sum(x^2) has gradient 2x; central differences are exact for quadratics.
    x = rng.standard_normal((3, 4))
    (g,) = numerical_grad(lambda a: float(np.sum(a**2)), x)
    np.testing.assert_allclose(g, 2 * x, rtol=1e-8, atol=1e-9)


def test_numerical_grad_several_arguments_and_wrt(rng):
    # f(A, b) = sum(A @ b): df/dA[i, j] = b[j], df/db[j] = sum_i A[i, j].
    A, b = rng.standard_normal((2, 3)), rng.standard_normal(3)
    gA, gb = numerical_grad(lambda a, v: float(np.sum(a @ v)), A, b)
    np.testing.assert_allclose(gA, np.tile(b, (2, 1)), rtol=1e-8)
    np.testing.assert_allclose(gb, A.sum(axis=0), rtol=1e-8)
    (only_b,) = numerical_grad(lambda a, v: float(np.sum(a @ v)), A, b, wrt=[1])
    np.testing.assert_allclose(only_b, gb)


def test_numerical_grad_does_not_modify_inputs(rng):
    x = rng.standard_normal(5)
    before = x.copy()
    numerical_grad(lambda a: float(np.sum(np.sin(a))), x)
    np.testing.assert_array_equal(x, before)


def test_relative_error_worked_example():
    # max|a - b| = 0.5, max(max|a|, max|b|) = 4 -> 0.125
    assert relative_error([1.0, 4.0], [1.5, 4.0]) == 0.125
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    with pytest.raises(ValueError, match="same shape"):
        relative_error(np.zeros(2), np.zeros(3))


def test_check_grad_accepts_correct_gradient(rng):
    # f(x) = sum(exp(x) * sin(x)); f' = exp(x) (sin x + cos x).
    x = rng.standard_normal((4, 3))
    result = check_grad(
        lambda a: float(np.sum(np.exp(a) * np.sin(a))), np.exp(x) * (np.sin(x) + np.cos(x)), x
    )
    assert result.passed
    assert result.error < 1e-8


def test_check_grad_catches_wrong_gradient_and_names_worst_element(rng):
    # Deliberately wrong: drop the cos term at one element only.
    x = rng.standard_normal((4, 3))
    wrong = np.exp(x) * (np.sin(x) + np.cos(x))
    wrong[2, 1] = np.exp(x[2, 1]) * np.sin(x[2, 1])
    result = check_grad(lambda a: float(np.sum(np.exp(a) * np.sin(a))), wrong, x)
    assert not result.passed
    assert result.index == (2, 1)
    assert result.argument == 0
    with pytest.raises(GradCheckError, match=r"argument 0 at \(2, 1\)"):
        assert_grad_close(lambda a: float(np.sum(np.exp(a) * np.sin(a))), wrong, x)


def test_check_grad_catches_sign_error_in_second_argument(rng):
    A, b = rng.standard_normal((2, 3)), rng.standard_normal(3)
    f = lambda a, v: float(np.sum(np.tanh(a @ v)))  # noqa: E731
    s = 1 - np.tanh(A @ b) ** 2
    right = [np.outer(s, b), A.T @ s]
    assert check_grad(f, right, A, b).passed
    result = check_grad(f, [right[0], -right[1]], A, b)
    assert not result.passed and result.argument == 1


def test_check_grad_rejects_mismatched_gradients(rng):
    x = rng.standard_normal(3)
    with pytest.raises(ValueError, match="shape"):
        check_grad(lambda a: float(np.sum(a)), np.ones(4), x)
    with pytest.raises(ValueError, match="one gradient per checked argument"):
        check_grad(lambda a, b: float(np.sum(a + b)), [np.ones(3)], x, x)


def test_directional_check_on_large_input(rng):
    # f(x) = 0.5 ||x||^2 + sum(log cosh x); grad = x + tanh x.
    x = rng.standard_normal(20000)
    f = lambda a: float(0.5 * np.sum(a * a) + np.sum(np.log(np.cosh(a))))  # noqa: E731
    err = check_directional(f, x + np.tanh(x), x, rng=rng)
    assert err < 1e-7
    with pytest.raises(GradCheckError, match="directional"):
        check_directional(f, x + 1.01 * np.tanh(x), x, rng=rng)


@given(st.lists(st.floats(-3, 3), min_size=1, max_size=6))
def test_property_cubic_gradient_passes(values):
    # f(x) = sum(x^3 / 3) has gradient x^2; check_grad must pass at every point.
    x = np.array(values)
    assert check_grad(lambda a: float(np.sum(a**3) / 3), x**2, x).passed


def test_absolute_floor_only_applies_near_zero_gradients():
    # At x = 0 the true gradient of sum(x^3/3) is 0; the central difference gives h^2/3 ~ 3e-13.
    x = np.zeros(3)
    result = check_grad(lambda a: float(np.sum(a**3) / 3), np.zeros(3), x)
    assert result.passed and result.error == 1.0 and result.max_abs < 1e-12
    # A wrong gradient of size 1e-6 is still caught.
    assert not check_grad(lambda a: float(np.sum(a**3) / 3), np.full(3, 1e-6), x).passed


@given(
    st.lists(st.floats(-3, 3), min_size=1, max_size=6),
    st.data(),
    st.sampled_from([np.nan, np.inf, -np.inf]),
    st.floats(-1e3, 1e3),
)
def test_property_one_non_finite_element_always_fails_and_is_named(values, data, bad, wrong):
    # The right gradient of sum(x^3/3) (x^2) with one element replaced by NaN or +-inf, and
    # another element (maybe the same one) replaced by an arbitrary wrong value: never passes.
    # A running max(m, nan) would keep m, so the non-finite element must be found first.
    x = np.array(values)
    g = x**2
    i = data.draw(st.integers(0, x.size - 1))
    j = data.draw(st.integers(0, x.size - 1))
    g[j] = wrong
    g[i] = bad
    result = check_grad(lambda a: float(np.sum(a**3) / 3), g, x)
    assert not result.passed
    assert result.index == (i,) and result.error == np.inf
    np.testing.assert_equal(result.analytic, bad)
    with pytest.raises(GradCheckError, match=rf"non-finite gradient .* argument 0 at \({i},\)"):
        assert_grad_close(lambda a: float(np.sum(a**3) / 3), g, x)
