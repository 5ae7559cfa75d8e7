"""The worked solution of the assignment: one module per question, and a renderer.

Each question module (``q1_bptt`` ... ``q5_transposed_conv``) separates three steps:
``compute(seed)`` returns a small frozen dataclass with the library's answers and the independent
routes that check them (finite differences, a second algorithm, a closed form, exact arithmetic);
``checks(result)`` compares them and returns the :class:`~handgrad.solve.model.Check` list; and
``render(result, checks, figures)`` builds the :class:`~handgrad.solve.model.Answer` (text, formulas,
tables, values, and the figures on request). ``solve(seed, figures)`` runs the three.
:mod:`handgrad.solve.report` renders answers to the terminal, JSON and HTML.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from handgrad.solve import (
    q1_bptt,
    q2_average_precision,
    q3_focal_loss,
    q4_l2_vs_iou,
    q5_transposed_conv,
)
from handgrad.solve.model import Answer

__all__ = ["DEFAULT_SEED", "QUESTIONS", "SOLVERS", "solve_all", "solve_question"]

DEFAULT_SEED = 0

QUESTIONS: dict[int, str] = {
    1: "Backpropagation through time in a vanilla RNN; vanishing gradients; long-term dependencies",
    2: "Precision, recall and 11-point interpolated average precision",
    3: "Focal loss vs cross-entropy",
    4: "L2 loss on box parameters vs IoU",
    5: "Transposed convolution: output size and the convolution matrix",
}

# question -> solve(seed, figures)
SOLVERS: dict[int, Callable[[int, bool], Answer]] = {
    1: q1_bptt.solve,
    2: q2_average_precision.solve,
    3: q3_focal_loss.solve,
    4: q4_l2_vs_iou.solve,
    5: q5_transposed_conv.solve,
}


def solve_question(question: int, *, seed: int = DEFAULT_SEED, figures: bool = True) -> Answer:
    """Solve one question (1-5) and check it; see the module docstring."""
    if question not in QUESTIONS:
        raise ValueError(f"question must be one of {sorted(QUESTIONS)}; got {question!r}")
    return SOLVERS[question](seed, figures)


def solve_all(
    questions: Iterable[int] | None = None, *, seed: int = DEFAULT_SEED, figures: bool = True
) -> list[Answer]:
    """Solve the given questions (default: all five) in order."""
    chosen = sorted(QUESTIONS) if questions is None else list(questions)
    return [solve_question(q, seed=seed, figures=figures) for q in chosen]
