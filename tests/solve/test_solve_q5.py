"""Q5: transposed-convolution size, the 9 x 9 values, the 4 x 9 matrix and the symbolic result."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from handgrad.solve import solve_question


@pytest.fixture(scope="module")
def answer():
    return solve_question(5, figures=False)


def test_output_size_and_values(answer):
    # (3 - 1) * 1 + 7 - 2 * 0 = 9
    assert answer.values["output_size"] == 9
    assert answer.values["output_shape"] == [9, 9]
    # Along one axis, output position i is covered by the kernel of input positions
    # max(0, i - 6) .. min(2, i): 1, 2, 3, 3, 3, 3, 3, 2, 1; the 2-D count is the product.
    c = np.array([1, 2, 3, 3, 3, 3, 3, 2, 1])
    np.testing.assert_array_equal(answer.values["output"], np.outer(c, c))


def test_convolution_matrix_is_symbolic_and_4_by_9(answer):
    assert answer.values["C_shape"] == [4, 9]
    k1, k2, k3, k4 = sympy.symbols("k1 k2 k3 k4")
    C = sympy.Matrix([[sympy.sympify(v) for v in row] for row in answer.values["C"]])
    z = 0
    expected = sympy.Matrix(
        [
            [k1, k2, z, k3, k4, z, z, z, z],
            [z, k1, k2, z, k3, k4, z, z, z],
            [z, z, z, k1, k2, z, k3, k4, z],
            [z, z, z, z, k1, k2, z, k3, k4],
        ]
    )
    assert C == expected


def test_symbolic_transposed_convolution(answer):
    k1, k2, k3, k4, x1, x2, x3, x4 = sympy.symbols("k1 k2 k3 k4 x1 x2 x3 x4")
    got = sympy.Matrix(
        [[sympy.sympify(v) for v in row] for row in answer.values["symbolic_result"]]
    )
    expected = sympy.Matrix(
        [
            [k1 * x1, k1 * x2 + k2 * x1, k2 * x2],
            [k1 * x3 + k3 * x1, k1 * x4 + k2 * x3 + k3 * x2 + k4 * x1, k2 * x4 + k4 * x2],
            [k3 * x3, k3 * x4 + k4 * x3, k4 * x4],
        ]
    )
    assert (got - expected).applyfunc(sympy.expand) == sympy.zeros(3, 3)


def test_checks_pass(answer):
    assert len(answer.checks) >= 5
    assert all(c.passed for c in answer.checks), [(c.name, c.error) for c in answer.checks]


def test_wrong_transposed_convolution_fails(monkeypatch):
    import handgrad.conv as conv

    original = conv.conv_transpose2d
    monkeypatch.setattr(conv, "conv_transpose2d", lambda *a, **k: original(*a, **k) * 1.001)
    a = solve_question(5, figures=False)
    assert not a.passed
