"""The data model of a worked answer: checks, JSON-friendly values, items."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
import sympy

from handgrad.solve.model import Answer, Formula, Matrix, check_close, check_equal, jsonable


def test_check_close_relative_error_worked_example():
    # |1.0 - 1.1| / max(1.0, 1.1) = 0.1 / 1.1 = 0.0909...
    c = check_close("x", 1.0, 1.1, method="m", tolerance=0.1)
    assert c.error == pytest.approx(0.1 / 1.1, rel=1e-14)
    assert c.passed
    assert not check_close("x", 1.0, 1.1, method="m", tolerance=0.09).passed


def test_check_close_shape_mismatch_and_nan_fail():
    assert not check_close("x", np.ones(3), np.ones(4), method="m", tolerance=1.0).passed
    assert not check_close("x", np.nan, 1.0, method="m", tolerance=1.0).passed
    both_zero = check_close("x", np.zeros(2), np.zeros(2), method="m", tolerance=0.0)
    assert both_zero.passed and both_zero.error == 0.0


def test_check_equal():
    assert check_equal("s", (9, 9), (9, 9), method="m").passed
    c = check_equal("s", 8, 9, method="m")
    assert (c.passed, c.error) == (False, 1.0)


def test_jsonable_handles_numpy_fractions_and_non_finite():
    out = jsonable(
        {"a": np.arange(3), "b": Fraction(1, 4), "c": np.float32(0.5), 1: [np.inf, -np.inf, np.nan]}
    )
    assert out == {"a": [0, 1, 2], "b": 0.25, "c": 0.5, "1": ["inf", "-inf", "nan"]}
    json.dumps(out, allow_nan=False)


def test_answer_items_and_passed():
    a = Answer(3, "T")
    a.formula("F", "x^2", r"$x^2$")
    a.formula("G", "y")
    assert a.items == [Formula("F", "x^2", r"$x^2$"), Formula("G", "y", "")]
    assert a.passed  # no checks, nothing failing
    a.checks.append(check_equal("s", 1, 2, method="m"))
    assert not a.passed


def test_matrix_entries_from_arrays_and_sympy():
    assert Matrix.from_array("A", np.array([[1, 2]])).entries == [[1, 2]]
    assert Matrix.from_array("B", [[True, 0.5]]).entries == [[1, 0.5]]
    # sympy entries, numbers included, become their text
    k1, k2 = sympy.symbols("k1 k2")
    m = Matrix.from_array("C", sympy.Matrix([[k1, 0], [k1 * k2, 2]]))
    assert m.entries == [["k1", "0"], ["k1*k2", "2"]]
