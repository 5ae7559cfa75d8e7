"""Reading a large COCO result file in bounded memory.

``json.load`` of a result file holds every result as a Python dict (about 500 bytes for a box
result, so 2.5 GB for LVIS' 5 million), before any of it becomes an array. Here the file is read
in blocks of :data:`BLOCK_CHARS` characters; the JSON decoder parses one result at a time from
the block, and every :data:`BATCH` results are validated and turned into the flat arrays of
:class:`~.detections.Detections` (56 bytes per box result), then dropped. Errors name the result
by its index in the file, as for a result list in memory.

:func:`~.detections.load_detections` reads files of :data:`STREAM_BYTES` or more this way.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from typing import Any

import numpy as np

from handgrad.metrics.detection.detections import Detections, result_arrays, result_payload
from handgrad.metrics.detection.inputs import CocoGroundTruth
from handgrad.metrics.detection.keypoints import Keypoints
from handgrad.metrics.detection.segmentation import concat_masks

__all__ = ["BATCH", "BLOCK_CHARS", "STREAM_BYTES", "read_results_streamed", "result_batches"]

STREAM_BYTES = 1 << 28  # files at least this large are streamed
BLOCK_CHARS = 1 << 24  # characters read at a time
BATCH = 100_000  # results turned into arrays at a time
_SPACE = re.compile(r"[ \t\n\r]*")
_INDEX = re.compile(r"^detections\[(\d+)\]")


def _bad_json(path: str, message: str) -> ValueError:
    return ValueError(f"detections: {path!r} is not valid JSON ({message})")


def result_batches(path: str | os.PathLike[str]) -> Iterator[tuple[int, list[Any]]]:
    """(index of the first result, up to :data:`BATCH` results) for a JSON array of results."""
    shown = os.fspath(path)
    decoder = json.JSONDecoder()
    try:
        f = open(path, encoding="utf-8")  # closed by the with below
    except OSError as exc:
        raise ValueError(f"detections: cannot read file {shown!r} ({exc})") from None
    with f:
        buf, pos, eof = "", 0, False

        def more() -> bool:
            """Append the next block; False at the end of the file."""
            nonlocal buf, pos, eof
            block = f.read(BLOCK_CHARS)
            eof = not block
            buf, pos = buf[pos:] + block, 0
            return not eof

        def skip() -> None:
            nonlocal pos
            while True:
                pos = _SPACE.match(buf, pos).end()  # type: ignore[union-attr]
                if pos < len(buf) or not more():
                    return

        more()
        skip()
        if buf[pos : pos + 1] != "[":
            raise _bad_json(shown, "a result file is a JSON array of results")
        pos += 1
        batch: list[Any] = []
        first = 0
        skip()
        if buf[pos : pos + 1] == "]":
            return
        while True:
            while True:  # parse one result, reading on while it runs past the block
                try:
                    obj, end = decoder.raw_decode(buf, pos)
                    if end < len(buf) or eof:  # a number at the end of a block may go on
                        break
                except json.JSONDecodeError as exc:
                    if eof:
                        raise _bad_json(shown, str(exc)) from None
                more()
            batch.append(obj)
            pos = end
            skip()
            sep = buf[pos : pos + 1]
            pos += 1
            if len(batch) == BATCH or sep == "]":
                yield first, batch
                first, batch = first + len(batch), []
            if sep == "]":
                return
            if sep != ",":
                raise _bad_json(shown, f"expected ',' or ']' after result {first + len(batch)}")
            skip()


def _shifted(exc: Exception, offset: int) -> Exception:
    """The same error with ``detections[i]`` renamed ``detections[offset + i]``."""
    text = _INDEX.sub(lambda m: f"detections[{int(m.group(1)) + offset}]", str(exc), count=1)
    return type(exc)(text)


def _concat(parts: list[Detections]) -> Detections:
    def cat(name: str) -> Any:
        values = [getattr(p, name) for p in parts]
        return None if any(v is None for v in values) else np.concatenate(values)

    masks = [p.masks for p in parts if p.masks is not None]
    kps = [p.keypoints for p in parts if p.keypoints is not None]
    keypoints = None
    if len(kps) == len(parts):
        shift = np.cumsum([0, *[k.values.size for k in kps[:-1]]])
        offsets = [np.zeros(1, dtype=np.int64)]
        offsets += [k.offsets[1:] + s for k, s in zip(kps, shift, strict=True)]
        keypoints = Keypoints(np.concatenate([k.values for k in kps]), np.concatenate(offsets))
    return Detections(
        cat("image_id"),
        cat("category_id"),
        np.concatenate([p.bbox for p in parts]),
        cat("score"),
        cat("area"),
        concat_masks(masks) if len(masks) == len(parts) else None,
        keypoints,
    )


def read_results_streamed(
    path: str | os.PathLike[str], gt: CocoGroundTruth | None, iou_type: str
) -> Detections:
    """Detections of a result file read in blocks (see the module docstring)."""
    parts: list[Detections] = []
    has_box: bool | None = None  # pycocotools asks the file's first result
    for first, batch in result_batches(path):
        try:
            arrays, has_box = result_arrays(batch, gt, iou_type, has_box)
        except (ValueError, TypeError) as exc:
            raise _shifted(exc, first) from None
        if iou_type != "bbox":
            assert gt is not None  # result_arrays checked it
            positions = np.arange(first, first + len(batch))
            arrays = result_payload(batch, positions, arrays, gt, iou_type, has_box)
        parts.append(arrays)
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return Detections(empty, empty, np.zeros((0, 4)), np.zeros(0))
    return _concat(parts)
