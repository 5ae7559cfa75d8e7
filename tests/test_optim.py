"""Optimizers follow torch.optim's trajectories step for step; clipping equals torch.nn.utils."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from handgrad.nn.language_model import LanguageModel
from handgrad.optim import SGD, Adagrad, Adam, AdamW, clip_grad_norm, clip_grad_value
from oracle import NoisyOptimizer, assert_close, trajectory_rtol

CONFIGS = [
    (SGD, torch.optim.SGD, {"lr": 0.05}),
    (SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9}),
    (SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}),
    (SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.1}),
    (Adagrad, torch.optim.Adagrad, {"lr": 0.3}),
    (
        Adagrad,
        torch.optim.Adagrad,
        {"lr": 0.3, "lr_decay": 0.01, "weight_decay": 0.05, "initial_accumulator_value": 0.1},
    ),
    (Adam, torch.optim.Adam, {"lr": 0.05}),
    (
        Adam,
        torch.optim.Adam,
        {"lr": 0.05, "betas": (0.8, 0.99), "weight_decay": 0.1, "amsgrad": True},
    ),
    (Adam, torch.optim.Adam, {"lr": 0.05, "betas": (0.3, 0.9)}),  # 1 - beta1 >= 0.5: other lerp
    (AdamW, torch.optim.AdamW, {"lr": 0.05}),
    (AdamW, torch.optim.AdamW, {"lr": 0.05, "weight_decay": 0.3, "amsgrad": True}),
]
IDS = [f"{c[0].__name__}-{i}" for i, c in enumerate(CONFIGS)]
# Steps of the quadratic's trajectory compared with torch. Adam with betas (0.3, 0.9) takes a
# large share of each gradient while its v shrinks, so late in the run every step multiplies a
# perturbation by more than 1: the derived bound (trajectory_rtol) is ~4e-13 after 30 steps and
# ~1e-8 after 60. It is compared over 30, where a wrong gradient still stands out by 1e6.
TRAJECTORY_STEPS = {i: 30 if c[2].get("betas") == (0.3, 0.9) else 60 for i, c in enumerate(CONFIGS)}


def quadratic(rng, n=6):
    M = rng.standard_normal((n, n))
    A = M @ M.T / n + np.eye(n)  # symmetric positive definite
    return A, rng.standard_normal(n)


def _quadratic_steps(ours_cls, kw, A, b, params, steps, noise):
    """Our optimizer alone on the test's quadratic, each gradient through ``noise`` (for the rtol)."""
    ps = [p.copy() for p in params]
    opt = ours_cls(ps, **kw)
    for _ in range(steps):
        # the rounding of A p - b is proportional to |A| |p| + |b|, element by element
        opt.step(
            [
                noise(A @ ps[0] - b, np.abs(A) @ np.abs(ps[0]) + np.abs(b)),
                noise(A @ ps[1] - b[:, None], np.abs(A) @ np.abs(ps[1]) + np.abs(b)[:, None]),
            ]
        )
    return ps


@pytest.mark.parametrize(
    "ours_cls,torch_cls,kw,steps",
    [(*c, TRAJECTORY_STEPS[i]) for i, c in enumerate(CONFIGS)],
    ids=IDS,
)
def test_trajectory_equals_torch_on_a_quadratic(rng, ours_cls, torch_cls, kw, steps):
    # f(p) = 1/2 p^T A p - b^T p for a matrix and a vector parameter, over `steps` steps.
    A, b = quadratic(rng)
    p1, p2 = rng.standard_normal(6), rng.standard_normal((6, 2))
    ours = [p1.copy(), p2.copy()]
    opt = ours_cls(ours, **kw)
    tp = [torch.tensor(p1, requires_grad=True), torch.tensor(p2, requires_grad=True)]
    topt = torch_cls(tp, **kw)
    for _ in range(steps):
        grads = [A @ ours[0] - b, A @ ours[1] - b[:, None]]
        opt.step(grads)
        topt.zero_grad()
        loss = 0.5 * tp[0] @ torch.tensor(A) @ tp[0] - torch.tensor(b) @ tp[0]
        loss = (
            loss
            + (0.5 * tp[1] * (torch.tensor(A) @ tp[1])).sum()
            - (torch.tensor(b)[:, None] * tp[1]).sum()
        )
        loss.backward()
        topt.step()
    # A p rounds differently on each BLAS kernel (up to 6 EPS64 per element); how much the steps
    # amplify that is measured (errors only add up: rtol ~1e-12, see TRAJECTORY_STEPS).
    # A gradient off by 1e-6 (additive, each step) still fails every config.
    rtol = trajectory_rtol(
        lambda noise: _quadratic_steps(ours_cls, kw, A, b, [p1, p2], steps, noise),
        terms=6,
        steps=steps,
    )
    assert rtol < 1e-11  # well conditioned: a wrong gradient cannot hide in the tolerance
    for a, t in zip(ours, tp, strict=True):
        assert_close(a, t.detach().numpy(), rtol=rtol)


def test_sgd_worked_example_momentum():
    # p0 = 1, g = 2p, lr 0.1, momentum 0.5: b1 = g0 = 2, p1 = 1 - 0.2 = 0.8;
    # g1 = 1.6, b2 = 0.5 * 2 + 1.6 = 2.6, p2 = 0.8 - 0.26 = 0.54.
    p = np.array([1.0])
    opt = SGD([p], lr=0.1, momentum=0.5)
    opt.step([2 * p])
    assert p[0] == pytest.approx(0.8, abs=1e-15)
    opt.step([2 * p])
    assert p[0] == pytest.approx(0.54, abs=1e-15)


def test_adam_first_step_moves_by_lr():
    # After one step m_hat = g and v_hat = g^2, so the step is lr * g / (|g| + eps) = lr sign(g).
    p = np.array([1.0, -2.0])
    Adam([p], lr=0.01, eps=0.0).step([np.array([3.0, -0.5])])
    np.testing.assert_allclose(p, [0.99, -1.99], rtol=0, atol=1e-15)


def _lm_steps(kind, V, H, tok, tgt, steps, noise):
    """Our side of the language-model trajectory alone, each gradient through ``noise``."""
    model = LanguageModel(V, H, cell="rnn", seed=0)
    opt = SGD(model, lr=0.5, momentum=0.9) if kind == "sgd" else Adam(model, lr=0.02)
    noisy = NoisyOptimizer(opt, model, noise)
    for _ in range(steps):
        model.train_step(tok, tgt, noisy)
    return list(model.params.values())


@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_trajectory_equals_torch_on_an_rnn_language_model(rng, kind):
    V, H, T, Nb = 5, 4, 6, 2
    model = LanguageModel(V, H, cell="rnn", seed=0)
    tok, tgt = rng.integers(0, V, (T, Nb)), rng.integers(0, V, (T, Nb))
    ref = {k: torch.tensor(v, requires_grad=True) for k, v in model.state_dict().items()}
    rnn = torch.nn.RNN(V, H).double()
    if kind == "sgd":
        opt, topt = (
            SGD(model, lr=0.5, momentum=0.9),
            torch.optim.SGD(ref.values(), lr=0.5, momentum=0.9),
        )
    else:
        opt, topt = Adam(model, lr=0.02), torch.optim.Adam(ref.values(), lr=0.02)
    for _ in range(50):
        model.train_step(tok, tgt, opt)
        topt.zero_grad()
        params = {k[4:]: v for k, v in ref.items() if k.startswith("rnn.")}
        out, _ = torch.func.functional_call(
            rnn, params, (F.one_hot(torch.tensor(tok), V).double(),)
        )
        logits = out @ ref["head.weight"].T + ref["head.bias"]
        F.cross_entropy(logits.reshape(-1, V), torch.tensor(tgt).reshape(-1)).backward()
        topt.step()
    # each gradient element: T N = 12 position terms, each through up to T steps of H + V sums;
    # the growth of their rounding over the 50 steps is measured
    rtol = trajectory_rtol(
        lambda noise: _lm_steps(kind, V, H, tok, tgt, 50, noise), terms=T * (Nb + H + V), steps=50
    )
    for k, v in model.params.items():
        assert_close(v, ref[k].detach().numpy(), rtol=rtol)


@settings(max_examples=30)
@given(
    max_norm=st.floats(0.0, 5.0),
    norm_type=st.sampled_from([1.0, 2.0, 3.0, math.inf]),
    scale=st.floats(0.01, 10.0),
)
def test_clip_grad_norm_equals_torch(max_norm, norm_type, scale):
    rng = np.random.default_rng(int(max_norm * 100 + scale * 10))
    grads = [scale * rng.standard_normal((3, 4)), scale * rng.standard_normal(5)]
    ours = [g.copy() for g in grads]
    total = clip_grad_norm(ours, max_norm, norm_type)
    ts = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for t, g in zip(ts, grads, strict=True):
        t.grad = torch.tensor(g)
    t_total = torch.nn.utils.clip_grad_norm_(ts, max_norm, norm_type)
    assert total == pytest.approx(float(t_total), rel=1e-13)
    for a, t in zip(ours, ts, strict=True):
        assert_close(a, t.grad.numpy(), rtol=1e-13)


def test_clip_grad_norm_worked_example_and_module():
    # grads (3, 4) has norm 5; max_norm 1 scales by 1 / (5 + 1e-6).
    g = np.array([3.0, 4.0])
    assert clip_grad_norm([g], 1.0) == 5.0
    np.testing.assert_allclose(g, [3 / (5 + 1e-6), 4 / (5 + 1e-6)], rtol=1e-15)
    small = np.array([0.3, 0.4])  # norm 0.5 < 1: unchanged
    clip_grad_norm([small], 1.0)
    np.testing.assert_array_equal(small, [0.3, 0.4])
    model = LanguageModel(4, 3, seed=0)
    for gr in model.gradients():
        gr += 1.0  # every element 1: norm = sqrt(number of elements)
    n = sum(gr.size for gr in model.gradients())
    assert clip_grad_norm(model, 1.0) == pytest.approx(np.sqrt(n), rel=1e-14)
    total = np.sqrt(sum(float(np.sum(gr**2)) for gr in model.gradients()))
    assert total == pytest.approx(np.sqrt(n) / (np.sqrt(n) + 1e-6), rel=1e-13)


def test_clip_grad_value_equals_torch(rng):
    grads = [3 * rng.standard_normal((4, 5)), 3 * rng.standard_normal(7)]
    ours = [g.copy() for g in grads]
    clip_grad_value(ours, 1.5)
    ts = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for t, g in zip(ts, grads, strict=True):
        t.grad = torch.tensor(g)
    torch.nn.utils.clip_grad_value_(ts, 1.5)
    for a, t in zip(ours, ts, strict=True):
        np.testing.assert_array_equal(a, t.grad.numpy())
    np.testing.assert_array_equal(ours[0], np.clip(grads[0], -1.5, 1.5))  # min-char-rnn's np.clip


def test_optimizer_on_module_reads_module_grads(rng):
    model = LanguageModel(4, 3, seed=0)
    before = model.state_dict()
    opt = SGD(model, lr=0.1)
    for g in model.gradients():
        g[...] = 1.0
    opt.step()
    for k, v in model.params.items():
        np.testing.assert_allclose(v, before[k] - 0.1, rtol=0, atol=1e-15)
    opt.zero_grad()
    assert all(not g.any() for g in model.gradients())


def test_bad_input_gives_clear_errors():
    p = np.zeros(3)
    with pytest.raises(ValueError, match=r"lr must be in \[0.0, inf\); got -1"):
        SGD([p], lr=-1)
    with pytest.raises(ValueError, match="nesterov needs momentum > 0 and dampening = 0"):
        SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match=r"betas\[1\] must be in \[0.0, 1.0\)"):
        Adam([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="grads must be a list of 1 arrays; got None"):
        SGD([p], lr=0.1).step()
    with pytest.raises(ValueError, match=r"grads\[0\] must have shape \(3,\); got \(4,\)"):
        SGD([p], lr=0.1).step([np.zeros(4)])
    with pytest.raises(TypeError, match="params must be a Module or a list of float arrays"):
        SGD([[1, 2]], lr=0.1)
    with pytest.raises(ValueError, match="norm_type must be positive or inf"):
        clip_grad_norm([np.ones(2)], 1.0, norm_type=0)
    with pytest.raises(ValueError, match="total norm of the gradients is nan"):
        clip_grad_norm([np.array([np.nan])], 1.0, error_if_nonfinite=True)
    with pytest.raises(ValueError, match=r"clip_value must be in \[0.0, inf\)"):
        clip_grad_value([np.ones(2)], -1.0)


@pytest.mark.parametrize("ours_cls,torch_cls,kw", CONFIGS, ids=IDS)
@pytest.mark.parametrize("bad", [math.nan, math.inf], ids=["nan", "inf"])
def test_non_finite_gradient_propagates_into_the_parameter_as_in_torch(
    ours_cls, torch_cls, kw, bad
):
    # Deliberately unchecked (see optim's module docstring): a NaN or inf gradient element
    # reaches its parameter (and the optimizer state) exactly as torch.optim lets it, while
    # the other elements take their ordinary step. Two steps: the state carries the bad value.
    p0 = np.array([0.5, -1.0, 2.0])
    grads = [np.array([0.1, bad, -0.3]), np.array([0.2, 0.4, -0.1])]
    ours = p0.copy()
    opt = ours_cls([ours], **kw)
    tp = torch.tensor(p0, requires_grad=True)
    topt = torch_cls([tp], **kw)
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf and inf * 0 are the point
        for g in grads:
            opt.step([g])
            tp.grad = torch.tensor(g)
            topt.step()
    expected = tp.detach().numpy()
    assert not np.isfinite(ours[1]) and np.isfinite(ours[[0, 2]]).all()
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(expected))
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=0)


def test_non_finite_gradient_worked_example_sgd():
    # p = [1, 1] - 0.5 [nan, 2] = [nan, 0]: the NaN stays in its element, the step is unchanged.
    p = np.ones(2)
    SGD([p], lr=0.5).step([np.array([np.nan, 2.0])])
    np.testing.assert_array_equal(p, [np.nan, 0.0])
