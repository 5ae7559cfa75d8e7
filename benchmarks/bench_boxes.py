"""Box losses: value + gradient of the IoU family on 1e6 float32 pairs.

handgrad's fused ``*_loss_and_grad`` against
* "torch": torchvision's formulas in torch (CPU, float32), ``loss.mean().backward()``;
* "textbook numpy": the same math written plainly (strided columns, one temporary per
  expression, separate forward and backward).
Target: at most 0.7x torch's time.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.harness import Case
from handgrad import boxes as B

N = 1_000_000
KINDS = ("iou", "giou", "diou", "ciou")


def _pairs(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 100, (n, 2))
    pred = np.concatenate([xy, xy + rng.uniform(1, 50, (n, 2))], 1)
    xy_t = xy + rng.uniform(-20, 20, (n, 2))  # mostly overlapping pairs
    target = np.concatenate([xy_t, xy_t + rng.uniform(1, 50, (n, 2))], 1)
    return pred.astype(np.float32), target.astype(np.float32)


def torch_loss_and_grad(kind: str, pred: np.ndarray, target: np.ndarray) -> Callable[[], Any]:
    """torch autograd on torchvision's formulas: ``loss.mean().backward()``."""
    import torch

    from benchmarks.torch_box_reference import torch_loss

    tt = torch.from_numpy(target)

    def run() -> Any:
        p = torch.from_numpy(pred).requires_grad_(True)
        total = torch_loss(p, tt, kind).mean()
        total.backward()
        return total, p.grad

    return run


def textbook_loss_and_grad(kind: str, pred: np.ndarray, target: np.ndarray) -> Callable[[], Any]:
    """The formulas and their chain rule, written the obvious way (no fusion, strided columns)."""
    eps = 1e-7

    def run() -> Any:
        x1, y1, x2, y2 = pred[:, 0], pred[:, 1], pred[:, 2], pred[:, 3]
        x1g, y1g, x2g, y2g = target[:, 0], target[:, 1], target[:, 2], target[:, 3]
        n = len(x1)
        w, h = x2 - x1, y2 - y1
        iw = np.minimum(x2, x2g) - np.maximum(x1, x1g)
        ih = np.minimum(y2, y2g) - np.maximum(y1, y1g)
        mask = (iw > 0) & (ih > 0)
        inter = np.where(mask, iw * ih, 0)
        union = w * h + (x2g - x1g) * (y2g - y1g) - inter
        iou = inter / (union + eps)
        loss = 1 - iou
        d_iou = np.full(n, -1.0 / n, dtype=pred.dtype)
        d_union = -d_iou * inter / (union + eps) ** 2
        d_cw = d_ch = d_cx = d_cy = np.zeros(n, dtype=pred.dtype)
        d_w = np.zeros(n, dtype=pred.dtype)
        d_h = np.zeros(n, dtype=pred.dtype)
        if kind != "iou":
            cw = np.maximum(x2, x2g) - np.minimum(x1, x1g)
            ch = np.maximum(y2, y2g) - np.minimum(y1, y1g)
            if kind == "giou":
                area_c = cw * ch
                loss = loss + (area_c - union) / (area_c + eps)
                d_union = d_union - 1.0 / n / (area_c + eps)
                d_area_c = (union + eps) / (area_c + eps) ** 2 / n
                d_cw, d_ch = d_area_c * ch, d_area_c * cw
            else:
                diag = cw**2 + ch**2 + eps
                dx = (x1 + x2) / 2 - (x1g + x2g) / 2
                dy = (y1 + y2) / 2 - (y1g + y2g) / 2
                dist = dx**2 + dy**2
                loss = loss + dist / diag
                d_diag = -dist / diag**2 / n
                d_cw, d_ch = 2 * cw * d_diag, 2 * ch * d_diag
                d_cx, d_cy = dx / diag / n, dy / diag / n
                if kind == "ciou":
                    t = np.arctan(w / h)
                    delta = np.arctan((x2g - x1g) / (y2g - y1g)) - t
                    v = 4 / math.pi**2 * delta**2
                    alpha = v / (1 - iou + v + eps)
                    loss = loss + alpha * v
                    d_t = -8 / math.pi**2 * delta * alpha / n
                    d_w = d_t * h / (w**2 + h**2)
                    d_h = -d_t * w / (w**2 + h**2)
        d_inter = d_iou / (union + eps) - d_union
        d_iw = np.where(mask, d_inter * ih, 0)
        d_ih = np.where(mask, d_inter * iw, 0)
        d_w = d_w + d_union * h
        d_h = d_h + d_union * w
        grad = np.empty_like(pred)
        grad[:, 0] = -d_w - np.where(x1 > x1g, d_iw, 0) - np.where(x1 < x1g, d_cw, 0) + d_cx
        grad[:, 2] = d_w + np.where(x2 < x2g, d_iw, 0) + np.where(x2 > x2g, d_cw, 0) + d_cx
        grad[:, 1] = -d_h - np.where(y1 > y1g, d_ih, 0) - np.where(y1 < y1g, d_ch, 0) + d_cy
        grad[:, 3] = d_h + np.where(y2 < y2g, d_ih, 0) + np.where(y2 > y2g, d_ch, 0) + d_cy
        return loss.mean(), grad

    return run


def cases() -> list[Case]:
    pred, target = _pairs(N)
    out = []
    for kind in KINDS:
        fused = getattr(B, f"{kind}_loss_and_grad")

        def ours(fused: Callable[..., Any] = fused) -> Any:
            return fused(pred, target, reduction="mean")

        out.append(
            Case(
                area="boxes",
                name=f"{kind}_loss value+grad, 1e6 pairs float32",
                ours=ours,
                anchors={
                    "torch": torch_loss_and_grad(kind, pred, target),
                    "textbook numpy": textbook_loss_and_grad(kind, pred, target),
                },
                targets={"torch": 0.7},
                repeats=5,
                warmup=1,
            )
        )
    return out
