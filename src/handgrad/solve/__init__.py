"""The worked solution of the assignment: one module per question, and a renderer.

Each question module (``q1_bptt`` ... ``q5_transposed_conv``) exposes
``solve(seed: int, figures: bool) -> Answer``: it computes the answer with handgrad's library,
checks it against an independent route and, on request, draws its figures.
:mod:`handgrad.solve.report` renders answers to the terminal, JSON and HTML.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from handgrad.solve.model import Answer

__all__ = ["DEFAULT_SEED", "QUESTIONS", "solve_all", "solve_question"]

DEFAULT_SEED = 0

QUESTIONS: dict[int, str] = {
    1: "Backpropagation through time in a vanilla RNN; vanishing gradients; long-term dependencies",
    2: "Precision, recall and 11-point interpolated average precision",
    3: "Focal loss vs cross-entropy",
    4: "L2 loss on box parameters vs IoU",
    5: "Transposed convolution: output size and the convolution matrix",
}

_MODULES: dict[int, str] = {
    1: "q1_bptt",
    2: "q2_average_precision",
    3: "q3_focal_loss",
    4: "q4_l2_vs_iou",
    5: "q5_transposed_conv",
}


def solve_question(question: int, *, seed: int = DEFAULT_SEED, figures: bool = True) -> Answer:
    """Solve one question (1-5) and check it; see the module docstring."""
    if question not in QUESTIONS:
        raise ValueError(f"question must be one of {sorted(QUESTIONS)}; got {question!r}")
    module = importlib.import_module(f"handgrad.solve.{_MODULES[question]}")
    answer: Answer = module.solve(seed=seed, figures=figures)
    return answer


def solve_all(
    questions: Iterable[int] | None = None, *, seed: int = DEFAULT_SEED, figures: bool = True
) -> list[Answer]:
    """Solve the given questions (default: all five) in order."""
    chosen = sorted(QUESTIONS) if questions is None else list(questions)
    return [solve_question(q, seed=seed, figures=figures) for q in chosen]
