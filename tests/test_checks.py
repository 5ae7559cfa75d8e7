"""The shared validation helpers: accepted input passes, bad input gets a message naming it."""

from __future__ import annotations

import numpy as np
import pytest

from handgrad import _checks


def test_as_float_array_keeps_float32_and_promotes_ints():
    assert _checks.as_float_array(np.ones(2, np.float32), "x").dtype == np.float32
    assert _checks.as_float_array([1, 2], "x").dtype == np.float64
    assert _checks.as_float_array(np.array([True]), "x").dtype == np.float64
    assert _checks.as_float_array(np.ones(2, np.float16), "x").dtype == np.float64


def test_as_float_array_rejects_strings_and_ragged():
    with pytest.raises(TypeError, match="x must be a real numeric array"):
        _checks.as_float_array(np.array(["a"]), "x")
    with pytest.raises(TypeError, match="scores must be a numeric array"):
        _checks.as_float_array([[1, 2], [3]], "scores")


def test_as_int_array():
    assert _checks.as_int_array([1.0, 2.0], "t").dtype == np.int64
    with pytest.raises(ValueError, match="t must hold whole numbers"):
        _checks.as_int_array([1.5], "t")
    with pytest.raises(TypeError, match="integer"):
        _checks.as_int_array(np.array(["a"]), "t")


def test_check_finite_reports_position():
    _checks.check_finite(np.array([1, 2]), "x")
    with pytest.raises(ValueError, match=r"logits must be finite .* got nan at index \(1, 0\)"):
        _checks.check_finite(np.array([[0.0, 1.0], [np.nan, 2.0]]), "logits")


def test_check_shape_binds_named_sizes():
    sizes = _checks.check_shape(np.zeros((5, 4)), "pred", ("N", 4))
    assert sizes == {"N": 5}
    with pytest.raises(ValueError, match=r"target must have shape \(N, 4\) with N = 5"):
        _checks.check_shape(np.zeros((6, 4)), "target", ("N", 4), sizes)
    with pytest.raises(ValueError, match=r"pred must have shape \(N, 4\); got \(5, 3\)"):
        _checks.check_shape(np.zeros((5, 3)), "pred", ("N", 4))
    with pytest.raises(ValueError, match=r"must have shape \(\*, 4\); got \(4,\)"):
        _checks.check_shape(np.zeros(4), "b", (None, 4))


def test_check_ndim_and_same_shape():
    _checks.check_ndim(np.zeros((2, 2)), "x", (2, 3))
    with pytest.raises(ValueError, match="x must be 1-D; got shape"):
        _checks.check_ndim(np.zeros((2, 2)), "x", 1)
    with pytest.raises(ValueError, match="a and b must have the same shape"):
        _checks.check_same_shape(np.zeros(2), "a", np.zeros(3), "b")


def test_check_choice_and_range():
    _checks.check_choice("mean", "reduction", ("none", "mean", "sum"))
    with pytest.raises(
        ValueError, match="reduction must be one of 'none', 'mean', 'sum'; got 'avg'"
    ):
        _checks.check_choice("avg", "reduction", ("none", "mean", "sum"))
    _checks.check_in_range(0.0, "gamma", 0.0)
    with pytest.raises(ValueError, match=r"gamma must be in \[0.0, inf\); got -1"):
        _checks.check_in_range(-1, "gamma", 0.0)
    with pytest.raises(ValueError, match=r"alpha must be in \(0, 1\]"):
        _checks.check_in_range(0, "alpha", 0, 1, low_inclusive=False)
    with pytest.raises(ValueError, match="finite"):
        _checks.check_in_range(float("nan"), "alpha", 0, 1)


def test_check_positive_int_and_pair():
    assert _checks.check_positive_int(np.int64(3), "n") == 3
    with pytest.raises(ValueError, match="n must be a positive integer; got 0"):
        _checks.check_positive_int(0, "n")
    with pytest.raises(TypeError, match="n must be an integer"):
        _checks.check_positive_int(True, "n")
    assert _checks.check_pair(2, "stride") == (2, 2)
    assert _checks.check_pair((1, 3), "stride") == (1, 3)
    with pytest.raises(TypeError, match=r"stride must be an int or an \(h, w\) pair"):
        _checks.check_pair((1, 2, 3), "stride")
    with pytest.raises(ValueError, match="stride must be a positive integer"):
        _checks.check_pair(0, "stride", allow_zero=False)
