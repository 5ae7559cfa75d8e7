"""Benchmarks of handgrad.losses: loss value + gradient, float32, against torch autograd.

Cases
-----
* sigmoid focal loss on (100000, 80) logits with binary targets (~1% positives), value and
  gradient of the sum: handgrad's fused ``sigmoid_focal_loss_and_grad`` against torch autograd on
  torchvision's formula (forward + backward, default thread count) and a textbook NumPy version.
  Target: at most torch's time.
* the same with soft targets (the general path), for information.
* softmax focal loss and softmax cross-entropy on (100000, 80), for information.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.harness import Case
from handgrad.losses import (
    sigmoid_focal_loss_and_grad,
    softmax_cross_entropy_and_grad,
    softmax_focal_loss_and_grad,
)

N, C = 100_000, 80
ALPHA, GAMMA = 0.25, 2.0


def _inputs(soft: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = (2.0 * rng.standard_normal((N, C)) - 2.0).astype(np.float32)  # (N, C) logits
    if soft:
        t = rng.random((N, C), dtype=np.float32) ** 8  # (N, C) soft targets, mostly near 0
    else:
        t = (rng.random((N, C)) < 0.01).astype(np.float32)  # (N, C) ~1% positives
    return x, t


def textbook_sigmoid_focal_and_grad(
    x: np.ndarray, t: np.ndarray, alpha: float = ALPHA, gamma: float = GAMMA
) -> tuple[Any, np.ndarray]:
    """Straightforward NumPy: the formula and its derivative written out, no fusion."""
    p = 1.0 / (1.0 + np.exp(-x))
    ce = np.logaddexp(0, x) - t * x
    p_t = p * t + (1 - p) * (1 - t)
    modulator = (1 - p_t) ** gamma
    alpha_t = alpha * t + (1 - alpha) * (1 - t)
    loss = alpha_t * modulator * ce
    dmod = gamma * (1 - p_t) ** (gamma - 1) * (1 - 2 * t) * p * (1 - p)
    grad = alpha_t * (dmod * ce + modulator * (p - t))
    return loss.sum(), grad


def _torch_sigmoid_focal(x: np.ndarray, t: np.ndarray) -> Callable[[], Any]:
    import torch
    import torch.nn.functional as F

    xt = torch.from_numpy(x).requires_grad_(True)
    tt = torch.from_numpy(t)

    def run() -> Any:
        xt.grad = None
        p = torch.sigmoid(xt)
        ce = F.binary_cross_entropy_with_logits(xt, tt, reduction="none")
        p_t = p * tt + (1 - p) * (1 - tt)
        loss = ce * ((1 - p_t) ** GAMMA)
        alpha_t = ALPHA * tt + (1 - ALPHA) * (1 - tt)
        total = (alpha_t * loss).sum()
        total.backward()
        return total.item(), xt.grad

    return run


def _torch_softmax(x: np.ndarray, y: np.ndarray, gamma: float | None) -> Callable[[], Any]:
    import torch
    import torch.nn.functional as F

    xt = torch.from_numpy(x).requires_grad_(True)
    yt = torch.from_numpy(y)

    def run() -> Any:
        xt.grad = None
        if gamma is None:
            total = F.cross_entropy(xt, yt, reduction="mean")
        else:
            logpt = F.log_softmax(xt, dim=1).gather(1, yt[:, None])[:, 0]
            total = (-((1 - logpt.exp()) ** gamma) * logpt).mean()
        total.backward()
        return total.item(), xt.grad

    return run


def cases() -> list[Case]:
    x, t = _inputs()
    xs, ts = _inputs(soft=True)
    y = np.random.default_rng(1).integers(0, C, size=N)
    return [
        Case(
            area="losses",
            name=f"sigmoid_focal_loss value+grad ({N}, {C}) float32, 1% positives",
            ours=lambda: sigmoid_focal_loss_and_grad(x, t, ALPHA, GAMMA, reduction="sum"),
            anchors={
                "torch": _torch_sigmoid_focal(x, t),
                "textbook numpy": lambda: textbook_sigmoid_focal_and_grad(x, t),
            },
            targets={"torch": 1.0},
        ),
        Case(
            area="losses",
            name=f"sigmoid_focal_loss value+grad ({N}, {C}) float32, soft targets",
            ours=lambda: sigmoid_focal_loss_and_grad(xs, ts, ALPHA, GAMMA, reduction="sum"),
            anchors={
                "torch": _torch_sigmoid_focal(xs, ts),
                "textbook numpy": lambda: textbook_sigmoid_focal_and_grad(xs, ts),
            },
        ),
        Case(
            area="losses",
            name=f"softmax_focal_loss value+grad ({N}, {C}) float32",
            ours=lambda: softmax_focal_loss_and_grad(x, y, GAMMA),
            anchors={"torch": _torch_softmax(x, y, GAMMA)},
        ),
        Case(
            area="losses",
            name=f"softmax_cross_entropy value+grad ({N}, {C}) float32",
            ours=lambda: softmax_cross_entropy_and_grad(x, y),
            anchors={"torch": _torch_softmax(x, y, None)},
        ),
    ]
