"""Q5: transposed-convolution size, the 9 x 9 values, the 4 x 9 matrix and the symbolic result."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import sympy

from handgrad.solve import q5_transposed_conv as q5
from handgrad.solve import solve_question
from solve.solve_html import check_formulas


@pytest.fixture(scope="module")
def result():
    return q5.compute()


@pytest.fixture(scope="module")
def answer():
    return solve_question(5, figures=False)


# ------------------------------------------------------------------------ compute and checks alone


def test_compute_sizes_and_routes(result):
    # O = (X - 1) S + D (K - 1) + 1 - 2P + output_padding:
    # (3-1)1 + 6 + 1 = 9; (3-1)1 + 1 + 1 = 4; (4-1)2 + 2 + 1 - 2 + 1 = 8; (5-1)2 + 2*2 + 1 = 13
    assert [s.formula for s in result.sizes] == [9, 4, 8, 13]
    assert [s.actual for s in result.sizes] == [9, 4, 8, 13]
    assert [s.back for s in result.sizes] == [s.case[0] for s in result.sizes]
    assert result.size == 9 and result.output.shape == result.adjoint.shape == (9, 9)
    assert result.C.shape == (4, 9) and result.symbolic.shape == (3, 3)
    assert result.transposed.shape == (3, 3) and result.forward.shape == (4,)


def test_checks_fail_where_the_result_is_perturbed(result):
    assert all(c.passed for c in q5.checks(result))
    wrong = replace(result.sizes[2], actual=9)
    sizes = replace(result, sizes=(*result.sizes[:2], wrong, result.sizes[3]))
    assert [c.passed for c in q5.checks(sizes)] == [False, True, True, True, True, True]
    at = replace(result, symbolic_at=result.symbolic_at + 1e-9)
    assert [c.passed for c in q5.checks(at)] == [True, True, True, False, True, True]
    # A wrong output breaks the adjoint route and the exact count.
    out = result.output.copy()
    out[4, 4] += 1.0
    assert [c.passed for c in q5.checks(replace(result, output=out))] == [
        True, False, False, True, True, True,
    ]  # fmt: skip


# ------------------------------------------------------------------------------ the whole answer


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


def test_formulas_are_typeset(answer):
    check_formulas(answer)


def test_wrong_transposed_convolution_fails(monkeypatch):
    import handgrad.conv as conv

    original = conv.conv_transpose2d
    monkeypatch.setattr(conv, "conv_transpose2d", lambda *a, **k: original(*a, **k) * 1.001)
    a = solve_question(5, figures=False)
    assert not a.passed
