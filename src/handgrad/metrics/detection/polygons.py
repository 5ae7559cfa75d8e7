"""Polygon rasterisation equal bit for bit to pycocotools' ``rleFrPoly``, for many polygons at once.

pycocotools scales the vertices by 5 and rounds them (``(int)(5 x + .5)``, C truncation), walks
every edge one upsampled step at a time (along x when |dx| >= |dy|, else along y, always from the
lower end), and keeps the steps where the upsampled column u changes from 5X + 2 to 5X + 3 (the
only ones whose downsampled column ``(min(u) + .5) / 5 - .5`` is a whole number X, in [0, w - 1]).
Each kept step toggles the mask at flattened index ``X h + Y``, where
``Y = ceil(clip((min(v) + .5) / 5 - .5, 0, h))``; pixels are 1 where an odd number of toggles
lie at or before them.

Here the kept steps are found directly, without walking the edges: along x every step changes
u, so the kept steps are t = 5X + 3 - xs; along y, u(t) = trunc(xs + s t + .5) is monotone in t
and the step where it crosses 5X + 2.5 is estimated in closed form, then settled by evaluating
pycocotools' own floating-point expression at the neighbouring steps. The work per edge is the
number of image columns it crosses, not five times its length.

Vertex coordinates must be finite with ``|5 x + .5| < 2**31`` (C ``int``); the caller checks.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from handgrad.metrics.detection.rle import Masks, _canonical

__all__ = ["polygons_to_masks"]

SCALE = 5.0


def _ranges(lo: NDArray[np.int64], hi: NDArray[np.int64]) -> tuple[NDArray[np.int64], ...]:
    """For inclusive ranges [lo[e], hi[e]]: the owner e and the value of each element."""
    n = np.maximum(hi - lo + 1, 0)
    owner = np.repeat(np.arange(lo.shape[0]), n)
    value = np.repeat(lo - (np.cumsum(n) - n), n) + np.arange(owner.size)
    return owner, value


def _ceil_div(a: NDArray[np.int64], b: int) -> NDArray[np.int64]:
    return -((-a) // b)


def _trunc(x: NDArray[np.float64]) -> NDArray[np.int64]:
    """C's ``(int)`` conversion: toward zero."""
    return np.trunc(x).astype(np.int64)


def _x_major_steps(
    xs: NDArray[np.int64],
    ys: NDArray[np.int64],
    dx: NDArray[np.int64],
    s: NDArray[np.float64],
    w: NDArray[np.int64],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Kept steps of edges walked along x: (edge, X, min v) for each."""
    # step t - 1 -> t has min(u) = xs + t - 1 for t = 1..dx; kept when that is 5X + 2
    lo = np.maximum(_ceil_div(xs - 2, 5), 0)
    hi = np.minimum((xs + dx - 3) // 5, w - 1)
    edge, X = _ranges(lo, hi)
    t = (5 * X + 3 - xs[edge]).astype(np.float64)
    y0, sl = ys[edge].astype(np.float64), s[edge]
    v_prev = _trunc(y0 + sl * (t - 1.0) + 0.5)
    v_next = _trunc(y0 + sl * t + 0.5)
    return edge, X, np.minimum(v_prev, v_next)


def _y_major_steps(
    xs: NDArray[np.int64],
    ys: NDArray[np.int64],
    dy: NDArray[np.int64],
    s: NDArray[np.float64],
    w: NDArray[np.int64],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Kept steps of edges walked along y: (edge, X, min v) for each."""
    x0 = xs.astype(np.float64)

    def u(edge: NDArray[np.int64], t: NDArray[np.int64]) -> NDArray[np.int64]:
        return _trunc(x0[edge] + s[edge] * t.astype(np.float64) + 0.5)

    all_edges = np.arange(xs.shape[0])
    u_first, u_last = u(all_edges, np.zeros_like(xs)), u(all_edges, dy)
    rising = s > 0
    # the crossing 5X + 2 <-> 5X + 3 happens when both values lie in u's range
    lo = np.where(rising, _ceil_div(u_first - 2, 5), _ceil_div(u_last - 2, 5))
    hi = np.where(rising, (u_last - 3) // 5, (u_first - 3) // 5)
    lo, hi = np.maximum(lo, 0), np.minimum(hi, w - 1)
    hi = np.where(s == 0, lo - 1, hi)
    edge, X = _ranges(lo, hi)
    up = rising[edge]
    target = np.where(up, 5 * X + 3, 5 * X + 2)  # u reaches it at the crossing step t*

    def reached(t: NDArray[np.int64]) -> NDArray[np.bool_]:
        val = u(edge, t)
        return np.where(up, val >= target, val <= target)

    # closed-form estimate of the first t with u(t) at the target, then settle it exactly
    bound = np.where(up, target - 0.5, target + 0.5) - x0[edge]
    with np.errstate(divide="ignore", invalid="ignore"):
        est = bound / s[edge]
    t = np.where(up, np.ceil(est), np.floor(est) + 1)
    t = np.clip(np.nan_to_num(t), 1, dy[edge]).astype(np.int64)
    for _ in range(64):
        back = (t > 1) & reached(t - 1)
        fwd = ~reached(t)
        if not (back.any() or fwd.any()):
            break
        t = t - back + fwd
    return edge, X, ys[edge] + t - 1


def polygons_to_masks(
    xy: NDArray[np.float64],
    offsets: NDArray[np.int64],
    height: NDArray[np.int64],
    width: NDArray[np.int64],
) -> Masks:
    """Rasterise n polygons (pycocotools' ``frPoly``), one mask each.

    Parameters
    ----------
    xy : (C,) float64
        Coordinates x0, y0, x1, y1, ... of all polygons, one after the other.
    offsets : (n + 1,) int64
        Polygon i is ``xy[offsets[i]:offsets[i + 1]]``; an odd trailing coordinate is ignored
        (pycocotools reads ``len // 2`` points).
    height, width : (n,) int64
        Size of each polygon's image.
    """
    n = height.shape[0]
    k = np.diff(offsets) // 2  # (n,) vertices of each polygon
    poly, j = _ranges(np.zeros(n, dtype=np.int64), k - 1)  # (V,) polygon and vertex number
    first = offsets[:-1][poly] + 2 * j
    vx = _trunc(SCALE * xy[first] + 0.5)  # (V,) upsampled vertices
    vy = _trunc(SCALE * xy[first + 1] + 0.5)
    nxt = np.arange(poly.size) + 1  # (V,) the next vertex, wrapping to the polygon's first
    last_vertex = np.cumsum(k)[poly] - 1
    nxt = np.where(np.arange(poly.size) == last_vertex, last_vertex - k[poly] + 1, nxt)
    xs, xe, ys, ye = vx, vx[nxt], vy, vy[nxt]  # (E,) one edge per vertex
    dx, dy = np.abs(xe - xs), np.abs(ys - ye)
    x_major = dx >= dy
    flip = (x_major & (xs > xe)) | (~x_major & (ys > ye))
    xs, xe = np.where(flip, xe, xs), np.where(flip, xs, xe)
    ys, ye = np.where(flip, ye, ys), np.where(flip, ys, ye)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(x_major, (ye - ys).astype(np.float64) / dx, (xe - xs).astype(np.float64) / dy)
    w_e, h_e = width[poly], height[poly]

    xm = np.flatnonzero(x_major & (dx > 0))
    e1, X1, v1 = _x_major_steps(xs[xm], ys[xm], dx[xm], s[xm], w_e[xm])
    ym = np.flatnonzero(~x_major)
    e2, X2, v2 = _y_major_steps(xs[ym], ys[ym], dy[ym], s[ym], w_e[ym])
    edge = np.concatenate([xm[e1], ym[e2]])  # (B,) edge of each toggle
    X = np.concatenate([X1, X2])
    v_min = np.concatenate([v1, v2]).astype(np.float64)
    yd = np.ceil(np.clip((v_min + 0.5) / SCALE - 0.5, 0.0, h_e[edge].astype(np.float64)))
    owner = poly[edge]  # (B,)
    toggles = X * height[owner] + yd.astype(np.int64)  # (B,) flattened index

    # pixels are 1 where an odd number of toggles lie at or before them: pair sorted toggles
    hw = height * width  # (n,)
    odd = np.flatnonzero(np.bincount(owner, minlength=n) % 2 == 1)
    owner = np.concatenate([owner, odd])  # an odd count is closed at h * w
    toggles = np.concatenate([toggles, hw[odd]])
    big = int(hw.max(initial=0)) + 1
    key = np.sort(owner * big + toggles)
    owner = key[0::2] // big
    starts, ends = key[0::2] - owner * big, key[1::2] - owner * big
    keep = ends > starts
    return _canonical(starts[keep], ends[keep], owner[keep], height, width)
