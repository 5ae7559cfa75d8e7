"""Sigmoid focal loss: worked examples, the paper's statements and appendix gradient, finite
differences, torchvision's formula in torch autograd, properties, extreme logits, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from handgrad.gradcheck import assert_grad_close
from handgrad.losses import (
    sigmoid_focal,
    sigmoid_focal_loss,
    sigmoid_focal_loss_and_grad,
    sigmoid_focal_loss_grad,
)
from oracle import assert_close, to_torch

REDUCTIONS = ("none", "mean", "sum", "normalized")
GAMMAS = (0.0, 0.5, 1.0, 2.0, 5.0)
ALPHAS = (0.25, -1.0, 0.0, 1.0, 0.6)


def _logits(rng: np.random.Generator, shape: tuple[int, ...] = (5, 3)) -> np.ndarray:
    return 2.5 * rng.standard_normal(shape)


def _binary(rng: np.random.Generator, shape: tuple[int, ...] = (5, 3)) -> np.ndarray:
    t = (rng.random(shape) < 0.3).astype(np.float64)
    t.flat[0], t.flat[1] = 1.0, 0.0  # both classes present
    return t


def _soft(rng: np.random.Generator, shape: tuple[int, ...] = (5, 3)) -> np.ndarray:
    t = rng.random(shape)
    t.flat[0], t.flat[1] = 1.0, 0.0  # endpoints mixed in
    return t


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


# --- torchvision's sigmoid_focal_loss, re-expressed in torch ops (torchvision is not used) ---


def torchvision_sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    p = torch.sigmoid(inputs)
    ce_loss = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    if reduction == "mean":
        loss = loss.mean()
    elif reduction == "sum":
        loss = loss.sum()
    elif reduction == "normalized":  # RetinaNet: sum / max(1, number of positives)
        loss = loss.sum() / max(1.0, float(targets.sum()))
    return loss


def _torch_value_and_grad(x, t, alpha, gamma, reduction):
    xt = to_torch(x, requires_grad=True)
    out = torchvision_sigmoid_focal_loss(xt, to_torch(t), alpha, gamma, reduction)
    out.sum().backward()
    return out.detach().numpy(), xt.grad.numpy()


# --- worked examples -----------------------------------------------------------------------


def test_worked_example() -> None:
    # x = 0: p = 1/2, CE = log 2 for either target, 1 - p_t = 1/2
    # t = 1: alpha_t = 0.25 -> 0.25 * (1/2)^2 * log 2 = 0.0433217
    # t = 0: alpha_t = 0.75 -> 0.75 * (1/2)^2 * log 2 = 0.1299651
    loss = sigmoid_focal_loss([0.0, 0.0], [1.0, 0.0])
    np.testing.assert_allclose(loss, [0.0625 * math.log(2), 0.1875 * math.log(2)], rtol=1e-15)
    # gradient at x = 0, t = 1: a_t s^g [g (1 - 2t) rho CE + p - t]
    #   = 0.25 * 1/4 * [2 * (-1) * (1/4) / (1/2) * log 2 + 1/2 - 1] = 1/16 (-log 2 - 1/2)
    # t = 0: 0.75 * 1/4 * [2 * 1 * (1/2) * log 2 + 1/2] = 3/16 (log 2 + 1/2)
    np.testing.assert_allclose(
        sigmoid_focal_loss_grad([0.0, 0.0], [1.0, 0.0]),
        [(-math.log(2) - 0.5) / 16, 3 * (math.log(2) + 0.5) / 16],
        rtol=1e-15,
    )
    # soft target t = 1/2 at x = 0: 1 - p_t = 1/2, CE = log 2, alpha_t = 1/2
    assert sigmoid_focal_loss(0.0, 0.5) == pytest.approx(0.5 * 0.25 * math.log(2), rel=1e-15)
    # reductions: (0.0433 + 0.1300) -> sum 0.1733, mean 0.0866, normalized by max(1, 1 positive)
    total = 0.25 * math.log(2)
    assert sigmoid_focal_loss([0.0, 0.0], [1.0, 0.0], reduction="sum") == pytest.approx(total)
    assert sigmoid_focal_loss([0.0, 0.0], [1.0, 0.0], reduction="mean") == pytest.approx(total / 2)
    assert sigmoid_focal_loss([0.0, 0.0], [1.0, 0.0], reduction="normalized") == pytest.approx(
        total
    )


def test_normalized_divides_by_number_of_positives(rng: np.random.Generator) -> None:
    x = _logits(rng, (8, 4))
    t = np.zeros((8, 4))
    t[[0, 3, 5], [1, 2, 0]] = 1.0  # 3 positive anchors
    total = sigmoid_focal_loss(x, t, reduction="sum")
    assert sigmoid_focal_loss(x, t, reduction="normalized") == pytest.approx(total / 3, rel=1e-15)
    np.testing.assert_allclose(
        sigmoid_focal_loss_grad(x, t, reduction="normalized"),
        sigmoid_focal_loss_grad(x, t, reduction="sum") / 3,
        rtol=1e-15,
    )
    # no positive at all: divided by max(1, 0) = 1, i.e. the sum
    zeros = np.zeros_like(t)
    assert sigmoid_focal_loss(x, zeros, reduction="normalized") == sigmoid_focal_loss(
        x, zeros, reduction="sum"
    )


# --- the paper's statements (Lin et al. 2017, section 3.2 and appendix) ------------------------


def _fl_over_ce(p_t: float, gamma: float = 2.0) -> float:
    x = math.log(p_t) - math.log1p(-p_t)  # logit of p_t, target 1: p_t = sigmoid(x)
    fl = sigmoid_focal_loss(x, 1.0, alpha=-1.0, gamma=gamma)
    ce = sigmoid_focal_loss(x, 1.0, alpha=-1.0, gamma=0.0)
    return float(ce / fl)


def test_paper_statements() -> None:
    # "with gamma = 2, an example classified with p_t = 0.9 would have 100x lower loss than with
    # CE and with p_t ~ 0.968 it would have 1000x lower loss": (1 - p_t)^-2 = 100, 0.032^-2 = 977
    assert _fl_over_ce(0.9) == pytest.approx(100.0, rel=1e-12)
    assert _fl_over_ce(0.968) == pytest.approx(1000.0, rel=0.03)
    assert _fl_over_ce(1 - 1 / math.sqrt(1000)) == pytest.approx(1000.0, rel=1e-10)
    # "... increases the importance of correcting misclassified examples (whose loss is scaled
    # down by at most 4x for p_t <= .5 and gamma = 2)"
    ratios = [_fl_over_ce(p) for p in np.linspace(0.01, 0.5, 50)]
    assert max(ratios) == pytest.approx(4.0, rel=1e-12)  # attained at p_t = 0.5
    assert min(ratios) >= 1.0


@pytest.mark.parametrize("gamma", GAMMAS)
def test_appendix_gradient(gamma: float, rng: np.random.Generator) -> None:
    # dFL/dx = y (1 - p_t)^gamma (gamma p_t log(p_t) + p_t - 1), y in {-1, +1}, p_t = sigmoid(y x)
    x = np.concatenate([_logits(rng, (12,)), [0.0, 8.0, -8.0, 30.0, -30.0]])
    y = np.where(rng.random(x.shape) < 0.5, -1.0, 1.0)
    p_t = 1.0 / (1.0 + np.exp(-y * x))
    one_m_pt = 1.0 / (1.0 + np.exp(y * x))  # 1 - p_t without cancellation (x = +-30 included)
    log_pt = -np.log1p(np.exp(-y * x))
    expected = y * one_m_pt**gamma * (gamma * p_t * log_pt - one_m_pt)  # p_t - 1 = -(1 - p_t)
    ours = sigmoid_focal_loss_grad(x, (y + 1) / 2, alpha=-1.0, gamma=gamma)
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-300)


# --- finite differences (float64) --------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("soft", [False, True])
def test_grad_finite_differences(
    reduction: str, gamma: float, soft: bool, rng: np.random.Generator
) -> None:
    x = _logits(rng)
    t = _soft(rng) if soft else _binary(rng)
    for alpha in ALPHAS:

        def f(a: np.ndarray, alpha: float = alpha) -> float:
            return float(np.sum(sigmoid_focal_loss(a, t, alpha, gamma, reduction)))

        assert_grad_close(f, sigmoid_focal_loss_grad(x, t, alpha, gamma, reduction), x)


# --- torch autograd on torchvision's formula (float64, < 1e-10) -------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("soft", [False, True])
def test_matches_torchvision_formula(
    reduction: str, gamma: float, soft: bool, rng: np.random.Generator
) -> None:
    x = _logits(rng, (20, 6))
    t = _soft(rng, (20, 6)) if soft else _binary(rng, (20, 6))
    for alpha in ALPHAS:
        value, grad = _torch_value_and_grad(x, t, alpha, gamma, reduction)
        ours, dx = sigmoid_focal_loss_and_grad(x, t, alpha, gamma, reduction)
        assert_close(ours, value)
        assert_close(dx, grad)
        assert_close(sigmoid_focal_loss(x, t, alpha, gamma, reduction), value)
        assert_close(sigmoid_focal_loss_grad(x, t, alpha, gamma, reduction), grad)


# --- equivalences and properties ---------------------------------------------------------------


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("alpha", ALPHAS)
def test_binary_and_soft_kernels_agree(
    gamma: float, alpha: float, rng: np.random.Generator
) -> None:
    # the binary fast path (v = (1 - 2t) x) and the general soft-target path compute the same thing
    x = np.concatenate([_logits(rng, (30,)), [0.0, 40.0, -40.0, 1e4, -1e4]])
    t = (rng.random(x.shape) < 0.5).astype(np.float64)
    out = {}
    for binary in (True, False):
        loss = np.empty_like(x)
        total, grad = sigmoid_focal.sigmoid_focal_blocks(
            x, t, alpha, gamma, binary=binary, loss_out=loss, scale=0.5
        )
        assert total == pytest.approx(loss.sum(), rel=1e-14)
        out[binary] = (loss, grad)
    np.testing.assert_allclose(out[True][0], out[False][0], rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(out[True][1], out[False][1], rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_small_blocks_mixed_binary_and_soft(
    dtype: type, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # blocks of 3 elements: block boundaries, a short last block, binary and soft blocks mixed
    monkeypatch.setattr(sigmoid_focal, "BLOCK_BYTES", 3 * np.dtype(dtype).itemsize)
    x = _logits(rng, (4, 5))
    t = _binary(rng, (4, 5))
    t[1, 2], t[3, 4] = 0.3, 0.9  # two soft blocks among binary ones
    x = x.astype(dtype)
    for reduction in REDUCTIONS:
        value, grad = _torch_value_and_grad(x.astype(np.float64), t, 0.25, 2.0, reduction)
        ours, dx = sigmoid_focal_loss_and_grad(x, t, 0.25, 2.0, reduction)
        assert np.asarray(ours).dtype == dtype and dx.dtype == dtype
        rtol = 1e-10 if dtype == np.float64 else 1e-6
        assert_close(ours, value, rtol=rtol)
        assert_close(dx, grad, rtol=rtol)
    if dtype == np.float64:

        def f(a: np.ndarray) -> float:
            return float(sigmoid_focal_loss(a, t, 0.25, 0.5, "mean"))

        assert_grad_close(f, sigmoid_focal_loss_grad(x, t, 0.25, 0.5, "mean"), x)


def test_non_contiguous_input(rng: np.random.Generator) -> None:
    x = _logits(rng, (6, 8))
    t = _soft(rng, (6, 8))
    ref = sigmoid_focal_loss_and_grad(np.ascontiguousarray(x.T), np.ascontiguousarray(t.T))
    got = sigmoid_focal_loss_and_grad(x.T, t.T)
    np.testing.assert_array_equal(got[0], ref[0])
    np.testing.assert_array_equal(got[1], ref[1])


def test_target_dtypes_agree(rng: np.random.Generator) -> None:
    x = _logits(rng)
    t = _binary(rng)
    ref = sigmoid_focal_loss_and_grad(x, t, reduction="mean")
    for t_other in (t.astype(bool), t.astype(np.int64), t.astype(np.float32)):
        got = sigmoid_focal_loss_and_grad(x, t_other, reduction="mean")
        assert got[0] == ref[0]
        np.testing.assert_array_equal(got[1], ref[1])


def test_gamma_zero_is_weighted_bce(rng: np.random.Generator) -> None:
    x = _logits(rng)
    t = _soft(rng)
    bce = np.logaddexp(0.0, x) - t * x
    np.testing.assert_allclose(sigmoid_focal_loss(x, t, -1.0, 0.0), bce, rtol=1e-14)
    np.testing.assert_allclose(
        sigmoid_focal_loss_grad(x, t, -1.0, 0.0), _sigmoid(x) - t, rtol=1e-13
    )
    a_t = 0.25 * t + 0.75 * (1 - t)
    np.testing.assert_allclose(sigmoid_focal_loss(x, t, 0.25, 0.0), a_t * bce, rtol=1e-14)


@given(
    hnp.arrays(np.float64, (6,), elements=st.floats(-40, 40)),
    hnp.arrays(np.float64, (6,), elements=st.floats(0, 1)),
    st.floats(0, 1),
    st.floats(0, 5),
)
def test_properties(x: np.ndarray, t: np.ndarray, alpha: float, gamma: float) -> None:
    fl = sigmoid_focal_loss(x, t, alpha, gamma)
    bce = sigmoid_focal_loss(x, t, alpha, 0.0)
    assert np.all(fl >= 0) and np.all(fl <= bce * (1 + 1e-12))  # (1 - p_t)^gamma <= 1
    # relabelling symmetry: swapping the classes (x -> -x, t -> 1 - t, alpha -> 1 - alpha)
    np.testing.assert_allclose(
        sigmoid_focal_loss(-x, 1 - t, 1 - alpha, gamma), fl, rtol=1e-9, atol=1e-12
    )
    g = sigmoid_focal_loss_grad(x, t, alpha, gamma)
    g_swapped = sigmoid_focal_loss_grad(-x, 1 - t, 1 - alpha, gamma)
    np.testing.assert_allclose(-g_swapped, g, rtol=1e-9, atol=1e-12)
    # binary targets: the gradient pushes the logit towards the label
    tb = (t > 0.5).astype(np.float64)
    gb = sigmoid_focal_loss_grad(x, tb, alpha, gamma)
    assert np.all(gb[tb == 1] <= 0) and np.all(gb[tb == 0] >= 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("gamma", GAMMAS)
def test_extreme_logits(dtype: type, gamma: float) -> None:
    x = np.array([1e4, -1e4, 1e4, -1e4, 1e4, -1e4], dtype=dtype)
    t = np.array([0.0, 1.0, 1.0, 0.0, 0.5, 0.5])
    loss, grad = sigmoid_focal_loss_and_grad(x, t, alpha=0.25, gamma=gamma)
    assert loss.dtype == dtype and grad.dtype == dtype
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
    # wrong and certain: p_t = 0, FL = alpha_t * |x|, gradient alpha_t * (p - t)
    # right and certain: FL = 0 and gradient 0 (gamma = 0 too: CE = 0 and p - t = 0)
    # t = 1/2: 1 - p_t = 1/2, CE = softplus(x) - x/2 = 5000, alpha_t = 1/2
    half = 0.5**gamma
    np.testing.assert_array_equal(
        loss, np.array([7500, 2500, 0, 0, 2500 * half, 2500 * half], dtype=dtype)
    )
    # gradient of the t = 1/2 entries: a_t s^g [g (1 - 2t) rho CE + p - t] = 0.5 * half * (+-0.5)
    np.testing.assert_array_equal(
        grad, np.array([0.75, -0.25, 0, 0, 0.25 * half, -0.25 * half], dtype=dtype)
    )


@pytest.mark.parametrize("gamma", [0.25, 0.5])
def test_gamma_below_one_where_s_underflows(gamma: float) -> None:
    # 1 - p_t underflows to 0 (x = 800, t = 1): the chain rule's s^(gamma - 1) would be inf; the
    # gradient's limit is 0 and stays finite, also on the soft path (t = 1 - 1e-300 ~ 1)
    for t in (1.0, 0.999):
        loss, grad = sigmoid_focal_loss_and_grad(np.array([800.0, -800.0]), [t, 1 - t], gamma=gamma)
        assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
    loss, grad = sigmoid_focal_loss_and_grad(np.array([800.0, -800.0]), [1.0, 0.0], gamma=gamma)
    np.testing.assert_array_equal(loss, [0.0, 0.0])
    np.testing.assert_array_equal(grad, [0.0, 0.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(dtype: type, rng: np.random.Generator) -> None:
    x = _logits(rng).astype(dtype)
    t = _soft(rng)  # float64 targets do not promote float32 logits
    for reduction in REDUCTIONS:
        value, grad = sigmoid_focal_loss_and_grad(x, t, reduction=reduction)
        assert np.asarray(value).dtype == dtype and grad.dtype == dtype
    assert isinstance(sigmoid_focal_loss(x, t, reduction="sum"), dtype)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(
        sigmoid_focal_loss_grad(x, t), sigmoid_focal_loss_grad(x64, t), rtol=2e-5, atol=1e-6
    )


def test_empty_and_scalar_inputs() -> None:
    value, grad = sigmoid_focal_loss_and_grad(
        np.zeros((0, 80), np.float32), np.zeros((0, 80)), reduction="mean"
    )
    assert value == 0.0 and isinstance(value, np.float32) and grad.shape == (0, 80)
    assert sigmoid_focal_loss(np.zeros(0), np.zeros(0), reduction="normalized") == 0.0
    out = sigmoid_focal_loss(2.0, 1.0, alpha=-1.0, gamma=0.0)  # 0-d: softplus(-2)
    assert out.shape == () and float(out) == pytest.approx(math.log1p(math.exp(-2.0)), rel=1e-15)


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"targets": [0.0, 1.5]},
            ValueError,
            r"targets must be in \[0, 1\].*got values in \[0.0, 1.5\]",
        ),
        ({"targets": [-1, 0]}, ValueError, r"targets must be in \[0, 1\]"),
        ({"targets": [0.0, np.nan]}, ValueError, r"targets must be in \[0, 1\].*nan"),
        ({"targets": [0.0, 1.0, 1.0]}, ValueError, r"logits and targets must have the same shape"),
        ({"targets": ["a", "b"]}, TypeError, r"targets must be a real numeric array"),
        ({"logits": [np.nan, 0.0]}, ValueError, r"logits must be finite.*nan at index \(0,\)"),
        ({"logits": [0.0, -np.inf]}, ValueError, r"logits must be finite"),
        ({"gamma": -1.0}, ValueError, r"gamma must be >= 0"),
        ({"gamma": None}, TypeError, r"gamma must be a real number"),
        ({"alpha": 1.5}, ValueError, r"alpha must be in \[0, 1\] \(or < 0"),
        ({"alpha": np.nan}, ValueError, r"alpha must be a finite number"),
        ({"alpha": [0.25, 0.5]}, TypeError, r"alpha must be a real number"),
        (
            {"reduction": "batchmean"},
            ValueError,
            r"reduction must be one of 'none', 'mean', 'sum', 'normalized'",
        ),
    ],
)
def test_bad_input(kwargs: dict, error: type, match: str) -> None:
    args = {"logits": [0.5, -0.5], "targets": [0.0, 1.0], "alpha": 0.25, "gamma": 2.0}
    args.update(kwargs)
    for fn in (sigmoid_focal_loss, sigmoid_focal_loss_grad, sigmoid_focal_loss_and_grad):
        with pytest.raises(error, match=match):
            fn(**args)


def test_several_default_blocks_match_torch(rng: np.random.Generator) -> None:
    # more elements than one default block (float64: 32768 per block), ragged last block,
    # binary rows and soft rows mixed; float32 agrees with float64 to float32 rounding
    x = _logits(rng, (701, 97))
    t = (rng.random((701, 97)) < 0.02).astype(np.float64)
    t[350:360] = rng.random((10, 97))  # a soft stretch in the middle block
    for reduction in ("none", "normalized"):
        value, grad = _torch_value_and_grad(x, t, 0.25, 2.0, reduction)
        ours, dx = sigmoid_focal_loss_and_grad(x, t, 0.25, 2.0, reduction)
        assert_close(ours, value)
        assert_close(dx, grad)
        ours32, dx32 = sigmoid_focal_loss_and_grad(x.astype(np.float32), t, 0.25, 2.0, reduction)
        # float32 rounding only (torch's own float32 result is 1e-7 to 1e-6 away)
        assert_close(ours32, value, rtol=1e-6)
        assert_close(dx32, grad, rtol=1e-6)


def test_list_input() -> None:
    loss = sigmoid_focal_loss([[0, 0], [0, 0]], [[1, 0], [0, 1]], reduction="sum")
    # 2 * (0.0433 + 0.1300): x = 0 for every entry, two positives and two negatives
    assert loss == pytest.approx(2 * 0.25 * math.log(2)) and isinstance(loss, np.float64)


@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_float32_elementwise_relative_precision(gamma: float) -> None:
    # no cancellation: each float32 loss (and binary-target gradient) element keeps ~float32
    # relative precision, also where it is tiny (x = 15, t = 1: FL ~ 0.25 e^{-45} = 7e-21)
    x = np.linspace(-15.0, 15.0, 301).astype(np.float32).astype(np.float64)  # same inputs
    for t in (np.ones_like(x), np.zeros_like(x), np.full_like(x, 0.3)):
        loss64, grad64 = sigmoid_focal_loss_and_grad(x, t, 0.25, gamma)
        loss32, grad32 = sigmoid_focal_loss_and_grad(x.astype(np.float32), t, 0.25, gamma)
        np.testing.assert_allclose(loss32, loss64, rtol=2e-6)
        if t[0] != 0.3:  # soft targets: p - t cancels where the gradient crosses 0
            np.testing.assert_allclose(grad32, grad64, rtol=2e-6)


@settings(max_examples=25)
@given(
    hnp.arrays(np.float64, (2, 3), elements=st.floats(-12, 12)),
    hnp.arrays(np.float64, (2, 3), elements=st.sampled_from([0.0, 1.0, 0.2, 0.75])),
    st.sampled_from([-1.0, 0.0, 0.25, 1.0]),
    st.floats(0, 5),
    st.sampled_from(REDUCTIONS),
)
def test_grad_finite_differences_property(
    x: np.ndarray, t: np.ndarray, alpha: float, gamma: float, reduction: str
) -> None:
    def f(a: np.ndarray) -> float:
        return float(np.sum(sigmoid_focal_loss(a, t, alpha, gamma, reduction)))

    assert_grad_close(f, sigmoid_focal_loss_grad(x, t, alpha, gamma, reduction), x)


@pytest.mark.parametrize("gamma", [9.0, 7.5])
def test_large_gamma_and_any_shape_match_torch(gamma: float, rng: np.random.Generator) -> None:
    # gamma above the repeated-product range (pow) and 3-D logits (batch, anchors, classes)
    x = _logits(rng, (2, 5, 3))
    t = _soft(rng, (2, 5, 3))
    t[0] = (t[0] > 0.5).astype(np.float64)  # one binary image, one soft
    for reduction in ("none", "sum"):
        value, grad = _torch_value_and_grad(x, t, 0.25, gamma, reduction)
        ours, dx = sigmoid_focal_loss_and_grad(x, t, 0.25, gamma, reduction)
        assert dx.shape == (2, 5, 3)
        assert_close(ours, value)
        assert_close(dx, grad)
