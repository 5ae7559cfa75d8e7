"""Loading and validating COCO ground truth, and the validators detections share.

Ground truth is a COCO dict (or the path of a COCO JSON file) with ``images``, ``categories`` and
``annotations``. Each annotation needs ``id``, ``image_id``, ``category_id``, ``bbox`` (x, y, w, h) and
``area``; ``iscrowd`` and ``difficult`` default to 0. By ``iou_type``: ``segm`` needs a
``segmentation`` per annotation (polygons or RLE, see :mod:`~.segmentation`) and ``height`` and
``width`` per image; ``keypoints`` reads each annotation's ``keypoints`` and ``num_keypoints``
(counted from the visibility flags when absent). Detections: :mod:`~.detections`.

Malformed input raises ``ValueError`` (or ``TypeError`` for the wrong kind of object) naming the
offending entry and field: a missing key; an id that is not an integer (a bool, a string, None, a
fraction, NaN) or lies outside int64; a box that is not four finite numbers (strings and bools
inside a box are refused, not converted), has negative width or height, or whose corner x + w or
area w * h overflows float64; a score or area that is not a finite number, a negative area; an
``iscrowd`` / ``difficult`` flag other than 0 or 1; an image or category id that the ground truth
does not list.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
from numpy.typing import NDArray

from handgrad.metrics.detection.keypoints import Keypoints, parse_keypoints
from handgrad.metrics.detection.rle import Masks
from handgrad.metrics.detection.segmentation import check_image_size, masks_from_segmentations

__all__ = [
    "IOU_TYPES",
    "CocoGroundTruth",
    "DetectionEvalWarning",
    "check_iou_type",
    "image_sizes",
    "load_coco_ground_truth",
]

IOU_TYPES = ("bbox", "segm", "keypoints")


def check_iou_type(iou_type: Any) -> str:
    """``iou_type`` if it is one of :data:`IOU_TYPES`, else a ``ValueError`` naming it."""
    if not isinstance(iou_type, str) or iou_type not in IOU_TYPES:
        raise ValueError(
            f"iou_type must be one of {', '.join(map(repr, IOU_TYPES))}; got {iou_type!r}"
        )
    return iou_type


class DetectionEvalWarning(UserWarning):
    """A known trap of COCO-style evaluation that silently changes the numbers."""


@dataclass(frozen=True)
class CocoGroundTruth:
    """Ground truth of a COCO dataset as flat arrays (annotations in file order).

    Attributes
    ----------
    image_ids : (I,) int64
        Ids of the ``images`` entries, in file order.
    category_ids : (K,) int64
        Ids of the ``categories`` entries, in file order.
    category_names : dict
        Category id -> ``name`` (the id as text when the entry has no name).
    ann_id, ann_image_id, ann_category_id : (G,) int64
        Annotation id, image id and category id of each annotation.
    bbox : (G, 4) float64
        Boxes as (x, y, w, h).
    area : (G,) float64
        The annotation's ``area`` field (what COCO's area ranges test; not w * h).
    iscrowd, difficult : (G,) bool
        Crowd and VOC "difficult" flags.
    iou_type : str
        What it was loaded for: the fields below are filled for ``segm`` and ``keypoints``.
    image_height, image_width : (I,) int64 or None
        Image sizes (``segm``).
    masks : Masks or None
        Each annotation's mask (``segm``).
    keypoints : Keypoints or None
        Each annotation's keypoints, none where it has no ``keypoints`` field (``keypoints``).
    no_keypoints : (G,) bool or None
        ``num_keypoints == 0`` (``keypoints``): pycocotools ignores such an object, as a crowd.
    """

    image_ids: NDArray[np.int64]
    category_ids: NDArray[np.int64]
    category_names: dict[int, str]
    ann_id: NDArray[np.int64]
    ann_image_id: NDArray[np.int64]
    ann_category_id: NDArray[np.int64]
    bbox: NDArray[np.float64]
    area: NDArray[np.float64]
    iscrowd: NDArray[np.bool_]
    difficult: NDArray[np.bool_]
    iou_type: str = "bbox"
    image_height: NDArray[np.int64] | None = None
    image_width: NDArray[np.int64] | None = None
    masks: Masks | None = None
    keypoints: Keypoints | None = None
    no_keypoints: NDArray[np.bool_] | None = None


def _read_json(source: str | os.PathLike[str], name: str) -> Any:
    try:
        with open(source) as f:
            return json.load(f)
    except OSError as exc:
        raise ValueError(f"{name}: cannot read file {os.fspath(source)!r} ({exc})") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{name}: {os.fspath(source)!r} is not valid JSON ({exc})") from None


def _column(entries: Sequence[Any], key: str, where: str) -> list[Any]:
    """``[e[key] for e in entries]`` with an error naming the first entry that lacks ``key``."""
    try:
        return [e[key] for e in entries]
    except (KeyError, TypeError, IndexError):
        pass
    for i, e in enumerate(entries):
        if not isinstance(e, Mapping):
            raise TypeError(f"{where}[{i}] must be a JSON object (dict); got {type(e).__name__}")
        if key not in e:
            raise ValueError(f"{where}[{i}] is missing the key {key!r}; got keys {sorted(e)}")
    raise AssertionError("unreachable")  # pragma: no cover


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _ids(values: list[Any], where: str, key: str) -> NDArray[np.int64]:
    """Integer ids in the int64 range; floats holding whole numbers are accepted, anything else
    (bools, strings, None, NaN, fractions, ids beyond int64) names the entry."""
    if set(map(type, values)) <= {int}:  # fast path: plain ints
        try:
            return np.fromiter(values, dtype=np.int64, count=len(values))
        except OverflowError:  # an id beyond int64: the loop below names it
            pass
    for i, v in enumerate(values):
        ok = isinstance(v, int | np.integer) and not isinstance(v, bool)
        ok = ok or (isinstance(v, float | np.floating) and np.isfinite(v) and float(v).is_integer())
        if not ok:
            raise ValueError(f"{where}[{i}][{key!r}] must be an integer id; got {v!r}")
        if not _INT64_MIN <= int(v) <= _INT64_MAX:
            raise ValueError(
                f"{where}[{i}][{key!r}] must be an integer id in the int64 range "
                f"[-2**63, 2**63 - 1]; got {v!r}"
            )
    return np.asarray([int(v) for v in values], dtype=np.int64).reshape(len(values))


def _numbers(
    values: list[Any], where: str, key: str, *, nonnegative: bool = False
) -> NDArray[np.float64]:
    """Finite floats (``>= 0`` with ``nonnegative``), naming the first entry that is not."""
    arr = None
    if set(map(type, values)) <= {int, float}:  # fast path: plain numbers
        try:
            arr = np.fromiter(values, dtype=np.float64, count=len(values))
        except OverflowError:  # an int beyond the float range: the loop below names it
            arr = None
    if arr is None or not np.isfinite(arr).all():
        for i, v in enumerate(values):
            if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating):
                raise ValueError(f"{where}[{i}][{key!r}] must be a number; got {v!r}")
            try:
                finite = bool(np.isfinite(float(v)))
            except OverflowError:
                finite = False
            if not finite:
                raise ValueError(f"{where}[{i}][{key!r}] must be finite; got {v!r}")
        arr = np.asarray(values, dtype=np.float64).reshape(len(values))
    if nonnegative and arr.size and arr.min() < 0:
        i = int(np.flatnonzero(arr < 0)[0])
        raise ValueError(f"{where}[{i}][{key!r}] must be >= 0; got {values[i]!r}")
    return arr


def _flags(values: list[Any], where: str, key: str) -> NDArray[np.bool_]:
    """0/1 flags (bools too); 2, -1 or 0.5 would silently count as set here and not in
    pycocotools (which takes ``int(value)``), so they name the entry."""
    arr = _numbers([int(v) if isinstance(v, bool) else v for v in values], where, key)
    bad = np.flatnonzero((arr != 0) & (arr != 1))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{where}[{i}][{key!r}] must be 0 or 1 (or a bool); got {values[i]!r}")
    return arr != 0


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)


def _boxes(values: Any, where: str, key: str = "bbox") -> NDArray[np.float64]:
    """(N, 4) finite boxes (x, y, w, h) with w, h >= 0 and finite corners and areas, naming the
    first offending entry.

    A list is checked entry by entry unless every entry is a list or tuple of four plain ints or
    floats (the fast path), so strings (``"1"``) and bools inside a box are refused rather than
    converted. A NumPy array must be numeric and (N, 4).
    """
    n = len(values)
    if n == 0:
        return np.zeros((0, 4))
    arr = None
    if isinstance(values, np.ndarray):
        if values.dtype.kind in "iuf":
            arr = values.astype(np.float64, copy=False)
    elif (
        isinstance(values, list)
        and set(map(type, values)) <= {list, tuple}
        and set(map(len, values)) == {4}
        and set(map(type, chain.from_iterable(values))) <= {int, float}
    ):  # fast path: lists of four plain numbers
        try:
            arr = np.fromiter(chain.from_iterable(values), dtype=np.float64, count=4 * n)
            arr = arr.reshape(n, 4)
        except OverflowError:  # an int beyond the float range: named below
            arr = None
    if arr is None or arr.shape != (n, 4) or not np.isfinite(arr).all():
        for i, b in enumerate(values):
            ok = isinstance(b, Sequence | np.ndarray) and len(b) == 4 and all(map(_is_number, b))
            if ok:
                with np.errstate(over="ignore"):
                    try:
                        ok = bool(np.isfinite(np.asarray(b, dtype=np.float64)).all())
                    except OverflowError:
                        ok = False
            if not ok:
                raise ValueError(
                    f"{where}[{i}][{key!r}] must be four finite numbers [x, y, w, h]; got {b!r}"
                )
        if arr is None:
            arr = np.asarray([[float(v) for v in b] for b in values], dtype=np.float64)
        if arr.shape != (n, 4):
            raise ValueError(f"{where}: {key} must have shape ({n}, 4); got {np.shape(values)}")
    bad = np.flatnonzero((arr[:, 2] < 0) | (arr[:, 3] < 0))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"{where}[{i}][{key!r}] has negative width or height; got {arr[i].tolist()} "
            f"({bad.size} such box(es) in all)"
        )
    with np.errstate(over="ignore"):
        big = ~(
            np.isfinite(arr[:, 0] + arr[:, 2])
            & np.isfinite(arr[:, 1] + arr[:, 3])
            & np.isfinite(arr[:, 2] * arr[:, 3])
        )
    if big.any():
        i = int(np.flatnonzero(big)[0])
        raise ValueError(
            f"{where}[{i}][{key!r}] is too large for float64: x + w, y + h or w * h overflows; "
            f"got {arr[i].tolist()}"
        )
    return arr


def _check_known(
    ids: NDArray[np.int64], known: NDArray[np.int64], where: str, key: str, listed: str
) -> None:
    ok = np.isin(ids, known)
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        raise ValueError(
            f"{where}[{i}][{key!r}] = {int(ids[i])} is not among the ground truth's {listed} "
            f"({int((~ok).sum())} entry(ies) in all)"
        )


def image_sizes(
    gt: CocoGroundTruth, image_id: NDArray[np.int64], where: str
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(height, width) of the images ``image_id`` (the last ``images`` entry of an id)."""
    if gt.image_height is None or gt.image_width is None:
        raise ValueError(f"{where}: the ground truth was loaded without image sizes (iou_type)")
    return _sizes_of(gt.image_ids, gt.image_height, gt.image_width, image_id)


def _sizes_of(
    ids: NDArray[np.int64],
    height: NDArray[np.int64],
    width: NDArray[np.int64],
    image_id: NDArray[np.int64],
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    uniq, first = np.unique(ids[::-1], return_index=True)  # first in reverse: the last entry
    pos = len(ids) - 1 - first[np.searchsorted(uniq, image_id)]
    return height[pos], width[pos]


def _segm_fields(
    images: list[Any],
    anns: list[Any],
    image_ids: NDArray[np.int64],
    ann_image: NDArray[np.int64],
    ann_id: NDArray[np.int64],
) -> dict[str, Any]:
    """Image sizes and annotation masks for ``iou_type="segm"``."""
    size = [
        check_image_size(im.get("height"), im.get("width"), f"images[{i}] (id {image_ids[i]})")
        for i, im in enumerate(images)
    ]
    h = np.asarray([s[0] for s in size], dtype=np.int64).reshape(len(size))
    w = np.asarray([s[1] for s in size], dtype=np.int64).reshape(len(size))
    segms = _column(anns, "segmentation", "annotations")
    ah, aw = _sizes_of(image_ids, h, w, ann_image)  # (G,) size of each annotation's image

    def name(i: int) -> str:
        return f"annotations[{i}] (id {int(ann_id[i])})"

    masks = masks_from_segmentations(segms, ah, aw, name)
    return {"image_height": h, "image_width": w, "masks": masks}


def _keypoint_fields(anns: list[Any], ann_id: NDArray[np.int64]) -> dict[str, Any]:
    """Keypoints and the ``num_keypoints == 0`` flag for ``iou_type="keypoints"``."""

    def name(i: int) -> str:
        return f"annotations[{i}] (id {int(ann_id[i])})"

    kps, _ = parse_keypoints(anns, name, required=False)
    labelled = kps.values[2::3] > 0  # (points,)
    point_owner = np.repeat(np.arange(len(kps)), kps.n_points)
    none = np.bincount(point_owner[labelled], minlength=len(kps)) == 0  # (G,) counted
    for i, a in enumerate(anns):
        v = a.get("num_keypoints")
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, int | float) or not np.isfinite(v):
            raise ValueError(f"{name(i)}: num_keypoints must be a number; got {v!r}")
        none[i] = v == 0
    return {"keypoints": kps, "no_keypoints": none}


def load_coco_ground_truth(source: Any, *, iou_type: str = "bbox") -> CocoGroundTruth:
    """Read and validate COCO ground truth.

    Parameters
    ----------
    source : dict, str, os.PathLike or CocoGroundTruth
        A COCO dataset dict, the path of its JSON file, or an already loaded ground truth.
    iou_type : {"bbox", "segm", "keypoints"}
        Which fields to read besides boxes (see the module docstring).

    Returns
    -------
    CocoGroundTruth

    Raises
    ------
    ValueError
        Missing top-level keys or annotation keys, boxes that are not four finite numbers, boxes with
        negative width or height, non-integer ids, annotations naming an image or category that the
        file does not list. The message names the offending entry.
    """
    check_iou_type(iou_type)
    if isinstance(source, CocoGroundTruth):
        if iou_type != "bbox" and source.iou_type != iou_type:
            raise ValueError(
                f"this ground truth was loaded for iou_type={source.iou_type!r}; load it again "
                f"with iou_type={iou_type!r}"
            )
        return source
    if isinstance(source, str | os.PathLike):
        data = _read_json(source, "coco_gt")
    else:
        data = source
    if not isinstance(data, Mapping):
        raise TypeError(
            f"coco_gt must be a COCO dict or the path of a COCO JSON file; got {type(data).__name__}"
        )
    for key in ("images", "annotations", "categories"):
        if key not in data:
            raise ValueError(f"coco_gt is missing the key {key!r}; got keys {sorted(data)}")
        if not isinstance(data[key], list):
            raise ValueError(f"coco_gt[{key!r}] must be a list; got {type(data[key]).__name__}")
    images, cats, anns = data["images"], data["categories"], data["annotations"]
    image_ids = _ids(_column(images, "id", "images"), "images", "id")
    category_ids = _ids(_column(cats, "id", "categories"), "categories", "id")
    names = {int(c["id"]): str(c.get("name", c["id"])) for c in cats}
    ann_id = _ids(_column(anns, "id", "annotations"), "annotations", "id")
    ann_image = _ids(_column(anns, "image_id", "annotations"), "annotations", "image_id")
    ann_cat = _ids(_column(anns, "category_id", "annotations"), "annotations", "category_id")
    bbox = _boxes(_column(anns, "bbox", "annotations"), "annotations")
    area = _numbers(_column(anns, "area", "annotations"), "annotations", "area", nonnegative=True)
    iscrowd = _flags([a.get("iscrowd", 0) for a in anns], "annotations", "iscrowd")
    difficult = _flags([a.get("difficult", 0) for a in anns], "annotations", "difficult")
    _check_known(ann_image, image_ids, "annotations", "image_id", "images")
    _check_known(ann_cat, category_ids, "annotations", "category_id", "categories")
    extra: dict[str, Any] = {}
    if iou_type == "segm":
        extra = _segm_fields(images, anns, image_ids, ann_image, ann_id)
    elif iou_type == "keypoints":
        extra = _keypoint_fields(anns, ann_id)
    return CocoGroundTruth(
        image_ids=image_ids,
        category_ids=category_ids,
        category_names=names,
        ann_id=ann_id,
        ann_image_id=ann_image,
        ann_category_id=ann_cat,
        bbox=bbox,
        area=area,
        iscrowd=iscrowd,
        difficult=difficult,
        iou_type=iou_type,
        **extra,
    )
