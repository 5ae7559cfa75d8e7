"""conv2d / conv_transpose2d / 1-D versions: equality with PyTorch, the four routes, identities."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from handgrad.conv import (
    METHODS,
    conv1d,
    conv2d,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose2d_backward,
)
from oracle import assert_close

T = torch.from_numpy

# (N, groups, C_in per group, C_out per group, (H, W), (kh, kw), stride, padding, dilation, op)
TRANSPOSE_GRID = [
    (1, 1, 1, 1, (3, 3), (2, 2), 1, 0, 1, 0),
    (2, 1, 3, 2, (5, 4), (3, 2), (2, 1), (1, 0), 1, (1, 0)),
    (3, 2, 2, 3, (4, 6), (3, 3), 2, 1, (1, 2), 1),
    (2, 3, 1, 2, (3, 5), (2, 4), (3, 2), (2, 1), (2, 1), (2, 1)),
    (1, 1, 4, 5, (1, 7), (1, 3), (1, 3), 0, 1, (0, 2)),
    (2, 2, 3, 1, (6, 6), (4, 4), 2, 1, 1, 0),
    (1, 1, 2, 2, (2, 2), (3, 3), 1, 0, 3, (2, 2)),  # output padding >= stride (dilation 3)
    (2, 1, 2, 3, (4, 3), (2, 2), 2, 3, 1, 1),  # padding larger than (k - 1) d
    (1, 4, 1, 1, (5, 5), (3, 3), 1, 1, 1, 0),  # depthwise
]


def _transpose_inputs(rng, case, dtype=np.float64):
    N, G, Cg, Og, hw, k, s, p, d, a = case
    x = rng.standard_normal((N, G * Cg, *hw)).astype(dtype)
    w = rng.standard_normal((G * Cg, Og, *k)).astype(dtype)
    b = rng.standard_normal(G * Og).astype(dtype)
    kwargs = dict(stride=s, padding=p, output_padding=a, groups=G, dilation=d)
    return x, w, b, kwargs


@pytest.mark.parametrize("case", TRANSPOSE_GRID)
@pytest.mark.parametrize("method", METHODS)
def test_conv_transpose2d_equals_torch(rng, case, method):
    x, w, b, kw = _transpose_inputs(rng, case)
    ours = conv_transpose2d(x, w, b, **kw, method=method)
    assert_close(ours, F.conv_transpose2d(T(x), T(w), T(b), **kw), rtol=1e-12)


# (N, groups, C_in per group, C_out per group, (H, W), (kh, kw), stride, padding, dilation)
CONV_GRID = [
    (1, 1, 1, 1, (3, 3), (2, 2), 1, 0, 1),
    (2, 1, 3, 2, (7, 5), (3, 2), (2, 1), (1, 0), 1),
    (3, 2, 2, 3, (8, 9), (3, 3), 2, 1, (1, 2)),
    (2, 3, 1, 2, (6, 9), (2, 4), (3, 2), (2, 1), (2, 1)),
    (1, 1, 4, 5, (1, 7), (1, 3), (1, 3), 0, 1),
    (2, 2, 3, 1, (6, 6), "same_k", 1, "same", 1),
    (2, 1, 2, 3, (7, 6), (4, 3), 1, "same", (2, 1)),  # even kernel: odd pad at bottom / right
    (1, 1, 2, 2, (5, 4), (2, 2), 1, "valid", 2),
    (2, 1, 3, 4, (4, 4), (1, 1), 1, 0, 1),  # 1 x 1 kernel
    (2, 1, 3, 4, (5, 5), (1, 1), 2, 1, 1),
]


def _conv_inputs(rng, case, dtype=np.float64):
    N, G, Cg, Og, hw, k, s, p, d = case
    k = (3, 3) if k == "same_k" else k
    x = rng.standard_normal((N, G * Cg, *hw)).astype(dtype)
    w = rng.standard_normal((G * Og, Cg, *k)).astype(dtype)
    b = rng.standard_normal(G * Og).astype(dtype)
    return x, w, b, dict(stride=s, padding=p, dilation=d, groups=G)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("case", CONV_GRID)
def test_conv2d_equals_torch(rng, case):
    x, w, b, kw = _conv_inputs(rng, case)
    assert_close(conv2d(x, w, b, **kw), F.conv2d(T(x), T(w), T(b), **kw), rtol=1e-12)
    assert_close(conv2d(x, w, **kw), F.conv2d(T(x), T(w), **kw), rtol=1e-12)


@given(
    n=st.integers(1, 3),
    groups=st.integers(1, 3),
    cg=st.integers(1, 3),
    og=st.integers(1, 3),
    hw=st.tuples(st.integers(1, 6), st.integers(1, 6)),
    k=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    s=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    p=st.tuples(st.integers(0, 3), st.integers(0, 3)),
    d=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    a=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_parameters_agree_with_torch_or_both_reject(
    n, groups, cg, og, hw, k, s, p, d, a, seed
):
    rng = np.random.default_rng(seed)
    x, w, b, kw = _transpose_inputs(rng, (n, groups, cg, og, hw, k, s, p, d, a))
    try:
        ref = F.conv_transpose2d(T(x), T(w), T(b), **kw)
    except RuntimeError:
        with pytest.raises(ValueError):
            conv_transpose2d(x, w, b, **kw)
        return
    for method in METHODS:
        assert_close(conv_transpose2d(x, w, b, **kw, method=method), ref, rtol=1e-12)
    wc = rng.standard_normal((groups * og, cg, *k))
    ck = dict(stride=s, padding=p, dilation=d, groups=groups)
    try:
        ref_c = F.conv2d(T(x), T(wc), **ck)
    except RuntimeError:
        with pytest.raises(ValueError):
            conv2d(x, wc, **ck)
        return
    assert_close(conv2d(x, wc, **ck), ref_c, rtol=1e-12)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_conv1d_and_transpose1d_equal_torch(rng):
    x = rng.standard_normal((3, 4, 11))
    for (s, p, d, g), a in itertools.product([(1, 0, 1, 1), (2, 1, 1, 2), (3, 2, 2, 4)], (0, 1)):
        w = rng.standard_normal((6 if g != 4 else 4, 4 // g, 3))
        b = rng.standard_normal(w.shape[0])
        ours = conv1d(x, w, b, stride=s, padding=p, dilation=d, groups=g)
        assert_close(ours, F.conv1d(T(x), T(w), T(b), stride=s, padding=p, dilation=d, groups=g))
        wt = rng.standard_normal((4, 2 if g != 4 else 1, 3))
        kw = dict(stride=s, padding=p, output_padding=a, dilation=d, groups=g if g != 4 else 4)
        if a >= max(s, d):
            continue
        ours_t = conv_transpose1d(x, wt, **kw)
        assert_close(ours_t, F.conv_transpose1d(T(x), T(wt), **kw))
    w_same = rng.standard_normal((5, 4, 4))
    ref = F.conv1d(T(x), T(w_same), padding="same")  # torch may warn (once) about even kernels
    assert_close(conv1d(x, w_same, padding="same"), ref)
    # unbatched (C, L)
    assert_close(conv1d(x[0], w_same, padding="valid"), F.conv1d(T(x[0]), T(w_same)))


def test_unbatched_and_float32(rng):
    x = rng.standard_normal((3, 5, 4)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    y = conv_transpose2d(x, w, stride=2)
    assert y.dtype == np.float32 and y.shape == (2, 11, 9)
    ref = F.conv_transpose2d(T(x), T(w), stride=2)
    assert_close(y, ref, rtol=1e-6)
    yc = conv2d(x, w.transpose(1, 0, 2, 3))
    assert yc.dtype == np.float32
    assert_close(yc, F.conv2d(T(x), T(w.transpose(1, 0, 2, 3).copy())), rtol=1e-6)
    # integer input promotes to float64
    assert conv2d(np.ones((1, 1, 3, 3), dtype=int), np.ones((1, 1, 2, 2))).dtype == np.float64


def test_seed_q5a_values_count_overlaps():
    # ASSIGNMENT Q5a: a 3 x 3 input of ones, a 7 x 7 kernel of ones, stride 1, padding 0.
    # Output (3 - 1) + 7 = 9; entry (r, c) counts the input pixels (i, j) whose kernel copy covers
    # it: #{i : 0 <= r - i <= 6} * #{j : 0 <= c - j <= 6}, e.g. corner 1 * 1, centre 3 * 3 = 9.
    y = conv_transpose2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 7, 7)))
    counts_1d = np.array([1, 2, 3, 3, 3, 3, 3, 2, 1])
    np.testing.assert_array_equal(y[0, 0], np.outer(counts_1d, counts_1d))
    assert y[0, 0].sum() == 9 * 49  # every input pixel spreads 49 ones


def test_seed_q5a_random_kernel_is_shifted_copies(rng):
    # with a ones input, output = sum of the kernel placed at the 9 shifts (i, j), i, j in 0..2
    k = rng.standard_normal((7, 7))
    expected = np.zeros((9, 9))
    for i in range(3):
        for j in range(3):
            expected[i : i + 7, j : j + 7] += k
    assert_close(conv_transpose2d(np.ones((1, 1, 3, 3)), k[None, None])[0, 0], expected, rtol=1e-14)


def test_worked_example_stride_two():
    # x = [[1, 2], [3, 4]], kernel [[1, 10], [100, 1000]], stride 2: every input pixel writes its
    # own 2 x 2 block x[i, j] * kernel at (2i, 2j); no overlaps.
    x = np.array([[1.0, 2.0], [3.0, 4.0]])[None, None]
    k = np.array([[1.0, 10.0], [100.0, 1000.0]])[None, None]
    y = conv_transpose2d(x, k, stride=2)[0, 0]
    expected = np.array(
        [
            [1, 10, 2, 20],
            [100, 1000, 200, 2000],
            [3, 30, 4, 40],
            [300, 3000, 400, 4000],
        ],
        dtype=float,
    )
    np.testing.assert_array_equal(y, expected)
    # padding 1 crops one row / column on each side: the middle 2 x 2
    np.testing.assert_array_equal(
        conv_transpose2d(x, k, stride=2, padding=1)[0, 0], expected[1:3, 1:3]
    )
    # output_padding 1 with padding 0 appends a zero row and column
    y_op = conv_transpose2d(x, k, stride=2, output_padding=1)[0, 0]
    np.testing.assert_array_equal(y_op[:4, :4], expected)
    assert not y_op[4].any() and not y_op[:, 4].any()


@pytest.mark.parametrize("case", TRANSPOSE_GRID)
def test_adjoint_identity(rng, case):
    # <conv2d(z, w), x> = <z, conv_transpose2d(x, w)> for z of the transposed output's shape
    x, w, _, kw = _transpose_inputs(rng, case)
    y = conv_transpose2d(x, w, **kw)
    z = rng.standard_normal(y.shape)
    conv_kw = {k: v for k, v in kw.items() if k != "output_padding"}
    cz = conv2d(z, w, **conv_kw)
    # conv2d(z) may have more rows than x when output_padding >= stride; x is zero there
    lhs = float(np.sum(cz[:, :, : x.shape[2], : x.shape[3]] * x))
    rhs = float(np.sum(z * y))
    assert abs(lhs - rhs) <= 1e-12 * max(1.0, abs(lhs))


@given(seed=st.integers(0, 2**32 - 1), big=st.sampled_from([1e-300, 1.0, 1e150]))
def test_extreme_magnitudes_scale_linearly(seed, big):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 3, 4, 5))
    w = rng.standard_normal((3, 2, 3, 2))
    y = conv_transpose2d(x, w, stride=2, padding=1)
    assert_close(conv_transpose2d(x * big, w, stride=2, padding=1), y * big, rtol=1e-13)
    assert np.isfinite(conv_transpose2d(x * big, w, stride=2, padding=1)).all()


def test_tied_and_degenerate_inputs():
    # zero weight -> bias only; zero input -> bias only
    y = conv_transpose2d(np.ones((2, 3, 4, 4)), np.zeros((3, 2, 3, 3)), bias=np.array([1.5, -2.0]))
    assert np.all(y[:, 0] == 1.5) and np.all(y[:, 1] == -2.0)
    # a 1 x 1 kernel of ones, stride 1: conv_transpose is a channel sum
    x = np.arange(24.0).reshape(1, 3, 2, 4)
    np.testing.assert_array_equal(conv_transpose2d(x, np.ones((3, 1, 1, 1)))[0, 0], x[0].sum(0))
    # a single pixel input places the (flipped nowhere) kernel itself
    k = np.arange(6.0).reshape(1, 1, 2, 3)
    np.testing.assert_array_equal(conv_transpose2d(np.ones((1, 1, 1, 1)), k), k)


def test_nan_propagates_like_torch():
    x = np.ones((1, 1, 3, 3))
    x[0, 0, 1, 1] = np.nan
    w = np.ones((1, 1, 2, 2))
    ref = F.conv_transpose2d(T(x), T(w)).numpy()
    np.testing.assert_array_equal(np.isnan(conv_transpose2d(x, w)), np.isnan(ref))


def test_large_batch_goes_through_chunks(rng, monkeypatch):
    # force tiny chunks: results must not depend on the chunking
    import handgrad.conv._gemm as gemm

    x = rng.standard_normal((5, 4, 6, 5))
    w = rng.standard_normal((4, 3, 3, 3))
    y_ref = conv_transpose2d(x, w, stride=2, padding=1, output_padding=1)
    g = rng.standard_normal(y_ref.shape)
    grads_ref = conv_transpose2d_backward(g, x, w, stride=2, padding=1, output_padding=1)
    monkeypatch.setattr(gemm, "_CHUNK_ELEMENTS", 50)
    assert_close(conv_transpose2d(x, w, stride=2, padding=1, output_padding=1), y_ref, rtol=1e-14)
    for ours, ref in zip(
        conv_transpose2d_backward(g, x, w, stride=2, padding=1, output_padding=1), grads_ref
    ):
        assert_close(ours, ref, rtol=1e-14)
    assert_close(
        conv2d(y_ref, w, stride=2, padding=1), F.conv2d(T(y_ref), T(w), stride=2, padding=1)
    )


# ---- bad input ----------------------------------------------------------------------------------


def test_bad_inputs_name_the_argument():
    x = np.ones((1, 2, 4, 4))
    w = np.ones((2, 3, 3, 3))
    with pytest.raises(ValueError, match=r"output_padding must be smaller than stride or dilation"):
        conv_transpose2d(x, w, stride=2, output_padding=2)
    with pytest.raises(ValueError, match=r"x has C_in = 2 channels but weight"):
        conv2d(x, np.ones((3, 3, 2, 2)))
    with pytest.raises(ValueError, match=r"groups must divide"):
        conv2d(np.ones((1, 3, 4, 4)), np.ones((4, 1, 2, 2)), groups=3)
    with pytest.raises(ValueError, match=r"kernel larger than padded input along the height"):
        conv2d(x, np.ones((1, 2, 5, 1)))
    with pytest.raises(ValueError, match=r"padding='same' needs stride 1"):
        conv2d(x, np.ones((1, 2, 3, 3)), stride=2, padding="same")
    with pytest.raises(ValueError, match=r"padding must be one of 'same', 'valid'; got 'full'"):
        conv2d(x, np.ones((1, 2, 3, 3)), padding="full")
    with pytest.raises(
        ValueError, match=r"padding must be an int or an \(h, w\) pair for conv_transpose2d"
    ):
        conv_transpose2d(x, w, padding="same")
    with pytest.raises(ValueError, match=r"stride must be a positive integer; got 0"):
        conv2d(x, np.ones((1, 2, 3, 3)), stride=0)
    with pytest.raises(TypeError, match=r"dilation must be an int or an \(h, w\) pair"):
        conv2d(x, np.ones((1, 2, 3, 3)), dilation=(1, 2, 3))
    with pytest.raises(ValueError, match=r"x must be 4-D"):
        conv2d(np.ones((4, 4)), np.ones((1, 1, 3, 3)))
    with pytest.raises(ValueError, match=r"weight must be 4-D \(C_out"):
        conv2d(x, np.ones((2, 3, 3)))
    with pytest.raises(ValueError, match=r"bias must have shape \(C_out,\) = \(3,\)"):
        conv_transpose2d(x, w, bias=np.ones(2))
    with pytest.raises(ValueError, match=r"method must be one of"):
        conv_transpose2d(x, w, method="fft")
    with pytest.raises(TypeError, match=r"x must be a real numeric array"):
        conv2d(np.array([["a"]]), w)
    with pytest.raises(ValueError, match=r"non-positive output size: .* \(along the height\)"):
        conv_transpose2d(np.ones((1, 2, 1, 3)), np.ones((2, 1, 1, 1)), padding=1)
    with pytest.raises(ValueError, match=r"grad_out must have the forward output's shape"):
        conv_transpose2d_backward(np.ones((1, 3, 5, 5)), x, w)


def test_thread_split_gives_the_serial_result(rng, monkeypatch):
    # force the multi-threaded batch split (needs threadpoolctl) and compare with the serial path
    pytest.importorskip("threadpoolctl")
    import handgrad._parallel as parallel
    import handgrad.conv._gemm as gemm

    x = rng.standard_normal((5, 4, 7, 6))
    w = rng.standard_normal((4, 3, 3, 3))
    kw = dict(stride=2, padding=1, output_padding=1, groups=2)
    monkeypatch.setattr(parallel, "_PARALLEL_MIN_ELEMENTS", 1 << 62)  # serial
    y = conv_transpose2d(x, w, **kw)
    g = rng.standard_normal(y.shape)
    serial = [
        y,
        *conv_transpose2d_backward(g, x, w, **kw),
        conv2d(y, w, stride=2, padding=1, groups=2),
    ]
    monkeypatch.setattr(parallel, "_PARALLEL_MIN_ELEMENTS", 0)
    monkeypatch.setattr(gemm, "_CHUNK_ELEMENTS", 100)  # several chunks per thread
    calls = []
    original = parallel.run_split

    def spy(n, per_sample, work):
        calls.append(n)
        return original(n, per_sample, work)

    monkeypatch.setattr(parallel, "run_split", spy)
    y2 = conv_transpose2d(x, w, **kw)
    threaded = [
        y2,
        *conv_transpose2d_backward(g, x, w, **kw),
        conv2d(y, w, stride=2, padding=1, groups=2),
    ]
    assert calls  # the split path ran
    for a, b in zip(threaded, serial):
        assert_close(a, b, rtol=1e-14)
    # the reference: torch
    assert_close(y2, F.conv_transpose2d(T(x), T(w), **kw), rtol=1e-12)


def test_non_contiguous_inputs(rng):
    # strided, Fortran-ordered and reversed views give the same result as contiguous copies
    base = rng.standard_normal((3, 4, 12, 10))
    x = base[:, :, ::2, ::-1]  # (3, 4, 6, 10), negative and doubled strides
    w = np.asfortranarray(rng.standard_normal((4, 2, 3, 3)))
    wc = rng.standard_normal((6, 4, 2, 3))[:, :, ::-1]  # reversed-kernel view
    kw = dict(stride=2, padding=1, output_padding=1)
    ref = F.conv_transpose2d(T(x.copy()), T(w.copy()), **kw)
    for method in METHODS:
        assert_close(conv_transpose2d(x, w, **kw, method=method), ref, rtol=1e-12)
    assert_close(conv2d(x, wc, stride=(1, 2)), F.conv2d(T(x.copy()), T(wc.copy()), stride=(1, 2)))
    y = conv_transpose2d(x, w, **kw)
    g = rng.standard_normal(y.shape[::-1]).T  # Fortran-ordered grad_out
    dx, dw, db = conv_transpose2d_backward(g, x, w, **kw)
    dx2, dw2, db2 = conv_transpose2d_backward(g.copy(), x.copy(), w.copy(), **kw)
    np.testing.assert_array_equal(dx, dx2)
    np.testing.assert_array_equal(dw, dw2)
    np.testing.assert_array_equal(db, db2)


def test_inputs_are_not_modified(rng):
    x = rng.standard_normal((2, 3, 5, 5))
    w = rng.standard_normal((3, 2, 3, 3))
    b = rng.standard_normal(2)
    copies = [x.copy(), w.copy(), b.copy()]
    y = conv_transpose2d(x, w, b, stride=2)
    conv_transpose2d_backward(np.ones_like(y), x, w, stride=2)
    conv2d(y, w, b[:1].repeat(3), stride=2)
    for a, c in zip((x, w, b), copies):
        np.testing.assert_array_equal(a, c)


def test_mixed_dtypes_promote():
    # float32 input with a float64 weight computes in float64 (NumPy's promotion)
    y = conv2d(np.ones((1, 1, 3, 3), dtype=np.float32), np.ones((1, 1, 2, 2)))
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, np.full((1, 1, 2, 2), 4.0))
    # a float64 bias does not promote float32 data
    y32 = conv2d(np.ones((1, 1, 3, 3), np.float32), np.ones((1, 1, 2, 2), np.float32), bias=[0.5])
    assert y32.dtype == np.float32
    np.testing.assert_array_equal(y32, np.full((1, 1, 2, 2), 4.5, dtype=np.float32))


def test_empty_batch_like_torch():
    x = np.ones((0, 2, 4, 4))
    w = np.ones((2, 3, 3, 3))
    ref = F.conv_transpose2d(T(x), T(w), stride=2)
    for method in METHODS:
        assert conv_transpose2d(x, w, stride=2, method=method).shape == tuple(ref.shape)
    dx, dw, db = conv_transpose2d_backward(np.ones(tuple(ref.shape)), x, w, stride=2)
    assert dx.shape == x.shape
    np.testing.assert_array_equal(dw, np.zeros_like(w))  # no samples: nothing to accumulate
    np.testing.assert_array_equal(db, np.zeros(3))
    assert conv2d(x, np.ones((3, 2, 3, 3))).shape == (0, 3, 2, 2)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_non_finite_weights_match_torch_nan_pattern(bad):
    # the fast path pads the input with zero columns; 0 * inf must not leak into real outputs
    rng = np.random.default_rng(7)
    checked = 0
    for _ in range(40):
        k = tuple(rng.integers(1, 5, 2))
        s = tuple(rng.integers(1, 4, 2))
        d = tuple(rng.integers(1, 3, 2))
        x = rng.standard_normal((2, 2, *rng.integers(1, 6, 2)))
        w = rng.standard_normal((2, 3, *k))
        w[rng.integers(2), rng.integers(3), rng.integers(k[0]), rng.integers(k[1])] = bad
        ref = F.conv_transpose2d(T(x), T(w), stride=s, dilation=d).numpy()
        for method in ("gemm", "scatter", "matrix"):  # zero insertion multiplies by the zeros
            y = conv_transpose2d(x, w, stride=s, dilation=d, method=method)
            np.testing.assert_array_equal(np.isnan(y), np.isnan(ref))
            finite = np.isfinite(ref)
            assert_close(y[finite], ref[finite], rtol=1e-12)
        checked += 1
    assert checked == 40
