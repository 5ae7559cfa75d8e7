"""Ranking metrics: average precision (every method) and the precision-recall curve.

Anchors: scikit-learn's ``average_precision_score`` / ``precision_recall_curve`` and one stable
argsort of the scores (``np.argsort(-score, kind="stable")``), what the obvious exact ranking costs.
Targets (issue 3): every method at most 0.5x scikit-learn; the interpolated methods (which need the
stable ranking) at most 1.2x the stable argsort. Inputs: uniform random float64 scores, 10%
positives; two more cases with ties between the classes are informative.
"""

from __future__ import annotations

import numpy as np

from benchmarks.harness import Case
from handgrad.metrics import average_precision, precision_recall_curve

METHODS = ("step", "voc07", "voc12", "coco")


def _inputs(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.1).astype(np.int64)  # (n,) 0/1 labels
    s = rng.random(n)  # (n,) float64 scores
    return y, s


def cases() -> list[Case]:
    from sklearn.metrics import average_precision_score
    from sklearn.metrics import precision_recall_curve as sk_precision_recall_curve

    out = []
    for n, label, repeats, warmup in ((10**6, "1e6", 7, 2), (10**7, "1e7", 3, 1)):
        y, s = _inputs(n)
        for method in METHODS:
            targets = {"sklearn": 0.5}
            if method != "step":
                targets["np.argsort stable"] = 1.2
            out.append(
                Case(
                    area="ranking",
                    name=f"average_precision {method} n={label}",
                    ours=lambda y=y, s=s, m=method: average_precision(y, s, method=m),
                    anchors={
                        "sklearn": lambda y=y, s=s: average_precision_score(y, s),
                        "np.argsort stable": lambda s=s: np.argsort(-s, kind="stable"),
                    },
                    targets=targets,
                    repeats=repeats,
                    warmup=warmup,
                )
            )
    y, s = _inputs(10**6)
    tied = {"float32 scores": s.astype(np.float32), "scores rounded to 3 decimals": np.round(s, 3)}
    for what, scores in tied.items():  # ties between classes: informative, no targets
        out.append(
            Case(
                area="ranking",
                name=f"average_precision voc12 n=1e6, {what}",
                ours=lambda y=y, s=scores: average_precision(y, s, method="voc12"),
                anchors={
                    "sklearn": lambda y=y, s=scores: average_precision_score(y, s),
                    "np.argsort stable": lambda s=scores: np.argsort(-s, kind="stable"),
                },
            )
        )
    out.append(
        Case(
            area="ranking",
            name="precision_recall_curve n=1e6",
            ours=lambda: precision_recall_curve(y, s),
            anchors={"sklearn": lambda: sk_precision_recall_curve(y, s)},
        )
    )
    return out
