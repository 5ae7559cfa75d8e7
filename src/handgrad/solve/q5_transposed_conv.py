"""Q5. Transposed convolution: output size and the convolution matrix.

(a) The output size of a transposed convolution, O = (X - 1) S + D (K - 1) + 1 - 2P + output_padding,
from :func:`handgrad.conv.conv_transpose_output_size`, checked against the shape that
:func:`handgrad.conv.conv_transpose2d` actually produces; the 9 x 9 output of a 3 x 3 input of ones
and a 7 x 7 kernel of ones, checked against the adjoint route C^T y with C from
:func:`handgrad.conv.conv_matrix` and against the exact total (every input pixel spreads 49 ones).

(b) The 4 x 9 convolution matrix C of a symbolic 2 x 2 kernel over a 3 x 3 input and the symbolic
3 x 3 result C^T x, both computed with sympy through ``conv_matrix``; the symbolic result evaluated at
random numbers equals ``conv_transpose2d`` of those numbers, and C^T y equals ``conv_transpose2d(y)``
numerically.

:func:`compute` evaluates the library and the independent routes, :func:`checks` compares them,
:func:`render` writes the answer; :func:`solve` runs the three. sympy is imported where it is used,
as :func:`handgrad.conv.conv_matrix` does: it takes longer to import than the rest of the package,
and ``handgrad``'s other commands load this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from handgrad import conv
from handgrad.solve.model import Answer, Cell, Check, FloatArray, check_close, check_equal

if TYPE_CHECKING:
    import sympy

__all__ = ["SIZE_CASES", "Q5Result", "SizeCase", "checks", "compute", "render", "solve"]

TITLE = "Transposed convolution: output size and the convolution matrix"
X, K = 3, 7  # the seed's example: a 3 x 3 input of ones, a 7 x 7 kernel of ones
# (X, K, S, P, output_padding, D): the seed's case and a few others for the size formula
SIZE_CASES = ((3, 7, 1, 0, 0, 1), (3, 2, 1, 0, 0, 1), (4, 3, 2, 1, 1, 1), (5, 3, 2, 0, 0, 2))


@dataclass(frozen=True)
class SizeCase:
    """One case of the size formula: X, K, S, P, output_padding, D and three sizes."""

    case: tuple[int, int, int, int, int, int]  # (X, K, S, P, output_padding, D)
    formula: int  # O from conv_transpose_output_size
    actual: int  # the output size conv_transpose2d produces
    back: int  # conv_output_size(actual, ...): a convolution maps O back to X


@dataclass(frozen=True)
class Q5Result:
    """(a) the size and the 9 x 9 output; (b) the symbolic C and C^T x; the routes that check them."""

    size: int  # O = conv_transpose_output_size(X, K)
    output: FloatArray  # (O, O) conv_transpose2d(ones (X, X), ones (K, K))
    sizes: tuple[SizeCase, ...]  # the size formula against the operation, one per SIZE_CASES
    adjoint: FloatArray  # (O, O) C^T y with C = conv_matrix((O, O), ones (K, K)), y = ones
    C: sympy.Matrix  # (4, 9) conv_matrix((3, 3), [[k1, k2], [k3, k4]])
    symbolic: sympy.Matrix  # (3, 3) C^T x for x = [[x1, x2], [x3, x4]], expanded
    symbolic_at: FloatArray  # (3, 3) the symbolic result at random kernel and input values
    transposed: FloatArray  # (3, 3) conv_transpose2d of those values
    matrix_transposed: FloatArray  # (9,) C^T y with the numeric C of the same kernel
    matrix_forward: FloatArray  # (4,) C x for a random 3 x 3 input x
    forward: FloatArray  # (4,) conv2d of that x, flattened


def _size_case(case: tuple[int, int, int, int, int, int]) -> SizeCase:
    x_, k_, s_, p_, op_, d_ = case
    y = conv.conv_transpose2d(
        np.ones((1, 1, x_, x_)),
        np.ones((1, 1, k_, k_)),
        stride=s_,
        padding=p_,
        output_padding=op_,
        dilation=d_,
    )  # (1, 1, O, O)
    actual = int(y.shape[-1])
    return SizeCase(
        case=case,
        formula=int(
            conv.conv_transpose_output_size(
                x_, k_, stride=s_, padding=p_, output_padding=op_, dilation=d_
            )
        ),
        actual=actual,
        back=int(conv.conv_output_size(actual, k_, stride=s_, padding=p_, dilation=d_)),
    )


def compute(seed: int = 0) -> Q5Result:
    """Sizes, the 9 x 9 output and the symbolic C^T x with the library; the routes that check them."""
    import sympy

    rng = np.random.default_rng(seed)
    k1, k2, k3, k4 = sympy.symbols("k1 k2 k3 k4")
    x1, x2, x3, x4 = sympy.symbols("x1 x2 x3 x4")
    size = int(conv.conv_transpose_output_size(X, K))
    ones_in = np.ones((1, 1, X, X))  # (N, C_in, X, X)
    ones_k = np.ones((1, 1, K, K))  # (C_in, C_out, K, K)
    c_big = np.asarray(conv.conv_matrix((size, size), np.ones((K, K))), dtype=np.float64)
    C = sympy.Matrix(conv.conv_matrix((3, 3), sympy.Matrix([[k1, k2], [k3, k4]])))  # (4, 9)
    xs = sympy.Matrix([x1, x2, x3, x4])  # (4, 1): the 2 x 2 input, flattened row by row
    symbolic = (C.T * xs).reshape(3, 3).applyfunc(sympy.expand)  # (3, 3)
    kv = rng.standard_normal((2, 2))  # (2, 2) kernel values
    yv = rng.standard_normal((2, 2))  # (2, 2) input values
    xv = rng.standard_normal((3, 3))  # (3, 3) input of the forward convolution
    subs = dict(zip([k1, k2, k3, k4, x1, x2, x3, x4], [*kv.ravel(), *yv.ravel()], strict=True))
    C_num = np.asarray(conv.conv_matrix((3, 3), kv), dtype=np.float64)  # (4, 9)
    return Q5Result(
        size=size,
        output=conv.conv_transpose2d(ones_in, ones_k)[0, 0],
        sizes=tuple(_size_case(c) for c in SIZE_CASES),
        adjoint=(c_big.T @ np.ones(X * X)).reshape(size, size),
        C=C,
        symbolic=symbolic,
        symbolic_at=np.array(symbolic.subs(subs).evalf(), dtype=np.float64),
        transposed=conv.conv_transpose2d(yv[None, None], kv[None, None])[0, 0],
        matrix_transposed=C_num.T @ yv.ravel(),
        matrix_forward=C_num @ xv.ravel(),
        forward=conv.conv2d(xv[None, None], kv[None, None])[0, 0].ravel(),
    )


def checks(r: Q5Result) -> list[Check]:
    """Size formula vs the operation; the 9 x 9 values by the adjoint and by count; C vs the ops."""
    size_ok = all(s.formula == s.actual and s.back == s.case[0] for s in r.sizes)
    return [
        check_equal(
            "output size formula = shape of conv_transpose2d (and conv maps O back to X)",
            size_ok,
            True,
            method="run the operation and measure its output",
        ),
        check_close(
            f"{r.size}x{r.size} values = C^T y with C = conv_matrix(({r.size}, {r.size}), "
            f"ones({K}, {K}))",
            r.output,
            r.adjoint,
            method="second algorithm: the adjoint of the convolution matrix",
            tolerance=1e-15,
        ),
        check_equal(
            "sum of the output = (input pixels) x (kernel entries)",
            int(r.output.sum()),
            X * X * K * K,
            method="exact count: each input pixel spreads one copy of the kernel",
        ),
        check_close(
            "symbolic C^T x at random values = conv_transpose2d",
            r.symbolic_at,
            r.transposed,
            method="numeric transposed convolution of the same values",
            tolerance=1e-12,
        ),
        check_close(
            "C.T @ y = conv_transpose2d(y) for random y and kernel",
            r.matrix_transposed,
            r.transposed.ravel(),
            method="numeric matrix product vs the transposed-convolution routine",
            tolerance=1e-12,
        ),
        check_close(
            "C @ x = conv2d(x) (C is the matrix of the forward convolution)",
            r.matrix_forward,
            r.forward,
            method="numeric matrix product vs the convolution routine",
            tolerance=1e-12,
        ),
    ]


def render(r: Q5Result, checked: list[Check], figures: bool) -> Answer:
    """(a) the size formula, the 9 x 9 output, the size table; (b) C and C^T x (no figures)."""
    a = Answer(5, TITLE)
    a.formula(
        "(a) Output size of a transposed convolution",
        "O = (X - 1) S + D (K - 1) + 1 - 2 P + output_padding\n"
        "(the size of the input of a convolution with the same X, K, S, P, D that outputs X)",
        r"$O = (X - 1)\, S + D\, (K - 1) + 1 - 2P + \mathrm{output_padding}$"
        "\n"
        "(the size of the input of a convolution with the same $X, K, S, P, D$ that outputs $X$)",
    )
    out = r.output
    a.text(
        f"A {X} x {X} input of ones and a {K} x {K} kernel (ones, so each output counts the input "
        f"pixels whose kernel covers it), stride 1, padding 0: O = ({X} - 1) * 1 + {K} = {r.size}, "
        f"a {out.shape[0]} x {out.shape[1]} output."
    )
    a.matrix(f"(a) conv_transpose2d(ones {X}x{X}, ones {K}x{K})", out.astype(int))
    a.values["output_size"] = r.size
    a.values["output_shape"] = list(out.shape)
    a.values["output"] = out
    rows: list[list[Cell]] = [[*s.case, s.formula, s.actual, s.back] for s in r.sizes]
    a.table(
        "Output sizes: formula vs the shape conv_transpose2d returns, and the conv size back",
        ["X", "K", "S", "P", "output_padding", "D", "formula O", "actual O", "conv(O) = X"],
        rows,
    )
    C, result = r.C, r.symbolic
    a.text(
        f"(b) Kernel [[k1, k2], [k3, k4]] over a 3 x 3 input: C is {C.rows} x {C.cols} (rows: the "
        f"output positions). The transposed convolution of [[x1, x2], [x3, x4]] is C^T "
        f"({C.cols} x {C.rows}) times the flattened input, reshaped to 3 x 3."
    )
    a.matrix("(b) The convolution matrix C", C)
    a.matrix("(b) C^T x reshaped to 3 x 3", result)
    a.values["C_shape"] = [C.rows, C.cols]
    a.values["C"] = [[str(v) for v in C.row(i)] for i in range(C.rows)]
    a.values["symbolic_result"] = [[str(result[i, j]) for j in range(3)] for i in range(3)]
    a.checks.extend(checked)
    return a


def solve(seed: int = 0, figures: bool = True) -> Answer:
    """Compute, check and render Q5 (no figures: the answer is matrices)."""
    result = compute(seed)
    return render(result, checks(result), figures)
