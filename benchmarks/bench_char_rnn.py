"""Character-level training in min-char-rnn's classic setting: handgrad vs min-char-rnn's own loop
vs PyTorch, in characters (tokens) per second.

Setting (Karpathy's min-char-rnn): one stream of characters, H = 100, chunks of 25 characters
(truncated BPTT, state carried), summed cross-entropy, gradients clipped to [-5, 5], Adagrad with
learning rate 0.1, float64. The text is the first 100,000 characters of the Python standard
library's source (:func:`handgrad.experiments.char_rnn.load_corpus`; a vocabulary of about 90
characters). One call = the next 40 chunks (1,000 characters), so tokens per second = 1,000 /
the call's time.

* ours: :class:`handgrad.nn.LanguageModel` through :func:`handgrad.nn.bptt.truncated_bptt`
  (:func:`handgrad.experiments.char_speed.trainer`), for the tanh RNN, the LSTM and the GRU.
* ``plain numpy min-char-rnn``: min-char-rnn's algorithm as written (one-hot column vectors,
  a Python loop over the 25 steps forward and back, per-step outer products, Adagrad):
  :class:`handgrad.experiments.char_speed.MinCharRNN`; tanh RNN only. Target: handgrad at least
  2x its tokens per second (time ratio <= 0.5).
* ``torch``: ``torch.nn.RNN``/``LSTM``/``GRU`` + ``Linear`` on one-hot inputs, autograd,
  ``clip_grad_value_``, ``torch.optim.Adagrad``, default threads. Target: at most torch's time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks.harness import Case
from handgrad.experiments.char_rnn import encode, load_corpus
from handgrad.experiments.char_speed import trainer

CHARS = 100_000  # characters of the standard library's source to train on
CHUNKS_PER_CALL = 40  # 25-character chunks per timed call: 1,000 characters
TARGETS = {"plain numpy min-char-rnn": 0.5, "torch": 1.0}


def _stream() -> tuple[Any, int]:
    vocab, ids = encode(load_corpus("", CHARS).text)
    return ids, len(vocab)


def _call(implementation: str, cell: str, ids: Any, V: int) -> Callable[[], Any]:
    train = trainer(implementation, cell, ids, V, hidden_size=100, seq_length=25, lr=0.1, clip=5.0)
    return lambda: train(CHUNKS_PER_CALL)


def cases() -> list[Case]:
    ids, V = _stream()
    out = []
    for cell in ("rnn", "lstm", "gru"):
        anchors = {}
        if cell == "rnn":
            anchors["plain numpy min-char-rnn"] = _call("numpy", cell, ids, V)
        anchors["torch"] = _call("torch", cell, ids, V)
        out.append(
            Case(
                area="char_rnn",
                name=f"min-char-rnn setting {cell.upper()} H100 T25 Adagrad, 1000 chars/call",
                ours=_call("handgrad", cell, ids, V),
                anchors=anchors,
                targets={a: TARGETS[a] for a in anchors},
                repeats=9,
                warmup=2,
            )
        )
    return out
