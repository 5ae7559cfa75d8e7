r"""Training speed in min-char-rnn's setting: min-char-rnn's own loop, and one training loop per
implementation (handgrad, that loop, PyTorch) to time against each other.

The setting (Karpathy's min-char-rnn, 2015): one stream of characters, chunks of ``seq_length``
characters with the state carried from one to the next (truncated BPTT) and reset at the end of
the stream, summed cross-entropy, every gradient element clipped to [-clip, clip], Adagrad.
:func:`trainer` returns a function that trains the next ``n`` chunks; :func:`tokens_per_second`
times one. :mod:`handgrad.experiments.char_rnn` reports these rates and ``benchmarks/
bench_char_rnn.py`` measures them beside each other.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from handgrad._checks import check_choice, check_positive_int

__all__ = [
    "IMPLEMENTATIONS",
    "MinCharRNN",
    "one_torch_thread",
    "tokens_per_second",
    "torch_available",
    "trainer",
]

CELLS = ("rnn", "lstm", "gru")


class MinCharRNN:
    r"""min-char-rnn (Karpathy 2015) in plain NumPy: its model, its per-step loop, its update.

    Column vectors, one character at a time:

    .. math:: h_t = \tanh(W_{xh} x_t + W_{hh} h_{t-1} + b_h),\quad
              p_t = \mathrm{softmax}(W_{hy} h_t + b_y),\quad E = -\sum_t \log p_{t, y_t}

    with :math:`x_t` the one-hot character (V, 1). Parameters ``Wxh`` (H, V), ``Whh`` (H, H),
    ``Why`` (V, H) drawn N(0, 0.01^2), ``bh`` (H, 1) and ``by`` (V, 1) zero. Backward, for t
    from the last step down: :math:`dy = p_t - \mathrm{onehot}(y_t)`,
    :math:`dh = W_{hy}^\top dy + dh_{next}`, :math:`da = (1 - h_t^2) \odot dh`,
    :math:`dW_{xh} \mathrel{+}= da\, x_t^\top`, :math:`dW_{hh} \mathrel{+}= da\, h_{t-1}^\top`,
    :math:`dh_{next} = W_{hh}^\top da`. Update: every gradient clipped to [-clip, clip], then
    Adagrad :math:`m \mathrel{+}= g^2`, :math:`p \mathrel{-}= lr\, g / \sqrt{m + 10^{-8}}`.
    """

    def __init__(self, vocab_size: int, hidden_size: int = 100, *, rng: np.random.Generator):
        V = check_positive_int(vocab_size, "vocab_size")
        H = check_positive_int(hidden_size, "hidden_size")
        self.Wxh = rng.standard_normal((H, V)) * 0.01  # (H, V) input to hidden
        self.Whh = rng.standard_normal((H, H)) * 0.01  # (H, H) hidden to hidden
        self.Why = rng.standard_normal((V, H)) * 0.01  # (V, H) hidden to output
        self.bh = np.zeros((H, 1))  # (H, 1)
        self.by = np.zeros((V, 1))  # (V, 1)
        self.mem = [np.zeros_like(p) for p in self.params]  # Adagrad's sums of squares
        self.hprev = np.zeros((H, 1))  # (H, 1) the state carried between chunks
        self.pos = 0  # where the next chunk starts in the stream

    @property
    def params(self) -> list[NDArray[np.float64]]:
        return [self.Wxh, self.Whh, self.Why, self.bh, self.by]

    def loss_and_grads(
        self,
        inputs: Sequence[int] | NDArray[np.integer],
        targets: Sequence[int] | NDArray[np.integer],
        hprev: NDArray[np.float64],
    ) -> tuple[float, list[NDArray[np.float64]], NDArray[np.float64]]:
        """Summed cross-entropy of one chunk, the gradients (as :attr:`params`), the last state."""
        V, H = self.Why.shape
        xs: dict[int, NDArray[np.float64]] = {}  # one-hot inputs (V, 1)
        hs: dict[int, NDArray[np.float64]] = {-1: hprev}  # states (H, 1)
        ps: dict[int, NDArray[np.float64]] = {}  # softmax outputs (V, 1)
        loss = 0.0
        for t in range(len(inputs)):
            xs[t] = np.zeros((V, 1))
            xs[t][inputs[t]] = 1.0
            hs[t] = np.tanh(self.Wxh @ xs[t] + self.Whh @ hs[t - 1] + self.bh)
            ys = self.Why @ hs[t] + self.by  # (V, 1) logits
            shifted = ys - ys.max()
            log_z = np.log(np.exp(shifted).sum())
            ps[t] = np.exp(shifted - log_z)
            loss -= float(shifted[targets[t], 0] - log_z)
        dWxh, dWhh, dWhy = (np.zeros_like(p) for p in (self.Wxh, self.Whh, self.Why))
        dbh, dby = np.zeros_like(self.bh), np.zeros_like(self.by)
        dhnext = np.zeros((H, 1))
        for t in reversed(range(len(inputs))):
            dy = ps[t].copy()
            dy[targets[t]] -= 1.0  # (V, 1) dE/dlogits
            dWhy += dy @ hs[t].T
            dby += dy
            dh = self.Why.T @ dy + dhnext  # (H, 1)
            dhraw = (1.0 - hs[t] * hs[t]) * dh  # (H, 1) through tanh
            dbh += dhraw
            dWxh += dhraw @ xs[t].T
            dWhh += dhraw @ hs[t - 1].T
            dhnext = self.Whh.T @ dhraw
        return loss, [dWxh, dWhh, dWhy, dbh, dby], hs[len(inputs) - 1]

    def train(
        self,
        ids: NDArray[np.integer],
        steps: int,
        *,
        seq_length: int = 25,
        lr: float = 0.1,
        clip: float = 5.0,
    ) -> NDArray[np.float64]:
        """``steps`` chunks of min-char-rnn's loop over the stream ``ids``; their losses.

        The state and the position carry over between calls; at the stream's end both reset
        (min-char-rnn's ``if p + seq_length + 1 >= len(data)``).
        """
        L = seq_length
        losses = np.empty(steps)  # (steps,) summed loss of each chunk
        for n in range(steps):
            if self.pos + L + 1 >= len(ids):
                self.hprev = np.zeros_like(self.hprev)
                self.pos = 0
            inputs = ids[self.pos : self.pos + L]
            targets = ids[self.pos + 1 : self.pos + L + 1]
            losses[n], grads, self.hprev = self.loss_and_grads(inputs, targets, self.hprev)
            for param, g, mem in zip(self.params, grads, self.mem, strict=True):
                np.clip(g, -clip, clip, out=g)
                mem += g * g
                param += -lr * g / np.sqrt(mem + 1e-8)
            self.pos += L
        return losses


IMPLEMENTATIONS = ("handgrad", "numpy", "torch")


def trainer(
    implementation: str,
    cell: str,
    ids: NDArray[np.integer],
    vocab_size: int,
    *,
    hidden_size: int = 100,
    seq_length: int = 25,
    lr: float = 0.1,
    clip: float = 5.0,
    seed: int = 0,
) -> Callable[[int], float]:
    """A function ``train(n)`` that runs the next ``n`` chunks of the classic loop over ``ids``
    (state carried, reset at the end of the stream) and returns the last chunk's loss.

    ``implementation``: "handgrad" (:class:`~handgrad.nn.LanguageModel` through
    :func:`~handgrad.nn.bptt.truncated_bptt`), "numpy" (:class:`MinCharRNN`; ``cell="rnn"``
    only) or "torch" (``torch.nn.RNN``/``LSTM``/``GRU`` + ``Linear``, one-hot inputs, autograd,
    ``clip_grad_value_``, ``torch.optim.Adagrad``). All in float64.
    """
    check_choice(implementation, "implementation", IMPLEMENTATIONS)
    check_choice(cell, "cell", CELLS)
    L = seq_length
    per_epoch = (len(ids) - 1) // L
    if implementation == "numpy":
        if cell != "rnn":
            raise ValueError(f"the numpy loop (min-char-rnn) is a tanh RNN; got cell={cell!r}")
        ref = MinCharRNN(vocab_size, hidden_size, rng=np.random.default_rng(seed))
        return lambda n: float(ref.train(ids, n, seq_length=L, lr=lr, clip=clip)[-1])
    if implementation == "torch":
        return _torch_trainer(cell, ids, vocab_size, hidden_size, L, lr, clip, seed)
    from handgrad.nn import LanguageModel
    from handgrad.nn.bptt import truncated_bptt
    from handgrad.optim import Adagrad

    model = LanguageModel(vocab_size, hidden_size, cell=cell, seed=seed)
    opt = Adagrad(model, lr=lr)
    where: dict[str, Any] = {"chunk": 0, "state": None}

    def train(n: int) -> float:
        loss = float("nan")
        while n > 0:
            chunk = where["chunk"] % per_epoch
            if chunk == 0:
                where["state"] = None
            m = min(n, per_epoch - chunk)
            lo = chunk * L
            result = truncated_bptt(
                model,
                ids[lo : lo + m * L],
                ids[lo + 1 : lo + m * L + 1],
                L,
                optimizer=opt,
                state=where["state"],
                reduction="sum",
                clip_value=clip,
            )
            where["state"], where["chunk"] = result.state, where["chunk"] + m
            loss, n = float(result.losses[-1]), n - m
        return loss

    return train


def _torch_trainer(
    cell: str,
    ids: NDArray[np.integer],
    V: int,
    H: int,
    L: int,
    lr: float,
    clip: float,
    seed: int,
) -> Callable[[int], float]:
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    layer = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](V, H)
    layer = layer.double()
    head = torch.nn.Linear(H, V).double()
    params = [*layer.parameters(), *head.parameters()]
    opt = torch.optim.Adagrad(params, lr=lr)
    tokens = torch.from_numpy(np.asarray(ids, dtype=np.int64))
    eye = torch.eye(V, dtype=torch.float64)
    per_epoch = (len(ids) - 1) // L
    where: dict[str, Any] = {"chunk": 0, "state": None}

    def train(n: int) -> float:
        loss = torch.zeros(())
        for _ in range(n):
            chunk = where["chunk"] % per_epoch
            if chunk == 0:
                where["state"] = None
            lo = chunk * L
            x = eye[tokens[lo : lo + L]].unsqueeze(1)  # (L, 1, V) one-hot
            y = tokens[lo + 1 : lo + L + 1]  # (L,)
            opt.zero_grad()
            out, state = layer(x, where["state"])  # (L, 1, H)
            loss = F.cross_entropy(head(out[:, 0]), y, reduction="sum")
            loss.backward()
            torch.nn.utils.clip_grad_value_(params, clip)
            opt.step()
            where["state"] = (
                tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
            )
            where["chunk"] += 1
        return float(loss.item())

    return train


def tokens_per_second(
    train: Callable[[int], float], steps: int, seq_length: int = 25, warmup: int = 20
) -> float:
    """Characters trained per second by ``train(steps)`` (after ``train(warmup)``), wall time."""
    train(warmup)
    start = time.perf_counter()
    train(steps)
    return steps * seq_length / (time.perf_counter() - start)


def torch_available() -> bool:
    """True when PyTorch can be imported (it is optional)."""
    import importlib.util

    return importlib.util.find_spec("torch") is not None


class one_torch_thread:
    """Hold PyTorch at one intra-op thread inside the block (when ``active``)."""

    def __init__(self, active: bool) -> None:
        self.active, self.before = active, 0

    def __enter__(self) -> None:
        if self.active:
            import torch

            self.before = torch.get_num_threads()
            torch.set_num_threads(1)

    def __exit__(self, *exc: object) -> None:
        if self.active:
            import torch

            torch.set_num_threads(self.before)
