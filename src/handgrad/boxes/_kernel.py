r"""Fused forward and backward of the paired IoU-family losses, block by block.

The losses of :mod:`handgrad.boxes.losses` all run through :func:`fused_iou_loss`. It walks
over the N box pairs in blocks of :data:`BLOCK` pairs; each block is copied once into two
transposed, contiguous (4, m) buffers (rows x1, y1, x2, y2: contiguous column views, much faster
than strided ``boxes[:, k]``), the forward pass keeps the intermediates the backward pass needs,
and the gradient block is written back with one transposed copy. A block's temporaries
(about 30 arrays of m floats) stay in the CPU's caches instead of streaming through memory.
Many pairs are cut into contiguous parts, one per thread (:mod:`handgrad._parallel`), each
walking its own blocks with buffers of its own.

Notation (per pair; ``p`` the predicted box, ``g`` the target, all in xyxy)
------------------------------------------------------------------------
.. math::
    w = x_2 - x_1,\ h = y_2 - y_1 \quad (w_g, h_g \text{ likewise}),\qquad
    i_w = \min(x_2, x_{2g}) - \max(x_1, x_{1g}),\ i_h \text{ likewise}

    I = [i_w > 0][i_h > 0]\, i_w i_h,\quad U = wh + w_g h_g - I,\quad
    \mathrm{IoU} = \frac{I}{U + \epsilon}

    c_w = \max(x_2, x_{2g}) - \min(x_1, x_{1g}),\ c_h \text{ likewise},\quad
    C = c_w c_h,\quad c^2 = c_w^2 + c_h^2 + \epsilon,\quad
    \rho^2 = \Big(\tfrac{x_1 + x_2 - x_{1g} - x_{2g}}{2}\Big)^2 + (\cdot)_y^2

    v = \tfrac{4}{\pi^2} (\theta_g - \theta_p)^2,\ \theta = \operatorname{atan2}(w, h),\quad
    \alpha = \frac{v}{1 - \mathrm{IoU} + v + \epsilon}

Losses: ``iou`` 1 - IoU; ``log_iou`` -ln max(IoU, eps); ``giou`` 1 - IoU + (C - U)/(C + eps);
``diou`` 1 - IoU + rho^2/c^2; ``ciou`` diou + alpha v. These are torchvision's formulas with its
eps placement; the intersection uses the strict mask [i_w > 0][i_h > 0] as torchvision's losses do
(so touching boxes get zero intersection gradient).

Backward, with upstream scale ``s`` (from the reduction) and every quantity per pair:

.. math::
    \bar{U} = -\bar{\mathrm{IoU}}\,\frac{\mathrm{IoU}}{U + \epsilon} + \bar{U}_{\text{pen}},\qquad
    \bar{I} = \frac{\bar{\mathrm{IoU}}}{U + \epsilon} - \bar{U}

    \bar{i}_w = \bar{I}\, [i_w > 0]\, \max(i_h, 0),\quad
    \bar{w} = \bar{U} h + \bar{\theta}_p \frac{h}{w^2 + h^2},\quad
    \bar{c}_w = \bar{C} c_h \ \text{(GIoU)}\ \text{or}\ -2 s \frac{\rho^2}{(c^2)^2} c_w \ \text{(DIoU, CIoU)}

and, with torch's tie rule for min / max (the gradient is split equally between equal
arguments: weight 1/2 each), :math:`m = \tfrac12 + \tfrac12 \operatorname{sign}(x_1 - x_{1g})`,
:math:`n = \tfrac12 - \tfrac12 \operatorname{sign}(x_2 - x_{2g})`:

.. math::
    \bar{x}_1 = -\bar{w} - m\, \bar{i}_w - (1 - m)\, \bar{c}_w + k,\qquad
    \bar{x}_2 = \bar{w} + n\, \bar{i}_w + (1 - n)\, \bar{c}_w + k,\qquad
    k = s\,\frac{x_1 + x_2 - x_{1g} - x_{2g}}{2\, c^2}

(y likewise). CIoU: :math:`\bar{v} = s\alpha` with alpha held constant ("torchvision", "paper"),
or :math:`\bar{v} = s(\alpha + v (1 - \mathrm{IoU} + \epsilon) / D^2)` and an extra
:math:`\bar{\mathrm{IoU}} \mathrel{+}= s\alpha^2` when alpha is differentiated ("exact",
D the denominator of alpha); :math:`\bar{\theta}_p = -\tfrac{8}{\pi^2} (\theta_g - \theta_p) \bar{v}`;
"paper" drops the factor 1 / (w^2 + h^2) from dtheta/dw and dtheta/dh.

Degenerate inputs (documented policy; torchvision gives NaN in these cases)
-------------------------------------------------------------------------
* A zero denominator (possible only with ``eps = 0``: both boxes of zero area, a zero-area
  enclosing box, coincident points, IoU = 1 with v = 0) has a zero numerator too; the quotient
  is taken as 0, with zero gradient.
* The aspect angle is ``atan2(w, h)``: atan(w / h) where h > 0, pi / 2 for h = 0 < w, and 0 for a
  point box (w = h = 0), whose angle gradient is taken as 0.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from handgrad import _parallel
from handgrad._reduction import apply_reduction, reduction_scale
from handgrad.boxes.formats import check_valid_boxes, xyxy_grad_to_fmt

__all__ = ["BLOCK", "CIOU_MODES", "KINDS", "fused_iou_loss"]

KINDS: tuple[str, ...] = ("iou", "log_iou", "giou", "diou", "ciou")
CIOU_MODES: tuple[str, ...] = ("torchvision", "exact", "paper")
BLOCK = 32768  # pairs per block: measured fastest for float32 and float64 (8192: ~12% slower)

FloatArray = NDArray[np.floating]
_FOUR_OVER_PI2 = 4.0 / np.pi**2


class _InvalidBlock(Exception):
    """A block holds a negative or non-finite size; the caller finds and reports the row."""


def _sizes_ok(*sizes: FloatArray) -> bool:
    """True when every size is >= 0 and finite (NaN fails both comparisons)."""
    for s in sizes:
        if s.size and not (s.min() >= 0 and s.max() < np.inf):
            return False
    return True


def _block_to_xyxy(b: FloatArray, fmt: str) -> None:
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


def _safe(den: FloatArray, e: np.floating) -> None:
    """With eps = 0, replace zero denominators by 1 (their numerators are 0: quotient 0)."""
    if e == 0:
        den[den == 0] = 1


def _block(
    p: FloatArray,
    t: FloatArray,
    kind: str,
    e: np.floating,
    mode: str,
    scale: float,
    loss: FloatArray,
    grad: FloatArray | None,
) -> None:
    """Loss (m,) into ``loss`` and, if ``grad`` is given, dL/d(pred xyxy) (4, m) into ``grad``.

    ``p``, ``t``: (4, m) xyxy rows of the predicted and target boxes of one block.
    """
    x1, y1, x2, y2 = p
    x1g, y1g, x2g, y2g = t
    dt = p.dtype.type
    one = dt(1)

    # sizes (m,) each; also the input check of the block (NaN, inf, overflow, negative)
    with np.errstate(over="ignore", invalid="ignore"):
        w = x2 - x1
        h = y2 - y1
        wg = x2g - x1g
        hg = y2g - y1g
    if not _sizes_ok(w, h, wg, hg):
        raise _InvalidBlock

    # intersection: iw = min(x2, x2g) - max(x1, x1g); inter = iw * ih where both are > 0
    iw = np.minimum(x2, x2g)
    iw -= np.maximum(x1, x1g)
    ih = np.minimum(y2, y2g)
    ih -= np.maximum(y1, y1g)
    iwc = np.maximum(iw, 0)  # (m,) iw clipped: the mask times iw
    ihc = np.maximum(ih, 0)
    inter = iwc * ihc
    union = w * h  # (m,) wh + wg hg - inter
    union += wg * hg
    union -= inter
    a = union + e  # (m,) IoU denominator U + eps
    _safe(a, e)
    inv_a = one / a
    iou = inter * inv_a  # (m,)

    # loss head: each kind adds its penalty to 1 - IoU (log_iou replaces it)
    pen_c = None  # (m,) C + eps for GIoU
    c2 = None  # (m,) squared enclosing diagonal + eps for DIoU / CIoU
    if kind == "log_iou":
        clipped = np.maximum(iou, e)  # (m,) max(IoU, eps) (eps > 0 is checked upstream)
        np.log(clipped, out=loss)
        np.negative(loss, out=loss)
    else:
        np.subtract(one, iou, out=loss)
    if kind in ("giou", "diou", "ciou"):
        cw = np.maximum(x2, x2g)  # (m,) enclosing width
        cw -= np.minimum(x1, x1g)
        ch = np.maximum(y2, y2g)
        ch -= np.minimum(y1, y1g)
        if kind == "giou":
            big_c = cw * ch  # (m,) enclosing area C
            pen_c = big_c + e
            _safe(pen_c, e)
            pen = big_c - union  # (m,) (C - U) / (C + eps)
            pen /= pen_c
            loss += pen
        else:
            c2 = cw * cw
            c2 += ch * ch
            c2 += e
            _safe(c2, e)
            dx = x1 + x2  # (m,) centre offsets (x1 + x2)/2 - (x1g + x2g)/2
            dx -= x1g + x2g
            dx *= 0.5
            dy = y1 + y2
            dy -= y1g + y2g
            dy *= 0.5
            rho2 = dx * dx
            rho2 += dy * dy
            inv_c2 = one / c2
            loss += rho2 * inv_c2
    if kind == "ciou":
        theta_p = np.arctan2(w, h)  # (m,) aspect angles
        delta = np.arctan2(wg, hg)  # (m,) theta_g - theta_p
        delta -= theta_p
        v = delta * delta
        v *= _FOUR_OVER_PI2
        den = np.subtract(one, iou)  # (m,) 1 - IoU + v + eps
        den += v
        den += e
        _safe(den, e)
        alpha = v / den
        loss += alpha * v
    if grad is None:
        return

    # ---- backward ---------------------------------------------------------------------------
    s = dt(scale)
    # g_iou: dL/dIoU; g_u: dL/dU (IoU path + penalty path)
    if kind == "log_iou":
        g_iou = (iou >= e).astype(p.dtype)  # torch's clamp passes the gradient at IoU = eps
        g_iou *= -s
        g_iou /= clipped
    elif kind == "ciou" and mode == "exact":
        g_iou = alpha * alpha
        g_iou *= s
        g_iou -= s
    else:
        g_iou = np.full_like(iou, -s)
    g_u = g_iou * iou  # (m,) -g_iou * IoU / (U + eps)
    g_u *= inv_a
    np.negative(g_u, out=g_u)
    if pen_c is not None:  # GIoU: d/dU of (C - U)/(C + eps) is -1/(C + eps)
        inv_c = one / pen_c
        g_u -= s * inv_c
        g_big_c = a * inv_c  # (m,) dL/dC = (U + eps)/(C + eps)^2
        g_big_c *= inv_c
        g_big_c *= s
    g_i = g_iou * inv_a  # (m,) total dL/dI = direct - dL/dU
    g_i -= g_u

    g_iw = g_i * ihc  # (m,) dL/diw, zero unless both iw > 0 and ih > 0
    g_iw *= iw > 0
    g_ih = g_i * iwc
    g_ih *= ih > 0
    g_w = g_u * h  # (m,) dL/dw through the area wh (and the aspect angle below)
    g_h = g_u * w

    if kind == "giou":
        g_cw = g_big_c * ch  # (m,) dL/dcw
        g_ch = g_big_c * cw
    elif c2 is not None:
        g_c2 = rho2 * inv_c2  # (m,) dL/dc^2 = -s rho^2 / c2^2, and dL/dcw = 2 cw dL/dc^2
        g_c2 *= inv_c2
        g_c2 *= -2 * s
        g_cw = g_c2 * cw
        g_ch = g_c2 * ch
        k_x = dx * inv_c2  # (m,) dL/dx1 = dL/dx2 from the centre distance
        k_x *= s
        k_y = dy * inv_c2
        k_y *= s
    if kind == "ciou":
        g_theta = alpha * s  # (m,) dL/dv, then dL/dtheta_p = -(8/pi^2) delta dL/dv
        if mode == "exact":
            dv = np.subtract(one, iou)  # (m,) + v (1 - IoU + eps) / den^2
            dv += e
            dv *= v
            dv /= den
            dv /= den
            dv *= s
            g_theta += dv
        g_theta *= delta
        g_theta *= -2 * _FOUR_OVER_PI2
        if mode != "paper":  # dtheta/dw = h / (w^2 + h^2), dtheta/dh = -w / (w^2 + h^2)
            r2 = w * w
            r2 += h * h
            r2[r2 == 0] = 1  # point box: zero angle gradient
            g_theta /= r2
        g_w += g_theta * h
        g_h -= g_theta * w

    for g_side, g_iside, c1, c1g, c2_, c2g, out1, out2, k in (
        (g_w, g_iw, x1, x1g, x2, x2g, grad[0], grad[2], "x"),
        (g_h, g_ih, y1, y1g, y2, y2g, grad[1], grad[3], "y"),
    ):
        # S = dL/dw + (P + Q)/2 and D = (P - Q)/2, with P = dL/diw and Q = dL/dcw:
        # x1 gets -S - D sign(x1 - x1g), x2 gets S - D sign(x2 - x2g) (ties: sign 0, weight 1/2)
        if kind in ("iou", "log_iou"):
            half_d = g_iside * 0.5  # (m,) Q = 0
            big_s = g_side + half_d
        else:
            g_enc = g_cw if k == "x" else g_ch
            big_s = g_iside + g_enc
            big_s *= 0.5
            big_s += g_side
            half_d = g_iside - g_enc
            half_d *= 0.5
        sg = np.subtract(c1, c1g)  # (m,) sign(x1 - x1g) * D
        np.sign(sg, out=sg)
        sg *= half_d
        np.negative(big_s, out=out1)
        out1 -= sg
        np.subtract(c2_, c2g, out=sg)
        np.sign(sg, out=sg)
        sg *= half_d
        np.subtract(big_s, sg, out=out2)
        if kind in ("diou", "ciou"):
            kk = k_x if k == "x" else k_y
            out1 += kk
            out2 += kk


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
    scale = reduction_scale(n, reduction)
    loss = np.empty(n, dtype=dtype)  # (N,) per-pair loss
    grad = np.empty((n, 4), dtype=dtype) if want_grad else None  # (N, 4) dL/dpred

    def work(part: slice) -> None:
        """The blocks of pairs ``part``, with buffers of its own (a part per thread if large)."""
        m_max = min(BLOCK, max(part.stop - part.start, 1))
        pbuf = np.empty((4, m_max), dtype=dtype)  # (4, m) transposed block of pred (then xyxy)
        tbuf = np.empty((4, m_max), dtype=dtype)
        gbuf = np.empty((4, m_max), dtype=dtype) if want_grad else None  # (4, m) gradient block
        for i0 in range(part.start, part.stop, BLOCK):
            i1 = min(part.stop, i0 + BLOCK)
            m = i1 - i0
            pb, tb = pbuf[:, :m], tbuf[:, :m]
            np.copyto(pb, pred[i0:i1].T)
            np.copyto(tb, target[i0:i1].T)
            _block_to_xyxy(pb, fmt)
            _block_to_xyxy(tb, fmt)
            gb = None if gbuf is None else gbuf[:, :m]
            try:
                # huge coordinates overflow (area, squared diagonal): reported below, by rows
                with np.errstate(over="ignore", invalid="ignore"):
                    _block(pb, tb, kind, e, mode, scale, loss[i0:i1], gb)
            except _InvalidBlock:
                check_valid_boxes(pred, "pred", fmt)
                check_valid_boxes(target, "target", fmt)
                raise ValueError(
                    f"pred and target (fmt {fmt!r}) overflow when converted to corners in rows "
                    f"{i0}..{i1 - 1}; their coordinates are too large for {dtype}"
                ) from None
            # squares of huge sizes overflow the dtype
            bad = "loss" if not np.isfinite(loss[i0:i1].sum()) else None
            if bad is None and gb is not None and not np.isfinite(gb.sum()):
                bad = "gradient"
            if bad is not None:
                raise ValueError(
                    f"pred and target have coordinates too large for {dtype} in rows "
                    f"{i0}..{i1 - 1}: the {bad} overflows (use float64 or rescale the boxes)"
                )
            if gb is not None and grad is not None:
                xyxy_grad_to_fmt(gb, fmt)
                np.copyto(grad[i0:i1].T, gb)

    _parallel.run_split(n, 8, work)
    return apply_reduction(loss, reduction), grad
