"""Parameters of COCO evaluation, named after pycocotools' ``Params`` in snake case.

=================  ==========================  =====================================================
handgrad           pycocotools                 default
=================  ==========================  =====================================================
``iou_thrs``       ``iouThrs``                 ``np.linspace(.5, .95, 10)`` (T = 10)
``rec_thrs``       ``recThrs``                 ``np.linspace(0, 1, 101)`` (R = 101)
``max_dets``       ``maxDets``                 ``[1, 10, 100]`` (sorted, as pycocotools sorts them)
``area_rng``       ``areaRng``                 ``[[0, 1e10], [0, 32**2], [32**2, 96**2], [96**2, 1e10]]``
``area_rng_lbl``   ``areaRngLbl``              ``["all", "small", "medium", "large"]``
``img_ids``        ``imgIds``                  every image of the ground truth (sorted, unique)
``cat_ids``        ``catIds``                  every category of the ground truth (sorted, unique)
``sigmas``         ``kpt_oks_sigmas``          COCO's 17 person sigmas (keypoints only)
=================  ==========================  =====================================================

With ``iou_type="keypoints"`` the defaults are pycocotools' keypoint ones: ``max_dets = [20]`` and
``area_rng`` all / medium / large (``[[0, 1e10], [32**2, 96**2], [96**2, 1e10]]``). ``sigmas``
is one sequence of per-keypoint sigmas for every category, or a dict ``{category_id: sigmas}``
(categories it leaves out get COCO's person sigmas).

The summary looks thresholds up by exact equality (``iouThr == iouThrs``), so a user grid built with
``np.arange(0.5, 0.96, 0.05)`` (whose 0.75 is 0.7500000000000001) silently loses AP75; a grid with a
value within 1e-9 of 0.5 or 0.75 but not equal to it raises a :class:`DetectionEvalWarning`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from handgrad._checks import as_array, as_int_array
from handgrad.metrics.detection.inputs import DetectionEvalWarning, check_iou_type
from handgrad.metrics.detection.keypoints import COCO_PERSON_SIGMAS

__all__ = ["CocoParams", "make_params"]

DEFAULT_IOU_THRS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
DEFAULT_REC_THRS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
DEFAULT_AREA_RNG = ((0.0**2, 1e5**2), (0.0**2, 32.0**2), (32.0**2, 96.0**2), (96.0**2, 1e5**2))
DEFAULT_AREA_LBL = ("all", "small", "medium", "large")
KEYPOINT_AREA_RNG = ((0.0**2, 1e5**2), (32.0**2, 96.0**2), (96.0**2, 1e5**2))
KEYPOINT_AREA_LBL = ("all", "medium", "large")


@dataclass(frozen=True)
class CocoParams:
    """Validated evaluation parameters (see the module docstring for their meaning).

    ``img_ids`` and ``cat_ids`` are sorted and unique (pycocotools' ``np.unique``); ``max_dets`` is
    sorted. ``iou_type`` is "bbox", "segm" or "keypoints"; ``sigmas`` holds, for keypoints, the
    per-keypoint sigmas of each category of ``cat_ids`` (empty otherwise).
    """

    iou_thrs: NDArray[np.float64]  # (T,)
    rec_thrs: NDArray[np.float64]  # (R,)
    max_dets: tuple[int, ...]  # (M,)
    area_rng: NDArray[np.float64]  # (A, 2)
    area_rng_lbl: tuple[str, ...]  # (A,)
    img_ids: NDArray[np.int64]  # (I,)
    cat_ids: NDArray[np.int64]  # (K,)
    iou_type: str = "bbox"
    sigmas: tuple[NDArray[np.float64], ...] = ()  # (K,) of (n_keypoints,) for keypoints

    def same_grid(self, other: CocoParams) -> bool:
        """True when everything but ``img_ids`` agrees (what merging states requires)."""
        return (
            np.array_equal(self.iou_thrs, other.iou_thrs)
            and np.array_equal(self.rec_thrs, other.rec_thrs)
            and self.max_dets == other.max_dets
            and np.array_equal(self.area_rng, other.area_rng)
            and self.area_rng_lbl == other.area_rng_lbl
            and np.array_equal(self.cat_ids, other.cat_ids)
            and self.iou_type == other.iou_type
            and len(self.sigmas) == len(other.sigmas)
            and all(np.array_equal(a, b) for a, b in zip(self.sigmas, other.sigmas, strict=True))
        )


def _real_array(value: Any, name: str, what: str) -> NDArray[np.float64]:
    """``value`` as float64, refusing what ``np.asarray(..., dtype=float)`` would convert
    silently (strings such as ``"0.5"``, bools) or fail on obscurely (ragged lists)."""
    arr = as_array(value, name, what)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be {what}; got {_shown(value)} (dtype {arr.dtype})")
    return arr.astype(np.float64, copy=False)


def _shown(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"[:120]


def _float_vector(value: Any, name: str) -> NDArray[np.float64]:
    """A non-empty vector of finite values in [0, 1] (a scalar counts as one value)."""
    arr = _real_array(value, name, "a sequence of numbers")
    if arr.ndim > 1:
        raise ValueError(f"{name} must be a 1-D sequence of numbers; got shape {arr.shape}")
    arr = arr.ravel()
    if arr.size == 0:
        raise ValueError(f"{name} must hold at least one value; got an empty sequence")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite; got {arr.tolist()}")
    if np.any((arr < 0) | (arr > 1)):
        raise ValueError(f"{name} must lie in [0, 1]; got {arr.tolist()}")
    return arr


def _id_vector(value: Any, name: str) -> NDArray[np.int64]:
    """Sorted unique int64 ids; Python ints beyond int64 raise ``ValueError`` showing them."""
    arr = as_array(value, name, "a sequence of integer ids")
    if arr.size and arr.dtype.kind not in "iuO":
        raise TypeError(f"{name} must be integer ids; got dtype {arr.dtype}")
    try:
        ids = as_int_array(arr, name)
    except TypeError:
        raise TypeError(f"{name} must be integer ids; got dtype {arr.dtype}") from None
    return np.unique(ids.ravel())


def _warn_iou_grid(iou_thrs: NDArray[np.float64]) -> None:
    """Warn for thresholds within 1e-9 of 0.5 or 0.75 (the values the summary looks up by
    exact equality) but not equal to them."""
    for target in (0.5, 0.75):
        near = iou_thrs[np.abs(iou_thrs - target) < 1e-9]
        if near.size and not np.any(near == target):
            warnings.warn(
                f"iou_thrs holds {near[0]!r}, which is not exactly {target}: the summary looks "
                f"thresholds up by exact equality, so AP{round(target * 100)} will be -1; build "
                "the grid with np.linspace(0.5, 0.95, 10) or round it",
                DetectionEvalWarning,
                stacklevel=4,
            )


# pycocotools' ``COCOeval.params`` attribute names, accepted as aliases of ours.
PYCOCOTOOLS_NAMES = {
    "iouThrs": "iou_thrs",
    "recThrs": "rec_thrs",
    "maxDets": "max_dets",
    "areaRng": "area_rng",
    "areaRngLbl": "area_rng_lbl",
    "imgIds": "img_ids",
    "catIds": "cat_ids",
    "kpt_oks_sigmas": "sigmas",
}
PARAM_NAMES = tuple(PYCOCOTOOLS_NAMES.values())  # (sigmas: keypoints only)


def _sigma_vector(value: Any, name: str) -> NDArray[np.float64]:
    arr = _real_array(value, name, "a sequence of positive numbers")
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence; got shape {arr.shape}")
    if not (np.isfinite(arr).all() and (arr > 0).all()):
        raise ValueError(f"{name} must be finite and positive; got {arr.tolist()}")
    return arr


def _sigmas(value: Any, cat_ids: NDArray[np.int64]) -> tuple[NDArray[np.float64], ...]:
    """Per-category sigmas aligned with ``cat_ids`` (see the module docstring)."""
    if value is None:
        return tuple(COCO_PERSON_SIGMAS.copy() for _ in cat_ids)
    if isinstance(value, dict):
        table = {}
        for key, v in value.items():
            if isinstance(key, bool) or not isinstance(key, int | np.integer):
                raise ValueError(f"sigmas keys must be category ids; got {key!r}")
            table[int(key)] = _sigma_vector(v, f"sigmas[{key!r}]")
        return tuple(table.get(int(c), COCO_PERSON_SIGMAS.copy()) for c in cat_ids)
    shared = _sigma_vector(value, "sigmas")
    return tuple(shared for _ in cat_ids)


def make_params(
    image_ids: NDArray[np.int64],
    category_ids: NDArray[np.int64],
    iou_type: str = "bbox",
    **overrides: Any,
) -> CocoParams:
    """Validated parameters with pycocotools' camelCase names accepted too (``iouThrs`` ...).

    Raises
    ------
    ValueError
        For an unknown parameter name (or one given under both spellings), listing the accepted
        names; pycocotools' ``useCats = 0`` mode is not offered.
    """
    named: dict[str, Any] = {}
    for key, value in overrides.items():
        name = PYCOCOTOOLS_NAMES.get(key, key)
        if name not in PARAM_NAMES:
            accepted = ", ".join(f"{n} ({c})" for c, n in PYCOCOTOOLS_NAMES.items())
            raise ValueError(f"unknown evaluation parameter {key!r}; accepted: {accepted}")
        if name in named:
            raise ValueError(f"evaluation parameter {name!r} given twice (as {key!r} too)")
        named[name] = value
    check_iou_type(iou_type)
    sigmas = named.pop("sigmas", None)
    if iou_type != "keypoints" and sigmas is not None:
        raise ValueError(f"sigmas apply to iou_type='keypoints' only; got iou_type={iou_type!r}")
    default_lbl: tuple[str, ...] = DEFAULT_AREA_LBL
    if iou_type == "keypoints":
        named.setdefault("max_dets", [20])
        named.setdefault("area_rng", KEYPOINT_AREA_RNG)
        default_lbl = KEYPOINT_AREA_LBL
    p = _validated_params(image_ids, category_ids, default_lbl=default_lbl, **named)
    if iou_type == "keypoints":
        return replace(p, iou_type=iou_type, sigmas=_sigmas(sigmas, p.cat_ids))
    return replace(p, iou_type=iou_type)


def _validated_params(
    image_ids: NDArray[np.int64],
    category_ids: NDArray[np.int64],
    *,
    iou_thrs: Any = None,
    rec_thrs: Any = None,
    max_dets: Sequence[int] | None = None,
    area_rng: Any = None,
    area_rng_lbl: Sequence[str] | None = None,
    img_ids: Any = None,
    cat_ids: Any = None,
    default_lbl: tuple[str, ...] = DEFAULT_AREA_LBL,
) -> CocoParams:
    """Validate user overrides and fill in pycocotools' defaults.

    ``area_rng`` may be a sequence of (min, max) pairs or a dict ``{label: (min, max)}``; with a
    sequence of other than four ranges, ``area_rng_lbl`` is required.
    """
    if iou_thrs is None:
        ious = DEFAULT_IOU_THRS.copy()
    else:
        ious = _float_vector(iou_thrs, "iou_thrs")
        _warn_iou_grid(ious)
    recs = DEFAULT_REC_THRS.copy() if rec_thrs is None else _float_vector(rec_thrs, "rec_thrs")
    if max_dets is None:
        dets: tuple[int, ...] = (1, 10, 100)
    else:
        raw: list[Any] = [max_dets] if np.isscalar(max_dets) else list(max_dets)
        if not raw or any(isinstance(m, bool) or not isinstance(m, int | np.integer) for m in raw):
            raise ValueError(f"max_dets must be a non-empty list of positive integers; got {raw}")
        ints = [int(m) for m in raw]
        if any(m < 1 for m in ints):
            raise ValueError(f"max_dets must be positive; got {ints}")
        dets = tuple(sorted(ints))
    if area_rng is None:
        rng = np.asarray(DEFAULT_AREA_RNG, dtype=np.float64)
        labels = DEFAULT_AREA_LBL if area_rng_lbl is None else tuple(area_rng_lbl)
    elif isinstance(area_rng, dict):
        labels = tuple(str(k) for k in area_rng)
        rng = _real_array(list(area_rng.values()), "area_rng", "(min, max) pairs of numbers")
    else:
        rng = _real_array(area_rng, "area_rng", "a list of (min, max) pairs of numbers")
        if area_rng_lbl is None:
            if len(rng) != len(default_lbl):
                raise ValueError(
                    f"area_rng_lbl is required when area_rng does not hold {len(default_lbl)} "
                    f"ranges; got {len(rng)} range(s)"
                )
            labels = default_lbl
        else:
            labels = tuple(area_rng_lbl)
    if rng.ndim != 2 or rng.shape[1] != 2 or rng.shape[0] == 0:
        raise ValueError(f"area_rng must be a list of (min, max) pairs; got shape {rng.shape}")
    if np.isnan(rng).any():
        raise ValueError(f"area_rng must not hold NaN; got {rng.tolist()}")
    if np.any(rng[:, 0] > rng[:, 1]):
        i = int(np.flatnonzero(rng[:, 0] > rng[:, 1])[0])
        raise ValueError(
            f"area_rng must hold (min, max) pairs with min <= max; got {rng[i].tolist()} at {i}"
        )
    if len(labels) != len(rng):
        raise ValueError(
            f"area_rng_lbl must name each of the {len(rng)} area ranges; got {list(labels)}"
        )
    imgs = np.unique(image_ids) if img_ids is None else _id_vector(img_ids, "img_ids")
    cats = np.unique(category_ids) if cat_ids is None else _id_vector(cat_ids, "cat_ids")
    return CocoParams(ious, recs, dets, rng, labels, imgs, cats)
