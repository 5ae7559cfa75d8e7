"""Bad input to the gradient checker: a clear error naming the argument, or a failed check.

Two tables. ``BAD_ARGUMENTS``: calls that must raise ``TypeError`` / ``ValueError`` whose message
names the offending argument. ``NON_FINITE``: NaN or inf in a gradient or in ``f``'s values, which
must fail the check (``passed=False``, ``GradCheckError``) and name the element, never pass.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from handgrad.gradcheck import (
    GradCheckError,
    assert_grad_close,
    check_directional,
    check_grad,
    numerical_grad,
    relative_error,
)

X = np.array([0.3, -1.2, 0.7])  # the point
G = np.cos(X)  # the right gradient of sum(sin(x))


def f_sin(a):
    return float(np.sum(np.sin(a)))


def f_two(a, b):
    return float(np.sum(a * b))


def directional(*args, **kw):
    kw.setdefault("rng", np.random.default_rng(0))
    return check_directional(*args, **kw)


BAD_ARGUMENTS = [
    # -- wrong type -------------------------------------------------------------------------
    pytest.param(lambda: check_grad(3, G, X), TypeError, "f must be callable", id="type-f-int"),
    pytest.param(
        lambda: numerical_grad("sin", X), TypeError, "f must be callable", id="type-f-str"
    ),
    pytest.param(
        lambda: check_grad(lambda a: "1.0", G, X),
        TypeError,
        "f must return a real scalar; got str",
        id="type-f-returns-str",
    ),
    pytest.param(
        lambda: check_grad(lambda a: None, G, X),
        TypeError,
        "f must return a real scalar; got NoneType",
        id="type-f-returns-none",
    ),
    pytest.param(
        lambda: check_grad(lambda a: complex(np.sum(a)), G, X),
        TypeError,
        "f must return a real scalar; got complex",
        id="type-f-returns-complex",
    ),
    pytest.param(
        lambda: check_grad(lambda a: bool(np.sum(a) > 0), G, X),
        TypeError,
        "f must return a real scalar; got bool",
        id="type-f-returns-bool",
    ),
    pytest.param(
        lambda: numerical_grad(lambda a: np.array(["x"]), X),
        TypeError,
        "f must return a real scalar; got an array of dtype <U1",
        id="type-f-returns-str-array",
    ),
    pytest.param(
        lambda: check_grad(f_sin, G, X, eps="1e-6"),
        TypeError,
        "eps must be a real number; got str",
        id="type-eps-str",
    ),
    pytest.param(
        lambda: numerical_grad(f_sin, X, eps=None),
        TypeError,
        "eps must be a real number; got NoneType",
        id="type-eps-none",
    ),
    pytest.param(
        lambda: check_grad(f_sin, G, X, rtol="1e-7"),
        TypeError,
        "rtol must be a real number",
        id="type-rtol-str",
    ),
    pytest.param(
        lambda: check_grad(f_sin, G, X, atol=True),
        TypeError,
        "atol must be a real number; got bool",
        id="type-atol-bool",
    ),
    pytest.param(
        lambda: directional(f_sin, G, X, rtol=[1e-7]),
        TypeError,
        "rtol must be a real number; got list",
        id="type-directional-rtol-list",
    ),
    pytest.param(
        lambda: check_grad(f_sin, "abc", X),
        TypeError,
        "analytic must be a real numeric array",
        id="type-analytic-str",
    ),
    pytest.param(
        lambda: check_grad(f_sin, None, X),
        TypeError,
        "analytic must be a real numeric array; got dtype object",
        id="type-analytic-none",
    ),
    pytest.param(
        lambda: check_grad(f_two, np.ones((2, 3)), X, X),
        TypeError,
        "analytic must be a list of 2 gradients",
        id="type-analytic-array-for-two-arguments",
    ),
    pytest.param(
        lambda: check_grad(f_two, [G, G.astype(complex)], X, X),
        TypeError,
        r"analytic\[1\] must be a real numeric array",
        id="type-analytic-complex-entry",
    ),
    pytest.param(
        lambda: check_grad(f_sin, G, np.array(["a", "b", "c"])),
        TypeError,
        r"arrays\[0\] must be a real numeric array",
        id="type-point-str",
    ),
    pytest.param(
        lambda: numerical_grad(f_two, X, X + 1j),
        TypeError,
        r"arrays\[1\] must be a real numeric array",
        id="type-point-complex",
    ),
    pytest.param(
        lambda: check_grad(f_sin, G, [[1.0, 2.0], [3.0]]),
        TypeError,
        r"arrays\[0\] must be a numeric array",
        id="type-point-ragged",
    ),
    pytest.param(
        lambda: check_grad(f_sin, G, X, wrt="0"),
        TypeError,
        "wrt must be a sequence of argument indices; got str",
        id="type-wrt-str",
    ),
    pytest.param(
        lambda: numerical_grad(f_sin, X, wrt=0),
        TypeError,
        "wrt must be a sequence of argument indices; got int",
        id="type-wrt-int",
    ),
    pytest.param(
        lambda: numerical_grad(f_sin, X, wrt=[0.0]),
        TypeError,
        "wrt must be an integer; got float",
        id="type-wrt-float-entry",
    ),
    pytest.param(
        lambda: directional(f_sin, G, X, n_directions=2.0),
        TypeError,
        "n_directions must be an integer; got float",
        id="type-n-directions-float",
    ),
    pytest.param(
        lambda: check_directional(f_sin, G, X, rng=None),
        TypeError,
        "rng must be a numpy.random.Generator; got NoneType",
        id="type-rng-none",
    ),
    pytest.param(
        lambda: check_directional(f_sin, G, X, rng=42),
        TypeError,
        "rng must be a numpy.random.Generator; got int",
        id="type-rng-seed",
    ),
    pytest.param(
        lambda: relative_error("abc", G),
        TypeError,
        "a must be a real numeric array",
        id="type-relative-error-a-str",
    ),
    pytest.param(
        lambda: relative_error(G, None),
        TypeError,
        "b must be a real numeric array",
        id="type-relative-error-b-none",
    ),
    # -- wrong shape ------------------------------------------------------------------------
    pytest.param(
        lambda: check_grad(lambda a: np.sin(a), G, X),
        ValueError,
        r"f must return a scalar; got an array of shape \(3,\)",
        id="shape-f-returns-vector",
    ),
    pytest.param(
        lambda: numerical_grad(lambda a: np.outer(a, a), X),
        ValueError,
        r"f must return a scalar; got an array of shape \(3, 3\)",
        id="shape-f-returns-matrix",
    ),
    pytest.param(
        lambda: directional(lambda a: a[:2], G, X),
        ValueError,
        r"f must return a scalar; got an array of shape \(2,\)",
        id="shape-directional-f-returns-vector",
    ),
    pytest.param(
        lambda: check_grad(f_sin, np.ones(4), X),
        ValueError,
        r"analytic \(the gradient for argument 0\) must have the argument's shape \(3,\); "
        r"got \(4,\)",
        id="shape-analytic-longer",
    ),
    pytest.param(
        lambda: check_grad(f_sin, G[:, None], X),
        ValueError,
        r"analytic .* got \(3, 1\)",
        id="shape-analytic-extra-axis",
    ),
    pytest.param(
        lambda: check_grad(f_two, [G, np.ones(2)], X, X),
        ValueError,
        r"analytic\[1\] \(the gradient for argument 1\) must have the argument's shape",
        id="shape-analytic-second-of-two",
    ),
    pytest.param(
        lambda: check_grad(f_two, [np.ones(2)], X, X, wrt=[1]),
        ValueError,
        r"analytic \(the gradient for argument 1\) must have the argument's shape \(3,\)",
        id="shape-analytic-with-wrt",
    ),
    pytest.param(
        lambda: directional(f_sin, np.ones(2), X),
        ValueError,
        r"analytic \(the gradient for argument 0\) must have the argument's shape \(3,\)",
        id="shape-directional-analytic",
    ),
    pytest.param(
        lambda: relative_error(np.ones(2), np.ones(3)),
        ValueError,
        r"a and b must have the same shape; got \(2,\) and \(3,\)",
        id="shape-relative-error",
    ),
    # -- NaN / inf in the arguments ---------------------------------------------------------
    pytest.param(
        lambda: check_grad(f_sin, G, np.array([0.0, np.nan, 1.0])),
        ValueError,
        r"arrays\[0\] must be finite .* got nan at index \(1,\)",
        id="nan-point",
    ),
    pytest.param(
        lambda: numerical_grad(f_two, X, np.array([1.0, 2.0, np.inf])),
        ValueError,
        r"arrays\[1\] must be finite .* got inf at index \(2,\)",
        id="inf-point-second-argument",
    ),
    pytest.param(
        lambda: directional(f_sin, G, np.array([-np.inf, 0.0, 0.0])),
        ValueError,
        r"arrays\[0\] must be finite .* got -inf",
        id="inf-point-directional",
    ),
    pytest.param(
        lambda: check_grad(f_sin, G, X, eps=math.nan),
        ValueError,
        "eps must be a finite number; got nan",
        id="nan-eps",
    ),
    pytest.param(
        lambda: numerical_grad(f_sin, X, eps=math.inf),
        ValueError,
        "eps must be a finite number; got inf",
        id="inf-eps",
    ),
    pytest.param(
        lambda: check_grad(f_sin, G, X, rtol=math.nan),
        ValueError,
        "rtol must be a finite number; got nan",
        id="nan-rtol",
    ),
    pytest.param(
        lambda: assert_grad_close(f_sin, G, X, atol=math.inf),
        ValueError,
        "atol must be a finite number; got inf",
        id="inf-atol",
    ),
    pytest.param(
        lambda: directional(f_sin, G, X, eps=math.nan),
        ValueError,
        "eps must be a finite number; got nan",
        id="nan-directional-eps",
    ),
    # -- out of range -----------------------------------------------------------------------
    pytest.param(
        lambda: check_grad(f_sin, G, X, eps=0.0),
        ValueError,
        r"eps must be in \(0.0, inf\); got 0.0",
        id="range-eps-zero",
    ),
    pytest.param(
        lambda: numerical_grad(f_sin, X, eps=-1e-6),
        ValueError,
        r"eps must be in \(0.0, inf\); got -1e-06",
        id="range-eps-negative",
    ),
    pytest.param(
        lambda: directional(f_sin, G, X, eps=0),
        ValueError,
        r"eps must be in \(0.0, inf\)",
        id="range-directional-eps-zero",
    ),
    pytest.param(
        lambda: check_grad(f_sin, G, X, rtol=-1.0),
        ValueError,
        r"rtol must be in \[0.0, inf\); got -1.0",
        id="range-rtol-negative",
    ),
    pytest.param(
        lambda: check_grad(f_sin, G, X, atol=-1e-10),
        ValueError,
        r"atol must be in \[0.0, inf\)",
        id="range-atol-negative",
    ),
    pytest.param(
        lambda: directional(f_sin, G, X, n_directions=0),
        ValueError,
        "n_directions must be a positive integer; got 0",
        id="range-n-directions-zero",
    ),
    pytest.param(
        lambda: directional(f_sin, G, X, n_directions=-3),
        ValueError,
        "n_directions must be a positive integer; got -3",
        id="range-n-directions-negative",
    ),
    pytest.param(
        lambda: check_grad(f_sin, G, X, wrt=[1]),
        ValueError,
        r"wrt must hold indices in \[0, 1\) \(one per array\); got 1",
        id="range-wrt-past-end",
    ),
    pytest.param(
        lambda: numerical_grad(f_sin, X, wrt=[-1]),
        ValueError,
        "wrt must be a non-negative integer; got -1",
        id="range-wrt-negative",
    ),
    pytest.param(
        lambda: numerical_grad(f_two, X, X, wrt=[0, 0]),
        ValueError,
        r"wrt must not repeat an index; got \[0, 0\]",
        id="range-wrt-repeated",
    ),
    # -- empty ------------------------------------------------------------------------------
    pytest.param(
        lambda: check_grad(lambda: 0.0, []),
        ValueError,
        "check_grad needs at least one argument to check",
        id="empty-no-arrays",
    ),
    pytest.param(
        lambda: check_grad(f_sin, [], X, wrt=[]),
        ValueError,
        "check_grad needs at least one argument to check",
        id="empty-wrt",
    ),
    pytest.param(
        lambda: directional(lambda: 0.0, []),
        ValueError,
        "check_directional needs at least one argument to check",
        id="empty-directional-no-arrays",
    ),
    pytest.param(
        lambda: check_grad(lambda a: np.empty(0), G, X),
        ValueError,
        r"f must return a scalar; got an array of shape \(0,\)",
        id="empty-f-returns-empty-array",
    ),
    # -- wrong count ------------------------------------------------------------------------
    pytest.param(
        lambda: check_grad(f_two, [G], X, X),
        ValueError,
        r"analytic must hold one gradient per checked argument \(2\); got 1",
        id="count-analytic-too-few",
    ),
    pytest.param(
        lambda: check_grad(f_two, [G, G, G], X, X),
        ValueError,
        r"analytic must hold one gradient per checked argument \(2\); got 3",
        id="count-analytic-too-many",
    ),
    pytest.param(
        lambda: check_grad(f_two, [G, G], X, X, wrt=[0]),
        ValueError,
        r"analytic must hold one gradient per checked argument \(1\); got 2",
        id="count-analytic-vs-wrt",
    ),
    pytest.param(
        lambda: directional(f_two, [G], X, X),
        ValueError,
        r"analytic must hold one gradient per checked argument \(2\); got 1",
        id="count-directional-analytic",
    ),
]


@pytest.mark.parametrize("call, error, match", BAD_ARGUMENTS)
def test_bad_argument_raises_naming_it(call, error, match):
    with pytest.raises(error, match=match):
        call()


def f_nan_at_third(a):
    # sum(sin(a)), but NaN once a[2] moves above 0.7 (the point): only element 2 is affected.
    return math.nan if a[2] > 0.7 else f_sin(a)


def f_inf_at_first(a):
    # sum(sin(a)), but +inf once a[0] moves below 0.3: the central difference of element 0 is -inf.
    return math.inf if a[0] < 0.3 else f_sin(a)


def with_nan(index, value=math.nan, base=G):
    out = base.copy()
    out[index] = value
    return out


WRONG_AT_0 = with_nan(0, 5.0)  # a wrong element beside the non-finite one

# (f, analytic, argument, index, analytic value, numeric value or None for "not finite")
NON_FINITE = [
    pytest.param(f_sin, np.full(3, math.nan), (0,), math.nan, G[0], id="analytic-all-nan"),
    pytest.param(f_sin, with_nan(1), (1,), math.nan, G[1], id="analytic-one-nan"),
    pytest.param(
        f_sin, with_nan(2, base=WRONG_AT_0), (2,), math.nan, G[2], id="analytic-nan-beside-wrong"
    ),
    pytest.param(f_sin, with_nan(1, math.inf), (1,), math.inf, G[1], id="analytic-inf"),
    pytest.param(f_sin, with_nan(2, -math.inf), (2,), -math.inf, G[2], id="analytic-minus-inf"),
    pytest.param(lambda a: math.nan, G, (0,), G[0], None, id="f-always-nan"),
    pytest.param(f_nan_at_third, G, (2,), G[2], None, id="f-nan-near-one-element"),
    pytest.param(f_inf_at_first, G, (0,), G[0], None, id="f-inf-near-one-element"),
    pytest.param(lambda a: -math.inf, G, (0,), G[0], None, id="f-always-minus-inf"),
]


def _assert_names_element(result, index, analytic, numeric):
    assert not result.passed
    assert result.error == math.inf and result.max_abs == math.inf
    assert result.argument == 0 and result.index == index
    np.testing.assert_equal(result.analytic, analytic)
    if numeric is None:
        assert not math.isfinite(result.numeric)
    else:
        np.testing.assert_allclose(result.numeric, numeric, rtol=1e-8)


@pytest.mark.parametrize("f, analytic, index, a_value, n_value", NON_FINITE)
def test_non_finite_gradient_or_value_fails_and_names_the_element(
    f, analytic, index, a_value, n_value
):
    result = check_grad(f, analytic, X)
    _assert_names_element(result, index, a_value, n_value)
    where = re.escape(f"argument 0 at {index}")
    with pytest.raises(GradCheckError, match=f"non-finite gradient .* {where}"):
        assert_grad_close(f, analytic, X)


def test_issue_reproduction_nan_gradient_fails():
    # The reported case: an all-NaN analytic gradient at a finite point used to pass.
    with pytest.raises(
        GradCheckError,
        match=r"argument 0 at \(0,\): analytic nan vs numeric 0\.5403.*the analytic gradient "
        r"is not finite",
    ):
        assert_grad_close(lambda a: float(np.sum(np.sin(a))), np.full(5, np.nan), np.ones(5))


def test_non_finite_in_second_argument_is_named():
    # f(a, b) = sum(a * b): df/da = b, df/db = a; NaN in the gradient for b at position (1,).
    result = check_grad(f_two, [X + 1, with_nan(1, base=X)], X, X + 1)
    assert not result.passed and result.argument == 1 and result.index == (1,)
    assert "argument 1 at (1,)" in str(result)


def test_f_not_finite_message_says_so():
    with pytest.raises(GradCheckError, match="f is not finite at the point"):
        assert_grad_close(f_nan_at_third, G, X)


@pytest.mark.parametrize(
    "analytic, index, value",
    [
        pytest.param(with_nan(1), (1,), "nan", id="nan"),
        pytest.param(with_nan(2, math.inf), (2,), "inf", id="inf"),
        pytest.param(with_nan(0, -math.inf), (0,), "-inf", id="minus-inf"),
    ],
)
def test_directional_check_fails_on_non_finite_analytic_gradient(analytic, index, value):
    where = re.escape(f"argument 0 at {index}: analytic {value}")
    with pytest.raises(GradCheckError, match=f"non-finite analytic gradient .* {where}"):
        directional(f_sin, analytic, X)


@pytest.mark.parametrize(
    "f",
    [
        pytest.param(lambda a: math.nan, id="nan"),
        pytest.param(lambda a: math.inf, id="inf"),
        pytest.param(f_nan_at_third, id="nan-near-point"),
    ],
)
def test_directional_check_fails_on_non_finite_f(f):
    with pytest.raises(GradCheckError, match="non-finite numeric derivative along direction 0"):
        directional(f, G, X)


def test_relative_error_is_nan_for_non_finite_values():
    assert math.isnan(relative_error([1.0, math.nan], [1.0, 2.0]))
    assert math.isnan(relative_error([1.0, 2.0], [math.inf, 2.0]))
