"""Detections (COCO results): loading, validation and the flat arrays the evaluation reads.

Detections are a COCO result list (dicts with ``image_id``, ``category_id``, ``score`` and, by
``iou_type``, ``bbox`` = [x, y, w, h], ``segmentation`` or ``keypoints``), the path of such a
JSON file, or, for boxes only, an ``(N, 7)`` array with rows ``(image_id, x, y, w, h, score,
category_id)`` (pycocotools' ``loadNumpyAnnotations`` layout) or a dict of arrays with the keys
``image_id``, ``category_id``, ``bbox`` (N, 4) and ``score``.

The area that COCO's area ranges test is pycocotools' (``loadRes``): w * h of the box when the
first result has a non-empty ``bbox`` (then every result needs one, whatever ``iou_type``);
otherwise the mask's area for ``segm`` and the extent of the keypoints
``(max x - min x) (max y - min y)`` for ``keypoints``.

Malformed input raises ``ValueError`` (or ``TypeError`` for the wrong kind of object) naming the
entry, as :mod:`~handgrad.metrics.detection.inputs` describes; masks and keypoints are checked by
:mod:`~handgrad.metrics.detection.segmentation` and :mod:`~handgrad.metrics.detection.keypoints`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from handgrad.metrics.detection.inputs import (
    _INT64_MAX,
    CocoGroundTruth,
    _boxes,
    _check_known,
    _column,
    _ids,
    _numbers,
    _read_json,
    check_iou_type,
    image_sizes,
)
from handgrad.metrics.detection.keypoints import Keypoints, parse_keypoints
from handgrad.metrics.detection.rle import Masks
from handgrad.metrics.detection.segmentation import masks_from_segmentations

__all__ = ["Detections", "load_detections", "result_arrays", "result_payload"]


@dataclass(frozen=True)
class Detections:
    """Detections as flat arrays, in input order.

    Attributes
    ----------
    image_id, category_id : (N,) int64
    bbox : (N, 4) float64
        Boxes as (x, y, w, h) (for masks or keypoints without a ``bbox``: their extent).
    score : (N,) float64
    area : (N,) float64 or None
        The area COCO's area ranges test (see the module docstring); None means w * h.
    masks : Masks or None
        Each detection's mask (``iou_type="segm"``).
    keypoints : Keypoints or None
        Each detection's keypoints (``iou_type="keypoints"``).
    """

    image_id: NDArray[np.int64]
    category_id: NDArray[np.int64]
    bbox: NDArray[np.float64]
    score: NDArray[np.float64]
    area: NDArray[np.float64] | None = None
    masks: Masks | None = None
    keypoints: Keypoints | None = None

    def __len__(self) -> int:
        return int(self.score.shape[0])

    @property
    def iou_type(self) -> str:
        return "segm" if self.masks is not None else "keypoints" if self.keypoints else "bbox"

    def range_area(self) -> NDArray[np.float64]:
        """(N,) the area tested against area ranges."""
        return self.bbox[:, 2] * self.bbox[:, 3] if self.area is None else self.area

    def take(self, rows: NDArray[np.int64]) -> Detections:
        """The detections ``rows`` (in that order)."""
        rows = np.asarray(rows, dtype=np.int64)
        return Detections(
            self.image_id[rows],
            self.category_id[rows],
            self.bbox[rows],
            self.score[rows],
            None if self.area is None else self.area[rows],
            None if self.masks is None else self.masks.take(rows),
            None if self.keypoints is None else self.keypoints.take(rows),
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


def _first_has_box(source: Sequence[Any]) -> bool:
    """pycocotools' ``loadRes`` test: ``'bbox' in anns[0] and not anns[0]['bbox'] == []``."""
    first = source[0] if len(source) else None
    if not isinstance(first, Mapping) or "bbox" not in first:
        return False
    box = first["bbox"]
    return not (isinstance(box, list | tuple) and len(box) == 0)


def result_arrays(
    source: Sequence[Any],
    gt: CocoGroundTruth | None,
    iou_type: str,
    has_box: bool | None = None,
) -> tuple[Detections, bool]:
    """Ids, scores and boxes of a COCO result list (validated), and whether results have a
    ``bbox`` (pycocotools' test for which area to use, on the first result unless ``has_box``
    says). For ``segm`` and ``keypoints`` the boxes are those of the results when they have
    them, else zeros until :func:`result_payload` fills them."""
    where = "detections"
    img = _ids(_column(source, "image_id", where), where, "image_id")
    cat = _ids(_column(source, "category_id", where), where, "category_id")
    score = _numbers(_column(source, "score", where), where, "score")
    if has_box is None:
        has_box = iou_type == "bbox" or _first_has_box(source)
    if has_box:
        bbox = _boxes(_column(source, "bbox", where), where)
    else:
        bbox = np.zeros((len(source), 4))
    if iou_type != "bbox":
        if gt is None:
            raise ValueError(f"iou_type={iou_type!r} needs the ground truth to load detections")
        _check_known(img, gt.image_ids, where, "image_id", "images")
    return Detections(img, cat, bbox, score), has_box


def result_payload(
    source: Sequence[Any],
    positions: NDArray[np.int64],
    arrays: Detections,
    gt: CocoGroundTruth,
    iou_type: str,
    has_box: bool,
) -> Detections:
    """``arrays`` with the masks or keypoints of the results ``source`` (entry j is result
    ``positions[j]`` of the file, the index errors name), and the area COCO's ranges test."""

    def name(j: int) -> str:
        return f"detections[{int(positions[j])}]"

    bbox = arrays.bbox
    if iou_type == "segm":
        height, width = image_sizes(gt, arrays.image_id, "detections")
        segms = [_entry(r, "segmentation", name(j)) for j, r in enumerate(source)]
        masks = masks_from_segmentations(segms, height, width, name)
        if not has_box:
            return replace(arrays, bbox=masks.bbox, area=masks.area.astype(float), masks=masks)
        return replace(arrays, area=bbox[:, 2] * bbox[:, 3], masks=masks)
    kps, _ = parse_keypoints(source, name, required=True)
    if np.any(kps.n_points == 0):
        j = int(np.flatnonzero(kps.n_points == 0)[0])
        raise ValueError(f"{name(j)}: keypoints must hold at least one (x, y, v) triple; got []")
    if not has_box:
        area, box = kps.extent()
        return replace(arrays, bbox=box, area=area, keypoints=kps)
    return replace(arrays, area=bbox[:, 2] * bbox[:, 3], keypoints=kps)


def _entry(result: Any, key: str, name: str) -> Any:
    try:
        return result[key]
    except (KeyError, TypeError):
        raise ValueError(f"{name} has no {key!r}") from None


def load_detections(
    source: Any, gt: CocoGroundTruth | None = None, *, iou_type: str = "bbox"
) -> Detections:
    """Read and validate detections; with ``gt``, check that their image and category ids exist.

    Parameters
    ----------
    source : list of dict, str, os.PathLike, ndarray, dict of arrays or Detections
        See the module docstring for the accepted layouts (masks and keypoints: result lists).
    gt : CocoGroundTruth, optional
        When given, every detection's ``image_id`` must be an image of ``gt`` and its
        ``category_id`` one of its categories. Needed for ``segm`` (image sizes).
    iou_type : {"bbox", "segm", "keypoints"}
        What the evaluation compares, hence which fields each result needs.

    Raises
    ------
    ValueError
        Missing keys, boxes that are not four finite numbers or have negative width or height,
        non-finite scores, unknown image or category ids, malformed masks or keypoints; the
        message names the entry.
    """
    check_iou_type(iou_type)
    where = "detections"
    if isinstance(source, Detections):
        dets = source
        if iou_type != "bbox" and dets.iou_type != iou_type:
            raise ValueError(
                f"these Detections were loaded for iou_type={dets.iou_type!r}; load them again "
                f"with iou_type={iou_type!r}"
            )
    else:
        if isinstance(source, str | os.PathLike):
            if _size(source) >= streaming_bytes():
                from handgrad.metrics.detection.streaming import read_results_streamed

                return _checked(read_results_streamed(source, gt, iou_type), gt)
            source = _read_json(source, "detections")
        if iou_type != "bbox" and not isinstance(source, list | tuple):
            raise TypeError(
                f"iou_type={iou_type!r} needs detections as a COCO result list or its JSON file; "
                f"got {type(source).__name__}"
            )
        if isinstance(source, list | tuple):
            dets, has_box = result_arrays(source, gt, iou_type)
            if iou_type != "bbox":
                assert gt is not None  # result_arrays checked it
                positions = np.arange(len(source))
                dets = result_payload(source, positions, dets, gt, iou_type, has_box)
        elif isinstance(source, np.ndarray):
            img, cat, box, score = _detections_from_array(source)
            bbox = _boxes(np.asarray(box, dtype=np.float64), where)
            scores = np.asarray(score, dtype=np.float64)
            if not np.isfinite(scores).all():
                i = int(np.flatnonzero(~np.isfinite(scores))[0])
                raise ValueError(f"detections[{i}] score must be finite; got {scores[i]}")
            dets = Detections(img, cat, bbox, scores)
        elif isinstance(source, Mapping):
            dets = _from_dict(source)
        else:
            raise TypeError(
                "detections must be a COCO result list, a JSON file path, an (N, 7) array or a "
                f"dict of arrays; got {type(source).__name__}"
            )
    return _checked(dets, gt)


def _checked(dets: Detections, gt: CocoGroundTruth | None) -> Detections:
    """``dets`` after checking that their images and categories are in ``gt``."""
    if gt is not None:
        _check_known(dets.image_id, gt.image_ids, "detections", "image_id", "images")
        _check_known(dets.category_id, gt.category_ids, "detections", "category_id", "categories")
    return dets


def _size(path: str | os.PathLike[str]) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0  # the reader names the file


def streaming_bytes() -> int:
    """Result files at least this large are read in blocks (:mod:`~.streaming`)."""
    from handgrad.metrics.detection import streaming

    return streaming.STREAM_BYTES


def _from_dict(source: Mapping[str, Any]) -> Detections:
    where = "detections"
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
            raise ValueError(f"detections['bbox'] must have shape ({n}, 4); got {box_col.shape}")
    elif box_col.dtype.kind == "O" or box_col.ndim == 2:  # names the first bad box
        box_col = _boxes(list(box_col), where)
    else:
        raise TypeError(
            f"detections['bbox'] must be an (N, 4) numeric array; got shape "
            f"{box_col.shape} and dtype {box_col.dtype}"
        )
    return Detections(
        _ids(img_col.tolist(), where, "image_id"),
        _ids(cat_col.tolist(), where, "category_id"),
        _boxes(box_col, where),
        _numbers(score_col.tolist(), where, "score"),
    )
