"""Convolution benchmarks: forward + backward (dx and dweight) of conv_transpose2d and conv2d.

Shapes (the issue's anchors), stride 2, padding 1:

* C2: N 8, C_in 64 -> C_out 32, 32 x 32 -> 64 x 64, kernel 4.
* C3: N 16, C_in 128 -> C_out 64, 16 x 16 -> 32 x 32, kernel 3, output_padding 1.

conv2d runs the mirrored shapes (the transposed convolution's output as its input, the same
weight), so its forward is the transposed convolution's dx. Anchors: PyTorch CPU (forward, then
``torch.autograd.grad`` for x and weight) and a textbook NumPy version that loops over the kernel
taps with one tensordot per tap (the definition, vectorised over batch and positions).

Targets: <= 1x torch in float64 and <= 0.5x the textbook loop (timed in float32 only). torch's
float32 convolutions run oneDNN's kernels, not a GEMM that NumPy's BLAS could match, so the
float32 rows against torch are informational, without a target.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.harness import Case
from handgrad.conv import conv2d, conv2d_backward, conv_transpose2d, conv_transpose2d_backward

ONEDNN_NOTE = "informational (torch float32: oneDNN)"
SHAPES = {
    # name: (N, C_in, C_out, H, kernel, stride, padding, output_padding) of the transposed conv
    "C2": (8, 64, 32, 32, 4, 2, 1, 0),
    "C3": (16, 128, 64, 16, 3, 2, 1, 1),
}


def textbook_conv_transpose2d(x: Any, w: Any, s: int, p: int, a: int) -> Any:
    """Scatter-add, one tensordot per kernel tap (the definition)."""
    N, _, H, W = x.shape
    _, O, k, _ = w.shape
    Hf = (H - 1) * s + k + a
    yf = np.zeros((N, O, Hf, Hf), dtype=x.dtype)
    for u in range(k):
        for v in range(k):
            tap = np.tensordot(x, w[:, :, u, v], axes=([1], [0]))  # (N, H, W, O)
            yf[:, :, u : u + (H - 1) * s + 1 : s, v : v + (W - 1) * s + 1 : s] += tap.transpose(
                0, 3, 1, 2
            )
    Ho = Hf - 2 * p
    return yf[:, :, p : p + Ho, p : p + Ho]


def textbook_conv2d(x: Any, w: Any, s: int, p: int, out_hw: tuple[int, int]) -> Any:
    """Gather, one tensordot per kernel tap."""
    N = x.shape[0]
    O, _, k, _ = w.shape
    Ho, Wo = out_hw
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    y = np.zeros((N, Ho, Wo, O), dtype=x.dtype)
    for u in range(k):
        for v in range(k):
            sl = xp[:, :, u : u + (Ho - 1) * s + 1 : s, v : v + (Wo - 1) * s + 1 : s]
            y += np.tensordot(sl, w[:, :, u, v], axes=([1], [1]))  # (N, Ho, Wo, O)
    return y.transpose(0, 3, 1, 2)


def textbook_weight_grad(big: Any, small: Any, k: int, s: int, p: int) -> Any:
    """dw[c_small, c_big, u, v] = sum over n, i, j of small * big_padded at the tap's positions."""
    Ho, Wo = small.shape[2:]
    bp = np.pad(big, ((0, 0), (0, 0), (p, p), (p, p)))
    dw = np.empty((small.shape[1], big.shape[1], k, k), dtype=big.dtype)
    for u in range(k):
        for v in range(k):
            sl = bp[:, :, u : u + (Ho - 1) * s + 1 : s, v : v + (Wo - 1) * s + 1 : s]
            dw[:, :, u, v] = np.tensordot(small, sl, axes=([0, 2, 3], [0, 2, 3]))
    return dw


def _case(title: str, dtype: Any, ours: Any, torch_fn: Any, textbook: Any) -> Case:
    """The targets of the module docstring: torch in float64, the textbook loop in float32."""
    anchors = {"torch": torch_fn}
    targets = {"torch": 1.0}
    notes: dict[str, str] = {}
    if dtype == np.float32:
        anchors["textbook numpy"] = textbook
        targets = {"textbook numpy": 0.5}
        notes = {"torch": ONEDNN_NOTE}
    name = f"{title} {np.dtype(dtype).name}"
    return Case("conv", name, ours, anchors, targets, notes=notes)


def _transpose_case(name: str, dtype: Any) -> Case:
    import torch

    N, Ci, Co, H, k, s, p, a = SHAPES[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, Ci, H, H)).astype(dtype)
    w = rng.standard_normal((Ci, Co, k, k)).astype(dtype)
    y = conv_transpose2d(x, w, stride=s, padding=p, output_padding=a)
    g = rng.standard_normal(y.shape).astype(dtype)
    xt, wt, gt = (torch.from_numpy(t).requires_grad_(True) for t in (x, w, g))

    def ours() -> Any:
        conv_transpose2d(x, w, stride=s, padding=p, output_padding=a)
        return conv_transpose2d_backward(g, x, w, stride=s, padding=p, output_padding=a)

    def torch_fn() -> Any:
        out = torch.nn.functional.conv_transpose2d(xt, wt, stride=s, padding=p, output_padding=a)
        return torch.autograd.grad(out, (xt, wt), gt)

    def textbook() -> Any:
        textbook_conv_transpose2d(x, w, s, p, a)
        dx = textbook_conv2d(g, w, s, p, (H, H))
        return dx, textbook_weight_grad(g, x, k, s, p)

    return _case(f"conv_transpose2d fwd+bwd {name}", dtype, ours, torch_fn, textbook)


def _conv2d_case(name: str, dtype: Any) -> Case:
    import torch

    N, Ci, Co, H, k, s, p, a = SHAPES[name]
    Hb = (H - 1) * s - 2 * p + k + a  # mirrored: the transposed conv's output is the input
    rng = np.random.default_rng(1)
    x = rng.standard_normal((N, Co, Hb, Hb)).astype(dtype)
    w = rng.standard_normal((Ci, Co, k, k)).astype(dtype)
    y = conv2d(x, w, stride=s, padding=p)
    g = rng.standard_normal(y.shape).astype(dtype)
    xt, wt, gt = (torch.from_numpy(t).requires_grad_(True) for t in (x, w, g))

    def ours() -> Any:
        conv2d(x, w, stride=s, padding=p)
        return conv2d_backward(g, x, w, stride=s, padding=p)

    def torch_fn() -> Any:
        out = torch.nn.functional.conv2d(xt, wt, stride=s, padding=p)
        return torch.autograd.grad(out, (xt, wt), gt)

    def textbook() -> Any:
        textbook_conv2d(x, w, s, p, y.shape[2:])
        dx = textbook_conv_transpose2d(g, w, s, p, a)
        return dx, textbook_weight_grad(x, g, k, s, p)

    return _case(f"conv2d fwd+bwd {name}-mirror", dtype, ours, torch_fn, textbook)


def cases() -> list[Case]:
    out = []
    for name in SHAPES:
        for dtype in (np.float32, np.float64):
            out.append(_transpose_case(name, dtype))
    for name in SHAPES:
        for dtype in (np.float32, np.float64):
            out.append(_conv2d_case(name, dtype))
    return out
