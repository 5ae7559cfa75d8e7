"""The result of a COCO evaluation: pycocotools' ``COCOeval.eval`` arrays and its summary.

Conventions (all pycocotools'): precision and scores have shape (T, R, K, A, M) and recall
(T, K, A, M), for T IoU thresholds, R recall levels, K categories, A area ranges and M max_dets;
an entry is -1 where the category has no ground truth that is not ignored, and the summary means
skip those entries, giving -1 when none is left. These -1 entries are kept so that the arrays are
drop-in equal to ``COCOeval.eval``; :attr:`CocoEvaluation.per_category_ap` uses NaN instead.

The summary (``COCOeval.summarize()``):

* ``bbox`` and ``segm``: 12 numbers, :data:`STAT_NAMES`. AR1/AR10/AR100 are at ``max_dets[0]``,
  ``max_dets[1]``, ``max_dets[2]``; AP50, AP75 and the per-area numbers at ``max_dets[2]``; AP at
  max_dets = 100 literally, so -1 when 100 is not among ``max_dets``.
* ``keypoints``: 10 numbers, :data:`KEYPOINT_STAT_NAMES`, every one at max_dets = 20 literally
  (pycocotools' ``_summarizeKps``), over the area ranges "all", "medium" and "large".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from handgrad.metrics.detection.params import CocoParams

__all__ = ["KEYPOINT_STAT_NAMES", "STAT_NAMES", "CocoEvaluation", "stat_names"]

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
KEYPOINT_STAT_NAMES = (
    "AP",
    "AP50",
    "AP75",
    "AP_medium",
    "AP_large",
    "AR",
    "AR50",
    "AR75",
    "AR_medium",
    "AR_large",
)

# (ap, iouThr, areaRng label, index into max_dets) of pycocotools' _summarizeDets; the first
# entry uses the literal default maxDets=100 of _summarize (None here), not max_dets[2]
_DETS: tuple[tuple[int, float | None, str, int | None], ...] = (
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
# (ap, iouThr, areaRng label) of _summarizeKps, all at maxDets=20
_KPS: tuple[tuple[int, float | None, str], ...] = (
    (1, None, "all"),
    (1, 0.5, "all"),
    (1, 0.75, "all"),
    (1, None, "medium"),
    (1, None, "large"),
    (0, None, "all"),
    (0, 0.5, "all"),
    (0, 0.75, "all"),
    (0, None, "medium"),
    (0, None, "large"),
)


def stat_names(iou_type: str) -> tuple[str, ...]:
    """The summary's keys for ``iou_type``."""
    return KEYPOINT_STAT_NAMES if iou_type == "keypoints" else STAT_NAMES


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

    def _rows(self) -> list[tuple[str, int, float | None, str, int]]:
        """(name, ap, iou_thr, area label, max_dets) of each summary number."""
        if self.params.iou_type == "keypoints":
            return [
                (name, ap, thr, area, 20)
                for name, (ap, thr, area) in zip(KEYPOINT_STAT_NAMES, _KPS, strict=True)
            ]
        md = self.params.max_dets
        if len(md) < 3:
            raise ValueError(
                f"the COCO summary needs at least three max_dets (it reads max_dets[2]); got {md}"
            )
        return [
            (name, ap, thr, area, 100 if mi is None else md[mi])
            for name, (ap, thr, area, mi) in zip(STAT_NAMES, _DETS, strict=True)
        ]

    @property
    def stats(self) -> dict[str, float]:
        """The numbers of ``COCOeval.summarize()`` (keys: :func:`stat_names` of the iou_type).

        Raises ``ValueError`` for boxes and masks with fewer than three ``max_dets``
        (pycocotools indexes ``maxDets[2]``).
        """
        return {
            name: self._summarize(ap, thr, area, md) for name, ap, thr, area, md in self._rows()
        }

    def summary_lines(self) -> list[str]:
        """The lines pycocotools' ``summarize()`` prints, formatted the same way."""
        p = self.params
        form = " {:<18} {} @[ IoU={:<9} | area={:>6s} | maxDets={:>3d} ] = {:0.3f}"
        lines = []
        for _, ap, thr, area, md in self._rows():
            title = "Average Precision" if ap == 1 else "Average Recall"
            kind = "(AP)" if ap == 1 else "(AR)"
            iou = f"{p.iou_thrs[0]:0.2f}:{p.iou_thrs[-1]:0.2f}" if thr is None else f"{thr:0.2f}"
            lines.append(
                form.format(title, kind, iou, area, md, self._summarize(ap, thr, area, md))
            )
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
