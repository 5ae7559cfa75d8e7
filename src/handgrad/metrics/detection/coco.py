"""COCO bounding-box evaluation equal to pycocotools' ``COCOeval(iouType="bbox")``.

``coco_evaluate(coco_gt, detections, **params)`` returns the 12 summary numbers of
``COCOeval.summarize()`` under "AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large", "AR1",
"AR10", "AR100", "AR_small", "AR_medium", "AR_large" (AR1/AR10/AR100 are at ``max_dets[0]``,
``max_dets[1]``, ``max_dets[2]``; AP50, AP75 and the per-area numbers at ``max_dets[2]``, and AP at
max_dets = 100 literally, so -1 when 100 is not among ``max_dets``: all as pycocotools).
``coco_evaluation`` returns a :class:`CocoEvaluation` with the full arrays; ``coco_eval_state``
returns the mergeable per-image state (see :mod:`handgrad.metrics.detection.state`).

Conventions (all pycocotools'): precision and scores have shape (T, R, K, A, M) and recall
(T, K, A, M), for T IoU thresholds, R recall levels, K categories, A area ranges and M max_dets;
an entry is -1 where the category has no ground truth that is not ignored, and the summary means
skip those entries, giving -1 when none is left. These -1 entries are kept so that the arrays are
drop-in equal to ``COCOeval.eval``; :attr:`CocoEvaluation.per_category_ap` uses NaN instead.

Differences: an empty detection list is accepted (pycocotools crashes): every defined AP and AR is
0. Malformed inputs, and detections naming images or categories the ground truth does not list,
raise ``ValueError`` instead of being dropped or asserting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from handgrad.metrics.detection.accumulate import accumulate
from handgrad.metrics.detection.inputs import load_coco_ground_truth, load_detections
from handgrad.metrics.detection.params import CocoParams, make_params
from handgrad.metrics.detection.state import CocoEvalState, build_state

__all__ = [
    "STAT_NAMES",
    "CocoEvaluation",
    "coco_eval_state",
    "coco_evaluate",
    "coco_evaluation",
]

STAT_NAMES = (
    "AP",
    "AP50",
    "AP75",
    "AP_small",
    "AP_medium",
    "AP_large",
    "AR1",
    "AR10",
    "AR100",
    "AR_small",
    "AR_medium",
    "AR_large",
)

# (ap, iouThr, areaRng label, index into max_dets) of pycocotools' _summarizeDets; the first
# entry uses the literal default maxDets=100 of _summarize (None here), not max_dets[2]
_SUMMARY: tuple[tuple[int, float | None, str, int | None], ...] = (
    (1, None, "all", None),
    (1, 0.5, "all", 2),
    (1, 0.75, "all", 2),
    (1, None, "small", 2),
    (1, None, "medium", 2),
    (1, None, "large", 2),
    (0, None, "all", 0),
    (0, None, "all", 1),
    (0, None, "all", 2),
    (0, None, "small", 2),
    (0, None, "medium", 2),
    (0, None, "large", 2),
)


@dataclass(frozen=True)
class CocoEvaluation:
    """Result of a COCO evaluation: pycocotools' ``COCOeval.eval`` arrays and summary.

    Attributes
    ----------
    params : CocoParams
    precision : (T, R, K, A, M) float64
        Interpolated precision at recall level ``rec_thrs[r]``; -1 where undefined.
    recall : (T, K, A, M) float64
        Recall reached with all kept detections; -1 where undefined.
    scores : (T, R, K, A, M) float64
        Score of the detection where each precision value is read; -1 where undefined.
    """

    params: CocoParams
    precision: NDArray[np.float64]
    recall: NDArray[np.float64]
    scores: NDArray[np.float64]

    @classmethod
    def from_state(cls, state: CocoEvalState) -> CocoEvaluation:
        precision, recall, scores = accumulate(state)
        return cls(state.params, precision, recall, scores)

    def _summarize(self, ap: int, iou_thr: float | None, area: str, max_dets: int) -> float:
        """pycocotools' ``_summarize``: mean of the entries > -1, or -1 if there is none."""
        p = self.params
        aind = [i for i, lbl in enumerate(p.area_rng_lbl) if lbl == area]
        mind = [i for i, m in enumerate(p.max_dets) if m == max_dets]
        if ap == 1:
            s = self.precision
            if iou_thr is not None:
                s = s[np.where(iou_thr == p.iou_thrs)[0]]
            s = s[:, :, :, aind, mind]
        else:
            s = self.recall
            if iou_thr is not None:
                s = s[np.where(iou_thr == p.iou_thrs)[0]]
            s = s[:, :, aind, mind]
        kept = s[s > -1]
        return -1.0 if kept.size == 0 else float(np.mean(kept))

    @property
    def stats(self) -> dict[str, float]:
        """The 12 numbers of ``COCOeval.summarize()`` (keys: :data:`STAT_NAMES`).

        Raises ``ValueError`` with fewer than three ``max_dets`` (pycocotools indexes
        ``maxDets[2]``).
        """
        md = self.params.max_dets
        if len(md) < 3:
            raise ValueError(
                f"the COCO summary needs at least three max_dets (it reads max_dets[2]); got {md}"
            )
        out = {}
        for name, (ap, thr, area, mi) in zip(STAT_NAMES, _SUMMARY, strict=True):
            out[name] = self._summarize(ap, thr, area, 100 if mi is None else md[mi])
        return out

    def summary_lines(self) -> list[str]:
        """The 12 lines pycocotools' ``summarize()`` prints, formatted the same way."""
        p, stats = self.params, self.stats
        form = " {:<18} {} @[ IoU={:<9} | area={:>6s} | maxDets={:>3d} ] = {:0.3f}"
        lines = []
        for name, (ap, thr, area, mi) in zip(STAT_NAMES, _SUMMARY, strict=True):
            title = "Average Precision" if ap == 1 else "Average Recall"
            kind = "(AP)" if ap == 1 else "(AR)"
            iou = f"{p.iou_thrs[0]:0.2f}:{p.iou_thrs[-1]:0.2f}" if thr is None else f"{thr:0.2f}"
            md = 100 if mi is None else p.max_dets[mi]
            lines.append(form.format(title, kind, iou, area, md, stats[name]))
        return lines

    @property
    def per_category_ap(self) -> NDArray[np.float64]:
        """(K,) AP of each category of ``params.cat_ids``: mean of precision[:, :, k, 0, -1] over
        its defined entries (first area range, largest max_dets), NaN when it has none."""
        s = self.precision[:, :, :, 0, -1]  # (T, R, K)
        defined = s > -1
        total = np.where(defined, s, 0.0).sum(axis=(0, 1))
        n = defined.sum(axis=(0, 1))
        return np.divide(total, n, out=np.full(total.shape, np.nan), where=n > 0)

    def per_category_at(self, iou_thr: float) -> NDArray[np.float64]:
        """(K,) AP of each category at one IoU threshold (exact match in ``iou_thrs``)."""
        t = np.flatnonzero(self.params.iou_thrs == iou_thr)
        if t.size == 0:
            raise ValueError(
                f"iou_thr must be one of iou_thrs {self.params.iou_thrs.tolist()}; got {iou_thr}"
            )
        s = self.precision[t[0], :, :, 0, -1]  # (R, K)
        defined = s > -1
        total = np.where(defined, s, 0.0).sum(axis=0)
        n = defined.sum(axis=0)
        return np.divide(total, n, out=np.full(total.shape, np.nan), where=n > 0)


def coco_eval_state(
    coco_gt: Any,
    detections: Any,
    *,
    progress: Callable[[str, float], None] | None = None,
    **params: Any,
) -> CocoEvalState:
    """Match detections to ground truth and return the mergeable state (pycocotools' evaluate).

    Parameters
    ----------
    coco_gt : dict, path or CocoGroundTruth
        COCO ground truth.
    detections : list of dict, path, (N, 7) array, dict of arrays or Detections
        See :mod:`handgrad.metrics.detection.inputs`.
    progress : callable, optional
        Called as ``progress(stage, fraction)`` while matching; the CLI draws a progress bar.
    **params
        Overrides of :class:`CocoParams`: ``iou_thrs``, ``rec_thrs``, ``max_dets``, ``area_rng``,
        ``area_rng_lbl``, ``img_ids``, ``cat_ids``. Shard a big evaluation with ``img_ids``.

    Examples
    --------
    Split an evaluation by images (across processes or cluster workers), then merge; the
    result equals the single pass exactly::

        shards = np.array_split(np.unique(image_ids), 8)
        parts = [coco_eval_state(gt, dets, img_ids=ids) for ids in shards]
        stats = merge_states(parts).accumulate().stats  # == coco_evaluate(gt, dets)
    """
    gt = load_coco_ground_truth(coco_gt)
    dets = load_detections(detections, gt)
    p = make_params(gt.image_ids, gt.category_ids, **params)
    return build_state(gt, dets, p, progress)


def coco_evaluation(
    coco_gt: Any,
    detections: Any,
    *,
    progress: Callable[[str, float], None] | None = None,
    **params: Any,
) -> CocoEvaluation:
    """COCO bounding-box evaluation with the full precision / recall / scores arrays.

    Same arguments as :func:`coco_eval_state`. Equal to pycocotools' ``evaluate()`` and
    ``accumulate()`` (the arrays of ``COCOeval.eval``) on every input pycocotools accepts.
    """
    state = coco_eval_state(coco_gt, detections, progress=progress, **params)
    return state.accumulate()


def coco_evaluate(
    coco_gt: Any,
    detections: Any,
    *,
    progress: Callable[[str, float], None] | None = None,
    **params: Any,
) -> dict[str, float]:
    """The 12 COCO bounding-box summary numbers, equal to pycocotools' ``COCOeval.stats``.

    Parameters
    ----------
    coco_gt : dict, path or CocoGroundTruth
        COCO ground truth (``images``, ``categories``, ``annotations`` with ``id``, ``image_id``,
        ``category_id``, ``bbox`` = [x, y, w, h], ``area``, optional ``iscrowd``).
    detections : list of dict, path, (N, 7) array, dict of arrays or Detections
        Detections (``image_id``, ``category_id``, ``bbox``, ``score``); may be empty.
    progress : callable, optional
        ``progress(stage, fraction)`` callback.
    **params
        ``iou_thrs``, ``rec_thrs``, ``max_dets``, ``area_rng``, ``area_rng_lbl``, ``img_ids``,
        ``cat_ids`` (pycocotools' ``Params`` in snake case).

    Returns
    -------
    dict
        "AP" (mean over IoU thresholds, recall levels and categories of the interpolated
        precision :math:`p(r) = \\max_{r' \\ge r} P(r')`), "AP50", "AP75", "AP_small",
        "AP_medium", "AP_large", "AR1", "AR10", "AR100", "AR_small", "AR_medium", "AR_large";
        -1 where nothing is defined, as pycocotools.

    Warns
    -----
    DetectionEvalWarning
        Annotation id 0, more boxes in an (image, category) than ``max(max_dets)``, repeated
        annotation ids, IoU thresholds that are not exactly the grid values.

    References
    ----------
    Lin et al., "Microsoft COCO: Common Objects in Context", ECCV 2014; pycocotools'
    ``cocoeval.py``.
    """
    return coco_evaluation(coco_gt, detections, progress=progress, **params).stats
