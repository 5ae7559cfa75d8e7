"""conv_matrix (dense, sparse, multi-channel, symbolic) and the seed's Q5b transposed convolution."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
import sympy
from hypothesis import given
from hypothesis import strategies as st

from handgrad.conv import (
    conv2d,
    conv_matrix,
    conv_transpose2d,
    output_padding_remainder,
    symbolic_conv_transpose,
)
from oracle import assert_close


def test_seed_q5b_matrix_and_symbolic_transpose():
    k1, k2, k3, k4 = sympy.symbols("k1:5")
    x1, x2, x3, x4 = sympy.symbols("x1:5")
    K = np.array([[k1, k2], [k3, k4]], dtype=object)
    C = conv_matrix((3, 3), K)
    assert C.shape == (4, 9)
    # rows: k1 k2 0 k3 k4 0 0 0 0, shifted by one column, then by one more row of the input
    first = [k1, k2, 0, k3, k4, 0, 0, 0, 0]
    assert list(C[0]) == first
    assert list(C[1]) == [0, *first[:-1]]
    assert list(C[2]) == [0, 0, 0, *first[:-3]]
    assert list(C[3]) == [0, 0, 0, 0, *first[:-4]]
    y = (C.T @ np.array([x1, x2, x3, x4], dtype=object)).reshape(3, 3)
    expected = sympy.Matrix(
        [
            [k1 * x1, k1 * x2 + k2 * x1, k2 * x2],
            [k1 * x3 + k3 * x1, k1 * x4 + k2 * x3 + k3 * x2 + k4 * x1, k2 * x4 + k4 * x2],
            [k3 * x3, k3 * x4 + k4 * x3, k4 * x4],
        ]
    )
    assert sympy.simplify(sympy.Matrix(y.tolist()) - expected) == sympy.zeros(3, 3)
    result = symbolic_conv_transpose()
    assert result.C.shape == (4, 9)
    assert sympy.expand(result.result - expected) == sympy.zeros(3, 3)


def test_symbolic_matches_numeric_transpose(rng):
    # substitute random numbers into the symbolic result: equals conv_transpose2d
    res = symbolic_conv_transpose(
        input_hw=(2, 3), kernel_hw=(3, 2), stride=2, padding=1, output_padding=1
    )
    kv = rng.standard_normal(6)
    xv = rng.standard_normal(6)
    subs = {s: v for s, v in zip(res.kernel, kv)} | {s: v for s, v in zip(res.x, xv)}
    numeric = np.array(res.result.subs(subs).tolist(), dtype=float)
    ref = conv_transpose2d(
        xv.reshape(1, 1, 2, 3), kv.reshape(1, 1, 3, 2), stride=2, padding=1, output_padding=1
    )[0, 0]
    assert_close(numeric, ref, rtol=1e-12)


@given(
    hw=st.tuples(st.integers(1, 7), st.integers(1, 7)),
    k=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    s=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    p=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    d=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    seed=st.integers(0, 2**32 - 1),
)
def test_matrix_identities_single_channel(hw, k, s, p, d, seed):
    rng = np.random.default_rng(seed)
    kern = rng.standard_normal(k)
    try:
        C = conv_matrix(hw, kern, s, p, d)
    except ValueError:
        return
    x = rng.standard_normal(hw)
    y = conv2d(x[None, None], kern[None, None], stride=s, padding=p, dilation=d)[0, 0]
    assert_close(C @ x.ravel(), y.ravel(), rtol=1e-13)
    # C.T @ y is the transposed convolution with output padding = the unreached remainder
    a = tuple(output_padding_remainder(hw[i], k[i], s[i], p[i], d[i]) for i in (0, 1))
    if all(a[i] < max(s[i], d[i]) for i in (0, 1)):
        z = rng.standard_normal(y.shape)
        t = conv_transpose2d(
            z[None, None], kern[None, None], stride=s, padding=p, output_padding=a, dilation=d
        )
        assert_close(C.T @ z.ravel(), t[0, 0].ravel(), rtol=1e-13)
    Cs = conv_matrix(hw, kern, s, p, d, sparse=True)
    assert scipy.sparse.issparse(Cs) and Cs.format == "csr"
    assert_close(Cs.toarray(), C, rtol=0.0)


def test_block_matrix_multi_channel_and_groups(rng):
    w = rng.standard_normal((4, 3, 2, 3))  # C_out 4, C_in 6 with groups 2
    x = rng.standard_normal((6, 5, 6))
    C = conv_matrix((5, 6), w, stride=(2, 1), padding=(1, 0), groups=2)
    y = conv2d(x, w, stride=(2, 1), padding=(1, 0), groups=2)
    assert C.shape == (4 * y.shape[1] * y.shape[2], 6 * 30)
    assert_close(C @ x.ravel(), y.ravel(), rtol=1e-13)
    # off-diagonal group blocks are zero: output channels 0, 1 never read input channels 3..5
    rows = 2 * y.shape[1] * y.shape[2]
    assert not C[:rows, 3 * 30 :].any()
    z = rng.standard_normal(y.shape)
    a = (output_padding_remainder(5, 2, 2, 1), output_padding_remainder(6, 3, 1, 0))
    t = conv_transpose2d(z, w, stride=(2, 1), padding=(1, 0), output_padding=a, groups=2)
    assert_close(C.T @ z.ravel(), t.ravel(), rtol=1e-13)
    Cs = conv_matrix((5, 6), w, stride=(2, 1), padding=(1, 0), groups=2, sparse=True)
    assert_close(Cs @ x.ravel(), y.ravel(), rtol=1e-13)


def test_same_padding_and_worked_entries():
    # 1-D view along the width: input 4, kernel [1, 2, 3], "same" pads 1 each side
    C = conv_matrix((1, 4), np.array([[1.0, 2.0, 3.0]]), padding="same")
    expected = np.array(
        [
            [2, 3, 0, 0],  # window over (pad, x0, x1)
            [1, 2, 3, 0],
            [0, 1, 2, 3],
            [0, 0, 1, 2],  # window over (x2, x3, pad)
        ],
        dtype=float,
    )
    np.testing.assert_array_equal(C, expected)


def test_conv_matrix_errors():
    with pytest.raises(ValueError, match=r"kernel must be 2-D \(kh, kw\) or 4-D"):
        conv_matrix(3, np.ones(3))
    with pytest.raises(TypeError, match="sparse=True needs a numeric kernel"):
        conv_matrix(3, np.array([[sympy.Symbol("a")]], dtype=object), sparse=True)
    with pytest.raises(ValueError, match="kernel larger than padded input"):
        conv_matrix((2, 2), np.ones((3, 3)))
    with pytest.raises(ValueError, match="input_hw must be a positive integer"):
        conv_matrix((0, 2), np.ones((1, 1)))
    with pytest.raises(ValueError, match="symbol names must be identifiers"):
        symbolic_conv_transpose(kernel_symbol="1k")
