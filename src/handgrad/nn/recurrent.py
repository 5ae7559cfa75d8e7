r"""Shared machinery of the recurrent layers: parameters, input checks, layer stacking, lengths.

Conventions (PyTorch's)
-----------------------
* Parameters per layer ``k``: ``weight_ih_l{k}`` (G*H, D_k), ``weight_hh_l{k}`` (G*H, H),
  ``bias_ih_l{k}`` (G*H,), ``bias_hh_l{k}`` (G*H,) with G = 1 (RNN), 4 (LSTM: i, f, g, o) or
  3 (GRU: r, z, n); D_0 = input_size, D_k = hidden_size for k > 0. Initialisation
  U(-1/sqrt(H), 1/sqrt(H)) for every parameter, drawn from an explicit ``rng`` / ``seed``.
* Input (T, N, D) (``batch_first=True``: (N, T, D)); output (T, N, H) (or (N, T, H)), the top
  layer's hidden state at every step; final states (num_layers, N, H).
* ``lengths`` (N,) with 1 <= lengths[n] <= T: steps t >= lengths[n] are padding. Their outputs are
  zero and the final state is the state after step lengths[n] - 1, as PyTorch's packed sequences
  (``pack_padded_sequence(..., enforce_sorted=False)`` + ``pad_packed_sequence``) give. Inside,
  a padded step keeps the state unchanged, so gradients pass it through untouched.
* ``dx, dstate0 = layer.backward(d_out, d_state_n)`` (see DESIGN.md, "Gradients"): d_out has the
  output's shape, d_state_n the final state's (None, or None entries, mean zero); ``grads``
  accumulate; backward uses the latest forward and returns the gradient w.r.t. the initial state
  even when forward used the default zeros.
* Checks: sizes are positive ints, ``bias`` and ``batch_first`` bools, ``dtype`` float32 or
  float64. ``x``, the initial state and the incoming gradients (``d_out``, ``d_state_n``) must be
  finite, of the shapes above (``ValueError`` naming the argument otherwise).

Backward through time, for one layer with pre-activations
:math:`a_t = W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}` (GRU: see ``gru.py``): the cell's
backward gives :math:`\delta_t = \partial L / \partial a_t` for every step; then, as one product
over all steps,

.. math:: \frac{\partial L}{\partial W_{ih}} = \sum_t \delta_t^\top x_t,\quad
          \frac{\partial L}{\partial W_{hh}} = \sum_t \delta_t^\top h_{t-1},\quad
          \frac{\partial L}{\partial x_t} = \delta_t W_{ih}.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from handgrad._checks import (
    as_float_array,
    as_int_array,
    check_bool,
    check_finite,
    check_positive_int,
)
from handgrad.nn.layers import sum_rows_by_index
from handgrad.nn.module import Array, Module, make_rng, param_dtype, uniform_init

__all__ = ["ForwardTrace", "LayerTrace", "RecurrentBase"]

States = tuple[Array, ...]  # (h,) or (h, c), each (num_layers, N, H)


@dataclass(frozen=True)
class LayerTrace:
    """What one layer's forward keeps for its backward.

    Attributes
    ----------
    inputs : (T, N, D_k) array, or None
        The layer's input (None for a first layer fed token ids, which gathers columns).
    hidden : (T + 1, N, H) array
        Hidden states h_0 .. h_T (h_0 the initial state).
    kernel : dict
        The cell's own arrays (gate activations, cell states, ...; see each cell's module).
    """

    inputs: Array | None
    hidden: Array
    kernel: Any


@dataclass(frozen=True)
class ForwardTrace:
    """The latest forward of a recurrent layer: one :class:`LayerTrace` per layer, bottom first.

    ``mask`` (T, N, 1) marks the real steps when ``lengths`` was given; ``tokens`` (T, N) are the
    token ids when the first layer gathered columns; ``shape`` is (T, N, H).
    """

    layers: tuple[LayerTrace, ...]
    mask: NDArray[np.bool_] | None
    tokens: NDArray[np.integer] | None
    shape: tuple[int, int, int]


class RecurrentBase(Module):
    """Base of :class:`RNN`, :class:`LSTM`, :class:`GRU`; subclasses supply one layer's kernels."""

    num_gates: int = 1  # G
    num_states: int = 1  # 1 (h) or 2 (h, c)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        *,
        rng: np.random.Generator | None = None,
        seed: int | None = None,
        dtype: Any = np.float64,
    ) -> None:
        super().__init__()
        self.input_size = check_positive_int(input_size, "input_size")
        self.hidden_size = H = check_positive_int(hidden_size, "hidden_size")
        self.num_layers = check_positive_int(num_layers, "num_layers")
        self.bias = check_bool(bias, "bias")
        self.batch_first = check_bool(batch_first, "batch_first")
        dtype = param_dtype(dtype)
        gen = make_rng(rng, seed)
        bound = 1.0 / np.sqrt(H)
        GH = self.num_gates * H
        for k in range(self.num_layers):
            D = self.input_size if k == 0 else H
            self.add_param(f"weight_ih_l{k}", uniform_init(gen, (GH, D), bound, dtype))
            self.add_param(f"weight_hh_l{k}", uniform_init(gen, (GH, H), bound, dtype))
            if self.bias:
                self.add_param(f"bias_ih_l{k}", uniform_init(gen, (GH,), bound, dtype))
                self.add_param(f"bias_hh_l{k}", uniform_init(gen, (GH,), bound, dtype))
        self._trace: ForwardTrace | None = None

    # -- one layer's kernels (subclasses) -------------------------------------------------------
    def _input_bias(self, b_ih: Array, b_hh: Array) -> Array:
        """The part of the biases added to the input projection (RNN, LSTM: all of both)."""
        return b_ih + b_hh

    def _layer_forward(
        self, xw: Array, state0: States, w_hh: Array, b_hh: Array | None, mask: Any
    ) -> tuple[Array, States, Any]:
        """(T, N, G*H) input projections -> (hs (T+1, N, H), final states, cache)."""
        raise NotImplementedError

    def _layer_backward(
        self, dhs: Array, dstate_n: tuple[Array | None, ...], cache: Any, w_hh: Array
    ) -> tuple[Array, Array, States]:
        """dL/d(outputs) (T, N, H) -> (d_ih, d_hh (T, N, G*H), dL/d(initial states))."""
        raise NotImplementedError

    # -- public API -----------------------------------------------------------------------------
    def forward(
        self, x: ArrayLike, state: Any = None, lengths: ArrayLike | None = None
    ) -> tuple[Array, Any]:
        """Run the layer over a sequence; see the module docstring for shapes and ``lengths``."""
        xa = as_float_array(x, "x")
        self.check_input_dtype(xa, "x")
        order = "(N, T, input_size)" if self.batch_first else "(T, N, input_size)"
        if xa.ndim != 3 or xa.shape[2] != self.input_size:
            raise ValueError(
                f"x must have shape {order} with input_size={self.input_size}; got {xa.shape}"
            )
        if xa.shape[0] == 0 or xa.shape[1] == 0:
            raise ValueError(
                f"x must hold at least one step and one sequence; got shape {xa.shape}"
            )
        check_finite(xa, "x")
        if self.batch_first:
            xa = xa.transpose(1, 0, 2)
        T, N, _ = xa.shape
        states = self._check_state(state, N, "state")
        mask = self._check_lengths(lengths, T, N)
        out, finals = self._forward_impl(np.ascontiguousarray(xa), states, mask)
        out = out.copy() if mask is None else out  # never hand out a view of the cache
        return self._present(out), self._pack_state(finals)

    @property
    def trace(self) -> ForwardTrace:
        """What the latest forward kept (hidden states of every layer, the cells' arrays)."""
        if self._trace is None:
            raise ValueError("no forward has run yet: call the layer on an input first")
        return self._trace

    def backward(self, d_out: ArrayLike, d_state_n: Any = None) -> tuple[Array, Any]:
        """``dx, dstate0 = backward(dL/d(output), dL/d(final state))``; accumulates ``grads``."""
        if self._trace is None:
            raise ValueError("backward called before forward")
        T, N, H = self._trace.shape
        g = as_float_array(d_out, "d_out", dtype=self.dtype)
        want = (N, T, H) if self.batch_first else (T, N, H)
        if g.shape != want:
            raise ValueError(f"d_out must have the output's shape {want}; got {g.shape}")
        check_finite(g, "d_out")
        if self.batch_first:
            g = g.transpose(1, 0, 2)
        dstates = self._check_state(d_state_n, N, "d_state_n")
        dx, dstate0 = self._backward_impl(np.ascontiguousarray(g), dstates)
        assert dx is not None
        return self._present(dx), self._pack_state(dstate0)

    # -- checks and formatting ------------------------------------------------------------------
    def _present(self, a: Array) -> Array:
        return np.ascontiguousarray(a.transpose(1, 0, 2)) if self.batch_first else a

    def _pack_state(self, states: States) -> Any:
        return states[0]

    def _unpack_state(self, state: Any, name: str) -> tuple[Any, ...]:
        return (state,)

    def _check_state(self, state: Any, N: int, name: str) -> tuple[Array | None, ...]:
        """``state`` -> one (num_layers, N, H) array (or None) per state variable."""
        if state is None:
            return (None,) * self.num_states
        parts = self._unpack_state(state, name)
        want = (self.num_layers, N, self.hidden_size)
        names = ("h", "c")
        out: list[Array | None] = []
        for k, part in enumerate(parts):
            label = name if self.num_states == 1 else f"{name}[{k}] ({names[k]})"
            if part is None:
                out.append(None)
                continue
            arr = as_float_array(part, label, dtype=self.dtype)
            if arr.shape != want:
                raise ValueError(
                    f"{label} must have shape (num_layers, N, hidden_size) = {want}; got {arr.shape}"
                )
            check_finite(arr, label)
            out.append(arr)
        return tuple(out)

    @staticmethod
    def _check_lengths(lengths: ArrayLike | None, T: int, N: int) -> NDArray[np.bool_] | None:
        """``lengths`` (N,) in [1, T] -> step mask (T, N, 1), or None when every length is T."""
        if lengths is None:
            return None
        ln = as_int_array(lengths, "lengths")
        if ln.shape != (N,):
            raise ValueError(f"lengths must have shape (N,) = ({N},); got {ln.shape}")
        if ln.min() < 1 or ln.max() > T:
            raise ValueError(
                f"lengths must be in [1, T] = [1, {T}]; got min {ln.min()}, max {ln.max()}"
            )
        if ln.min() == T:
            return None
        return (np.arange(T)[:, None] < ln[None, :])[:, :, None]

    # -- the stacked computation (no checks) ----------------------------------------------------
    def _weights(self, k: int) -> tuple[Array, Array, Array | None, Array | None]:
        p = self._params
        if self.bias:
            return (
                p[f"weight_ih_l{k}"],
                p[f"weight_hh_l{k}"],
                p[f"bias_ih_l{k}"],
                p[f"bias_hh_l{k}"],
            )
        return p[f"weight_ih_l{k}"], p[f"weight_hh_l{k}"], None, None

    def _forward_impl(
        self,
        x: Array | None,
        states: tuple[Array | None, ...],
        mask: NDArray[np.bool_] | None,
        tokens: NDArray[np.integer] | None = None,
    ) -> tuple[Array, States]:
        """Forward over every layer; ``tokens`` (T, N) replaces one-hot ``x`` (a column gather).

        Returns the top layer's outputs (T, N, H) (a view of the cache when ``mask`` is None) and
        the final states (num_layers, N, H).
        """
        if tokens is not None:
            T, N = tokens.shape
        else:
            assert x is not None
            T, N, _ = x.shape
        H, G = self.hidden_size, self.num_gates * self.hidden_size
        dtype = self.dtype
        layers = []
        finals: list[list[Array]] = [[] for _ in range(self.num_states)]
        inp = x
        for k in range(self.num_layers):
            w_ih, w_hh, b_ih, b_hh = self._weights(k)
            bias = None if b_ih is None or b_hh is None else self._input_bias(b_ih, b_hh)
            if k == 0 and tokens is not None:
                table = np.add(w_ih.T, 0 if bias is None else bias, order="C")  # (V, G*H) U^T + b
                xw = np.take(table, tokens.reshape(-1), axis=0)
            else:
                assert inp is not None
                xw = np.dot(inp.reshape(T * N, -1), w_ih.T)  # (T*N, G*H)
                if bias is not None:
                    xw += bias
            xw = xw.reshape(T, N, G)
            state0 = tuple(np.zeros((N, H), dtype=dtype) if s is None else s[k] for s in states)
            hs, final, cache = self._layer_forward(xw, state0, w_hh, b_hh, mask)
            for j, s in enumerate(final):
                finals[j].append(s)
            layers.append(LayerTrace(inp, hs, cache))
            inp = hs[1:] if mask is None else hs[1:] * mask
        self._trace = ForwardTrace(tuple(layers), mask, tokens, (T, N, H))
        assert inp is not None
        return inp, tuple(np.stack(f) for f in finals)

    def _backward_impl(
        self, d_out: Array, dstates_n: tuple[Array | None, ...], need_dx: bool = True
    ) -> tuple[Array | None, States]:
        """Backward over every layer (top first); accumulates ``grads``; returns dx and dstate0."""
        trace = self.trace
        T, N, H = trace.shape
        mask, tokens = trace.mask, trace.tokens
        G = self.num_gates * H
        grads = self._grads
        g = d_out if mask is None else d_out * mask
        dstate0: list[list[Array]] = [[] for _ in range(self.num_states)]
        for k in range(self.num_layers - 1, -1, -1):
            layer = trace.layers[k]
            inp, hs = layer.inputs, layer.hidden
            w_ih, w_hh, _, _ = self._weights(k)
            dn = tuple(None if d is None else d[k] for d in dstates_n)
            d_ih, d_hh, d0 = self._layer_backward(g, dn, layer.kernel, w_hh)
            for j, s in enumerate(d0):
                dstate0[j].append(s)
            d_ih2 = d_ih.reshape(T * N, G)
            d_hh2 = d_hh.reshape(T * N, G)
            rows = None
            if k == 0 and tokens is not None:
                rows = sum_rows_by_index(tokens.reshape(-1), d_ih2, self.input_size)  # (V, G)
                grads["weight_ih_l0"] += rows.T
            else:
                assert inp is not None  # only a token-fed first layer keeps no input
                grads[f"weight_ih_l{k}"] += np.dot(d_ih2.T, inp.reshape(T * N, -1))
            grads[f"weight_hh_l{k}"] += np.dot(d_hh2.T, hs[:-1].reshape(T * N, H))
            if self.bias:
                # every row of d_ih2 went to exactly one token: summing V rows is cheaper
                s_ih = (d_ih2 if rows is None else rows).sum(axis=0)
                grads[f"bias_ih_l{k}"] += s_ih
                grads[f"bias_hh_l{k}"] += s_ih if d_hh is d_ih else d_hh2.sum(axis=0)
            if k > 0 or (need_dx and tokens is None):
                g = np.dot(d_ih2, w_ih).reshape(T, N, -1)
        dx = g if (need_dx and tokens is None) else None
        return dx, tuple(np.stack(d[::-1]) for d in dstate0)

    def _state_at(self, step: int) -> States:
        """States (num_layers, N, H) after ``step`` steps of the latest forward (0: initial)."""
        return tuple(
            np.stack([lay.kernel["states"][j][step] for lay in self.trace.layers])
            for j in range(self.num_states)
        )
