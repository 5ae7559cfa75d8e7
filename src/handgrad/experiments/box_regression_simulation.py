r"""The DIoU paper's simulation, its cases and its update kernel (:mod:`.box_regression` runs it).

What is here
------------
* **The cases**: the 7 targets (:func:`target_boxes`), the 49 anchor shapes
  (:func:`anchor_shapes`), the anchor points in a disk (:func:`disk_points`), every
  anchor-target case of a set of points (:func:`regression_cases`, ordered point, target, area,
  aspect ratio), the step-size schedule (:func:`learning_rate`) and the l1 error
  (:func:`l1_error`).
* **The step directions**: the losses' gradients in (x, y, w, h) (the IoU family through
  :mod:`handgrad.boxes` with ``fmt="cxcywh"``; ``l2`` and ``smooth_l1`` written out,
  :func:`coordinate_loss_grad`) and the port of the paper's MATLAB steps
  (:func:`paper_code_step`, for ``gradients="paper_code"``).
* **The update kernel** ``_advance``: Algorithm 1's step
  :math:`B_t = B_{t-1} - \eta_t (2 - \mathrm{IoU}_{t-1}) \nabla_B L`, the ``min_size`` floor on w
  and h, and the per-point error sums, on one block of cases; ``_Simulation`` holds the state
  of one loss's run (boxes, error sums, the iteration reached) and runs the blocks.

Layout: boxes are (x, y, w, h) with (x, y) the centre. Inside the kernel, boxes and targets are
(4, m) arrays, rows x, y, w, h (contiguous rows for the element-wise steps); the losses get the
(m, 4) views. Error sums are kept per point (343 cases each), so blocks and passes change
nothing but the speed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from handgrad._checks import check_positive_int, check_real
from handgrad.boxes._kernel import Scratch, block_to_xyxy, loss_block
from handgrad.boxes.formats import xyxy_grad_to_fmt

if TYPE_CHECKING:
    from handgrad.experiments.box_regression import BoxRegressionConfig

__all__ = [
    "ANCHOR_AREAS",
    "ASPECT_RATIOS",
    "CASES_PER_POINT",
    "CENTRE",
    "EPS",
    "IOU_FAMILY",
    "anchor_shapes",
    "coordinate_loss_grad",
    "disk_points",
    "l1_error",
    "learning_rate",
    "paper_code_step",
    "regression_cases",
    "target_boxes",
]

IOU_FAMILY = ("iou", "giou", "diou", "ciou")
ASPECT_RATIOS = (1 / 4, 1 / 3, 1 / 2, 1.0, 2.0, 3.0, 4.0)  # w / h of targets and anchors
ANCHOR_AREAS = (0.5, 0.67, 0.75, 1.0, 1.33, 1.5, 2.0)  # anchor areas (the targets' area is 1)
CENTRE = (10.0, 10.0)  # centre of the targets and of the disk of anchor points
CASES_PER_POINT = len(ASPECT_RATIOS) * len(ANCHOR_AREAS) * len(ASPECT_RATIOS)  # 7 x 7 x 7 = 343
EPS = 1e-7  # the losses' eps (torchvision's), also in the IoU of the step's factor 2 - IoU

FloatArray = NDArray[np.floating]


# -- the setup ---------------------------------------------------------------------------------
def target_boxes() -> NDArray[np.float64]:
    """The 7 targets as (x, y, w, h), shape (7, 4): centre (10, 10), area 1, w / h in ASPECT_RATIOS.

    w = sqrt(r), h = 1 / sqrt(r) for r = w / h: 1:4 is (0.5, 2), 1:3 is (1/sqrt 3, sqrt 3), ...
    """
    r = np.array(ASPECT_RATIOS)  # (7,)
    return np.stack([np.full(7, CENTRE[0]), np.full(7, CENTRE[1]), np.sqrt(r), 1 / np.sqrt(r)], 1)


def anchor_shapes() -> NDArray[np.float64]:
    """The 49 anchor sizes (w, h), shape (49, 2): area-major, then aspect ratio.

    Row ``7 a + k`` has area ``ANCHOR_AREAS[a]`` and ``w / h = ASPECT_RATIOS[k]``:
    w = sqrt(area r), h = sqrt(area / r).
    """
    area = np.repeat(np.array(ANCHOR_AREAS), 7)  # (49,)
    r = np.tile(np.array(ASPECT_RATIOS), 7)  # (49,)
    return np.stack([np.sqrt(area * r), np.sqrt(area / r)], 1)


def disk_points(n: int, radius: float = 3.0, seed: int = 0) -> NDArray[np.float64]:
    """``n`` points uniform in the disk of ``radius`` around (10, 10), shape (n, 2).

    Point i is ``(10 + r cos a, 10 + r sin a)`` with ``r = radius sqrt(u[i, 0])``,
    ``a = 2 pi u[i, 1]`` and ``u = default_rng(seed).random((n, 2))``: the first m points of a
    larger draw are the m points of a smaller one.
    """
    n = check_positive_int(n, "n")
    radius = check_real(radius, "radius", 0.0, None, low_inclusive=False)
    u = np.random.default_rng(check_positive_int(seed, "seed", allow_zero=True)).random((n, 2))
    r = radius * np.sqrt(u[:, 0])  # (n,)
    a = 2 * np.pi * u[:, 1]  # (n,)
    return np.stack([CENTRE[0] + r * np.cos(a), CENTRE[1] + r * np.sin(a)], 1)


def _point_block(points: FloatArray, dtype: Any) -> tuple[FloatArray, FloatArray]:
    """Anchors and targets (P * 343, 4) of ``points`` (P, 2), in the case order of the module."""
    P = points.shape[0]
    shapes = anchor_shapes()  # (49, 2)
    anchors = np.empty((P, 7, 49, 4), dtype=np.float64)  # (point, target, anchor shape, xywh)
    anchors[..., 0] = points[:, 0, None, None]
    anchors[..., 1] = points[:, 1, None, None]
    anchors[..., 2:] = shapes[None, None]
    targets = np.broadcast_to(target_boxes()[None, :, None, :], (P, 7, 49, 4))
    return anchors.reshape(-1, 4).astype(dtype), targets.reshape(-1, 4).astype(dtype)


def regression_cases(points: FloatArray) -> tuple[FloatArray, FloatArray]:
    """All cases of ``points`` (P, 2): anchors and their targets, each (P * 343, 4) in (x, y, w, h).

    Case ``343 p + 49 i + 7 a + k`` is the anchor at point p with area ``ANCHOR_AREAS[a]`` and
    aspect ratio ``ASPECT_RATIOS[k]``, regressed to target i (:func:`target_boxes`).
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"points must have shape (P, 2); got {pts.shape}")
    return _point_block(pts, np.float64)


def learning_rate(t: int, iterations: int, lrs: Sequence[float] = (0.1, 0.01, 0.001)) -> float:
    """The paper's step size of iteration ``t`` (1-based) out of ``iterations`` T.

    ``lrs[0]`` for t <= 0.8 T, ``lrs[1]`` for 0.8 T < t <= 0.9 T, ``lrs[2]`` after; for T = 200:
    iterations 1-160, 161-180, 181-200. The bounds are compared in integers (10 t <= 8 T), so no
    rounding moves them.
    """
    if 10 * t <= 8 * iterations:
        return float(lrs[0])
    if 10 * t <= 9 * iterations:
        return float(lrs[1])
    return float(lrs[2])


def l1_error(boxes: FloatArray, targets: FloatArray) -> NDArray[np.float64]:
    """Per-case l1 distance over (x, y, w, h), shape (N,), summed in float64."""
    return np.abs(boxes - targets).sum(axis=1, dtype=np.float64)


# -- the step directions and the update kernel -------------------------------------------------
def coordinate_loss_grad(
    kind: str, boxes: FloatArray, targets: FloatArray, out: FloatArray | None = None
) -> FloatArray:
    r"""Gradient of ``l2`` or ``smooth_l1`` w.r.t. ``boxes`` (4, m), rows x, y, w, h.

    With :math:`d = B - B^{gt}`: :math:`2d` for :func:`~handgrad.boxes.l2_box_loss` and
    :math:`\mathrm{clip}(d, -1, 1)` for :func:`~handgrad.boxes.smooth_l1_box_loss` (beta = 1:
    d inside the quadratic zone, sign(d) outside), written out on contiguous rows. They equal
    those losses' ``*_grad(..., fmt="cxcywh")`` (the tests check it to rounding), which go
    through the corners and back and cost as much here as a fused IoU-family step.
    """
    out = np.subtract(boxes, targets, out=out)
    if kind == "l2":
        out *= 2
    else:
        np.clip(out, -1, 1, out=out)
    return out


def _iou(boxes: FloatArray, corners: FloatArray, buf: FloatArray, eps: float) -> FloatArray:
    """IoU = I / (U + eps) of boxes (4, m) rows x, y, w, h against targets given by ``corners``
    (5, m) rows x1, x2, y1, y2, area: :func:`~handgrad.boxes.iou_loss`'s IoU (1 - its value),
    written out on contiguous rows, in ``buf[0]`` (buf: (5, m) scratch)."""
    x, y, w, h = boxes
    tx1, tx2, ty1, ty2, area = corners
    half, edge, iw, ih, union = buf
    for c, size, lo, hi, out in ((x, w, tx1, tx2, iw), (y, h, ty1, ty2, ih)):
        np.multiply(size, 0.5, out=half)  # x1 = x - w/2, x2 = x + w/2, as box_convert
        np.add(c, half, out=edge)
        np.minimum(edge, hi, out=out)  # min(x2, x2g) - max(x1, x1g)
        np.subtract(c, half, out=edge)
        np.maximum(edge, lo, out=edge)
        out -= edge
        np.maximum(out, 0, out=out)
    iw *= ih  # (m,) intersection
    np.multiply(w, h, out=union)
    union += area
    union -= iw
    union += boxes.dtype.type(eps)
    np.divide(iw, union, out=iw)
    return iw


def paper_code_step(
    kind: str, boxes: FloatArray, targets: FloatArray
) -> tuple[FloatArray, FloatArray]:
    r"""The step direction of the paper's MATLAB simulation code, vectorised: ``(IoU, s)``.

    ``boxes`` and ``targets`` are (4, m), rows x, y, w, h. Returns the IoU of ``iou.m`` (I / U,
    no eps, 0 without overlap) and the direction ``s`` (4, m) that the code adds,
    :math:`B \leftarrow B + \eta (2 - \mathrm{IoU}) s`, transcribed from ``dIOU.m``,
    ``dGIOU.m``, ``dDIOU.m``, ``dCIOU.m`` and ``to_xywh.m`` (kind "iou", "giou", "diou", "ciou").
    Where it differs from the negative gradient of the loss:

    * ``to_xywh.m`` takes :math:`s_w = s_r - s_l` (no factor 1/2): the IoU and GIoU terms move w
      and h twice as far as their gradient;
    * the DIoU penalty's x, y terms are :math:`(2 (x_g - x) c^2 - c'\rho^2) / c^4`: the
      derivative :math:`c'` of the squared enclosing diagonal enters with the sign flipped (the
      negative gradient has :math:`+c'\rho^2`), and :math:`c'` adds the width's and the height's
      derivatives alike for x and for y (``Ch.dx = Cr.dx - Cl.dx``), so distant boxes are pulled
      to the target much harder than the gradient pulls them;
    * when the box encloses the target along x (y), dCw/dw (dCh/dh) is taken as -1 instead of 1.

    CIoU adds :math:`\alpha\,\frac{8}{\pi^2}(\theta_g - \theta)(h, -w)` to (s_w, s_h), alpha
    from ``iou.m``'s IoU with eps 1e-7 (the paper's simplified gradient). Boxes here always have
    w, h > 0, so ``dIOU.m``'s branch for inverted boxes is never taken.
    """
    x, y, w, h = boxes
    xg, yg, wg, hg = targets
    pt, pb, pl, pr = y - h / 2, y + h / 2, x - w / 2, x + w / 2  # to_tblr.m
    gt, gb, gl, gr = yg - hg / 2, yg + hg / 2, xg - wg / 2, xg + wg / 2
    it, ib, il, ir = np.maximum(pt, gt), np.minimum(pb, gb), np.maximum(pl, gl), np.minimum(pr, gr)
    inter = (ib - it) * (ir - il)  # In.m: a product of two negatives for far boxes, as there
    union = (pb - pt) * (pr - pl) + (gb - gt) * (gr - gl) - inter
    overlap = (it < ib) & (il < ir)
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(overlap, inter / union, 0.0)  # iou.m
    # dIbox.m, dXbox.m, dUbox.m: derivatives w.r.t. t, b, l, r
    zero = np.zeros_like(x)
    d_i = {
        "t": np.where(pt > gt, -(ir - il), zero),
        "b": np.where(pb < gb, ir - il, zero),
        "l": np.where(pl > gl, -(ib - it), zero),
        "r": np.where(pr < gr, ib - it, zero),
    }
    d_x = {"t": -(pr - pl), "b": pr - pl, "l": -(pb - pt), "r": pb - pt}
    d_u = {k: d_x[k] - d_i[k] for k in d_x}
    ok = overlap & (union > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        d_iou = {k: np.where(ok, (union * d_i[k] - inter * d_u[k]) / union**2, zero) for k in d_x}
    if kind == "giou":  # dGIOU.m, dCbox.m
        ct, cb, cl, cr = (
            np.minimum(pt, gt),
            np.maximum(pb, gb),
            np.minimum(pl, gl),
            np.maximum(pr, gr),
        )
        area_c = (cb - ct) * (cr - cl)
        d_c = {
            "t": np.where(pt < gt, -(cr - cl), zero),
            "b": np.where(pb > gb, cr - cl, zero),
            "l": np.where(pl < gl, -(cb - ct), zero),
            "r": np.where(pr > gr, cb - ct, zero),
        }
        d_iou = {k: d_iou[k] + (area_c * d_u[k] - union * d_c[k]) / area_c**2 for k in d_x}
    # to_xywh.m
    out = np.stack(
        [
            d_iou["l"] + d_iou["r"],
            d_iou["t"] + d_iou["b"],
            d_iou["r"] - d_iou["l"],
            d_iou["b"] - d_iou["t"],
        ]
    )
    if kind in ("diou", "ciou"):  # dDIOU.m, dCIOU.m
        _paper_code_distance_terms(kind, boxes, targets, iou, out)
    return iou, out


def _paper_code_distance_terms(
    kind: str, boxes: FloatArray, targets: FloatArray, iou: FloatArray, out: FloatArray
) -> None:
    """Add ``dDIOU.m``'s distance terms (and for "ciou" ``dCIOU.m``'s aspect-ratio terms) to the
    direction ``out`` (4, m) of :func:`paper_code_step`, in place."""
    x, y, w, h = boxes
    xg, yg, wg, hg = targets
    pt, pb, pl, pr = y - h / 2, y + h / 2, x - w / 2, x + w / 2  # to_tblr.m
    gt, gb, gl, gr = yg - hg / 2, yg + hg / 2, xg - wg / 2, xg + wg / 2
    ct, cb, cl, cr = (
        np.minimum(pt, gt),
        np.maximum(pb, gb),
        np.minimum(pl, gl),
        np.maximum(pr, gr),
    )
    c2 = (cb - ct) ** 2 + (cr - cl) ** 2
    ccw, cch = cr - cl, cb - ct
    up, down = pt < gt, pb > gb  # the enclosing box's top / bottom is the prediction's
    left, right = pl < gl, pr > gr
    cw_dx = right.astype(float) - left  # Cr.dx - Cl.dx
    cw_dy = down.astype(float) - up  # Cb.dy - Ct.dy
    cw_dw = 0.5 * right - (-0.5) * left  # Cr.dw - Cl.dw
    cw_dh = 0.5 * down - (-0.5) * up  # Cb.dh - Ct.dh
    ch_dx, ch_dy, ch_dw, ch_dh = cw_dx, cw_dy, cw_dw.copy(), cw_dh.copy()  # as the code
    cw_dw = np.where(left & right, -1.0, cw_dw)
    ch_dh = np.where(up & down, -1.0, ch_dh)
    rho2 = (x - xg) ** 2 + (y - yg) ** 2
    out[0] += (2 * (xg - x) * c2 - (2 * ccw * cw_dx + 2 * cch * ch_dx) * rho2) / c2**2
    out[1] += (2 * (yg - y) * c2 - (2 * ccw * cw_dy + 2 * cch * ch_dy) * rho2) / c2**2
    out[2] += (2 * ccw * cw_dw + 2 * cch * ch_dw) * rho2 / c2**2
    out[3] += (2 * ccw * cw_dh + 2 * cch * ch_dh) * rho2 / c2**2
    if kind == "ciou":
        delta = np.arctan(wg / hg) - np.arctan(w / h)
        v = 4 / np.pi**2 * delta**2
        alpha = v / (1 - iou + v + 0.0000001)
        out[2] += alpha * (8 / np.pi**2 * delta * h)
        out[3] += alpha * (-8 / np.pi**2 * delta * w)


class _Buffers(NamedTuple):
    """What one block's iterations work in: the targets' fixed forms and scratch, per case."""

    targets: FloatArray  # (4, m) rows x, y, w, h
    corners: FloatArray  # (5, m) the targets' x1, x2, y1, y2, area (for _iou)
    target_xyxy: FloatArray  # (4, m) the targets' x1, y1, x2, y2 (for the losses)
    xyxy: FloatArray  # (4, m) scratch: the boxes' corners
    grad: FloatArray  # (4, m) scratch: a gradient
    loss: FloatArray  # (m,) scratch: a loss
    scratch: FloatArray  # (5, m) scratch
    kernel: Scratch  # the loss kernel's (m,) work rows, kept across iterations (any m)

    @classmethod
    def of(cls, targets: FloatArray) -> _Buffers:
        """Buffers for the targets (4, m), rows x, y, w, h."""
        x, y, w, h = targets
        corners = np.stack([x - w / 2, x + w / 2, y - h / 2, y + h / 2, w * h])  # (5, m)
        target_xyxy = targets.copy()
        block_to_xyxy(target_xyxy, "cxcywh")
        m, dtype = x.shape[0], targets.dtype
        return cls(
            targets,
            corners,
            target_xyxy,
            xyxy=np.empty((4, m), dtype),
            grad=np.empty((4, m), dtype),
            loss=np.empty(m, dtype),
            scratch=np.empty((5, m), dtype),
            kernel=Scratch(),
        )

    def head(self, m: int) -> _Buffers:
        """The buffers of the first ``m`` cases (the targets repeat every 343 cases)."""
        *arrays, kernel = self  # the kernel's work rows serve any m
        return _Buffers._make([*(a[..., :m] for a in arrays), kernel])


def _direction(
    kind: str, boxes: FloatArray, config: BoxRegressionConfig, buf: _Buffers
) -> tuple[FloatArray, FloatArray]:
    """``(IoU, g)``: the IoU (m,) of ``boxes`` (4, m) with their targets and the step's gradient
    g (4, m) in (x, y, w, h), in ``buf``'s scratch."""
    if config.gradients == "paper_code" and kind in IOU_FAMILY:
        iou, direction = paper_code_step(kind, boxes, buf.targets)  # (m,), (4, m)
        return iou, np.negative(direction, out=direction)  # the step's "gradient"
    if kind in IOU_FAMILY:  # the library's kernel on the corners, chained back to (x, y, w, h)
        np.copyto(buf.xyxy, boxes)
        block_to_xyxy(buf.xyxy, "cxcywh")
        iou = loss_block(
            buf.xyxy,
            buf.target_xyxy,
            kind=kind,
            eps=EPS,
            mode=config.ciou_mode,
            loss=buf.loss,
            grad=buf.grad,
            scratch=buf.kernel,
        )
        xyxy_grad_to_fmt(buf.grad, "cxcywh")
        return iou, buf.grad
    g = coordinate_loss_grad(kind, boxes, buf.targets, out=buf.grad)  # (4, m)
    return _iou(boxes, buf.corners, buf.scratch, EPS), g


def _advance(
    kind: str,
    boxes: FloatArray,
    buf: _Buffers,
    disjoint: NDArray[np.float64],
    t0: int,
    t1: int,
    config: BoxRegressionConfig,
    errors: NDArray[np.float64],
    clamped: NDArray[np.int64],
) -> None:
    """Iterations t0+1 .. t1 of one block of whole points, in place.

    ``boxes`` is (4, m), rows x, y, w, h, and ``buf`` the block's buffers (its targets among
    them); ``disjoint`` (m / 343, 343) 1.0 for the cases that started without overlap.
    ``boxes`` is updated; ``errors[:, t - t0 - 1]`` (points of the block, iterations, 2)
    receives each point's (total, disjoint-only) l1 error after iteration t, summed over its 343
    cases, and ``clamped[t - t0 - 1]`` the number of w, h values clamped at it.
    """
    dt = boxes.dtype.type
    two, floor = dt(2), dt(config.min_size)
    sizes = boxes[2:]  # (2, m) view: w, h
    diff = buf.scratch[:4]  # (4, m) scratch for |B - B_gt|
    for t in range(t0 + 1, t1 + 1):
        iou, g = _direction(kind, boxes, config, buf)  # (m,), (4, m)
        step = np.subtract(two, iou, out=buf.loss)  # (m,) eta (2 - IoU)
        step *= dt(learning_rate(t, config.iterations, config.lrs))
        g *= step
        boxes -= g
        low = sizes < floor  # (2, m)
        n_low = int(np.count_nonzero(low))
        if n_low:
            sizes[low] = floor
        np.subtract(boxes, buf.targets, out=diff)
        np.abs(diff, out=diff)
        per_case = diff[0] + diff[1]  # (m,) l1 error of each case
        per_case += diff[2]
        per_case += diff[3]
        per_point = per_case.astype(np.float64, copy=False).reshape(-1, CASES_PER_POINT)
        errors[:, t - t0 - 1, 0] = per_point.sum(axis=1)
        errors[:, t - t0 - 1, 1] = (per_point * disjoint).sum(axis=1)
        clamped[t - t0 - 1] = n_low


class _Simulation:
    """The state of one loss's simulation: boxes, error sums so far, the iteration reached.

    Error sums are kept per point (343 cases each) and summed over points at the end, so the
    totals are the same, bit for bit, whatever ``block_points`` and ``pass_iterations`` are.
    """

    def __init__(self, config: BoxRegressionConfig, kind: str, points: FloatArray) -> None:
        from handgrad.boxes import iou_loss

        self.config, self.kind = config, kind
        dtype = np.dtype(config.dtype)
        P, bp = points.shape[0], config.block_points
        N = P * CASES_PER_POINT
        self.blocks = [slice(p0, min(P, p0 + bp)) for p0 in range(0, P, bp)]  # of points
        _, targets = _point_block(points[: min(P, bp)], dtype)  # the same in every block
        self.buf = _Buffers.of(np.ascontiguousarray(targets.T))  # (4, M) rows x, y, w, h
        self.boxes = np.empty((4, N), dtype=dtype)  # (4, N) rows x, y, w, h of every case
        self.disjoint = np.empty((P, CASES_PER_POINT))  # 1.0 where the anchor starts disjoint
        T = config.iterations
        self.errors = np.zeros((P, T + 1, 2))  # (points, T+1, [total, disjoint]) l1 error sums
        self.clamped = np.zeros((len(self.blocks), T + 1), dtype=np.int64)  # (blocks, T+1)
        for blk in self.blocks:
            anchors, _ = _point_block(points[blk], dtype)
            m = anchors.shape[0]
            self.boxes[:, 343 * blk.start : 343 * blk.stop] = anchors.T
            disjoint = (iou_loss(anchors, targets[:m], fmt="cxcywh") >= 1).reshape(-1, 343)
            self.disjoint[blk] = disjoint
            per_point = l1_error(anchors, targets[:m]).reshape(-1, CASES_PER_POINT)
            self.errors[blk, 0, 0] = per_point.sum(axis=1)
            self.errors[blk, 0, 1] = (per_point * disjoint).sum(axis=1)
        self.t = 0

    def advance(self, t1: int) -> None:
        """Run every block from the current iteration to ``t1``."""
        t0 = self.t
        for b, blk in enumerate(self.blocks):
            cases = slice(343 * blk.start, 343 * blk.stop)
            m = cases.stop - cases.start
            _advance(
                self.kind,
                self.boxes[:, cases],
                self.buf.head(m),
                self.disjoint[blk],
                t0,
                t1,
                self.config,
                self.errors[blk, t0 + 1 : t1 + 1],
                self.clamped[b, t0 + 1 : t1 + 1],
            )
        self.t = t1

    def state(self) -> dict[str, Any]:
        return {
            "iteration": self.t,
            "boxes": self.boxes.copy(),
            "errors": self.errors.copy(),
            "clamped": self.clamped.copy(),
        }

    def restore(self, state: dict[str, Any]) -> None:
        for name in ("boxes", "errors", "clamped"):
            saved = np.asarray(state[name])
            if saved.shape != getattr(self, name).shape:
                raise ValueError(
                    f"checkpoint {name} has shape {saved.shape}; this config needs "
                    f"{getattr(self, name).shape}"
                )
            getattr(self, name)[...] = saved
        self.t = int(state["iteration"])
