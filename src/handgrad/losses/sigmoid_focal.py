r"""Sigmoid focal loss from logits (torchvision's definition), with its blocked kernels.

The public functions check their input once and reduce; the kernels (``sigmoid_focal_blocks``,
``sigmoid_focal_forward`` and ``sigmoid_focal_backward``, internal) compute the per-element loss
and the gradient. Conventions: :mod:`handgrad.losses`.

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
    :math:`0 < \gamma < 1` at :math:`s \to 0`; where ``s`` underflows to 0, ``rho`` is 0 (then
    :math:`p (1 - p) = 0` too, and the term carries :math:`s^\gamma = 0` or :math:`\gamma = 0`).

Binary targets (every ``t`` in {0, 1}): a cheaper, equivalent form
    With :math:`w = 1 - 2t = \pm 1` and :math:`v = w x`: :math:`\mathrm{CE} = A(v)`,
    :math:`s = S(v)`, :math:`1 - s = S(-v)`, :math:`a_t = \tfrac12 + (\tfrac12 - \alpha) w` and

    .. math::
        \frac{d\mathrm{FL}}{dx} = a_t w \, s^\gamma \left[\gamma (1 - s) A(v) + s\right],
        \qquad a_t w = \tfrac12 w + \tfrac12 - \alpha .

    This is the appendix of Lin et al. (2017) with :math:`y = -w`, :math:`p_t = 1 - s`.

One exp, one log1p
    Both forms take :math:`e = e^{-|x|}` (the only exp) and :math:`\log(1 + e)` (the only log1p):
    :math:`A(\pm x) = \max(\pm x, 0) + \log(1 + e)`, and with :math:`r = 1/(1 + e)`,
    :math:`S(x) = r` or :math:`e r`, :math:`S(-x) = e r` or :math:`r`, by the sign of ``x``. Every
    quantity of the loss is a sum or product of non-negative terms: nothing cancels, and float32
    keeps its relative precision. :math:`s^\gamma` is a product for whole :math:`\gamma \le 8`,
    else ``pow``.

Blocks
    The input is processed in blocks of :data:`BLOCK_BYTES` per array, so that the forward's
    intermediates (a handful of block-sized scratch arrays, reused for every block) stay in the
    CPU cache and the backward of a block runs right after its forward. The only full-size arrays
    are the outputs: the gradient and, for ``reduction="none"``, the loss. Each block takes the
    binary form when its targets are all 0 or 1 and the general form otherwise; the two agree to
    rounding (tested). A large input is cut into contiguous parts, one per thread
    (:mod:`handgrad._parallel`), each running its blocks with scratch arrays of its own.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from handgrad import _parallel
from handgrad._checks import as_array, as_float_array, check_same_shape
from handgrad._loss_trio import loss_trio
from handgrad._reduction import ALL_REDUCTIONS, check_reduction, reduce_total, reduction_scale
from handgrad.losses._inputs import as_gamma, as_real, check_finite_logits

__all__ = ["sigmoid_focal_loss", "sigmoid_focal_loss_and_grad", "sigmoid_focal_loss_grad"]

Array = NDArray[np.floating]
Loss = Array | np.floating


def _sigmoid_focal(
    value: bool,
    grad: bool,
    logits: ArrayLike,
    targets: ArrayLike,
    alpha: float = 0.25,
    gamma: float = 2.0,
    reduction: str = "none",
) -> tuple[Loss | None, Array | None]:
    r"""Sigmoid focal loss (Lin et al., 2017), torchvision's definition, from logits.

    .. math::
        \mathrm{FL} = a_t (1 - p_t)^\gamma \, \mathrm{CE}(x, t), \quad
        p = \sigma(x), \quad p_t = p t + (1 - p)(1 - t), \quad
        a_t = \alpha t + (1 - \alpha)(1 - t),

    with :math:`\mathrm{CE}(x, t) = \mathrm{softplus}(x) - t x` the binary cross-entropy with logits.
    ``p`` and ``1 - p`` are each computed as :math:`e^{-\mathrm{softplus}(\mp x)}` (no cancellation).

    Parameters
    ----------
    logits : array_like, any shape
        Finite logits, e.g. (anchors, classes).
    targets : array_like, same shape
        Values in [0, 1]: binary labels or soft targets (as torchvision allows).
    alpha : float, <= 1
        Weight of the positive class; ``alpha < 0`` disables the weighting (:math:`a_t = 1`).
    gamma : float, >= 0
        Focusing parameter.
    reduction : {"none", "mean", "sum", "normalized"}
        ``"normalized"``: sum / max(1, targets.sum()), the paper's normalisation by the number of
        positive anchors.

    Returns
    -------
    ndarray (shape of logits) or scalar of the logits' dtype.

    Examples
    --------
    x = 0 (p = 1/2), t = 1, alpha = 0.25, gamma = 2: 0.25 * (1/2)^2 * log 2 = 0.04332.

    >>> float(sigmoid_focal_loss(0.0, 1.0))  # doctest: +ELLIPSIS
    0.0433...
    """
    return _sigmoid_loss(logits, targets, alpha, gamma, reduction, value=value, grad=grad)


sigmoid_focal_loss, sigmoid_focal_loss_grad, sigmoid_focal_loss_and_grad = loss_trio(
    _sigmoid_focal,
    "sigmoid_focal_loss",
    r"""Gradient of :func:`sigmoid_focal_loss` w.r.t. the logits (shape of logits).

    .. math::
        \frac{d\mathrm{FL}}{dx} = a_t s^\gamma \left[\gamma (1 - 2t)
        \frac{p (1 - p)}{s} \mathrm{CE} + p - t\right], \qquad s = 1 - p_t,

    times the reduction's factor. For binary targets, with :math:`y = 2t - 1 \in \{-1, +1\}` and
    :math:`p_t = \sigma(y x)`, this is the appendix of the paper (times :math:`a_t`):
    :math:`y (1 - p_t)^\gamma (\gamma p_t \log p_t + p_t - 1)`.
    """,
    """:func:`sigmoid_focal_loss` and its gradient from one fused pass (one exp, one log1p).

    The forward's intermediates (s^gamma, s, CE, 1 - 2t) are reused, in place, by the backward.
    """,
)


# ---------------------------------------------------------------------------------------------
# input checks and the driver (once, at the public entry points)


def _sigmoid_loss(
    logits: ArrayLike,
    targets: ArrayLike,
    alpha: Any,
    gamma: Any,
    reduction: str,
    *,
    value: bool,
    grad: bool,
) -> tuple[Any, Any]:
    """``(reduced loss or None, gradient or None)``, as ``value`` and ``grad`` ask."""
    check_reduction(reduction, ALL_REDUCTIONS)
    a = as_real(alpha, "alpha")
    if a > 1:
        raise ValueError(
            f"alpha must be in [0, 1] (or < 0 to disable the weighting); got {alpha!r}"
        )
    g = as_gamma(gamma)
    x, t, binary = _binary_inputs(logits, targets)
    normalizer = float(t.sum(dtype=np.float64)) if reduction == "normalized" else None
    keep = value and reduction == "none"  # only then is the per-element loss returned
    loss = np.empty(x.shape, dtype=x.dtype) if keep else None  # (shape of x)
    scale = reduction_scale(x.size, reduction, normalizer) if grad else None
    total, dx = sigmoid_focal_blocks(
        x, t, a, g, binary=binary, loss_out=None if loss is None else loss.reshape(-1), scale=scale
    )
    if not value:
        return None, dx
    if loss is not None:
        return loss, dx
    return reduce_total(total, x.size, reduction, x.dtype, normalizer), dx


def _binary_inputs(
    logits: ArrayLike, targets: ArrayLike
) -> tuple[Array, NDArray[Any], bool | None]:
    """Logits of any shape, finite; targets of the same shape in [0, 1] (any real dtype).

    Returns ``(x, t, binary)``: ``binary`` is True for integer or bool targets (0 or 1 once in
    range) and None for floating targets (the kernels look at each block).
    """
    x = as_float_array(logits, "logits")
    check_finite_logits(x)
    t = as_array(targets, "targets", "a real numeric array")
    if t.dtype.kind not in "biuf":
        raise TypeError(f"targets must be a real numeric array; got dtype {t.dtype}")
    check_same_shape(x, "logits", t, "targets")
    if t.size:
        lo, hi = t.min(), t.max()
        if not (lo >= 0 and hi <= 1):  # also false for NaN
            raise ValueError(
                f"targets must be in [0, 1] (probabilities of the positive class); "
                f"got values in [{lo}, {hi}]"
            )
    return x, t, (True if t.dtype.kind in "biu" else None)


# ---------------------------------------------------------------------------------------------
# kernels: blocks of elements, forward beside backward


BLOCK_BYTES = 1 << 18  # bytes per scratch array of a block (65536 float32); measured best

_SCRATCH = ("w", "v", "e", "buf", "ce", "a_t", "p", "q", "s", "sg", "loss", "t")


def sigmoid_focal_blocks(
    x: Array,
    t: NDArray[np.generic],
    alpha: float,
    gamma: float,
    *,
    binary: bool | None,
    loss_out: Array | None,
    scale: float | None,
) -> tuple[float, Array | None]:
    """Loss sum and (if ``scale`` is not None) ``scale * dFL/dx``, block by block.

    Parameters
    ----------
    x : ndarray, floating, any shape
        Logits (finite, checked by the caller).
    t : ndarray, same shape
        Targets in [0, 1], any real dtype (cast blockwise to ``x.dtype``).
    alpha, gamma : float
        As in :func:`sigmoid_focal_loss` (checked by the caller).
    binary : bool or None
        True: every target is 0 or 1 (e.g. integer targets); None: decide per block.
    loss_out : ndarray (x.size,) or None
        Where to write the per-element loss (``reduction="none"``); None keeps only its sum.
    scale : float or None
        dR/dFL of the reduction; None skips the backward.

    Returns
    -------
    total : float
        Sum of the per-element loss, accumulated in float64 over blocks.
    grad : ndarray (shape of x) or None
    """
    xf = x.reshape(-1)  # (n,) a view for contiguous input
    tf = t.reshape(-1)  # (n,)
    n = xf.size
    grad = None if scale is None else np.empty_like(xf)  # (n,) the only full-size output
    block = max(1, BLOCK_BYTES // xf.itemsize)

    def work(part: slice) -> float:
        """Loss sum of the elements ``part``; large inputs run a part per thread."""
        size = min(block, part.stop - part.start)
        full = {k: np.empty(size, dtype=xf.dtype) for k in _SCRATCH}  # (block,) each
        ws_full = SimpleNamespace(**full)
        total = 0.0
        for start in range(part.start, part.stop, block):
            stop = min(part.stop, start + block)
            if stop - start == size:
                ws = ws_full
            else:  # the last, shorter block
                ws = SimpleNamespace(**{k: a[: stop - start] for k, a in full.items()})
            xb = xf[start:stop]
            tb = tf[start:stop]
            if tb.dtype != xf.dtype:
                np.copyto(ws.t, tb, casting="unsafe")
                tb = ws.t
            is_binary = binary if binary is not None else bool(((tb == 0) | (tb == 1)).all())
            loss = ws.loss if loss_out is None else loss_out[start:stop]
            sigmoid_focal_forward(xb, tb, alpha, gamma, is_binary, ws, loss)
            total += float(loss.sum())
            if grad is not None and scale is not None:
                sigmoid_focal_backward(scale, alpha, gamma, is_binary, ws, tb, grad[start:stop])
        return total

    total = sum(_parallel.run_split(n, 1, work))
    return total, (None if grad is None else grad.reshape(x.shape))


def sigmoid_focal_forward(
    x: Array,
    t: NDArray[Any],
    alpha: float,
    gamma: float,
    binary: bool,
    ws: SimpleNamespace,
    loss: Array,
) -> None:
    """Per-element loss of one block into ``loss``; leaves the backward's cache in ``ws``.

    ``x``, ``t``, ``loss`` and every array of ``ws`` (see ``_SCRATCH``) have the same length and
    dtype; ``binary`` promises every target is exactly 0 or 1.
    """
    if binary:
        _forward_binary(x, t, alpha, gamma, ws, loss)
    else:
        _forward_soft(x, t, alpha, gamma, ws, loss)


def sigmoid_focal_backward(
    scale: float,
    alpha: float,
    gamma: float,
    binary: bool,
    ws: SimpleNamespace,
    t: NDArray[Any],
    grad: Array,
) -> None:
    """``grad <- scale * dFL/dx`` for the block whose forward left its cache in ``ws`` (consumed)."""
    if binary:
        _backward_binary(scale, alpha, gamma, ws, grad)
    else:
        _backward_soft(scale, gamma, ws, t, grad)


# ---------------------------------------------------------------------------------------------
# shared pieces: the sigmoid pair from e = exp(-|z|), and integer powers by multiplication


def _sigmoid_pair(z: Array, e: Array, r: Array, s_pos: Array, s_neg: Array) -> None:
    r"""``s_pos <- S(z)``, ``s_neg <- S(-z) = 1 - S(z)`` from ``e = exp(-|z|)``, no exp, no cancellation.

    With :math:`r = 1 / (1 + e) = S(|z|)`: :math:`S(z) = r` for :math:`z \ge 0` and :math:`e r`
    otherwise, i.e. :math:`S(z) = r \max(e, [z \ge 0])` and :math:`S(-z) = r \max(e, [z < 0])`
    (``e <= 1``). ``r`` is scratch (left holding ``S(|z|)``).
    """
    np.add(e, 1.0, out=r)  # r = 1 / (1 + e) = S(|z|)
    np.reciprocal(r, out=r)
    np.greater_equal(z, 0.0, out=s_pos, casting="unsafe")  # [z >= 0] as 0.0 / 1.0
    np.subtract(1.0, s_pos, out=s_neg)  # [z < 0]
    np.maximum(s_pos, e, out=s_pos)  # 1 or e
    s_pos *= r
    np.maximum(s_neg, e, out=s_neg)  # e or 1
    s_neg *= r


def _power(s: Array, gamma: float, out: Array) -> None:
    """``out <- s ** gamma``; whole gammas up to 8 by repeated multiplication (0 ** 0 = 1)."""
    if gamma == int(gamma) and gamma <= 8:
        if gamma == 0:
            out.fill(1.0)
            return
        np.copyto(out, s)
        for _ in range(int(gamma) - 1):
            out *= s
    else:
        np.power(s, gamma, out=out)


# ---------------------------------------------------------------------------------------------
# binary targets: everything from v = (1 - 2t) x; one exp and one log1p per element


def _forward_binary(
    x: Array, t: NDArray[Any], alpha: float, gamma: float, ws: SimpleNamespace, loss: Array
) -> None:
    np.multiply(t, -2.0, out=ws.w)  # w = 1 - 2t in {+1, -1}
    ws.w += 1.0
    np.multiply(ws.w, x, out=ws.v)  # v = w x: CE = A(v), s = S(v)
    np.abs(x, out=ws.e)  # e = exp(-|v|) = exp(-|x|): the one exp
    np.negative(ws.e, out=ws.e)
    np.exp(ws.e, out=ws.e)
    np.log1p(ws.e, out=ws.ce)  # log(1 + e): the one log1p
    np.maximum(ws.v, 0.0, out=ws.buf)  # CE = A(v) = max(v, 0) + log(1 + e)
    ws.ce += ws.buf
    _sigmoid_pair(ws.v, ws.e, ws.buf, ws.s, ws.q)  # s = S(v), q = 1 - s = S(-v)
    _power(ws.s, gamma, ws.sg)  # s^gamma
    np.multiply(ws.sg, ws.ce, out=loss)  # s^gamma CE
    if alpha >= 0:
        np.multiply(ws.w, 0.5 - alpha, out=ws.a_t)  # a_t = 1/2 + (1/2 - alpha) w
        ws.a_t += 0.5
        loss *= ws.a_t


def _backward_binary(
    scale: float, alpha: float, gamma: float, ws: SimpleNamespace, grad: Array
) -> None:
    # dFL/dx = (a_t w) s^gamma [gamma (1 - s) CE + s], a_t w = w/2 + 1/2 - alpha (binary t)
    ws.ce *= gamma  # gamma CE
    ws.q *= ws.ce  # gamma (1 - s) CE
    ws.q += ws.s  # + s
    ws.q *= ws.sg  # * s^gamma
    if alpha >= 0:
        ws.w *= 0.5 * scale  # w <- scale (a_t w) = scale (w/2 + 1/2 - alpha)
        ws.w += (0.5 - alpha) * scale
    elif scale != 1.0:
        ws.w *= scale
    np.multiply(ws.q, ws.w, out=grad)


# ---------------------------------------------------------------------------------------------
# soft targets: the general form


def _forward_soft(
    x: Array, t: NDArray[Any], alpha: float, gamma: float, ws: SimpleNamespace, loss: Array
) -> None:
    np.abs(x, out=ws.e)  # e = exp(-|x|)
    np.negative(ws.e, out=ws.e)
    np.exp(ws.e, out=ws.e)
    np.log1p(ws.e, out=ws.buf)  # log(1 + e)
    np.maximum(x, 0.0, out=ws.ce)  # A(x) = max(x, 0) + log(1 + e) = -log(1 - p)
    ws.ce += ws.buf
    np.minimum(x, 0.0, out=ws.v)  # A(-x) = log(1 + e) - min(x, 0) = -log p
    np.subtract(ws.buf, ws.v, out=ws.v)
    _sigmoid_pair(x, ws.e, ws.buf, ws.p, ws.q)  # p = S(x), q = 1 - p = S(-x)
    np.subtract(1.0, t, out=ws.w)  # w <- 1 - t
    ws.ce *= ws.w  # CE = (1 - t) A(x) + t A(-x): two non-negative terms
    ws.v *= t
    ws.ce += ws.v
    np.multiply(t, ws.q, out=ws.s)  # s = t (1 - p) + (1 - t) p: two non-negative terms
    np.multiply(ws.w, ws.p, out=ws.buf)
    ws.s += ws.buf
    _power(ws.s, gamma, ws.sg)  # s^gamma (0^0 = 1)
    np.multiply(ws.sg, ws.ce, out=loss)  # s^gamma CE
    if alpha >= 0:
        np.multiply(t, 2.0 * alpha - 1.0, out=ws.a_t)  # a_t = (1 - alpha) + (2 alpha - 1) t
        ws.a_t += 1.0 - alpha
        loss *= ws.a_t
        ws.sg *= ws.a_t  # sg <- a_t s^gamma: the backward needs only the product


def _backward_soft(
    scale: float, gamma: float, ws: SimpleNamespace, t: NDArray[Any], grad: Array
) -> None:
    # dFL/dx = a_t s^gamma [gamma (1 - 2t) rho CE + p - t],  rho = p (1 - p) / s
    ws.q *= ws.p  # q <- p (1 - p)
    # where s == 0, p (1 - p) <= s is 0 already and stays 0: rho = 0
    np.divide(ws.q, ws.s, out=ws.q, where=ws.s > 0)  # q <- rho
    np.multiply(t, -2.0 * gamma, out=grad)  # gamma (1 - 2t)
    grad += gamma
    grad *= ws.q  # * rho
    grad *= ws.ce  # * CE
    grad += ws.p  # + p
    grad -= t  # - t
    grad *= ws.sg  # * a_t s^gamma
    if scale != 1.0:
        grad *= scale
