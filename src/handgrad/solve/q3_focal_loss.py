"""Q3. Focal loss vs cross-entropy.

FL(p) = -(1 - p)^gamma log p and CE(p) = -log p, with p the predicted probability of the true class,
from :func:`handgrad.losses.focal_loss_from_probability` and
:func:`handgrad.losses.cross_entropy_from_probability`, for a grid of p and gamma in
(0, 0.5, 1, 2, 5). Checks: gamma = 0 gives CE; the same numbers from logits through
:func:`handgrad.losses.sigmoid_focal_loss` (a second algorithm: log-sigmoid of the logit
log(p / (1 - p)), alpha disabled); and the ratio FL / CE equals the modulating factor (1 - p)^gamma.
"""

from __future__ import annotations

import numpy as np

from handgrad.solve.model import Answer, Figure, check_close

__all__ = ["GAMMAS", "PROBABILITIES", "solve"]

TITLE = "Focal loss vs cross-entropy"
GAMMAS = (0.0, 0.5, 1.0, 2.0, 5.0)
PROBABILITIES = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)


def solve(seed: int = 0, figures: bool = True) -> Answer:
    """Compute and check Q3 (the table is deterministic; ``seed`` is unused)."""
    from handgrad.losses import cross_entropy_from_probability as ce_p
    from handgrad.losses import focal_loss_from_probability as fl_p
    from handgrad.losses import sigmoid_focal_loss

    a = Answer(3, TITLE)
    a.formula(
        "Definitions (p = predicted probability of the true class)",
        "CE(p) = -log p\nFL(p) = -(1 - p)^gamma log p = (1 - p)^gamma CE(p)",
    )
    p = np.array(PROBABILITIES)  # (P,)
    ce = np.asarray(ce_p(p), dtype=np.float64)  # (P,)
    fl = np.stack([np.asarray(fl_p(p, g), dtype=np.float64) for g in GAMMAS])  # (G, P)
    ratio = fl / ce  # (G, P)
    cols = ["p", "CE", *(f"FL g={g:g}" for g in GAMMAS)]
    a.table(
        "FL and CE",
        cols,
        [
            [float(p[j]), float(ce[j]), *(float(fl[i, j]) for i in range(len(GAMMAS)))]
            for j in range(len(p))
        ],
        digits=4,
    )
    a.table(
        "FL / CE (the weight focal loss gives an example relative to cross-entropy)",
        ["p", *(f"g={g:g}" for g in GAMMAS)],
        [[float(p[j]), *(float(ratio[i, j]) for i in range(len(GAMMAS)))] for j in range(len(p))],
        digits=4,
    )
    i2 = GAMMAS.index(2.0)
    hi, lo = len(p) - 1, 0
    a.text(
        f"(a) gamma = 0: FL = CE (ratio {ratio[0].min():g} to {ratio[0].max():g} over the grid). "
        f"(b) Well classified, p = {p[hi]:g}: with gamma = 2 the loss is {ratio[i2, hi]:.3g} of CE "
        f"({fl[i2, hi]:.3g} instead of {ce[hi]:.3g}), so easy examples contribute almost nothing. "
        f"(c) Misclassified, p = {p[lo]:g}: the ratio is {ratio[i2, lo]:.3g}, FL ~ CE = {ce[lo]:.3g}, "
        "so hard examples keep their large loss."
    )
    a.values["gammas"] = list(GAMMAS)
    a.values["p"] = p
    a.values["ce"] = ce
    a.values["fl"] = fl
    a.values["ratio"] = ratio

    a.checks.append(
        check_close(
            "gamma = 0: FL = CE",
            fl[0],
            ce,
            method="the cross-entropy routine",
            tolerance=1e-15,
        )
    )
    logits = np.log(p) - np.log1p(-p)  # (P,) logit of p
    ones = np.ones_like(p)
    from_logits = np.stack(
        [
            np.asarray(sigmoid_focal_loss(logits, ones, alpha=-1.0, gamma=g), dtype=np.float64)
            for g in GAMMAS
        ]
    )  # (G, P)
    a.checks.append(
        check_close(
            "FL(p) = sigmoid_focal_loss(logit p, target 1, alpha off) for every gamma",
            fl,
            from_logits,
            method="second algorithm: focal loss from logits (log-sigmoid)",
            tolerance=1e-12,
        )
    )
    factor = np.stack([(1.0 - p) ** g for g in GAMMAS])  # (G, P)
    a.checks.append(
        check_close(
            "FL / CE = (1 - p)^gamma",
            ratio,
            factor,
            method="closed form of the modulating factor",
            tolerance=1e-13,
        )
    )
    if figures:
        from handgrad.solve.figures import focal_loss_figure

        grid = np.linspace(0.001, 1.0, 400)  # (400,)
        curves = {g: np.asarray(fl_p(grid, g)) for g in GAMMAS}
        a.figures.append(
            Figure(
                "focal-loss",
                "Focal loss against the probability of the true class",
                focal_loss_figure(grid, curves),
                "gamma = 0 is cross-entropy; larger gamma flattens the loss of well-classified "
                "examples (p near 1).",
            )
        )
    return a
