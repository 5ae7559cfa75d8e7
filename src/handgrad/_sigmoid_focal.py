r"""Kernels of the sigmoid focal loss (private; :mod:`handgrad.losses` checks input and reduces).

Notation (elementwise; ``x`` logits, ``t`` targets in [0, 1])
    :math:`A(x) = \mathrm{softplus}(x) = \log(1 + e^x) = \max(x, 0) + \log(1 + e^{-|x|})`,
    :math:`S(x) = \sigma(x) = e^{-A(-x)}`, :math:`p = S(x)`, :math:`1 - p = S(-x) = e^{-A(x)}`.

Forward (torchvision's ``sigmoid_focal_loss``)
    .. math::
        \mathrm{CE} = t A(-x) + (1 - t) A(x) = A(x) - t x, \qquad
        s = 1 - p_t = t (1 - p) + (1 - t) p,

        \mathrm{FL} = a_t \, s^\gamma \, \mathrm{CE}, \qquad
        a_t = \alpha t + (1 - \alpha)(1 - t) \ (a_t = 1 \text{ when } \alpha < 0).

Backward
    With :math:`d\mathrm{CE}/dx = p - t` and :math:`ds/dx = (1 - 2t) p (1 - p)`:

    .. math::
        \frac{d\mathrm{FL}}{dx} = a_t s^\gamma
            \left[\gamma (1 - 2t) \rho \, \mathrm{CE} + p - t\right], \qquad
        \rho = \frac{p (1 - p)}{s} \in [0, 1],

    since :math:`s \ge p (1 - p)` (a convex combination of ``p`` and ``1 - p``). Writing the
    :math:`s^{\gamma - 1}` of the chain rule as :math:`s^\gamma / s \cdot p(1-p)` keeps it finite for
    :math:`0 < \gamma < 1` at :math:`s \to 0`; where ``s`` underflows to 0, ``rho`` is set to 0 (the
    term carries the factor :math:`s^\gamma = 0`, or :math:`\gamma = 0`).

Binary targets (every ``t`` in {0, 1}): a cheaper, equivalent form
    With :math:`w = 1 - 2t = \pm 1` and :math:`v = w x`: :math:`\mathrm{CE} = A(v)`,
    :math:`s = S(v)`, :math:`\log s = v - A(v)`, so :math:`s^\gamma = e^{\gamma (v - A(v))}`
    (no ``pow``), and

    .. math::
        \frac{d\mathrm{FL}}{dx} = a_t w \, s^\gamma \left[\gamma (1 - s) A(v) + s\right],
        \qquad a_t w = \tfrac12 w + \tfrac12 - \alpha .

    This is the appendix of Lin et al. (2017) with :math:`y = -w`, :math:`p_t = 1 - s`.

Every kernel works in the input's dtype, in place on its own buffers; the backward consumes the
forward's cache (overwrites it), so call it once per forward.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["FocalCache", "sigmoid_focal_backward", "sigmoid_focal_forward"]

Array = NDArray[np.floating]


@dataclass
class FocalCache:
    """Intermediates kept by the forward for the backward (all shaped like the logits).

    ``binary=True``: ``sg`` = s^gamma, ``s``, ``ce`` = A(v), ``w`` = 1 - 2t.
    ``binary=False``: ``sg`` = s^gamma, ``s`` = rho, ``ce``, ``w`` = p - t, ``t`` = targets.
    """

    binary: bool
    alpha: float
    gamma: float
    sg: Array
    s: Array
    ce: Array
    w: Array
    t: Array | None = None


def sigmoid_focal_forward(
    x: Array, t: Array, alpha: float, gamma: float, binary: bool, *, need_grad: bool
) -> tuple[Array, FocalCache | None]:
    """Per-element focal loss (shape of ``x``) and, if ``need_grad``, the cache for the backward.

    ``x`` and ``t`` have the same shape and floating dtype, ``t`` in [0, 1] (checked by the caller);
    ``binary`` promises every target is exactly 0 or 1.
    """
    if binary:
        return _forward_binary(x, t, alpha, gamma, need_grad)
    return _forward_soft(x, t, alpha, gamma, need_grad)


def sigmoid_focal_backward(scale: float, cache: FocalCache) -> Array:
    """``scale * dFL/dx`` elementwise (``scale`` = dR/dFL of the reduction); consumes ``cache``."""
    if cache.binary:
        return _backward_binary(scale, cache)
    return _backward_soft(scale, cache)


# ---------------------------------------------------------------------------------------------
# binary targets: everything from v = (1 - 2t) x


def _forward_binary(
    x: Array, t: Array, alpha: float, gamma: float, need_grad: bool
) -> tuple[Array, FocalCache | None]:
    w = np.multiply(t, -2.0)  # (*) w = 1 - 2t in {+1, -1}, pass 1 of 2
    w += 1.0  #                   (*) pass 2
    v = np.multiply(w, x)  # (*) v = w x: CE = A(v), s = S(v)
    buf = np.abs(v)  # (*) |v|, then e^{-|v|}, then log(1 + e^{-|v|}): one exp, one log1p
    np.negative(buf, out=buf)
    np.exp(buf, out=buf)
    np.log1p(buf, out=buf)
    ce = np.maximum(v, 0.0)  # (*) CE = A(v) = max(v, 0) + log1p(e^{-|v|})
    ce += buf
    np.subtract(v, ce, out=v)  # v <- log s = v - A(v) <= 0 (exact form of -A(-v))
    np.multiply(v, gamma, out=buf)  # buf <- gamma log s
    np.exp(buf, out=buf)  # buf <- s^gamma (1 at gamma = 0, even where s = 0)
    loss = np.multiply(buf, ce)  # (*) FL without alpha: s^gamma CE
    if alpha >= 0:
        # a_t = alpha t + (1 - alpha)(1 - t) = 1/2 + (1/2 - alpha) w for t = (1 - w) / 2
        a_t = np.multiply(w, 0.5 - alpha)  # (*) a_t
        a_t += 0.5
        loss *= a_t
    if not need_grad:
        return loss, None
    np.exp(v, out=v)  # v <- s
    return loss, FocalCache(True, alpha, gamma, sg=buf, s=v, ce=ce, w=w)


def _backward_binary(scale: float, c: FocalCache) -> Array:
    # dFL/dx = (a_t w) s^gamma [gamma (1 - s) CE + s], with a_t w = w/2 + 1/2 - alpha (binary t)
    grad = np.subtract(1.0, c.s)  # (*) 1 - s, then the bracket, then the whole gradient
    c.ce *= c.gamma  # gamma CE
    grad *= c.ce  # gamma (1 - s) CE
    grad += c.s  # + s
    grad *= c.sg  # * s^gamma
    if c.alpha >= 0:
        c.w *= 0.5 * scale  # w <- scale (a_t w) = scale (w/2 + 1/2 - alpha)
        c.w += (0.5 - c.alpha) * scale
    elif scale != 1.0:
        c.w *= scale
    grad *= c.w
    return grad


# ---------------------------------------------------------------------------------------------
# soft targets: the general form


def _forward_soft(
    x: Array, t: Array, alpha: float, gamma: float, need_grad: bool
) -> tuple[Array, FocalCache | None]:
    buf = np.abs(x)  # (*) |x| -> e^{-|x|} -> log1p(e^{-|x|})
    np.negative(buf, out=buf)
    np.exp(buf, out=buf)
    np.log1p(buf, out=buf)
    a_pos = np.maximum(x, 0.0)  # (*) A(x) = -log(1 - p)
    a_pos += buf
    a_neg = np.subtract(a_pos, x)  # (*) A(-x) = A(x) - x = -log p
    one_m_p = np.negative(a_pos)  # (*) 1 - p = e^{-A(x)}
    np.exp(one_m_p, out=one_m_p)
    p = np.negative(a_neg, out=a_neg)  # p = e^{-A(-x)}, in the A(-x) buffer
    np.exp(p, out=p)
    ce = a_pos  # CE = A(x) - t x, in the A(x) buffer
    np.multiply(t, x, out=buf)
    ce -= buf
    s = np.multiply(t, one_m_p)  # (*) s = t (1 - p) + (1 - t) p: two non-negative terms
    np.subtract(1.0, t, out=buf)  # buf <- 1 - t
    np.multiply(buf, p, out=buf)
    s += buf
    sg = np.power(s, gamma)  # (*) s^gamma (0^0 = 1)
    loss = np.multiply(sg, ce)  # (*) FL without alpha
    a_t = None
    if alpha >= 0:
        a_t = np.multiply(t, 2.0 * alpha - 1.0)  # (*) a_t = (1 - alpha) + (2 alpha - 1) t
        a_t += 1.0 - alpha
        loss *= a_t
    if not need_grad:
        return loss, None
    # rho = p (1 - p) / s in [0, 1], 0 where s underflowed to 0
    np.multiply(p, one_m_p, out=one_m_p)
    # where s == 0, p (1 - p) <= s is 0 already, and stays 0 (rho = 0)
    rho = np.divide(one_m_p, s, out=one_m_p, where=s > 0)
    p -= t  # p <- p - t = dCE/dx
    if a_t is not None:
        sg *= a_t  # fold a_t into s^gamma: the backward only needs the product
    return loss, FocalCache(False, alpha, gamma, sg=sg, s=rho, ce=ce, w=p, t=t)


def _backward_soft(scale: float, c: FocalCache) -> Array:
    # dFL/dx = a_t s^gamma [gamma (1 - 2t) rho CE + p - t]   (a_t already folded into c.sg)
    assert c.t is not None
    grad = np.multiply(c.t, -2.0 * c.gamma)  # (*) gamma (1 - 2t), then the whole gradient
    grad += c.gamma
    grad *= c.s  # * rho
    grad *= c.ce  # * CE
    grad += c.w  # + (p - t)
    grad *= c.sg  # * a_t s^gamma
    if scale != 1.0:
        grad *= scale
    return grad
