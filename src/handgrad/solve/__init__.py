"""The worked solution of the assignment: one module per question, and a renderer.

Each question module (``q1_bptt`` ... ``q5_transposed_conv``) exposes
``solve(seed: int, figures: bool) -> Answer``: it computes the answer with handgrad's library,
checks it against an independent route and, on request, draws its figures. A question whose library
pieces have not landed yet returns an answer with ``status="not implemented"`` and says which piece is
missing; it never shows a made-up value. :mod:`handgrad.solve.report` renders answers to the
terminal, JSON and HTML.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

from handgrad.solve.model import Answer, NotImplementedYet

__all__ = ["DEFAULT_SEED", "QUESTIONS", "require", "solve_all", "solve_question"]

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


def require(module: str, *names: str) -> list[Any]:
    """Import ``names`` from ``handgrad.<module>``, or raise :class:`NotImplementedYet` naming them.

    Only a missing module or a missing attribute counts as "not landed"; any other import error
    (a bug in a landed module) propagates.
    """
    full = f"handgrad.{module}"
    try:
        mod = importlib.import_module(full)
    except ModuleNotFoundError as exc:
        if exc.name is not None and full.startswith(exc.name) and exc.name.startswith("handgrad"):
            raise NotImplementedYet(f"the library module {full} is not available yet") from exc
        raise
    missing = [n for n in names if not hasattr(mod, n)]
    if missing:
        raise NotImplementedYet(
            f"{full} does not provide {', '.join(missing)} yet, so no answer is computed"
        )
    return [getattr(mod, n) for n in names]


def solve_question(question: int, *, seed: int = DEFAULT_SEED, figures: bool = True) -> Answer:
    """Solve one question (1-5) and check it; see the module docstring."""
    if question not in QUESTIONS:
        raise ValueError(f"question must be one of {sorted(QUESTIONS)}; got {question!r}")
    module = importlib.import_module(f"handgrad.solve.{_MODULES[question]}")
    try:
        answer: Answer = module.solve(seed=seed, figures=figures)
    except NotImplementedYet as exc:
        return Answer(question, QUESTIONS[question], status="not implemented", note=str(exc))
    return answer


def solve_all(
    questions: Iterable[int] | None = None, *, seed: int = DEFAULT_SEED, figures: bool = True
) -> list[Answer]:
    """Solve the given questions (default: all five) in order."""
    chosen = sorted(QUESTIONS) if questions is None else list(questions)
    return [solve_question(q, seed=seed, figures=figures) for q in chosen]
