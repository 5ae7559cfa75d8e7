"""Bad input to the layers and the language model: each raises an error naming the argument.

Constructors check sizes, flags and ``dtype`` (float32 or float64 only); forward checks ``x``,
states and ``lengths``; backward checks the incoming gradients (``d_out``, ``d_state_n``: shape
and finiteness, as forward checks ``x``); ``load_state_dict`` checks keys, kinds, shapes and
finiteness; the language model checks tokens and its training arguments.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from handgrad.nn import GRU, LSTM, RNN, Embedding, LanguageModel, Linear
from handgrad.nn.bptt import gradient_terms, seed_formula_gradients, truncated_bptt
from handgrad.optim import SGD

T, N, D, H = 3, 2, 3, 4
X = np.linspace(-1.0, 1.0, T * N * D).reshape(T, N, D)
OUT = np.ones((T, N, H))  # an upstream gradient of the output's shape
STATE = np.zeros((1, N, H))


def ran(cls, **kw):
    """A layer (seed 0) after a forward on X (batch_first: X's transpose)."""
    layer = cls(D, H, seed=0, **kw)
    layer(X.transpose(1, 0, 2) if kw.get("batch_first") else X)
    return layer


def with_value(array, index, value):
    out = np.array(array, dtype=np.float64)
    out[index] = value
    return out


def load(layer, **changes):
    """``layer.load_state_dict`` of its own state with some entries replaced (None: removed)."""
    state = layer.state_dict()
    for key, value in changes.items():
        if value is None:
            del state[key]
        else:
            state[key] = value
    layer.load_state_dict(state)


def lm(**kw):
    return LanguageModel(5, 3, seed=0, **kw)


def lm_after_forward():
    model = lm()
    model.loss_and_grad([1, 2, 3], [2, 3, 4])
    return model


def seed_formulas(**changes):
    args = {
        "U": np.full((2, 3), 0.1),
        "W": np.full((2, 2), 0.1),
        "V": np.full((3, 2), 0.1),
        "inputs": np.eye(3),
        "h0": np.zeros(2),
        "targets": [0, 1, 2],
    }
    return seed_formula_gradients(**{**args, **changes})


BAD_INPUTS = [
    # -- wrong type -------------------------------------------------------------------------
    pytest.param(
        lambda: RNN(4.0, H),
        TypeError,
        "input_size must be an integer; got float",
        id="type-rnn-input-size-float",
    ),
    pytest.param(
        lambda: LSTM(D, "8"),
        TypeError,
        "hidden_size must be an integer; got str",
        id="type-lstm-hidden-size-str",
    ),
    pytest.param(
        lambda: GRU(D, H, num_layers=None),
        TypeError,
        "num_layers must be an integer; got NoneType",
        id="type-gru-num-layers-none",
    ),
    pytest.param(
        lambda: RNN(D, H, num_layers=True),
        TypeError,
        "num_layers must be an integer; got bool",
        id="type-rnn-num-layers-bool",
    ),
    pytest.param(
        lambda: RNN(D, H, bias="no"),
        TypeError,
        "bias must be True or False; got str 'no'",
        id="type-rnn-bias-str",
    ),
    pytest.param(
        lambda: LSTM(D, H, batch_first=1),
        TypeError,
        "batch_first must be True or False",
        id="type-lstm-batch-first-int",
    ),
    pytest.param(
        lambda: Linear(D, H, bias=None),
        TypeError,
        "bias must be True or False",
        id="type-linear-bias-none",
    ),
    pytest.param(
        lambda: lm(bias="False"), TypeError, "bias must be True or False", id="type-lm-bias-str"
    ),
    pytest.param(
        lambda: GRU(D, H, rng=42),
        TypeError,
        "rng must be a numpy.random.Generator; got int",
        id="type-rng-seed-int",
    ),
    pytest.param(
        lambda: RNN(D, H, seed="0"),
        TypeError,
        "seed must be an integer; got str",
        id="type-seed-str",
    ),
    pytest.param(
        lambda: Linear("3", 2),
        TypeError,
        "in_features must be an integer; got str",
        id="type-linear-in-features-str",
    ),
    pytest.param(
        lambda: Embedding(None, 2),
        TypeError,
        "num_embeddings must be an integer; got NoneType",
        id="type-embedding-num-embeddings-none",
    ),
    pytest.param(
        lambda: LanguageModel(5.0, 3),
        TypeError,
        "vocab_size must be an integer; got float",
        id="type-lm-vocab-size-float",
    ),
    pytest.param(
        lambda: RNN(D, H, seed=0)(np.full((T, N, D), "a")),
        TypeError,
        "x must be a real numeric array",
        id="type-x-str",
    ),
    pytest.param(
        lambda: GRU(D, H, seed=0)(X + 0j),
        TypeError,
        "x must be a real numeric array",
        id="type-x-complex",
    ),
    pytest.param(
        lambda: ran(RNN).backward(np.full((T, N, H), "g")),
        TypeError,
        "d_out must be a real numeric array",
        id="type-d-out-str",
    ),
    pytest.param(
        lambda: ran(GRU).backward(None),
        TypeError,
        "d_out must be a real numeric array",
        id="type-d-out-none",
    ),
    pytest.param(
        lambda: ran(RNN).backward(OUT, "zeros"),
        TypeError,
        "d_state_n must be a real numeric array",
        id="type-d-state-n-str",
    ),
    pytest.param(
        lambda: ran(LSTM).backward(OUT, STATE),
        TypeError,
        r"d_state_n must be a pair \(h, c\)",
        id="type-lstm-d-state-n-array",
    ),
    pytest.param(
        lambda: LSTM(D, H, seed=0)(X, STATE),
        TypeError,
        r"state must be a pair \(h, c\)",
        id="type-lstm-state-array",
    ),
    pytest.param(
        lambda: RNN(D, H, seed=0).load_state_dict([np.zeros((H, D))]),
        TypeError,
        "state must be a mapping of parameter names to arrays; got list",
        id="type-state-dict-list",
    ),
    pytest.param(
        lambda: load(RNN(D, H, seed=0), bias_hh_l0="zeros"),
        TypeError,
        r"state\['bias_hh_l0'\] must be a real numeric array",
        id="type-state-entry-str",
    ),
    pytest.param(
        lambda: load(GRU(D, H, seed=0), weight_hh_l0={"w": 1.0}),
        TypeError,
        r"state\['weight_hh_l0'\] must be a real numeric array",
        id="type-state-entry-dict",
    ),
    pytest.param(
        lambda: load(Linear(D, 2, seed=0), bias=[object(), object()]),
        TypeError,
        r"state\['bias'\] must be a real numeric array",
        id="type-state-entry-objects",
    ),
    pytest.param(
        lambda: RNN(D, H, seed=0).load_state_dict(RNN(D, H, seed=0).state_dict(), strict="yes"),
        TypeError,
        "strict must be True or False",
        id="type-state-strict-str",
    ),
    pytest.param(
        lambda: lm()(np.array([True, False])),
        TypeError,
        "tokens must be an integer array of token ids; got dtype bool",
        id="type-tokens-bool",
    ),
    pytest.param(
        lambda: lm().loss_and_grad(["a", "b"], [1, 2]),
        TypeError,
        "tokens_in must be an integer array; got dtype <U1",
        id="type-tokens-str",
    ),
    pytest.param(
        lambda: lm().loss_and_grad([1, 2], [[1, 2], [3]]),
        TypeError,
        "targets must be an integer array; got list",
        id="type-targets-ragged",
    ),
    pytest.param(
        lambda: lm()(None),
        TypeError,
        "tokens must be an integer array; got dtype object",
        id="type-tokens-none",
    ),
    pytest.param(
        lambda: Embedding(4, 2)(["0", "1"]),
        TypeError,
        "tokens must be an integer array",
        id="type-embedding-tokens-str",
    ),
    pytest.param(
        lambda: lm().loss_and_grad([1, 2], [2, 3], loss_from="1"),
        TypeError,
        "loss_from must be an integer; got str",
        id="type-loss-from-str",
    ),
    pytest.param(
        lambda: lm().train_step([1, 2], [2, 3], None),
        TypeError,
        r"optimizer must have a step\(\) method",
        id="type-train-step-optimizer-none",
    ),
    pytest.param(
        lambda: lm().train_step([1, 2], [2, 3], SGD(lm()), clip_norm="1"),
        TypeError,
        "clip_norm must be a real number",
        id="type-train-step-clip-norm-str",
    ),
    pytest.param(
        lambda: lm().fit([1, 2, 3, 4], SGD(lm()), seq_length=2, callback=3),
        TypeError,
        "callback must be callable; got int",
        id="type-fit-callback",
    ),
    pytest.param(
        lambda: lm().fit([1, 2, 3, 4], "sgd", seq_length=2),
        TypeError,
        r"optimizer must have a step\(\) method .* got str",
        id="type-fit-optimizer-str",
    ),
    pytest.param(
        lambda: lm_after_forward().state_at(1.0),
        TypeError,
        "step must be an integer; got float",
        id="type-state-at-step-float",
    ),
    # -- wrong dtype ------------------------------------------------------------------------
    pytest.param(
        lambda: RNN(D, H, dtype=np.float16),
        TypeError,
        "dtype must be float32 or float64; got float16",
        id="dtype-rnn-float16",
    ),
    pytest.param(
        lambda: RNN(D, H, dtype=np.int64),
        TypeError,
        "dtype must be float32 or float64; got int64",
        id="dtype-rnn-int64",
    ),
    pytest.param(
        lambda: LSTM(D, H, dtype=np.complex128),
        TypeError,
        "dtype must be float32 or float64; got complex128",
        id="dtype-lstm-complex",
    ),
    pytest.param(
        lambda: GRU(D, H, dtype="float16"),
        TypeError,
        "dtype must be float32 or float64; got float16",
        id="dtype-gru-float16-name",
    ),
    pytest.param(
        lambda: Linear(D, 2, dtype=np.int32),
        TypeError,
        "dtype must be float32 or float64; got int32",
        id="dtype-linear-int32",
    ),
    pytest.param(
        lambda: Embedding(4, 2, dtype=bool),
        TypeError,
        "dtype must be float32 or float64; got bool",
        id="dtype-embedding-bool",
    ),
    pytest.param(
        lambda: lm(dtype=np.float16),
        TypeError,
        "dtype must be float32 or float64; got float16",
        id="dtype-lm-float16",
    ),
    pytest.param(
        lambda: lm(embedding_dim=2, dtype=np.uint8),
        TypeError,
        "dtype must be float32 or float64; got uint8",
        id="dtype-lm-with-embedding-uint8",
    ),
    pytest.param(
        lambda: RNN(D, H, dtype=None),
        TypeError,
        "dtype must be float32 or float64; got NoneType None",
        id="dtype-none",
    ),
    pytest.param(
        lambda: LSTM(D, H, dtype="nonsense"),
        TypeError,
        "dtype must be float32 or float64; got str 'nonsense'",
        id="dtype-unknown-name",
    ),
    pytest.param(
        lambda: RNN(D, H, seed=0)(X.astype(np.float32)),
        TypeError,
        "x has dtype float32 but the module's parameters are float64",
        id="dtype-x-float32-into-float64",
    ),
    pytest.param(
        lambda: RNN(D, H, seed=0).astype(np.int64),
        TypeError,
        "dtype must be float32 or float64; got int64",
        id="dtype-astype-int64",
    ),
    pytest.param(
        lambda: load(RNN(D, H, seed=0), bias_ih_l0=np.zeros(H, dtype=complex)),
        TypeError,
        r"state\['bias_ih_l0'\] must be a real numeric array",
        id="dtype-state-entry-complex",
    ),
    # -- wrong shape ------------------------------------------------------------------------
    pytest.param(
        lambda: RNN(D, H, seed=0)(X[0]),
        ValueError,
        r"x must have shape \(T, N, input_size\) with input_size=3; got \(2, 3\)",
        id="shape-x-2d",
    ),
    pytest.param(
        lambda: GRU(D, H, seed=0)(X[..., :2]),
        ValueError,
        r"x must have shape \(T, N, input_size\) with input_size=3; got \(3, 2, 2\)",
        id="shape-x-wrong-features",
    ),
    pytest.param(
        lambda: GRU(D, H, seed=0, batch_first=True)(X[None]),
        ValueError,
        r"x must have shape \(N, T, input_size\)",
        id="shape-x-4d-batch-first",
    ),
    pytest.param(
        lambda: RNN(D, H, seed=0)(X, np.zeros((2, N, H))),
        ValueError,
        r"state must have shape \(num_layers, N, hidden_size\) = \(1, 2, 4\); got \(2, 2, 4\)",
        id="shape-state-layers",
    ),
    pytest.param(
        lambda: LSTM(D, H, seed=0)(X, (STATE, np.zeros((1, N, H + 1)))),
        ValueError,
        r"state\[1\] \(c\) must have shape",
        id="shape-lstm-state-c",
    ),
    pytest.param(
        lambda: ran(RNN).backward(np.ones((T + 1, N, H))),
        ValueError,
        r"d_out must have the output's shape \(3, 2, 4\); got \(4, 2, 4\)",
        id="shape-d-out-longer",
    ),
    pytest.param(
        lambda: ran(LSTM).backward(OUT[0]),
        ValueError,
        r"d_out must have the output's shape \(3, 2, 4\); got \(2, 4\)",
        id="shape-d-out-2d",
    ),
    pytest.param(
        lambda: ran(GRU, batch_first=True).backward(np.ones((T, N, H))),
        ValueError,
        r"d_out must have the output's shape \(2, 3, 4\); got \(3, 2, 4\)",
        id="shape-d-out-time-first-for-batch-first",
    ),
    pytest.param(
        lambda: ran(GRU).backward(OUT, np.zeros((1, N + 1, H))),
        ValueError,
        r"d_state_n must have shape \(num_layers, N, hidden_size\) = \(1, 2, 4\)",
        id="shape-d-state-n-batch",
    ),
    pytest.param(
        lambda: ran(LSTM).backward(OUT, (None, np.zeros((N, H)))),
        ValueError,
        r"d_state_n\[1\] \(c\) must have shape",
        id="shape-lstm-d-state-n-c",
    ),
    pytest.param(
        lambda: load(RNN(D, H, seed=0), weight_ih_l0=np.zeros((H, D + 1))),
        ValueError,
        r"state\['weight_ih_l0'\] must have shape \(4, 3\); got \(4, 4\)",
        id="shape-state-entry",
    ),
    pytest.param(
        lambda: load(LSTM(D, H, seed=0), bias_hh_l0=np.zeros(H)),
        ValueError,
        r"state\['bias_hh_l0'\] must have shape \(16,\); got \(4,\)",
        id="shape-state-lstm-gates",
    ),
    pytest.param(
        lambda: RNN(D, H, seed=0)(X, lengths=[[3, 3]]),
        ValueError,
        r"lengths must have shape \(N,\) = \(2,\)",
        id="shape-lengths-2d",
    ),
    pytest.param(
        lambda: (lin := Linear(D, 2, seed=0), lin(X), lin.backward(np.zeros((T, N, 3)))),
        ValueError,
        r"d_out must have shape \(3, 2, 2\) \(the output's\); got \(3, 2, 3\)",
        id="shape-linear-d-out",
    ),
    pytest.param(
        lambda: (emb := Embedding(4, 2), emb([0, 1]), emb.backward(np.zeros((2, 3)))),
        ValueError,
        r"d_out must have shape \(2, 2\) \(the output's\); got \(2, 3\)",
        id="shape-embedding-d-out",
    ),
    pytest.param(
        lambda: lm().loss_and_grad(np.zeros((2, 1, 1), dtype=int), np.zeros((2, 1, 1), dtype=int)),
        ValueError,
        r"tokens_in must have shape \(T,\) or \(T, N\) with T, N >= 1; got \(2, 1, 1\)",
        id="shape-tokens-3d",
    ),
    pytest.param(
        lambda: lm()(3),
        ValueError,
        r"tokens must have shape \(T,\) or \(T, N\) with T, N >= 1; got \(\)",
        id="shape-tokens-scalar",
    ),
    pytest.param(
        lambda: lm().loss_and_grad([1, 2], [1, 2, 3]),
        ValueError,
        r"targets must have the shape of tokens_in \(2, 1\); got \(3, 1\)",
        id="shape-targets-longer",
    ),
    pytest.param(
        lambda: lm(cell="lstm").loss_and_grad([1, 2], [2, 3], (np.zeros((1, 2, 3)), None)),
        ValueError,
        r"state\[0\] \(h\) must have shape \(num_layers, N, hidden_size\) = \(1, 1, 3\)",
        id="shape-lm-lstm-state-h",
    ),
    pytest.param(
        lambda: lm().loss_and_grad([1, 2], [2, 3], np.zeros((1, 2, 3))),
        ValueError,
        r"state must have shape \(num_layers, N, hidden_size\) = \(1, 1, 3\)",
        id="shape-lm-state",
    ),
    pytest.param(
        lambda: gradient_terms(RNN(D, H, seed=0), X, 2, np.zeros((N, H + 1))),
        ValueError,
        r"dE_dh must have shape \(N, H\) = \(2, 4\); got \(2, 5\)",
        id="shape-gradient-terms-dE-dh",
    ),
    # -- NaN / inf --------------------------------------------------------------------------
    pytest.param(
        lambda: ran(RNN).backward(with_value(OUT, (1, 0, 2), math.nan)),
        ValueError,
        r"d_out must be finite \(no NaN or inf\); got nan at index \(1, 0, 2\)",
        id="nan-rnn-d-out",
    ),
    pytest.param(
        lambda: ran(GRU).backward(with_value(OUT, (0, 1, 0), math.inf)),
        ValueError,
        r"d_out must be finite .* got inf at index \(0, 1, 0\)",
        id="inf-gru-d-out",
    ),
    pytest.param(
        lambda: ran(LSTM).backward(with_value(OUT, (2, 1, 3), -math.inf)),
        ValueError,
        r"d_out must be finite .* got -inf at index \(2, 1, 3\)",
        id="minus-inf-lstm-d-out",
    ),
    pytest.param(
        lambda: ran(RNN, batch_first=True).backward(
            with_value(np.ones((N, T, H)), (1, 2, 0), math.nan)
        ),
        ValueError,
        r"d_out must be finite .* got nan at index \(1, 2, 0\)",
        id="nan-batch-first-d-out",
    ),
    pytest.param(
        lambda: ran(RNN, nonlinearity="relu").backward(np.full((T, N, H), math.nan)),
        ValueError,
        "d_out must be finite",
        id="nan-relu-rnn-d-out-all",
    ),
    pytest.param(
        lambda: ran(RNN).backward(OUT, with_value(STATE, (0, 1, 1), math.nan)),
        ValueError,
        r"d_state_n must be finite .* got nan at index \(0, 1, 1\)",
        id="nan-rnn-d-state-n",
    ),
    pytest.param(
        lambda: ran(GRU).backward(OUT, with_value(STATE, (0, 0, 0), math.inf)),
        ValueError,
        r"d_state_n must be finite .* got inf",
        id="inf-gru-d-state-n",
    ),
    pytest.param(
        lambda: ran(LSTM).backward(OUT, (with_value(STATE, (0, 0, 3), math.nan), None)),
        ValueError,
        r"d_state_n\[0\] \(h\) must be finite",
        id="nan-lstm-d-state-n-h",
    ),
    pytest.param(
        lambda: ran(LSTM).backward(OUT, (None, with_value(STATE, (0, 1, 2), math.inf))),
        ValueError,
        r"d_state_n\[1\] \(c\) must be finite .* got inf at index \(0, 1, 2\)",
        id="inf-lstm-d-state-n-c",
    ),
    pytest.param(
        lambda: (lin := Linear(D, 2, seed=0), lin(X), lin.backward(np.full((T, N, 2), math.nan))),
        ValueError,
        "d_out must be finite",
        id="nan-linear-d-out",
    ),
    pytest.param(
        lambda: (emb := Embedding(4, 2), emb([0, 1]), emb.backward([[0.0, math.inf], [0, 0]])),
        ValueError,
        r"d_out must be finite .* got inf at index \(0, 1\)",
        id="inf-embedding-d-out",
    ),
    pytest.param(
        lambda: RNN(D, H, seed=0)(with_value(X, (0, 0, 0), math.nan)),
        ValueError,
        r"x must be finite .* index \(0, 0, 0\)",
        id="nan-x",
    ),
    pytest.param(
        lambda: GRU(D, H, seed=0)(X, with_value(STATE, (0, 1, 0), -math.inf)),
        ValueError,
        "state must be finite",
        id="inf-initial-state",
    ),
    pytest.param(
        lambda: load(
            RNN(D, H, seed=0), weight_hh_l0=with_value(np.zeros((H, H)), (2, 3), math.nan)
        ),
        ValueError,
        r"state\['weight_hh_l0'\] must be finite .* got nan at index \(2, 3\)",
        id="nan-state-weight",
    ),
    pytest.param(
        lambda: load(GRU(D, H, seed=0), bias_ih_l0=with_value(np.zeros(3 * H), 5, math.inf)),
        ValueError,
        r"state\['bias_ih_l0'\] must be finite .* got inf at index \(5,\)",
        id="inf-state-bias",
    ),
    pytest.param(
        lambda: load(Linear(D, 2, seed=0), weight=np.full((2, D), -math.inf)),
        ValueError,
        r"state\['weight'\] must be finite",
        id="minus-inf-state-linear",
    ),
    pytest.param(
        lambda: load(lm(embedding_dim=2), **{"embedding.weight": np.full((5, 2), math.nan)}),
        ValueError,
        r"state\['embedding.weight'\] must be finite",
        id="nan-state-lm-prefixed-key",
    ),
    pytest.param(
        lambda: load(RNN(D, H, seed=0, dtype=np.float32), bias_hh_l0=np.full(H, 1e39)),
        ValueError,
        r"state\['bias_hh_l0'\] must fit the module's dtype float32 .* got 1e\+39",
        id="inf-state-overflows-float32",
    ),
    pytest.param(
        lambda: lm().loss_and_grad([1, 2], [2, 3], np.full((1, 1, 3), math.nan)),
        ValueError,
        "state must be finite",
        id="nan-lm-state",
    ),
    pytest.param(
        lambda: lm().loss_and_grad([1.0, math.nan], [2, 3]),
        ValueError,
        "tokens_in must hold whole numbers",
        id="nan-tokens",
    ),
    pytest.param(
        lambda: gradient_terms(RNN(D, H, seed=0), X, 2, np.full((N, H), math.inf)),
        ValueError,
        "dE_dh must be finite",
        id="inf-gradient-terms-dE-dh",
    ),
    pytest.param(
        lambda: seed_formulas(W=with_value(np.zeros((2, 2)), (0, 1), math.nan)),
        ValueError,
        r"W must be finite .* index \(0, 1\)",
        id="nan-seed-formula-W",
    ),
    pytest.param(
        lambda: lm().train_step([1, 2], [2, 3], SGD(lm()), clip_value=math.nan),
        ValueError,
        "clip_value must be a finite number; got nan",
        id="nan-train-step-clip-value",
    ),
    pytest.param(
        lambda: lm().fit([1, 2, 3, 4], SGD(lm()), seq_length=2, clip_norm=math.inf),
        ValueError,
        "clip_norm must be a finite number; got inf",
        id="inf-fit-clip-norm",
    ),
    # -- out of range -----------------------------------------------------------------------
    pytest.param(
        lambda: RNN(0, H),
        ValueError,
        "input_size must be a positive integer; got 0",
        id="range-input-size-zero",
    ),
    pytest.param(
        lambda: GRU(D, -1),
        ValueError,
        "hidden_size must be a positive integer; got -1",
        id="range-hidden-size-negative",
    ),
    pytest.param(
        lambda: LSTM(D, H, num_layers=0),
        ValueError,
        "num_layers must be a positive integer; got 0",
        id="range-num-layers-zero",
    ),
    pytest.param(
        lambda: RNN(D, H, nonlinearity="sigmoid"),
        ValueError,
        "nonlinearity must be one of 'tanh', 'relu'; got 'sigmoid'",
        id="range-nonlinearity",
    ),
    pytest.param(
        lambda: RNN(D, H, nonlinearity="Tanh"),
        ValueError,
        "nonlinearity must be one of 'tanh', 'relu'; got 'Tanh'",
        id="range-nonlinearity-case",
    ),
    pytest.param(
        lambda: lm(nonlinearity="softsign"),
        ValueError,
        "nonlinearity must be one of 'tanh', 'relu'; got 'softsign'",
        id="range-lm-nonlinearity",
    ),
    pytest.param(
        lambda: lm(cell="lstm", nonlinearity="relu"),
        ValueError,
        "nonlinearity applies to cell='rnn' only",
        id="range-lm-nonlinearity-for-lstm",
    ),
    pytest.param(
        lambda: lm(cell="transformer"),
        ValueError,
        "cell must be one of 'rnn', 'lstm', 'gru'; got 'transformer'",
        id="range-lm-cell",
    ),
    pytest.param(
        lambda: LanguageModel(0, 3),
        ValueError,
        "vocab_size must be a positive integer; got 0",
        id="range-lm-vocab-size-zero",
    ),
    pytest.param(
        lambda: lm(embedding_dim=0),
        ValueError,
        "embedding_dim must be a positive integer; got 0",
        id="range-lm-embedding-dim-zero",
    ),
    pytest.param(
        lambda: lm(num_layers=-2),
        ValueError,
        "num_layers must be a positive integer; got -2",
        id="range-lm-num-layers-negative",
    ),
    pytest.param(
        lambda: Linear(D, 0),
        ValueError,
        "out_features must be a positive integer; got 0",
        id="range-linear-out-features",
    ),
    pytest.param(
        lambda: Embedding(4, -2),
        ValueError,
        "embedding_dim must be a positive integer; got -2",
        id="range-embedding-dim-negative",
    ),
    pytest.param(
        lambda: RNN(D, H, seed=-1),
        ValueError,
        "seed must be a non-negative integer; got -1",
        id="range-seed-negative",
    ),
    pytest.param(
        lambda: lm().loss_and_grad([1, 5], [1, 2]),
        ValueError,
        r"tokens_in must hold integers in \[0, 5\); got 5",
        id="range-tokens-vocab-size",
    ),
    pytest.param(
        lambda: lm()([0, -1, 2]),
        ValueError,
        r"tokens must hold integers in \[0, 5\); got -1",
        id="range-tokens-negative",
    ),
    pytest.param(
        lambda: lm().loss_and_grad([1, 2], [2, 7]),
        ValueError,
        r"targets must hold integers in \[0, 5\); got 7",
        id="range-targets-vocab-size",
    ),
    pytest.param(
        lambda: lm().train_step([1, 2], [2, 1.5], SGD(lm())),
        ValueError,
        "targets must hold whole numbers",
        id="range-targets-fractional",
    ),
    pytest.param(
        lambda: lm().fit([0, 1, 9, 2], SGD(lm()), seq_length=2),
        ValueError,
        r"stream must hold integers in \[0, 5\); got 9",
        id="range-fit-stream",
    ),
    pytest.param(
        lambda: Embedding(4, 2)([0, 4]),
        ValueError,
        r"tokens must hold integers in \[0, 4\); got 4",
        id="range-embedding-tokens",
    ),
    pytest.param(
        lambda: lm().loss_and_grad([1, 2], [2, 3], loss_from=2),
        ValueError,
        r"loss_from must be in \[0, 1\]; got 2",
        id="range-loss-from-past-end",
    ),
    pytest.param(
        lambda: lm().loss_and_grad([1, 2], [2, 3], loss_from=-1),
        ValueError,
        "loss_from must be a non-negative integer; got -1",
        id="range-loss-from-negative",
    ),
    pytest.param(
        lambda: lm().loss_and_grad([1, 2], [2, 3], reduction="max"),
        ValueError,
        "reduction must be one of 'mean', 'sum'; got 'max'",
        id="range-reduction",
    ),
    pytest.param(
        lambda: lm().fit([1, 2, 3, 4], SGD(lm()), seq_length=2, reduction="avg"),
        ValueError,
        "reduction must be one of 'mean', 'sum'; got 'avg'",
        id="range-fit-reduction",
    ),
    pytest.param(
        lambda: truncated_bptt(lm(), [1, 2, 3], [2, 3, 4], 2, reduction="none"),
        ValueError,
        "reduction must be one of 'mean', 'sum'; got 'none'",
        id="range-truncated-bptt-reduction",
    ),
    pytest.param(
        lambda: lm().fit([1, 2, 3, 4], SGD(lm()), seq_length=0),
        ValueError,
        "seq_length must be a positive integer; got 0",
        id="range-fit-seq-length-zero",
    ),
    pytest.param(
        lambda: lm().fit([1, 2, 3, 4], SGD(lm()), seq_length=2, epochs=0),
        ValueError,
        "epochs must be a positive integer; got 0",
        id="range-fit-epochs-zero",
    ),
    pytest.param(
        lambda: lm().train_step([1, 2], [2, 3], SGD(lm()), clip_norm=-1.0),
        ValueError,
        r"clip_norm must be in \[0.0, inf\); got -1.0",
        id="range-train-step-clip-norm-negative",
    ),
    pytest.param(
        lambda: lm_after_forward().state_at(4),
        ValueError,
        r"step must be in \[0, T\] = \[0, 3\] \(the latest forward\); got 4",
        id="range-state-at-past-end",
    ),
    pytest.param(
        lambda: lm_after_forward().state_at(-1),
        ValueError,
        "step must be a non-negative integer; got -1",
        id="range-state-at-negative",
    ),
    pytest.param(
        lambda: RNN(D, H, seed=0)(X, lengths=[0, 3]),
        ValueError,
        r"lengths must be in \[1, T\] = \[1, 3\]",
        id="range-lengths-zero",
    ),
    pytest.param(
        lambda: LSTM(D, H, seed=0)(X, lengths=[2, 4]),
        ValueError,
        r"lengths must be in \[1, T\] = \[1, 3\]",
        id="range-lengths-past-end",
    ),
    pytest.param(
        lambda: lm().sample(0, 3, rng=np.random.default_rng(0), temperature=0),
        ValueError,
        r"temperature must be in \(0.0, inf\)",
        id="range-sample-temperature-zero",
    ),
    # -- empty ------------------------------------------------------------------------------
    pytest.param(
        lambda: RNN(D, H, seed=0)(np.zeros((0, N, D))),
        ValueError,
        r"x must hold at least one step and one sequence; got shape \(0, 2, 3\)",
        id="empty-x-no-steps",
    ),
    pytest.param(
        lambda: GRU(D, H, seed=0)(np.zeros((T, 0, D))),
        ValueError,
        r"x must hold at least one step and one sequence; got shape \(3, 0, 3\)",
        id="empty-x-no-sequences",
    ),
    pytest.param(
        lambda: lm().loss_and_grad([], []),
        ValueError,
        r"tokens_in must have shape \(T,\) or \(T, N\) with T, N >= 1; got \(0, 1\)",
        id="empty-tokens",
    ),
    pytest.param(
        lambda: lm()(np.zeros((3, 0), dtype=int)),
        ValueError,
        r"tokens must have shape \(T,\) or \(T, N\) with T, N >= 1; got \(3, 0\)",
        id="empty-tokens-no-streams",
    ),
    pytest.param(
        lambda: lm().fit([1], SGD(lm()), seq_length=2),
        ValueError,
        "stream must hold at least 2 tokens along time; got 1",
        id="empty-fit-stream-of-one",
    ),
    pytest.param(
        lambda: RNN(D, H, seed=0).load_state_dict({}),
        ValueError,
        r"state keys must match .* missing \['bias_hh_l0', 'bias_ih_l0', 'weight_hh_l0', "
        r"'weight_ih_l0'\]",
        id="empty-state-dict",
    ),
    pytest.param(
        lambda: lm().state_at(0),
        ValueError,
        "state_at called before any forward",
        id="empty-state-at-before-forward",
    ),
    pytest.param(
        lambda: GRU(D, H, seed=0).backward(OUT),
        ValueError,
        "backward called before forward",
        id="empty-backward-before-forward",
    ),
    pytest.param(
        lambda: Linear(D, 2, seed=0).backward(np.zeros(2)),
        ValueError,
        "backward called before forward",
        id="empty-linear-backward-before-forward",
    ),
    # -- wrong count ------------------------------------------------------------------------
    pytest.param(
        lambda: load(RNN(D, H, seed=0), weight_ih_l1=np.zeros((H, H))),
        ValueError,
        r"state keys must match .* got unexpected \['weight_ih_l1'\]",
        id="count-state-unknown-key",
    ),
    pytest.param(
        lambda: load(LSTM(D, H, seed=0), bias_ih_l0=None),
        ValueError,
        r"missing \['bias_ih_l0'\]",
        id="count-state-missing-key",
    ),
    pytest.param(
        lambda: RNN(D, H, seed=0).load_state_dict({**RNN(D, H, seed=0).state_dict(), 0: 1.0}),
        ValueError,
        r"state keys must match .* got unexpected \[0\]",
        id="count-state-int-key",
    ),
    pytest.param(
        lambda: load(lm(), **{"rnn.weight_ih_l0": None, "weight_ih_l0": np.zeros((3, 5))}),
        ValueError,
        r"unexpected \['weight_ih_l0'\] and missing \['rnn.weight_ih_l0'\]",
        id="count-state-unprefixed-key",
    ),
    pytest.param(
        lambda: LSTM(D, H, seed=0)(X, (STATE, STATE, STATE)),
        TypeError,
        r"state must be a pair \(h, c\)",
        id="count-lstm-state-triple",
    ),
    pytest.param(
        lambda: ran(LSTM).backward(OUT, (STATE,)),
        TypeError,
        r"d_state_n must be a pair \(h, c\)",
        id="count-lstm-d-state-n-single",
    ),
    pytest.param(
        lambda: RNN(D, H, seed=0)(X, lengths=[3]),
        ValueError,
        r"lengths must have shape \(N,\) = \(2,\); got \(1,\)",
        id="count-lengths-too-few",
    ),
    pytest.param(
        lambda: RNN(D, H, seed=0, rng=np.random.default_rng(0)),
        ValueError,
        "pass either rng or seed, not both",
        id="count-rng-and-seed",
    ),
]


@pytest.mark.parametrize("call, error, match", BAD_INPUTS)
def test_bad_input_raises_naming_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_rejected_state_dict_loads_nothing():
    # Checked entry by entry before any copy: a NaN in the last entry leaves the first intact.
    rnn = RNN(D, H, seed=0)
    before = rnn.state_dict()
    state = {k: np.zeros_like(v) for k, v in before.items()}
    state["bias_hh_l0"][0] = math.nan
    with pytest.raises(ValueError, match=r"state\['bias_hh_l0'\] must be finite"):
        rnn.load_state_dict(state)
    for k, v in rnn.params.items():
        np.testing.assert_array_equal(v, before[k])


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
def test_rejected_backward_leaves_the_gradients_untouched(cls):
    layer = ran(cls)
    with pytest.raises(ValueError, match="d_out must be finite"):
        layer.backward(with_value(OUT, (0, 0, 0), math.nan))
    assert all(not g.any() for g in layer.gradients())


def test_rejected_training_arguments_leave_the_model_untouched():
    # clip_norm is checked before the gradient is computed and before the update.
    model = lm()
    before = model.state_dict()
    with pytest.raises(ValueError, match="clip_norm must be in"):
        model.train_step([1, 2], [2, 3], SGD(model, lr=0.1), clip_norm=-1.0)
    assert all(not g.any() for g in model.gradients())
    for k, v in model.params.items():
        np.testing.assert_array_equal(v, before[k])
