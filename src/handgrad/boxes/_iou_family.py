r"""The IoU-family losses on one block of box pairs: forward, backward and their math.

:func:`block` computes the losses of m pairs held as two (4, m) xyxy blocks (the driver,
:mod:`handgrad.boxes._kernel`, cuts the input into blocks and threads). It runs in three steps,
and this file reads in the same order:

1. the shared part, :func:`_overlap`: sizes, intersection, union and IoU, and
   :func:`_overlap_backward`, their gradients from dL/dIoU (and a loss's own dL/dU);
2. one forward / backward pair per loss: IoU, log-IoU, GIoU, DIoU, CIoU, each beside its
   formula (:func:`loss_pair` picks one);
3. the shared step :func:`_write_coordinate_grads`, from the gradients w.r.t. the lengths (the
   prediction's sides, the intersection's, the enclosing box's) and the centre offset to the
   gradients w.r.t. the coordinates.

Every forward writes the (m,) loss and returns what its backward needs; every backward receives
the upstream scale ``s`` (dR/dL of the reduction) and returns d(s L)/d(lengths) along x and y.
Every (m,) intermediate is written (``out=``) into a row of the caller's
:class:`~handgrad.boxes._scratch.Scratch`, so that a loop of calls allocates no block-sized
arrays.

Notation (per pair; ``p`` the predicted box, ``g`` the target, all in xyxy)
------------------------------------------------------------------------
.. math::
    w = x_2 - x_1,\ h = y_2 - y_1 \quad (w_g, h_g \text{ likewise}),\qquad
    i_w = \min(x_2, x_{2g}) - \max(x_1, x_{1g}),\ i_h \text{ likewise}

    I = [i_w > 0][i_h > 0]\, i_w i_h,\quad U = wh + w_g h_g - I,\quad
    \mathrm{IoU} = \frac{I}{U + \epsilon}

    c_w = \max(x_2, x_{2g}) - \min(x_1, x_{1g}),\ c_h \text{ likewise (the enclosing box)},\quad
    C = c_w c_h,\quad c^2 = c_w^2 + c_h^2 + \epsilon,\quad
    \rho^2 = \Big(\tfrac{x_1 + x_2 - x_{1g} - x_{2g}}{2}\Big)^2 + (\cdot)_y^2

    v = \tfrac{4}{\pi^2} (\theta_g - \theta_p)^2,\ \theta = \operatorname{atan2}(w, h),\quad
    \alpha = \frac{v}{1 - \mathrm{IoU} + v + \epsilon}

Losses: ``iou`` 1 - IoU; ``log_iou`` -ln max(IoU, eps); ``giou`` 1 - IoU + (C - U)/(C + eps);
``diou`` 1 - IoU + rho^2/c^2; ``ciou`` diou + alpha v. These are torchvision's
formulas with its eps placement; the intersection uses the strict mask [i_w > 0][i_h > 0] as
torchvision's losses do (so touching boxes get zero intersection gradient).

Min / max ties
--------------
With torch's tie rule for min / max (the gradient is split equally between equal arguments:
weight 1/2 each), :math:`m = \tfrac12 + \tfrac12 \operatorname{sign}(x_1 - x_{1g})`,
:math:`n = \tfrac12 - \tfrac12 \operatorname{sign}(x_2 - x_{2g})`:

.. math::
    \bar{x}_1 = -\bar{w} - m\, \bar{i}_w - (1 - m)\, \bar{c}_w + k,\qquad
    \bar{x}_2 = \bar{w} + n\, \bar{i}_w + (1 - n)\, \bar{c}_w + k,\qquad
    k = \frac{x_1 + x_2 - x_{1g} - x_{2g}}{2\, c^2}\ \text{(DIoU, CIoU)}

(y likewise), all times ``s``.

Degenerate inputs (documented policy; torchvision gives NaN in these cases)
-------------------------------------------------------------------------
* A zero denominator (possible only with ``eps = 0``: both boxes of zero area, a zero-area
  enclosing box, coincident points, IoU = 1 with v = 0) has a zero numerator too; the quotient
  is taken as 0, with zero gradient.
* The aspect angle is ``atan2(w, h)``: atan(w / h) where h > 0, pi / 2 for h = 0 < w, and 0 for a
  point box (w = h = 0), whose angle gradient is taken as 0.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from handgrad.boxes._scratch import Scratch

__all__ = ["CIOU_MODES", "KINDS", "InvalidBlock", "block", "loss_pair"]

CIOU_MODES: tuple[str, ...] = ("torchvision", "exact", "paper")

FloatArray = NDArray[np.floating]
_FOUR_OVER_PI2 = 4.0 / np.pi**2


class InvalidBlock(Exception):
    """A block holds a negative or non-finite size; the caller finds and reports the row."""


def _safe(den: FloatArray, e: np.floating, scratch: Scratch) -> None:
    """With eps = 0, replace zero denominators by 1 (their numerators are 0: quotient 0)."""
    if e == 0:
        zero = np.equal(den, 0, out=scratch.take_mask())
        den[zero] = 1
        scratch.give_mask(zero)


# ---- 1. the shared part: sizes, intersection, union, IoU ---------------------------------------


class _Overlap(NamedTuple):
    """What every loss of one block of m pairs shares; (m,) arrays unless noted."""

    p: FloatArray  # (4, m) predicted boxes, rows x1, y1, x2, y2
    t: FloatArray  # (4, m) target boxes
    e: np.floating  # eps in the block's dtype
    scratch: Scratch  # the block's work rows, for the forward and backward that follow
    w: FloatArray  # x2 - x1 of the prediction
    h: FloatArray
    wg: FloatArray  # x2g - x1g of the target
    hg: FloatArray
    iw: FloatArray  # min(x2, x2g) - max(x1, x1g): negative for disjoint boxes
    ih: FloatArray
    iwc: FloatArray  # max(iw, 0): the mask times iw
    ihc: FloatArray
    union: FloatArray  # U = wh + wg hg - I
    inv_a: FloatArray  # 1 / (U + eps) (1 where U + eps is 0, see _safe)
    iou: FloatArray  # I / (U + eps)


@dataclass
class _AxisGrads:
    """d(s L)/d(lengths along one axis), (m,) each; None where the loss has no such term."""

    side: FloatArray  # d/dw: the prediction's width (through its area, and CIoU's angle)
    inter: FloatArray  # d/diw: the intersection's width
    enclosing: FloatArray | None = None  # d/dcw: the enclosing box's width (GIoU, DIoU, CIoU)
    centre: FloatArray | None = None  # d/dx1 = d/dx2 through the centre distance (DIoU, CIoU)


def _sizes_ok(*sizes: FloatArray) -> bool:
    """True when every size is >= 0 and finite (NaN fails both comparisons)."""
    for s in sizes:
        if s.size and not (s.min() >= 0 and s.max() < np.inf):
            return False
    return True


def _overlap(p: FloatArray, t: FloatArray, e: np.floating, scratch: Scratch) -> _Overlap:
    """Sizes, intersection, union and IoU of a block; also its input check (raises InvalidBlock).

    ``p``, ``t``: (4, m) xyxy rows of the predicted and target boxes; ``scratch`` started for
    this block.
    """
    x1, y1, x2, y2 = p
    x1g, y1g, x2g, y2g = t
    w, h, wg, hg, iw, ih, iwc, ihc, union, inv_a, iou, tmp = scratch.take_many(12)
    np.subtract(x2, x1, out=w)  # (m,) sizes; NaN, inf, overflow and negative sizes fail the check
    np.subtract(y2, y1, out=h)
    np.subtract(x2g, x1g, out=wg)
    np.subtract(y2g, y1g, out=hg)
    if not _sizes_ok(w, h, wg, hg):
        raise InvalidBlock
    np.minimum(x2, x2g, out=iw)  # (m,) intersection width, negative when disjoint
    iw -= np.maximum(x1, x1g, out=tmp)  # tmp: (m,) a term, here and below
    np.minimum(y2, y2g, out=ih)
    ih -= np.maximum(y1, y1g, out=tmp)
    np.maximum(iw, 0, out=iwc)
    np.maximum(ih, 0, out=ihc)
    inter = np.multiply(iwc, ihc, out=iou)  # (m,) I, then the IoU in place
    np.multiply(w, h, out=union)  # (m,) U = wh + wg hg - I
    union += np.multiply(wg, hg, out=tmp)
    union -= inter
    a = np.add(union, e, out=inv_a)  # (m,) U + eps, then its inverse in place
    _safe(a, e, scratch)
    np.divide(1, a, out=inv_a)
    np.multiply(inter, inv_a, out=iou)
    scratch.give(tmp)
    return _Overlap(p, t, e, scratch, w, h, wg, hg, iw, ih, iwc, ihc, union, inv_a, iou)


def _overlap_backward(
    ov: _Overlap, g_iou: FloatArray | np.floating, g_union: FloatArray | None = None
) -> tuple[_AxisGrads, _AxisGrads]:
    r"""Gradients w.r.t. the sizes and the intersection, from dL/dIoU and a loss's own dL/dU.

    .. math::
        \bar{U} = -\bar{\mathrm{IoU}}\,\frac{\mathrm{IoU}}{U + \epsilon} + \bar{U}_{\text{loss}},
        \qquad \bar{I} = \frac{\bar{\mathrm{IoU}}}{U + \epsilon} - \bar{U}
        \quad (U = wh + w_g h_g - I)

        \bar{w} = \bar{U} h,\qquad \bar{i}_w = \bar{I}\, [i_w > 0]\, \max(i_h, 0)
        \quad (h, i_h \text{ likewise})

    ``g_iou``: d(s L)/dIoU, (m,) or a scalar; ``g_union``: the loss's dL/dU outside the IoU.
    """
    g_u, g_i, g_iw, side_x = ov.scratch.take_many(4)
    mask = ov.scratch.take_mask()  # (m,) iw > 0, then ih > 0
    np.multiply(ov.iou, ov.inv_a, out=g_u)  # (m,) dL/dU
    g_u *= g_iou
    np.negative(g_u, out=g_u)
    if g_union is not None:
        g_u += g_union
    np.multiply(ov.inv_a, g_iou, out=g_i)  # (m,) dL/dI: direct, minus the path through U
    g_i -= g_u
    np.multiply(g_i, ov.ihc, out=g_iw)  # (m,) zero unless both iw > 0 and ih > 0
    g_iw *= np.greater(ov.iw, 0, out=mask)
    g_ih = np.multiply(g_i, ov.iwc, out=g_i)  # in place: dL/dI is not needed after
    g_ih *= np.greater(ov.ih, 0, out=mask)
    np.multiply(g_u, ov.h, out=side_x)
    side_y = np.multiply(g_u, ov.w, out=g_u)  # in place: dL/dU is not needed after
    ov.scratch.give_mask(mask)
    return _AxisGrads(side=side_x, inter=g_iw), _AxisGrads(side=side_y, inter=g_ih)


# ---- 2. one forward / backward pair per loss ---------------------------------------------------
# forward(ov, loss) writes the (m,) loss and returns the backward's cache;
# backward(ov, cache, s) returns the gradients along x and along y for step 3.


def _iou_forward(ov: _Overlap, loss: FloatArray) -> None:
    r""":math:`L = 1 - \mathrm{IoU}`."""
    np.subtract(1, ov.iou, out=loss)


def _iou_backward(ov: _Overlap, cache: None, s: np.floating) -> tuple[_AxisGrads, _AxisGrads]:
    r""":math:`\partial L / \partial \mathrm{IoU} = -1`."""
    return _overlap_backward(ov, -s)


def _log_iou_forward(ov: _Overlap, loss: FloatArray) -> FloatArray:
    r""":math:`L = -\ln \max(\mathrm{IoU}, \epsilon)` (UnitBox); caches the clipped IoU."""
    clipped = np.maximum(ov.iou, ov.e, out=ov.scratch.take())  # (m,) (eps > 0 checked upstream)
    np.log(clipped, out=loss)
    np.negative(loss, out=loss)
    return clipped


def _log_iou_backward(
    ov: _Overlap, clipped: FloatArray, s: np.floating
) -> tuple[_AxisGrads, _AxisGrads]:
    r""":math:`\partial L / \partial \mathrm{IoU}
    = -[\mathrm{IoU} \ge \epsilon] / \max(\mathrm{IoU}, \epsilon)`
    (torch's clamp passes the gradient at IoU = eps)."""
    g_iou = np.greater_equal(ov.iou, ov.e, out=ov.scratch.take())  # (m,) 1.0 or 0.0
    g_iou *= -s
    g_iou /= clipped
    gx, gy = _overlap_backward(ov, g_iou)
    ov.scratch.give(g_iou)
    return gx, gy


def _enclosing(ov: _Overlap) -> tuple[FloatArray, FloatArray]:
    """(cw, ch), (m,) each: the size of the smallest box enclosing both."""
    x1, y1, x2, y2 = ov.p
    x1g, y1g, x2g, y2g = ov.t
    cw, ch, low = ov.scratch.take_many(3)
    np.maximum(x2, x2g, out=cw)
    cw -= np.minimum(x1, x1g, out=low)  # low: (m,) the lower edge
    np.maximum(y2, y2g, out=ch)
    ch -= np.minimum(y1, y1g, out=low)
    ov.scratch.give(low)
    return cw, ch


def _giou_forward(ov: _Overlap, loss: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    r""":math:`L = 1 - \mathrm{IoU} + \frac{C - U}{C + \epsilon}` with :math:`C = c_w c_h`.

    Caches (cw, ch, C + eps).
    """
    cw, ch = _enclosing(ov)
    big_c, c_eps = ov.scratch.take_many(2)
    np.multiply(cw, ch, out=big_c)  # (m,) C
    np.add(big_c, ov.e, out=c_eps)  # (m,) C + eps
    _safe(c_eps, ov.e, ov.scratch)
    penalty = np.subtract(big_c, ov.union, out=big_c)  # (m,) (C - U) / (C + eps), in place of C
    penalty /= c_eps
    np.subtract(1, ov.iou, out=loss)
    loss += penalty
    ov.scratch.give(penalty)
    return cw, ch, c_eps


def _giou_backward(
    ov: _Overlap, cache: tuple[FloatArray, FloatArray, FloatArray], s: np.floating
) -> tuple[_AxisGrads, _AxisGrads]:
    r""":math:`\partial L/\partial \mathrm{IoU} = -1`, the penalty's
    :math:`\partial L/\partial U = -\frac{1}{C + \epsilon}`,
    :math:`\partial L/\partial C = \frac{U + \epsilon}{(C + \epsilon)^2}`,
    :math:`\partial C/\partial c_w = c_h`."""
    cw, ch, c_eps = cache
    inv_c, g_union = ov.scratch.take_many(2)
    np.divide(1, c_eps, out=inv_c)  # (m,)
    gx, gy = _overlap_backward(ov, -s, g_union=np.multiply(inv_c, -s, out=g_union))
    # dL/dC = (U + eps) / (C + eps)^2 with U + eps as it is (0 for two empty boxes with eps = 0),
    # not the IoU's safe denominator; in the row of dL/dU, not needed after
    g_c = np.add(ov.union, ov.e, out=g_union)  # (m,)
    g_c *= inv_c
    g_c *= inv_c
    g_c *= s
    gx.enclosing = np.multiply(g_c, ch, out=ov.scratch.take())
    gy.enclosing = np.multiply(g_c, cw, out=g_c)  # in place: dL/dC is not needed after
    ov.scratch.give(inv_c)
    return gx, gy


class _Distance(NamedTuple):
    """DIoU's cache, (m,) each."""

    cw: FloatArray  # enclosing width
    ch: FloatArray
    dx: FloatArray  # (x1 + x2)/2 - (x1g + x2g)/2: centre offset
    dy: FloatArray
    rho2: FloatArray  # dx^2 + dy^2
    inv_c2: FloatArray  # 1 / (cw^2 + ch^2 + eps)


def _diou_forward(ov: _Overlap, loss: FloatArray) -> _Distance:
    r""":math:`L = 1 - \mathrm{IoU} + \rho^2 / c^2`, :math:`c^2 = c_w^2 + c_h^2 + \epsilon`."""
    x1, y1, x2, y2 = ov.p
    x1g, y1g, x2g, y2g = ov.t
    cw, ch = _enclosing(ov)
    c2, dx, dy, rho2, tmp = ov.scratch.take_many(5)
    np.multiply(cw, cw, out=c2)  # (m,) squared enclosing diagonal + eps
    c2 += np.multiply(ch, ch, out=tmp)  # tmp: (m,) a term, here and below
    c2 += ov.e
    _safe(c2, ov.e, ov.scratch)
    np.add(x1, x2, out=dx)  # (m,) centre offsets
    dx -= np.add(x1g, x2g, out=tmp)
    dx *= 0.5
    np.add(y1, y2, out=dy)
    dy -= np.add(y1g, y2g, out=tmp)
    dy *= 0.5
    np.multiply(dx, dx, out=rho2)
    rho2 += np.multiply(dy, dy, out=tmp)
    inv_c2 = np.divide(1, c2, out=c2)  # in place: c^2 is not needed after
    np.subtract(1, ov.iou, out=loss)
    loss += np.multiply(rho2, inv_c2, out=tmp)
    ov.scratch.give(tmp)
    return _Distance(cw, ch, dx, dy, rho2, inv_c2)


def _distance_backward(
    d: _Distance, s: np.floating, gx: _AxisGrads, gy: _AxisGrads, scratch: Scratch
) -> None:
    r"""Add the gradients of :math:`\rho^2 / c^2` (DIoU's and CIoU's penalty) to ``gx``, ``gy``.

    .. math::
        \frac{\partial L}{\partial c_w} = -\frac{2 \rho^2}{(c^2)^2} c_w,\qquad
        \frac{\partial L}{\partial x_1} = \frac{\partial L}{\partial x_2}
        = \frac{\partial L}{\partial d_x} \frac{1}{2} = \frac{d_x}{c^2}
    """
    g_c2, g_cw, g_dx, g_dy = scratch.take_many(4)
    np.multiply(d.rho2, d.inv_c2, out=g_c2)  # (m,) 2 dL/dc^2
    g_c2 *= d.inv_c2
    g_c2 *= -2 * s
    gx.enclosing = np.multiply(g_c2, d.cw, out=g_cw)
    gy.enclosing = np.multiply(g_c2, d.ch, out=g_c2)  # in place: dL/dc^2 is not needed after
    gx.centre = np.multiply(d.dx, d.inv_c2, out=g_dx)
    gx.centre *= s
    gy.centre = np.multiply(d.dy, d.inv_c2, out=g_dy)
    gy.centre *= s


def _diou_backward(ov: _Overlap, d: _Distance, s: np.floating) -> tuple[_AxisGrads, _AxisGrads]:
    r""":math:`\partial L / \partial \mathrm{IoU} = -1`, then the distance term."""
    gx, gy = _overlap_backward(ov, -s)
    _distance_backward(d, s, gx, gy, ov.scratch)
    return gx, gy


class _Aspect(NamedTuple):
    """CIoU's cache: DIoU's and the aspect term's, (m,) each."""

    distance: _Distance
    delta: FloatArray  # theta_g - theta_p, theta = atan2(w, h)
    v: FloatArray  # (4/pi^2) delta^2
    alpha: FloatArray  # v / den
    den: FloatArray  # 1 - IoU + v + eps


def _ciou_forward(ov: _Overlap, loss: FloatArray) -> _Aspect:
    r""":math:`L = L_{DIoU} + \alpha v`,
    :math:`v = \frac{4}{\pi^2} (\theta_g - \theta_p)^2`,
    :math:`\theta = \operatorname{atan2}(w, h)`,
    :math:`\alpha = \frac{v}{1 - \mathrm{IoU} + v + \epsilon}`.

    The angle difference is one atan2 of the cross and dot products of (h_g, w_g) and (h, w):
    :math:`\theta_g - \theta_p = \operatorname{atan2}(w_g h - h_g w,\ h_g h + w_g w)`, exact
    because both angles lie in [0, pi/2] (sizes are >= 0), so the dot product is >= 0. The dot
    product is 0 for a point box (w = h = 0, whose angle is taken as 0) and for a zero-width box
    against a zero-height one: those pairs get the two angles' difference.
    """
    distance = _diou_forward(ov, loss)
    cross, dot, den, alpha, tmp = ov.scratch.take_many(5)
    np.multiply(ov.wg, ov.h, out=cross)  # (m,) w_g h - h_g w
    cross -= np.multiply(ov.hg, ov.w, out=tmp)  # tmp: (m,) a term, here and below
    np.multiply(ov.hg, ov.h, out=dot)  # (m,) h_g h + w_g w
    dot += np.multiply(ov.wg, ov.w, out=tmp)
    delta = np.arctan2(cross, dot, out=cross)  # (m,) theta_g - theta_p, in place of the cross
    point = np.equal(dot, 0, out=ov.scratch.take_mask())
    if point.any():
        delta[point] = np.arctan2(ov.wg[point], ov.hg[point]) - np.arctan2(ov.w[point], ov.h[point])
    v = np.multiply(delta, delta, out=dot)  # (m,) in place of the dot product, not needed after
    v *= _FOUR_OVER_PI2
    np.subtract(1, ov.iou, out=den)  # (m,) 1 - IoU + v + eps
    den += v
    den += ov.e
    _safe(den, ov.e, ov.scratch)
    np.divide(v, den, out=alpha)
    loss += np.multiply(alpha, v, out=tmp)
    ov.scratch.give(tmp)
    ov.scratch.give_mask(point)
    return _Aspect(distance, delta, v, alpha, den)


def _ciou_backward(
    ov: _Overlap, c: _Aspect, s: np.floating, mode: str
) -> tuple[_AxisGrads, _AxisGrads]:
    r"""DIoU's backward plus the aspect term's; ``mode`` as in :func:`handgrad.boxes.ciou_loss`.

    .. math::
        \frac{\partial L}{\partial \theta_p} = -\frac{8}{\pi^2} (\theta_g - \theta_p)\, \bar{v},
        \qquad \frac{\partial \theta_p}{\partial w} = \frac{h}{w^2 + h^2},\
        \frac{\partial \theta_p}{\partial h} = \frac{-w}{w^2 + h^2}

    alpha held constant ("torchvision", "paper"): :math:`\bar{v} = \alpha`; alpha differentiated
    ("exact"): :math:`\bar{v} = \alpha + v (1 - \mathrm{IoU} + \epsilon) / D^2` and
    :math:`\partial L / \partial \mathrm{IoU} \mathrel{+}= \alpha^2` (D the denominator of
    alpha); "paper" drops the factor :math:`1 / (w^2 + h^2)` (1 for a point box).
    """
    exact = mode == "exact"
    g_iou: FloatArray | np.floating = -s
    if exact:
        g_iou = np.multiply(c.alpha, c.alpha, out=ov.scratch.take())  # (m,) -1 + alpha^2
        g_iou *= s
        g_iou -= s
    gx, gy = _overlap_backward(ov, g_iou)
    if isinstance(g_iou, np.ndarray):
        ov.scratch.give(g_iou)
    _distance_backward(c.distance, s, gx, gy, ov.scratch)
    g_theta, tmp = ov.scratch.take_many(2)
    np.multiply(c.alpha, s, out=g_theta)  # (m,) dL/dv, then dL/dtheta_p
    if exact:
        dv = np.subtract(1, ov.iou, out=tmp)  # (m,) v (1 - IoU + eps) / den^2
        dv += ov.e
        dv *= c.v
        dv /= c.den
        dv /= c.den
        dv *= s
        g_theta += dv
    g_theta *= c.delta
    g_theta *= -2 * _FOUR_OVER_PI2
    if mode != "paper":
        r2 = np.multiply(ov.w, ov.w, out=ov.scratch.take())  # (m,) w^2 + h^2
        r2 += np.multiply(ov.h, ov.h, out=tmp)  # tmp: (m,) a term
        zero = np.equal(r2, 0, out=ov.scratch.take_mask())  # point box: zero angle gradient
        r2[zero] = 1
        g_theta /= r2
        ov.scratch.give(r2)
        ov.scratch.give_mask(zero)
    gx.side += np.multiply(g_theta, ov.h, out=tmp)
    gy.side -= np.multiply(g_theta, ov.w, out=tmp)
    ov.scratch.give(g_theta, tmp)
    return gx, gy


Forward = Callable[[_Overlap, FloatArray], Any]
Backward = Callable[[_Overlap, Any, np.floating], tuple[_AxisGrads, _AxisGrads]]

_PAIRS: dict[str, tuple[Forward, Backward]] = {
    "iou": (_iou_forward, _iou_backward),
    "log_iou": (_log_iou_forward, _log_iou_backward),
    "giou": (_giou_forward, _giou_backward),
    "diou": (_diou_forward, _diou_backward),
}
KINDS: tuple[str, ...] = (*_PAIRS, "ciou")


def loss_pair(kind: str, mode: str) -> tuple[Forward, Backward]:
    """The forward / backward pair of ``kind``; ``mode`` picks CIoU's backward."""
    if kind == "ciou":
        return _ciou_forward, functools.partial(_ciou_backward, mode=mode)
    return _PAIRS[kind]


# ---- 3. the shared step: lengths -> coordinates ------------------------------------------------


def _write_axis(
    lo: FloatArray,
    lo_t: FloatArray,
    hi: FloatArray,
    hi_t: FloatArray,
    g: _AxisGrads,
    out_lo: FloatArray,
    out_hi: FloatArray,
    scratch: Scratch,
) -> None:
    """dL/d(x1), dL/d(x2) of one axis into ``out_lo``, ``out_hi`` (ties split as torch does).

    With P = dL/diw, Q = dL/dcw, S = dL/dw + (P + Q)/2 and D = (P - Q)/2:
    x1 gets -S - D sign(x1 - x1g), x2 gets S - D sign(x2 - x2g) (sign 0 at a tie: weight 1/2),
    plus the centre term.
    """
    big_s, half_d, sg = scratch.take_many(3)
    if g.enclosing is None:  # Q = 0
        np.multiply(g.inter, 0.5, out=half_d)  # (m,) D
        np.add(g.side, half_d, out=big_s)  # (m,) S
    else:
        np.add(g.inter, g.enclosing, out=big_s)
        big_s *= 0.5
        big_s += g.side
        np.subtract(g.inter, g.enclosing, out=half_d)
        half_d *= 0.5
    np.subtract(lo, lo_t, out=sg)  # (m,) sign(x1 - x1g) D
    np.sign(sg, out=sg)
    sg *= half_d
    np.negative(big_s, out=out_lo)
    out_lo -= sg
    np.subtract(hi, hi_t, out=sg)
    np.sign(sg, out=sg)
    sg *= half_d
    np.subtract(big_s, sg, out=out_hi)
    if g.centre is not None:
        out_lo += g.centre
        out_hi += g.centre
    scratch.give(big_s, half_d, sg)


def _write_coordinate_grads(ov: _Overlap, gx: _AxisGrads, gy: _AxisGrads, grad: FloatArray) -> None:
    """dL/d(pred xyxy) of a block into ``grad`` (4, m), from the gradients along x and y."""
    x1, y1, x2, y2 = ov.p
    x1g, y1g, x2g, y2g = ov.t
    _write_axis(x1, x1g, x2, x2g, gx, grad[0], grad[2], ov.scratch)
    _write_axis(y1, y1g, y2, y2g, gy, grad[1], grad[3], ov.scratch)


def block(
    p: FloatArray,
    t: FloatArray,
    pair: tuple[Forward, Backward],
    e: np.floating,
    scale: float,
    loss: FloatArray,
    grad: FloatArray | None,
    scratch: Scratch,
) -> FloatArray:
    """Loss (m,) into ``loss`` and, if ``grad`` is given, d(scale L)/d(p) (4, m) into ``grad``;
    returns the IoU (m,), I / (U + eps), a row of ``scratch`` (valid until its next use).

    ``p``, ``t``: (4, m) xyxy rows of the predicted and target boxes; ``pair`` from
    :func:`loss_pair`; ``e`` eps in their dtype; ``scratch`` the work rows of this thread (any
    previous size). Raises :class:`InvalidBlock` when a size is negative or not finite.
    """
    forward, backward = pair
    scratch.start(p.shape[1], p.dtype)
    ov = _overlap(p, t, e, scratch)
    cache = forward(ov, loss)
    if grad is not None:
        gx, gy = backward(ov, cache, p.dtype.type(scale))
        _write_coordinate_grads(ov, gx, gy, grad)
    return ov.iou
