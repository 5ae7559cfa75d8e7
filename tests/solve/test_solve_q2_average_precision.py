"""Q2: the rank table, the 11-point table and AP under each definition, with exact arithmetic."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest

from handgrad.solve import q2_average_precision as q2
from handgrad.solve import solve_question
from solve.solve_html import check_formulas


@pytest.fixture(scope="module")
def result():
    return q2.compute()


@pytest.fixture(scope="module")
def answer():
    return solve_question(2, figures=True)


# ------------------------------------------------------------------------ compute and checks alone


def test_compute_exact_fractions(result):
    # Hits at ranks 1, 2, 6, 7, 10 of 5 positives.
    assert result.exact_precision[:3] == (1, 1, Fraction(2, 3))
    assert result.exact_recall[-1] == 1
    assert result.exact_interpolated == (1,) * 5 + (Fraction(4, 7),) * 4 + (Fraction(1, 2),) * 2
    # step (1 + 1 + 3/6 + 4/7 + 5/10) / 5; voc07 (5 + 16/7 + 1) / 11; voc12 0.4 + 0.4 * 4/7 + 0.1;
    # coco (41 + 40 * 4/7 + 20 / 2) / 101
    assert result.exact_ap == {
        "step": Fraction(5, 7),
        "voc07": Fraction(58, 77),
        "voc12": Fraction(51, 70),
        "coco": Fraction(51 * 7 + 160, 7 * 101),
    }
    assert list(result.ap) == list(q2.METHODS)
    for method, exact in result.exact_ap.items():
        assert result.ap[method] == pytest.approx(float(exact), rel=1e-15)


def test_checks_pass_on_the_result(result):
    checked = q2.checks(result)
    assert len(checked) == 4 and all(c.passed for c in checked)


def test_checks_fail_where_the_result_is_perturbed(result):
    interp = result.interpolated.copy()
    interp[-1] += 1e-9
    failed = [c.name for c in q2.checks(replace(result, interpolated=interp)) if not c.passed]
    assert failed == ["interpolated precision at the 11 recall levels"]
    coco = replace(result, ap={**result.ap, "coco": result.ap["coco"] + 1e-12})
    failed = [c.name for c in q2.checks(coco) if not c.passed]
    assert failed == ["AP under step, voc07, voc12, coco"]


def test_render_alone_keeps_the_checks_it_is_given(result):
    checked = q2.checks(replace(result, recall=result.recall * 1.01))
    a = q2.render(result, checked, figures=False)
    assert not a.passed and a.figures == []
    assert a.values["ap_11pt_exact"] == "58/77"


# ------------------------------------------------------------------------------ the whole answer


def test_rank_table(answer):
    # Hits at ranks 1, 2, 6, 7, 10; five positives: precision = hits / rank, recall = hits / 5.
    hits = np.array([1, 2, 2, 2, 2, 3, 4, 4, 4, 5])
    np.testing.assert_allclose(
        answer.values["precision"], hits / np.arange(1, 11), rtol=0, atol=1e-15
    )
    np.testing.assert_allclose(answer.values["recall"], hits / 5, rtol=0, atol=1e-15)


def test_eleven_point_table_and_ap(answer):
    # r = 0 .. 0.4 -> 1 (ranks 1-2); r = 0.5 .. 0.8 -> 4/7 (rank 7); r = 0.9, 1.0 -> 1/2 (rank 10).
    expected = [1.0] * 5 + [4 / 7] * 4 + [0.5] * 2
    np.testing.assert_allclose(answer.values["interpolated_precision_11"], expected, rtol=1e-15)
    # (5 * 1 + 4 * 4/7 + 2 * 1/2) / 11 = (6 + 16/7) / 11 = 58/77 = 0.753246...
    assert answer.values["ap_11pt"] == pytest.approx(58 / 77, rel=1e-15)
    assert answer.values["ap_11pt_exact"] == "58/77"
    assert round(answer.values["ap_11pt"], 5) == 0.75325


def test_other_definitions(answer):
    # step: (1 + 1 + 3/6 + 4/7 + 5/10) / 5 = 5/7
    assert answer.values["ap_step"] == pytest.approx(5 / 7, rel=1e-14)
    # voc12: area under the envelope 0.4 * 1 + 0.4 * 4/7 + 0.2 * 1/2 = 51/70
    assert answer.values["ap_voc12"] == pytest.approx(51 / 70, rel=1e-14)
    # coco: 41 levels (0 .. 0.40) at 1, 40 (0.41 .. 0.80) at 4/7, 20 (0.81 .. 1) at 1/2, over 101
    assert answer.values["ap_coco"] == pytest.approx(
        float(Fraction(51 * 7 + 160, 7 * 101)), rel=1e-14
    )
    assert answer.values["ap_voc07"] == answer.values["ap_11pt"]


def test_all_checks_pass_and_figure(answer):
    assert answer.checks and all(c.passed for c in answer.checks), [
        (c.name, c.error) for c in answer.checks if not c.passed
    ]
    assert [f.name for f in answer.figures] == ["precision-recall"]
    assert answer.figures[0].svg.startswith("<svg")


def test_formulas_are_typeset(answer):
    check_formulas(answer)


def test_seed_rounding_is_explained(answer):
    text = " ".join(getattr(i, "text", "") for i in answer.items)
    assert "0.752" in text and "0.75273" in text  # (5 + 4 * 0.57 + 2 * 0.5) / 11 = 0.752727...


def test_wrong_library_answer_fails_the_check(monkeypatch):
    import handgrad.metrics as metrics

    original = metrics.average_precision
    monkeypatch.setattr(
        metrics, "average_precision", lambda *a, **k: float(original(*a, **k)) + 1e-3
    )
    a = solve_question(2, figures=False)
    failed = [c.name for c in a.checks if not c.passed]
    assert "AP, 11-point (voc07)" in failed and not a.passed
