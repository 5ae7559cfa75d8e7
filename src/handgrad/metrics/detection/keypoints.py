r"""Keypoints: parsing COCO ``keypoints`` fields and object keypoint similarity (OKS).

An annotation or result carries ``keypoints = [x1, y1, v1, ..., xK, yK, vK]``; v is the
visibility flag (0: not labelled, 1: labelled but hidden, 2: visible). pycocotools'
``computeOks`` compares a detection d with a ground-truth object g of area s (the annotation's
``area`` field) through per-keypoint falloffs :math:`\kappa_i = 2 \sigma_i`:

.. math::

    e_i = \frac{d_{x,i}^2 + d_{y,i}^2}{\kappa_i^2 \, (s + \epsilon) \, 2}, \qquad
    \mathrm{OKS} = \frac{1}{|V|} \sum_{i \in V} \exp(-e_i)

with :math:`\epsilon` = ``np.spacing(1)``. When g has labelled keypoints (v > 0), V is those and
:math:`d_{x,i}` is the offset of the detected keypoint from g's; when it has none, V is every
keypoint and :math:`d_{x,i}` is the distance from the detected keypoint to the box g's bbox
enlarged by its own size on every side ([x - w, x + 2w] x [y - h, y + 2h]), 0 inside it.
Every operation follows pycocotools' order (the sums run over contiguous rows of the same
length, which NumPy reduces as it reduces pycocotools' vectors), so OKS values are equal bit for
bit. The COCO person sigmas are the default.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["COCO_PERSON_SIGMAS", "Keypoints", "oks_pairs", "parse_keypoints"]

# pycocotools' Params.kpt_oks_sigmas (nose, eyes, ears, shoulders, elbows, wrists, hips, knees,
# ankles)
COCO_PERSON_SIGMAS = np.array([
    0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72,
    0.62, 0.62, 1.07, 1.07, 0.87, 0.87, 0.89, 0.89,
]) / 10.0  # fmt: skip

EPS = np.spacing(1)


@dataclass(frozen=True)
class Keypoints:
    """Keypoint lists of n entries, flat.

    Attributes
    ----------
    values : (V,) float64
        ``x, y, v`` triples of every entry, one entry after the other.
    offsets : (n + 1,) int64
        Entry i is ``values[offsets[i]:offsets[i + 1]]`` (empty when it has no keypoints).
    """

    values: NDArray[np.float64]
    offsets: NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.offsets.shape[0] - 1)

    @property
    def n_points(self) -> NDArray[np.int64]:
        """(n,) number of (x, y, v) triples of each entry."""
        return np.diff(self.offsets) // 3

    def take(self, index: NDArray[np.int64]) -> Keypoints:
        index = np.asarray(index, dtype=np.int64)
        lo, size = self.offsets[index], np.diff(self.offsets)[index]
        offsets = np.concatenate([[0], np.cumsum(size)]).astype(np.int64)
        pos = np.repeat(lo - offsets[:-1], size) + np.arange(offsets[-1])
        return Keypoints(self.values[pos], offsets)

    def extent(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(n,) area ``(max x - min x) (max y - min y)`` and (n, 4) box of every entry's points
        (pycocotools' ``loadRes`` for keypoint results); entries must have points."""
        first = self.offsets[:-1] // 3  # (n,) first point of each entry
        x, y = self.values[0::3], self.values[1::3]  # (Vp,)
        x0, x1 = np.minimum.reduceat(x, first), np.maximum.reduceat(x, first)
        y0, y1 = np.minimum.reduceat(y, first), np.maximum.reduceat(y, first)
        return (x1 - x0) * (y1 - y0), np.stack([x0, y0, x1 - x0, y1 - y0], axis=1)


def parse_keypoints(
    entries: Sequence[Any], where: Callable[[int], str], *, required: bool
) -> tuple[Keypoints, NDArray[np.bool_]]:
    """Keypoints of COCO entries (dicts) and whether each has them.

    Each ``keypoints`` must be a list of finite numbers whose length is a multiple of 3; an entry
    without the key (allowed unless ``required``) gets none.
    """
    lists = [e.get("keypoints") for e in entries]
    present = np.fromiter((k is not None for k in lists), dtype=bool, count=len(lists))
    if required and not present.all():
        i = int(np.flatnonzero(~present)[0])
        raise ValueError(f"{where(i)} has no 'keypoints' (iou_type='keypoints' needs them)")
    lists = [k if k is not None else [] for k in lists]
    for i, k in enumerate(lists):
        if not isinstance(k, list | tuple | np.ndarray) or len(k) % 3:
            shown = f"{len(k)} numbers" if isinstance(k, list | tuple) else type(k).__name__
            raise ValueError(
                f"{where(i)}: keypoints must be a list of x, y, v triples (a multiple of 3 "
                f"numbers); got {shown}"
            )
    lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    flat = list(chain.from_iterable(lists))
    values = None
    if set(map(type, flat)) <= {int, float}:
        try:
            values = np.fromiter(flat, dtype=np.float64, count=len(flat))
        except OverflowError:
            values = None
    if values is None or not np.isfinite(values).all():
        for i, k in enumerate(lists):
            ok = all(
                isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
                for v in k
            )
            with np.errstate(over="ignore"):
                ok = ok and bool(np.isfinite(np.asarray(k, dtype=np.float64)).all())
            if not ok:
                raise ValueError(f"{where(i)}: keypoints must be finite numbers; got {list(k)[:9]}")
        values = np.asarray(flat, dtype=np.float64).reshape(len(flat))
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return Keypoints(values, offsets), present


def _sum_exp_rows(e: NDArray[np.float64], keep: NDArray[np.bool_]) -> NDArray[np.float64]:
    """(P,) sum of exp(-e) over the kept entries of each row, divided by their number.

    Rows are grouped by how many entries they keep, so that each sum runs over a contiguous
    row of that length, as pycocotools' ``np.sum`` over ``e[vg > 0]`` does.
    """
    out = np.zeros(e.shape[0])
    n_keep = keep.sum(axis=1)  # (P,)
    for n in np.unique(n_keep):
        rows = np.flatnonzero(n_keep == n)
        if n == 0:  # cannot happen: a row keeps every entry when none is labelled
            continue
        sel = e[rows][keep[rows]].reshape(rows.size, int(n))  # (Pn, n) in keypoint order
        out[rows] = np.sum(np.exp(-sel), axis=1) / sel.shape[1]
    return out


def oks_pairs(
    det: NDArray[np.float64],
    gt: NDArray[np.float64],
    gt_bbox: NDArray[np.float64],
    gt_area: NDArray[np.float64],
    sigmas: NDArray[np.float64],
) -> NDArray[np.float64]:
    """OKS of paired detections and ground truth with the same number K of keypoints.

    Shapes: det and gt (P, 3K), gt_bbox (P, 4) as (x, y, w, h), gt_area (P,), sigmas (P, K)
    -> (P,). See the module docstring for the formula.
    """
    xg, yg, vg = gt[:, 0::3], gt[:, 1::3], gt[:, 2::3]  # (P, K)
    xd, yd = det[:, 0::3], det[:, 1::3]  # (P, K)
    labelled = vg > 0  # (P, K)
    any_labelled: NDArray[np.bool_] = np.any(labelled, axis=1)  # (P,)
    bx, by, bw, bh = (gt_bbox[:, j : j + 1] for j in range(4))  # (P, 1)
    x0, x1 = bx - bw, bx + bw * 2  # pycocotools: bb[0] - bb[2], bb[0] + bb[2] * 2
    y0, y1 = by - bh, by + bh * 2
    z = np.zeros_like(xd)
    dx = np.where(
        any_labelled[:, None], xd - xg, np.maximum(z, x0 - xd) + np.maximum(z, xd - x1)
    )  # (P, K)
    dy = np.where(any_labelled[:, None], yd - yg, np.maximum(z, y0 - yd) + np.maximum(z, yd - y1))
    var = (sigmas * 2) ** 2  # (P, K)
    e = (dx**2 + dy**2) / var / (gt_area[:, None] + EPS) / 2  # (P, K)
    keep: NDArray[np.bool_] = labelled | ~any_labelled[:, None]  # (P, K) all when none is
    return _sum_exp_rows(e, keep)
