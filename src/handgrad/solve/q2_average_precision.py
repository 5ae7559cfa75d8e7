"""Q2. Precision, recall and 11-point interpolated average precision.

Ten ranked predictions, five true instances, hits at ranks 1, 2, 6, 7, 10. The rank table comes from
:func:`handgrad.metrics.precision_recall_at_ranks`, the 11-point table from the library's interpolated
precision, and AP under every definition from :func:`handgrad.metrics.average_precision`. Checks use
exact rational arithmetic (:class:`fractions.Fraction`): precision and recall at each rank, the
interpolated precision as a maximum over ranks, and each AP as its defining sum.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from handgrad.solve.model import Answer, Figure, check_close

if TYPE_CHECKING:
    from handgrad.metrics.ranking import Method

__all__ = ["N_POSITIVES", "RELEVANCE", "solve"]

TITLE = "Precision, recall and 11-point interpolated average precision"
RELEVANCE = (1, 1, 0, 0, 0, 1, 1, 0, 0, 1)  # the seed's ranked list: 1 = a true instance
N_POSITIVES = 5


def _exact_precision_recall(
    rel: tuple[int, ...], n_pos: int
) -> tuple[list[Fraction], list[Fraction]]:
    hits = np.cumsum(rel)
    precision = [Fraction(int(h), k + 1) for k, h in enumerate(hits)]
    recall = [Fraction(int(h), n_pos) for h in hits]
    return precision, recall


def _exact_interpolated(
    precision: list[Fraction], recall: list[Fraction], level: Fraction
) -> Fraction:
    """max precision over ranks with recall >= level (0 when no rank reaches it)."""
    return max(
        (p for p, r in zip(precision, recall, strict=True) if r >= level), default=Fraction(0)
    )


def solve(seed: int = 0, figures: bool = True) -> Answer:
    """Compute and check Q2 (deterministic; ``seed`` is unused)."""
    from handgrad.metrics import (
        average_precision,
        eleven_point_table,
        interpolated_precision,
        precision_recall_at_ranks,
    )

    a = Answer(2, TITLE)
    rel = np.array(RELEVANCE)  # (R,) relevance of each rank, best first
    R = rel.size
    precision, recall = (
        np.asarray(v, dtype=np.float64)
        for v in precision_recall_at_ranks(rel, n_positives=N_POSITIVES)
    )
    ex_p, ex_r = _exact_precision_recall(RELEVANCE, N_POSITIVES)
    a.text(
        f"{R} ranked predictions, {N_POSITIVES} true instances; hits at ranks "
        f"{', '.join(str(i + 1) for i in np.flatnonzero(rel))}."
    )
    a.table(
        "Precision and recall at each rank",
        ["rank", "relevant", "precision", "(exact)", "recall"],
        [
            [k + 1, int(rel[k]), float(precision[k]), str(ex_p[k]), float(recall[k])]
            for k in range(R)
        ],
        digits=4,
    )
    a.checks.append(
        check_close(
            "precision and recall at each rank",
            np.concatenate([precision, recall]),
            np.array([float(v) for v in ex_p + ex_r]),
            method="exact fractions hits/rank and hits/5",
            tolerance=1e-15,
        )
    )

    # 11-point interpolation.
    levels, interp = (
        np.asarray(v, dtype=np.float64) for v in eleven_point_table(rel, n_positives=N_POSITIVES)
    )  # (11,) recall levels and interpolated precision
    ex_levels = [Fraction(i, 10) for i in range(11)]
    ex_interp = [_exact_interpolated(ex_p, ex_r, lv) for lv in ex_levels]
    a.formula("Interpolated precision", "P_interp(r) = max { precision(k) : recall(k) >= r }")
    a.table(
        "The 11-point table",
        ["recall r", "P_interp(r)", "(exact)"],
        [[float(levels[i]), float(interp[i]), str(ex_interp[i])] for i in range(11)],
        digits=5,
    )
    a.checks.append(
        check_close(
            "interpolated precision at the 11 recall levels",
            interp,
            np.array([float(v) for v in ex_interp]),
            method="exact fractions: maximum over ranks with recall >= r",
            tolerance=1e-15,
        )
    )
    # Distinct descending scores reproduce the ranking.
    scores = np.arange(R, 0, -1, dtype=np.float64)  # (R,)
    ap11 = float(average_precision(rel, scores, method="voc07", n_positives=N_POSITIVES))
    ex_ap11 = sum(ex_interp, Fraction(0)) / 11
    # The seed's arithmetic: each interpolated precision rounded to two decimals before summing.
    seed_ap = sum(round(float(v), 2) for v in ex_interp) / 11
    rounded = sorted({v for v in ex_interp if round(float(v), 2) != v})
    shown = ", ".join(f"{v} -> {round(float(v), 2):g}" for v in rounded)
    a.text(
        f"AP_11pt = (1/11) sum_r P_interp(r) = {ex_ap11} = {float(ex_ap11):.5f}. The seed writes "
        f"0.752: with the interpolated precisions rounded to two decimals ({shown}) the sum gives "
        f"{seed_ap:.5f}, truncated to three decimals."
    )
    a.values["precision"] = precision
    a.values["recall"] = recall
    a.values["interpolated_precision_11"] = interp
    a.values["ap_11pt"] = ap11
    a.values["ap_11pt_exact"] = str(ex_ap11)
    a.checks.append(
        check_close(
            "AP, 11-point (voc07)",
            ap11,
            float(ex_ap11),
            method="exact fractions: mean of the 11 interpolated precisions",
            tolerance=1e-15,
        )
    )

    # The other definitions of AP for the same list.
    ex_step = sum((p for p, r in zip(ex_p, RELEVANCE, strict=True) if r), Fraction(0)) / N_POSITIVES
    # All-point interpolation: area under the envelope, one rectangle per recall step.
    ex_voc12 = Fraction(0)
    prev = Fraction(0)
    for k in range(R):
        if ex_r[k] > prev:
            ex_voc12 += (ex_r[k] - prev) * _exact_interpolated(ex_p, ex_r, ex_r[k])
            prev = ex_r[k]
    ex_coco = (
        sum((_exact_interpolated(ex_p, ex_r, Fraction(i, 100)) for i in range(101)), Fraction(0))
        / 101
    )
    definitions: list[tuple[Method, str, Fraction]] = [
        ("step", "sum over hits of precision at the hit / positives (scikit-learn)", ex_step),
        ("voc07", "mean of the 11 interpolated precisions at r = 0, 0.1, ..., 1", ex_ap11),
        ("voc12", "area under the interpolated envelope (all points)", ex_voc12),
        ("coco", "mean of 101 interpolated precisions at r = 0, 0.01, ..., 1", ex_coco),
    ]
    rows: list[list[str | int | float]] = []
    ours = []
    for method, meaning, exact in definitions:
        value = float(average_precision(rel, scores, method=method, n_positives=N_POSITIVES))
        ours.append(value)
        rows.append([method, value, str(exact), meaning])
        a.values[f"ap_{method}"] = value
    a.table(
        "AP of the same list under each definition",
        ["method", "AP", "(exact)", "definition"],
        rows,
        digits=5,
    )
    a.checks.append(
        check_close(
            "AP under step, voc07, voc12, coco",
            np.array(ours),
            np.array([float(d[2]) for d in definitions]),
            method="exact fractions: each definition's sum",
            tolerance=1e-15,
        )
    )
    if figures:
        from handgrad.solve.figures import precision_recall_figure

        envelope = np.asarray(interpolated_precision(precision, recall, recall), dtype=np.float64)
        a.figures.append(
            Figure(
                "precision-recall",
                "Precision-recall of the ranked list with its envelope",
                precision_recall_figure(recall, precision, envelope, levels, interp),
                "Blue: precision at each rank; orange: the interpolated envelope; red: the 11 points "
                "averaged by AP_11pt.",
            )
        )
    return a
