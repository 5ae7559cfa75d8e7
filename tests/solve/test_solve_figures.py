"""Figures as inline SVG: deterministic, scalable, text kept as text."""

from __future__ import annotations

import numpy as np

from handgrad.solve.figures import (
    focal_loss_figure,
    new_figure,
    precision_recall_figure,
    same_l2_boxes_figure,
    to_svg,
)


def _line() -> str:
    fig, ax = new_figure(3.0, 2.0)
    ax.plot([0.0, 1.0], [1.0, 0.0])
    return to_svg(fig)


def test_svg_is_deterministic_and_scalable():
    first, second = _line(), _line()
    assert first == second  # fixed hash salt, no date: reports can be compared
    assert first.startswith("<svg") and first.rstrip().endswith("</svg>")
    assert 'viewBox="' in first and "<?xml" not in first and "<!DOCTYPE" not in first


def test_labels_stay_text():
    p = np.linspace(0.01, 1.0, 50)
    svg = focal_loss_figure(p, {0.0: -np.log(p), 2.0: -((1 - p) ** 2) * np.log(p)})
    assert "gamma = 0 (cross-entropy)" in svg and "gamma = 2<" in svg


def test_precision_recall_and_boxes_figures():
    r = np.array([0.5, 0.5, 1.0])
    p = np.array([1.0, 0.5, 2 / 3])
    env = np.array([1.0, 2 / 3, 2 / 3])
    svg = precision_recall_figure(r, p, env, np.linspace(0, 1, 11), np.full(11, 0.7))
    assert "11 points" in svg
    boxes = np.array([[-1.5, -1.5, 1.5, 1.5], [0.0, 0.0, 2.0, 2.0]])  # (x1, y1, x2, y2)
    svg = same_l2_boxes_figure(
        [-1.0, -1.0, 1.0, 1.0], boxes, {"IoU": np.array([4 / 9, 1 / 7])}, 2.0
    )
    assert "boxes with L2 = 2" in svg and "sorted by IoU" in svg
