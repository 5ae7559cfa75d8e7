"""BPTT taken apart: gradient terms add up to the full gradient, the seed's formulas equal BPTT,
Jacobian norms equal torch autograd's, truncated BPTT equals a brute-force torch reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from handgrad.gradcheck import assert_grad_close
from handgrad.nn import GRU, LSTM, RNN
from handgrad.nn.bptt import (
    SEED_FORMULAS,
    gradient_terms,
    jacobian_norms,
    lm_gradient_terms,
    seed_formula_gradients,
    step_jacobians,
    truncated_bptt,
)
from handgrad.nn.language_model import LanguageModel
from handgrad.optim import SGD
from oracle import NoisyOptimizer, assert_close, rounding_rtol, trajectory_rtol

# -- gradient terms -----------------------------------------------------------------------------


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("t", [1, 3, 5])
def test_gradient_terms_sum_to_full_gradient_of_E_t(rng, nonlinearity, t):
    T, N, D, H = 5, 2, 3, 4
    rnn = RNN(D, H, nonlinearity=nonlinearity, seed=2)
    x, h0 = rng.standard_normal((T, N, D)), rng.standard_normal((1, N, H))
    g = rng.standard_normal((N, H))  # dE_t/dH_t
    terms = gradient_terms(rnn, x, t, g, h0)
    np.testing.assert_array_equal(terms.steps, np.arange(1, t + 1))
    # full BPTT of E_t = <g, H_t>: the layer's backward with an output gradient at step t only
    rnn.zero_grad()
    rnn(x, h0)
    d_out = np.zeros((T, N, H))
    d_out[t - 1] = g
    rnn.backward(d_out)
    # the same t N products summed in another order, each through up to t steps of H terms
    rtol = rounding_rtol(t * (N + H))
    assert_close(terms.weight_hh.sum(axis=0), rnn.grads["weight_hh_l0"], rtol=rtol)
    assert_close(terms.weight_ih.sum(axis=0), rnn.grads["weight_ih_l0"], rtol=rtol)
    assert_close(terms.bias.sum(axis=0), rnn.grads["bias_hh_l0"], rtol=rtol)
    # and with torch autograd
    ref = torch.nn.RNN(D, H, nonlinearity=nonlinearity).double()
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in rnn.state_dict().items()})
    out, _ = ref(torch.tensor(x), torch.tensor(h0))
    (out[t - 1] * torch.tensor(g)).sum().backward()
    assert_close(terms.weight_hh.sum(axis=0), ref.weight_hh_l0.grad.numpy())
    assert_close(terms.weight_ih.sum(axis=0), ref.weight_ih_l0.grad.numpy())


def test_gradient_terms_last_term_is_the_immediate_derivative(rng):
    # term_t = (dE/dH_t * (1 - H_t^2))^T H_{t-1}: no Jacobian product at k = t.
    rnn = RNN(2, 3, seed=0)
    x = rng.standard_normal((4, 1, 2))
    g = rng.standard_normal((1, 3))
    terms = gradient_terms(rnn, x, 4, g)
    out, _ = rnn(x)
    d = g[0] * (1 - out[3, 0] ** 2)
    assert_close(terms.weight_hh[3], np.outer(d, out[2, 0]), rtol=1e-14)
    assert_close(terms.weight_ih[3], np.outer(d, x[3, 0]), rtol=1e-14)
    # one step further back: delta_3 = (delta_4 W) * (1 - H_3^2)
    d3 = (d @ rnn.params["weight_hh_l0"]) * (1 - out[2, 0] ** 2)
    assert_close(terms.weight_hh[2], np.outer(d3, out[1, 0]), rtol=1e-14)


# -- the seed's formulas ------------------------------------------------------------------------


def seed_problem(rng, H=4, V=5, T=4):
    U, W, Vm = (
        0.6 * rng.standard_normal((H, V)),
        0.6 * rng.standard_normal((H, H)),
        rng.standard_normal((V, H)),
    )
    tokens = rng.integers(0, V, T)
    return U, W, Vm, np.eye(V)[tokens], rng.standard_normal(H), rng.integers(0, V, T)


def single_step_loss(U, W, Vm, inputs, h0, targets, t):
    h = h0
    for k in range(t):
        h = np.tanh(U @ inputs[k] + W @ h)
    z = Vm @ h
    return float(np.log(np.sum(np.exp(z - z.max()))) + z.max() - z[targets[t - 1]])


@pytest.mark.parametrize("t", [2, 3])
def test_seed_formulas_equal_bptt_and_finite_differences(rng, t):
    U, W, Vm, inputs, h0, targets = seed_problem(rng)
    grads = seed_formula_gradients(U, W, Vm, inputs, h0, targets)
    assert set(grads) == set(SEED_FORMULAS)
    # full BPTT: the bias-free language model's E_t alone
    rnn = RNN(U.shape[1], U.shape[0], bias=False, seed=0)
    rnn.load_state_dict({"weight_ih_l0": U, "weight_hh_l0": W})
    out, _ = rnn(inputs[:, None, :], h0[None, None, :])
    z = Vm @ out[t - 1, 0]
    O = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    O[targets[t - 1]] -= 1
    terms = gradient_terms(rnn, inputs[:, None, :], t, (O @ Vm)[None], h0[None, None, :])
    assert_close(grads[f"dE{t}/dW"], terms.weight_hh.sum(axis=0), rtol=1e-13)
    assert_close(grads[f"dE{t}/dU"], terms.weight_ih.sum(axis=0), rtol=1e-13)
    assert_grad_close(
        lambda w: single_step_loss(U, w, Vm, inputs, h0, targets, t), grads[f"dE{t}/dW"], W
    )
    assert_grad_close(
        lambda u: single_step_loss(u, W, Vm, inputs, h0, targets, t), grads[f"dE{t}/dU"], U
    )


def test_seed_formulas_equal_torch_autograd(rng):
    U, W, Vm, inputs, h0, targets = seed_problem(rng)
    grads = seed_formula_gradients(U, W, Vm, inputs, h0, targets)
    tU, tW = torch.tensor(U, requires_grad=True), torch.tensor(W, requires_grad=True)
    h = torch.tensor(h0)
    losses = []
    for k in range(3):
        h = torch.tanh(tU @ torch.tensor(inputs[k]) + tW @ h)
        losses.append(
            F.cross_entropy((torch.tensor(Vm) @ h)[None], torch.tensor(targets[k : k + 1]))
        )
    for t in (2, 3):
        gU, gW = torch.autograd.grad(losses[t - 1], (tU, tW), retain_graph=True)
        assert_close(grads[f"dE{t}/dW"], gW.numpy())
        assert_close(grads[f"dE{t}/dU"], gU.numpy())


# -- Jacobian norms -----------------------------------------------------------------------------

KINDS = {
    "rnn_tanh": (lambda: RNN(3, 4, seed=5), torch.nn.RNN, {}),
    "rnn_relu": (
        lambda: RNN(3, 4, nonlinearity="relu", seed=5),
        torch.nn.RNN,
        {"nonlinearity": "relu"},
    ),
    "lstm": (lambda: LSTM(3, 4, seed=5), torch.nn.LSTM, {}),
    "gru": (lambda: GRU(3, 4, seed=5), torch.nn.GRU, {}),
}


def torch_state_jacobian(ref, kind, x, h0, c0, k, t):
    """d S_t / d S_k by torch.autograd.functional.jacobian on the cell run from step k to t."""
    H = h0.shape[-1]

    def run(s):
        if kind == "lstm":
            state = (s[:H].reshape(1, 1, H), s[H:].reshape(1, 1, H))
            _, (h, c) = ref(x[k:t], state) if t > k else (None, state)
            return torch.cat([h.reshape(-1), c.reshape(-1)])
        state = s.reshape(1, 1, H)
        _, h = ref(x[k:t], state) if t > k else (None, state)
        return h.reshape(-1)

    with torch.no_grad():
        if kind == "lstm":
            _, (h, c) = ref(x[:k], (h0, c0)) if k > 0 else (None, (h0, c0))
            s_k = torch.cat([h.reshape(-1), c.reshape(-1)])
        else:
            _, h = ref(x[:k], h0) if k > 0 else (None, h0)
            s_k = h.reshape(-1)
    return torch.autograd.functional.jacobian(run, s_k).numpy()


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("ord", [2, "fro"])
def test_jacobian_norms_equal_torch_autograd(rng, kind, ord):
    make, tcls, kw = KINDS[kind]
    layer = make()
    ref = tcls(3, 4, **kw).double()
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in layer.state_dict().items()})
    T = 5
    x = rng.standard_normal((T, 1, 3))
    h0, c0 = rng.standard_normal((1, 1, 4)), rng.standard_normal((1, 1, 4))
    state = (h0, c0) if kind == "lstm" else h0
    t = 4
    norms = jacobian_norms(layer, x, state, t=t, ord=ord)
    assert norms.shape == (t + 1, 1)
    xt, h0t, c0t = torch.tensor(x), torch.tensor(h0), torch.tensor(c0)
    for k in range(t + 1):
        J = torch_state_jacobian(ref, kind, xt, h0t, c0t, k, t)
        expected = np.linalg.norm(J, 2) if ord == 2 else np.linalg.norm(J, "fro")
        assert norms[k, 0] == pytest.approx(expected, rel=1e-10)


def test_step_jacobians_batch_and_identity_row(rng):
    lstm = LSTM(2, 3, seed=0)
    x = rng.standard_normal((4, 2, 2))
    J = step_jacobians(lstm, x)
    assert J.shape == (4, 2, 6, 6)
    norms = jacobian_norms(lstm, x, ord="fro")
    assert norms.shape == (5, 2)
    np.testing.assert_allclose(norms[-1], np.sqrt(6), rtol=1e-15)  # ||I_6||_F
    np.testing.assert_allclose(jacobian_norms(lstm, x)[-1], 1.0, rtol=1e-15)  # ||I||_2 = 1
    # each sequence is independent: running sequence 1 alone gives its column
    alone = jacobian_norms(lstm, x[:, 1:2])
    # a batch of 1 may round otherwise: products of 4 (6, 6) Jacobians (a 2-norm moves no more)
    assert_close(jacobian_norms(lstm, x)[:, 1:2], alone, rtol=rounding_rtol(6, steps=4))


def test_tanh_rnn_jacobian_norms_vanish_geometrically(rng):
    # ||dH_t/dH_k||_2 <= prod ||diag(1 - H_j^2) W||_2 <= ||W||_2^(t - k), since |tanh'| <= 1.
    rnn = RNN(3, 8, seed=1)
    W = rnn.params["weight_hh_l0"]
    W *= 0.5 / np.linalg.norm(W, 2)  # ||W||_2 = 0.5
    x = rng.standard_normal((30, 1, 3))
    norms = jacobian_norms(rnn, x)[:, 0]
    t = 30
    bound = 0.5 ** (t - np.arange(t + 1))
    assert np.all(norms <= bound * (1 + 1e-12))
    assert norms[0] < 1e-9  # thirty steps back: below 0.5^30 ~ 9.3e-10


# -- truncated BPTT -----------------------------------------------------------------------------


def torch_tbptt(model, cell, tokens, targets, k1, k2, lr):
    """Brute force: every window re-run step by step in torch from a detached state, autograd."""
    V, H = model.vocab_size, model.hidden_size
    params = {k: torch.tensor(v, requires_grad=True) for k, v in model.state_dict().items()}
    module = (torch.nn.RNN if cell == "rnn" else torch.nn.LSTM)(V, H).double()
    x = F.one_hot(torch.tensor(tokens), V).double()  # (L, N, V)
    L, N = tokens.shape
    zero = torch.zeros(1, N, H, dtype=torch.float64)
    ends = [*range(k1, L, k1), L]
    saved = {0: (zero, zero) if cell == "lstm" else zero}
    losses, grads = [], []
    for c, end in enumerate(ends):
        begin, start = (ends[c - 1] if c else 0), max(0, end - k2)
        state = saved.pop(start)
        rnn_params = {k[4:]: v for k, v in params.items() if k.startswith("rnn.")}
        states, outs = [state], []
        for s in range(start, end):  # one step at a time: the graph is built by hand
            out, state = torch.func.functional_call(module, rnn_params, (x[s : s + 1], state))
            outs.append(out)
            states.append(state)
        hid = torch.cat(outs[begin - start :])  # (chunk, N, H)
        logits = hid @ params["head.weight"].T + params["head.bias"]
        loss = F.cross_entropy(logits.reshape(-1, V), torch.tensor(targets[begin:end]).reshape(-1))
        for p in params.values():
            p.grad = None
        loss.backward()
        if c + 1 < len(ends):
            nxt = max(0, ends[c + 1] - k2)
            s = states[nxt - start]
            saved[nxt] = tuple(v.detach() for v in s) if cell == "lstm" else s.detach()
        grads.append({k: p.grad.numpy().copy() for k, p in params.items()})
        with torch.no_grad():
            for p in params.values():
                p -= lr * p.grad
        losses.append(loss.item())
    return np.array(losses), grads, {k: p.detach().numpy() for k, p in params.items()}


def _tbptt_steps(cell, V, H, tokens, targets, k1, k2, noise):
    """Our truncated BPTT alone (the test's model and SGD), each window's gradient through noise."""
    model = LanguageModel(V, H, cell=cell, seed=4)
    opt = NoisyOptimizer(SGD(model, lr=0.3), model, noise)
    result = truncated_bptt(model, tokens, targets, k1, k2, optimizer=opt, keep_grads=True)
    assert result.grads is not None
    return [result.losses, *(g[k] for g in result.grads for k in g), *model.params.values()]


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("cell", ["rnn", "lstm"])
@pytest.mark.parametrize("k1,k2", [(4, 4), (3, 5), (2, 7), (5, 5)])
def test_truncated_bptt_equals_brute_force_torch(rng, request, split, cell, k1, k2):
    # split: each window's batch of 2 streams runs as 2 parts on 2 threads; the state carried
    # to the next window is read back from both parts
    if split:
        request.getfixturevalue("split_batches")
    V, H, L, N = 5, 4, 13, 2
    model = LanguageModel(V, H, cell=cell, seed=4)
    tokens, targets = rng.integers(0, V, (L, N)), rng.integers(0, V, (L, N))
    ref_losses, ref_grads, ref_params = torch_tbptt(model, cell, tokens, targets, k1, k2, lr=0.3)
    result = truncated_bptt(
        model, tokens, targets, k1, k2, optimizer=SGD(model, lr=0.3), keep_grads=True
    )
    assert result.grads is not None and len(result.grads) == len(ref_grads) == -(-L // k1)
    # one SGD step per window: each gradient element sums up to k2 steps of N + H + V terms;
    # the growth of their rounding over the windows is measured (it stays ~1 at lr 0.3)
    rtol = trajectory_rtol(
        lambda noise: _tbptt_steps(cell, V, H, tokens, targets, k1, k2, noise),
        terms=k2 * (N + H + V),
        steps=len(ref_grads),
    )
    assert_close(result.losses, ref_losses, rtol=rtol)
    for ours, ref in zip(result.grads, ref_grads, strict=True):
        for k in ref:
            assert_close(ours[k], ref[k], rtol=rtol)
    for k, v in model.params.items():
        assert_close(v, ref_params[k], rtol=rtol)


def test_truncated_bptt_one_window_is_full_bptt(rng):
    model = LanguageModel(4, 3, seed=0)
    tokens, targets = rng.integers(0, 4, (9, 2)), rng.integers(0, 4, (9, 2))
    result = truncated_bptt(model, tokens, targets, 9, keep_grads=True)
    model.zero_grad()
    loss, grads, state = model.loss_and_grad(tokens, targets)
    assert result.losses.tolist() == [loss]
    for k, g in grads.items():
        np.testing.assert_array_equal(result.grads[0][k], g)
    np.testing.assert_array_equal(result.state, state)


def test_truncated_bptt_bad_arguments(rng):
    model = LanguageModel(4, 3, seed=0)
    tok = rng.integers(0, 4, 10)
    with pytest.raises(ValueError, match="k2 must be at least k1 = 4; got 2"):
        truncated_bptt(model, tok, tok, 4, 2)
    with pytest.raises(ValueError, match=r"targets must have the shape of tokens_in \(10, 1\)"):
        truncated_bptt(model, tok, tok[:-1], 4)
    with pytest.raises(ValueError, match=r"must have num_layers=1"):
        jacobian_norms(RNN(2, 2, num_layers=2), np.zeros((3, 1, 2)))
    with pytest.raises(ValueError, match=r"t must be in \[1, T\] = \[1, 3\]; got 4"):
        gradient_terms(RNN(2, 2), np.zeros((3, 1, 2)), 4, np.zeros((1, 2)))
    with pytest.raises(ValueError, match="ord must be 2"):
        jacobian_norms(RNN(2, 2), np.zeros((3, 1, 2)), ord=1)
    with pytest.raises(ValueError, match=r"inputs must have shape \(T, D=3\) with T >= 3"):
        seed_formula_gradients(
            np.zeros((2, 3)),
            np.zeros((2, 2)),
            np.zeros((3, 2)),
            np.zeros((2, 3)),
            np.zeros(2),
            [0, 1],
        )


@pytest.mark.parametrize("embedding_dim", [None, 3])
def test_lm_gradient_terms_summed_over_steps_give_the_model_gradient(rng, embedding_dim):
    # sum_t sum_k term_k(E_t) = dE/dtheta for E = sum_t E_t (reduction "sum"), for U, W, b.
    V, H, T, N = 6, 4, 5, 2
    model = LanguageModel(V, H, embedding_dim=embedding_dim, seed=3)
    tokens, targets = rng.integers(0, V, (T, N)), rng.integers(0, V, (T, N))
    h0 = rng.standard_normal((1, N, H))
    total_w = sum(
        lm_gradient_terms(model, tokens, targets, t, h0).weight_hh.sum(0) for t in range(1, T + 1)
    )
    total_u = sum(
        lm_gradient_terms(model, tokens, targets, t, h0).weight_ih.sum(0) for t in range(1, T + 1)
    )
    total_b = sum(
        lm_gradient_terms(model, tokens, targets, t, h0).bias.sum(0) for t in range(1, T + 1)
    )
    model.zero_grad()
    _, grads, _ = model.loss_and_grad(tokens, targets, h0, reduction="sum")
    # T terms E_t, each a sum over k <= t steps and N sequences, through up to T steps of H terms
    rtol = rounding_rtol(T * (T * N + H))
    assert_close(total_w, grads["rnn.weight_hh_l0"], rtol=rtol)
    assert_close(total_u, grads["rnn.weight_ih_l0"], rtol=rtol)
    assert_close(total_b, grads["rnn.bias_ih_l0"], rtol=rtol)
    with pytest.raises(TypeError, match="cell='rnn'"):
        lm_gradient_terms(LanguageModel(V, H, cell="gru"), tokens, targets, 1)
