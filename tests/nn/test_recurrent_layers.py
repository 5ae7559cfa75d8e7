"""RNN / LSTM / GRU: equality with torch.nn (values and every gradient), finite differences,
packed sequences, conventions (accumulation, zero default state), dtypes and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from handgrad.gradcheck import assert_grad_close
from handgrad.nn import GRU, LSTM, RNN
from oracle import assert_close, rounding_rtol

T, N, D, H = 5, 3, 4, 6

CELLS = {
    "rnn_tanh": (RNN, torch.nn.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
    "lstm": (LSTM, torch.nn.LSTM, {}),
    "gru": (GRU, torch.nn.GRU, {}),
}


def make_pair(kind, num_layers=1, bias=True, batch_first=False, input_size=D, hidden=H, seed=0):
    cls, tcls, kw = CELLS[kind]
    ours = cls(input_size, hidden, num_layers, bias=bias, batch_first=batch_first, seed=seed, **kw)
    ref = tcls(input_size, hidden, num_layers, bias=bias, batch_first=batch_first, **kw).double()
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    return ours, ref


def is_lstm(kind):
    return kind == "lstm"


def run_torch(ref, kind, x, h0, c0, d_out, dh_n, dc_n, lengths=None, batch_first=False):
    """torch outputs and gradients of sum(out * d_out) + sum(h_n * dh_n) (+ sum(c_n * dc_n))."""
    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0, requires_grad=True)
    c0t = torch.tensor(c0, requires_grad=True)
    state = (h0t, c0t) if is_lstm(kind) else h0t
    if lengths is None:
        out, sn = ref(xt, state)
    else:
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            xt, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False
        )
        po, sn = ref(packed, state)
        total = x.shape[1] if batch_first else x.shape[0]
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(
            po, batch_first=batch_first, total_length=total
        )
    h_n, c_n = sn if is_lstm(kind) else (sn, None)
    loss = (out * torch.tensor(d_out)).sum() + (h_n * torch.tensor(dh_n)).sum()
    if c_n is not None:
        loss = loss + (c_n * torch.tensor(dc_n)).sum()
    loss.backward()
    grads = {k: p.grad.numpy() for k, p in ref.named_parameters()}
    dc0 = c0t.grad.numpy() if c0t.grad is not None else None
    return (
        out.detach().numpy(),
        h_n.detach().numpy(),
        c_n,
        xt.grad.numpy(),
        h0t.grad.numpy(),
        dc0,
        grads,
    )


def random_problem(rng, num_layers, batch_first=False):
    x = rng.standard_normal((N, T, D) if batch_first else (T, N, D))
    h0 = rng.standard_normal((num_layers, N, H))
    c0 = rng.standard_normal((num_layers, N, H))
    d_out = rng.standard_normal((N, T, H) if batch_first else (T, N, H))
    dh_n = rng.standard_normal((num_layers, N, H))
    dc_n = rng.standard_normal((num_layers, N, H))
    return x, h0, c0, d_out, dh_n, dc_n


@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize(
    "num_layers,bias,batch_first,packed",
    [
        (1, True, False, False),
        (2, True, False, False),
        (1, False, False, False),
        (2, True, True, False),
        (1, True, False, True),
        (2, False, True, True),
    ],
)
def test_equals_torch_values_and_gradients(rng, kind, num_layers, bias, batch_first, packed):
    ours, ref = make_pair(kind, num_layers, bias, batch_first)
    x, h0, c0, d_out, dh_n, dc_n = random_problem(rng, num_layers, batch_first)
    lengths = np.array([5, 2, 4]) if packed else None
    state = (h0, c0) if is_lstm(kind) else h0
    out, sn = ours(x, state, lengths=lengths)
    t_out, t_h, t_c, t_dx, t_dh0, t_dc0, t_grads = run_torch(
        ref, kind, x, h0, c0, d_out, dh_n, dc_n, lengths, batch_first
    )
    dstate_n = (dh_n, dc_n) if is_lstm(kind) else dh_n
    dx, dstate0 = ours.backward(d_out, dstate_n)
    assert_close(out, t_out)
    if is_lstm(kind):
        assert_close(sn[0], t_h)
        assert_close(sn[1], t_c.detach().numpy())
        assert_close(dstate0[0], t_dh0)
        assert_close(dstate0[1], t_dc0)
    else:
        assert_close(sn, t_h)
        assert_close(dstate0, t_dh0)
    assert_close(dx, t_dx)
    assert set(ours.grads) == set(t_grads)
    for name, g in t_grads.items():
        assert_close(ours.grads[name], g)


@pytest.mark.parametrize("kind", list(CELLS))
def test_finite_differences_every_gradient(rng, kind):
    # Small sizes, two layers, bias, ragged lengths: every parameter, x, and the initial state(s).
    L, n, t, d, h = 2, 2, 3, 2, 3
    cls, _, kw = CELLS[kind]
    layer = cls(d, h, L, seed=3, **kw)
    x = rng.standard_normal((t, n, d))
    h0, c0 = rng.standard_normal((L, n, h)), rng.standard_normal((L, n, h))
    R, S, Q = (
        rng.standard_normal((t, n, h)),
        rng.standard_normal((L, n, h)),
        rng.standard_normal((L, n, h)),
    )
    lengths = np.array([3, 2])
    names = list(layer.params)

    def loss(x_, h0_, c0_, *weights):
        layer.load_state_dict(dict(zip(names, weights, strict=True)))
        out, sn = layer(x_, (h0_, c0_) if is_lstm(kind) else h0_, lengths=lengths)
        hn, cn = sn if is_lstm(kind) else (sn, None)
        value = np.sum(out * R) + np.sum(hn * S)
        return float(value + (np.sum(cn * Q) if cn is not None else 0.0))

    weights = [p.copy() for p in layer.params.values()]
    loss(x, h0, c0, *weights)
    layer.zero_grad()
    dx, dstate0 = layer.backward(R, (S, Q) if is_lstm(kind) else S)
    dh0, dc0 = dstate0 if is_lstm(kind) else (dstate0, np.zeros_like(c0))
    analytic = [dx, dh0, dc0, *[layer.grads[k].copy() for k in names]]
    # relu: random pre-activations lie far (>> 1e-6) from the kink at 0 with probability ~1
    assert_grad_close(loss, analytic, x, h0, c0, *weights)


def test_worked_example_single_step_tanh():
    # One step, H = D = 1: h1 = tanh(w_ih x + b_ih + w_hh h0 + b_hh)
    # = tanh(0.5 * 2 + 0.1 + (-1) * 0.3 + 0.2) = tanh(1.0) = 0.7615941559557649.
    rnn = RNN(1, 1, seed=0)
    rnn.load_state_dict(
        {
            "weight_ih_l0": [[0.5]],
            "weight_hh_l0": [[-1.0]],
            "bias_ih_l0": [0.1],
            "bias_hh_l0": [0.2],
        }
    )
    out, _hn = rnn(np.array([[[2.0]]]), np.array([[[0.3]]]))
    assert out[0, 0, 0] == pytest.approx(np.tanh(1.0), abs=1e-15)
    # d h1 / d w_hh = (1 - tanh(1)^2) * h0 = 0.41997434161402614 * 0.3
    rnn.backward(np.ones((1, 1, 1)))
    assert rnn.grads["weight_hh_l0"][0, 0] == pytest.approx(0.41997434161402614 * 0.3, rel=1e-14)


def test_worked_example_lstm_step():
    # H = D = 1, all weights 0 and biases b_ih = (0, 0, log 3, 0): i = f = o = 1/2, g = tanh(log 3)
    # = 0.8; c1 = f c0 + i g = 0.5 * 1 + 0.5 * 0.8 = 0.9; h1 = o tanh(0.9) = 0.5 * 0.7162978701990245.
    lstm = LSTM(1, 1, seed=0)
    lstm.load_state_dict(
        {
            "weight_ih_l0": np.zeros((4, 1)),
            "weight_hh_l0": np.zeros((4, 1)),
            "bias_ih_l0": [0, 0, np.log(3), 0],
            "bias_hh_l0": np.zeros(4),
        }
    )
    _out, (hn, cn) = lstm(np.ones((1, 1, 1)), (np.zeros((1, 1, 1)), np.ones((1, 1, 1))))
    assert cn[0, 0, 0] == pytest.approx(0.9, abs=1e-15)
    assert hn[0, 0, 0] == pytest.approx(0.5 * np.tanh(0.9), abs=1e-15)


def test_gru_hidden_bias_inside_reset_gate():
    # GRU with zero weights: r = z = 1/2, n = tanh(b_in + r * b_hn). Moving b_hn by 2 moves the n
    # pre-activation by r * 2 = 1, so b_in = 1 and b_hn = 0 give the same n as b_in = 0, b_hn = 2.
    g1, g2 = GRU(1, 1, seed=0), GRU(1, 1, seed=0)
    zeros = {"weight_ih_l0": np.zeros((3, 1)), "weight_hh_l0": np.zeros((3, 1))}
    g1.load_state_dict({**zeros, "bias_ih_l0": [0, 0, 1.0], "bias_hh_l0": [0, 0, 0.0]})
    g2.load_state_dict({**zeros, "bias_ih_l0": [0, 0, 0.0], "bias_hh_l0": [0, 0, 2.0]})
    x, h0 = np.zeros((1, 1, 1)), np.zeros((1, 1, 1))
    # h1 = (1 - z) n + z h0 = 0.5 tanh(1)
    assert g1(x, h0)[0][0, 0, 0] == pytest.approx(0.5 * np.tanh(1.0), abs=1e-15)
    assert g2(x, h0)[0][0, 0, 0] == pytest.approx(0.5 * np.tanh(1.0), abs=1e-15)


@pytest.mark.parametrize("kind", list(CELLS))
def test_grads_accumulate_and_zero_default_state_gradient(rng, kind):
    ours, ref = make_pair(kind)
    x, _h0, _c0, d_out, _dh_n, _dc_n = random_problem(rng, 1)
    ours(x)  # default zero state
    dx1, ds1 = ours.backward(d_out)  # d_state_n None means zero
    first = {k: g.copy() for k, g in ours.grads.items()}
    ours(x)
    dx2, _ds2 = ours.backward(d_out, (None, None) if is_lstm(kind) else None)
    for k, g in ours.grads.items():
        assert_close(g, 2 * first[k], rtol=1e-14)
    np.testing.assert_array_equal(dx1, dx2)
    zeros = np.zeros((1, N, H))
    *_, t_dx, t_dh0, t_dc0, _ = run_torch(ref, kind, x, zeros, zeros, d_out, zeros, zeros)
    assert_close(dx1, t_dx)
    assert_close(ds1[0] if is_lstm(kind) else ds1, t_dh0)
    if is_lstm(kind):
        assert_close(ds1[1], t_dc0)
    ours.zero_grad()
    assert all(not g.any() for g in ours.grads.values())


@pytest.mark.parametrize("kind", list(CELLS))
def test_float32_in_float32_out_close_to_float64(rng, kind):
    ours, _ = make_pair(kind)
    x, *_ = random_problem(rng, 1)
    out64, _ = ours(x)
    ours.astype(np.float32)
    out32, _s32 = ours(x.astype(np.float32))
    assert out32.dtype == np.float32
    dx, _ = ours.backward(np.ones_like(out32))
    assert dx.dtype == np.float32 and all(g.dtype == np.float32 for g in ours.grads.values())
    assert_close(out32, out64, rtol=1e-5)


@settings(max_examples=15)
@given(
    lengths=st.lists(st.integers(1, 4), min_size=1, max_size=4), kind=st.sampled_from(list(CELLS))
)
def test_packed_equals_each_sequence_run_alone(lengths, kind):
    # Property: a padded batch with lengths gives, for every sequence, the outputs and final state
    # of that sequence run alone over its valid steps, and zeros after.
    rng = np.random.default_rng(len(lengths) * 10 + sum(lengths))
    cls, _, kw = CELLS[kind]
    layer = cls(2, 3, 2, seed=1, **kw)
    Tm, n = 4, len(lengths)
    x = rng.standard_normal((Tm, n, 2))
    out, sn = layer(x, lengths=lengths)
    hn = sn[0] if is_lstm(kind) else sn
    for b, ln in enumerate(lengths):
        alone, s_alone = layer(x[:ln, b : b + 1])
        h_alone = s_alone[0] if is_lstm(kind) else s_alone
        # a batch of one may take another BLAS kernel: 2 layers of Tm steps of <= 3 + 3 terms
        rtol = rounding_rtol(3 + 3, steps=2 * Tm)
        assert_close(out[:ln, b], alone[:, 0], rtol=rtol)
        assert not out[ln:, b].any()
        assert_close(hn[:, b], h_alone[:, 0], rtol=rtol)


def test_backward_uses_latest_forward(rng):
    rnn = RNN(D, H, seed=0)
    x1, x2 = rng.standard_normal((T, N, D)), rng.standard_normal((T, N, D))
    rnn(x1)
    rnn(x2)
    g = rng.standard_normal((T, N, H))
    dx, _ = rnn.backward(g)
    fresh = RNN(D, H, seed=0)
    fresh(x2)
    dx_ref, _ = fresh.backward(g)
    np.testing.assert_array_equal(dx, dx_ref)


def test_parameter_names_shapes_and_init_bounds():
    lstm = LSTM(3, 5, num_layers=2, seed=0)
    shapes = {k: v.shape for k, v in lstm.params.items()}
    assert shapes == {
        "weight_ih_l0": (20, 3),
        "weight_hh_l0": (20, 5),
        "bias_ih_l0": (20,),
        "bias_hh_l0": (20,),
        "weight_ih_l1": (20, 5),
        "weight_hh_l1": (20, 5),
        "bias_ih_l1": (20,),
        "bias_hh_l1": (20,),
    }
    bound = 1 / np.sqrt(5)
    allv = np.concatenate([p.ravel() for p in lstm.parameters()])
    assert np.all(np.abs(allv) <= bound) and np.abs(allv).max() > 0.9 * bound
    assert set(GRU(3, 5, bias=False, seed=0).params) == {"weight_ih_l0", "weight_hh_l0"}
    # explicit randomness: same seed, same weights; rng and seed are exclusive
    np.testing.assert_array_equal(
        RNN(3, 5, seed=7).params["weight_hh_l0"], RNN(3, 5, seed=7).params["weight_hh_l0"]
    )
    with pytest.raises(ValueError, match="either rng or seed"):
        RNN(3, 5, seed=1, rng=np.random.default_rng(1))


def test_bad_input_gives_clear_errors(rng):
    rnn = RNN(D, H, num_layers=2, seed=0)
    x = rng.standard_normal((T, N, D))
    with pytest.raises(
        ValueError, match=r"x must have shape \(T, N, input_size\) with input_size=4"
    ):
        rnn(rng.standard_normal((T, N, D + 1)))
    with pytest.raises(
        ValueError, match=r"state must have shape \(num_layers, N, hidden_size\) = \(2, 3, 6\)"
    ):
        rnn(x, np.zeros((1, N, H)))
    with pytest.raises(ValueError, match=r"lengths must be in \[1, T\] = \[1, 5\]"):
        rnn(x, lengths=[5, 0, 2])
    with pytest.raises(ValueError, match=r"lengths must be in \[1, T\]"):
        rnn(x, lengths=[6, 1, 2])
    with pytest.raises(ValueError, match=r"lengths must have shape \(N,\)"):
        rnn(x, lengths=[5, 1])
    bad = x.copy()
    bad[2, 1, 0] = np.nan
    with pytest.raises(ValueError, match=r"x must be finite .* index \(2, 1, 0\)"):
        rnn(bad)
    with pytest.raises(
        TypeError, match="x has dtype float32 but the module's parameters are float64"
    ):
        rnn(x.astype(np.float32))
    with pytest.raises(
        ValueError, match="nonlinearity must be one of 'tanh', 'relu'; got 'sigmoid'"
    ):
        RNN(D, H, nonlinearity="sigmoid")
    with pytest.raises(TypeError, match=r"state must be a pair \(h, c\)"):
        LSTM(D, H)(x, np.zeros((1, N, H)))
    with pytest.raises(ValueError, match="backward called before forward"):
        GRU(D, H).backward(np.zeros((T, N, H)))
    rnn(x)
    with pytest.raises(ValueError, match=r"d_out must have the output's shape \(5, 3, 6\)"):
        rnn.backward(np.zeros((T, N, H + 1)))
    with pytest.raises(ValueError, match="state keys must match"):
        rnn.load_state_dict({"weight_ih_l0": np.zeros((H, D))})
    with pytest.raises(ValueError, match=r"state\['weight_ih_l0'\] must have shape \(6, 4\)"):
        rnn.load_state_dict({**rnn.state_dict(), "weight_ih_l0": np.zeros((H, D + 1))})


@pytest.mark.parametrize("packed", [False, True])
def test_lstm_backward_in_blocks_of_one_step_equals_torch(rng, monkeypatch, packed):
    # The LSTM backward computes its factors a block of steps at a time; force one-step blocks.
    from handgrad.nn import lstm as lstm_module

    monkeypatch.setattr(lstm_module, "_BLOCK_ELEMENTS", 1)
    ours, ref = make_pair("lstm", num_layers=2)
    x, h0, c0, d_out, dh_n, dc_n = random_problem(rng, 2)
    lengths = np.array([5, 2, 4]) if packed else None
    ours(x, (h0, c0), lengths=lengths)
    dx, (dh0, dc0) = ours.backward(d_out, (dh_n, dc_n))
    *_, t_dx, t_dh0, t_dc0, t_grads = run_torch(ref, "lstm", x, h0, c0, d_out, dh_n, dc_n, lengths)
    assert_close(dx, t_dx)
    assert_close(dh0, t_dh0)
    assert_close(dc0, t_dc0)
    for name, g in t_grads.items():
        assert_close(ours.grads[name], g)


@pytest.mark.parametrize("kind", list(CELLS))
def test_saturated_gates_equal_torch(rng, kind):
    # Pre-activations of size ~100: sigmoids and tanh saturate; values and gradients stay finite
    # and agree with torch (the LSTM's sigmoid-through-tanh included).
    ours, ref = make_pair(kind)
    for p in ours.parameters():
        p *= 30.0
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    x, h0, c0, d_out, dh_n, dc_n = random_problem(rng, 1)
    x *= 10.0
    out, _ = ours(x, (h0, c0) if is_lstm(kind) else h0)
    dx, dstate0 = ours.backward(d_out, (dh_n, dc_n) if is_lstm(kind) else dh_n)
    t_out, _, _, t_dx, t_dh0, _, t_grads = run_torch(ref, kind, x, h0, c0, d_out, dh_n, dc_n)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(dx))
    assert_close(out, t_out)
    assert_close(dx, t_dx)
    assert_close(dstate0[0] if is_lstm(kind) else dstate0, t_dh0)
    for name, g in t_grads.items():
        assert_close(ours.grads[name], g)


def test_relu_kink_has_zero_derivative_like_torch():
    # All weights and biases 0: every pre-activation is exactly 0, relu'(0) = 0 (torch's choice),
    # so no gradient reaches the weights or the input.
    rnn = RNN(2, 3, nonlinearity="relu", seed=0)
    rnn.load_state_dict({k: np.zeros_like(v) for k, v in rnn.params.items()})
    out, _ = rnn(np.ones((4, 2, 2)))
    assert not out.any()
    dx, dh0 = rnn.backward(np.ones((4, 2, 3)), np.ones((1, 2, 3)))
    assert not dx.any() and not dh0.any()
    assert not any(g.any() for g in rnn.grads.values())


@settings(max_examples=20)
@given(
    kind=st.sampled_from(list(CELLS)),
    a=st.floats(-3, 3),
    b=st.floats(-3, 3),
    seed=st.integers(0, 2**16),
)
def test_backward_is_linear_in_the_incoming_gradients(kind, a, b, seed):
    # dx, dstate0 and the parameter gradients are linear maps of (d_out, d_state_n) for a fixed
    # forward: backward(a g1 + b g2) = a backward(g1) + b backward(g2).
    rng = np.random.default_rng(seed)
    cls, _, kw = CELLS[kind]
    layer = cls(2, 3, 2, seed=seed, **kw)
    x = rng.standard_normal((4, 2, 2))
    layer(x, lengths=[4, 3])
    g1, g2 = rng.standard_normal((2, 4, 2, 3))
    s1, s2 = rng.standard_normal((2, 2, 2, 3))

    def grads(g, s):
        layer.zero_grad()
        dx, d0 = layer.backward(g, (s, s) if is_lstm(kind) else s)
        d0 = np.concatenate(d0) if is_lstm(kind) else d0
        return [dx, d0, *[v.copy() for v in layer.grads.values()]]

    mixed = grads(a * g1 + b * g2, a * s1 + b * s2)
    parts = [a * u + b * v for u, v in zip(grads(g1, s1), grads(g2, s2), strict=True)]
    for m, p in zip(mixed, parts, strict=True):
        np.testing.assert_allclose(m, p, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
def test_trace_keeps_every_layers_hidden_states(cls, rng):
    layer = cls(3, 4, num_layers=2, seed=0)
    with pytest.raises(ValueError, match="no forward has run yet"):
        _ = layer.trace
    x = rng.standard_normal((5, 2, 3))
    out, state = layer(x)
    h_n = state[0] if cls is LSTM else state
    trace = layer.trace
    assert trace.shape == (5, 2, 4) and len(trace.layers) == 2
    np.testing.assert_array_equal(trace.layers[1].hidden[1:], out)  # top layer: the output
    np.testing.assert_array_equal(trace.layers[1].inputs, trace.layers[0].hidden[1:])
    np.testing.assert_array_equal(trace.layers[0].hidden[-1], h_n[0])
    np.testing.assert_array_equal(trace.layers[0].hidden[0], np.zeros((2, 4)))
