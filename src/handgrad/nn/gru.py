r"""GRU, PyTorch's ``nn.GRU`` (gate order r, z, n), with a hand-derived backward through time.

Forward, per layer and step, with the H-blocks of :math:`W_{ih} x_t + b_{ih}` written
:math:`(x^r, x^z, x^n)` and those of :math:`W_{hh} h_{t-1} + b_{hh}` written :math:`(u^r, u^z, u^n)`:

.. math:: r = \sigma(x^r + u^r),\ z = \sigma(x^z + u^z),\ n = \tanh(x^n + r \odot u^n),\quad
          h_t = (1 - z) \odot n + z \odot h_{t-1}

Backward, from :math:`g_t = \partial L/\partial h_t`:

.. math:: \delta^n = g_t \odot (1 - z)(1 - n^2),\quad
          \delta^z = g_t \odot (h_{t-1} - n)\, z(1 - z),\quad
          \delta^r = \delta^n \odot u^n\, r(1 - r),

the input-side gradient is :math:`(\delta^r, \delta^z, \delta^n)`, the hidden-side one
:math:`(\delta^r, \delta^z, r \odot \delta^n)`, and
:math:`g_{t-1} \mathrel{+}= g_t \odot z + (\delta^r, \delta^z, r \odot \delta^n) W_{hh}`.
The sigmoids are evaluated as :math:`\sigma(a) = (1 + \tanh(a/2))/2` (as in ``lstm.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from handgrad.nn.module import Array
from handgrad.nn.recurrent import RecurrentBase, States

__all__ = ["GRU", "gru_layer_backward", "gru_layer_forward"]


def gru_layer_forward(
    xw: Array, h0: Array, w_hh: Array, b_hn: Array | None, mask: NDArray[np.bool_] | None
) -> tuple[Array, Array, Array]:
    """One layer's recurrence; ``xw`` (T, N, 3H) = W_ih x + b_ih + (b_hr, b_hz, 0), overwritten.

    Returns ``acts`` (T, N, 3H) = (r, z, n) (``xw``'s memory), ``hs`` (T + 1, N, H) and
    ``un`` (T, N, H) = W_hn h_{t-1} + b_hn.
    """
    T, N, G = xw.shape
    H = G // 3
    dtype = xw.dtype
    hs = np.empty((T + 1, N, H), dtype=dtype)  # (T+1, N, H)
    hs[0] = h0
    un_all = np.empty((T, N, H), dtype=dtype)  # (T, N, H) W_hn h_{t-1} + b_hn
    acts = xw
    A_rz, A_r, A_z, A_n = (
        acts[:, :, : 2 * H],
        acts[:, :, :H],
        acts[:, :, H : 2 * H],
        acts[:, :, 2 * H :],
    )
    # sigmoid(a) = (1 + tanh(a / 2)) / 2, with the halving (exact) folded into the r, z inputs
    half = np.ones(G, dtype=dtype)  # (3H,) 1/2 for r, z; 1 for n
    half[: 2 * H] = 0.5
    A_rz *= 0.5
    w_t = np.ascontiguousarray(w_hh.T * half)  # (H, 3H): BLAS is faster on a contiguous operand
    tmp = np.empty((N, G), dtype=dtype)  # (N, 3H) h_{t-1} W_hh^T
    tmp_rz, tmp_n = tmp[:, : 2 * H], tmp[:, 2 * H :]
    rn = np.empty((N, H), dtype=dtype)
    dot, mul, tanh = np.dot, np.multiply, np.tanh
    notmask = None if mask is None else ~mask
    for t in range(T):
        dot(hs[t], w_t, out=tmp)
        v = A_rz[t]
        v += tmp_rz
        tanh(v, out=v)
        v *= 0.5
        v += 0.5
        un = un_all[t]
        if b_hn is None:
            un[...] = tmp_n
        else:
            np.add(tmp_n, b_hn, out=un)
        n = A_n[t]
        mul(A_r[t], un, out=rn)
        n += rn
        tanh(n, out=n)
        h = hs[t + 1]
        np.subtract(hs[t], n, out=h)
        h *= A_z[t]
        h += n
        if notmask is not None:
            np.copyto(h, hs[t], where=notmask[t])
    return acts, hs, un_all


def gru_layer_backward(
    dhs: Array,
    dh_n: Array | None,
    acts: Array,
    hs: Array,
    un: Array,
    w_hh: Array,
    mask: NDArray[np.bool_] | None,
) -> tuple[Array, Array, Array]:
    """Backward of :func:`gru_layer_forward`.

    Returns the input-side and hidden-side pre-activation gradients (T, N, 3H) (zero at padded
    steps) and dL/dh0 (N, H).
    """
    T, N, H = dhs.shape
    dtype = dhs.dtype
    r, z, n = acts[:, :, :H], acts[:, :, H : 2 * H], acts[:, :, 2 * H :]
    Kz = (hs[:-1] - n) * (z * (1 - z))  # (T, N, H) delta^z / g
    Kn = (1 - z) * (1 - n * n)  # (T, N, H) delta^n / g
    Kr = un * (r * (1 - r))  # (T, N, H) delta^r / delta^n
    Z = z  # (T, N, H) direct path h_{t-1} -> h_t
    if mask is not None:
        Kz *= mask
        Kn *= mask
        Z = np.where(mask, z, 1)
    d_ih = np.empty((T, N, 3 * H), dtype=dtype)  # (T, N, 3H)
    d_hh = np.empty((T, N, 3 * H), dtype=dtype)  # (T, N, 3H)
    Dr, Dz, Dn = d_ih[:, :, :H], d_ih[:, :, H : 2 * H], d_ih[:, :, 2 * H :]
    D_rz, Dh_rz, Dh_n = d_ih[:, :, : 2 * H], d_hh[:, :, : 2 * H], d_hh[:, :, 2 * H :]
    dh = np.zeros((N, H), dtype=dtype) if dh_n is None else dh_n.copy()  # (N, H)
    tmp = np.empty((N, H), dtype=dtype)
    dot, mul = np.dot, np.multiply
    for t in range(T - 1, -1, -1):
        dh += dhs[t]
        mul(dh, Kz[t], out=Dz[t])
        dn = Dn[t]
        mul(dh, Kn[t], out=dn)
        mul(dn, Kr[t], out=Dr[t])
        mul(dn, r[t], out=Dh_n[t])
        np.copyto(Dh_rz[t], D_rz[t])
        dh *= Z[t]
        dot(d_hh[t], w_hh, out=tmp)
        dh += tmp
    return d_ih, d_hh, dh


class GRU(RecurrentBase):
    """Multi-layer GRU with PyTorch's ``nn.GRU`` parameters (gates r, z, n) and semantics.

    ``out, h_n = gru(x, h0)``; ``dx, dh0 = gru.backward(d_out, d_h_n)``. Parameters as
    :class:`RNN`'s, without ``nonlinearity``; weights are (3H, ·).
    """

    num_gates = 3
    num_states = 1

    def _input_bias(self, b_ih: Array, b_hh: Array) -> Array:
        H = self.hidden_size
        bias = b_ih.copy()
        bias[: 2 * H] += b_hh[: 2 * H]  # b_hn stays inside r * (W_hn h + b_hn)
        return bias

    def _layer_forward(
        self, xw: Array, state0: States, w_hh: Array, b_hh: Array | None, mask: Any
    ) -> tuple[Array, States, Any]:
        b_hn = None if b_hh is None else b_hh[2 * self.hidden_size :]
        acts, hs, un = gru_layer_forward(xw, state0[0], w_hh, b_hn, mask)
        return hs, (hs[-1],), {"states": (hs,), "acts": acts, "un": un, "mask": mask}

    def _layer_backward(
        self, dhs: Array, dstate_n: tuple[Array | None, ...], cache: Any, w_hh: Array
    ) -> tuple[Array, Array, States]:
        (hs,) = cache["states"]
        d_ih, d_hh, dh0 = gru_layer_backward(
            dhs, dstate_n[0], cache["acts"], hs, cache["un"], w_hh, cache["mask"]
        )
        return d_ih, d_hh, (dh0,)
