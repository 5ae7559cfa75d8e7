"""Q1. Backpropagation through time in a vanilla RNN; vanishing gradients; long-term dependencies."""

from __future__ import annotations

from handgrad.solve.model import Answer

__all__ = ["solve"]

TITLE = "Backpropagation through time in a vanilla RNN; vanishing gradients; long-term dependencies"


def solve(seed: int = 0, figures: bool = True) -> Answer:
    """Compute and check Q1."""
    from handgrad.solve import require

    require("nn", "RNN", "LSTM")
    require("nn.bptt", "gradient_terms", "jacobian_norms", "seed_formula_gradients")
    raise NotImplementedError
