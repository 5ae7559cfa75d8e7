"""Q1: the seed's BPTT gradients term by term, the general sum, the Jacobian norms, part (c)."""

from __future__ import annotations

import numpy as np
import pytest

from handgrad.solve import solve_question
from handgrad.solve.q1_bptt import LAGS, PART_C, SIZES


@pytest.fixture(scope="module")
def answer():
    return solve_question(1, figures=True)


def test_four_gradients_have_the_seed_shapes(answer):
    H, D = SIZES["H"], SIZES["D"]
    for t in (2, 3):
        assert np.shape(answer.values[f"dE{t}/dW"]) == (H, H)
        assert np.shape(answer.values[f"dE{t}/dU"]) == (H, D)
        assert np.all(np.isfinite(answer.values[f"dE{t}/dW"]))


def test_term_by_term_matrices_are_shown(answer):
    titles = [getattr(i, "title", "") for i in answer.items if i.kind == "matrix"]
    # 2 + 2 terms for E_2 and 3 + 3 for E_3, plus the four sums.
    assert sum("term k =" in t for t in titles) == 10
    assert sum("sum of the" in t for t in titles) == 4


def test_every_route_agrees(answer):
    names = [c.name for c in answer.checks]
    for key in ("dE2/dW", "dE2/dU", "dE3/dW", "dE3/dU"):
        for what in ("the seed's formula", "full BPTT", "finite differences"):
            assert any(n.startswith(key) and what in n for n in names), (key, what)
    assert all(c.passed for c in answer.checks), [(c.name, c.error) for c in answer.checks]
    fd = [c for c in answer.checks if "finite differences" in c.name]
    assert all(c.error < 1e-7 for c in fd)


def test_the_losses_are_cross_entropies(answer):
    # E_t = -log O_t[y_t] > 0 for a softmax over C classes; far from 0 and from log C * 10.
    for t in (2, 3):
        assert 0 < answer.values[f"E{t}"] < 10 * np.log(SIZES["C"])


def test_vanishing_and_exploding(answer):
    curves = answer.values["jacobian_norms"]
    assert len(curves) == 7
    small = curves["tanh RNN, spectral radius 0.5"]
    large = curves["tanh RNN, spectral radius 3"]
    lstm = curves["LSTM, forget-gate bias +3"]
    assert len(small) == LAGS + 1 and small[0] == pytest.approx(1.0)  # dS_t/dS_t = I
    assert small[LAGS] < 1e-10 and large[LAGS] > 100  # geometric decay vs growth
    assert small[LAGS] < 1e-6 * lstm[LAGS]  # the open forget gate carries the gradient
    for c in curves.values():
        assert np.all(np.isfinite(c)) and np.all(c > 0)


def test_general_sum_terms_decay(answer):
    norms = np.asarray(answer.values["general_sum_term_norms_W"])
    assert norms.shape == (12,)
    assert norms[0] < norms[-1]  # the oldest step contributes least


def test_part_c_is_honest_and_figure(answer):
    text = " ".join(getattr(i, "text", "") for i in answer.items)
    assert "repeated words" in text
    assert answer.values["repeated_words_experiment"] == "run"
    acc = answer.values["repeated_words_accuracy"]
    assert set(acc) == {"RNN", "LSTM", "GRU"}
    lags = [str(lag) for lag in PART_C["lags"]]
    for cell, per_lag in acc.items():
        assert list(per_lag) == lags
        for lag, v in per_lag.items():
            assert 0.0 <= v <= 1.0
            assert f"{cell} " in text and f"({v:.3f})" in text
    long_lag = lags[-1]
    gap = acc["LSTM"][long_lag] - acc["RNN"][long_lag]
    if gap >= 0.2:
        assert "the measured gap is the one (c) predicts" in text
    else:
        assert "does not show the gap (c) predicts" in text
    plain = answer.values["repeated_words_lstm_without_gate_bias"][long_lag]
    assert "PyTorch's initialisation (no forget-gate bias)" in text and f"({plain:.3f})" in text
    held_out = [i for i in answer.items if i.kind == "table" and "Held-out" in i.title]
    assert len(held_out) == 1
    assert [row[0] for row in held_out[0].rows] == ["RNN", "LSTM", "GRU"]
    assert held_out[0].rows[1][1:] == [acc["LSTM"][lag] for lag in lags]
    part_c = [c for c in answer.checks if c.name.startswith("(c)")]
    assert len(part_c) == 2 and all(c.passed for c in part_c)
    assert [f.name for f in answer.figures] == ["vanishing-gradient", "repeated-words"]
    assert all(f.svg.startswith("<svg") for f in answer.figures)


def _fake_result(accuracy):
    """A repeated-words result with the given held-out accuracy per (cell, lag)."""
    from handgrad.experiments.repeated_words import (
        CellResult,
        RepeatedWordsConfig,
        RepeatedWordsResult,
    )

    cfg = RepeatedWordsConfig(seed=0, **PART_C)
    cells = tuple(
        CellResult(c, lag, accuracy[c][lag], 0.69, (0.69,) * 10, (0.5,) * 10)
        for lag in cfg.lags
        for c in cfg.cells
    )
    return RepeatedWordsResult(cfg, cells)


def test_part_c_wording_follows_the_numbers(monkeypatch):
    # An RNN as good as the LSTM at the long lag, and an LSTM at chance: the text must not claim
    # the gap, and the LSTM check must fail.
    import handgrad.experiments.repeated_words as rw

    lags = PART_C["lags"]
    accuracy = {c: {lag: 0.5 for lag in lags} for c in ("RNN", "LSTM", "GRU")}
    accuracy["RNN"][lags[0]] = 0.95
    monkeypatch.setattr(rw, "run", lambda config, progress=None: _fake_result(accuracy))
    a = solve_question(1, figures=False)
    text = " ".join(getattr(i, "text", "") for i in a.items)
    assert f"at lag {lags[-1]} this run does not show the gap" in text.lower()
    assert "RNN learned it (0.950)" in text and "LSTM stayed at chance (0.500)" in text
    failed = [c.name for c in a.checks if not c.passed]
    assert failed == [f"(c) LSTM held-out accuracy at lag {lags[-1]} is at least 0.75"]


def test_other_seed_also_checks():
    a = solve_question(1, seed=7, figures=False)
    assert a.passed, [(c.name, c.error) for c in a.checks if not c.passed]


def test_wrong_bptt_fails(monkeypatch):
    import handgrad.nn.bptt as bptt

    original = bptt.seed_formula_gradients

    def wrong(*args, **kwargs):
        out = dict(original(*args, **kwargs))
        out["dE3/dW"] = out["dE3/dW"] * 1.01
        return out

    monkeypatch.setattr(bptt, "seed_formula_gradients", wrong)
    a = solve_question(1, figures=False)
    failed = [c.name for c in a.checks if not c.passed]
    assert failed == ["dE3/dW: the seed's formula = sum of the terms"]
