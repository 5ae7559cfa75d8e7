"""The package's entry points: one solver per question, by plain import."""

from __future__ import annotations

import pytest

from handgrad.solve import (
    QUESTIONS,
    SOLVERS,
    q1_bptt,
    q2_average_precision,
    q3_focal_loss,
    q4_l2_vs_iou,
    q5_transposed_conv,
    solve_all,
    solve_question,
)


def test_every_question_has_its_module_solver():
    assert list(SOLVERS) == list(QUESTIONS) == [1, 2, 3, 4, 5]
    modules = [q1_bptt, q2_average_precision, q3_focal_loss, q4_l2_vs_iou, q5_transposed_conv]
    assert [SOLVERS[q] for q in QUESTIONS] == [m.solve for m in modules]
    for q, module in zip(QUESTIONS, modules, strict=True):
        assert module.TITLE == QUESTIONS[q]


def test_solve_question_rejects_unknown_numbers():
    with pytest.raises(ValueError, match=r"question must be one of \[1, 2, 3, 4, 5\]; got 6"):
        solve_question(6)


def test_solve_all_in_the_order_asked():
    answers = solve_all([5, 3], figures=False)
    assert [a.question for a in answers] == [5, 3]
    assert all(a.passed and a.figures == [] for a in answers)
