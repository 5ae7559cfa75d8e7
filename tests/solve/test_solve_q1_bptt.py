"""Q1 (a): the seed's BPTT gradients term by term and the general sum; and Q1's whole answer
(parts (b) and (c) alone are tested in test_solve_q1_vanishing.py and test_solve_q1_long_term.py)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from handgrad.solve import q1_bptt as q1
from handgrad.solve import solve_question
from handgrad.solve.q1_bptt import SIZES
from handgrad.solve.q1_long_term import PART_C
from handgrad.solve.q1_vanishing import LAGS
from solve.solve_html import check_formulas


@pytest.fixture(scope="module")
def result(q1_result):
    return q1_result


@pytest.fixture(scope="module")
def answer(result):
    return q1.render(result, q1.checks(result), figures=True)


# ---------------------------------------------------------------------------------------- (a) alone


@pytest.fixture(scope="module")
def part_a():
    return q1.compute_a(np.random.default_rng(3))


def test_compute_a_gradients_by_every_route(part_a):
    H, D = SIZES["H"], SIZES["D"]
    assert [g.key for g in part_a.gradients] == ["dE2/dW", "dE2/dU", "dE3/dW", "dE3/dU"]
    for g in part_a.gradients:
        t = int(g.key[2])
        assert g.terms.shape == (t, H, H if g.key.endswith("W") else D)
        for route in (g.seed_formula, g.full_bptt, g.finite_differences):
            np.testing.assert_allclose(route, g.total, rtol=0, atol=1e-8)
    # dE_t/dU = sum_k delta_k I_k^T with one-hot I_k: only the columns of the words seen by step t
    # are non-zero.
    inputs = part_a.model.inputs  # (T, D)
    for g in part_a.gradients[1::2]:
        t = int(g.key[2])
        unseen = inputs[:t].sum(axis=0) == 0  # (D,)
        assert np.all(g.total[:, unseen] == 0) and np.all(g.total[:, ~unseen] != 0)
    assert part_a.long_terms.weight_hh.shape == (q1.LONG_T, H, H)
    assert part_a.long_full.shape == (H * H + H * D,)


def test_checks_a_fail_where_one_route_is_perturbed(part_a):
    assert all(c.passed for c in q1.checks_a(part_a))
    g = part_a.gradients[1]  # dE2/dU
    fd = g.finite_differences.copy()
    fd[0, 0] += 1e-6 * np.abs(g.total).max()
    wrong = replace(
        part_a,
        gradients=(part_a.gradients[0], replace(g, finite_differences=fd), *part_a.gradients[2:]),
    )
    failed = [c.name for c in q1.checks_a(wrong) if not c.passed]
    assert failed == ["dE2/dU: sum of the terms = finite differences"]
    long = replace(part_a, long_full=part_a.long_full * (1 + 1e-10))
    failed = [c.name for c in q1.checks_a(long) if not c.passed]
    assert failed == [f"E_{q1.LONG_T}: the {q1.LONG_T} terms for W and U add up to full BPTT"]


def test_wrong_bptt_fails(monkeypatch):
    import handgrad.nn.bptt as bptt

    original = bptt.seed_formula_gradients

    def wrong(*args, **kwargs):
        out = dict(original(*args, **kwargs))
        out["dE3/dW"] = out["dE3/dW"] * 1.01
        return out

    monkeypatch.setattr(bptt, "seed_formula_gradients", wrong)
    part_a = q1.compute_a(np.random.default_rng(0))
    failed = [c.name for c in q1.checks_a(part_a) if not c.passed]
    assert failed == ["dE3/dW: the seed's formula = sum of the terms"]


# ------------------------------------------------------------------------------ the whole answer


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


def test_formulas_are_typeset(answer):
    # Part (c)'s experiment is a description, not a formula: it stays a monospace block.
    check_formulas(answer, plain=("(c) The experiment (handgrad.experiments.repeated_words)",))
    seed_formulas = next(i for i in answer.items if i.title.startswith("(a) The seed's gradients"))
    assert (
        r"$\frac{\partial E_2}{\partial W} = d_2 H_1^\top + (W^\top d_2 \odot (1 - H_1^2)) H_0^\top$"
        in seed_formulas.tex.split("\n")
    )


def test_other_seed_also_checks():
    a = solve_question(1, seed=7, figures=False)
    assert a.passed, [(c.name, c.error) for c in a.checks if not c.passed]
