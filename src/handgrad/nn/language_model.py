r"""The assignment's recurrent language model, composed of the layers.

Model (ASSIGNMENT.md Q1), for tokens :math:`w_1 .. w_T` with one-hot vectors :math:`I_t`:

.. math:: H_t = \tanh(U I_t + W H_{t-1} [+ b]),\quad O_t = \mathrm{softmax}(V H_t [+ c]),\quad
          E = \sum_t E_t,\ E_t = -\log O_{t, y_t}

* ``U`` is ``rnn.weight_ih_l0`` (H, vocab) and ``U I_t`` is the column gather ``U[:, w_t]``
  (no one-hot product); with ``embedding_dim=E`` an :class:`Embedding` (vocab, E) comes first and
  ``U`` is (H, E). ``W`` is ``rnn.weight_hh_l0`` (H, H); ``V`` is ``head.weight`` (vocab, H).
* ``cell`` chooses the recurrence: "rnn" (tanh or relu), "lstm" or "gru"; ``bias=False`` gives the
  seed's bias-free model. Parameters are named as in PyTorch with the prefixes "embedding.",
  "rnn.", "head.".
* Tokens are (T,) for one sequence or (T, N) for a batch of N streams (time first); targets
  have the same shape. States are the recurrent layer's ((num_layers, N, H), a pair for LSTM).
* ``reduction="mean"`` divides the summed cross-entropy by the number of predicted tokens
  (``torch.nn.functional.cross_entropy``'s default); ``"sum"`` is the assignment's E.
* Checks, once per public call: tokens are integers in [0, vocab_size) (whole-number floats are
  accepted; bools, strings and ragged lists are not), of shape (T,) or (T, N) with T, N >= 1;
  ``dtype`` is float32 or float64; ``nonlinearity`` other than "tanh" needs ``cell="rnn"``;
  clipping thresholds are finite non-negative reals, checked before any gradient is computed.

Backward: :math:`\partial E_t / \partial (V H_t) = O_t - y_t` for all steps in one pass
(:func:`handgrad.losses.softmax_cross_entropy_and_grad` over the T*N rows), one product for
:math:`\partial E/\partial V` and for :math:`\partial E/\partial H_t`, then the layer's backward
through time.

Speed: a large batch is split by sequence over as many threads as BLAS would use (data
parallelism, :mod:`handgrad._parallel`), each thread running the whole step on its sequences with
BLAS held at one thread, so the element-wise work of the recurrence runs on every core too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from handgrad import _parallel
from handgrad._checks import (
    check_bool,
    check_choice,
    check_in_range,
    check_positive_int,
    check_real,
)
from handgrad.losses import softmax_cross_entropy_and_grad
from handgrad.nn.gru import GRU
from handgrad.nn.layers import Embedding, Linear, check_tokens
from handgrad.nn.lstm import LSTM
from handgrad.nn.module import Array, Module, make_rng, param_dtype
from handgrad.nn.recurrent import RecurrentBase
from handgrad.nn.rnn import RNN

__all__ = ["LanguageModel"]

CELLS: dict[str, type[RecurrentBase]] = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


def _check_training(
    optimizer: Any, clip_norm: Any, clip_value: Any, *, required: bool, callback: Any = None
) -> None:
    """Check a training call's optimizer, clipping thresholds and callback before any work."""
    if (optimizer is not None or required) and not callable(getattr(optimizer, "step", None)):
        raise TypeError(
            f"optimizer must have a step() method (e.g. handgrad.optim.SGD); "
            f"got {type(optimizer).__name__}"
        )
    if clip_norm is not None:
        check_real(clip_norm, "clip_norm", 0.0, None)
    if clip_value is not None:
        check_real(clip_value, "clip_value", 0.0, None)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable; got {type(callback).__name__}")


class LanguageModel(Module):
    """Token-level language model: (Embedding or one-hot) -> RNN/LSTM/GRU -> Linear -> softmax.

    Parameters
    ----------
    vocab_size : int
        Number of token ids (inputs and outputs).
    hidden_size : int
        H.
    cell : {"rnn", "lstm", "gru"}
    num_layers : int
    embedding_dim : int, optional
        If given, learn an embedding of this size; otherwise inputs are one-hot (the assignment's
        ``U I_t``).
    bias : bool
        Biases in the recurrent layer and the output layer.
    nonlinearity : {"tanh", "relu"}
        For ``cell="rnn"``.
    rng, seed, dtype :
        Initialisation randomness and parameter dtype.
    """

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        *,
        cell: str = "rnn",
        num_layers: int = 1,
        embedding_dim: int | None = None,
        bias: bool = True,
        nonlinearity: str = "tanh",
        rng: np.random.Generator | None = None,
        seed: int | None = None,
        dtype: Any = np.float64,
    ) -> None:
        super().__init__()
        check_choice(cell, "cell", tuple(CELLS))
        V = check_positive_int(vocab_size, "vocab_size")
        H = check_positive_int(hidden_size, "hidden_size")
        check_choice(nonlinearity, "nonlinearity", ("tanh", "relu"))
        if cell != "rnn" and nonlinearity != "tanh":
            raise ValueError(
                f"nonlinearity applies to cell='rnn' only; got nonlinearity={nonlinearity!r} "
                f"with cell={cell!r}"
            )
        bias = check_bool(bias, "bias")
        dtype = param_dtype(dtype)
        gen = make_rng(rng, seed)
        self.vocab_size, self.hidden_size, self.cell = V, H, cell
        self.embedding: Embedding | None = None
        if embedding_dim is not None:
            E = check_positive_int(embedding_dim, "embedding_dim")
            self.embedding = Embedding(V, E, rng=gen, dtype=dtype)
            self.add_module("embedding", self.embedding)
        D = V if embedding_dim is None else embedding_dim
        kwargs: dict[str, Any] = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
        self.rnn = CELLS[cell](D, H, num_layers, bias=bias, rng=gen, dtype=dtype, **kwargs)
        self.add_module("rnn", self.rnn)
        self.head = Linear(H, V, bias=bias, rng=gen, dtype=dtype)
        self.add_module("head", self.head)
        self._replicas: list[LanguageModel] = []  # data-parallel twins, made on first use
        self._split: list[tuple[slice, LanguageModel]] | None = None  # the latest step's parts

    # -- checks ---------------------------------------------------------------------------------
    def _tokens(self, tokens: ArrayLike, name: str) -> NDArray[np.integer]:
        idx = check_tokens(tokens, name, self.vocab_size)
        if idx.ndim == 1:
            idx = idx[:, None]
        if idx.ndim != 2 or idx.shape[0] == 0 or idx.shape[1] == 0:
            raise ValueError(
                f"{name} must have shape (T,) or (T, N) with T, N >= 1; got {idx.shape}"
            )
        return np.ascontiguousarray(idx)

    def _state(self, state: Any, N: int) -> tuple[Array | None, ...]:
        return self.rnn._check_state(state, N, "state")

    # -- forward --------------------------------------------------------------------------------
    def _hidden(
        self, tokens: NDArray[np.integer], states: tuple[Array | None, ...]
    ) -> tuple[Array, Any]:
        """Top-layer hidden states (T, N, H) and the final states."""
        self._split = None  # this forward is the latest
        if self.embedding is not None:
            x = self.embedding._forward(tokens)  # (T, N, E)
            return self.rnn._forward_impl(x, states, None)
        return self.rnn._forward_impl(None, states, None, tokens=tokens)

    def forward(self, tokens: ArrayLike, state: Any = None) -> tuple[Array, Any]:
        """Logits (T, N, vocab) (or (T, vocab) for 1-D tokens) and the final state."""
        idx = self._tokens(tokens, "tokens")
        hid, finals = self._hidden(idx, self._state(state, idx.shape[1]))
        logits = self.head._forward(hid)  # (T, N, V)
        if np.ndim(tokens) == 1:
            logits = logits[:, 0]
        return logits, self.rnn._pack_state(finals)

    # -- loss and gradients ---------------------------------------------------------------------
    def loss_and_grad(
        self,
        tokens_in: ArrayLike,
        targets: ArrayLike,
        state: Any = None,
        *,
        reduction: str = "mean",
        loss_from: int = 0,
    ) -> tuple[float, dict[str, Array], Any]:
        """Cross-entropy of next-token predictions and its gradient by full BPTT.

        Parameters
        ----------
        tokens_in, targets : array_like of int, shape (T,) or (T, N)
            Inputs and the tokens to predict at each step.
        state : optional
            Initial state (zeros if None); treated as a constant.
        reduction : {"mean", "sum"}
        loss_from : int
            Count the losses of steps ``loss_from .. T-1`` only (earlier steps still feed the
            recurrence); used by truncated BPTT.

        Returns
        -------
        loss : float
        grads : dict
            ``self.grads``, to which this call's gradient was **added** (call ``zero_grad``
            first for the gradient alone).
        state_n :
            Final state (a constant for the next call: no gradient flows across calls).
        """
        check_choice(reduction, "reduction", ("mean", "sum"))
        idx = self._tokens(tokens_in, "tokens_in")
        tgt = self._tokens(targets, "targets")
        if tgt.shape != idx.shape:
            raise ValueError(
                f"targets must have the shape of tokens_in {idx.shape}; got {tgt.shape}"
            )
        T = idx.shape[0]
        check_positive_int(loss_from, "loss_from", allow_zero=True)
        check_in_range(loss_from, "loss_from", 0, T - 1)
        loss, finals = self._loss_and_grad(
            idx, tgt, self._state(state, idx.shape[1]), reduction, int(loss_from)
        )
        return loss, self.grads, self.rnn._pack_state(finals)

    def _loss_and_grad(
        self,
        tokens: NDArray[np.integer],
        targets: NDArray[np.integer],
        states: tuple[Array | None, ...],
        reduction: str,
        loss_from: int,
    ) -> tuple[float, Any]:
        """The unchecked step: forward, fused softmax cross-entropy, BPTT; accumulates grads.

        A large batch is split by sequence over threads (:mod:`handgrad._parallel`): the first
        part runs on this module, each other part on a replica sharing the parameters, whose
        gradients are then added into ``grads``. The result equals the serial one up to the
        order of floating-point sums.
        """
        T, N = tokens.shape
        count = (T - loss_from) * N if reduction == "mean" else 1  # divides the summed loss
        rnn = self.rnn
        per_sequence = T * rnn.num_layers * rnn.num_gates * self.hidden_size
        parts = _parallel.batch_parts(N, per_sequence)
        if len(parts) == 1:
            return self._part_loss_and_grad(tokens, targets, states, loss_from, count)
        # the first part runs on this module (its gradients accumulate in place), the others
        # on replicas whose gradients are added in afterwards
        models = [self, *self._replicas_for(len(parts) - 1)]

        def task(model: LanguageModel, part: slice) -> tuple[float, Any]:
            if model is not self:
                model.zero_grad()
            sub = tuple(None if s is None else s[:, part] for s in states)  # (layers, n, H)
            return model._part_loss_and_grad(
                tokens[:, part], targets[:, part], sub, loss_from, count
            )

        results = _parallel.run_parallel(
            [functools.partial(task, m, part) for m, part in zip(models, parts, strict=True)]
        )
        for g, *copies in zip(self.gradients(), *(m.gradients() for m in models[1:]), strict=True):
            for c in copies:
                g += c
        self._split = list(zip(parts, models, strict=True))
        finals = tuple(
            np.concatenate(f, axis=1) for f in zip(*(r[1] for r in results), strict=True)
        )
        return sum(r[0] for r in results), finals

    def _replicas_for(self, k: int) -> list[LanguageModel]:
        """``k`` replicas sharing the current parameter arrays (remade after ``astype``)."""
        params = self.parameters()
        stale = any(
            any(a is not b for a, b in zip(params, r.parameters(), strict=True))
            for r in self._replicas
        )
        if stale or len(self._replicas) < k:
            self._replicas = []
            for _ in range(k):
                twin = self._replica()
                assert isinstance(twin, LanguageModel)
                twin._replicas, twin._split = [], None
                self._replicas.append(twin)
        return self._replicas[:k]

    def _part_loss_and_grad(
        self,
        tokens: NDArray[np.integer],
        targets: NDArray[np.integer],
        states: tuple[Array | None, ...],
        loss_from: int,
        count: int,
    ) -> tuple[float, Any]:
        """Serial step on this module: the summed loss of steps ``loss_from ..`` over ``count``."""
        T, N = tokens.shape
        H = self.hidden_size
        hid, finals = self._hidden(tokens, states)  # (T, N, H)
        used = hid[loss_from:].reshape(-1, H)  # (M, H), M = (T - loss_from) N
        logits = self.head._forward(used)  # (M, V)
        loss: Any  # a NumPy scalar of the logits' dtype
        loss, dlogits = softmax_cross_entropy_and_grad(
            logits, targets[loss_from:].reshape(-1), "sum"
        )
        if count != 1:
            loss = loss / count
            dlogits *= dlogits.dtype.type(1 / count)
        dused = self.head._backward(dlogits)  # (M, H)
        if loss_from == 0:
            d_hid = dused.reshape(T, N, H)
        else:
            d_hid = np.zeros((T, N, H), dtype=dused.dtype)  # (T, N, H) no loss before loss_from
            d_hid[loss_from:] = dused.reshape(T - loss_from, N, H)
        need_dx = self.embedding is not None
        dx, _ = self.rnn._backward_impl(d_hid, (None,) * self.rnn.num_states, need_dx=need_dx)
        if self.embedding is not None:
            assert dx is not None
            self.embedding._backward(dx)
        return float(loss), finals

    def _states_at(self, step: int) -> tuple[Array, ...]:
        """States (num_layers, N, H) after ``step`` steps of the latest forward (0: initial)."""
        if self._split is None:
            return self.rnn._state_at(step)
        per_part = [m.rnn._state_at(step) for _, m in self._split]
        return tuple(np.concatenate(s, axis=1) for s in zip(*per_part, strict=True))

    def state_at(self, step: int) -> Any:
        """The state after ``step`` steps of the latest forward (0: the initial state)."""
        trace = self.rnn._trace  # this module runs the first part of a split batch too
        if trace is None:
            raise ValueError("state_at called before any forward")
        T = trace.shape[0]
        step = check_positive_int(step, "step", allow_zero=True)
        if step > T:
            raise ValueError(f"step must be in [0, T] = [0, {T}] (the latest forward); got {step}")
        return self.rnn._pack_state(self._states_at(step))

    # -- training -------------------------------------------------------------------------------
    def train_step(
        self,
        tokens_in: ArrayLike,
        targets: ArrayLike,
        optimizer: Any,
        state: Any = None,
        *,
        reduction: str = "mean",
        clip_norm: float | None = None,
        clip_value: float | None = None,
    ) -> tuple[float, Any]:
        """``zero_grad``, :meth:`loss_and_grad`, optional clipping, ``optimizer.step()``.

        Returns the loss (before the update) and the final state.
        """
        from handgrad.optim import clip_grad_norm, clip_grad_value

        _check_training(optimizer, clip_norm, clip_value, required=True)
        self.zero_grad()
        loss, _, state_n = self.loss_and_grad(tokens_in, targets, state, reduction=reduction)
        if clip_value is not None:
            clip_grad_value(self, clip_value)
        if clip_norm is not None:
            clip_grad_norm(self, clip_norm)
        optimizer.step()
        return loss, state_n

    def fit(
        self,
        stream: ArrayLike,
        optimizer: Any,
        *,
        seq_length: int,
        epochs: int = 1,
        k2: int | None = None,
        reduction: str = "mean",
        clip_norm: float | None = None,
        clip_value: float | None = None,
        callback: Callable[[int, float], None] | None = None,
    ) -> NDArray[np.float64]:
        """Train on a token stream (L,) or (L, N) by truncated BPTT, min-char-rnn style.

        Inputs are ``stream[:-1]``, targets ``stream[1:]``; each epoch starts from the zero state
        and carries the state across chunks of ``seq_length`` steps (``k1 = seq_length``,
        ``k2 = k2 or seq_length``; see :func:`handgrad.nn.bptt.truncated_bptt`). Returns the
        loss of every chunk, epochs concatenated.
        """
        from handgrad.nn.bptt import truncated_bptt

        seq_length = check_positive_int(seq_length, "seq_length")
        idx = self._tokens(stream, "stream")
        if idx.shape[0] < 2:
            raise ValueError(f"stream must hold at least 2 tokens along time; got {idx.shape[0]}")
        losses = []
        for _ in range(check_positive_int(epochs, "epochs")):
            result = truncated_bptt(
                self,
                idx[:-1],
                idx[1:],
                seq_length,
                k2,
                optimizer=optimizer,
                reduction=reduction,
                clip_norm=clip_norm,
                clip_value=clip_value,
                callback=callback,
            )
            losses.append(result.losses)
        return np.concatenate(losses)

    def sample(
        self,
        prefix: int | ArrayLike,
        length: int,
        temperature: float = 1.0,
        rng: np.random.Generator | None = None,
        *,
        state: Any = None,
    ) -> NDArray[np.int64]:
        """Draw ``length`` tokens after ``prefix``, feeding each draw back in (one sequence).

        Parameters
        ----------
        prefix : int or 1-D sequence of int
            Token ids to condition on, fed in order from ``state`` (an int is a one-token
            prefix). The first draw comes from the model's distribution after the whole prefix.
        length : int
            Number of tokens to draw (>= 0).
        temperature : float
            Divides the logits before the softmax (> 0): towards 0 the draws become the most
            likely token (greedy), 1 is the model's distribution, above 1 flatter.
        rng : numpy.random.Generator
            The source of the draws (required): one ``rng.choice`` per token, so the same
            generator state gives the same tokens.
        state : optional
            Initial state (zeros if None).

        Returns
        -------
        ndarray of int64, shape (length,)
            The drawn tokens (the prefix excluded).
        """
        tokens: Any = prefix
        if isinstance(prefix, int | np.integer) and not isinstance(prefix, bool):
            tokens = [prefix]  # a start token is a one-token prefix
        idx = check_tokens(tokens, "prefix", self.vocab_size)
        if idx.ndim != 1 or idx.shape[0] == 0:
            raise ValueError(
                f"prefix must be a token id or a non-empty 1-D sequence of token ids; "
                f"got shape {idx.shape}"
            )
        n = check_positive_int(length, "length", allow_zero=True)
        temperature = check_real(temperature, "temperature", 0.0, None, low_inclusive=False)
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator; got {type(rng).__name__}")
        states = self._state(state, 1)
        out = np.empty(n, dtype=np.int64)  # (length,) the draws
        if n == 0:
            return out
        hid, states = self._hidden(np.ascontiguousarray(idx[:, None]), states)  # (P, 1, H)
        token = np.empty((1, 1), dtype=np.int64)  # (1, 1) the latest draw, fed back in
        for k in range(n):
            z = self.head._forward(hid[-1, 0]).astype(np.float64) / temperature  # (V,)
            p = np.exp(z - z.max())  # (V,) unnormalised probabilities
            p /= p.sum()
            token[0, 0] = out[k] = rng.choice(self.vocab_size, p=p)
            if k + 1 < n:
                hid, states = self._hidden(token, states)  # (1, 1, H)
        return out
