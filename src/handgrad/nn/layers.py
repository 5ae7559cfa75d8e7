r"""``Linear`` and ``Embedding``: the feed-forward layers a language model needs.

Layouts follow PyTorch: ``Linear.weight`` is (out_features, in_features) and
:math:`y = x W^\top + b`; ``Embedding.weight`` is (num_embeddings, embedding_dim) and
``y = weight[tokens]`` (a row gather, the same as multiplying a one-hot matrix by ``weight``).
Initialisation: Linear U(-1/sqrt(in), 1/sqrt(in)) for weight and bias; Embedding N(0, 1).
Inputs and incoming gradients must be finite; tokens are integers (not bools) in [0, V).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from handgrad._checks import (
    as_array,
    as_float_array,
    as_int_array,
    check_bool,
    check_finite,
    check_positive_int,
)
from handgrad.nn.module import Array, Module, make_rng, param_dtype, uniform_init

__all__ = ["Embedding", "Linear", "sum_rows_by_index"]

_ADD_AT_LIMIT = (
    1 << 15
)  # below this many scattered elements np.add.at is faster than a sparse product


def sum_rows_by_index(index: NDArray[np.integer], src: Array, num_rows: int) -> Array:
    """``out[v] = sum of src[m] over the rows m with index[m] = v``: shape (num_rows, G).

    Shapes: index (M,), src (M, G). This is ``onehot(index).T @ src``, the gradient of a row
    gather; small problems use ``np.add.at``, large ones a sparse one-hot product.
    """
    M, G = src.shape
    if M * G <= _ADD_AT_LIMIT:
        out = np.zeros((num_rows, G), dtype=src.dtype)
        np.add.at(out, index, src)
        return out
    import scipy.sparse as sp  # imported on first use: it is slow to import

    onehot_t = sp.csr_matrix(
        (np.ones(M, dtype=src.dtype), (index, np.arange(M))), shape=(num_rows, M)
    )
    return np.asarray(onehot_t @ src)


class Linear(Module):
    r"""Affine layer :math:`y = x W^\top + b` over the last axis.

    Parameters
    ----------
    in_features, out_features : int
        Sizes D and C.
    bias : bool
        Whether to learn ``b``.
    rng, seed :
        Randomness for the initialisation U(-1/sqrt(D), 1/sqrt(D)).
    dtype :
        float64 (default) or float32.

    Backward: with ``g = dL/dy`` of shape (..., C), :math:`dL/dx = g W`,
    :math:`dL/dW = \sum g^\top x`, :math:`dL/db = \sum g` over every leading axis.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        rng: np.random.Generator | None = None,
        seed: int | None = None,
        dtype: Any = np.float64,
    ) -> None:
        super().__init__()
        D = check_positive_int(in_features, "in_features")
        C = check_positive_int(out_features, "out_features")
        bias = check_bool(bias, "bias")
        dtype = param_dtype(dtype)
        gen = make_rng(rng, seed)
        bound = 1.0 / np.sqrt(D)
        self.in_features, self.out_features, self.bias = D, C, bias
        self.add_param("weight", uniform_init(gen, (C, D), bound, dtype))
        if bias:
            self.add_param("bias", uniform_init(gen, (C,), bound, dtype))
        self._x: Array | None = None

    def forward(self, x: ArrayLike) -> Array:
        """``x`` (..., D) -> ``y`` (..., C); keeps ``x`` for backward."""
        xa = as_float_array(x, "x")
        self.check_input_dtype(xa, "x")
        if xa.ndim < 1 or xa.shape[-1] != self.in_features:
            raise ValueError(
                f"x must have shape (..., in_features={self.in_features}); got {xa.shape}"
            )
        check_finite(xa, "x")
        return self._forward(xa)

    def _forward(self, x: Array) -> Array:
        self._x = x
        y = x @ self._params["weight"].T  # (..., C)
        if self.bias:
            y += self._params["bias"]
        return y

    def backward(self, d_out: ArrayLike) -> Array:
        """``dL/dy`` (..., C) -> ``dL/dx`` (..., D); accumulates ``grads["weight"]``, ``grads["bias"]``."""
        if self._x is None:
            raise ValueError("backward called before forward")
        g = as_float_array(d_out, "d_out", dtype=self._x.dtype)
        expected = (*self._x.shape[:-1], self.out_features)
        if g.shape != expected:
            raise ValueError(f"d_out must have shape {expected} (the output's); got {g.shape}")
        check_finite(g, "d_out")
        return self._backward(g)

    def _backward(self, g: Array) -> Array:
        x = self._x
        assert x is not None
        g2 = g.reshape(-1, self.out_features)  # (M, C)
        self._grads["weight"] += g2.T @ x.reshape(-1, self.in_features)
        if self.bias:
            self._grads["bias"] += g2.sum(axis=0)
        return g @ self._params["weight"]  # (..., D)


class Embedding(Module):
    """Lookup table: ``tokens`` (...) of ints in [0, V) -> ``weight[tokens]`` (..., E).

    Backward scatters ``dL/dy`` back into the rows that were read (repeated tokens add up); there
    is no gradient with respect to the integer tokens.
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        *,
        rng: np.random.Generator | None = None,
        seed: int | None = None,
        dtype: Any = np.float64,
    ) -> None:
        super().__init__()
        V = check_positive_int(num_embeddings, "num_embeddings")
        E = check_positive_int(embedding_dim, "embedding_dim")
        dtype = param_dtype(dtype)
        gen = make_rng(rng, seed)
        self.num_embeddings, self.embedding_dim = V, E
        self.add_param("weight", gen.standard_normal((V, E)).astype(dtype))
        self._tokens: NDArray[np.integer] | None = None

    def forward(self, tokens: ArrayLike) -> Array:
        """Integer ``tokens`` of any shape (...) -> (..., E)."""
        idx = check_tokens(tokens, "tokens", self.num_embeddings)
        return self._forward(idx)

    def _forward(self, tokens: NDArray[np.integer]) -> Array:
        self._tokens = tokens
        return np.take(self._params["weight"], tokens, axis=0)

    def backward(self, d_out: ArrayLike) -> None:
        """Accumulate ``grads["weight"]`` from ``dL/dy`` (..., E); returns None (tokens are ints)."""
        if self._tokens is None:
            raise ValueError("backward called before forward")
        g = as_float_array(d_out, "d_out", dtype=self.dtype)
        expected = (*self._tokens.shape, self.embedding_dim)
        if g.shape != expected:
            raise ValueError(f"d_out must have shape {expected} (the output's); got {g.shape}")
        check_finite(g, "d_out")
        self._backward(g)

    def _backward(self, g: Array) -> None:
        assert self._tokens is not None
        self._grads["weight"] += sum_rows_by_index(
            self._tokens.reshape(-1), g.reshape(-1, self.embedding_dim), self.num_embeddings
        )


def check_tokens(tokens: ArrayLike, name: str, vocab_size: int) -> NDArray[np.integer]:
    """Integer array with every entry in [0, vocab_size); raise naming ``name`` otherwise.

    Floats holding whole numbers are accepted (as :func:`~handgrad._checks.as_int_array` does);
    bools, strings, ragged lists and other non-integers raise ``TypeError``.
    """
    arr = as_array(tokens, name, "an integer array")
    if arr.dtype.kind == "b":
        raise TypeError(f"{name} must be an integer array of token ids; got dtype bool")
    idx = as_int_array(arr, name)
    if idx.size and (idx.min() < 0 or idx.max() >= vocab_size):
        bad = idx[(idx < 0) | (idx >= vocab_size)][0]
        raise ValueError(f"{name} must hold integers in [0, {vocab_size}); got {bad}")
    return idx
