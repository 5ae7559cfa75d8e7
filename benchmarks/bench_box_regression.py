"""Box regression: the DIoU paper's simulation (200 gradient steps per case), handgrad vs textbook.

handgrad's :func:`handgrad.experiments.box_regression.simulate` (the library's fused losses and
gradients, blocks of cases kept in cache for 20 iterations, the l1 error per point) against
"textbook numpy": the same update written the obvious way, one iteration at a time over every
case (strided columns of (N, 4) arrays, one temporary per expression, the loss's forward then
its backward to the corners, then the chain rule to (x, y, w, h)). Both run the paper's update
B -= eta (2 - IoU) dL/dB with the paper's schedule and report the total l1 error per iteration
(the tests check that the two agree).

Size: the full grid (5,000 points, 1,715,000 cases, float64), so that the textbook's arrays (14 MB
each) stream through memory as they would in the full run, but 5 iterations instead of 200: both
times are linear in the iterations after a setup that each side includes (handgrad builds its
cases and their initial overlap, the textbook its cases). On a small grid whose arrays stay in
the caches the textbook runs at about the fused kernels' speed (measured on 32,768 pairs: the
fused DIoU value + gradient 0.9-1.0x the textbook formulas' time, against 0.4-0.45x on 1e6 pairs).
Target: at most 0.5x the textbook's time.

The full run: ``handgrad experiment run box-regression --jobs 2`` as a user runs it (six losses,
1,715,000 cases, 200 iterations, checkpoints, figures and summary), in two local processes.
Target: under 3 minutes of wall-clock time on a 2-core machine (the budget).
"""

from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.harness import Case
from handgrad.experiments.box_regression import (
    BoxRegressionConfig,
    disk_points,
    learning_rate,
    regression_cases,
    simulate,
)

POINTS = 5000  # the paper's grid: 5,000 x 343 = 1,715,000 cases
ITERATIONS = 5  # of the paper's 200 (time is linear in them)
KINDS = ("iou", "giou", "diou", "ciou")
EPS = 1e-7


def textbook_simulation(
    kind: str,
    anchors: np.ndarray,
    targets: np.ndarray,
    iterations: int = 200,
    lrs: tuple[float, float, float] = (0.1, 0.01, 0.001),
    min_size: float = 1e-3,
) -> np.ndarray:
    """Total l1 error per iteration 0..T of the paper's update, written plainly (float64).

    CIoU's gradient is the paper's (alpha constant, 1/(w^2 + h^2) dropped from dv/dw, dv/dh).
    """
    b = anchors.astype(np.float64)  # (N, 4) x, y, w, h
    g = targets.astype(np.float64)
    totals = [float(np.abs(b - g).sum())]
    for t in range(1, iterations + 1):
        x, y, w, h = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
        x1, y1, x2, y2 = x - w / 2, y - h / 2, x + w / 2, y + h / 2
        xg, yg, wg, hg = g[:, 0], g[:, 1], g[:, 2], g[:, 3]
        x1g, y1g, x2g, y2g = xg - wg / 2, yg - hg / 2, xg + wg / 2, yg + hg / 2
        w, h = x2 - x1, y2 - y1
        # forward: IoU
        iw = np.minimum(x2, x2g) - np.maximum(x1, x1g)
        ih = np.minimum(y2, y2g) - np.maximum(y1, y1g)
        mask = (iw > 0) & (ih > 0)
        inter = np.where(mask, iw * ih, 0.0)
        union = w * h + (x2g - x1g) * (y2g - y1g) - inter
        iou = inter / (union + EPS)
        # backward of 1 - IoU
        d_iou = -np.ones_like(iou)
        d_union = -d_iou * inter / (union + EPS) ** 2
        zero = np.zeros_like(iou)
        d_w, d_h, d_cw, d_ch, d_cx, d_cy = zero, zero, zero, zero, zero, zero
        if kind != "iou":
            cw = np.maximum(x2, x2g) - np.minimum(x1, x1g)
            ch = np.maximum(y2, y2g) - np.minimum(y1, y1g)
            if kind == "giou":
                area_c = cw * ch
                d_union = d_union - 1.0 / (area_c + EPS)
                d_area_c = (union + EPS) / (area_c + EPS) ** 2
                d_cw, d_ch = d_area_c * ch, d_area_c * cw
            else:
                diag = cw**2 + ch**2 + EPS
                dx = (x1 + x2) / 2 - (x1g + x2g) / 2
                dy = (y1 + y2) / 2 - (y1g + y2g) / 2
                d_diag = -(dx**2 + dy**2) / diag**2
                d_cw, d_ch = 2 * cw * d_diag, 2 * ch * d_diag
                d_cx, d_cy = dx / diag, dy / diag
                if kind == "ciou":
                    delta = np.arctan((x2g - x1g) / (y2g - y1g)) - np.arctan(w / h)
                    v = 4 / math.pi**2 * delta**2
                    alpha = v / (1 - iou + v + EPS)
                    d_t = -8 / math.pi**2 * delta * alpha
                    d_w, d_h = d_t * h, -d_t * w
        d_inter = d_iou / (union + EPS) - d_union
        d_iw = np.where(mask, d_inter * ih, 0.0)
        d_ih = np.where(mask, d_inter * iw, 0.0)
        d_w = d_w + d_union * h
        d_h = d_h + d_union * w
        g_x1 = -d_w - np.where(x1 > x1g, d_iw, 0) - np.where(x1 < x1g, d_cw, 0) + d_cx
        g_x2 = d_w + np.where(x2 < x2g, d_iw, 0) + np.where(x2 > x2g, d_cw, 0) + d_cx
        g_y1 = -d_h - np.where(y1 > y1g, d_ih, 0) - np.where(y1 < y1g, d_ch, 0) + d_cy
        g_y2 = d_h + np.where(y2 < y2g, d_ih, 0) + np.where(y2 > y2g, d_ch, 0) + d_cy
        # chain rule to (x, y, w, h): x1 = x - w/2, x2 = x + w/2
        grad = np.stack([g_x1 + g_x2, g_y1 + g_y2, (g_x2 - g_x1) / 2, (g_y2 - g_y1) / 2], axis=1)
        eta = learning_rate(t, iterations, lrs)
        b = b - eta * (2 - iou)[:, None] * grad
        b[:, 2:] = np.maximum(b[:, 2:], min_size)
        totals.append(float(np.abs(b - g).sum()))
    return np.array(totals)


FULL_RUN_BUDGET = 180.0  # seconds: the whole experiment, --jobs 2, on 2 cores
FULL_RUN_JOBS = 2


def full_run() -> None:
    """``handgrad experiment run box-regression --jobs 2`` into a temporary folder."""
    from handgrad.experiments.box_regression import EXPERIMENT
    from handgrad.experiments.runner import run_experiment

    root = Path(tempfile.mkdtemp(prefix="box-regression-"))
    try:
        run_experiment(EXPERIMENT, BoxRegressionConfig(), root / "run", jobs=FULL_RUN_JOBS)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def cases() -> list[Case]:
    cfg = BoxRegressionConfig(points=POINTS, iterations=ITERATIONS, losses=KINDS)
    out = [
        Case(
            area="box_regression",
            name=(
                f"full run: 6 losses x {BoxRegressionConfig().cases:,} cases x 200 iterations, "
                f"--jobs {FULL_RUN_JOBS}, figures and checkpoints included"
            ),
            ours=full_run,
            anchors={},
            repeats=1,  # one per round: ROUNDS runs
            warmup=0,
            budget=FULL_RUN_BUDGET,
        )
    ]
    for kind in KINDS:

        def ours(kind: str = kind) -> Any:
            return simulate(cfg, kind)

        def textbook(kind: str = kind) -> Any:
            anchors, targets = regression_cases(disk_points(cfg.points, cfg.radius, cfg.seed))
            return textbook_simulation(kind, anchors, targets, cfg.iterations, cfg.lrs)

        anchors: dict[str, Callable[[], Any]] = {"textbook numpy": textbook}
        out.append(
            Case(
                area="box_regression",
                name=f"{kind} simulation, {cfg.cases:,} cases x {cfg.iterations} steps float64",
                ours=ours,
                anchors=anchors,
                targets={"textbook numpy": 0.5},
                repeats=3,
                warmup=0,
            )
        )
    return out
