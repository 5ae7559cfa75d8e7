"""Q1 (c): the repeated-words run, worded from its numbers and checked (a fake run where the
wording or the checks must follow other numbers)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from handgrad.experiments.repeated_words import (
    CellResult,
    RepeatedWordsConfig,
    RepeatedWordsResult,
)
from handgrad.solve.model import Answer
from handgrad.solve.q1_long_term import LSTM_FLOOR, PART_C, checks_c, compute_c, render_c

LAGS = PART_C["lags"]
LONG = LAGS[-1]
FLOOR_CHECK = f"(c) LSTM held-out accuracy at lag {LONG} is at least {LSTM_FLOOR}"
SAME_SEED_CHECK = f"(c) LSTM at lag {LONG}: held-out accuracy, loss and training curve"


def _fake_result(accuracy):
    """A repeated-words result with the given held-out accuracy per (cell, lag)."""
    cfg = RepeatedWordsConfig(seed=0, **PART_C)
    cells = tuple(
        CellResult(c, lag, accuracy[c][lag], 0.69, (0.69,) * 10, (0.5,) * 10)
        for lag in cfg.lags
        for c in cfg.cells
    )
    return RepeatedWordsResult(cfg, cells)


def _fake_part(monkeypatch, accuracy):
    import handgrad.experiments.repeated_words as rw

    monkeypatch.setattr(rw, "run", lambda config, progress=None: _fake_result(accuracy))
    return compute_c(0)


def _text(a: Answer) -> str:
    return " ".join(getattr(i, "text", "") for i in a.items)


def test_part_c_wording_follows_the_numbers(monkeypatch):
    # An RNN as good as the LSTM at the long lag, and an LSTM at chance: the text must not claim
    # the gap, and the LSTM check must fail.
    accuracy = {c: {lag: 0.5 for lag in LAGS} for c in ("RNN", "LSTM", "GRU")}
    accuracy["RNN"][LAGS[0]] = 0.95
    part = _fake_part(monkeypatch, accuracy)
    a = Answer(1, "Q1")
    render_c(a, part, figures=False)
    text = _text(a)
    assert f"at lag {LONG} this run does not show the gap" in text.lower()
    assert "RNN learned it (0.950)" in text and "LSTM stayed at chance (0.500)" in text
    failed = [c.name for c in checks_c(part) if not c.passed]
    assert failed == [FLOOR_CHECK]


def test_part_c_wording_claims_the_gap_only_when_measured(monkeypatch):
    # LSTM 0.8 vs RNN 0.55 at the long lag: a gap of 0.25 >= 0.2, and 0.8 >= the floor 0.75.
    accuracy = {c: {lag: 1.0 for lag in LAGS} for c in ("RNN", "LSTM", "GRU")}
    accuracy["RNN"][LONG], accuracy["LSTM"][LONG] = 0.55, 0.8
    part = _fake_part(monkeypatch, accuracy)
    a = Answer(1, "Q1")
    render_c(a, part, figures=False)
    text = _text(a)
    assert f"So at lag {LONG} the measured gap is the one (c) predicts" in text
    assert "LSTM learned it partly (0.800)" in text and "RNN stayed at chance (0.550)" in text
    assert all(c.passed for c in checks_c(part))


@pytest.fixture(scope="module")
def part(q1_result):
    return q1_result.c  # compute_c(0), run once for the tests of Q1


def test_compute_c_runs_the_experiment(part):
    assert part.config.lags == LAGS and part.long_lag == LONG
    assert part.result.accuracy_table().shape == (3, len(LAGS))
    lstm = part.result.get("LSTM", LONG)
    # The LSTM alone from the same seed reproduces the run exactly.
    assert part.alone == lstm
    assert 0.0 <= part.without_gate_bias.test_accuracy <= 1.0


def test_checks_c_fail_where_the_result_is_perturbed(part):
    assert all(c.passed for c in checks_c(part))
    drift = replace(part, alone=replace(part.alone, test_loss=part.alone.test_loss + 1e-12))
    assert [c.name for c in checks_c(drift) if not c.passed] == [SAME_SEED_CHECK]


def test_render_c_and_figure(part):
    a = Answer(1, "Q1")
    render_c(a, part, figures=True)
    assert [f.name for f in a.figures] == ["repeated-words"]
    assert set(a.values["repeated_words_accuracy"]) == {"RNN", "LSTM", "GRU"}
    assert a.checks == []  # render adds what it is given, and part (c) gives none
