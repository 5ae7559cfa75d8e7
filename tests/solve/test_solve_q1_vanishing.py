"""Q1 (b): the norms of dS_t/dS_k for tanh RNNs, a ReLU RNN and LSTMs, checked by differences."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from handgrad.solve.model import Answer
from handgrad.solve.q1_vanishing import LAGS, checks_b, compute_b, render_b


@pytest.fixture(scope="module")
def result(q1_result):
    return q1_result


def test_compute_b_and_its_checks(result):
    b = result.b
    assert b.tanh_max == 1.0 and b.sigmoid_max == 0.25  # at 0, on the grid
    assert all(len(c) == LAGS + 1 and c[0] == pytest.approx(1.0) for c in b.curves.values())
    assert [j.label for j in b.jacobians] == [
        "tanh RNN, spectral radius 1.5",
        "LSTM, forget-gate bias +3",
    ]
    assert all(c.passed for c in checks_b(b))
    off = replace(b.jacobians[1], ours=b.jacobians[1].ours * (1 + 1e-6))
    failed = checks_b(replace(b, jacobians=(b.jacobians[0], off)))
    assert [c.passed for c in failed] == [True, False]


def test_compute_b_alone_draws_from_the_generator_it_is_given(result):
    # Q1 draws part (a) first; part (b) alone from a fresh generator gives other networks.
    alone = compute_b(np.random.default_rng(0))
    assert list(alone.curves) == list(result.b.curves)
    assert not np.allclose(
        alone.curves["tanh RNN, spectral radius 0.5"],
        result.b.curves["tanh RNN, spectral radius 0.5"],
    )
    assert all(c.passed for c in checks_b(alone))


def test_render_b(result):
    a = Answer(1, "Q1")
    render_b(a, result.b, figures=True)
    assert [i.kind for i in a.items] == ["formula", "table"]
    table = a.items[1]
    assert [row[0] for row in table.rows] == list(result.b.curves)
    # t - k = 1, 5, 10, 20, 40 of each curve
    assert table.rows[0][1:] == [
        float(result.b.curves[table.rows[0][0]][s]) for s in (1, 5, 10, 20, 40)
    ]
    assert [f.name for f in a.figures] == ["vanishing-gradient"]
