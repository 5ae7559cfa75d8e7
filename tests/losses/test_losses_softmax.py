"""Softmax cross-entropy and softmax focal loss: values, gradients, oracles, properties, errors."""

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
    softmax,
    softmax_cross_entropy,
    softmax_cross_entropy_and_grad,
    softmax_cross_entropy_grad,
    softmax_focal_loss,
    softmax_focal_loss_and_grad,
    softmax_focal_loss_grad,
)
from oracle import assert_close, to_torch

REDUCTIONS = ("none", "mean", "sum")
GAMMAS = (0.0, 0.5, 1.0, 2.0, 5.0)


def _problem(rng: np.random.Generator, n: int = 6, c: int = 4) -> tuple[np.ndarray, np.ndarray]:
    return 2.0 * rng.standard_normal((n, c)), rng.integers(0, c, size=n)


def _alphas(c: int) -> list[object]:
    return [None, 0.25, np.linspace(0.5, 2.0, c)]


# --- oracle formulas in torch (float64) -------------------------------------------------------


def _torch_reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


def torch_softmax_focal(logits, targets, gamma, alpha, reduction):
    logpt = F.log_softmax(logits, dim=1).gather(1, targets[:, None])[:, 0]
    loss = -((1 - logpt.exp()) ** gamma) * logpt
    if alpha is not None:
        a = torch.as_tensor(np.asarray(alpha, dtype=np.float64))
        loss = loss * (a[targets] if a.ndim else a)
    return _torch_reduce(loss, reduction)


def _torch_value_and_grad(fn, logits, targets, *args):
    z = to_torch(logits, requires_grad=True)
    out = fn(z, torch.from_numpy(targets), *args)
    out.sum().backward()
    return out.detach().numpy(), z.grad.numpy()


# --- worked examples -----------------------------------------------------------------------


def test_cross_entropy_worked_example() -> None:
    # logits (0, log 3): softmax p = (1/4, 3/4)
    z = np.array([[0.0, math.log(3.0)], [0.0, math.log(3.0)]])
    y = np.array([1, 0])
    loss = softmax_cross_entropy(z, y, reduction="none")
    np.testing.assert_allclose(loss, [-math.log(0.75), math.log(4.0)], rtol=1e-15)
    # d/dz = p - onehot: (1/4, 3/4) - (0, 1) = (1/4, -1/4); (1/4, 3/4) - (1, 0) = (-3/4, 3/4)
    np.testing.assert_allclose(
        softmax_cross_entropy_grad(z, y, "none"), [[0.25, -0.25], [-0.75, 0.75]], rtol=1e-14
    )
    # mean: (0.2877 + 1.3863) / 2, gradient / 2
    assert softmax_cross_entropy(z, y) == pytest.approx((math.log(4 / 3) + math.log(4)) / 2)
    np.testing.assert_allclose(
        softmax_cross_entropy_grad(z, y), [[0.125, -0.125], [-0.375, 0.375]], rtol=1e-14
    )


def test_focal_worked_example() -> None:
    # p_t = 3/4, gamma = 2: (1 - 3/4)^2 * -log(3/4) = 0.0625 * 0.28768 = 0.017980
    z = np.array([[0.0, math.log(3.0)]])
    assert softmax_focal_loss(z, [1], gamma=2.0) == pytest.approx(0.0625 * math.log(4 / 3))
    # weight 1/4 on class 1 (per-class alpha (1, 1/4)): a quarter of it
    assert softmax_focal_loss(z, [1], 2.0, alpha=[1.0, 0.25]) == pytest.approx(
        0.25 * 0.0625 * math.log(4 / 3)
    )
    # gradient: (1-pt)^g (1 - g pt log pt / (1 - pt)) (p - onehot)
    #         = 1/16 (1 - 2 * 3/4 * log(3/4) / (1/4)) (1/4, -1/4)
    w = (1 / 16) * (1 - 2 * 0.75 * math.log(0.75) / 0.25)
    np.testing.assert_allclose(softmax_focal_loss_grad(z, [1], 2.0), [[w / 4, -w / 4]], rtol=1e-14)


# --- finite differences (float64, every reduction and alpha variant, gamma grid) -------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_grad_finite_differences(reduction: str, rng: np.random.Generator) -> None:
    z, y = _problem(rng)

    def f(a: np.ndarray) -> float:
        return float(np.sum(softmax_cross_entropy(a, y, reduction)))

    assert_grad_close(f, softmax_cross_entropy_grad(z, y, reduction), z)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("alpha_index", [0, 1, 2])
def test_focal_grad_finite_differences(
    reduction: str, gamma: float, alpha_index: int, rng: np.random.Generator
) -> None:
    z, y = _problem(rng)
    alpha = _alphas(z.shape[1])[alpha_index]

    def f(a: np.ndarray) -> float:
        return float(np.sum(softmax_focal_loss(a, y, gamma, alpha, reduction)))

    assert_grad_close(f, softmax_focal_loss_grad(z, y, gamma, alpha, reduction), z)


def test_focal_grad_confident_sample(rng: np.random.Generator) -> None:
    # p_t close to 1 (1 - p_t ~ 1e-5) with gamma < 1, where the s^(gamma - 1) of the chain rule
    # is large: the closed form stays accurate
    z = np.array([[12.0, 0.5, -1.0], [0.3, -0.2, 0.1]])
    y = np.array([0, 2])
    for gamma in (0.5, 2.0):

        def f(a: np.ndarray, g: float = gamma) -> float:
            return float(softmax_focal_loss(a, y, g, reduction="sum"))

        assert_grad_close(f, softmax_focal_loss_grad(z, y, gamma, reduction="sum"), z)


# --- torch autograd (float64, < 1e-10) ---------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_matches_torch(reduction: str, rng: np.random.Generator) -> None:
    z, y = _problem(rng, n=9, c=5)
    value, grad = _torch_value_and_grad(
        lambda a, b: F.cross_entropy(a, b, reduction=reduction), z, y
    )
    ours, dz = softmax_cross_entropy_and_grad(z, y, reduction)
    assert_close(ours, value)
    assert_close(dz, grad)
    assert_close(softmax_cross_entropy(z, y, reduction), value)
    assert_close(softmax_cross_entropy_grad(z, y, reduction), grad)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("gamma", GAMMAS)
def test_focal_matches_torch(reduction: str, gamma: float, rng: np.random.Generator) -> None:
    z, y = _problem(rng, n=9, c=5)
    for alpha in _alphas(5):
        value, grad = _torch_value_and_grad(torch_softmax_focal, z, y, gamma, alpha, reduction)
        ours, dz = softmax_focal_loss_and_grad(z, y, gamma, alpha, reduction)
        assert_close(ours, value)
        assert_close(dz, grad)


# --- equivalences and properties ---------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gamma_zero_is_cross_entropy_exactly(
    dtype: type, reduction: str, rng: np.random.Generator
) -> None:
    z, y = _problem(rng, n=7, c=3)
    z = z.astype(dtype)
    np.testing.assert_array_equal(
        softmax_focal_loss(z, y, gamma=0.0, reduction=reduction),
        softmax_cross_entropy(z, y, reduction),
    )
    np.testing.assert_array_equal(
        softmax_focal_loss_grad(z, y, gamma=0.0, reduction=reduction),
        softmax_cross_entropy_grad(z, y, reduction),
    )


def test_scalar_alpha_scales_loss_and_grad(rng: np.random.Generator) -> None:
    z, y = _problem(rng)
    np.testing.assert_allclose(
        softmax_focal_loss(z, y, 2.0, 0.25, "none"),
        0.25 * softmax_focal_loss(z, y, 2.0, None, "none"),
        rtol=1e-15,
    )
    np.testing.assert_allclose(
        softmax_focal_loss_grad(z, y, 2.0, 0.25),
        0.25 * softmax_focal_loss_grad(z, y, 2.0, None),
        rtol=1e-15,
    )


@given(
    hnp.arrays(np.float64, (5, 3), elements=st.floats(-30, 30)),
    hnp.arrays(np.int64, (5,), elements=st.integers(0, 2)),
    st.floats(0, 5),
    st.floats(-50, 50),
)
def test_properties(z: np.ndarray, y: np.ndarray, gamma: float, shift: float) -> None:
    ce = softmax_cross_entropy(z, y, "none")
    fl = softmax_focal_loss(z, y, gamma, reduction="none")
    assert np.all(ce >= 0) and np.all(fl >= 0)
    assert np.all(fl <= ce)  # (1 - p_t)^gamma <= 1
    assert np.all(softmax_focal_loss(z, y, gamma + 1.0, reduction="none") <= fl)  # more focus
    # softmax is invariant to adding a constant to a row; the gradient rows sum to 0
    np.testing.assert_allclose(
        softmax_cross_entropy(z + shift, y, "none"), ce, rtol=1e-12, atol=1e-12
    )
    for g in (softmax_cross_entropy_grad(z, y, "none"), softmax_focal_loss_grad(z, y, gamma)):
        np.testing.assert_allclose(g.sum(axis=1), 0.0, atol=1e-12)
    # the gradient pushes the true logit up
    dz = softmax_focal_loss_grad(z, y, gamma, reduction="none")
    assert np.all(dz[np.arange(5), y] <= 0)


def test_tied_logits() -> None:
    # C equal logits: p = 1/C, CE = log C, gradient (1/C - [j = y])
    z = np.zeros((2, 4))
    y = np.array([0, 3])
    np.testing.assert_allclose(softmax_cross_entropy(z, y, "none"), [math.log(4)] * 2, rtol=1e-15)
    expected = np.full((2, 4), 0.25)
    expected[[0, 1], y] -= 1.0
    np.testing.assert_allclose(softmax_cross_entropy_grad(z, y, "none"), expected, rtol=1e-15)
    # one class: p_t = 1 exactly, CE = 0 and FL = 0 with a zero gradient for every gamma
    for gamma in (0.0, 0.5, 2.0):
        loss, grad = softmax_focal_loss_and_grad(np.array([[3.0]]), [0], gamma, reduction="sum")
        assert loss == 0.0 and np.all(grad == 0.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_logits_are_finite_and_exact(dtype: type) -> None:
    z = np.array([[1e4, -1e4], [1e4, -1e4], [-1e4, 1e4]], dtype=dtype)
    y = np.array([1, 0, 1])
    for gamma in GAMMAS:
        loss, grad = softmax_focal_loss_and_grad(z, y, gamma, reduction="none")
        assert loss.dtype == dtype and grad.dtype == dtype
        assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
        # sample 0: log p_t = -2e4, p_t = 0, FL = CE = 2e4, grad = p - onehot = (1, -1)
        # samples 1, 2: p_t = 1, loss 0, gradient 0
        np.testing.assert_array_equal(loss, np.array([2e4, 0.0, 0.0], dtype=dtype))
        np.testing.assert_array_equal(grad, np.array([[1, -1], [0, 0], [0, 0]], dtype=dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(dtype: type, rng: np.random.Generator) -> None:
    z, y = _problem(rng)
    z = z.astype(dtype)
    for reduction in REDUCTIONS:
        value, grad = softmax_focal_loss_and_grad(z, y, 2.0, np.ones(4), reduction)
        assert np.asarray(value).dtype == dtype and grad.dtype == dtype
        value, grad = softmax_cross_entropy_and_grad(z, y, reduction)
        assert np.asarray(value).dtype == dtype and grad.dtype == dtype
    assert isinstance(softmax_cross_entropy(z, y), dtype)
    # float32 agrees with float64 to float32 precision
    z64 = z.astype(np.float64)
    np.testing.assert_allclose(softmax_focal_loss(z, y, 2.0), softmax_focal_loss(z64, y, 2.0), 1e-5)


def test_integer_logits_promoted() -> None:
    out = softmax_cross_entropy([[0, 0]], [1])
    assert isinstance(out, np.float64) and out == pytest.approx(math.log(2))


def test_empty_batch() -> None:
    z = np.zeros((0, 3), dtype=np.float32)
    y = np.zeros(0, dtype=np.int64)
    value, grad = softmax_focal_loss_and_grad(z, y)
    assert value == 0.0 and isinstance(value, np.float32) and grad.shape == (0, 3)
    assert softmax_cross_entropy(z, y, "sum") == 0.0
    assert softmax_cross_entropy(z, y, "none").shape == (0,)


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"targets": [0, 3]},
            ValueError,
            r"targets must be class indices in \[0, 2\].*got values in \[0, 3\]",
        ),
        ({"targets": [-1, 0]}, ValueError, r"targets must be class indices"),
        ({"targets": [0, 1, 2]}, ValueError, r"targets must have shape \(N\) with N = 2"),
        ({"targets": [0.5, 1.0]}, ValueError, r"targets must hold whole numbers"),
        ({"logits": [[0.0, np.nan, 1.0], [0, 0, 0]]}, ValueError, r"logits must be finite.*nan"),
        ({"logits": [[0.0, np.inf, 1.0], [0, 0, 0]]}, ValueError, r"logits must be finite"),
        ({"logits": [0.0, 1.0]}, ValueError, r"logits must have shape \(N, C\)"),
        ({"logits": np.zeros((2, 0))}, ValueError, r"C >= 1"),
        ({"logits": [["a", "b"]]}, TypeError, r"logits must be a real numeric array"),
        ({"gamma": -0.5}, ValueError, r"gamma must be >= 0.*-0.5"),
        ({"gamma": np.nan}, ValueError, r"gamma must be a finite number"),
        ({"gamma": "2"}, TypeError, r"gamma must be a real number"),
        ({"alpha": -0.1}, ValueError, r"alpha must be >= 0"),
        ({"alpha": [1.0, 2.0]}, ValueError, r"alpha must have shape \(C\) with C = 3"),
        ({"alpha": [1.0, -2.0, 1.0]}, ValueError, r"alpha must hold finite per-class weights >= 0"),
        (
            {"reduction": "normalized"},
            ValueError,
            r"reduction must be one of 'none', 'mean', 'sum'",
        ),
        ({"reduction": "avg"}, ValueError, r"got 'avg'"),
    ],
)
def test_bad_input(kwargs: dict, error: type, match: str) -> None:
    args = {"logits": np.zeros((2, 3)), "targets": [0, 2], "gamma": 2.0, "alpha": None}
    args.update(kwargs)
    for fn in (softmax_focal_loss, softmax_focal_loss_grad, softmax_focal_loss_and_grad):
        with pytest.raises(error, match=match):
            fn(**args)
    if "gamma" not in kwargs and "alpha" not in kwargs:
        del args["gamma"], args["alpha"]
        for fn in (softmax_cross_entropy, softmax_cross_entropy_grad):
            with pytest.raises(error, match=match):
                fn(**args)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_small_blocks_of_rows(
    reduction: str, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # blocks of 2 rows (and a last block of 1): same values and gradients as torch
    monkeypatch.setattr(softmax, "BLOCK_BYTES", 2 * 4 * 8)
    z, y = _problem(rng, n=7, c=4)
    for gamma, alpha in ((0.0, None), (2.0, np.linspace(0.5, 2.0, 4))):
        value, grad = _torch_value_and_grad(torch_softmax_focal, z, y, gamma, alpha, reduction)
        assert_close(softmax_focal_loss(z, y, gamma, alpha, reduction), value)
        assert_close(softmax_focal_loss_grad(z, y, gamma, alpha, reduction), grad)


@settings(max_examples=25)
@given(
    hnp.arrays(np.float64, (3, 4), elements=st.floats(-12, 12)),
    hnp.arrays(np.int64, (3,), elements=st.integers(0, 3)),
    st.floats(0, 5),
    st.sampled_from([None, 0.5, (0.25, 1.0, 2.0, 0.5)]),
    st.sampled_from(REDUCTIONS),
)
def test_grad_finite_differences_property(
    z: np.ndarray, y: np.ndarray, gamma: float, alpha: object, reduction: str
) -> None:
    def f(a: np.ndarray) -> float:
        return float(np.sum(softmax_focal_loss(a, y, gamma, alpha, reduction)))

    assert_grad_close(f, softmax_focal_loss_grad(z, y, gamma, alpha, reduction), z)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_block_shift_and_row_shift_agree(dtype: type, rng: np.random.Generator) -> None:
    # narrow logits share one log-sum-exp shift (the block's max); a far-away row in the same
    # block makes every row use its own max; both give the same losses and gradients
    z, y = rng.uniform(-3.0, 3.0, size=(5, 4)), rng.integers(0, 4, size=5)
    z[0] += 12.0  # range <= 18: one shift; rows 1.. compute exp(z - m) ~ e^-12
    z = z.astype(dtype)
    alone = softmax_focal_loss_and_grad(z, y, 2.0, reduction="none")
    far = np.full((1, 4), -1e4, dtype=dtype)
    assert np.ndim(softmax._shift(z)) == 0  # one scalar shift
    assert np.shape(softmax._shift(np.vstack([z, far]))) == (6, 1)  # a shift per row
    together = softmax_focal_loss_and_grad(
        np.vstack([z, far]), np.append(y, 0), 2.0, reduction="none"
    )
    rtol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(together[0][:5], alone[0], rtol=rtol)
    np.testing.assert_allclose(together[1][:5], alone[1], rtol=rtol, atol=1e-30)
    # and both agree with float64 torch on the same (float32-representable) inputs
    z64 = z.astype(np.float64)
    value, grad = _torch_value_and_grad(torch_softmax_focal, z64, y, 2.0, None, "none")
    np.testing.assert_allclose(alone[0], value, rtol=10 * rtol)
    np.testing.assert_allclose(
        alone[1], grad, rtol=10 * rtol, atol=1e-7 if dtype == np.float32 else 0
    )
