"""The repeated-words experiment (Q1(c)): its data, its determinism, its training, its checks."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from handgrad.experiments.repeated_words import (
    CELLS,
    RepeatedWordsConfig,
    RepeatedWordsResult,
    _build,
    make_repeated_words,
    run,
)

TINY = dict(lags=(1, 3), steps=6, hidden_size=4, batch_size=4, test_size=16, curve_points=3)


def _brute_force_label(seq):
    """1 when the last token occurred anywhere before it in the sequence (a plain loop)."""
    last = seq[-1]
    for tok in seq[:-1]:
        if tok == last:
            return 1
    return 0


@pytest.mark.parametrize(
    ("lag", "num_words", "num_distractors", "seed"),
    [(1, 2, 1, 0), (2, 2, 4, 1), (5, 3, 2, 2), (10, 4, 4, 3), (20, 7, 1, 4)],
)
def test_labels_are_right_by_brute_force(lag, num_words, num_distractors, seed):
    n = 300
    tokens, labels = make_repeated_words(
        n, lag, num_words, num_distractors, np.random.default_rng(seed)
    )
    assert tokens.shape == (lag + 1, n) and labels.shape == (n,)
    assert tokens.dtype == np.int64 and labels.dtype == np.int64
    for i in range(n):
        seq = [int(t) for t in tokens[:, i]]
        assert labels[i] == _brute_force_label(seq)
        # the repeat, when there is one, is exactly `lag` steps back
        assert labels[i] == int(seq[-1] == seq[-1 - lag])
        # words at both ends, distractors (never words) in between
        assert 0 <= seq[0] < num_words and 0 <= seq[-1] < num_words
        assert all(num_words <= t < num_words + num_distractors for t in seq[1:-1])


def test_labels_are_balanced_and_every_token_is_drawn():
    n, K, M = 4000, 3, 5
    tokens, labels = make_repeated_words(n, 6, K, M, np.random.default_rng(11))
    # Bernoulli(1/2) over 4000 draws: sd = 0.5 / sqrt(4000) = 0.0079; 0.04 is five sd.
    assert abs(labels.mean() - 0.5) < 0.04
    assert set(np.unique(tokens[0])) == set(range(K))
    assert set(np.unique(tokens[1:-1])) == set(range(K, K + M))
    # A non-repeated query is a different word, uniform over the other K - 1 = 2 words.
    neg = labels == 0
    offsets = (tokens[-1, neg] - tokens[0, neg]) % K
    assert set(np.unique(offsets)) == {1, 2}
    assert abs(np.mean(offsets == 1) - 0.5) < 0.06


def test_generator_is_deterministic_in_its_rng():
    a = make_repeated_words(50, 4, 2, 3, np.random.default_rng(5))
    b = make_repeated_words(50, 4, 2, 3, np.random.default_rng(5))
    c = make_repeated_words(50, 4, 2, 3, np.random.default_rng(6))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_generator_rejects_bad_arguments():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="lag must be a positive integer; got 0"):
        make_repeated_words(4, 0, 2, 1, rng)
    with pytest.raises(ValueError, match="num_words must be at least 2; got 1"):
        make_repeated_words(4, 2, 1, 1, rng)
    with pytest.raises(ValueError, match="n must be a positive integer"):
        make_repeated_words(0, 2, 2, 1, rng)
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator; got int"):
        make_repeated_words(4, 2, 2, 1, 0)


@pytest.fixture(scope="module")
def tiny():
    return run(RepeatedWordsConfig(**TINY))


def test_tiny_run_returns_sane_values(tiny):
    cfg = tiny.config
    assert [(r.cell, r.lag) for r in tiny.results] == [(c, lag) for lag in cfg.lags for c in CELLS]
    for r in tiny.results:
        assert 0.0 <= r.test_accuracy <= 1.0
        # accuracy is a count of 16 held-out sequences
        assert r.test_accuracy * 16 == pytest.approx(round(r.test_accuracy * 16))
        assert math.isfinite(r.test_loss) and r.test_loss > 0
        assert len(r.train_loss) == len(r.train_accuracy) == 3
        assert all(0.0 <= a <= 1.0 for a in r.train_accuracy)
        assert all(math.isfinite(v) and v > 0 for v in r.train_loss)
    table = tiny.accuracy_table()
    assert table.shape == (3, 2)
    assert table[1, 1] == tiny.get("LSTM", 3).test_accuracy
    assert tiny.chance == 0.5


def test_run_is_deterministic_in_its_seed(tiny):
    again = run(RepeatedWordsConfig(**TINY))
    assert again == tiny
    other = run(RepeatedWordsConfig(**{**TINY, "seed": 1}))
    assert other.results != tiny.results


def test_one_cell_alone_gets_the_same_numbers(tiny):
    # Seeds derive from (seed, lag, cell), so dropping cells and lags changes nothing else.
    alone = run(RepeatedWordsConfig(**{**TINY, "cells": ("GRU",), "lags": (3,)}))
    assert alone.results == (tiny.get("GRU", 3),)


def test_progress_counts_every_step():
    calls = []
    run(RepeatedWordsConfig(**{**TINY, "steps": 3}), progress=lambda d, t: calls.append((d, t)))
    total = 3 * 2 * 3  # steps * lags * cells
    assert calls == [(k, total) for k in range(1, total + 1)]


def test_lstm_learns_the_short_lag():
    # 200 steps, H = 8: every seed tried (0..11) reaches 1.0 held-out accuracy; chance is 0.5.
    cfg = RepeatedWordsConfig(
        lags=(2,), cells=("LSTM",), steps=200, hidden_size=8, batch_size=16, test_size=256
    )
    r = run(cfg).get("LSTM", 2)
    assert r.test_accuracy > 0.9
    assert r.train_loss[-1] < 0.5 * r.train_loss[0]


def test_gate_bias_shifts_only_the_forget_and_update_gates():
    H = 5
    for cell in CELLS:
        base = _build(RepeatedWordsConfig(hidden_size=H, gate_bias=0.0), cell, 2)[0]
        shifted = _build(RepeatedWordsConfig(hidden_size=H, gate_bias=1.5), cell, 2)[0]
        for name, value in shifted.params.items():
            diff = value - base.params[name]
            if cell != "RNN" and name == "bias_ih_l0":
                expected = np.zeros_like(diff)
                expected[H : 2 * H] = 1.5  # LSTM gates (i, f, g, o), GRU (r, z, n): block 1
                np.testing.assert_allclose(diff, expected, rtol=0, atol=1e-15)
            else:
                assert np.all(diff == 0), (cell, name)


def test_as_dict_is_json(tiny):
    d = json.loads(json.dumps(tiny.as_dict()))
    assert d["config"]["lags"] == [1, 3] and d["chance"] == 0.5
    assert len(d["results"]) == 6
    assert d["results"][0]["test_accuracy"] == tiny.results[0].test_accuracy


def test_get_unknown_pair(tiny):
    with pytest.raises(KeyError, match="cell='LSTM', lag=7"):
        tiny.get("LSTM", 7)


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"lags": ()}, ValueError, "lags must hold at least one lag"),
        ({"lags": (2, 0)}, ValueError, r"lags\[1\] must be a positive integer; got 0"),
        ({"lags": (2, 2)}, ValueError, r"lags must be distinct; got \(2, 2\)"),
        ({"lags": "2,5"}, TypeError, "lags must be a sequence of integers; got str"),
        ({"lags": (2.5,)}, TypeError, r"lags\[0\] must be an integer; got"),
        ({"cells": ("LSTM", "TCN")}, ValueError, r"cells\[1\] must be one of 'RNN', 'LSTM', 'GRU'"),
        ({"cells": ()}, ValueError, "cells must name at least one"),
        ({"num_words": 1}, ValueError, "num_words must be at least 2; got 1"),
        ({"num_distractors": 0}, ValueError, "num_distractors must be a positive integer"),
        ({"steps": 0}, ValueError, "steps must be a positive integer; got 0"),
        ({"hidden_size": 2.0}, TypeError, "hidden_size must be an integer"),
        ({"lr": 0.0}, ValueError, r"lr must be in \(0.0, inf\); got 0.0"),
        ({"lr": float("nan")}, ValueError, "lr must be a finite number"),
        ({"max_grad_norm": -1.0}, ValueError, "max_grad_norm must be in"),
        ({"gate_bias": "2"}, TypeError, "gate_bias must be a real number; got str"),
        ({"lr": None}, TypeError, "lr must be a real number; got NoneType"),
        ({"gate_bias": float("inf")}, ValueError, "gate_bias must be a finite number"),
        ({"curve_points": 0}, ValueError, "curve_points must be a positive integer; got 0"),
        ({"seed": -1}, ValueError, "seed must be a non-negative integer; got -1"),
        ({"seed": 1.5}, TypeError, "seed must be an integer; got float"),
    ],
)
def test_bad_config_values_get_clear_errors(changes, error, message):
    with pytest.raises(error, match=message):
        RepeatedWordsConfig(**changes)


def test_run_rejects_a_non_config():
    with pytest.raises(TypeError, match="config must be a RepeatedWordsConfig; got dict"):
        run(TINY)  # type: ignore[arg-type]


def test_curve_points_beyond_steps_keep_every_step():
    r = run(RepeatedWordsConfig(**{**TINY, "steps": 2, "curve_points": 10, "lags": (1,)}))
    assert all(len(c.train_loss) == 2 for c in r.results)


def test_a_single_cell_name_is_accepted():
    assert RepeatedWordsConfig(cells="LSTM").cells == ("LSTM",)


def test_figure_draws_accuracy_per_cell(tiny):
    from handgrad.experiments.plots import repeated_words_figure

    fig = repeated_words_figure(tiny)
    (ax,) = fig.axes
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert set(lines) == {"RNN", "LSTM", "GRU", "chance"}
    for cell in CELLS:
        assert list(lines[cell].get_xdata()) == [1, 3]
        assert list(lines[cell].get_ydata()) == [
            tiny.get(cell, 1).test_accuracy,
            tiny.get(cell, 3).test_accuracy,
        ]
    assert list(lines["chance"].get_ydata()) == [0.5, 0.5]
    with pytest.raises(TypeError, match="result must be a RepeatedWordsResult"):
        repeated_words_figure({"results": []})  # type: ignore[arg-type]
    assert isinstance(tiny, RepeatedWordsResult)


# -- under the runner -------------------------------------------------------------------------
def test_units_give_the_numbers_of_run(tiny, tmp_path):
    from handgrad.experiments.repeated_words import EXPERIMENT, units
    from handgrad.experiments.runner import run_experiment

    config = RepeatedWordsConfig(**TINY)
    assert units(config) == [{"lag": lag, "cell": c} for lag in (1, 3) for c in CELLS]
    result = run_experiment(EXPERIMENT, config, tmp_path / "run")
    got = [
        (r["cell"], r["lag"], r["test_accuracy"], r["test_loss"]) for r in result.rows["results"]
    ]
    assert got == [(r.cell, r.lag, r.test_accuracy, r.test_loss) for r in tiny.results]
    curve = [r for r in result.rows["curves"] if (r["cell"], r["lag"]) == ("GRU", 3)]
    assert [r["train_loss"] for r in curve] == list(tiny.get("GRU", 3).train_loss)
    assert [r["train_accuracy"] for r in curve] == list(tiny.get("GRU", 3).train_accuracy)


class _Stop(RuntimeError):
    pass


def test_a_unit_resumed_from_its_checkpoint_ends_bit_for_bit_equal(tmp_path):
    from handgrad.experiments.repeated_words import run_unit
    from handgrad.experiments.runner import FileCheckpoint

    class StopAfterFirstSave(FileCheckpoint):
        def save(self, state):
            super().save(state)
            raise _Stop

    config = RepeatedWordsConfig(**{**TINY, "steps": 11})
    unit = {"lag": 3, "cell": "LSTM"}
    whole = run_unit(config, unit, FileCheckpoint(tmp_path / "a.npz", 4), lambda d, t: None)
    with pytest.raises(_Stop):
        run_unit(config, unit, StopAfterFirstSave(tmp_path / "b.npz", 4), lambda d, t: None)
    resumed = run_unit(config, unit, FileCheckpoint(tmp_path / "b.npz", 4), lambda d, t: None)
    assert resumed == whole


def _rows(accuracy):
    return {
        "results": [
            {"cell": c, "lag": 20, "test_accuracy": a, "test_loss": 0.5}
            for c, a in accuracy.items()
        ]
    }


@pytest.mark.parametrize(
    ("accuracy", "reproduced"),
    [
        ({"RNN": 0.52, "LSTM": 1.0, "GRU": 0.8}, True),
        ({"RNN": 0.52, "LSTM": 1.0, "GRU": 0.7}, False),  # the GRU below 0.75
        ({"RNN": 0.65, "LSTM": 1.0, "GRU": 1.0}, False),  # the RNN not at chance
        ({"RNN": 0.45, "LSTM": 0.99}, True),
        ({"LSTM": 1.0, "GRU": 1.0}, False),  # no RNN: not tested
    ],
)
def test_judge_rule(accuracy, reproduced):
    from handgrad.experiments.repeated_words import judge

    config = RepeatedWordsConfig(lags=(20,), cells=tuple(accuracy))
    verdict = judge(config, _rows(accuracy))
    assert verdict.reproduced is reproduced
    assert "within 0.1 of chance (0.5)" in verdict.rule and "at least 0.75" in verdict.rule
    assert verdict.measured["test_accuracy"]["LSTM"]["20"] == accuracy["LSTM"]


def test_the_quick_run_shows_the_gated_cells_keeping_the_long_lag(tmp_path):
    """The quick run's longest lag alone: the RNN at chance, the LSTM and the GRU far above."""
    from handgrad.experiments.config import resolve_config
    from handgrad.experiments.repeated_words import EXPERIMENT
    from handgrad.experiments.runner import run_experiment

    config = resolve_config(
        RepeatedWordsConfig, quick_overrides=EXPERIMENT.quick, overrides=["lags=20"]
    )
    result = run_experiment(EXPERIMENT, config, tmp_path / "run", quick=True)
    accuracy = {r["cell"]: r["test_accuracy"] for r in result.rows["results"]}
    assert abs(accuracy["RNN"] - 0.5) < 0.1  # measured 0.512 (sd of chance 0.022)
    assert accuracy["LSTM"] >= 0.9 and accuracy["GRU"] >= 0.9  # measured 1.0 and 1.0
    assert result.verdict.reproduced is True
    assert (tmp_path / "run" / "accuracy_vs_lag.png").is_file()
