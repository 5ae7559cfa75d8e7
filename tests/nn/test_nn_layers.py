"""Module base, Linear and Embedding: torch equality, finite differences, state dicts, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from handgrad.gradcheck import assert_grad_close
from handgrad.nn import Embedding, Linear
from handgrad.nn.language_model import LanguageModel
from handgrad.nn.layers import sum_rows_by_index
from oracle import assert_close, rounding_rtol


@pytest.mark.parametrize("bias", [True, False])
def test_linear_equals_torch_and_finite_differences(rng, bias):
    lin = Linear(4, 3, bias=bias, seed=0)
    x, g = rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 5, 3))
    y = lin(x)
    dx = lin.backward(g)
    ref = torch.nn.Linear(4, 3, bias=bias).double()
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in lin.state_dict().items()})
    xt = torch.tensor(x, requires_grad=True)
    yt = ref(xt)
    (yt * torch.tensor(g)).sum().backward()
    assert_close(y, yt.detach().numpy())
    assert_close(dx, xt.grad.numpy())
    for k, p in ref.named_parameters():
        assert_close(lin.grads[k], p.grad.numpy())
    names = list(lin.params)

    def loss(x_, *w):
        lin.load_state_dict(dict(zip(names, w, strict=True)))
        return float(np.sum(lin(x_) * g))

    weights = [p.copy() for p in lin.params.values()]
    assert_grad_close(loss, [dx, *[lin.grads[k] for k in names]], x, *weights)


def test_linear_worked_example():
    # y = W x + b = [[1, 2], [3, 4]] @ [1, -1] + [0.5, 0] = [-1 + 0.5, -1] = [-0.5, -1]
    lin = Linear(2, 2, seed=0)
    lin.load_state_dict({"weight": [[1, 2], [3, 4]], "bias": [0.5, 0]})
    np.testing.assert_array_equal(lin(np.array([1.0, -1.0])), [-0.5, -1.0])


def test_embedding_gradient_adds_repeated_tokens(rng):
    # tokens [[1, 1], [3, 1]]: row 1 gets three gradient rows, row 3 one, rows 0, 2 nothing.
    emb = Embedding(4, 2, seed=0)
    tokens = np.array([[1, 1], [3, 1]])
    y = emb(tokens)
    np.testing.assert_array_equal(y[1, 0], emb.params["weight"][3])
    g = np.arange(8.0).reshape(2, 2, 2)
    emb.backward(g)
    expected = np.zeros((4, 2))
    expected[1] = g[0, 0] + g[0, 1] + g[1, 1]  # (0+2+6, 1+3+7) = (8, 11)
    expected[3] = g[1, 0]
    np.testing.assert_array_equal(emb.grads["weight"], expected)
    ref = torch.nn.Embedding(4, 2).double()
    ref.weight.data = torch.tensor(emb.params["weight"])
    (ref(torch.tensor(tokens)) * torch.tensor(g)).sum().backward()
    assert_close(emb.grads["weight"], ref.weight.grad.numpy())


@pytest.mark.parametrize("M", [10, 5000])  # both paths: np.add.at and the sparse product
def test_sum_rows_by_index_equals_dense_one_hot_product(rng, M):
    idx = rng.integers(0, 7, M)
    src = rng.standard_normal((M, 9))
    out = sum_rows_by_index(idx, src, 8)  # row 7 never indexed: zeros
    # each row sums its indexed rows in another order than the BLAS product does
    assert_close(out, np.eye(8)[idx].T @ src, rtol=rounding_rtol(int(np.bincount(idx).max())))
    assert not out[7].any()


def test_module_state_dict_names_iteration_and_load():
    model = LanguageModel(5, 3, cell="gru", embedding_dim=2, seed=0)
    names = [k for k, _ in model.named_parameters()]
    assert names == [
        "embedding.weight",
        "rnn.weight_ih_l0",
        "rnn.weight_hh_l0",
        "rnn.bias_ih_l0",
        "rnn.bias_hh_l0",
        "head.weight",
        "head.bias",
    ]
    assert [g.shape for g in model.gradients()] == [p.shape for p in model.parameters()]
    state = model.state_dict()
    state["head.bias"][...] = 7.0  # a copy: the model is untouched
    assert not np.any(model.params["head.bias"] == 7.0)
    live = model.params["head.bias"]
    model.load_state_dict(state)
    assert model.params["head.bias"] is live  # loaded in place: optimizers keep their references
    np.testing.assert_array_equal(live, 7.0)
    model.astype(np.float32)
    assert model.dtype == np.float32 and all(g.dtype == np.float32 for g in model.gradients())
    with pytest.raises(TypeError, match="dtype must be float32 or float64; got int64"):
        model.astype(np.int64)


def test_layer_bad_input():
    lin = Linear(3, 2)
    with pytest.raises(ValueError, match=r"x must have shape \(..., in_features=3\); got \(2, 4\)"):
        lin(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="x must be finite"):
        lin(np.array([0.0, np.inf, 1.0]))
    with pytest.raises(ValueError, match="backward called before forward"):
        Linear(3, 2).backward(np.zeros(2))
    with pytest.raises(ValueError, match=r"tokens must hold integers in \[0, 4\); got -1"):
        Embedding(4, 2)([0, -1])
    with pytest.raises(ValueError, match="in_features must be a positive integer; got 0"):
        Linear(0, 2)
