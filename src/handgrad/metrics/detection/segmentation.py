"""COCO ``segmentation`` fields to masks, validated, as pycocotools' ``annToRLE`` reads them.

A segmentation is one of

* polygons: a list of parts ``[[x0, y0, x1, y1, ...], ...]``, rasterised at the image's size
  (:mod:`~handgrad.metrics.detection.polygons`) and merged into one mask;
* uncompressed RLE: ``{"size": [h, w], "counts": [c0, c1, ...]}`` (COCO's crowd regions);
* compressed RLE: ``{"size": [h, w], "counts": "..."}`` (text or bytes; result files).

Refused, with the entry named: another type; no polygon; a part that is not a list of finite
numbers or has fewer than two points (four numbers); a first part of exactly four numbers
(pycocotools reads such a list as boxes and fails); coordinates beyond +-4e8 (pycocotools
converts 5 x to a C ``int``); an RLE whose ``size`` is not the image's ``[height, width]``;
counts that are negative or do not sum to h * w; compressed counts that are not pycocotools' text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import chain
from typing import Any

import numpy as np
from numpy.typing import NDArray

from handgrad.metrics.detection.polygons import polygons_to_masks
from handgrad.metrics.detection.rle import (
    MAX_PIXELS,
    Masks,
    counts_to_masks,
    decode_strings,
    merge_groups,
)

__all__ = ["COORD_LIMIT", "check_image_size", "masks_from_segmentations"]

COORD_LIMIT = 4e8  # |coordinate| bound: 5 x + .5 must fit a C int

Where = Callable[[int], str]


def check_image_size(height: Any, width: Any, where: str) -> tuple[int, int]:
    """(h, w) as positive ints with h * w < 2**29, naming ``where`` otherwise."""
    for name, v in (("height", height), ("width", width)):
        ok = isinstance(v, int | np.integer) and not isinstance(v, bool)
        ok = ok or (isinstance(v, float) and v.is_integer())
        if not ok or int(v) < 1:
            raise ValueError(f"{where} {name} must be a positive integer; got {v!r}")
    h, w = int(height), int(width)
    if h * w >= MAX_PIXELS:
        raise ValueError(f"{where} is {h} x {w} pixels; masks are limited to h * w < 2**29")
    return h, w


def _numbers(values: list[Any]) -> NDArray[np.float64] | None:
    """Finite floats, or None when an entry is not a plain number (bools and strings included)."""
    if not set(map(type, values)) <= {int, float}:
        if not all(
            isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
            for v in values
        ):
            return None
    try:
        arr = np.asarray(values, dtype=np.float64).reshape(len(values))
    except (OverflowError, ValueError, TypeError):
        return None
    return arr if np.isfinite(arr).all() else None


def _polygons(
    items: list[tuple[int, Any]], height: NDArray[np.int64], width: NDArray[np.int64], where: Where
) -> Masks:
    """Masks of polygon segmentations (one per item, parts merged)."""
    parts: list[Any] = []
    owner: list[int] = []
    for slot, (i, segm) in enumerate(items):
        if len(segm) == 0:
            raise ValueError(f"{where(i)}: segmentation has no polygon (an empty list)")
        for j, part in enumerate(segm):
            if not isinstance(part, list | tuple | np.ndarray):
                raise ValueError(
                    f"{where(i)}: segmentation polygon {j} must be a list of numbers "
                    f"[x0, y0, x1, y1, ...]; got {type(part).__name__}"
                )
            if len(part) < 4 or (j == 0 and len(part) == 4):
                raise ValueError(
                    f"{where(i)}: segmentation polygon {j} has {len(part)} numbers; a polygon "
                    "needs at least three points (six numbers)"
                    + (
                        " (pycocotools reads a first part of four numbers as a box)"
                        if j == 0
                        else ""
                    )
                )
        parts.extend(segm)
        owner.extend([slot] * len(segm))
    lengths = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
    flat = list(chain.from_iterable(parts))
    xy = _numbers(flat)
    part_end = np.cumsum(lengths)
    if xy is None or np.abs(xy).max(initial=0.0) > COORD_LIMIT:
        for p, part in enumerate(parts):
            arr = _numbers(list(part))
            if arr is None or np.abs(arr).max(initial=0.0) > COORD_LIMIT:
                i = items[owner[p]][0]
                raise ValueError(
                    f"{where(i)}: segmentation polygon coordinates must be finite numbers "
                    f"within +-{COORD_LIMIT:g}; got {list(part)[:8]!r}"
                )
    assert xy is not None
    offsets = np.concatenate([[0], part_end]).astype(np.int64)
    own = np.asarray(owner, dtype=np.int64)
    part_masks = polygons_to_masks(xy, offsets, height[own], width[own])
    return merge_groups(part_masks, own, len(items))


def _rle_size(size: Any, h: int, w: int, i: int, where: Where) -> None:
    if size == [h, w] and type(size[0]) is int and type(size[1]) is int:
        return
    ok = isinstance(size, list | tuple) and len(size) == 2 and all(map(_is_int, size))
    if not ok or [int(v) for v in size] != [h, w]:
        raise ValueError(
            f"{where(i)}: RLE size {size!r} does not match the image's [height, width] = [{h}, {w}]"
        )


def _is_int(v: Any) -> bool:
    return isinstance(v, int | np.integer) and not isinstance(v, bool)


def _uncompressed(
    items: list[tuple[int, Any]], height: NDArray[np.int64], width: NDArray[np.int64], where: Where
) -> Masks:
    counts_lists = [segm["counts"] for _, segm in items]
    flat = list(chain.from_iterable(counts_lists))
    lengths = np.fromiter(map(len, counts_lists), dtype=np.int64, count=len(items))
    if set(map(type, flat)) <= {int}:
        try:
            counts = np.fromiter(flat, dtype=np.int64, count=len(flat))
        except OverflowError:
            counts = None
    else:
        counts = None
    if counts is None:
        for i, segm in items:
            if not all(_is_int(c) and 0 <= c < MAX_PIXELS for c in segm["counts"]):
                raise ValueError(
                    f"{where(i)}: RLE counts must be non-negative integers below 2**29; got "
                    f"{list(segm['counts'])[:8]!r}"
                )
        counts = np.asarray(flat, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return counts_to_masks(counts, offsets, height, width, lambda s: where(items[s][0]))


CHUNK_CHARS = 1 << 22  # compressed characters decoded at a time: bounds the temporaries


def _compressed(
    items: list[tuple[int, Any]], height: NDArray[np.int64], width: NDArray[np.int64], where: Where
) -> Masks:
    texts = [segm["counts"] for _, segm in items]
    ends = np.cumsum(np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)))
    batches, lo = [], 0
    while lo < len(texts):
        base = int(ends[lo - 1]) if lo else 0
        hi = max(int(np.searchsorted(ends, base + CHUNK_CHARS, side="right")), lo + 1)

        def name(s: int, lo: int = lo) -> str:
            return where(items[lo + s][0])

        counts, offsets = decode_strings(texts[lo:hi], name)
        batches.append(counts_to_masks(counts, offsets, height[lo:hi], width[lo:hi], name))
        lo = hi
    return concat_masks(batches) if batches else Masks.empty()


def _all_compressed(
    segms: Sequence[Any], height: NDArray[np.int64], width: NDArray[np.int64]
) -> list[tuple[int, Any]] | None:
    """The common case of result files, checked in bulk: every entry an RLE dict with text
    counts and the image's size. None when any entry is otherwise (the caller looks closer)."""
    if not set(map(type, segms)) <= {dict}:
        return None
    try:
        sizes = [s["size"] for s in segms]
        kinds = set(map(type, [s["counts"] for s in segms]))
    except KeyError:
        return None
    if not kinds <= {str, bytes} or not set(map(type, sizes)) <= {list}:
        return None
    if not set(map(type, chain.from_iterable(sizes))) <= {int} or set(map(len, sizes)) != {2}:
        return None
    hw = np.asarray(sizes, dtype=np.int64).reshape(len(sizes), 2)
    if not (np.array_equal(hw[:, 0], height) and np.array_equal(hw[:, 1], width)):
        return None
    return list(enumerate(segms))


def masks_from_segmentations(
    segms: Sequence[Any], height: NDArray[np.int64], width: NDArray[np.int64], where: Where
) -> Masks:
    """One mask per segmentation (see the module docstring), in input order.

    ``height`` and ``width`` (n,) are the sizes of each entry's image; ``where(i)`` names entry
    i in error messages.
    """
    if len(segms) and (items := _all_compressed(segms, height, width)) is not None:
        return _compressed(items, height, width, where)
    kinds: dict[str, list[tuple[int, Any]]] = {"poly": [], "rle": [], "text": []}
    hs, ws = height.tolist(), width.tolist()
    for i, segm in enumerate(segms):
        if isinstance(segm, list | tuple):
            kinds["poly"].append((i, segm))
        elif isinstance(segm, Mapping) and "counts" in segm and "size" in segm:
            _rle_size(segm["size"], hs[i], ws[i], i, where)
            counts = segm["counts"]
            if isinstance(counts, str | bytes):
                kinds["text"].append((i, segm))
            elif isinstance(counts, list | tuple):
                kinds["rle"].append((i, segm))
            else:
                raise ValueError(
                    f"{where(i)}: RLE counts must be a list of integers (uncompressed) or text "
                    f"(compressed); got {type(counts).__name__}"
                )
        else:
            raise ValueError(
                f"{where(i)}: segmentation must be polygons (a list of lists of numbers) or an "
                f"RLE dict with 'size' and 'counts'; got {type(segm).__name__} "
                f"{str(segm)[:60]}"
            )
    parsed = {"poly": _polygons, "rle": _uncompressed, "text": _compressed}
    batches, order = [], []
    for kind, items in kinds.items():
        if items:
            idx = np.asarray([i for i, _ in items], dtype=np.int64)
            batches.append(parsed[kind](items, height[idx], width[idx], where))
            order.append(idx)
    if not batches:
        return Masks.empty()
    if len(batches) == 1:
        return batches[0]  # one kind: already in input order
    joined = concat_masks(batches)
    position = np.empty(len(segms), dtype=np.int64)
    position[np.concatenate(order)] = np.arange(len(segms))
    return joined.take(position)


def concat_masks(batches: Sequence[Masks]) -> Masks:
    """The masks of several batches, one batch after the other."""
    if len(batches) == 1:
        return batches[0]
    run_counts = [b.offsets[-1] for b in batches]
    shift = np.cumsum([0, *run_counts[:-1]])
    offsets = np.concatenate(
        [[0]] + [b.offsets[1:] + s for b, s in zip(batches, shift, strict=True)]
    ).astype(np.int64)
    return Masks(
        np.concatenate([b.height for b in batches]),
        np.concatenate([b.width for b in batches]),
        offsets,
        np.concatenate([b.starts for b in batches]),
        np.concatenate([b.ends for b in batches]),
    )
