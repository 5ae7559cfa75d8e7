"""Focal loss vs cross-entropy: the task, the model's backward, the effects, resume, config."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

from handgrad.experiments import focal_vs_ce as FC
from handgrad.experiments.focal_vs_ce import (
    EASY,
    EXPERIMENT,
    HARD,
    MLP,
    POSITIVE,
    FocalVsCEConfig,
    judge,
    loss_settings,
    make_dense_task,
    run_unit,
    units,
)
from unit_checkpoints import Killed, KillingFileCheckpoint

# A reduced set: the smallest foreground fraction only, three seeds (about a second a unit).
SMALL = dict(foreground_fractions=(0.001,), seeds=3)


class Nothing:
    every = 10**9

    def load(self):
        return None

    def save(self, state):
        raise AssertionError("no save expected")


def _unit(cfg, seed=0, **setting):
    base = {"loss": "ce", "gamma": 0.0, "alpha": None, "prior_init": True}
    return {**base, **setting, "foreground_fraction": cfg.foreground_fractions[-1], "seed": seed}


def _run(cfg, seed=0, **setting):
    with threadpool_limits(1):  # as the runner runs a unit
        return run_unit(cfg, _unit(cfg, seed, **setting), Nothing(), lambda d, t: None)


# -- the task ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("f", "share"), [(0.1, 0.1), (0.01, 0.3), (0.001, 0.0), (0.0004, 1.0)])
def test_task_has_the_stated_counts_in_every_image(f, share):
    A = 2000
    task = make_dense_task(5, A, f, share, 6, np.random.default_rng(0))
    assert task.x.shape == (5, A, 6) and task.labels.shape == task.kinds.shape == (5, A)
    P = max(1, round(f * A))  # 200, 20, 2, 1 (0.8 rounds up to the least of 1)
    H = round(share * (A - P))
    for i in range(5):
        assert np.count_nonzero(task.kinds[i] == POSITIVE) == P
        assert np.count_nonzero(task.kinds[i] == HARD) == H
        assert np.count_nonzero(task.kinds[i] == EASY) == A - P - H
    np.testing.assert_array_equal(task.labels, (task.kinds == POSITIVE).astype(np.int8))


def test_task_distributions_are_the_stated_ones():
    task = make_dense_task(20, 2000, 0.1, 0.5, 5, np.random.default_rng(1))
    x, kinds = task.x.reshape(-1, 5), task.kinds.reshape(-1)
    pos, hard, easy = x[kinds == POSITIVE], x[kinds == HARD], x[kinds == EASY]  # 4000, 18000, 18000
    # foreground: N(0, I) in the first two features; mean sd 1/sqrt(4000) = 0.016
    np.testing.assert_allclose(pos[:, :2].mean(axis=0), 0.0, atol=0.08)
    np.testing.assert_allclose(pos[:, :2].std(axis=0), 1.0, atol=0.05)
    # rings: radius N(2.5, 0.5) and N(6, 1); sd of the mean radius 0.004 and 0.008
    r_hard, r_easy = np.hypot(hard[:, 0], hard[:, 1]), np.hypot(easy[:, 0], easy[:, 1])
    assert abs(r_hard.mean() - 2.5) < 0.03 and abs(r_hard.std() - 0.5) < 0.03
    assert abs(r_easy.mean() - 6.0) < 0.05 and abs(r_easy.std() - 1.0) < 0.05
    # uniform angles: each quadrant a quarter of the ring
    assert abs(np.mean((hard[:, 0] > 0) & (hard[:, 1] > 0)) - 0.25) < 0.02
    # the other features are N(0, 1) noise for every kind
    for group in (pos, hard, easy):
        np.testing.assert_allclose(group[:, 2:].mean(axis=0), 0.0, atol=0.08)
        np.testing.assert_allclose(group[:, 2:].std(axis=0), 1.0, atol=0.05)


def test_task_is_deterministic_and_checks_its_arguments():
    a = make_dense_task(2, 100, 0.05, 0.2, 3, np.random.default_rng(3))
    b = make_dense_task(2, 100, 0.05, 0.2, 3, np.random.default_rng(3))
    assert np.array_equal(a.x, b.x) and np.array_equal(a.kinds, b.kinds)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"foreground_fraction must be in \(0.0, 0.5\]; got 0.0"):
        make_dense_task(2, 100, 0.0, 0.2, 3, rng)
    with pytest.raises(ValueError, match="features must be at least 2; got 1"):
        make_dense_task(2, 100, 0.1, 0.2, 1, rng)
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator; got int"):
        make_dense_task(2, 100, 0.1, 0.2, 3, 0)


def test_train_and_test_splits_differ_and_are_shared_by_every_loss():
    cfg = FocalVsCEConfig(**SMALL)
    train, test = FC._task(cfg, 0, 0.001, 0), FC._task(cfg, 0, 0.001, 1)
    assert not np.array_equal(train.x[0], test.x[0])
    assert np.array_equal(FC._task(cfg, 0, 0.001, 1).x, test.x)


# -- the model --------------------------------------------------------------------------------
def test_mlp_backward_equals_torch_autograd():
    rng = np.random.default_rng(5)
    model = MLP(6, 7, -1.5, rng)
    x = rng.normal(size=(40, 6))
    dz = rng.normal(size=40)
    model.zero_grad()
    z = model(x)
    model.backward(dz)
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in model.params.items()}
    tx = torch.tensor(x)
    h = torch.relu(tx @ tp["fc1.weight"].T + tp["fc1.bias"])
    h = torch.relu(h @ tp["fc2.weight"].T + tp["fc2.bias"])
    tz = (h @ tp["fc3.weight"].T + tp["fc3.bias"])[:, 0]
    np.testing.assert_allclose(z, tz.detach().numpy(), rtol=1e-13)
    (tz * torch.tensor(dz)).sum().backward()
    for k, v in tp.items():
        np.testing.assert_allclose(model.grads[k], v.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_last_layer_starts_at_the_prior():
    model = MLP(8, 32, FC._bias0(0.01), np.random.default_rng(0))
    x = make_dense_task(2, 1000, 0.01, 0.1, 8, np.random.default_rng(1)).x.reshape(-1, 8)
    p = 1 / (1 + np.exp(-model(x)))
    assert model.params["fc3.bias"][0] == pytest.approx(-math.log(99), rel=1e-15)
    assert model.params["fc3.weight"].std() < 0.02  # N(0, 0.01^2), RetinaNet's
    assert abs(p.mean() - 0.01) < 0.002


# -- settings and units ---------------------------------------------------------------------
def test_settings_cover_ce_balanced_ce_and_focal():
    cfg = FocalVsCEConfig()
    names = [FC.setting_name(s) for s in loss_settings(cfg)]
    assert names == [
        "ce",
        "ce no prior",
        "balanced_ce a=0.25",
        "balanced_ce a=0.5",
        "balanced_ce a=0.75",
        "focal g=0.5 a=0.25",
        "focal g=1 a=0.25",
        "focal g=2 a=0.25",
        "focal g=5 a=0.25",
        "focal g=2 a=0.5",
        "focal g=2 a=0.75",
    ]
    us = units(cfg)
    assert len(us) == 11 * 3 * 5
    assert {u["foreground_fraction"] for u in us} == {0.1, 0.01, 0.001}
    assert {u["seed"] for u in us} == {0, 1, 2, 3, 4}


def test_settings_feed_the_library_loss():
    # CE is sigmoid_focal_loss with gamma 0 and no alpha; every loss is normalised by positives
    z = np.array([-2.0, 0.5, 1.0, -0.3])
    t = np.array([0, 1, 0, 0], dtype=np.int8)
    loss, g = FC._loss_and_grad(z, t, {"gamma": 0.0, "alpha": None})
    ce = -np.log(1 / (1 + np.exp(-z))) * t - np.log(1 - 1 / (1 + np.exp(-z))) * (1 - t)
    assert loss == pytest.approx(ce.sum() / 1, rel=1e-13)
    p = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(g, p - t, rtol=1e-12)
    loss2, _ = FC._loss_and_grad(z, t, {"gamma": 2.0, "alpha": 0.25})
    a_t = np.where(t == 1, 0.25, 0.75)
    p_t = np.where(t == 1, p, 1 - p)
    assert loss2 == pytest.approx((a_t * (1 - p_t) ** 2 * ce).sum(), rel=1e-12)


# -- the effects on a reduced set ---------------------------------------------------------
@pytest.fixture(scope="module")
def small_units():
    cfg = FocalVsCEConfig(**SMALL)
    runs = {"ce no prior": _run(cfg, prior_init=False)}
    for s in range(cfg.seeds):
        runs[f"ce {s}"] = _run(cfg, s)
        runs[f"focal {s}"] = _run(cfg, s, loss="focal", gamma=2.0, alpha=0.25)
    return cfg, runs


def test_focal_beats_ce_at_the_smallest_foreground_fraction(small_units):
    # 3 seeds at foreground fraction 0.001: step AP 0.40, 0.40, 0.50 (CE) against 0.44, 0.42,
    # 0.50 (focal gamma 2, alpha 0.25), 256 test positives each
    cfg, runs = small_units
    for column in ("ap", "ap_coco"):
        ce = [runs[f"ce {s}"]["results"][0][column] for s in range(cfg.seeds)]
        focal = [runs[f"focal {s}"]["results"][0][column] for s in range(cfg.seeds)]
        assert np.mean(focal) > np.mean(ce) + 0.01, column
    assert runs["ce 0"]["results"][0]["positives"] == 256  # 256 test images x 1 positive


def test_ce_without_the_prior_spikes_early_and_fails(small_units):
    _, runs = small_units
    no_prior, prior = runs["ce no prior"]["results"][0], runs["ce 0"]["results"][0]
    # first loss: about ln 2 per anchor over 1 positive per image = 4 x 1000 x 0.69 / 4 = 693
    # (the logits start near 0, not at 0: last weights N(0, 0.01^2))
    assert no_prior["first_loss"] == pytest.approx(4 * 1000 * math.log(2) / 4, rel=0.05)
    rebounds = [runs[f"ce {s}"]["results"][0]["early_rebound"] for s in range(3)]
    assert no_prior["early_rebound"] >= FC.REBOUND > max(rebounds)
    assert not no_prior["diverged"] and not prior["diverged"]
    assert no_prior["ap"] < 0.5 * prior["ap"]


def test_easy_negatives_carry_most_of_ce_and_little_of_focal(small_units):
    _, runs = small_units
    shares = {(r["gamma"], r["kind"]): r["share"] for r in runs["focal 0"]["loss_share"]}
    assert shares[(0.0, "easy_negative")] > 20 * shares[(2.0, "easy_negative")]
    for g in (0.0, 0.5, 1.0, 2.0):
        assert sum(shares[(g, k)] for k in FC.KIND_NAMES) == pytest.approx(1.0, rel=1e-12)


def test_cumulative_loss_curves_are_normalised(small_units):
    cfg, runs = small_units
    rows = runs["focal 0"]["loss_cdf"]
    assert len(rows) == len(cfg.cdf_gammas) * 2 * FC.CDF_POINTS
    for g in cfg.cdf_gammas:
        for group in ("positive", "negative"):
            curve = [r["cumulative_loss"] for r in rows if r["gamma"] == g and r["group"] == group]
            assert curve[0] == 0.0 and curve[-1] == pytest.approx(1.0, rel=1e-12)
            assert np.all(np.diff(curve) >= 0)
    assert "loss_cdf" not in runs["ce 0"]  # only the paper's model (gamma 2, alpha 0.25) has them


def test_rows_carry_the_unit_and_every_step(small_units):
    cfg, runs = small_units
    r = runs["ce 0"]["results"][0]
    assert {k: r[k] for k in ("loss", "gamma", "prior_init", "foreground_fraction", "seed")} == {
        "loss": "ce",
        "gamma": 0.0,
        "prior_init": True,
        "foreground_fraction": 0.001,
        "seed": 0,
    }
    assert math.isnan(r["alpha"])
    assert r["steps_done"] == cfg.steps
    assert [t["step"] for t in runs["ce 0"]["training"]] == list(range(1, cfg.steps + 1))
    assert r["easy_negative_share"] + r["hard_negative_share"] + r["positive_share"] == (
        pytest.approx(1.0, rel=1e-12)
    )


# -- resume ---------------------------------------------------------------------------------
def test_resume_after_kill_equals_an_uninterrupted_run(tmp_path):
    cfg = FocalVsCEConfig(**{**SMALL, "steps": 25, "train_images": 8, "test_images": 4})
    unit = _unit(cfg, 1, loss="focal", gamma=1.0, alpha=0.25)
    calls = []
    with threadpool_limits(1):
        whole = run_unit(cfg, unit, KillingFileCheckpoint(tmp_path / "a.npz", 7), lambda d, t: None)
        cp = KillingFileCheckpoint(tmp_path / "b.npz", every=7, kill_after=2)
        with pytest.raises(Killed):
            run_unit(cfg, unit, cp, lambda d, t: None)
        assert cp.saved == [7, 14]
        resumed = run_unit(
            cfg, unit, KillingFileCheckpoint(tmp_path / "b.npz", 7), lambda d, t: calls.append(d)
        )
    assert resumed == whole  # bit for bit
    assert calls[0] == 14 and calls[-1] == 25


def test_divergence_stops_training_and_keeps_finite_parameters():
    # lr 1e6 blows the parameters up at once: training stops, the evaluation still runs
    cfg = FocalVsCEConfig(**{**SMALL, "steps": 20, "lr": 1e6, "train_images": 4, "test_images": 4})
    rows = _run(cfg, prior_init=False)
    r = rows["results"][0]
    assert r["diverged"] is True and r["steps_done"] < 20
    assert math.isfinite(r["ap"])


# -- the verdict ----------------------------------------------------------------------------
def _synthetic_rows(cfg, ap):
    rows = {"results": [], "loss_share": []}
    for f in cfg.foreground_fractions:
        for s in range(cfg.seeds):
            for st in loss_settings(cfg):
                name = FC.setting_name(
                    {**st, "alpha": float("nan") if st["alpha"] is None else st["alpha"]}
                )
                rows["results"].append(
                    {
                        **st,
                        "alpha": float("nan") if st["alpha"] is None else st["alpha"],
                        "foreground_fraction": f,
                        "seed": s,
                        "ap": ap(name, f, s),
                        "ap_coco": ap(name, f, s),
                        "diverged": False,
                        "early_rebound": 3.0 if name == "ce no prior" else 1.2,
                    }
                )
    return rows


def test_judge_holds_when_every_finding_holds_and_fails_otherwise():
    cfg = FocalVsCEConfig(seeds=3)

    def ap(name, f, s):  # focal gamma 2 best; its gain over CE grows as f falls
        base = 0.5 + 0.01 * s
        if name == "focal g=2 a=0.25":
            return base + 0.1 * (-math.log10(f))
        return base

    verdict = judge(cfg, _synthetic_rows(cfg, ap))
    assert verdict.reproduced, verdict.measured["findings"]
    assert verdict.measured["best_at_smallest_fraction"] == "focal g=2 a=0.25"
    gains = verdict.measured["focal_minus_ce_ap_by_fraction"]
    assert gains == pytest.approx({"0.1": 0.1, "0.01": 0.2, "0.001": 0.3})

    def ap_dip(noise):  # gains 0.01, 0.01 - dip (+- noise by seed), 0.1
        def ap(name, f, s):
            if name != "focal g=2 a=0.25":
                return 0.5
            wiggle = noise * (s - 1)  # seeds 0, 1, 2: -noise, 0, +noise
            return 0.5 + {0.1: 0.01, 0.01: 0.005 + wiggle, 0.001: 0.1}[f]

        return ap

    gain = "the gain of focal over CE grows with imbalance"
    # a dip of 0.005 with a standard error of 0.01 / sqrt(3) = 0.0058: within noise
    assert judge(cfg, _synthetic_rows(cfg, ap_dip(0.01))).measured["findings"][gain] is True
    # the same dip with no spread across seeds: a real decrease
    assert judge(cfg, _synthetic_rows(cfg, ap_dip(0.0))).measured["findings"][gain] is False

    def ap_flat(name, f, s):  # gamma 5 clearly best, no gain growth
        return 0.9 if name == "focal g=5 a=0.25" else 0.5 + 0.01 * s

    verdict = judge(cfg, _synthetic_rows(cfg, ap_flat))
    f = verdict.measured["findings"]
    assert f["gamma = 2 with alpha = 0.25 works best"] is False
    assert f["the gain of focal over CE grows with imbalance"] is False
    assert f["CE without the prior initialisation is unstable early in training"] is True
    assert not verdict.reproduced


# -- config and figures -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"foreground_fractions": ()}, ValueError, "foreground_fractions must hold at least one"),
        ({"foreground_fractions": (0.1, 0.7)}, ValueError, r"foreground_fractions\[1\] must be in"),
        ({"foreground_fractions": (0.1, 0.1)}, ValueError, "foreground_fractions must be distinct"),
        ({"foreground_fractions": "0.1"}, TypeError, "foreground_fractions must be a sequence"),
        ({"hard_negative_share": 1.5}, ValueError, r"hard_negative_share must be in \[0.0, 1.0\]"),
        ({"anchors_per_image": 0}, ValueError, "anchors_per_image must be a positive integer"),
        ({"features": 1}, ValueError, "features must be at least 2; got 1"),
        ({"hidden": 3.0}, TypeError, "hidden must be an integer"),
        ({"prior": 1.0}, ValueError, r"prior must be in \(0.0, 1.0\); got 1.0"),
        ({"gammas": (2.0, -1.0)}, ValueError, r"gammas\[1\] must be in \[0.0, inf\)"),
        ({"focal_alpha": 2.0}, ValueError, "focal_alpha must be in"),
        ({"alphas": (0.25, None)}, TypeError, r"alphas\[1\] must be a real number"),
        ({"cdf_gammas": (0.0, 0.0)}, ValueError, "cdf_gammas must be distinct"),
        ({"steps": 0}, ValueError, "steps must be a positive integer; got 0"),
        ({"batch_images": 100}, ValueError, "batch_images must be at most train_images"),
        ({"lr": 0.0}, ValueError, r"lr must be in \(0.0, inf\)"),
        ({"momentum": 1.0}, ValueError, r"momentum must be in \[0.0, 1.0\)"),
        ({"weight_decay": float("inf")}, ValueError, "weight_decay must be a finite number"),
        ({"early_steps": 0}, ValueError, "early_steps must be a positive integer"),
        ({"seeds": 0}, ValueError, "seeds must be a positive integer"),
        ({"seed": -2}, ValueError, "seed must be a non-negative integer; got -2"),
    ],
)
def test_bad_config_values_name_the_key(changes, error, message):
    with pytest.raises(error, match=message):
        FocalVsCEConfig(**changes)


def test_figures_draw_each_setting(small_units):
    cfg, runs = small_units
    rows = {}
    for r in runs.values():
        for k, v in r.items():
            rows.setdefault(k, []).extend(v)
    figs = EXPERIMENT.figures(cfg, rows)
    assert set(figs) == {"ap_vs_imbalance", "loss_cdf", "ce_stability"}
    ax_step = figs["ap_vs_imbalance"].axes[0]
    assert {t.get_text() for t in figs["ap_vs_imbalance"].axes[1].get_legend().get_texts()} == {
        "ce",
        "ce no prior",
        "focal g=2 a=0.25",
    }
    assert len(ax_step.containers) == 3  # one error-bar line per setting
    left, right = figs["loss_cdf"].axes[:2]
    assert len(left.get_lines()) == len(right.get_lines()) == len(cfg.cdf_gammas)
    (ax,) = [a for a in figs["ce_stability"].axes if a.get_lines()]
    # no prior (1 seed), prior (3 seeds) and the dotted line at early_steps
    assert ax.get_yscale() == "log" and len(ax.get_lines()) == 1 + 3 + 1


def test_experiment_contract():
    assert EXPERIMENT.name == "focal-vs-ce"
    assert EXPERIMENT.config_type is FocalVsCEConfig
    assert "Lin" in EXPERIMENT.reference and "ICCV 2017" in EXPERIMENT.reference
    quick = FocalVsCEConfig(**EXPERIMENT.quick)
    assert len(units(quick)) == 7 * 3 * 2  # the alpha sweep at 0.25 only, 2 seeds
