"""Loading and validating detection-evaluation inputs.

Ground truth is a COCO dict (or the path of a COCO JSON file) with ``images``, ``categories`` and
``annotations``. Each annotation needs ``id``, ``image_id``, ``category_id``, ``bbox`` (x, y, w, h) and
``area``; ``iscrowd`` and ``difficult`` default to 0. Detections are a COCO result list (dicts with
``image_id``, ``category_id``, ``bbox``, ``score``), the path of such a JSON file, an ``(N, 7)`` array
with rows ``(image_id, x, y, w, h, score, category_id)`` (pycocotools' ``loadNumpyAnnotations``
layout), or a dict of arrays with the keys ``image_id``, ``category_id``, ``bbox`` (N, 4) and ``score``.

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

__all__ = [
    "CocoGroundTruth",
    "DetectionEvalWarning",
    "Detections",
    "load_coco_ground_truth",
    "load_detections",
]


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


@dataclass(frozen=True)
class Detections:
    """Detections as flat arrays, in input order.

    Attributes
    ----------
    image_id, category_id : (N,) int64
    bbox : (N, 4) float64, boxes as (x, y, w, h)
    score : (N,) float64
    """

    image_id: NDArray[np.int64]
    category_id: NDArray[np.int64]
    bbox: NDArray[np.float64]
    score: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.score.shape[0])


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


def load_coco_ground_truth(source: Any) -> CocoGroundTruth:
    """Read and validate COCO ground truth.

    Parameters
    ----------
    source : dict, str, os.PathLike or CocoGroundTruth
        A COCO dataset dict, the path of its JSON file, or an already loaded ground truth.

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
    if isinstance(source, CocoGroundTruth):
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
    )


def _detections_from_array(arr: NDArray[Any]) -> tuple[Any, Any, Any, Any]:
    if arr.ndim != 2 or arr.shape[1] != 7:
        raise ValueError(
            "detections as an array must have shape (N, 7) with rows "
            f"(image_id, x, y, w, h, score, category_id); got shape {arr.shape}"
        )
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"detections must be a numeric array; got dtype {arr.dtype}")
    ids = []
    for col, key in ((0, "image_id"), (6, "category_id")):
        column = arr[:, col]
        if column.dtype.kind == "f":
            # pycocotools' loadNumpyAnnotations truncates the ids with int(); NaN, inf and
            # values beyond int64 have no integer to truncate to
            bad = ~np.isfinite(column) | (column <= -(2.0**63) - 1) | (column >= 2.0**63)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise ValueError(
                    f"detections[{i}] {key} (column {col} of the (N, 7) array) must be a finite "
                    f"id in the int64 range; got {column[i].item()!r}"
                )
        elif column.dtype.kind == "u" and column.size and column.max() > _INT64_MAX:
            i = int(np.argmax(column))
            raise ValueError(
                f"detections[{i}] {key} (column {col} of the (N, 7) array) must be in the int64 "
                f"range; got {column[i].item()!r}"
            )
        ids.append(column.astype(np.int64))
    return ids[0], ids[1], arr[:, 1:5], arr[:, 5]


def _dict_column(source: Mapping[str, Any], key: str, n: int | None) -> NDArray[Any]:
    """``source[key]`` as an array of ``n`` entries (any ``n`` when None), naming the key."""
    value = source[key]
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"detections[{key!r}] must be an array with one entry per detection; got "
            f"{type(value).__name__} "
            f"({'ragged: rows of different lengths' if 'inhomogeneous' in str(exc) else exc})"
        ) from None
    if arr.ndim == 0:
        raise TypeError(
            f"detections[{key!r}] must be an array with one entry per detection; got "
            f"{type(value).__name__} {value!r}"[:200]
        )
    if n is not None and len(arr) != n:
        raise ValueError(f"detections[{key!r}] must have {n} entries (as 'score'); got {len(arr)}")
    return arr


def load_detections(source: Any, gt: CocoGroundTruth | None = None) -> Detections:
    """Read and validate detections; with ``gt``, check that their image and category ids exist.

    Parameters
    ----------
    source : list of dict, str, os.PathLike, ndarray, dict of arrays or Detections
        See the module docstring for the accepted layouts.
    gt : CocoGroundTruth, optional
        When given, every detection's ``image_id`` must be an image of ``gt`` and its
        ``category_id`` one of its categories.

    Raises
    ------
    ValueError
        Missing keys, boxes that are not four finite numbers or have negative width or height,
        non-finite scores, unknown image or category ids; the message names the entry.
    """
    where = "detections"
    if isinstance(source, Detections):
        dets = source
    else:
        if isinstance(source, str | os.PathLike):
            source = _read_json(source, "detections")
        if isinstance(source, np.ndarray):
            img, cat, box, score = _detections_from_array(source)
            bbox = _boxes(np.asarray(box, dtype=np.float64), where)
            scores = np.asarray(score, dtype=np.float64)
            if not np.isfinite(scores).all():
                i = int(np.flatnonzero(~np.isfinite(scores))[0])
                raise ValueError(f"detections[{i}] score must be finite; got {scores[i]}")
            dets = Detections(img, cat, bbox, scores)
        elif isinstance(source, Mapping):
            missing = [k for k in ("image_id", "category_id", "bbox", "score") if k not in source]
            if missing:
                raise ValueError(
                    f"detections as a dict of arrays needs the keys image_id, category_id, bbox, "
                    f"score; missing {missing}"
                )
            score_col = _dict_column(source, "score", None)
            n = len(score_col)
            img_col = _dict_column(source, "image_id", n)
            cat_col = _dict_column(source, "category_id", n)
            box_col = _dict_column(source, "bbox", n)
            if box_col.dtype.kind in "iuf" and box_col.ndim == 2:
                box_col = box_col.astype(np.float64, copy=False)
                if box_col.shape[1] != 4:
                    raise ValueError(
                        f"detections['bbox'] must have shape ({n}, 4); got {box_col.shape}"
                    )
            elif box_col.dtype.kind == "O" or box_col.ndim == 2:  # names the first bad box
                box_col = _boxes(list(box_col), where)
            else:
                raise TypeError(
                    f"detections['bbox'] must be an (N, 4) numeric array; got shape "
                    f"{box_col.shape} and dtype {box_col.dtype}"
                )
            dets = Detections(
                _ids(img_col.tolist(), where, "image_id"),
                _ids(cat_col.tolist(), where, "category_id"),
                _boxes(box_col, where),
                _numbers(score_col.tolist(), where, "score"),
            )
        elif isinstance(source, list | tuple):
            dets = Detections(
                _ids(_column(source, "image_id", where), where, "image_id"),
                _ids(_column(source, "category_id", where), where, "category_id"),
                _boxes(_column(source, "bbox", where), where),
                _numbers(_column(source, "score", where), where, "score"),
            )
        else:
            raise TypeError(
                "detections must be a COCO result list, a JSON file path, an (N, 7) array or a "
                f"dict of arrays; got {type(source).__name__}"
            )
    if gt is not None:
        _check_known(dets.image_id, gt.image_ids, where, "image_id", "images")
        _check_known(dets.category_id, gt.category_ids, where, "category_id", "categories")
    return dets
