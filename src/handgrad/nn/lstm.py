r"""LSTM, PyTorch's ``nn.LSTM`` (gate order i, f, g, o), with a hand-derived backward through time.

Forward, per layer and step, with :math:`a_t = W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}`
split into four H-blocks :math:`(a^i, a^f, a^g, a^o)`:

.. math:: i = \sigma(a^i),\ f = \sigma(a^f),\ g = \tanh(a^g),\ o = \sigma(a^o),\quad
          c_t = f \odot c_{t-1} + i \odot g,\quad h_t = o \odot \tanh(c_t)

Backward, from :math:`g^h_t = \partial L/\partial h_t` and :math:`g^c_t` (what flows back into
:math:`c_t` from t + 1):

.. math:: \bar c_t = g^c_t + g^h_t \odot o \odot (1 - \tanh^2 c_t),\quad
          \delta^o = g^h_t \odot \tanh(c_t) \odot o(1-o),\quad
          \delta^i = \bar c_t \odot g \odot i(1-i),

.. math:: \delta^f = \bar c_t \odot c_{t-1} \odot f(1-f),\quad
          \delta^g = \bar c_t \odot i \odot (1-g^2),\quad
          g^c_{t-1} = \bar c_t \odot f,\quad g^h_{t-1} \mathrel{+}= \delta_t W_{hh}.

The factors multiplying :math:`\bar c_t` and :math:`g^h_t` are computed for all steps at once
before the loop, so each step costs a handful of preallocated element-wise products and one GEMM.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit

from handgrad.nn.module import Array
from handgrad.nn.recurrent import RecurrentBase, States

__all__ = ["LSTM", "lstm_layer_backward", "lstm_layer_forward"]


def lstm_layer_forward(
    xw: Array, h0: Array, c0: Array, w_hh: Array, mask: NDArray[np.bool_] | None
) -> tuple[Array, Array, Array, Array]:
    """One layer's recurrence; ``xw`` (T, N, 4H) input projections plus biases, overwritten.

    Returns ``acts`` (T, N, 4H) = (i, f, g, o) after their nonlinearities (``xw``'s memory),
    ``hs`` and ``cs`` (T + 1, N, H) with the initial states at index 0, and ``tcs`` (T, N, H)
    = tanh(c_t).
    """
    T, N, G = xw.shape
    H = G // 4
    dtype = xw.dtype
    hs = np.empty((T + 1, N, H), dtype=dtype)  # (T+1, N, H)
    cs = np.empty((T + 1, N, H), dtype=dtype)  # (T+1, N, H)
    tcs = np.empty((T, N, H), dtype=dtype)  # (T, N, H) tanh(c_t)
    hs[0], cs[0] = h0, c0
    acts = xw  # (T, N, 4H) pre-activations, turned into activations in place
    A_if, A_i, A_f = acts[:, :, : 2 * H], acts[:, :, :H], acts[:, :, H : 2 * H]
    A_g, A_o = acts[:, :, 2 * H : 3 * H], acts[:, :, 3 * H :]
    w_t = w_hh.T  # (H, 4H)
    tmp = np.empty((N, G), dtype=dtype)  # (N, 4H) h_{t-1} W_hh^T
    ig = np.empty((N, H), dtype=dtype)  # (N, H) i * g
    dot, mul, tanh, sig = np.dot, np.multiply, np.tanh, expit
    notmask = None if mask is None else ~mask
    for t in range(T):
        a = acts[t]
        dot(hs[t], w_t, out=tmp)
        a += tmp
        v = A_if[t]
        sig(v, out=v)
        v = A_g[t]
        tanh(v, out=v)
        v = A_o[t]
        sig(v, out=v)
        c = cs[t + 1]
        mul(A_f[t], cs[t], out=c)
        mul(A_i[t], A_g[t], out=ig)
        c += ig
        tc = tcs[t]
        tanh(c, out=tc)
        h = hs[t + 1]
        mul(A_o[t], tc, out=h)
        if notmask is not None:
            np.copyto(h, hs[t], where=notmask[t])
            np.copyto(c, cs[t], where=notmask[t])
    return acts, hs, cs, tcs


def lstm_layer_backward(
    dhs: Array,
    dh_n: Array | None,
    dc_n: Array | None,
    acts: Array,
    cs: Array,
    tcs: Array,
    w_hh: Array,
    mask: NDArray[np.bool_] | None,
) -> tuple[Array, Array, Array]:
    """Backward of :func:`lstm_layer_forward`.

    Returns ``delta`` (T, N, 4H) = dL/d(pre-activations) (zero at padded steps), dL/dh0 and
    dL/dc0 (N, H).
    """
    T, N, H = dhs.shape
    dtype = dhs.dtype
    i, f = acts[:, :, :H], acts[:, :, H : 2 * H]
    g, o = acts[:, :, 2 * H : 3 * H], acts[:, :, 3 * H :]
    # factors for all steps at once, in place (no temporaries)
    K = np.empty((T, N, 4 * H), dtype=dtype)  # (T, N, 4H) d(pre-activation)/d(c-bar or h)
    Ki, Kf, Kg, Ko = (K[:, :, k * H : (k + 1) * H] for k in range(4))
    np.subtract(1, i, out=Ki)
    Ki *= i
    Ki *= g  # delta^i / c-bar = g i (1 - i)
    np.subtract(1, f, out=Kf)
    Kf *= f
    Kf *= cs[:-1]  # delta^f / c-bar = c_{t-1} f (1 - f)
    np.multiply(g, g, out=Kg)
    np.subtract(1, Kg, out=Kg)
    Kg *= i  # delta^g / c-bar = i (1 - g^2)
    np.subtract(1, o, out=Ko)
    Ko *= o
    Ko *= tcs  # delta^o / g^h = tanh(c_t) o (1 - o)
    Kc = np.multiply(tcs, tcs)  # (T, N, H) d c-bar / d g^h = o (1 - tanh^2 c_t)
    np.subtract(1, Kc, out=Kc)
    Kc *= o
    F = f  # (T, N, H) d g^c_{t-1} / d c-bar
    keep = None
    if mask is not None:
        K *= mask
        Kc *= mask
        F = np.where(mask, f, 1)
        keep = (~mask).astype(dtype)  # (T, N, 1)
    delta = np.empty((T, N, 4 * H), dtype=dtype)  # (T, N, 4H)
    D3 = delta.reshape(T, N, 4, H)[:, :, :3]  # (T, N, 3, H) delta^i, delta^f, delta^g
    K3 = K.reshape(T, N, 4, H)[:, :, :3]
    Do = delta[:, :, 3 * H :]
    dh = np.zeros((N, H), dtype=dtype) if dh_n is None else dh_n.copy()  # (N, H)
    dcb = np.zeros((N, 1, H), dtype=dtype)  # (N, 1, H) c-bar, broadcast over the 3 gates
    if dc_n is not None:
        dcb[:, 0] = dc_n
    dc = dcb[:, 0]  # (N, H) view
    tmp = np.empty((N, H), dtype=dtype)
    dot, mul = np.dot, np.multiply
    for t in range(T - 1, -1, -1):
        dh += dhs[t]
        mul(dh, Kc[t], out=tmp)
        dc += tmp
        mul(K3[t], dcb, out=D3[t])
        mul(dh, Ko[t], out=Do[t])
        dc *= F[t]
        if keep is None:
            dot(delta[t], w_hh, out=dh)
        else:
            dh *= keep[t]
            dot(delta[t], w_hh, out=tmp)
            dh += tmp
    return delta, dh, dc.copy()


class LSTM(RecurrentBase):
    """Multi-layer LSTM with PyTorch's ``nn.LSTM`` parameters (gates i, f, g, o) and semantics.

    ``out, (h_n, c_n) = lstm(x, (h0, c0))`` with x (T, N, D) (or (N, T, D) if batch_first),
    h0, c0 (num_layers, N, H) (the pair, or either entry, may be None for zeros);
    ``dx, (dh0, dc0) = lstm.backward(d_out, (d_h_n, d_c_n))``. Parameters as :class:`RNN`'s,
    without ``nonlinearity``; weights are (4H, ·).
    """

    num_gates = 4
    num_states = 2

    def _pack_state(self, states: States) -> Any:
        return (states[0], states[1])

    def _unpack_state(self, state: Any, name: str) -> tuple[Any, ...]:
        if not isinstance(state, tuple | list) or len(state) != 2:
            raise TypeError(
                f"{name} must be a pair (h, c) of (num_layers, N, hidden_size) arrays or None; "
                f"got {type(state).__name__}"
            )
        return tuple(state)

    def _layer_forward(
        self, xw: Array, state0: States, w_hh: Array, b_hh: Array | None, mask: Any
    ) -> tuple[Array, States, Any]:
        acts, hs, cs, tcs = lstm_layer_forward(xw, state0[0], state0[1], w_hh, mask)
        return hs, (hs[-1], cs[-1]), {"states": (hs, cs), "acts": acts, "tcs": tcs, "mask": mask}

    def _layer_backward(
        self, dhs: Array, dstate_n: tuple[Array | None, ...], cache: Any, w_hh: Array
    ) -> tuple[Array, Array, States]:
        _, cs = cache["states"]
        delta, dh0, dc0 = lstm_layer_backward(
            dhs, dstate_n[0], dstate_n[1], cache["acts"], cs, cache["tcs"], w_hh, cache["mask"]
        )
        return delta, delta, (dh0, dc0)
