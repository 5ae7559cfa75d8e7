"""LanguageModel.sample: a prefix warms the state up, draws are a function of the generator."""

from __future__ import annotations

import numpy as np
import pytest

from handgrad.nn import LanguageModel

CELLS = ["rnn", "lstm", "gru"]


def _model(cell, V=7, H=6, seed=1):
    model = LanguageModel(V, H, cell=cell, seed=seed)
    # larger weights than the default init, so that the distributions are far from uniform
    for p in model.parameters():
        p *= 4.0
    return model


def _greedy_by_full_forward(model, prefix, n):
    """The argmax path, each step a fresh forward over the whole sequence from the zero state."""
    seq = list(prefix)
    out = []
    for _ in range(n):
        logits, _ = model(np.array(seq))  # (len(seq), V)
        nxt = int(np.argmax(logits[-1]))
        out.append(nxt)
        seq.append(nxt)
    return out


@pytest.mark.parametrize("cell", CELLS)
def test_same_generator_state_gives_the_same_tokens(cell):
    model = _model(cell)
    a = model.sample([1, 4, 2], 40, 1.0, np.random.default_rng(5))
    b = model.sample([1, 4, 2], 40, 1.0, np.random.default_rng(5))
    c = model.sample([1, 4, 2], 40, 1.0, np.random.default_rng(6))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.shape == (40,) and a.dtype == np.int64 and a.min() >= 0 and a.max() < 7


@pytest.mark.parametrize("cell", CELLS)
def test_tiny_temperature_is_the_argmax_path_of_full_forwards(cell):
    model = _model(cell, seed=2)
    prefix = [3, 0, 5, 5]
    greedy = model.sample(prefix, 12, 1e-8, np.random.default_rng(0))
    assert greedy.tolist() == _greedy_by_full_forward(model, prefix, 12)
    assert len(set(greedy.tolist())) >= 3  # a path that visits several tokens, not a fixed point


def test_tiny_temperature_matches_a_plain_numpy_tanh_rnn():
    # h_t = tanh(W_ih[:, x_t] + b_ih + W_hh h_{t-1} + b_hh); logits = W_head h_t + b_head
    model = _model("rnn", V=5, H=4, seed=3)
    p = {k: v.copy() for k, v in model.params.items()}
    prefix = [2, 4]
    h = np.zeros(4)
    for tok in prefix:
        a = p["rnn.weight_ih_l0"][:, tok] + p["rnn.bias_ih_l0"]
        a = a + p["rnn.weight_hh_l0"] @ h + p["rnn.bias_hh_l0"]
        h = np.tanh(a)
    expected = []
    for _ in range(10):
        logits = p["head.weight"] @ h + p["head.bias"]
        tok = int(np.argmax(logits))
        expected.append(tok)
        a = p["rnn.weight_ih_l0"][:, tok] + p["rnn.bias_ih_l0"]
        h = np.tanh(a + p["rnn.weight_hh_l0"] @ h + p["rnn.bias_hh_l0"])
    got = model.sample(prefix, 10, temperature=1e-9, rng=np.random.default_rng(1))
    assert got.tolist() == expected
    assert len(set(expected)) >= 2


@pytest.mark.parametrize("cell", CELLS)
def test_an_int_start_is_a_one_token_prefix(cell):
    model = _model(cell)
    a = model.sample(3, 25, rng=np.random.default_rng(2))  # the old call
    b = model.sample([3], 25, 1.0, np.random.default_rng(2))  # the order
    c = model.sample(np.array([3]), 25, rng=np.random.default_rng(2), temperature=1.0)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("cell", CELLS)
def test_the_prefix_warms_the_state_up(cell):
    # sampling after [a, b, c] from zeros = sampling after c from the state left by [a, b]
    model = _model(cell)
    _, state = model(np.array([6, 1]))
    a = model.sample([6, 1, 2], 30, 0.7, np.random.default_rng(9))
    b = model.sample(2, 30, 0.7, np.random.default_rng(9), state=state)
    np.testing.assert_array_equal(a, b)
    # and the prefix matters: another prefix, same generator, other tokens
    c = model.sample([0, 0, 2], 30, 0.7, np.random.default_rng(9))
    assert not np.array_equal(a, c)


def test_one_draw_follows_the_tempered_softmax():
    model = _model("lstm", V=4, H=5, seed=0)
    logits, _ = model(np.array([1, 2]))
    z = logits[-1] / 0.5
    p = np.exp(z - z.max())
    p /= p.sum()  # softmax(z / T) at T = 0.5
    rng = np.random.default_rng(11)
    n = 4000
    draws = np.array([model.sample([1, 2], 1, 0.5, rng)[0] for _ in range(n)])
    freq = np.bincount(draws, minlength=4) / n
    # each frequency is within 5 standard deviations sqrt(p (1 - p) / n) of p
    assert np.all(np.abs(freq - p) <= 5 * np.sqrt(p * (1 - p) / n) + 1e-12)


def test_zero_length_draws_nothing_and_consumes_no_randomness():
    model = _model("gru")
    rng = np.random.default_rng(4)
    before = rng.bit_generator.state
    out = model.sample([1, 2], 0, 1.0, rng)
    assert out.shape == (0,) and out.dtype == np.int64
    assert rng.bit_generator.state == before


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda m: m.sample([], 3, 1.0, np.random.default_rng(0)), ValueError, "prefix must"),
        (
            lambda m: m.sample([[1, 2]], 3, 1.0, np.random.default_rng(0)),
            ValueError,
            r"prefix must be a token id or a non-empty 1-D sequence of token ids; got shape \(1, 2\)",
        ),
        (
            lambda m: m.sample([1, 7], 3, 1.0, np.random.default_rng(0)),
            ValueError,
            r"prefix must hold integers in \[0, 7\); got 7",
        ),
        (lambda m: m.sample(True, 3, 1.0, np.random.default_rng(0)), TypeError, "prefix"),
        (lambda m: m.sample(1, 3), TypeError, "rng must be a numpy.random.Generator; got NoneType"),
        (
            lambda m: m.sample(1, 3, 0.0, np.random.default_rng(0)),
            ValueError,
            r"temperature must be in \(0.0, inf\)",
        ),
        (
            lambda m: m.sample(1, 3, "hot", np.random.default_rng(0)),
            TypeError,
            "temperature must be a real number",
        ),
        (
            lambda m: m.sample(1, -1, 1.0, np.random.default_rng(0)),
            ValueError,
            "length must be a non-negative integer; got -1",
        ),
    ],
)
def test_bad_arguments_get_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call(_model("rnn"))
