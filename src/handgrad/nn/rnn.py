r"""Elman RNN (tanh or relu), PyTorch's ``nn.RNN``, with a hand-derived backward through time.

Forward, per layer and step:

.. math:: h_t = f(a_t),\quad a_t = W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh},
          \quad f \in \{\tanh, \mathrm{relu}\}

Backward, from :math:`g_t = \partial L / \partial h_t` (output gradient at t plus what flows back
from t + 1), for t = T .. 1:

.. math:: \delta_t = g_t \odot f'(a_t),\quad
          \frac{\partial L}{\partial h_{t-1}} \mathrel{+}= \delta_t W_{hh},

with :math:`\tanh'(a_t) = 1 - h_t^2` and :math:`\mathrm{relu}'(a_t) = [h_t > 0]` (0 at the
kink, as PyTorch). Weight gradients are single products over all steps (see ``recurrent.py``).
Only the recurrence is a Python loop; every per-step array is preallocated and written with
``out=``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from handgrad._checks import check_choice
from handgrad.nn.module import Array
from handgrad.nn.recurrent import RecurrentBase, States

__all__ = ["RNN", "rnn_layer_backward", "rnn_layer_forward"]


def rnn_layer_forward(
    xw: Array, h0: Array, w_hh: Array, mask: NDArray[np.bool_] | None, relu: bool
) -> Array:
    """One layer's recurrence: ``xw`` (T, N, H) = input projections plus biases.

    Returns ``hs`` (T + 1, N, H) with ``hs[0] = h0`` and ``hs[t + 1]`` the state after step t
    (kept, not updated, at padded steps where ``mask[t, n]`` is False).
    """
    T, N, H = xw.shape
    hs = np.empty((T + 1, N, H), dtype=xw.dtype)  # (T+1, N, H) states, hs[0] = h0
    hs[0] = h0
    w_t = np.ascontiguousarray(w_hh.T)  # (H, H): BLAS is faster on a contiguous operand
    dot, act = np.dot, (np.tanh if not relu else None)
    for t in range(T):
        h = hs[t + 1]
        dot(hs[t], w_t, out=h)
        h += xw[t]
        if act is not None:
            act(h, out=h)
        else:
            np.maximum(h, 0, out=h)
        if mask is not None:
            np.copyto(h, hs[t], where=~mask[t])
    return hs


def rnn_layer_backward(
    dhs: Array,
    dh_n: Array | None,
    hs: Array,
    w_hh: Array,
    mask: NDArray[np.bool_] | None,
    relu: bool,
) -> tuple[Array, Array]:
    """Backward of :func:`rnn_layer_forward`: ``dhs`` (T, N, H) = dL/d(outputs), ``dh_n`` (N, H).

    Returns ``delta`` (T, N, H) = dL/d(pre-activations) (zero at padded steps) and dL/dh0 (N, H).
    """
    T, N, H = dhs.shape
    h = hs[1:]  # (T, N, H)
    if relu:
        deriv = (h > 0).astype(h.dtype)  # (T, N, H) relu'(a_t), 0 at the kink
    else:
        deriv = np.multiply(h, h)
        np.subtract(1, deriv, out=deriv)  # (T, N, H) 1 - h_t^2
    if mask is not None:
        deriv *= mask
    delta = np.empty_like(dhs)  # (T, N, H)
    dh = np.zeros((N, H), dtype=dhs.dtype) if dh_n is None else dh_n.copy()  # (N, H)
    dot, mul = np.dot, np.multiply
    if mask is None:
        for t in range(T - 1, -1, -1):
            dh += dhs[t]
            d = delta[t]
            mul(dh, deriv[t], out=d)
            dot(d, w_hh, out=dh)
    else:
        keep = (~mask).astype(dhs.dtype)  # (T, N, 1) 1 at padded steps: the state passes through
        tmp = np.empty((N, H), dtype=dhs.dtype)
        for t in range(T - 1, -1, -1):
            dh += dhs[t]
            d = delta[t]
            mul(dh, deriv[t], out=d)
            dh *= keep[t]
            dot(d, w_hh, out=tmp)
            dh += tmp
    return delta, dh


class RNN(RecurrentBase):
    """Multi-layer Elman RNN with PyTorch's ``nn.RNN`` parameters and semantics.

    Parameters
    ----------
    input_size, hidden_size : int
        D and H.
    num_layers : int
        Stacked layers; layer k > 0 reads layer k - 1's outputs.
    nonlinearity : {"tanh", "relu"}
    bias : bool
        Whether to learn ``bias_ih_l{k}`` and ``bias_hh_l{k}``.
    batch_first : bool
        Input and output (N, T, ·) instead of (T, N, ·).
    rng, seed, dtype :
        Initialisation U(-1/sqrt(H), 1/sqrt(H)); parameter dtype (float64 or float32).

    Examples
    --------
    ``out, h_n = rnn(x, h0)`` with x (T, N, D), h0 (num_layers, N, H) or None;
    ``dx, dh0 = rnn.backward(d_out, d_h_n)``.
    """

    num_gates = 1
    num_states = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        *,
        rng: np.random.Generator | None = None,
        seed: int | None = None,
        dtype: Any = np.float64,
    ) -> None:
        check_choice(nonlinearity, "nonlinearity", ("tanh", "relu"))
        self.nonlinearity = nonlinearity
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, rng=rng, seed=seed, dtype=dtype
        )

    def _layer_forward(
        self, xw: Array, state0: States, w_hh: Array, b_hh: Array | None, mask: Any
    ) -> tuple[Array, States, Any]:
        hs = rnn_layer_forward(xw, state0[0], w_hh, mask, self.nonlinearity == "relu")
        return hs, (hs[-1],), {"states": (hs,), "mask": mask}

    def _layer_backward(
        self, dhs: Array, dstate_n: tuple[Array | None, ...], cache: Any, w_hh: Array
    ) -> tuple[Array, Array, States]:
        (hs,) = cache["states"]
        delta, dh0 = rnn_layer_backward(
            dhs, dstate_n[0], hs, w_hh, cache["mask"], self.nonlinearity == "relu"
        )
        return delta, delta, (dh0,)
