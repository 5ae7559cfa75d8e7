"""Q3. Focal loss vs cross-entropy.

FL(p) = -(1 - p)^gamma log p and CE(p) = -log p, with p the predicted probability of the true class,
from :func:`handgrad.losses.focal_loss_from_probability` and
:func:`handgrad.losses.cross_entropy_from_probability`, for a grid of p and gamma in
(0, 0.5, 1, 2, 5). Checks: gamma = 0 gives CE; the same numbers from logits through
:func:`handgrad.losses.sigmoid_focal_loss` (a second algorithm: log-sigmoid of the logit
log(p / (1 - p)), alpha disabled); and the ratio FL / CE equals the modulating factor (1 - p)^gamma.

:func:`compute` evaluates both routes, :func:`checks` compares them, :func:`render` writes the
answer; :func:`solve` runs the three.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from handgrad import losses
from handgrad.solve.figures import focal_loss_figure
from handgrad.solve.model import Answer, Check, Figure, FloatArray, check_close

__all__ = ["GAMMAS", "PROBABILITIES", "Q3Result", "checks", "compute", "render", "solve"]

TITLE = "Focal loss vs cross-entropy"
GAMMAS = (0.0, 0.5, 1.0, 2.0, 5.0)
PROBABILITIES = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)
CURVE_POINTS = 400  # p from 0.001 to 1 in the figure


@dataclass(frozen=True)
class Q3Result:
    """FL and CE on the grid; G = len(GAMMAS), P = len(PROBABILITIES)."""

    p: FloatArray  # (P,) probability of the true class
    ce: FloatArray  # (P,) CE(p), losses.cross_entropy_from_probability
    fl: FloatArray  # (G, P) FL(p) for each gamma, losses.focal_loss_from_probability
    from_logits: FloatArray  # (G, P) sigmoid_focal_loss(logit p, target 1, alpha off)
    factor: FloatArray  # (G, P) the modulating factor (1 - p)^gamma in closed form
    grid: FloatArray  # (CURVE_POINTS,) p for the figure
    curves: FloatArray  # (G, CURVE_POINTS) FL on the grid

    @property
    def ratio(self) -> FloatArray:
        """(G, P) FL / CE: the weight focal loss gives an example relative to cross-entropy."""
        return self.fl / self.ce


def compute(seed: int = 0) -> Q3Result:
    """FL and CE from probabilities, and FL from logits (deterministic; ``seed`` is unused)."""
    p = np.array(PROBABILITIES)  # (P,)
    logits = np.log(p) - np.log1p(-p)  # (P,) logit of p
    ones = np.ones_like(p)  # (P,) target 1: p is the probability of the true class
    grid = np.linspace(0.001, 1.0, CURVE_POINTS)  # (CURVE_POINTS,)
    return Q3Result(
        p=p,
        ce=np.asarray(losses.cross_entropy_from_probability(p), dtype=np.float64),
        fl=np.stack(
            [np.asarray(losses.focal_loss_from_probability(p, g), dtype=np.float64) for g in GAMMAS]
        ),
        from_logits=np.stack(
            [
                np.asarray(
                    losses.sigmoid_focal_loss(logits, ones, alpha=-1.0, gamma=g), dtype=np.float64
                )
                for g in GAMMAS
            ]
        ),
        factor=np.stack([(1.0 - p) ** g for g in GAMMAS]),
        grid=grid,
        curves=np.stack([np.asarray(losses.focal_loss_from_probability(grid, g)) for g in GAMMAS]),
    )


def checks(r: Q3Result) -> list[Check]:
    """gamma = 0 gives CE; FL from probabilities = FL from logits; FL / CE = (1 - p)^gamma."""
    return [
        check_close(
            "gamma = 0: FL = CE",
            r.fl[GAMMAS.index(0.0)],
            r.ce,
            method="the cross-entropy routine",
            tolerance=1e-15,
        ),
        check_close(
            "FL(p) = sigmoid_focal_loss(logit p, target 1, alpha off) for every gamma",
            r.fl,
            r.from_logits,
            method="second algorithm: focal loss from logits (log-sigmoid)",
            tolerance=1e-12,
        ),
        check_close(
            "FL / CE = (1 - p)^gamma",
            r.ratio,
            r.factor,
            method="closed form of the modulating factor",
            tolerance=1e-13,
        ),
    ]


def render(r: Q3Result, checked: list[Check], figures: bool) -> Answer:
    """The definitions, the FL and FL / CE tables, (a)-(c) in words, and the figure on request."""
    a = Answer(3, TITLE)
    a.formula(
        "Definitions (p = predicted probability of the true class)",
        "CE(p) = -log p\nFL(p) = -(1 - p)^gamma log p = (1 - p)^gamma CE(p)",
        r"$\mathrm{CE}(p) = -\log p$"
        "\n"
        r"$\mathrm{FL}(p) = -(1 - p)^\gamma \log p = (1 - p)^\gamma \, \mathrm{CE}(p)$",
    )
    p, ce, fl, ratio = r.p, r.ce, r.fl, r.ratio
    a.table(
        "FL and CE",
        ["p", "CE", *(f"FL g={g:g}" for g in GAMMAS)],
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
    a.checks.extend(checked)
    if figures:
        a.figures.append(
            Figure(
                "focal-loss",
                "Focal loss against the probability of the true class",
                focal_loss_figure(r.grid, dict(zip(GAMMAS, r.curves, strict=True))),
                "gamma = 0 is cross-entropy; larger gamma flattens the loss of well-classified "
                "examples (p near 1).",
            )
        )
    return a


def solve(seed: int = 0, figures: bool = True) -> Answer:
    """Compute, check and render Q3 (the table is deterministic; ``seed`` is unused)."""
    result = compute(seed)
    return render(result, checks(result), figures)
