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

Speed: the forward evaluates the three sigmoids as :math:`\sigma(a) = (1 + \tanh(a/2))/2`, so one
``tanh`` over all 4H columns serves the four gates; the backward computes the factors multiplying
:math:`\bar c_t` and :math:`g^h_t` a cache-sized block of steps at a time, so each step costs a
handful of preallocated element-wise products and one GEMM.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

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
    # sigmoid(a) = (1 + tanh(a / 2)) / 2: halving the i, f, o pre-activations (exact in binary)
    # lets one tanh over all 4H columns serve the four gates.
    half = np.ones(G, dtype=dtype)  # (4H,) 1/2 for i, f, o; 1 for g
    half[: 2 * H] = half[3 * H :] = 0.5
    A_if *= 0.5
    A_o *= 0.5
    transposed = dtype == np.float32  # OpenBLAS sgemm is faster as (4H, H) @ (H, N) here
    w_s = w_hh * half[:, None] if transposed else np.ascontiguousarray(w_hh.T * half)
    tmp = np.empty((G, N) if transposed else (N, G), dtype=dtype)  # h_{t-1} W_hh^T (or its T)
    tmp_v = tmp.T if transposed else tmp  # (N, 4H)
    ig = np.empty((N, H), dtype=dtype)  # (N, H) i * g
    shift = 1 - half  # (4H,) 1/2 for i, f, o; 0 for g
    dot, mul, tanh = np.dot, np.multiply, np.tanh
    notmask = None if mask is None else ~mask
    for t in range(T):
        a = acts[t]
        if transposed:
            dot(w_s, hs[t].T, out=tmp)
        else:
            dot(hs[t], w_s, out=tmp)
        a += tmp_v
        tanh(a, out=a)
        mul(a, half, out=a)  # i, f, o: (1 + tanh) / 2; g: tanh, in two passes over all 4H
        a += shift
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


_BLOCK_ELEMENTS = 1 << 15  # steps x N x H per block of backward factors (a few hundred KiB)


def _lstm_factors(acts: Array, cs: Array, tcs: Array, K: Array, Kc: Array) -> None:
    """Fill K (B, N, 4H) = (g i(1-i), c_{t-1} f(1-f), i(1-g^2), tanh(c_t) o(1-o)) and
    Kc (B, N, H) = o (1 - tanh^2 c_t) for B steps; ``cs`` holds c_{t-1} for those steps."""
    H = tcs.shape[2]
    A_if, i = acts[:, :, : 2 * H], acts[:, :, :H]
    g, o = acts[:, :, 2 * H : 3 * H], acts[:, :, 3 * H :]
    K_if, Ki, Kf = K[:, :, : 2 * H], K[:, :, :H], K[:, :, H : 2 * H]
    Kg, Ko = K[:, :, 2 * H : 3 * H], K[:, :, 3 * H :]
    np.subtract(1, A_if, out=K_if)
    K_if *= A_if  # (i(1-i), f(1-f)) in one pass
    Ki *= g  # delta^i / c-bar
    Kf *= cs  # delta^f / c-bar
    np.multiply(g, g, out=Kg)
    np.subtract(1, Kg, out=Kg)
    Kg *= i  # delta^g / c-bar
    np.subtract(1, o, out=Ko)
    Ko *= o
    Ko *= tcs  # delta^o / g^h
    np.multiply(tcs, tcs, out=Kc)
    np.subtract(1, Kc, out=Kc)
    Kc *= o  # d c-bar / d g^h


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
    f = acts[:, :, H : 2 * H]  # (T, N, H) forget gate: d g^c_{t-1} / d c-bar
    # The factors multiplying c-bar and g^h are computed a block of B steps at a time, so they
    # are still in cache when the step loop reads them.
    B = max(1, min(T, _BLOCK_ELEMENTS // (N * H)))
    K_buf = np.empty((B, N, 4 * H), dtype=dtype)  # (B, N, 4H) d(pre-activation)/d(c-bar or h)
    Kc_buf = np.empty((B, N, H), dtype=dtype)  # (B, N, H) d c-bar / d g^h
    delta = np.empty((T, N, 4 * H), dtype=dtype)  # (T, N, 4H)
    D3 = delta.reshape(T, N, 4, H)[:, :, :3]  # (T, N, 3, H) delta^i, delta^f, delta^g
    Do = delta[:, :, 3 * H :]
    dh = np.zeros((N, H), dtype=dtype) if dh_n is None else dh_n.copy()  # (N, H)
    dcb = np.zeros((N, 1, H), dtype=dtype)  # (N, 1, H) c-bar, broadcast over the 3 gates
    if dc_n is not None:
        dcb[:, 0] = dc_n
    dc = dcb[:, 0]  # (N, H) view
    tmp = np.empty((N, H), dtype=dtype)
    dot, mul = np.dot, np.multiply
    for hi in range(T, 0, -B):
        lo = max(0, hi - B)
        K, Kc = K_buf[: hi - lo], Kc_buf[: hi - lo]
        _lstm_factors(acts[lo:hi], cs[lo:hi], tcs[lo:hi], K, Kc)
        F, keep = f[lo:hi], None
        if mask is not None:
            m = mask[lo:hi]
            K *= m
            Kc *= m
            F = np.where(m, F, 1)  # a padded step passes c-bar through unchanged
            keep = (~m).astype(dtype)  # (B, N, 1)
        K3, Ko = K.reshape(hi - lo, N, 4, H)[:, :, :3], K[:, :, 3 * H :]
        for s in range(hi - lo - 1, -1, -1):
            t = lo + s
            dh += dhs[t]
            mul(dh, Kc[s], out=tmp)
            dc += tmp
            mul(K3[s], dcb, out=D3[t])
            mul(dh, Ko[s], out=Do[t])
            dc *= F[s]
            if keep is None:
                dot(delta[t], w_hh, out=dh)
            else:
                dh *= keep[s]
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
