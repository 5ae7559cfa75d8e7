"""The vanishing-gradients experiment: its models, its measurements, its verdict, its resume."""

from __future__ import annotations

import json

import numpy as np
import pytest

from handgrad import nn
from handgrad.experiments.config import resolve_config
from handgrad.experiments.runner import FileCheckpoint, run_experiment
from handgrad.experiments.vanishing_gradients import (
    EXPERIMENT,
    VanishingGradientsConfig,
    _batch,
    _measure,
    build_model,
    curves,
    judge,
    run_unit,
    units,
)
from handgrad.gradcheck import numerical_grad
from handgrad.nn.bptt import jacobian_norms


def test_the_quick_run_shows_vanishing_exploding_and_the_remedies(tmp_path):
    """A reduced --quick run: one seed, two training steps, the models the verdict needs."""
    models = "tanh-0.5,tanh-0.9,tanh-1.5,irnn,lstm-fb0,lstm-fb1"
    config = resolve_config(
        VanishingGradientsConfig,
        quick_overrides=EXPERIMENT.quick,
        overrides=[f"models={models}", "seeds=1", "probe_size=2", "steps=2", "test_size=8"],
    )
    result = run_experiment(EXPERIMENT, config, tmp_path / "run", quick=True)
    table = curves(result.rows)

    def at(model, lag):
        return table[(model, "init")].median_at(lag)  # log10 of the norm

    # The tanh RNN's norm at lag 20 is orders of magnitude below the LSTM-with-bias's:
    # measured 10^-5.9 against 10^-0.9 (about 0.5^20 against 0.73^20 and the gates' terms).
    assert at("lstm-fb1", 20) - at("tanh-0.5", 20) > 4
    assert at("lstm-fb1", 20) - at("lstm-fb0", 20) > 2  # the forget-gate bias
    assert at("tanh-0.5", 100) < -25 and at("tanh-0.9", 100) < -3  # vanishing
    assert at("tanh-1.5", 100) > 1  # exploding (chaotic): above 10 at lag 100
    # identity W with ReLU: d h_t/d h_k is diag(active units), norm exactly 1
    assert np.array_equal(table[("irnn", "init")].median, np.zeros(100))
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["reproduced"] is True and all(summary["measured"]["checks"].values())
    assert summary["experiment"] == "vanishing-gradients"
    # the tidy table: one row per (model, seed, phase, quantity, lag)
    assert len(result.rows["results"]) == 6 * 2 * 2 * 100
    assert {r["phase"] for r in result.rows["results"]} == {"init", "trained"}


def test_models_are_built_as_named():
    config = VanishingGradientsConfig(hidden_size=8)
    rng = np.random.default_rng(0)
    for radius in (0.5, 1.1):
        W = build_model(config, f"tanh-{radius}", rng).params["weight_hh_l0"]
        assert np.max(np.abs(np.linalg.eigvals(W))) == pytest.approx(radius, rel=1e-12)
    irnn = build_model(config, "irnn", rng)
    assert irnn.nonlinearity == "relu"
    assert np.array_equal(irnn.params["weight_hh_l0"], np.eye(8))
    assert not irnn.params["bias_ih_l0"].any() and not irnn.params["bias_hh_l0"].any()
    for bias in (0.0, 1.0, -0.5):
        lstm = build_model(config, f"lstm-fb{bias:g}", rng)
        total = lstm.params["bias_ih_l0"] + lstm.params["bias_hh_l0"]  # gate order i, f, g, o
        assert np.all(total[8:16] == bias)
    assert isinstance(build_model(config, "gru", rng), nn.GRU)


def test_measured_norms_are_the_librarys_and_the_input_gradient_is_right():
    config = VanishingGradientsConfig(hidden_size=3, max_lag=5, probe_size=1)
    rng = np.random.default_rng(4)
    layer = build_model(config, "tanh-0.9", rng)
    head = nn.Linear(3, 2, rng=rng)
    x, y = _batch(config, 1, 5, np.random.default_rng(5))  # (5, 1, 6) one-hot, (1,)
    jac, inp = _measure(config, layer, head, x, y)
    # Jacobian norms: entry j is lag j + 1, i.e. |dS_5/dS_(4 - j)|
    assert np.array_equal(jac, jacobian_norms(layer, x)[::-1][1:, 0])

    def loss(flat):
        from handgrad.losses import softmax_cross_entropy

        out, _ = layer(flat.reshape(x.shape))
        return float(softmax_cross_entropy(head(out[-1]), y))

    dx = numerical_grad(loss, x.ravel())[0].reshape(x.shape)  # (5, 1, 6) central differences
    expected = np.linalg.norm(dx[:, 0], axis=1)[::-1]  # by lag 5 - k, k = 1 .. 5
    np.testing.assert_allclose(inp, expected, rtol=1e-7, atol=1e-12)


class Stop(RuntimeError):
    pass


class StopAfterFirstSave(FileCheckpoint):
    """A checkpoint whose unit is killed right after its first save."""

    def save(self, state):
        super().save(state)
        raise Stop


def test_a_unit_resumed_from_its_checkpoint_ends_bit_for_bit_equal(tmp_path):
    config = VanishingGradientsConfig(
        models=("lstm-fb1",), seeds=1, steps=9, hidden_size=5, max_lag=6, probe_size=2
    )
    unit = units(config)[0]
    assert units(config) == [{"model": "lstm-fb1", "seed": 0}]
    whole = run_unit(config, unit, FileCheckpoint(tmp_path / "a.npz", 4), lambda d, t: None)
    with pytest.raises(Stop):
        run_unit(config, unit, StopAfterFirstSave(tmp_path / "b.npz", 4), lambda d, t: None)
    resumed = run_unit(config, unit, FileCheckpoint(tmp_path / "b.npz", 4), lambda d, t: None)
    assert resumed == whole


def test_judge_states_its_rule_and_names_missing_models():
    config = VanishingGradientsConfig(models=("gru",), seeds=1, max_lag=3)
    rows = {
        "results": [
            {"model": "gru", "seed": 0, "phase": "init", "quantity": "jacobian_norm"}
            | {"lag": lag, "value": 0.5**lag}
            for lag in (1, 2, 3)
        ],
        "training": [],
    }
    verdict = judge(config, rows)
    assert verdict.reproduced is False
    assert "below 1e-3 at lag 3" in verdict.rule and "All must hold" in verdict.rule
    assert any("Not tested" in n and "irnn" in n for n in verdict.notes)
    assert verdict.measured["log10_jacobian_norm_at_lag_3_median_over_seeds"]["gru"][
        "init"
    ] == pytest.approx(3 * np.log10(0.5), rel=1e-12)


def test_the_adding_task_trains_on_the_adding_problem(tmp_path):
    from handgrad.experiments.adding_problem import constant_mse

    config = VanishingGradientsConfig(
        models=("gru",),
        task="adding",
        seeds=1,
        steps=2,
        max_lag=12,
        train_length=11,
        hidden_size=4,
        probe_size=2,
    )
    x, y = _batch(config, 3, 11, np.random.default_rng(0))
    assert x.shape == (11, 3, 2) and y.shape == (3,)  # (value, marker) pairs, one target each
    checkpoint = FileCheckpoint(tmp_path / "u.npz", 50)
    rows = run_unit(config, units(config)[0], checkpoint, lambda d, t: None)
    (training,) = rows["training"]
    assert training["constant_loss"] == constant_mse(11)
    assert np.isfinite(training["test_loss"]) and training["steps"] == 2
    lags = [r["lag"] for r in rows["results"] if r["quantity"] == "jacobian_norm"]
    assert lags == list(range(1, 13)) * 2  # init, then trained
