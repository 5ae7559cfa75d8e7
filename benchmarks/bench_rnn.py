"""One training step of a character-level language model: handgrad vs PyTorch vs textbook NumPy.

A step = forward over T steps (one-hot input, recurrent layer, linear output), softmax
cross-entropy at every step (mean), full BPTT, plain SGD update. Settings:

* S1 = (vocab 65, hidden 100, T 25, batch 1): the classic min-char-rnn setting.
* S2 = (vocab 128, hidden 256, T 50, batch 32).

Anchors: ``torch`` (nn.RNN / nn.LSTM + nn.Linear + cross_entropy + autograd + torch.optim.SGD,
same dtype, default threads) and ``textbook numpy`` (min-char-rnn's per-step loop: one-hot
products, a softmax and the weight-gradient outer products at every step, batched as columns).
Targets: at most torch's time, and at least 1.5x faster than the textbook version. torch's
float32 LSTM runs oneDNN's fused LSTM kernels, so that row against torch is informational,
without a target.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.harness import Case
from handgrad.nn.language_model import LanguageModel
from handgrad.optim import SGD

SETTINGS = {"S1": (65, 100, 25, 1), "S2": (128, 256, 50, 32)}  # vocab, hidden, T, batch
LR = 0.1
TARGETS = {"torch": 1.0, "textbook numpy": 1 / 1.5}
ONEDNN_NOTE = "informational (torch float32: oneDNN)"


def _sigmoid(x: Any) -> Any:
    return 1.0 / (1.0 + np.exp(-x))


def textbook_step(cell: str, params: dict[str, Any], tokens: Any, targets: Any) -> float:
    """min-char-rnn's training step (Karpathy), batched as columns, RNN or LSTM; SGD update."""
    Wx, Wh, b, Why, by = params["Wx"], params["Wh"], params["b"], params["Why"], params["by"]
    T, N = tokens.shape
    V, H = Why.shape
    cols = np.arange(N)
    scale = 1.0 / (T * N)
    xs, hs, cs, ps, gs = (
        {},
        {-1: np.zeros((H, N), Wh.dtype)},
        {-1: np.zeros((H, N), Wh.dtype)},
        {},
        {},
    )
    loss = 0.0
    for t in range(T):
        xs[t] = np.zeros((V, N), Wh.dtype)
        xs[t][tokens[t], cols] = 1
        a = Wx @ xs[t] + Wh @ hs[t - 1] + b
        if cell == "rnn":
            hs[t] = np.tanh(a)
        else:
            i, f, o = _sigmoid(a[:H]), _sigmoid(a[H : 2 * H]), _sigmoid(a[3 * H :])
            g = np.tanh(a[2 * H : 3 * H])
            cs[t] = f * cs[t - 1] + i * g
            hs[t] = o * np.tanh(cs[t])
            gs[t] = (i, f, g, o)
        y = Why @ hs[t] + by
        e = np.exp(y - y.max(axis=0))
        ps[t] = e / e.sum(axis=0)
        loss += -np.log(ps[t][targets[t], cols]).sum() * scale
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    dhnext = np.zeros((H, N), Wh.dtype)
    dcnext = np.zeros((H, N), Wh.dtype)
    for t in reversed(range(T)):
        dy = ps[t].copy()
        dy[targets[t], cols] -= 1
        dy *= scale
        grads["Why"] += dy @ hs[t].T
        grads["by"] += dy.sum(axis=1, keepdims=True)
        dh = Why.T @ dy + dhnext
        if cell == "rnn":
            da = (1 - hs[t] * hs[t]) * dh
        else:
            i, f, g, o = gs[t]
            tc = np.tanh(cs[t])
            dc = dcnext + dh * o * (1 - tc * tc)
            da = np.vstack(
                [
                    dc * g * i * (1 - i),
                    dc * cs[t - 1] * f * (1 - f),
                    dc * i * (1 - g * g),
                    dh * tc * o * (1 - o),
                ]
            )
            dcnext = dc * f
        grads["b"] += da.sum(axis=1, keepdims=True)
        grads["Wx"] += da @ xs[t].T
        grads["Wh"] += da @ hs[t - 1].T
        dhnext = Wh.T @ da
    for k in params:
        params[k] -= LR * grads[k]
    return loss


def _inputs(setting: str, dtype: Any) -> tuple[int, int, Any, Any]:
    V, H, T, N = SETTINGS[setting]
    rng = np.random.default_rng(0)
    return V, H, rng.integers(0, V, (T, N)), rng.integers(0, V, (T, N))


def _ours(cell: str, setting: str, dtype: Any) -> Callable[[], Any]:
    V, H, tokens, targets = _inputs(setting, dtype)
    model = LanguageModel(V, H, cell=cell, seed=0, dtype=dtype)
    opt = SGD(model, lr=LR)
    return lambda: model.train_step(tokens, targets, opt)


def _torch(cell: str, setting: str, dtype: Any) -> Callable[[], Any]:
    import torch
    import torch.nn.functional as F

    V, H, tokens, targets = _inputs(setting, dtype)
    tdtype = torch.float32 if dtype == np.float32 else torch.float64
    torch.manual_seed(0)
    rnn = (torch.nn.RNN if cell == "rnn" else torch.nn.LSTM)(V, H).to(tdtype)
    head = torch.nn.Linear(H, V).to(tdtype)
    opt = torch.optim.SGD([*rnn.parameters(), *head.parameters()], lr=LR)
    tok, tgt = torch.from_numpy(tokens), torch.from_numpy(targets).reshape(-1)

    def step() -> float:
        opt.zero_grad()
        x = F.one_hot(tok, V).to(tdtype)  # (T, N, V)
        out, _ = rnn(x)
        loss = F.cross_entropy(head(out).reshape(-1, V), tgt)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def _textbook(cell: str, setting: str, dtype: Any) -> Callable[[], Any]:
    V, H, tokens, targets = _inputs(setting, dtype)
    G = H if cell == "rnn" else 4 * H
    rng = np.random.default_rng(1)
    bound = 1 / np.sqrt(H)
    params = {
        "Wx": rng.uniform(-bound, bound, (G, V)).astype(dtype),
        "Wh": rng.uniform(-bound, bound, (G, H)).astype(dtype),
        "b": np.zeros((G, 1), dtype),
        "Why": rng.uniform(-bound, bound, (V, H)).astype(dtype),
        "by": np.zeros((V, 1), dtype),
    }
    return lambda: textbook_step(cell, params, tokens, targets)


def cases() -> list[Case]:
    out = []
    for setting in ("S1", "S2"):
        for dtype in (np.float32, np.float64):
            for cell in ("rnn", "lstm"):
                repeats = 30 if setting == "S1" else 10
                onednn = cell == "lstm" and dtype == np.float32  # torch: oneDNN's LSTM
                targets = {a: r for a, r in TARGETS.items() if not (onednn and a == "torch")}
                out.append(
                    Case(
                        area="rnn",
                        name=f"LM train step {cell.upper()} {setting} {np.dtype(dtype).name}",
                        ours=_ours(cell, setting, dtype),
                        anchors={
                            "torch": _torch(cell, setting, dtype),
                            "textbook numpy": _textbook(cell, setting, dtype),
                        },
                        targets=targets,
                        notes={"torch": ONEDNN_NOTE} if onednn else {},
                        repeats=repeats,
                        warmup=3,
                    )
                )
    return out
