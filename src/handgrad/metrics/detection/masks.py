"""pycocotools' mask API (``pycocotools.mask``) in NumPy, equal bit for bit.

==========================  ==============================  ======================================
handgrad                    pycocotools.mask                what
==========================  ==============================  ======================================
``rle_encode(m)``           ``encode(m)``                   (h, w) or (h, w, n) 0/1 -> RLE dict(s)
``rle_decode(r)``           ``decode(r)``                   RLE dict(s) -> (h, w) / (h, w, n) uint8
``rle_area(r)``             ``area(r)``                     number of 1 pixels
``rle_to_bbox(r)``          ``toBbox(r)``                   (x, y, w, h) of the 1 pixels
``rle_merge(rs, i)``        ``merge(rs, intersect=i)``      union (or intersection)
``rle_iou(d, g, crowd)``    ``iou(d, g, crowd)``            (D, G) mask IoU, crowd rule included
``rle_from_polygons(p,..)`` ``frPyObjects(p, h, w)``        one RLE per polygon
``segmentation_to_rle``     ``COCO.annToRLE``               polygons / RLE of any form -> one RLE
==========================  ==============================  ======================================

RLE dicts are ``{"size": [h, w], "counts": str}`` (pycocotools returns the same text as bytes);
functions that read RLE also accept uncompressed counts (a list of integers). Masks are laid out
column-major, as in pycocotools (:mod:`~handgrad.metrics.detection.rle`). The batch functions
work on all their inputs at once, in NumPy, without a loop per mask.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from handgrad.metrics.detection.rle import (
    Masks,
    encode_strings,
    masks_to_counts,
    merge_groups,
    pair_intersections,
)
from handgrad.metrics.detection.segmentation import check_image_size, masks_from_segmentations

__all__ = [
    "rle_area",
    "rle_decode",
    "rle_encode",
    "rle_from_polygons",
    "rle_iou",
    "rle_merge",
    "rle_to_bbox",
    "segmentation_to_rle",
]


def _as_list(rles: Any) -> tuple[list[Any], bool]:
    """(list of RLE dicts, whether a single dict was given)."""
    if isinstance(rles, Mapping):
        return [rles], True
    if isinstance(rles, list | tuple):
        return list(rles), False
    raise TypeError(f"expected an RLE dict or a list of them; got {type(rles).__name__}")


def _masks(rles: list[Any], name: str) -> Masks:
    """Masks of RLE dicts, each at its own ``size``."""
    sizes = []
    for i, r in enumerate(rles):
        if not isinstance(r, Mapping) or "size" not in r or "counts" not in r:
            raise ValueError(f"{name}[{i}] must be an RLE dict with 'size' and 'counts'; got {r!r}")
        size = r["size"]
        if not isinstance(size, list | tuple) or len(size) != 2:
            raise ValueError(f"{name}[{i}]['size'] must be [height, width]; got {size!r}")
        sizes.append(check_image_size(size[0], size[1], f"{name}[{i}] size"))
    h = np.asarray([s[0] for s in sizes], dtype=np.int64).reshape(len(sizes))
    w = np.asarray([s[1] for s in sizes], dtype=np.int64).reshape(len(sizes))
    return masks_from_segmentations(rles, h, w, lambda i: f"{name}[{i}]")


def _to_dicts(masks: Masks) -> list[dict[str, Any]]:
    counts, offsets = masks_to_counts(masks)
    texts = encode_strings(counts, offsets)
    return [
        {"size": [int(h), int(w)], "counts": t}
        for h, w, t in zip(masks.height, masks.width, texts, strict=True)
    ]


def rle_encode(mask: Any) -> dict[str, Any] | list[dict[str, Any]]:
    """RLE of a binary mask (h, w), or of each mask of an (h, w, n) stack (a list).

    Any nonzero value is 1 (pycocotools compares bytes with the previous value, so it expects
    0/1 input).
    """
    arr = np.asarray(mask)
    if arr.ndim not in (2, 3):
        raise ValueError(f"mask must have shape (h, w) or (h, w, n); got shape {arr.shape}")
    single = arr.ndim == 2
    stack = arr[:, :, None] if single else arr
    h, w, n = stack.shape
    flat = (stack != 0).transpose(2, 1, 0).reshape(n, h * w)  # (n, h w) column-major
    edges = np.diff(flat.astype(np.int8), axis=1, prepend=0, append=0)  # (n, h w + 1)
    mask_of, pos = np.nonzero(edges)  # starts (+1) and ends (-1) of runs, in order
    starts, ends = pos[0::2], pos[1::2]
    masks = Masks(
        np.full(n, h, dtype=np.int64),
        np.full(n, w, dtype=np.int64),
        np.concatenate([[0], np.cumsum(np.bincount(mask_of[0::2], minlength=n))]).astype(np.int64),
        starts.astype(np.int64),
        ends.astype(np.int64),
    )
    out = _to_dicts(masks)
    return out[0] if single else out


def rle_decode(rles: Any) -> NDArray[np.uint8]:
    """Binary mask (h, w) of an RLE dict, or the (h, w, n) stack of a list of them."""
    items, single = _as_list(rles)
    masks = _masks(items, "rles")
    if len(masks) == 0:
        raise ValueError("rle_decode needs at least one RLE")
    if np.unique(masks.height).size > 1 or np.unique(masks.width).size > 1:
        raise ValueError("rle_decode: every RLE of a list must have the same size")
    h, w, n = int(masks.height[0]), int(masks.width[0]), len(masks)
    cover = np.zeros((n, h * w + 1), dtype=np.int8)
    owner = masks.mask_of_run
    np.add.at(cover, (owner, masks.starts), 1)
    np.add.at(cover, (owner, masks.ends), -1)
    flat = np.cumsum(cover[:, :-1], axis=1).astype(np.uint8)  # (n, h w)
    out = flat.reshape(n, w, h).transpose(2, 1, 0)  # (h, w, n)
    return np.ascontiguousarray(out[:, :, 0] if single else out)


def rle_area(rles: Any) -> Any:
    """Number of 1 pixels: an int for one RLE, an (n,) int64 array for a list."""
    items, single = _as_list(rles)
    area = _masks(items, "rles").area
    return int(area[0]) if single else area


def rle_to_bbox(rles: Any) -> NDArray[np.float64]:
    """(4,) or (n, 4) bounding boxes (x, y, w, h) of the 1 pixels (zeros for an empty mask)."""
    items, single = _as_list(rles)
    box = _masks(items, "rles").bbox
    return box[0] if single else box


def rle_merge(rles: Sequence[Any], intersect: bool = False) -> dict[str, Any]:
    """The union (or, with ``intersect``, the intersection) of RLEs of one size."""
    items, _ = _as_list(rles)
    masks = _masks(items, "rles")
    if len(masks) == 0:
        raise ValueError("rle_merge needs at least one RLE")
    if np.unique(masks.height).size > 1 or np.unique(masks.width).size > 1:
        raise ValueError("rle_merge: every RLE must have the same size")
    group = np.zeros(len(masks), dtype=np.int64)
    return _to_dicts(merge_groups(masks, group, 1, intersect=intersect))[0]


def rle_iou(dt: Sequence[Any], gt: Sequence[Any], iscrowd: Sequence[Any]) -> NDArray[np.float64]:
    """(D, G) IoU of every (detection, ground truth) pair of masks, pycocotools' ``iou``.

    IoU = |d ∩ g| / |d ∪ g|, or |d ∩ g| / |d| where ``iscrowd[g]``; 0 when they share no pixel.
    Masks of different sizes raise ``ValueError`` (pycocotools returns -1 for them).
    """
    d, g = _masks(_as_list(dt)[0], "dt"), _masks(_as_list(gt)[0], "gt")
    crowd = np.asarray(iscrowd, dtype=bool).reshape(-1)
    if crowd.shape[0] != len(g):
        raise ValueError(f"iscrowd must have one flag per gt mask ({len(g)}); got {crowd.shape[0]}")
    di = np.repeat(np.arange(len(d)), len(g))  # (D G,) row-major pairs
    gi = np.tile(np.arange(len(g)), len(d))
    if np.any((d.height[di] != g.height[gi]) | (d.width[di] != g.width[gi])):
        raise ValueError("rle_iou: dt and gt masks must all have the same size")
    inter = pair_intersections(d, di, g, gi)  # (D G,)
    da, ga = d.area[di], g.area[gi]
    union = np.where(crowd[gi], da, da + ga - inter)
    iou = np.zeros(inter.shape)
    hit = inter > 0
    iou[hit] = inter[hit] / union[hit]
    return iou.reshape(len(d), len(g))


def rle_from_polygons(polygons: Sequence[Any], height: int, width: int) -> list[dict[str, Any]]:
    """One RLE per polygon ``[x0, y0, x1, y1, ...]`` in an image of the given size."""
    h, w = check_image_size(height, width, "image")
    n = len(polygons)
    hs, ws = np.full(n, h, dtype=np.int64), np.full(n, w, dtype=np.int64)
    masks = masks_from_segmentations([[p] for p in polygons], hs, ws, lambda i: f"polygons[{i}]")
    return _to_dicts(masks)


def segmentation_to_rle(segmentation: Any, height: int, width: int) -> dict[str, Any]:
    """One RLE for a COCO ``segmentation`` (polygons merged, uncompressed RLE compressed)."""
    h, w = check_image_size(height, width, "image")
    one = np.ones(1, dtype=np.int64)
    masks = masks_from_segmentations([segmentation], one * h, one * w, lambda i: "segmentation")
    return _to_dicts(masks)[0]
