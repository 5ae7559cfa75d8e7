"""The sub-pixel (phase) gather route of conv_transpose2d: kernels that are multiples of the stride.

Each case checks that the route ran (a spy on ``_phase_gather``) and that its values equal PyTorch's,
for the transposed convolution's forward and for conv2d's input gradient (the same operation).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import handgrad._parallel as parallel
import handgrad.conv._gemm as gemm
from handgrad.conv import conv2d_backward, conv_transpose2d
from oracle import assert_close, rounding_rtol

T = torch.from_numpy

# (N, groups, C_in per group, C_out per group, (H, W), (kh, kw), stride, padding, output_padding)
PHASE_GRID = [
    (2, 1, 3, 2, (4, 5), (4, 4), 2, 1, 0),  # the benchmark's C2 geometry, small
    (1, 1, 2, 3, (3, 3), (4, 4), 2, 0, 0),  # no crop
    (2, 1, 2, 2, (3, 4), (4, 4), 2, 3, 1),  # crop of k - 1, output padding <= padding
    (2, 2, 2, 3, (5, 3), (4, 3), (2, 3), (1, 2), (1, 2)),  # asymmetric stride, groups
    (1, 1, 3, 2, (4, 4), (6, 6), 3, 2, 2),  # three taps per phase
    (2, 1, 2, 2, (4, 4), (3, 3), 1, 1, 0),  # stride 1: one phase, the whole flipped kernel
    (3, 3, 1, 2, (2, 6), (2, 2), 2, 0, 0),  # kernel equal to the stride: no overlap at all
    (1, 1, 1, 1, (1, 1), (2, 2), 2, 0, 0),  # a single input pixel
]


@pytest.fixture
def phase_calls(monkeypatch):
    calls = []
    original = gemm._phase_gather

    def spy(*args, **kwargs):
        calls.append(args[0].shape)
        return original(*args, **kwargs)

    monkeypatch.setattr(gemm, "_phase_gather", spy)
    return calls


def _inputs(rng, case, dtype=np.float64):
    N, G, Cg, Og, hw, k, s, p, a = case
    x = rng.standard_normal((N, G * Cg, *hw)).astype(dtype)
    w = rng.standard_normal((G * Cg, Og, *k)).astype(dtype)
    return x, w, dict(stride=s, padding=p, output_padding=a, groups=G)


@pytest.mark.parametrize("case", PHASE_GRID)
def test_phase_route_equals_torch(rng, case, phase_calls):
    x, w, kw = _inputs(rng, case)
    ours = conv_transpose2d(x, w, **kw)
    assert phase_calls, "the phase route did not run"
    assert_close(ours, F.conv_transpose2d(T(x), T(w), **kw), rtol=1e-12)
    # the same values by the definition (scatter route, no GEMM)
    assert_close(ours, conv_transpose2d(x, w, **kw, method="scatter"), rtol=1e-12)


@pytest.mark.parametrize("case", PHASE_GRID[:5])
def test_phase_route_float32(rng, case, phase_calls):
    x, w, kw = _inputs(rng, case, np.float32)
    ours = conv_transpose2d(x, w, **kw)
    assert ours.dtype == np.float32 and phase_calls
    ref = conv_transpose2d(x.astype(np.float64), w.astype(np.float64), **kw)
    assert_close(ours, ref, rtol=1e-5)


def test_conv2d_input_gradient_uses_the_phase_route(rng, phase_calls):
    # conv2d 8x8 -> 4x4 (k 4, s 2, p 1): dx is the transposed convolution of grad_out
    x = rng.standard_normal((2, 3, 8, 8))
    w = rng.standard_normal((5, 3, 4, 4))
    g = rng.standard_normal((2, 5, 4, 4))
    dx, _, _ = conv2d_backward(g, x, w, stride=2, padding=1)
    assert phase_calls
    xt = T(x).requires_grad_(True)
    (ref,) = torch.autograd.grad(F.conv2d(xt, T(w), stride=2, padding=1), xt, T(g))
    assert_close(dx, ref, rtol=1e-12)


def test_worked_example_kernel_two_stride_two(phase_calls):
    # k = s = 2: every input pixel paints its own 2 x 2 block, w * x[i, j], no overlaps.
    # x = [[1, 2]], w = [[1, 10], [100, 1000]] -> rows [1 10 2 20], [100 1000 200 2000]
    x = np.array([[[[1.0, 2.0]]]])
    w = np.array([[[[1.0, 10.0], [100.0, 1000.0]]]])
    y = conv_transpose2d(x, w, stride=2)
    assert phase_calls
    np.testing.assert_array_equal(y[0, 0], [[1, 10, 2, 20], [100, 1000, 200, 2000]])


def test_other_geometries_keep_the_scatter_route(rng, phase_calls):
    # output padding beyond the padding (rows past the last tap), dilation, k not a multiple of s
    for k, s, p, a, d in (((4, 4), 2, 0, 1, 1), ((4, 4), 2, 1, 0, 2), ((3, 3), 2, 1, 1, 1)):
        x = rng.standard_normal((2, 2, 3, 4))
        w = rng.standard_normal((2, 3, *k))
        kw = dict(stride=s, padding=p, output_padding=a, dilation=d)
        assert_close(conv_transpose2d(x, w, **kw), F.conv_transpose2d(T(x), T(w), **kw), rtol=1e-12)
    assert not phase_calls


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_non_finite_weight_keeps_the_scatter_route(bad, phase_calls):
    # padding zeros would meet the weight in the phase route: 0 * inf = nan where torch has none
    x = np.ones((1, 1, 2, 2))
    w = np.ones((1, 1, 4, 4))
    w[0, 0, 1, 2] = bad
    ours = conv_transpose2d(x, w, stride=2, padding=1)
    assert not phase_calls
    ref = F.conv_transpose2d(T(x), T(w), stride=2, padding=1).numpy()
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
    np.testing.assert_array_equal(ours[np.isfinite(ref)], ref[np.isfinite(ref)])


def test_phase_route_split_and_chunks(rng, monkeypatch, phase_calls):
    pytest.importorskip("threadpoolctl")
    x, w, kw = _inputs(rng, (5, 2, 2, 3, (6, 5), (4, 2), 2, 1, 0))
    serial = conv_transpose2d(x, w, **kw)
    monkeypatch.setattr(parallel, "_PARALLEL_MIN_ELEMENTS", 0)
    monkeypatch.setattr(gemm, "_CHUNK_ELEMENTS", 100)  # several chunks per thread
    # smaller GEMMs may take other kernels: each output sums at most C_in kh kw products
    terms = w.shape[0] * w.shape[2] * w.shape[3]
    assert_close(conv_transpose2d(x, w, **kw), serial, rtol=rounding_rtol(terms))
    assert_close(serial, F.conv_transpose2d(T(x), T(w), **kw), rtol=1e-12)
    assert len(phase_calls) == 2


@pytest.mark.parametrize(("dtype", "hw"), [(np.float32, (64, 64)), (np.float64, (32, 64))])
def test_im2col_rows_of_4_kib_are_padded_and_exact(rng, dtype, hw):
    # Ho Wo itemsize = 4096 bytes (32 x 32 float32, 16 x 32 float64): the columns are a view
    # into a wider buffer; forward and both gradients still equal torch's
    from handgrad.conv import conv2d

    x = rng.standard_normal((2, 3, *hw)).astype(dtype)
    w = rng.standard_normal((4, 3, 4, 4)).astype(dtype)
    cols = gemm.im2col(
        gemm.pad2d(x, (1, 1, 1, 1)), (4, 4), (2, 2), (1, 1), (hw[0] // 2, hw[1] // 2)
    )
    assert (
        not cols.flags.c_contiguous
        and cols.strides[1] == (cols.shape[2] + gemm._ROW_PAD) * x.itemsize
    )
    y = conv2d(x, w, stride=2, padding=1)
    g = rng.standard_normal(y.shape).astype(dtype)
    dx, dw, _ = conv2d_backward(g, x, w, stride=2, padding=1)
    xt, wt = T(x).requires_grad_(True), T(w).requires_grad_(True)
    yt = F.conv2d(xt, wt, stride=2, padding=1)
    dxt, dwt = torch.autograd.grad(yt, (xt, wt), T(g))
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    for ours, ref in ((y, yt.detach()), (dx, dxt), (dw, dwt)):
        assert ours.dtype == dtype
        assert_close(ours, ref.numpy(), rtol=rtol)
