"""The blocked, threaded driver of the paired IoU-family losses.

The losses of :mod:`handgrad.boxes.losses` all run through :func:`fused_iou_loss`. It walks
over the N box pairs in blocks of :data:`BLOCK` pairs; each block is copied once into two
transposed, contiguous (4, m) buffers (rows x1, y1, x2, y2: contiguous column views, much faster
than strided ``boxes[:, k]``), converted to xyxy, and handed to
:func:`handgrad.boxes._iou_family.block` (the math: shared part, one forward / backward pair per
loss, coordinate step), and the gradient block is written back with one transposed copy. A
block's temporaries (about 30 arrays of m floats, rows of a
:class:`~handgrad.boxes._scratch.Scratch` reused from block to block) stay in the CPU's caches
instead of streaming through memory. Many pairs are cut into contiguous parts, one per thread
(:mod:`handgrad._parallel`), each walking its own blocks with buffers and scratch of its own.

Box sizes are checked block by block as a by-product of the forward pass (no extra pass over
the input); a bad block sends the caller back to the full row-by-row check for its message.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from handgrad import _parallel
from handgrad._reduction import apply_reduction, reduction_scale
from handgrad.boxes._iou_family import CIOU_MODES, KINDS, InvalidBlock, block, loss_pair
from handgrad.boxes._scratch import Scratch
from handgrad.boxes.formats import check_valid_boxes, xyxy_grad_to_fmt

__all__ = [
    "BLOCK",
    "CIOU_MODES",
    "KINDS",
    "Scratch",
    "block_to_xyxy",
    "fused_iou_loss",
    "loss_block",
]

BLOCK = 32768  # pairs per block: measured fastest for float32 and float64 (8192: ~12% slower)

FloatArray = NDArray[np.floating]


# ---- blocks and threads ----------------------------------------------------------------------


def block_to_xyxy(b: FloatArray, fmt: str) -> None:
    """In place: a (4, m) block of boxes in ``fmt`` becomes xyxy (x1 = cx - w/2 as torchvision)."""
    if fmt == "xyxy":
        return
    if fmt == "xywh":
        b[2] += b[0]
        b[3] += b[1]
        return
    for c, s in ((0, 2), (1, 3)):
        half = b[s] * 0.5  # (m,) half width / height
        np.add(b[c], half, out=b[s])  # x2 = cx + w/2
        b[c] -= half  # x1 = cx - w/2


def loss_block(
    p: FloatArray,
    t: FloatArray,
    *,
    kind: str,
    eps: float,
    loss: FloatArray,
    grad: FloatArray,
    mode: str = "torchvision",
    scratch: Scratch | None = None,
) -> FloatArray:
    """One block of pairs through the kernel, for callers that keep (4, m) blocks across calls.

    ``p``, ``t``: (4, m) xyxy rows of valid boxes (not checked); the loss (m,) goes into ``loss``,
    dL/dp (4, m, unreduced) into ``grad``. Returns the block's IoU = I / (U + eps), shape (m,),
    a row of ``scratch`` (valid until the next call with it). The losses' buffers and checks are
    the caller's, and so is ``scratch`` (the kernel's work rows; a fresh one if None), so a loop
    over the same blocks (gradient descent on fixed targets) that passes the same ``scratch``
    allocates no block-sized buffers per step.
    """
    if scratch is None:
        scratch = Scratch()
    return block(p, t, loss_pair(kind, mode), p.dtype.type(eps), 1.0, loss, grad, scratch)


def fused_iou_loss(
    pred: FloatArray,
    target: FloatArray,
    *,
    kind: str,
    eps: float,
    fmt: str,
    reduction: str,
    mode: str = "torchvision",
    want_grad: bool = True,
) -> tuple[FloatArray | np.floating, FloatArray | None]:
    """Reduced loss and (optionally) d(reduced loss)/d(pred) in ``fmt``, block by block.

    ``pred`` and ``target`` are checked (N, 4) floating arrays; argument values are checked by
    the public callers. Box sizes are checked here, block by block, at no extra pass.
    """
    n = pred.shape[0]
    dtype = np.result_type(pred.dtype, target.dtype)
    e = dtype.type(eps)
    if kind == "log_iou" and e == 0:
        raise ValueError(
            f"eps must be > 0 for log_iou_loss in {dtype}; got {eps!r}, which rounds to 0"
        )
    pair = loss_pair(kind, mode)
    scale = reduction_scale(n, reduction)
    loss = np.empty(n, dtype=dtype)  # (N,) per-pair loss
    grad = np.empty((n, 4), dtype=dtype) if want_grad else None  # (N, 4) dL/dpred

    def work(part: slice) -> None:
        """The blocks of pairs ``part``, with buffers of its own (a part per thread if large)."""
        m_max = min(BLOCK, max(part.stop - part.start, 1))
        pbuf = np.empty((4, m_max), dtype=dtype)  # (4, m) transposed block of pred (then xyxy)
        tbuf = np.empty((4, m_max), dtype=dtype)
        gbuf = np.empty((4, m_max), dtype=dtype) if want_grad else None  # (4, m) gradient block
        scratch = Scratch()  # the kernel's (m,) work rows, this part's own
        for i0 in range(part.start, part.stop, BLOCK):
            i1 = min(part.stop, i0 + BLOCK)
            m = i1 - i0
            pb, tb = pbuf[:, :m], tbuf[:, :m]
            np.copyto(pb, pred[i0:i1].T)
            np.copyto(tb, target[i0:i1].T)
            block_to_xyxy(pb, fmt)
            block_to_xyxy(tb, fmt)
            gb = None if gbuf is None else gbuf[:, :m]
            try:
                # huge coordinates overflow (sizes, area, squared diagonal): reported below
                with np.errstate(over="ignore", invalid="ignore"):
                    block(pb, tb, pair, e, scale, loss[i0:i1], gb, scratch)
            except InvalidBlock:
                check_valid_boxes(pred, "pred", fmt)
                check_valid_boxes(target, "target", fmt)
                raise ValueError(
                    f"pred and target (fmt {fmt!r}) overflow when converted to corners in rows "
                    f"{i0}..{i1 - 1}; their coordinates are too large for {dtype}"
                ) from None
            _check_block_finite(loss[i0:i1], gb, i0, i1, dtype)
            if gb is not None and grad is not None:
                xyxy_grad_to_fmt(gb, fmt)
                np.copyto(grad[i0:i1].T, gb)

    _parallel.run_split(n, 8, work)
    return apply_reduction(loss, reduction), grad


def _check_block_finite(
    loss: FloatArray, grad: FloatArray | None, i0: int, i1: int, dtype: np.dtype
) -> None:
    """Raise ``ValueError`` if the loss or gradient of rows i0..i1-1 overflowed ``dtype``."""
    bad = "loss" if not np.isfinite(loss.sum()) else None
    if bad is None and grad is not None and not np.isfinite(grad.sum()):
        bad = "gradient"
    if bad is not None:
        raise ValueError(
            f"pred and target have coordinates too large for {dtype} in rows "
            f"{i0}..{i1 - 1}: the {bad} overflows (use float64 or rescale the boxes)"
        )
