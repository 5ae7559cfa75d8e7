r"""Backpropagation through time, taken apart: per-step gradient terms, Jacobian norms, the seed's
explicit formulas, and truncated BPTT.

Notation (ASSIGNMENT.md Q1): steps are numbered from 1, :math:`H_0` is the initial state and
:math:`H_t` the state after reading input :math:`I_t` (``x[t - 1]``); row vectors per sequence,
so :math:`a_t = I_t U^\top + H_{t-1} W^\top (+ b)` and :math:`H_t = f(a_t)`.

Gradient terms
    For a loss :math:`E_t` that depends on :math:`H_t` only,

    .. math:: \frac{\partial E_t}{\partial W} = \sum_{k=1}^{t} \underbrace{
              \delta_k^\top H_{k-1}}_{\text{term}_k},\quad
              \delta_k = \frac{\partial E_t}{\partial H_t}
              \Big(\prod_{j=t}^{k+1} \frac{\partial H_j}{\partial H_{j-1}}\Big)
              \operatorname{diag} f'(a_k),\quad
              \frac{\partial H_j}{\partial H_{j-1}} = \operatorname{diag} f'(a_j)\, W,

    term_k being :math:`\frac{\partial E_t}{\partial H_t} (\prod \ldots) \frac{\partial^+
    H_k}{\partial W}` (the immediate derivative holds :math:`H_{k-1}` fixed); likewise
    :math:`\delta_k^\top I_k` for U and :math:`\delta_k` for the biases. Batches sum over sequences.

Jacobian norms
    :math:`\| \partial S_t / \partial S_k \|` for k = 0 .. t, with S = h (RNN, GRU) or the
    concatenation (h, c) of size 2H (LSTM), per sequence; ``ord=2`` is the spectral norm (largest
    singular value), ``ord="fro"`` the Frobenius norm. :math:`\partial S_t/\partial S_t = I`.

Truncated BPTT(k1, k2) (Williams & Peng 1990; Sutskever 2013, sec. 2.8.6)
    The stream is cut into chunks of k1 steps (the last may be shorter). For a chunk ending at
    step e, the window is steps ``max(0, e - k2) .. e - 1``: the model runs forward over the
    window from the state recorded at its start (a constant: no gradient flows into it), the
    losses of the chunk's own steps are back-propagated to the window's start (so each loss
    sees between k2 - k1 + 1 and k2 steps), the gradient is clipped if asked and the
    optimizer steps. States carried to later windows come from the window's forward pass (with
    the parameters before that window's update). k1 = k2 is the usual chunked training of
    min-char-rnn; k2 > k1 recomputes the overlap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from handgrad._checks import (
    as_float_array,
    as_int_array,
    check_choice,
    check_finite,
    check_positive_int,
)
from handgrad.nn.gru import GRU
from handgrad.nn.lstm import LSTM
from handgrad.nn.module import Array
from handgrad.nn.recurrent import RecurrentBase
from handgrad.nn.rnn import RNN

__all__ = [
    "SEED_FORMULAS",
    "GradientTerms",
    "TBPTTResult",
    "gradient_terms",
    "jacobian_norms",
    "lm_gradient_terms",
    "seed_formula_gradients",
    "step_jacobians",
    "truncated_bptt",
]


# -- gradient terms ---------------------------------------------------------------------------
@dataclass(frozen=True)
class GradientTerms:
    r"""Contribution of each step k = 1 .. t to :math:`\partial E_t / \partial \theta`.

    Attributes
    ----------
    steps : ndarray (t,)
        1 .. t; row k - 1 of every array below belongs to step k.
    weight_hh : ndarray (t, H, H)
        term_k for W (``weight_hh_l0``): :math:`\delta_k^\top H_{k-1}`.
    weight_ih : ndarray (t, H, D)
        term_k for U (``weight_ih_l0``): :math:`\delta_k^\top I_k`.
    bias : ndarray (t, H)
        term_k for either bias: :math:`\sum_n \delta_k`.
    delta : ndarray (t, N, H)
        :math:`\delta_k = \partial E_t / \partial a_k`.
    """

    steps: NDArray[np.int64]
    weight_hh: Array
    weight_ih: Array
    bias: Array
    delta: Array


def _single_layer(layer: Any, kinds: tuple[type[Any], ...], name: str) -> None:
    if not isinstance(layer, kinds):
        shown = " or ".join(k.__name__ for k in kinds)
        raise TypeError(f"{name} must be a {shown} layer; got {type(layer).__name__}")
    if layer.num_layers != 1:
        raise ValueError(f"{name} must have num_layers=1; got {layer.num_layers}")


def _sequence(
    layer: RecurrentBase, x: ArrayLike, state: Any
) -> tuple[Array, tuple[Array | None, ...]]:
    xa = as_float_array(x, "x", dtype=layer.dtype)
    if xa.ndim != 3 or xa.shape[2] != layer.input_size or xa.shape[0] == 0:
        raise ValueError(
            f"x must have shape (T, N, input_size={layer.input_size}) with T >= 1; got {xa.shape}"
        )
    check_finite(xa, "x")
    return np.ascontiguousarray(xa), layer._check_state(state, xa.shape[1], "state")


def _check_step(t: Any, T: int) -> int:
    t = check_positive_int(t, "t")
    if t > T:
        raise ValueError(f"t must be in [1, T] = [1, {T}]; got {t}")
    return t


def gradient_terms(
    rnn: RNN, x: ArrayLike, t: int, dE_dh: ArrayLike, h0: ArrayLike | None = None
) -> GradientTerms:
    r"""Split :math:`\partial E_t/\partial(W, U, b)` into the contributions of steps 1 .. t.

    Parameters
    ----------
    rnn : RNN
        A single-layer RNN (tanh or relu).
    x : array_like (T, N, D)
        Inputs :math:`I_1 .. I_T` (time first).
    t : int
        The step whose loss is differentiated, 1 <= t <= T.
    dE_dh : array_like (N, H)
        :math:`\partial E_t / \partial H_t` (for softmax cross-entropy: :math:`(O_t - y_t) V`).
    h0 : array_like (1, N, H), optional
        :math:`H_0` (zeros by default).

    Returns
    -------
    GradientTerms
        Whose sums over steps equal the full BPTT gradient of :math:`E_t`.
    """
    _single_layer(rnn, (RNN,), "rnn")
    xa, states = _sequence(rnn, x, h0)
    T, N, _ = xa.shape
    t = _check_step(t, T)
    g = as_float_array(dE_dh, "dE_dh", dtype=rnn.dtype)
    if g.shape != (N, rnn.hidden_size):
        raise ValueError(f"dE_dh must have shape (N, H) = {(N, rnn.hidden_size)}; got {g.shape}")
    check_finite(g, "dE_dh")
    rnn._forward_impl(xa[:t], states, None)
    hs = rnn.trace.layers[0].hidden  # (t + 1, N, H)
    w_hh = rnn._params["weight_hh_l0"]
    h = hs[1:]
    deriv = (h > 0).astype(h.dtype) if rnn.nonlinearity == "relu" else 1 - h * h  # (t, N, H)
    delta = np.empty((t, N, rnn.hidden_size), dtype=h.dtype)  # (t, N, H) dE_t/da_k
    dh = g.copy()  # (N, H) dE_t/dH_k, starting at k = t
    for k in range(t - 1, -1, -1):
        delta[k] = dh * deriv[k]
        dh = delta[k] @ w_hh
    return GradientTerms(
        steps=np.arange(1, t + 1),
        weight_hh=np.einsum("kni,knj->kij", delta, hs[:-1]),
        weight_ih=np.einsum("kni,knj->kij", delta, xa[:t]),
        bias=delta.sum(axis=1),
        delta=delta,
    )


def lm_gradient_terms(
    model: Any, tokens: ArrayLike, targets: ArrayLike, t: int, state: Any = None
) -> GradientTerms:
    r""":func:`gradient_terms` of a language model's step-t cross-entropy.

    :math:`E_t = \sum_n -\log O_{t, y_t}` (summed over the batch) for a :class:`LanguageModel`
    with ``cell="rnn"`` and one layer, so :math:`\partial E_t/\partial H_t = (O_t - y_t) V`;
    the inputs are the one-hot rows :math:`I_t` (or the embeddings when the model has them).
    Summing the terms over k and over t = 1 .. T gives the model's gradient of
    :math:`E = \sum_t E_t` for ``weight_ih_l0``, ``weight_hh_l0`` and the biases.
    """
    if getattr(model, "cell", None) != "rnn":
        raise TypeError(
            f"model must be a LanguageModel with cell='rnn'; got {type(model).__name__}"
        )
    idx = model._tokens(tokens, "tokens")
    tgt = model._tokens(targets, "targets")
    if tgt.shape != idx.shape:
        raise ValueError(f"targets must have the shape of tokens {idx.shape}; got {tgt.shape}")
    t = _check_step(t, idx.shape[0])
    N = idx.shape[1]
    if model.embedding is not None:
        x = model.embedding.params["weight"][idx]  # (T, N, E)
    else:
        x = np.eye(model.vocab_size, dtype=model.dtype)[idx]  # (T, N, V) one-hot I_t
    logits, _ = model.forward(idx[:t], state)  # (t, N, V)
    z = logits[t - 1].astype(np.float64)  # (N, V)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)  # O_t
    p[np.arange(N), tgt[t - 1]] -= 1.0  # O_t - y_t
    dE_dh = p @ model.head.params["weight"]  # (N, H)
    return gradient_terms(model.rnn, x, t, dE_dh, state)


# -- Jacobians --------------------------------------------------------------------------------
def step_jacobians(layer: RecurrentBase, x: ArrayLike, state: Any = None) -> Array:
    r"""The one-step Jacobians :math:`\partial S_j / \partial S_{j-1}` for j = 1 .. T.

    Returns an array (T, N, S, S) (S = H, or 2H for LSTM with S = (h, c)); entry [j - 1, n] is
    sequence n's Jacobian at step j. Single-layer RNN, LSTM or GRU.
    """
    _single_layer(layer, (RNN, LSTM, GRU), "layer")
    xa, states = _sequence(layer, x, state)
    layer._forward_impl(xa, states, None)
    trace = layer.trace.layers[0]
    hs, cache = trace.hidden, trace.kernel
    H = layer.hidden_size
    W = layer._params["weight_hh_l0"]
    if isinstance(layer, LSTM):
        acts, cs, tc = cache["acts"], cache["states"][1], cache["tcs"]
        i, f, g, o = (acts[:, :, k * H : (k + 1) * H] for k in range(4))
        Wi, Wf, Wg, Wo = (W[k * H : (k + 1) * H] for k in range(4))
        dc_dh = (
            (cs[:-1] * f * (1 - f))[..., None] * Wf
            + (g * i * (1 - i))[..., None] * Wi
            + (i * (1 - g * g))[..., None] * Wg
        )  # (T, N, H, H)
        eye = np.eye(H, dtype=W.dtype)
        dc_dc = f[..., None] * eye  # (T, N, H, H) diag(f)
        out_gate = o * (1 - tc * tc)  # (T, N, H) dh_t/dc_t
        dh_dh = (tc * o * (1 - o))[..., None] * Wo + out_gate[..., None] * dc_dh
        dh_dc = out_gate[..., None] * dc_dc
        top = np.concatenate([dh_dh, dh_dc], axis=-1)
        bottom = np.concatenate([dc_dh, dc_dc], axis=-1)
        return np.concatenate([top, bottom], axis=-2)  # (T, N, 2H, 2H)
    if isinstance(layer, GRU):
        acts, un = cache["acts"], cache["un"]
        r, z, n = (acts[:, :, k * H : (k + 1) * H] for k in range(3))
        Wr, Wz, Wn = (W[k * H : (k + 1) * H] for k in range(3))
        dn_dh = (1 - n * n)[..., None] * (r[..., None] * Wn + (un * r * (1 - r))[..., None] * Wr)
        return (
            z[..., None] * np.eye(H, dtype=W.dtype)
            + ((hs[:-1] - n) * z * (1 - z))[..., None] * Wz
            + (1 - z)[..., None] * dn_dh
        )  # (T, N, H, H)
    h = hs[1:]
    assert isinstance(layer, RNN)
    deriv = (h > 0).astype(h.dtype) if layer.nonlinearity == "relu" else 1 - h * h
    return deriv[..., None] * W  # (T, N, H, H) diag(f'(a_j)) W


def jacobian_norms(
    layer: RecurrentBase,
    x: ArrayLike,
    state: Any = None,
    *,
    t: int | None = None,
    ord: int | str = 2,
) -> Array:
    r"""Norms of :math:`\partial S_t / \partial S_k` for k = 0 .. t (see the module docstring).

    Parameters
    ----------
    layer : RNN, LSTM or GRU with num_layers=1
    x : array_like (T, N, D)
    state : optional
        Initial state, as the layer's forward takes it.
    t : int, optional
        1 <= t <= T (default T).
    ord : {2, "fro"}
        Spectral or Frobenius norm.

    Returns
    -------
    ndarray (t + 1, N)
        Row k: :math:`\|\partial S_t/\partial S_k\|` of each sequence; row t is the norm of I.
    """
    if ord not in (2, "fro"):
        raise ValueError(f"ord must be 2 (spectral) or 'fro' (Frobenius); got {ord!r}")
    J = step_jacobians(layer, x, state)  # (T, N, S, S)
    T, N, S, _ = J.shape
    t = T if t is None else _check_step(t, T)
    norms = np.empty((t + 1, N), dtype=np.float64)
    P = np.broadcast_to(np.eye(S, dtype=J.dtype), (N, S, S)).copy()  # (N, S, S) dS_t/dS_k
    for k in range(t, -1, -1):
        norms[k] = np.linalg.norm(P, ord=ord, axis=(1, 2))  # type: ignore[arg-type]
        if k > 0:
            P = P @ J[k - 1]
    return norms


# -- the seed's explicit formulas -------------------------------------------------------------
SEED_FORMULAS: dict[str, str] = {
    "dE2/dW": "d2 H1^T + (W^T d2 * (1 - H1^2)) H0^T",
    "dE2/dU": "d2 I2^T + (W^T d2 * (1 - H1^2)) I1^T",
    "dE3/dW": "d3 H2^T + (W^T d3 * (1 - H2^2)) H1^T + (W^T (W^T d3 * (1 - H2^2)) * (1 - H1^2)) H0^T",
    "dE3/dU": "d3 I3^T + (W^T d3 * (1 - H2^2)) I2^T + (W^T (W^T d3 * (1 - H2^2)) * (1 - H1^2)) I1^T",
}
"""The seed's gradients in matrix form, column vectors, ``*`` elementwise, with
``dt = (V^T (O_t - y_t)) * (1 - H_t^2)``."""


def seed_formula_gradients(
    U: ArrayLike, W: ArrayLike, V: ArrayLike, inputs: ArrayLike, h0: ArrayLike, targets: ArrayLike
) -> dict[str, Array]:
    r"""Evaluate :data:`SEED_FORMULAS` for the bias-free tanh RNN of ASSIGNMENT.md Q1(a).

    Parameters
    ----------
    U : (H, D), W : (H, H), V : (C, H)
        The model :math:`H_t = \tanh(U I_t + W H_{t-1})`, :math:`O_t = \mathrm{softmax}(V H_t)`.
    inputs : (T, D), T >= 3
        :math:`I_1 .. I_T` as rows (one-hot or any vectors).
    h0 : (H,)
        :math:`H_0`.
    targets : (T,) int
        Class :math:`y_t` of each step.

    Returns
    -------
    dict
        "dE2/dW", "dE3/dW" (H, H) and "dE2/dU", "dE3/dU" (H, D): the gradients of the single-step
        losses :math:`E_2, E_3`, each written out as the seed's sum of two or three terms.
    """
    Ua, Wa, Va = (as_float_array(a, n, dtype=np.float64) for a, n in ((U, "U"), (W, "W"), (V, "V")))
    I = as_float_array(inputs, "inputs", dtype=np.float64)
    H0 = as_float_array(h0, "h0", dtype=np.float64)
    y = as_int_array(targets, "targets")
    H, D = Ua.shape if Ua.ndim == 2 else (-1, -1)
    C = Va.shape[0] if Va.ndim == 2 else -1
    if Ua.ndim != 2 or Wa.shape != (H, H) or Va.shape != (C, H):
        raise ValueError(
            f"U, W, V must have shapes (H, D), (H, H), (C, H); got {Ua.shape}, {Wa.shape}, {Va.shape}"
        )
    if I.ndim != 2 or I.shape[1] != D or I.shape[0] < 3:
        raise ValueError(f"inputs must have shape (T, D={D}) with T >= 3; got {I.shape}")
    if H0.shape != (H,):
        raise ValueError(f"h0 must have shape (H,) = ({H},); got {H0.shape}")
    if y.shape != (I.shape[0],) or y.min() < 0 or y.max() >= C:
        raise ValueError(
            f"targets must have shape ({I.shape[0]},) with values in [0, {C}); got {y}"
        )
    for arr, label in ((Ua, "U"), (Wa, "W"), (Va, "V"), (I, "inputs"), (H0, "h0")):
        check_finite(arr, label)
    # forward, column vectors: Hs[t] = H_t for t = 0 .. 3, Is[t] = I_t for t = 1 .. 3
    Hs = [H0]
    Is = [np.zeros(D)] + [I[k] for k in range(3)]
    for t in (1, 2, 3):
        Hs.append(np.tanh(Ua @ Is[t] + Wa @ Hs[t - 1]))

    def d(t: int) -> Array:  # (V^T (O_t - y_t)) * (1 - H_t^2)
        z = Va @ Hs[t]
        O = np.exp(z - z.max())
        O /= O.sum()
        O[y[t - 1]] -= 1.0
        return (Va.T @ O) * (1 - Hs[t] ** 2)

    def back(v: Array, t: int) -> Array:  # W^T v * (1 - H_t^2): one step further back
        return (Wa.T @ v) * (1 - Hs[t] ** 2)

    d2, d3 = d(2), d(3)
    outer = np.outer
    return {
        "dE2/dW": outer(d2, Hs[1]) + outer(back(d2, 1), Hs[0]),
        "dE2/dU": outer(d2, Is[2]) + outer(back(d2, 1), Is[1]),
        "dE3/dW": outer(d3, Hs[2]) + outer(back(d3, 2), Hs[1]) + outer(back(back(d3, 2), 1), Hs[0]),
        "dE3/dU": outer(d3, Is[3]) + outer(back(d3, 2), Is[2]) + outer(back(back(d3, 2), 1), Is[1]),
    }


# -- truncated BPTT ---------------------------------------------------------------------------
@dataclass(frozen=True)
class TBPTTResult:
    """Outcome of :func:`truncated_bptt`.

    Attributes
    ----------
    losses : ndarray (n_chunks,)
        Loss of each chunk (before its update).
    state :
        The state after the last step (from the last window's forward).
    grads : list of dict or None
        With ``keep_grads=True``, a copy of the (clipped) gradient of each chunk.
    """

    losses: NDArray[np.float64]
    state: Any
    grads: list[dict[str, Array]] | None


def truncated_bptt(
    model: Any,
    tokens_in: ArrayLike,
    targets: ArrayLike,
    k1: int,
    k2: int | None = None,
    *,
    optimizer: Any = None,
    state: Any = None,
    reduction: str = "mean",
    clip_norm: float | None = None,
    clip_value: float | None = None,
    keep_grads: bool = False,
    callback: Callable[[int, float], None] | None = None,
) -> TBPTTResult:
    """Train (or just differentiate) a :class:`LanguageModel` on a long stream by TBPTT(k1, k2).

    Parameters
    ----------
    model : LanguageModel
    tokens_in, targets : array_like of int (L,) or (L, N)
        The stream and the token to predict at each step.
    k1 : int
        Steps between updates (chunk length).
    k2 : int, optional
        Steps back-propagated through, k2 >= k1 (default k1).
    optimizer : optional
        Stepped after each chunk (built on ``model``); without one the gradients are only
        computed (use ``keep_grads``).
    state : optional
        Initial state (zeros by default).
    reduction : {"mean", "sum"}
        Of each chunk's losses.
    clip_norm, clip_value : float, optional
        Clip each chunk's gradient (value first, then global norm) before the update.
    keep_grads : bool
        Keep a copy of each chunk's gradient.
    callback : callable, optional
        ``callback(chunk_index, loss)`` after each update.
    """
    from handgrad.nn.language_model import _check_training
    from handgrad.optim import clip_grad_norm, clip_grad_value

    check_choice(reduction, "reduction", ("mean", "sum"))
    _check_training(optimizer, clip_norm, clip_value, required=False, callback=callback)
    idx = model._tokens(tokens_in, "tokens_in")
    tgt = model._tokens(targets, "targets")
    if tgt.shape != idx.shape:
        raise ValueError(f"targets must have the shape of tokens_in {idx.shape}; got {tgt.shape}")
    k1 = check_positive_int(k1, "k1")
    k2 = k1 if k2 is None else check_positive_int(k2, "k2")
    if k2 < k1:
        raise ValueError(f"k2 must be at least k1 = {k1}; got {k2}")
    L, N = idx.shape
    ends = [*range(k1, L, k1), L]
    saved: dict[int, tuple[Array | None, ...]] = {0: model._state(state, N)}
    losses, kept = [], []
    final: Any = None
    for c, end in enumerate(ends):
        begin = ends[c - 1] if c > 0 else 0  # first step whose loss counts
        start = max(0, end - k2)  # first step of the window
        model.zero_grad()
        loss, finals = model._loss_and_grad(
            idx[start:end], tgt[start:end], saved.pop(start), reduction, begin - start
        )
        if c + 1 < len(ends):
            nxt = max(0, ends[c + 1] - k2)
            saved[nxt] = model._states_at(nxt - start)
        final = finals
        if clip_value is not None:
            clip_grad_value(model, clip_value)
        if clip_norm is not None:
            clip_grad_norm(model, clip_norm)
        if keep_grads:
            kept.append({k: g.copy() for k, g in model.grads.items()})
        if optimizer is not None:
            optimizer.step()
        losses.append(loss)
        if callback is not None:
            callback(c, loss)
    return TBPTTResult(
        np.asarray(losses, dtype=np.float64),
        model.rnn._pack_state(final),
        kept if keep_grads else None,
    )
