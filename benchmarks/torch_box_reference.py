"""torchvision's IoU-family loss formulas written in torch (torchvision itself is not a dependency).

The oracle of the box-loss tests and the "torch" anchor of the box benchmark: one copy, imported by
both (``from benchmarks.torch_box_reference import torch_loss``).
"""

from __future__ import annotations

import math

import torch

__all__ = ["torch_loss", "torch_to_xyxy"]


def torch_to_xyxy(b: torch.Tensor, fmt: str) -> torch.Tensor:
    a, c, d, e = b.unbind(-1)
    if fmt == "xyxy":
        return b
    if fmt == "xywh":
        return torch.stack([a, c, a + d, c + e], -1)
    return torch.stack([a - 0.5 * d, c - 0.5 * e, a + 0.5 * d, c + 0.5 * e], -1)


def torch_loss(
    p: torch.Tensor,
    t: torch.Tensor,
    kind: str,
    eps: float = 1e-7,
    mode: str = "torchvision",
    fmt: str = "xyxy",
) -> torch.Tensor:
    """Per-pair loss exactly as torchvision writes it (masked intersection, no_grad alpha)."""
    p, t = torch_to_xyxy(p, fmt), torch_to_xyxy(t, fmt)
    x1, y1, x2, y2 = p.unbind(-1)
    x1g, y1g, x2g, y2g = t.unbind(-1)
    xk1, yk1 = torch.max(x1, x1g), torch.max(y1, y1g)
    xk2, yk2 = torch.min(x2, x2g), torch.min(y2, y2g)
    inter = torch.zeros_like(x1)
    mask = (yk2 > yk1) & (xk2 > xk1)
    inter[mask] = (xk2[mask] - xk1[mask]) * (yk2[mask] - yk1[mask])
    union = (x2 - x1) * (y2 - y1) + (x2g - x1g) * (y2g - y1g) - inter
    iou = inter / (union + eps)
    if kind == "iou":
        return 1 - iou
    if kind == "log_iou":
        return -torch.log(torch.clamp(iou, min=eps))
    xc1, yc1 = torch.min(x1, x1g), torch.min(y1, y1g)
    xc2, yc2 = torch.max(x2, x2g), torch.max(y2, y2g)
    if kind == "giou":
        area_c = (xc2 - xc1) * (yc2 - yc1)
        return 1 - (iou - (area_c - union) / (area_c + eps))
    diag = (xc2 - xc1) ** 2 + (yc2 - yc1) ** 2 + eps
    dist = ((x2 + x1) / 2 - (x1g + x2g) / 2) ** 2 + ((y2 + y1) / 2 - (y1g + y2g) / 2) ** 2
    diou = 1 - iou + dist / diag
    if kind == "diou":
        return diou
    w, h, wg, hg = x2 - x1, y2 - y1, x2g - x1g, y2g - y1g
    theta = torch.atan(w / h)
    if mode == "paper":  # value atan(w/h); gradient (h, -w): the 1/(w^2 + h^2) factor dropped
        theta = theta.detach() + (h.detach() * w - w.detach() * h)
    v = (4 / math.pi**2) * (torch.atan(wg / hg) - theta) ** 2
    if mode == "exact":
        alpha = v / (1 - iou + v + eps)
    else:
        with torch.no_grad():
            alpha = v / (1 - iou + v + eps)
    return diou + alpha * v
