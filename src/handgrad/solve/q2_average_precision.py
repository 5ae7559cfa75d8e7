"""Q2. Precision, recall and 11-point interpolated average precision.

Ten ranked predictions, five true instances, hits at ranks 1, 2, 6, 7, 10. The rank table comes from
:func:`handgrad.metrics.precision_recall_at_ranks`, the 11-point table from the library's interpolated
precision, and AP under every definition from :func:`handgrad.metrics.average_precision`. Checks use
exact rational arithmetic (:class:`fractions.Fraction`): precision and recall at each rank, the
interpolated precision as a maximum over ranks, and each AP as its defining sum.

:func:`compute` evaluates the library and the exact fractions, :func:`checks` compares them,
:func:`render` writes the answer; :func:`solve` runs the three.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from handgrad import metrics
from handgrad.metrics.ranking import Method
from handgrad.solve.figures import precision_recall_figure
from handgrad.solve.model import Answer, Check, Figure, FloatArray, IntArray, check_close

__all__ = [
    "METHODS",
    "N_POSITIVES",
    "RELEVANCE",
    "Q2Result",
    "checks",
    "compute",
    "render",
    "solve",
]

TITLE = "Precision, recall and 11-point interpolated average precision"
RELEVANCE = (1, 1, 0, 0, 0, 1, 1, 0, 0, 1)  # the seed's ranked list: 1 = a true instance
N_POSITIVES = 5
METHODS: dict[Method, str] = {  # the definitions of AP, each with its meaning
    "step": "sum over hits of precision at the hit / positives (scikit-learn)",
    "voc07": "mean of the 11 interpolated precisions at r = 0, 0.1, ..., 1",
    "voc12": "area under the interpolated envelope (all points)",
    "coco": "mean of 101 interpolated precisions at r = 0, 0.01, ..., 1",
}


@dataclass(frozen=True)
class Q2Result:
    """The library's answers for the ranked list (R = 10 ranks) and the same in exact fractions."""

    relevance: IntArray  # (R,) 1 where the rank holds a true instance, best rank first
    precision: FloatArray  # (R,) hits / rank, metrics.precision_recall_at_ranks
    recall: FloatArray  # (R,) hits / N_POSITIVES
    levels: FloatArray  # (11,) recall levels 0, 0.1, ..., 1, metrics.eleven_point_table
    interpolated: FloatArray  # (11,) interpolated precision at the levels
    envelope: FloatArray  # (R,) interpolated precision at each rank's recall (the figure)
    ap: dict[Method, float]  # metrics.average_precision under each of METHODS
    exact_precision: tuple[Fraction, ...]  # (R,)
    exact_recall: tuple[Fraction, ...]  # (R,)
    exact_interpolated: tuple[Fraction, ...]  # (11,) at r = 0, 1/10, ..., 1
    exact_ap: dict[Method, Fraction]  # each definition's sum


def _exact_interpolated(
    precision: tuple[Fraction, ...], recall: tuple[Fraction, ...], level: Fraction
) -> Fraction:
    """max precision over ranks with recall >= level (0 when no rank reaches it)."""
    return max(
        (p for p, r in zip(precision, recall, strict=True) if r >= level), default=Fraction(0)
    )


def _exact(rel: tuple[int, ...], n_pos: int) -> dict[str, tuple[Fraction, ...]]:
    """Precision, recall at each rank and the interpolated precision at the 11 levels, exactly."""
    hits = np.cumsum(rel)  # (R,)
    precision = tuple(Fraction(int(h), k + 1) for k, h in enumerate(hits))
    recall = tuple(Fraction(int(h), n_pos) for h in hits)
    levels = [Fraction(i, 10) for i in range(11)]
    interpolated = tuple(_exact_interpolated(precision, recall, lv) for lv in levels)
    return {"precision": precision, "recall": recall, "interpolated": interpolated}


def _exact_ap(
    rel: tuple[int, ...], precision: tuple[Fraction, ...], recall: tuple[Fraction, ...]
) -> dict[Method, Fraction]:
    """AP under each definition as its defining sum, in fractions."""
    n_pos = N_POSITIVES
    step = sum((p for p, r in zip(precision, rel, strict=True) if r), Fraction(0)) / n_pos
    eleven = [_exact_interpolated(precision, recall, Fraction(i, 10)) for i in range(11)]
    # All-point interpolation: area under the envelope, one rectangle per recall step.
    voc12 = Fraction(0)
    prev = Fraction(0)
    for r in recall:
        if r > prev:
            voc12 += (r - prev) * _exact_interpolated(precision, recall, r)
            prev = r
    points = (_exact_interpolated(precision, recall, Fraction(i, 100)) for i in range(101))
    coco = sum(points, Fraction(0)) / 101
    return {"step": step, "voc07": sum(eleven, Fraction(0)) / 11, "voc12": voc12, "coco": coco}


def compute(seed: int = 0) -> Q2Result:
    """The library's tables and APs, and the exact fractions (deterministic; ``seed`` is unused)."""
    rel = np.array(RELEVANCE)  # (R,) relevance of each rank, best first
    R = rel.size
    precision, recall = (
        np.asarray(v, dtype=np.float64)
        for v in metrics.precision_recall_at_ranks(rel, n_positives=N_POSITIVES)
    )
    levels, interpolated = (
        np.asarray(v, dtype=np.float64)
        for v in metrics.eleven_point_table(rel, n_positives=N_POSITIVES)
    )  # (11,) recall levels and interpolated precision
    scores = np.arange(R, 0, -1, dtype=np.float64)  # (R,) distinct descending scores: the ranking
    exact = _exact(RELEVANCE, N_POSITIVES)
    return Q2Result(
        relevance=rel,
        precision=precision,
        recall=recall,
        levels=levels,
        interpolated=interpolated,
        envelope=np.asarray(
            metrics.interpolated_precision(precision, recall, recall), dtype=np.float64
        ),
        ap={
            m: float(metrics.average_precision(rel, scores, method=m, n_positives=N_POSITIVES))
            for m in METHODS
        },
        exact_precision=exact["precision"],
        exact_recall=exact["recall"],
        exact_interpolated=exact["interpolated"],
        exact_ap=_exact_ap(RELEVANCE, exact["precision"], exact["recall"]),
    )


def _floats(values: tuple[Fraction, ...]) -> FloatArray:
    return np.array([float(v) for v in values])


def checks(r: Q2Result) -> list[Check]:
    """Each library answer against its exact fraction."""
    return [
        check_close(
            "precision and recall at each rank",
            np.concatenate([r.precision, r.recall]),
            _floats(r.exact_precision + r.exact_recall),
            method="exact fractions hits/rank and hits/5",
            tolerance=1e-15,
        ),
        check_close(
            "interpolated precision at the 11 recall levels",
            r.interpolated,
            _floats(r.exact_interpolated),
            method="exact fractions: maximum over ranks with recall >= r",
            tolerance=1e-15,
        ),
        check_close(
            "AP, 11-point (voc07)",
            r.ap["voc07"],
            float(r.exact_ap["voc07"]),
            method="exact fractions: mean of the 11 interpolated precisions",
            tolerance=1e-15,
        ),
        check_close(
            "AP under step, voc07, voc12, coco",
            np.array([r.ap[m] for m in METHODS]),
            np.array([float(r.exact_ap[m]) for m in METHODS]),
            method="exact fractions: each definition's sum",
            tolerance=1e-15,
        ),
    ]


def render(r: Q2Result, checked: list[Check], figures: bool) -> Answer:
    """The rank table, the 11-point table, the seed's rounding, every AP, and the figure."""
    a = Answer(2, TITLE)
    rel, R = r.relevance, r.relevance.size
    a.text(
        f"{R} ranked predictions, {N_POSITIVES} true instances; hits at ranks "
        f"{', '.join(str(i + 1) for i in np.flatnonzero(rel))}."
    )
    a.table(
        "Precision and recall at each rank",
        ["rank", "relevant", "precision", "(exact)", "recall"],
        [
            [
                k + 1,
                int(rel[k]),
                float(r.precision[k]),
                str(r.exact_precision[k]),
                float(r.recall[k]),
            ]
            for k in range(R)
        ],
        digits=4,
    )
    a.formula(
        "Interpolated precision",
        "P_interp(r) = max { precision(k) : recall(k) >= r }",
        r"$P_{\mathrm{interp}}(r) = \max \{ \mathrm{precision}(k) : \mathrm{recall}(k) \ge r \}$",
    )
    ex_interp = r.exact_interpolated
    a.table(
        "The 11-point table",
        ["recall r", "P_interp(r)", "(exact)"],
        [[float(r.levels[i]), float(r.interpolated[i]), str(ex_interp[i])] for i in range(11)],
        digits=5,
    )
    ex_ap11 = r.exact_ap["voc07"]
    # The seed's arithmetic: each interpolated precision rounded to two decimals before summing.
    seed_ap = sum(round(float(v), 2) for v in ex_interp) / 11
    rounded = sorted({v for v in ex_interp if round(float(v), 2) != v})
    shown = ", ".join(f"{v} -> {round(float(v), 2):g}" for v in rounded)
    a.text(
        f"AP_11pt = (1/11) sum_r P_interp(r) = {ex_ap11} = {float(ex_ap11):.5f}. The seed writes "
        f"0.752: with the interpolated precisions rounded to two decimals ({shown}) the sum gives "
        f"{seed_ap:.5f}, truncated to three decimals."
    )
    a.values["precision"] = r.precision
    a.values["recall"] = r.recall
    a.values["interpolated_precision_11"] = r.interpolated
    a.values["ap_11pt"] = r.ap["voc07"]
    a.values["ap_11pt_exact"] = str(ex_ap11)
    for method in METHODS:
        a.values[f"ap_{method}"] = r.ap[method]
    a.table(
        "AP of the same list under each definition",
        ["method", "AP", "(exact)", "definition"],
        [[m, r.ap[m], str(r.exact_ap[m]), meaning] for m, meaning in METHODS.items()],
        digits=5,
    )
    a.checks.extend(checked)
    if figures:
        a.figures.append(
            Figure(
                "precision-recall",
                "Precision-recall of the ranked list with its envelope",
                precision_recall_figure(
                    r.recall, r.precision, r.envelope, r.levels, r.interpolated
                ),
                "Blue: precision at each rank; orange: the interpolated envelope; red: the 11 points "
                "averaged by AP_11pt.",
            )
        )
    return a


def solve(seed: int = 0, figures: bool = True) -> Answer:
    """Compute, check and render Q2 (deterministic; ``seed`` is unused)."""
    result = compute(seed)
    return render(result, checks(result), figures)
