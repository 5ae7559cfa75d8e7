"""Q4: boxes at one L2 loss with very different IoU, the exact examples, the converse."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import sympy

from handgrad.solve import q4_l2_vs_iou as q4
from handgrad.solve import solve_question
from handgrad.solve.q4_l2_vs_iou import GT, L2
from solve.solve_html import check_formulas


@pytest.fixture(scope="module")
def result():
    return q4.compute()


@pytest.fixture(scope="module")
def answer(result):
    return q4.render(result, q4.checks(result), figures=True)


# ------------------------------------------------------------------------ compute and checks alone


def test_compute_exact_examples_and_routes(result):
    # (0, 0, 3, 3): 4/9; (0, 0, 2 + sqrt 2, 2): 2 / (2 + sqrt 2) = 2 - sqrt 2; (1, 1, 2, 2): 1/7
    assert result.exact_iou == (sympy.Rational(4, 9), 2 - sympy.sqrt(2), sympy.Rational(1, 7))
    assert result.exact_boxes[1] == (0, 0, 2 + sympy.sqrt(2), 2)
    n = len(result.family.boxes)
    assert n == q4.N_BOXES and result.routes.l2.shape == result.routes.iou.shape == (n,)
    np.testing.assert_allclose(result.routes.l2, L2, rtol=1e-14)
    # The converse: concentric boxes scaled by 1/sqrt(0.5); L2 = s^2 (sqrt 2 - 1)^2 (2^2 + 2^2)
    s = np.array(q4.SCALES)
    np.testing.assert_allclose(result.same_iou.iou, 0.5, rtol=1e-14)
    np.testing.assert_allclose(result.same_iou.l2, s**2 * (np.sqrt(2) - 1) ** 2 * 8, rtol=1e-14)


def test_checks_fail_where_the_result_is_perturbed(result):
    assert all(c.passed for c in q4.checks(result))
    routes = replace(result.routes, iou=result.routes.iou + 1e-9)
    failed = [c.name for c in q4.checks(replace(result, routes=routes)) if not c.passed]
    assert failed == ["IoU of the family = 1 - iou_loss(eps = 0)"]
    exact = replace(
        result, exact_iou=(sympy.Rational(4, 9), sympy.Rational(3, 5), sympy.Rational(1, 7))
    )
    failed = [c.name for c in q4.checks(exact) if not c.passed]
    assert failed == ["IoU of the seed's three boxes"]
    other = replace(result, other_l2=result.other_l2 + 1e-9)
    failed = [c.name for c in q4.checks(other) if not c.passed]
    assert failed == ["random ground truth: L2 of every box and IoU via the paired kernel"]


# ------------------------------------------------------------------------------ the whole answer


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


def test_formulas_are_typeset(answer):
    check_formulas(answer)


def test_wrong_iou_fails(monkeypatch):
    import handgrad.boxes as boxes

    original = boxes.iou_loss
    monkeypatch.setattr(boxes, "iou_loss", lambda *a, **k: original(*a, **k) + 1e-6)
    a = solve_question(4, figures=False)
    assert not a.passed
