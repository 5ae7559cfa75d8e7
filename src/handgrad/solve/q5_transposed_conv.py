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
"""

from __future__ import annotations

import numpy as np

from handgrad.solve.model import Answer, check_close, check_equal

__all__ = ["solve"]

TITLE = "Transposed convolution: output size and the convolution matrix"


def solve(seed: int = 0, figures: bool = True) -> Answer:
    """Compute and check Q5 (no figures: the answer is matrices)."""
    import sympy

    from handgrad.conv import (
        conv2d,
        conv_matrix,
        conv_output_size,
        conv_transpose2d,
        conv_transpose_output_size,
    )

    rng = np.random.default_rng(seed)
    a = Answer(5, TITLE)

    # (a) Output size, general formula and the seed's example.
    a.formula(
        "(a) Output size of a transposed convolution",
        "O = (X - 1) S + D (K - 1) + 1 - 2 P + output_padding\n"
        "(the size of the input of a convolution with the same X, K, S, P, D that outputs X)",
    )
    X, K = 3, 7
    size = conv_transpose_output_size(X, K)
    ones_in = np.ones((1, 1, X, X))  # (N, C_in, X, X)
    ones_k = np.ones((1, 1, K, K))  # (C_in, C_out, K, K)
    out = conv_transpose2d(ones_in, ones_k)[0, 0]  # (O, O)
    a.text(
        f"A {X} x {X} input of ones and a {K} x {K} kernel (ones, so each output counts the input "
        f"pixels whose kernel covers it), stride 1, padding 0: O = ({X} - 1) * 1 + {K} = {size}, "
        f"a {out.shape[0]} x {out.shape[1]} output."
    )
    a.matrix(f"(a) conv_transpose2d(ones {X}x{X}, ones {K}x{K})", out.astype(int))
    a.values["output_size"] = int(size)
    a.values["output_shape"] = list(out.shape)
    a.values["output"] = out

    # The size formula against the operation itself, for the seed's case and a few others.
    rows: list[list[str | int | float]] = []
    size_ok = True
    configs = [(3, 7, 1, 0, 0, 1), (3, 2, 1, 0, 0, 1), (4, 3, 2, 1, 1, 1), (5, 3, 2, 0, 0, 2)]
    for x_, k_, s_, p_, op_, d_ in configs:
        formula = conv_transpose_output_size(
            x_, k_, stride=s_, padding=p_, output_padding=op_, dilation=d_
        )
        y_ = conv_transpose2d(
            np.ones((1, 1, x_, x_)),
            np.ones((1, 1, k_, k_)),
            stride=s_,
            padding=p_,
            output_padding=op_,
            dilation=d_,
        )
        actual = int(y_.shape[-1])
        back = conv_output_size(actual, k_, stride=s_, padding=p_, dilation=d_)
        size_ok &= formula == actual and back == x_
        rows.append([x_, k_, s_, p_, op_, d_, int(formula), actual, int(back)])
    a.table(
        "Output sizes: formula vs the shape conv_transpose2d returns, and the conv size back",
        ["X", "K", "S", "P", "output_padding", "D", "formula O", "actual O", "conv(O) = X"],
        rows,
    )
    a.checks.append(
        check_equal(
            "output size formula = shape of conv_transpose2d (and conv maps O back to X)",
            size_ok,
            True,
            method="run the operation and measure its output",
        )
    )
    # The 9 x 9 values by a second route: C^T y with C the 9 x 9 -> 3 x 3 convolution matrix.
    c_big = np.asarray(conv_matrix((size, size), np.ones((K, K))), dtype=np.float64)  # (X*X, O*O)
    adjoint = (c_big.T @ np.ones(X * X)).reshape(size, size)  # (O, O)
    a.checks.append(
        check_close(
            f"{size}x{size} values = C^T y with C = conv_matrix(({size}, {size}), ones({K}, {K}))",
            out,
            adjoint,
            method="second algorithm: the adjoint of the convolution matrix",
            tolerance=1e-15,
        )
    )
    a.checks.append(
        check_equal(
            "sum of the output = (input pixels) x (kernel entries)",
            int(out.sum()),
            X * X * K * K,
            method="exact count: each input pixel spreads one copy of the kernel",
        )
    )

    # (b) The convolution matrix of a symbolic 2 x 2 kernel and the symbolic transposed convolution.
    k1, k2, k3, k4 = sympy.symbols("k1 k2 k3 k4")
    x1, x2, x3, x4 = sympy.symbols("x1 x2 x3 x4")
    kernel = sympy.Matrix([[k1, k2], [k3, k4]])
    C = sympy.Matrix(conv_matrix((3, 3), kernel))  # (4, 9)
    xs = sympy.Matrix([x1, x2, x3, x4])  # (4, 1): the 2 x 2 input, flattened row by row
    result = (C.T * xs).reshape(3, 3).applyfunc(sympy.expand)  # (3, 3)
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

    # The symbolic result at random numbers equals the numeric transposed convolution.
    kv = rng.standard_normal((2, 2))  # (2, 2) kernel values
    yv = rng.standard_normal((2, 2))  # (2, 2) input values
    subs = dict(zip([k1, k2, k3, k4, x1, x2, x3, x4], [*kv.ravel(), *yv.ravel()], strict=True))
    symbolic_at = np.array(result.subs(subs).evalf(), dtype=np.float64)  # (3, 3)
    numeric = conv_transpose2d(yv[None, None], kv[None, None])[0, 0]  # (3, 3)
    a.checks.append(
        check_close(
            "symbolic C^T x at random values = conv_transpose2d",
            symbolic_at,
            numeric,
            method="numeric transposed convolution of the same values",
            tolerance=1e-12,
        )
    )
    # C^T y == conv_transpose2d(y) and C x == conv2d(x), numerically, for random values.
    C_num = np.asarray(conv_matrix((3, 3), kv), dtype=np.float64)  # (4, 9)
    a.checks.append(
        check_close(
            "C.T @ y = conv_transpose2d(y) for random y and kernel",
            C_num.T @ yv.ravel(),
            numeric.ravel(),
            method="numeric matrix product vs the transposed-convolution routine",
            tolerance=1e-12,
        )
    )
    xv = rng.standard_normal((3, 3))  # (3, 3)
    a.checks.append(
        check_close(
            "C @ x = conv2d(x) (C is the matrix of the forward convolution)",
            C_num @ xv.ravel(),
            conv2d(xv[None, None], kv[None, None])[0, 0].ravel(),
            method="numeric matrix product vs the convolution routine",
            tolerance=1e-12,
        )
    )
    return a
