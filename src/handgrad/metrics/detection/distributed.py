"""COCO evaluation on a Dask cluster: image shards matched on the workers, merged on the client.

:func:`coco_evaluate_dask` loads and validates the ground truth and the results' ids, scores and
boxes on the client, sends the ground truth to every worker once, splits the images into shards
and sends each worker the results of its shard (masks and keypoints are decoded there, errors
still naming the result's index in the file). Each worker returns the mergeable state of its
shard (:mod:`~.state`); the client merges them (:func:`~.state.merge_states`) and accumulates.
Matching only couples detections and boxes of one image, so the result is bit for bit the
single-process one. Warnings raised on the workers are shown once on the client.

Needs ``dask[distributed]`` (``pip install 'handgrad[dask]'``); :func:`dask_client` connects to
a scheduler by address with a timeout and a clear error.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from handgrad._dask import DASK_INSTALL, dask_available, dask_client
from handgrad.metrics.detection.accumulate import accumulate
from handgrad.metrics.detection.detections import (
    Detections,
    load_detections,
    result_arrays,
    result_payload,
)
from handgrad.metrics.detection.evaluation import CocoEvaluation
from handgrad.metrics.detection.inputs import (
    CocoGroundTruth,
    _read_json,
    check_iou_type,
    load_coco_ground_truth,
)
from handgrad.metrics.detection.params import CocoParams, make_params
from handgrad.metrics.detection.state import CocoEvalState, build_state, merge_states

__all__ = ["DASK_INSTALL", "coco_evaluate_dask", "dask_available", "dask_client"]


def _shard_state(
    gt: CocoGroundTruth,
    dets: Detections,
    raw: Sequence[Any] | None,
    positions: NDArray[np.int64],
    has_box: bool,
    params: CocoParams,
) -> tuple[CocoEvalState, list[tuple[str, type[Warning]]]]:
    """On a worker: the state of one shard, and the warnings raised on the way."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if raw is not None:
            dets = result_payload(raw, positions, dets, gt, params.iou_type, has_box)
        state = build_state(gt, dets, params)
    return state, [(str(w.message), w.category) for w in caught]


def _load(
    detections: Any, gt: CocoGroundTruth, iou_type: str
) -> tuple[Detections, Sequence[Any] | None, bool]:
    """Validated ids / scores / boxes; for masks and keypoints, also the raw results that the
    workers decode."""
    if iou_type == "bbox":  # arrays only (a large file is read in blocks)
        return load_detections(detections, gt), None, True
    if isinstance(detections, str | os.PathLike):
        detections = _read_json(detections, "detections")
    if not isinstance(detections, list | tuple):
        return load_detections(detections, gt, iou_type=iou_type), None, True
    arrays, has_box = result_arrays(detections, gt, iou_type)
    return load_detections(arrays, gt), detections, has_box


def coco_evaluate_dask(
    client: Any,
    coco_gt: Any,
    detections: Any,
    *,
    iou_type: str = "bbox",
    n_shards: int | None = None,
    **params: Any,
) -> CocoEvaluation:
    """COCO evaluation with the image shards matched on the workers of ``client``.

    Parameters
    ----------
    client : distributed.Client
        A connected Dask client (see :func:`dask_client`).
    coco_gt, detections, iou_type, **params
        As :func:`~.coco.coco_evaluation` (paths are read on the client).
    n_shards : int, optional
        Number of image shards (default: twice the number of workers, at least 1).

    Returns
    -------
    CocoEvaluation
        Equal bit for bit to ``coco_evaluation(coco_gt, detections, iou_type=..., **params)``.
    """
    check_iou_type(iou_type)
    gt = load_coco_ground_truth(coco_gt, iou_type=iou_type)
    dets, raw, has_box = _load(detections, gt, iou_type)
    p = make_params(gt.image_ids, gt.category_ids, iou_type, **params)
    if n_shards is None:
        n_shards = 2 * max(len(client.scheduler_info().get("workers", {})), 1)
    if isinstance(n_shards, bool) or not isinstance(n_shards, int) or n_shards < 1:
        raise ValueError(f"n_shards must be a positive integer; got {n_shards!r}")
    shards = np.array_split(p.img_ids, min(n_shards, max(p.img_ids.size, 1)))
    gt_future = client.scatter(gt, broadcast=True)
    order = np.argsort(dets.image_id, kind="stable")  # (N,) detections grouped by image
    sorted_img = dets.image_id[order]
    futures = []
    for ids in shards:  # contiguous runs of the sorted image ids
        lo = np.searchsorted(sorted_img, ids[:1], side="left").sum()
        hi = np.searchsorted(sorted_img, ids[-1:], side="right").sum()
        rows = np.sort(order[lo:hi])  # the shard's detections, in input order
        rows = rows[np.isin(dets.image_id[rows], ids)]
        shard = dets.take(rows)
        shard_raw = None if raw is None else [raw[i] for i in rows]
        shard_p = replace(p, img_ids=ids)
        futures.append(
            client.submit(_shard_state, gt_future, shard, shard_raw, rows, has_box, shard_p)
        )
    results = client.gather(futures)
    seen = set()
    for _, caught in results:
        for message, category in caught:
            if message not in seen:
                seen.add(message)
                warnings.warn(message, category, stacklevel=2)
    return accumulate(merge_states([state for state, _ in results]))
