"""Q4: boxes with one L2 loss and very different IoU."""

from __future__ import annotations

import numpy as np
import pytest

from handgrad.solve import solve_question
from handgrad.solve.q4_l2_vs_iou import GT, L2


@pytest.fixture(scope="module")
def answer():
    return solve_question(4, figures=True)


def test_family_has_one_l2(answer):
    boxes = np.asarray(answer.values["boxes"])
    # sum of squared differences of (cx, cy, w, h) from the ground truth (0, 0, 2, 2)
    np.testing.assert_allclose(np.sum((boxes - np.array(GT)) ** 2, axis=1), L2, rtol=1e-14)
    assert np.all(boxes[:, 2:] > 0)


def test_seed_examples_exact(answer):
    # (0, 0, 3, 3): 4 / 9; (0, 0, 2 + sqrt 2, 2): 2(2 + sqrt 2 - 2) ... = 4 / (4 + 2 sqrt 2) = 2 - sqrt 2;
    # (1, 1, 2, 2): overlap 1 x 1, union 4 + 4 - 1 = 7 -> 1/7
    assert answer.values["seed_examples_iou_exact"] == ["4/9", "2 - sqrt(2)", "1/7"]
    np.testing.assert_allclose(answer.values["iou"][:3], [4 / 9, 2 - np.sqrt(2), 1 / 7], rtol=1e-14)


def test_iou_range_is_wide(answer):
    lo, hi = answer.values["iou_range"]
    assert lo < 1 / 7 + 1e-12 and hi >= 2 - np.sqrt(2) - 1e-12
    assert hi - lo > 0.4


def test_checks_and_figure(answer):
    assert len(answer.checks) == 4 and all(c.passed for c in answer.checks)
    assert [f.name for f in answer.figures] == ["same-l2-boxes"]
    assert answer.figures[0].svg.count("<path") > 40  # one rectangle per box, at least


def test_wrong_iou_fails(monkeypatch):
    import handgrad.boxes as boxes

    original = boxes.iou_loss
    monkeypatch.setattr(boxes, "iou_loss", lambda *a, **k: original(*a, **k) + 1e-6)
    a = solve_question(4, figures=False)
    assert not a.passed
