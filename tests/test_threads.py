"""Work split over threads (handgrad._parallel).

The loss kernels split equal the serial result and torch's; a split inside a part, a forked
child and BLAS limited to one thread are handled.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import handgrad._parallel as parallel
import handgrad.losses.sigmoid_focal as sigmoid_kernels
import handgrad.losses.softmax as softmax_kernels
from handgrad.losses import sigmoid_focal_loss_and_grad, softmax_focal_loss_and_grad
from oracle import EPS64, SAFETY, assert_close, rounding_rtol


def _both_ways(monkeypatch, fn):
    """``fn()`` serially, then split into up to 3 parts of several small blocks each."""
    pytest.importorskip("threadpoolctl")
    monkeypatch.setattr(parallel, "_PARALLEL_MIN_ELEMENTS", 1 << 62)
    serial = fn()
    calls = []
    original = parallel.run_parallel

    def spy(tasks):
        calls.append(len(tasks))
        return original(tasks)

    monkeypatch.setattr(parallel, "_PARALLEL_MIN_ELEMENTS", 0)
    monkeypatch.setattr(parallel, "max_workers", lambda: 3)
    monkeypatch.setattr(parallel, "run_parallel", spy)
    monkeypatch.setattr(sigmoid_kernels, "BLOCK_BYTES", 64)  # 8 float64 per block
    monkeypatch.setattr(softmax_kernels, "BLOCK_BYTES", 64 * 7)  # 8 rows of 7 classes
    split = fn()
    assert calls == [3]
    return serial, split


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("soft", [False, True])
def test_sigmoid_focal_split_equals_serial_and_torch(rng, monkeypatch, reduction, soft):
    x = 4 * rng.standard_normal((13, 5))  # 65 elements: parts of 22, 22, 21; blocks of 8
    t = rng.uniform(size=x.shape) if soft else rng.integers(0, 2, x.shape).astype(float)
    serial, split = _both_ways(
        monkeypatch, lambda: sigmoid_focal_loss_and_grad(x, t, 0.25, 2.0, reduction)
    )
    # elementwise values agree exactly; a reduction sums 65 non-negative terms in another order
    for a, b in zip(split, serial, strict=True):
        assert_close(a, b, rtol=rounding_rtol(x.size))
    xt = torch.tensor(x, requires_grad=True)
    p = torch.sigmoid(xt)
    tt = torch.tensor(t)
    ce = F.binary_cross_entropy_with_logits(xt, tt, reduction="none")
    p_t = p * tt + (1 - p) * (1 - tt)
    loss = (0.25 * tt + 0.75 * (1 - tt)) * ce * (1 - p_t) ** 2
    loss = {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]
    (dx,) = torch.autograd.grad(loss, xt, torch.ones_like(loss))
    assert_close(split[0], loss.detach().numpy())
    assert_close(split[1], dx.numpy())


@pytest.mark.parametrize("gamma", [0.0, 2.0])
def test_softmax_focal_split_equals_serial_and_torch(rng, monkeypatch, gamma):
    z = 3 * rng.standard_normal((29, 7))  # parts of 10, 10, 9 rows; blocks of 8 rows
    z[5] += 200  # a row far above the others: its block shifts row by row
    y = rng.integers(0, 7, 29)
    serial, split = _both_ways(
        monkeypatch, lambda: softmax_focal_loss_and_grad(z, y, gamma, reduction="sum")
    )
    # the split moves block boundaries, so a row may be shifted by another block's maximum:
    # rounding z - m costs EPS64 |z - m| <= EPS64 (max z - min z) in each exponent; the sum
    # adds 29 non-negative row losses in another order
    rtol = SAFETY * EPS64 * float(z.max() - z.min()) + rounding_rtol(len(y))
    for a, b in zip(split, serial, strict=True):
        assert_close(a, b, rtol=rtol)
    zt = torch.tensor(z, requires_grad=True)
    logp = F.log_softmax(zt, dim=1)[torch.arange(29), torch.tensor(y)]
    loss = (-((1 - logp.exp()) ** gamma) * logp).sum()
    (dz,) = torch.autograd.grad(loss, zt)
    assert_close(split[0], loss.item(), rtol=1e-12)
    assert_close(split[1], dz.numpy(), rtol=1e-12)


def test_a_split_inside_a_part_runs_serially(monkeypatch):
    # a part of a parallel region asking for a split of its own gets one part, and its tasks run
    # in its own thread: no second region, no waiting on the lock the first one holds
    pytest.importorskip("threadpoolctl")
    import threading

    monkeypatch.setattr(parallel, "_PARALLEL_MIN_ELEMENTS", 0)
    monkeypatch.setattr(parallel, "max_workers", lambda: 2)
    seen = []

    def inner(part: slice) -> None:
        seen.append((part, threading.get_ident()))

    def outer(part: slice) -> int:
        me = threading.get_ident()
        assert parallel.batch_parts(6, 1) == [slice(0, 6)]
        parallel.run_parallel([lambda: inner(slice(0, 1)), lambda: inner(slice(1, 2))])
        assert [tid for _, tid in seen if tid == me] == [me, me]
        return part.stop - part.start

    assert parallel.run_split(4, 1, outer) == [2, 2]
    assert len(seen) == 4
    assert parallel.batch_parts(6, 1) == [slice(0, 3), slice(3, 6)]  # outside again: split


def test_blas_limited_to_one_thread_keeps_everything_serial(monkeypatch):
    # the README's advice: threadpool_limits(1) turns every split into one part
    threadpoolctl = pytest.importorskip("threadpoolctl")
    monkeypatch.setattr(parallel, "_PARALLEL_MIN_ELEMENTS", 0)
    with threadpoolctl.threadpool_limits(1):
        assert parallel.max_workers() == 1
        assert parallel.batch_parts(100, 1 << 20) == [slice(0, 100)]


def _split_sum(_: int) -> float:
    values = np.arange(1000.0)
    return float(sum(parallel.run_split(1000, 1, lambda part: values[part].sum())))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_splits_with_threads_of_its_own(monkeypatch):
    # the parent's pool threads do not exist in a forked child: the child must not wait on them
    pytest.importorskip("threadpoolctl")
    import multiprocessing

    monkeypatch.setattr(parallel, "_PARALLEL_MIN_ELEMENTS", 0)
    monkeypatch.setattr(parallel, "max_workers", lambda: 2)
    assert _split_sum(0) == 499500.0  # the parent's pool exists now
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.map_async(_split_sum, [0]).get(timeout=60) == [499500.0]


def test_blas_is_found_when_the_module_is_used_before_numpy():
    # in a fresh interpreter that imported nothing else, the first question must still see
    # NumPy's BLAS (the answer is kept for the life of the process)
    import subprocess
    import sys

    code = "import handgrad._parallel as p; print(p._blas_threads() is not None)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(parallel._blas_threads() is not None) == "True"
