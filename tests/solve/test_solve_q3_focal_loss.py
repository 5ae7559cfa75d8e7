"""Q3: focal loss and cross-entropy on a grid of p and gamma."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from handgrad.solve import q3_focal_loss as q3
from handgrad.solve import solve_question
from handgrad.solve.q3_focal_loss import GAMMAS, PROBABILITIES
from solve.solve_html import check_formulas


@pytest.fixture(scope="module")
def result():
    return q3.compute()


@pytest.fixture(scope="module")
def answer():
    return solve_question(3, figures=True)


# ------------------------------------------------------------------------ compute and checks alone


def test_compute_shapes_and_worked_values(result):
    G, P = len(GAMMAS), len(PROBABILITIES)
    assert result.ce.shape == (P,) and result.fl.shape == (G, P) and result.ratio.shape == (G, P)
    assert result.from_logits.shape == (G, P) and result.curves.shape == (G, q3.CURVE_POINTS)
    # gamma = 1, p = 1/2: (1/2) * log 2 = 0.34657...
    j = PROBABILITIES.index(0.5)
    assert result.fl[GAMMAS.index(1.0), j] == pytest.approx(0.5 * math.log(2), rel=1e-14)
    assert result.from_logits[GAMMAS.index(1.0), j] == pytest.approx(0.5 * math.log(2), rel=1e-14)
    # (1 - 0.75)^0.5 = 0.5
    assert result.factor[GAMMAS.index(0.5), PROBABILITIES.index(0.75)] == pytest.approx(0.5)


def test_checks_fail_where_the_result_is_perturbed(result):
    assert all(c.passed for c in q3.checks(result))
    names = [c.name for c in q3.checks(result)]
    logits = replace(result, from_logits=result.from_logits * (1 + 1e-9))
    assert [c.passed for c in q3.checks(logits)] == [True, False, True]
    factor = replace(result, factor=result.factor + 1e-9)
    assert [c.name for c in q3.checks(factor) if not c.passed] == [names[2]]
    # A wrong CE breaks gamma = 0 and the ratio, not the logits route.
    ce = replace(result, ce=result.ce * (1 + 1e-9))
    assert [c.passed for c in q3.checks(ce)] == [False, True, False]


# ------------------------------------------------------------------------------ the whole answer


def test_values(answer):
    p = np.array(PROBABILITIES)
    fl = np.asarray(answer.values["fl"])
    ce = np.asarray(answer.values["ce"])
    np.testing.assert_allclose(ce, -np.log(p), rtol=1e-15)
    j = PROBABILITIES.index(0.5)
    # gamma = 2, p = 1/2: (1/2)^2 * log 2 = 0.17328679...
    assert fl[GAMMAS.index(2.0), j] == pytest.approx(0.25 * math.log(2), rel=1e-14)
    # gamma = 5, p = 0.99: 0.01^5 * -log 0.99 = 1.005e-12
    assert fl[GAMMAS.index(5.0), -1] == pytest.approx(1e-10 * -math.log(0.99), rel=1e-8)
    np.testing.assert_allclose(fl[0], ce, rtol=1e-15)


def test_ratio_is_modulating_factor(answer):
    p = np.array(PROBABILITIES)
    ratio = np.asarray(answer.values["ratio"])
    for i, g in enumerate(GAMMAS):
        np.testing.assert_allclose(ratio[i], (1 - p) ** g, rtol=1e-12)
    # Well classified examples are down-weighted, misclassified ones barely: ratio 1e-4 vs 0.98.
    assert ratio[GAMMAS.index(2.0), -1] == pytest.approx(1e-4, rel=1e-9)
    assert ratio[GAMMAS.index(2.0), 0] == pytest.approx(0.9801, rel=1e-12)


def test_checks_and_figure(answer):
    assert len(answer.checks) == 3 and all(c.passed for c in answer.checks)
    assert [f.name for f in answer.figures] == ["focal-loss"]
    assert answer.figures[0].svg.count("<path") > len(GAMMAS)


def test_formulas_are_typeset(answer):
    check_formulas(answer)


def test_wrong_focal_loss_fails(monkeypatch):
    import handgrad.losses as losses

    original = losses.focal_loss_from_probability
    monkeypatch.setattr(
        losses, "focal_loss_from_probability", lambda p, g: original(p, g) * (1 + 1e-6)
    )
    a = solve_question(3, figures=False)
    assert not a.passed
