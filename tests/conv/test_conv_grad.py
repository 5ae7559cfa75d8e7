"""Backward passes: finite differences (float64) and PyTorch autograd for dx, dweight and dbias."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from handgrad.conv import (
    conv1d,
    conv1d_backward,
    conv2d,
    conv2d_backward,
    conv_transpose1d,
    conv_transpose1d_backward,
    conv_transpose2d,
    conv_transpose2d_backward,
)
from handgrad.gradcheck import assert_grad_close
from oracle import assert_close, torch_grad

# (N, groups, C_in per group, C_out per group, (H, W), (kh, kw), stride, padding, dilation, op)
TRANSPOSE_CASES = [
    (1, 1, 2, 2, (3, 3), (2, 2), 1, 0, 1, 0),
    (2, 1, 2, 3, (3, 4), (3, 2), 2, 1, 1, 1),
    (2, 2, 1, 2, (3, 3), (2, 3), (2, 3), (0, 1), (2, 1), (1, 2)),
    (1, 1, 2, 1, (2, 2), (3, 3), 1, 0, 3, 2),
    (2, 1, 1, 2, (3, 2), (2, 2), 2, 2, 1, 1),
]

# (N, groups, C_in per group, C_out per group, (H, W), (kh, kw), stride, padding, dilation)
CONV_CASES = [
    (1, 1, 2, 2, (4, 4), (2, 2), 1, 0, 1),
    (2, 1, 2, 3, (6, 5), (3, 2), 2, 1, 1),  # odd case: a row no window reaches
    (2, 2, 1, 2, (5, 6), (2, 3), (2, 3), (0, 1), (2, 1)),
    (2, 1, 2, 2, (5, 4), (2, 3), 1, "same", (1, 2)),
    (1, 1, 3, 2, (3, 3), (1, 1), 2, 1, 1),
]


def _loss_weights(rng, shape):
    """A fixed random cotangent: L = sum(r * y) has dL/dy = r (tests every output element)."""
    return rng.standard_normal(shape)


@pytest.mark.parametrize("case", TRANSPOSE_CASES)
def test_conv_transpose2d_backward_finite_differences(rng, case):
    N, G, Cg, Og, hw, k, s, p, d, a = case
    x = rng.standard_normal((N, G * Cg, *hw))
    w = rng.standard_normal((G * Cg, Og, *k))
    b = rng.standard_normal(G * Og)
    kw = dict(stride=s, padding=p, output_padding=a, groups=G, dilation=d)
    r = _loss_weights(rng, conv_transpose2d(x, w, **kw).shape)

    def loss(x_, w_, b_):
        return float(np.sum(r * conv_transpose2d(x_, w_, b_, **kw)))

    dx, dw, db = conv_transpose2d_backward(r, x, w, **kw)
    assert_grad_close(loss, [dx, dw, db], x, w, b, rtol=1e-7)


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_backward_finite_differences(rng, case):
    N, G, Cg, Og, hw, k, s, p, d = case
    x = rng.standard_normal((N, G * Cg, *hw))
    w = rng.standard_normal((G * Og, Cg, *k))
    b = rng.standard_normal(G * Og)
    kw = dict(stride=s, padding=p, dilation=d, groups=G)
    r = _loss_weights(rng, conv2d(x, w, **kw).shape)

    def loss(x_, w_, b_):
        return float(np.sum(r * conv2d(x_, w_, b_, **kw)))

    dx, dw, db = conv2d_backward(r, x, w, **kw)
    assert_grad_close(loss, [dx, dw, db], x, w, b, rtol=1e-7)


@pytest.mark.parametrize("case", TRANSPOSE_CASES)
def test_conv_transpose2d_backward_equals_torch(rng, case):
    N, G, Cg, Og, hw, k, s, p, d, a = case
    x = rng.standard_normal((N, G * Cg, *hw))
    w = rng.standard_normal((G * Cg, Og, *k))
    b = rng.standard_normal(G * Og)
    kw = dict(stride=s, padding=p, output_padding=a, groups=G, dilation=d)
    r = rng.standard_normal(conv_transpose2d(x, w, **kw).shape)
    rt = torch.from_numpy(r)
    _, (tx, tw, tb) = torch_grad(
        lambda x_, w_, b_: F.conv_transpose2d(x_, w_, b_, **kw) * rt, x, w, b
    )
    for ours, ref in zip(conv_transpose2d_backward(r, x, w, **kw), (tx, tw, tb)):
        assert_close(ours, ref, rtol=1e-12)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_backward_equals_torch(rng, case):
    N, G, Cg, Og, hw, k, s, p, d = case
    x = rng.standard_normal((N, G * Cg, *hw))
    w = rng.standard_normal((G * Og, Cg, *k))
    b = rng.standard_normal(G * Og)
    kw = dict(stride=s, padding=p, dilation=d, groups=G)
    r = rng.standard_normal(conv2d(x, w, **kw).shape)
    rt = torch.from_numpy(r)
    _, (tx, tw, tb) = torch_grad(lambda x_, w_, b_: F.conv2d(x_, w_, b_, **kw) * rt, x, w, b)
    for ours, ref in zip(conv2d_backward(r, x, w, **kw), (tx, tw, tb)):
        assert_close(ours, ref, rtol=1e-12)


def test_conv2d_dx_is_transposed_conv_with_remainder_padding(rng):
    # 6 rows, k = 3, s = 2, p = 1: output 3, remainder (6 + 2 - 3) mod 2 = 1
    x = rng.standard_normal((2, 3, 6, 6))
    w = rng.standard_normal((4, 3, 3, 3))
    g = rng.standard_normal((2, 4, 3, 3))
    dx, _, _ = conv2d_backward(g, x, w, stride=2, padding=1)
    assert_close(dx, conv_transpose2d(g, w, stride=2, padding=1, output_padding=1), rtol=1e-14)
    # and conv_transpose2d's dx is conv2d of grad_out
    y = conv_transpose2d(g, w, stride=2, padding=1, output_padding=1)
    r = rng.standard_normal(y.shape)
    dg, _, _ = conv_transpose2d_backward(r, g, w, stride=2, padding=1, output_padding=1)
    assert_close(dg, conv2d(r, w, stride=2, padding=1), rtol=1e-14)


def test_dbias_is_grad_out_sum_and_float32_stays(rng):
    x = rng.standard_normal((3, 2, 4, 4)).astype(np.float32)
    w = rng.standard_normal((2, 5, 3, 3)).astype(np.float32)
    y = conv_transpose2d(x, w)
    g = rng.standard_normal(y.shape).astype(np.float32)
    dx, dw, db = conv_transpose2d_backward(g, x, w)
    assert dx.dtype == dw.dtype == db.dtype == np.float32
    np.testing.assert_allclose(db, g.astype(np.float64).sum(axis=(0, 2, 3)), rtol=1e-5)
    _, (tx, tw) = torch_grad(lambda x_, w_: F.conv_transpose2d(x_, w_) * torch.from_numpy(g), x, w)
    assert_close(dx, tx, rtol=1e-5)
    assert_close(dw, tw, rtol=1e-5)


def test_one_d_backward(rng):
    x = rng.standard_normal((2, 4, 9))
    w = rng.standard_normal((6, 2, 3))
    kw = dict(stride=2, padding=1, dilation=2, groups=2)
    r = rng.standard_normal(conv1d(x, w, **kw).shape)
    _, refs = torch_grad(lambda x_, w_: F.conv1d(x_, w_, **kw) * torch.from_numpy(r), x, w)
    dx, dw, db = conv1d_backward(r, x, w, **kw)
    assert_close(dx, refs[0], rtol=1e-12)
    assert_close(dw, refs[1], rtol=1e-12)
    np.testing.assert_allclose(db, r.sum(axis=(0, 2)), rtol=1e-12)

    wt = rng.standard_normal((4, 3, 3))
    kt = dict(stride=3, padding=1, output_padding=2, dilation=1, groups=2)
    rt = rng.standard_normal(conv_transpose1d(x, wt, **kt).shape)

    def loss(x_, w_):
        return float(np.sum(rt * conv_transpose1d(x_, w_, **kt)))

    dx, dw, _ = conv_transpose1d_backward(rt, x, wt, **kt)
    assert_grad_close(loss, [dx, dw], x, wt)
    _, refs = torch_grad(
        lambda x_, w_: F.conv_transpose1d(x_, w_, **kt) * torch.from_numpy(rt), x, wt
    )
    assert_close(dx, refs[0], rtol=1e-12)
    assert_close(dw, refs[1], rtol=1e-12)


def test_unbatched_backward(rng):
    x = rng.standard_normal((2, 5, 5))
    w = rng.standard_normal((3, 2, 2, 2))
    g = rng.standard_normal(conv2d(x, w, stride=2).shape)
    dx, dw, db = conv2d_backward(g, x, w, stride=2)
    dxb, dwb, dbb = conv2d_backward(g[None], x[None], w, stride=2)
    assert dx.shape == x.shape
    np.testing.assert_array_equal(dx, dxb[0])
    np.testing.assert_array_equal(dw, dwb)
    np.testing.assert_array_equal(db, dbb)


@given(
    n=st.integers(1, 2),
    groups=st.integers(1, 2),
    cg=st.integers(1, 2),
    og=st.integers(1, 2),
    hw=st.tuples(st.integers(1, 6), st.integers(1, 6)),
    k=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    s=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    p=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    d=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    a=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_parameters_backward_equals_torch(n, groups, cg, og, hw, k, s, p, d, a, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, groups * cg, *hw))
    w = rng.standard_normal((groups * cg, og, *k))
    kw = dict(stride=s, padding=p, output_padding=a, groups=groups, dilation=d)
    try:
        shape = F.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(w), **kw).shape
    except RuntimeError:
        return  # invalid combination (tested in test_conv_ops)
    r = rng.standard_normal(tuple(shape))
    rt = torch.from_numpy(r)
    _, refs = torch_grad(lambda x_, w_: F.conv_transpose2d(x_, w_, **kw) * rt, x, w)
    dx, dw, db = conv_transpose2d_backward(r, x, w, **kw)
    assert_close(dx, refs[0], rtol=1e-12)
    assert_close(dw, refs[1], rtol=1e-12)
    assert_close(db, r.sum(axis=(0, 2, 3)), rtol=1e-12)
    # conv2d on the transposed convolution's output, same weight: its backward too
    ck = dict(stride=s, padding=p, groups=groups, dilation=d)
    out = F.conv2d(torch.from_numpy(r), torch.from_numpy(w), **ck).shape
    g2 = rng.standard_normal(tuple(out))
    _, refs = torch_grad(lambda z_, w_: F.conv2d(z_, w_, **ck) * torch.from_numpy(g2), r, w)
    dz, dw2, db2 = conv2d_backward(g2, r, w, **ck)
    assert_close(dz, refs[0], rtol=1e-12)
    assert_close(dw2, refs[1], rtol=1e-12)
    assert_close(db2, g2.sum(axis=(0, 2, 3)), rtol=1e-12)


def test_conv2d_backward_float32(rng):
    # float32 takes a different (but equal) orientation of the weight-gradient product
    x = rng.standard_normal((3, 4, 9, 8)).astype(np.float32)
    w = rng.standard_normal((6, 2, 3, 2)).astype(np.float32)
    kw = dict(stride=2, padding=1, groups=2)
    g = rng.standard_normal(conv2d(x, w, **kw).shape).astype(np.float32)
    dx, dw, db = conv2d_backward(g, x, w, **kw)
    assert dx.dtype == dw.dtype == db.dtype == np.float32
    _, (tx, tw) = torch_grad(lambda x_, w_: F.conv2d(x_, w_, **kw) * torch.from_numpy(g), x, w)
    assert_close(dx, tx, rtol=1e-5)
    assert_close(dw, tw, rtol=1e-5)
    _, dw64, _ = conv2d_backward(
        g.astype(np.float64), x.astype(np.float64), w.astype(np.float64), **kw
    )
    assert_close(dw, dw64, rtol=1e-5)


def test_medium_size_forward_and_backward_equal_torch(rng):
    # big enough for the batch to be split over threads (when threadpoolctl is installed)
    x = rng.standard_normal((4, 8, 24, 20))
    w = rng.standard_normal((8, 6, 4, 3))
    kw = dict(stride=2, padding=1, output_padding=1)
    y = conv_transpose2d(x, w, **kw)
    r = rng.standard_normal(y.shape)
    ref, refs = torch_grad(
        lambda x_, w_: F.conv_transpose2d(x_, w_, **kw) * torch.from_numpy(r), x, w
    )
    assert_close(y * r, ref, rtol=1e-12)
    dx, dw, _ = conv_transpose2d_backward(r, x, w, **kw)
    assert_close(dx, refs[0], rtol=1e-12)
    assert_close(dw, refs[1], rtol=1e-12)
    wc = rng.standard_normal((8, 6, 4, 3))
    g = rng.standard_normal(conv2d(y, wc, stride=2, padding=1).shape)
    _, refs = torch_grad(
        lambda y_, w_: F.conv2d(y_, w_, stride=2, padding=1) * torch.from_numpy(g), y, wc
    )
    dy, dwc, _ = conv2d_backward(g, y, wc, stride=2, padding=1)
    assert_close(dy, refs[0], rtol=1e-12)
    assert_close(dwc, refs[1], rtol=1e-12)
