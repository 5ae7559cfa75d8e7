"""The assignment's language model: equal to the same model in torch, finite differences,
training, sampling, bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handgrad.gradcheck import assert_grad_close
from handgrad.nn.language_model import LanguageModel
from handgrad.optim import SGD, Adam
from oracle import assert_close, rounding_rtol

TORCH = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}


def torch_loss_and_grads(
    model, cell, tokens, targets, state, reduction, loss_from, num_layers, bias
):
    V, H = model.vocab_size, model.hidden_size
    params = {k: torch.tensor(v, requires_grad=True) for k, v in model.state_dict().items()}
    D = params["embedding.weight"].shape[1] if "embedding.weight" in params else V
    module = TORCH[cell](D, H, num_layers, bias=bias).double()
    tok = torch.tensor(tokens)
    x = (
        params["embedding.weight"][tok]
        if D != V or "embedding.weight" in params
        else F.one_hot(tok, V).double()
    )
    rnn_params = {k[4:]: v for k, v in params.items() if k.startswith("rnn.")}
    if state is not None:
        st = tuple(torch.tensor(s) for s in state) if cell == "lstm" else torch.tensor(state)
        out, sn = torch.func.functional_call(module, rnn_params, (x, st))
    else:
        out, sn = torch.func.functional_call(module, rnn_params, (x,))
    logits = out[loss_from:] @ params["head.weight"].T
    if bias:
        logits = logits + params["head.bias"]
    loss = F.cross_entropy(
        logits.reshape(-1, V), torch.tensor(targets[loss_from:]).reshape(-1), reduction=reduction
    )
    loss.backward()
    hn = sn[0] if cell == "lstm" else sn
    return loss.item(), {k: p.grad.numpy() for k, p in params.items()}, hn.detach().numpy()


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize(
    "embedding_dim,num_layers,bias,reduction,loss_from,with_state",
    [
        (None, 1, True, "mean", 0, False),
        (None, 1, False, "sum", 0, True),
        (3, 2, True, "sum", 2, True),
        (None, 2, True, "mean", 3, False),
    ],
)
def test_loss_and_grad_equal_torch(
    rng, request, split, cell, embedding_dim, num_layers, bias, reduction, loss_from, with_state
):
    # split: the batch of 3 sequences runs as 3 parts on 3 threads (data parallelism)
    calls = request.getfixturevalue("split_batches") if split else None
    V, H, T, N = 6, 4, 5, 3
    model = LanguageModel(
        V, H, cell=cell, embedding_dim=embedding_dim, num_layers=num_layers, bias=bias, seed=1
    )
    tokens, targets = rng.integers(0, V, (T, N)), rng.integers(0, V, (T, N))
    state = None
    if with_state:
        h = rng.standard_normal((num_layers, N, H))
        state = (h, rng.standard_normal((num_layers, N, H))) if cell == "lstm" else h
    loss, grads, state_n = model.loss_and_grad(
        tokens, targets, state, reduction=reduction, loss_from=loss_from
    )
    t_loss, t_grads, t_hn = torch_loss_and_grads(
        model, cell, tokens, targets, state, reduction, loss_from, num_layers, bias
    )
    assert loss == pytest.approx(t_loss, rel=1e-13)
    assert set(grads) == set(t_grads)
    for k in grads:
        assert_close(grads[k], t_grads[k])
    assert_close(state_n[0] if cell == "lstm" else state_n, t_hn)
    assert calls is None or calls == [3]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_split_batch_equals_serial_and_accumulates(rng, monkeypatch, split_batches, cell):
    # the same step, serial and split over 2 threads: equal up to the order of the sums; a
    # second call adds the same gradient again; state_at reads the parts back in batch order
    import handgrad._parallel as parallel

    V, H, T, N = 7, 5, 6, 5
    model = LanguageModel(V, H, cell=cell, num_layers=2, seed=3)
    tokens, targets = rng.integers(0, V, (T, N)), rng.integers(0, V, (T, N))
    monkeypatch.setattr(parallel, "max_workers", lambda: 1)
    loss, grads, state_n = model.loss_and_grad(tokens, targets, loss_from=1)
    serial = {k: g.copy() for k, g in grads.items()}
    serial_states = [model.state_at(s) for s in range(T + 1)]
    assert split_batches == []  # one part: no threads
    monkeypatch.setattr(parallel, "max_workers", lambda: 2)
    model.zero_grad()
    loss2, grads2, state_n2 = model.loss_and_grad(tokens, targets, loss_from=1)
    assert split_batches == [2]
    # the split reorders sums over sequences: the loss sums (T - 1) N terms; each gradient
    # element T N terms, each through T steps of H-term products on a smaller batch; the
    # states T steps of H-term products (the one-hot input products are exact)
    assert loss2 == pytest.approx(loss, rel=rounding_rtol((T - 1) * N))
    for k in serial:
        assert_close(grads2[k], serial[k], rtol=rounding_rtol(T * (N + H)))
    for s in range(T + 1):  # smaller products may round differently in the last bit
        for a, b in zip(np.atleast_1d(model.state_at(s)), np.atleast_1d(serial_states[s])):
            assert_close(a, b, rtol=rounding_rtol(H, steps=T), atol=1e-16)
    for a, b in zip(np.atleast_1d(state_n2), np.atleast_1d(state_n)):
        assert_close(a, b, rtol=rounding_rtol(H, steps=T), atol=1e-16)
    model.loss_and_grad(tokens, targets, loss_from=1)  # no zero_grad: gradients accumulate
    for k in serial:
        assert_close(grads2[k], 2 * serial[k], rtol=rounding_rtol(T * (N + H)))
    # a serial forward afterwards is the latest: state_at follows it
    model(tokens[:, :1])
    assert np.atleast_1d(model.state_at(T))[0].shape[-2] == 1


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cell=st.sampled_from(["rnn", "lstm", "gru"]),
    N=st.integers(1, 7),
    T=st.integers(1, 6),
    workers=st.integers(2, 4),
    loss_from=st.integers(0, 5),
    reduction=st.sampled_from(["mean", "sum"]),
    seed=st.integers(0, 2**16),
)
def test_split_batch_equals_serial_for_any_batch_and_worker_count(
    monkeypatch, split_batches, cell, N, T, workers, loss_from, reduction, seed
):
    # parts of sizes differing by at most one, one per worker (or per sequence when N < workers)
    import handgrad._parallel as parallel

    loss_from = min(loss_from, T - 1)
    gen = np.random.default_rng(seed)
    V, H = 5, 3
    model = LanguageModel(V, H, cell=cell, seed=seed)
    tokens, targets = gen.integers(0, V, (T, N)), gen.integers(0, V, (T, N))
    h0 = gen.standard_normal((1, N, H))
    state = (h0, gen.standard_normal((1, N, H))) if cell == "lstm" else h0
    results = []
    for w in (1, workers):
        monkeypatch.setattr(parallel, "max_workers", lambda w=w: w)
        model.zero_grad()
        loss, grads, state_n = model.loss_and_grad(
            tokens, targets, state, reduction=reduction, loss_from=loss_from
        )
        results.append((loss, {k: g.copy() for k, g in grads.items()}, state_n))
    (loss1, g1, s1), (loss2, g2, s2) = results
    # as in the test above: sums over (T - loss_from) N positions, T steps of H-term products
    assert loss2 == pytest.approx(loss1, rel=rounding_rtol((T - loss_from) * N))
    for k in g1:
        assert_close(g2[k], g1[k], rtol=rounding_rtol(T * (N + H)), atol=1e-15)
    # the products of a smaller batch may round differently in the last bit
    for a, b in zip(np.atleast_1d(s2), np.atleast_1d(s1), strict=True):
        assert_close(a, b, rtol=rounding_rtol(H, steps=T), atol=1e-16)


@pytest.mark.parametrize(("n", "workers"), [(1, 2), (2, 2), (5, 2), (7, 3), (2, 4), (10, 4)])
def test_batch_parts_are_contiguous_and_balanced(monkeypatch, n, workers):
    import handgrad._parallel as parallel

    monkeypatch.setattr(parallel, "max_workers", lambda: workers)
    parts = parallel.batch_parts(n, 1 << 20)
    sizes = [p.stop - p.start for p in parts]
    assert len(parts) == min(n, workers)
    assert parts[0].start == 0 and parts[-1].stop == n
    assert all(a.stop == b.start for a, b in itertools.pairwise(parts))
    assert max(sizes) - min(sizes) <= 1
    assert parallel.batch_parts(n, 0) == [slice(0, n)]  # too little work: one part


def test_split_batch_follows_new_parameter_arrays(rng, monkeypatch, split_batches):
    # astype replaces the parameter arrays: the replicas of the split must follow them
    V, H, T, N = 5, 4, 4, 4
    model = LanguageModel(V, H, cell="lstm", seed=0)
    tokens, targets = rng.integers(0, V, (T, N)), rng.integers(0, V, (T, N))
    model.loss_and_grad(tokens, targets)
    assert split_batches == [3]
    model.astype(np.float32)
    model.params["rnn.weight_hh_l0"][...] *= 3  # only the new arrays see this
    model.zero_grad()
    loss, grads, _ = model.loss_and_grad(tokens, targets)
    reference = LanguageModel(V, H, cell="lstm", seed=0).astype(np.float32)
    assert isinstance(reference, LanguageModel)
    reference.params["rnn.weight_hh_l0"][...] *= 3
    import handgrad._parallel as parallel

    monkeypatch.setattr(parallel, "max_workers", lambda: 1)
    ref_loss, ref_grads, _ = reference.loss_and_grad(tokens, targets)
    assert loss == pytest.approx(ref_loss, rel=1e-6)
    for k in ref_grads:
        assert grads[k].dtype == np.float32
        assert_close(grads[k], ref_grads[k], rtol=1e-5, atol=1e-7)


def test_forward_logits_equal_manual_assignment_formula(rng):
    # H_t = tanh(U I_t + W H_{t-1}), O_t = softmax(V H_t), bias-free: the seed's model, by hand.
    V, H = 5, 3
    model = LanguageModel(V, H, bias=False, seed=2)
    U, W, Vm = (
        model.params["rnn.weight_ih_l0"],
        model.params["rnn.weight_hh_l0"],
        model.params["head.weight"],
    )
    tokens = rng.integers(0, V, 4)
    logits, hn = model(tokens)
    h = np.zeros(H)
    for t, w in enumerate(tokens):
        h = np.tanh(U @ np.eye(V)[w] + W @ h)
        assert_close(logits[t], Vm @ h, rtol=1e-14)
    assert_close(hn[0, 0], h, rtol=1e-14)
    assert logits.shape == (4, V)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_finite_differences_every_parameter(rng, cell):
    V, H, T, N = 4, 3, 3, 2
    model = LanguageModel(V, H, cell=cell, embedding_dim=2, seed=0)
    tokens, targets = rng.integers(0, V, (T, N)), rng.integers(0, V, (T, N))
    names = list(model.params)

    def loss(*weights):
        model.load_state_dict(dict(zip(names, weights, strict=True)))
        logits, _ = model(tokens)
        z = logits.reshape(-1, V)
        lse = np.log(np.exp(z - z.max(1, keepdims=True)).sum(1)) + z.max(1)
        return float(np.sum(lse - z[np.arange(T * N), targets.ravel()]))

    weights = [p.copy() for p in model.params.values()]
    model.zero_grad()
    _, grads, _ = model.loss_and_grad(tokens, targets, reduction="sum")
    analytic = [grads[k].copy() for k in names]
    assert_grad_close(loss, analytic, *weights)


def test_loss_and_grad_accumulates_until_zero_grad(rng):
    model = LanguageModel(5, 3, seed=0)
    tok, tgt = rng.integers(0, 5, 6), rng.integers(0, 5, 6)
    _, g1, _ = model.loss_and_grad(tok, tgt)
    first = {k: v.copy() for k, v in g1.items()}
    _, g2, _ = model.loss_and_grad(tok, tgt)
    for k in first:
        assert_close(g2[k], 2 * first[k], rtol=1e-14)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_fit_learns_a_periodic_stream(cell):
    # "abcd" repeated: after training the next character is predictable, loss far below log 4.
    stream = np.tile(np.arange(4), 60)
    model = LanguageModel(4, 16, cell=cell, seed=0)
    losses = model.fit(stream, Adam(model, lr=0.05), seq_length=12, epochs=3, clip_norm=5.0)
    assert losses.shape == (3 * -(-239 // 12),)
    assert losses[0] > 1.0 and losses[-1] < 0.05
    greedy = model.sample(0, 8, rng=np.random.default_rng(0), temperature=1e-3)
    np.testing.assert_array_equal(greedy, [1, 2, 3, 0, 1, 2, 3, 0])


def test_train_step_is_zero_grad_loss_clip_update(rng):
    model, twin = LanguageModel(5, 4, seed=3), LanguageModel(5, 4, seed=3)
    tok, tgt = rng.integers(0, 5, (6, 2)), rng.integers(0, 5, (6, 2))
    loss, state = model.train_step(tok, tgt, SGD(model, lr=0.5), clip_value=0.01)
    twin.zero_grad()
    loss2, grads, state2 = twin.loss_and_grad(tok, tgt)
    for k, p in twin.params.items():
        p -= 0.5 * np.clip(grads[k], -0.01, 0.01)
    assert loss == loss2
    np.testing.assert_array_equal(state, state2)
    for k in model.params:
        np.testing.assert_array_equal(model.params[k], twin.params[k])


def test_sample_is_reproducible_and_in_range():
    model = LanguageModel(7, 5, cell="lstm", seed=1)
    a = model.sample(3, 50, rng=np.random.default_rng(5))
    b = model.sample(3, 50, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.int64 and a.min() >= 0 and a.max() < 7
    assert model.sample(3, 0, rng=np.random.default_rng(5)).shape == (0,)


def test_float32_training_step():
    model = LanguageModel(6, 5, cell="lstm", seed=0, dtype=np.float32)
    loss, state = model.train_step(np.arange(6) % 6, (np.arange(6) + 1) % 6, SGD(model, lr=0.1))
    assert state[0].dtype == np.float32 and all(p.dtype == np.float32 for p in model.parameters())
    assert np.isfinite(loss)


def test_bad_input_gives_clear_errors(rng):
    model = LanguageModel(5, 3, seed=0)
    with pytest.raises(ValueError, match=r"tokens_in must hold integers in \[0, 5\); got 5"):
        model.loss_and_grad([1, 5], [1, 2])
    with pytest.raises(
        ValueError, match=r"targets must have the shape of tokens_in \(2, 1\); got \(3, 1\)"
    ):
        model.loss_and_grad([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match=r"loss_from must be in \[0, 1\]; got 2"):
        model.loss_and_grad([1, 2], [1, 2], loss_from=2)
    with pytest.raises(
        ValueError, match=r"state must have shape \(num_layers, N, hidden_size\) = \(1, 1, 3\)"
    ):
        model.loss_and_grad([1, 2], [1, 2], np.zeros((1, 2, 3)))
    with pytest.raises(
        ValueError, match="cell must be one of 'rnn', 'lstm', 'gru'; got 'transformer'"
    ):
        LanguageModel(5, 3, cell="transformer")
    with pytest.raises(TypeError, match="tokens must be an integer array; got dtype <U1"):
        model(np.array(["a"]))
    with pytest.raises(ValueError, match="tokens must hold whole numbers"):
        model(np.array([0.5]))
    with pytest.raises(ValueError, match=r"temperature must be in \(0.0, inf\)"):
        model.sample(0, 3, rng=np.random.default_rng(0), temperature=0)
