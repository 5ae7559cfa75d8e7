r"""Focal loss against cross-entropy as the foreground fraction falls (Lin et al., ICCV 2017).

The task and the model
----------------------
A dense, detection-like binary task: images of anchors, a fraction ``foreground_fraction`` of
them foreground (a disk), the background hard (a ring around it) or easy (a far ring); and an MLP
D -> ``hidden`` -> ``hidden`` -> 1 with ReLUs and a hand-written backward, its last bias at
RetinaNet's prior initialisation (or 0 "without the prior"). Both are described in, and live in,
:mod:`handgrad.experiments.focal_data`; the verdict is in :mod:`handgrad.experiments.focal_verdict`.

The losses (all :func:`~handgrad.losses.sigmoid_focal_loss` with ``reduction="normalized"``:
the sum over the batch's anchors divided by its number of positives, as RetinaNet)
------------------------------------------------------------------------------------------
* ``ce``: cross-entropy (gamma = 0, no alpha weighting), with and without the prior;
* ``balanced_ce``: alpha-balanced cross-entropy, gamma = 0, for each alpha of ``alphas``;
* ``focal``: gamma in ``gammas`` at alpha = ``focal_alpha``, and gamma = 2 for each alpha of
  ``alphas``.

Training: ``steps`` steps of :class:`~handgrad.optim.SGD` (momentum, weight decay, no clipping,
as RetinaNet) on batches of ``batch_images`` training images drawn without replacement.

What is measured (per loss setting, foreground fraction and seed)
-----------------------------------------------------------------
``results`` (one row per unit): average precision on the test images
(:func:`~handgrad.metrics.average_precision`, ``"step"`` and ``"coco"``); the share of the unit's
own test loss from easy negatives, hard negatives and positives; the training loss's first
value (``first_loss``), its mean over the last tenth of the steps (``final_loss``) and
``early_rebound``, the largest ratio of the loss at a step to its smallest value before that
step within the first ``early_steps`` steps (1 for a loss that never rises; a spike of the loss
shows as a ratio well above 1); ``diverged`` when an activation, the loss or a parameter stopped
being finite (training then stops, and the parameters of the last finite forward pass are
evaluated). ``alpha`` is NaN for the losses without alpha weighting.
``training``: the training loss at every step. ``loss_cdf`` and ``loss_share`` (from the units of
focal gamma = 2, alpha = ``focal_alpha``, the paper's model): on that trained model's test
anchors, the focal loss (no alpha) for each gamma of ``cdf_gammas``, normalised to sum 1 per
group, sorted and accumulated (the paper's Fig. 4), and its share by anchor kind.

Randomness
----------
For seed index s and foreground fraction f (key ``k = round(f 1e9)``): training images from
``default_rng([seed, s, k, 0])``, test images ``[seed, s, k, 1]``, the model's initial weights
``[seed, s, k, 2]`` (the same for every loss), the batches ``[seed, s, k, 3]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from handgrad._checks import check_positive_int, check_real
from handgrad.experiments.base import (
    Checkpoint,
    Experiment,
    Progress,
    Rows,
    load_optimizer_state,
    optimizer_state,
)
from handgrad.experiments.focal_data import (
    EASY,
    HARD,
    KIND_NAMES,
    MLP,
    POSITIVE,
    DenseTask,
    Diverged,
    _bias0,
    _finite,
    make_dense_task,
)
from handgrad.experiments.focal_verdict import REBOUND, ap_table, judge, setting_name

__all__ = [
    "EASY",
    "EXPERIMENT",
    "HARD",
    "MLP",
    "POSITIVE",
    "REBOUND",
    "DenseTask",
    "Diverged",
    "FocalVsCEConfig",
    "ap_table",
    "figures",
    "judge",
    "loss_settings",
    "make_dense_task",
    "run_unit",
    "setting_name",
    "units",
]

CDF_POINTS = 101  # fractions of samples 0, 0.01, .., 1 of the cumulative loss curves

Float64Array = NDArray[np.float64]


def _real_tuple(
    value: Any, name: str, low: float, high: float | None, **kw: Any
) -> tuple[float, ...]:
    if isinstance(value, str) or not isinstance(value, tuple | list):
        raise TypeError(f"{name} must be a sequence of numbers; got {value!r}")
    values = tuple(check_real(v, f"{name}[{i}]", low, high, **kw) for i, v in enumerate(value))
    if len(set(values)) != len(values):
        raise ValueError(f"{name} must be distinct; got {values}")
    return values


@dataclass(frozen=True)
class FocalVsCEConfig:
    """Everything a run depends on; the defaults are the full run."""

    # data
    foreground_fractions: tuple[float, ...] = (0.1, 0.01, 0.001)  # each in (0, 0.5]
    hard_negative_share: float = 0.1  # share of the background anchors that are hard, in [0, 1]
    anchors_per_image: int = 1000  # A
    train_images: int = 64  # the fixed training split
    test_images: int = 256  # the fixed test split (AP is measured on all its anchors)
    features: int = 4  # D >= 2: two informative features, D - 2 of noise
    # model
    hidden: int = 16  # width of the two hidden layers
    prior: float = 0.01  # pi: the last bias starts at -log((1 - pi)/pi)
    # losses
    gammas: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0)  # focal gammas at focal_alpha
    focal_alpha: float = 0.25  # the paper's alpha for gamma = 2
    alphas: tuple[float, ...] = (0.25, 0.5, 0.75)  # alpha sweep: balanced CE and focal gamma 2
    cdf_gammas: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0)  # gammas of the cumulative-loss curves
    # training
    steps: int = 400  # SGD steps per unit
    batch_images: int = 4  # images per batch (<= train_images)
    lr: float = 0.01  # SGD's learning rate (RetinaNet's)
    momentum: float = 0.9
    weight_decay: float = 1e-4
    early_steps: int = 50  # the window in which training stability is judged
    seeds: int = 5  # independent seeds per setting (mean and spread)
    seed: int = 0  # the root of every random draw (see the module docstring)

    def __post_init__(self) -> None:
        fr = _real_tuple(
            self.foreground_fractions, "foreground_fractions", 0.0, 0.5, low_inclusive=False
        )
        if not fr:
            raise ValueError("foreground_fractions must hold at least one fraction")
        object.__setattr__(self, "foreground_fractions", fr)
        check_real(self.hard_negative_share, "hard_negative_share", 0.0, 1.0)
        check_positive_int(self.anchors_per_image, "anchors_per_image")
        check_positive_int(self.train_images, "train_images")
        check_positive_int(self.test_images, "test_images")
        if check_positive_int(self.features, "features") < 2:
            raise ValueError(f"features must be at least 2; got {self.features}")
        check_positive_int(self.hidden, "hidden")
        check_real(self.prior, "prior", 0.0, 1.0, low_inclusive=False, high_inclusive=False)
        object.__setattr__(self, "gammas", _real_tuple(self.gammas, "gammas", 0.0, None))
        check_real(self.focal_alpha, "focal_alpha", 0.0, 1.0)
        object.__setattr__(self, "alphas", _real_tuple(self.alphas, "alphas", 0.0, 1.0))
        object.__setattr__(
            self, "cdf_gammas", _real_tuple(self.cdf_gammas, "cdf_gammas", 0.0, None)
        )
        check_positive_int(self.steps, "steps")
        if check_positive_int(self.batch_images, "batch_images") > self.train_images:
            raise ValueError(
                f"batch_images must be at most train_images ({self.train_images}); "
                f"got {self.batch_images}"
            )
        check_real(self.lr, "lr", 0.0, None, low_inclusive=False)
        check_real(self.momentum, "momentum", 0.0, 1.0, high_inclusive=False)
        check_real(self.weight_decay, "weight_decay", 0.0, None)
        check_positive_int(self.early_steps, "early_steps")
        check_positive_int(self.seeds, "seeds")
        check_positive_int(self.seed, "seed", allow_zero=True)


# -- the task's draws -------------------------------------------------------------------------
def _fraction_key(f: float) -> int:
    return round(f * 1e9)


def _task(config: FocalVsCEConfig, s: int, f: float, split: int) -> DenseTask:
    n = config.train_images if split == 0 else config.test_images
    rng = np.random.default_rng([config.seed, s, _fraction_key(f), split])
    return make_dense_task(
        n, config.anchors_per_image, f, config.hard_negative_share, config.features, rng
    )


# -- the loss settings and units --------------------------------------------------------------
def loss_settings(config: FocalVsCEConfig) -> list[dict[str, Any]]:
    """Every loss setting: ``{"loss", "gamma", "alpha" (None: no weighting), "prior_init"}``."""
    out: list[dict[str, Any]] = [
        {"loss": "ce", "gamma": 0.0, "alpha": None, "prior_init": True},
        {"loss": "ce", "gamma": 0.0, "alpha": None, "prior_init": False},
    ]
    out += [
        {"loss": "balanced_ce", "gamma": 0.0, "alpha": a, "prior_init": True} for a in config.alphas
    ]
    out += [
        {"loss": "focal", "gamma": g, "alpha": config.focal_alpha, "prior_init": True}
        for g in config.gammas
    ]
    out += [
        {"loss": "focal", "gamma": 2.0, "alpha": a, "prior_init": True}
        for a in config.alphas
        if not (2.0 in config.gammas and a == config.focal_alpha)
    ]
    return out


def units(config: FocalVsCEConfig) -> list[dict[str, Any]]:
    """One unit per (loss setting, foreground fraction, seed index)."""
    return [
        {**setting, "foreground_fraction": f, "seed": s}
        for f in config.foreground_fractions
        for s in range(config.seeds)
        for setting in loss_settings(config)
    ]


def _is_paper_model(config: FocalVsCEConfig, unit: Mapping[str, Any]) -> bool:
    return bool(
        unit["loss"] == "focal" and unit["gamma"] == 2.0 and unit["alpha"] == config.focal_alpha
    )


def _loss_and_grad(
    z: Float64Array, t: NDArray[np.int8], unit: Mapping[str, Any]
) -> tuple[float, NDArray[np.floating]]:
    from handgrad.losses import sigmoid_focal_loss_and_grad

    alpha = -1.0 if unit["alpha"] is None else float(unit["alpha"])  # < 0: no weighting
    loss, g = sigmoid_focal_loss_and_grad(
        z, t, alpha=alpha, gamma=float(unit["gamma"]), reduction="normalized"
    )
    return float(loss), g


def run_unit(
    config: FocalVsCEConfig, unit: dict[str, Any], checkpoint: Checkpoint, progress: Progress
) -> Rows:
    """Train one loss setting at one foreground fraction and seed, then evaluate it."""
    from handgrad.optim import SGD

    f, s = float(unit["foreground_fraction"]), int(unit["seed"])
    key = _fraction_key(f)
    train = _task(config, s, f, 0)
    I, _, D = train.x.shape  # images, anchors per image, features
    bias0 = _bias0(config.prior) if unit["prior_init"] else 0.0
    model = MLP(D, config.hidden, bias0, np.random.default_rng([config.seed, s, key, 2]))
    opt = SGD(model, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    batch_rng = np.random.default_rng([config.seed, s, key, 3])
    losses = np.full(config.steps, np.nan)  # (steps,) training loss per step
    start, diverged = 0, False
    state = checkpoint.load()
    if state is not None:
        start = int(state["step"])
        for p, saved in zip(model.parameters(), state["params"], strict=True):
            p[...] = saved
        load_optimizer_state(opt, state["optimizer"])
        batch_rng.bit_generator.state = state["batch_rng"]
        losses[:start] = state["losses"]
    progress(start, config.steps)
    params = model.parameters()
    good = [p.copy() for p in params]  # parameters whose last forward was finite
    if state is not None:
        for p, saved in zip(good, state["good"], strict=True):
            p[...] = saved
    k = recorded = start  # steps taken; steps whose loss was computed
    while k < config.steps and not diverged:
        idx = batch_rng.choice(I, config.batch_images, replace=False)  # (B,) images
        xb = train.x[idx].reshape(-1, D)  # (B A, D)
        tb = train.labels[idx].reshape(-1)  # (B A,)
        model.zero_grad()
        try:
            loss, g = _loss_and_grad(model(xb), tb, unit)
            losses[k] = loss
            recorded = k + 1
            _finite(np.array([loss]))
            _finite(g)
            for p, keep in zip(params, good, strict=True):
                keep[...] = p
            model.backward(g)
            opt.step()
            for p in params:
                _finite(p)
        except Diverged:  # stop; evaluate the last parameters with a finite forward
            for p, keep in zip(params, good, strict=True):
                p[...] = keep
            diverged = True
            break
        k += 1
        if k % checkpoint.every == 0 and k < config.steps:
            checkpoint.save(
                {
                    "step": k,
                    "params": [p.copy() for p in params],
                    "good": [p.copy() for p in good],
                    "optimizer": optimizer_state(opt),
                    "batch_rng": batch_rng.bit_generator.state,
                    "losses": losses[:k].copy(),
                }
            )
        progress(k, config.steps)
    rows = _evaluate(config, unit, model, losses[:recorded], diverged)
    progress(config.steps, config.steps)
    return rows


def _per_anchor_focal(
    z: Float64Array, t: NDArray[np.int8], gamma: float, alpha: float | None
) -> Float64Array:
    from handgrad.losses import sigmoid_focal_loss

    a = -1.0 if alpha is None else alpha
    return np.asarray(sigmoid_focal_loss(z, t, alpha=a, gamma=gamma, reduction="none"))


def _shares(per: Float64Array, kinds: NDArray[np.int8]) -> dict[str, float]:
    total = float(per.sum())
    return {
        name: float(per[kinds == k].sum() / total) if total > 0 else float("nan")
        for k, name in enumerate(KIND_NAMES)
    }


def _cdf(per: Float64Array) -> Float64Array:
    """Cumulative normalised loss at fractions 0, 1/100, .., 1 of the samples sorted by loss."""
    srt = np.sort(per)  # ascending, as the paper's Fig. 4
    cum = np.concatenate([[0.0], np.cumsum(srt)]) / max(float(srt.sum()), 1e-300)  # (n+1,)
    at = np.round(np.linspace(0.0, 1.0, CDF_POINTS) * srt.size).astype(np.int64)
    return cum[at]


def _evaluate(
    config: FocalVsCEConfig,
    unit: Mapping[str, Any],
    model: MLP,
    losses: Float64Array,
    diverged: bool,
) -> Rows:
    from handgrad.metrics import average_precision

    f, s = float(unit["foreground_fraction"]), int(unit["seed"])
    test = _task(config, s, f, 1)
    try:
        z = model(test.x.reshape(-1, test.x.shape[-1]))  # (I A,) test logits
    except Diverged:  # weights too large for the test images: every anchor ties (AP = f)
        z = np.zeros(test.labels.size)
        diverged = True
    t, kinds = test.labels.reshape(-1), test.kinds.reshape(-1)
    ident = {
        "loss": unit["loss"],
        "gamma": float(unit["gamma"]),
        "alpha": float("nan") if unit["alpha"] is None else float(unit["alpha"]),
        "prior_init": bool(unit["prior_init"]),
        "foreground_fraction": f,
        "seed": s,
    }
    done = losses[np.isfinite(losses)]  # the recorded steps' losses, up to a non-finite one
    tenth = max(1, config.steps // 10)
    early = done[: config.early_steps]  # (<= early_steps,)
    rebound = (  # the largest rise of the loss over its running minimum, early on
        float(np.max(early[1:] / np.minimum.accumulate(early)[:-1])) if early.size > 1 else 1.0
    )
    own = _per_anchor_focal(z, t, float(unit["gamma"]), unit["alpha"])
    share = _shares(own, kinds)
    result = {
        **ident,
        "ap": average_precision(t, z, method="step"),
        "ap_coco": average_precision(t, z, method="coco"),
        "positives": int(t.sum()),
        "test_anchors": int(t.size),
        "easy_negative_share": share["easy_negative"],
        "hard_negative_share": share["hard_negative"],
        "positive_share": share["positive"],
        "first_loss": float(done[0]) if done.size else float("nan"),
        "early_rebound": rebound,
        "final_loss": float(done[-tenth:].mean()) if done.size else float("nan"),
        "steps_done": int(losses.size),
        "diverged": bool(diverged),
    }
    training = [{**ident, "step": k + 1, "train_loss": float(v)} for k, v in enumerate(losses)]
    rows: Rows = {"results": [result], "training": training}
    if _is_paper_model(config, unit):
        cdf_rows, share_rows = [], []
        for gamma in config.cdf_gammas:
            per = _per_anchor_focal(z, t, gamma, None)
            for group, sel in (("positive", t == 1), ("negative", t == 0)):
                curve = _cdf(per[sel])
                cdf_rows += [
                    {
                        "foreground_fraction": f,
                        "seed": s,
                        "gamma": gamma,
                        "group": group,
                        "fraction_of_samples": j / (CDF_POINTS - 1),
                        "cumulative_loss": float(curve[j]),
                    }
                    for j in range(CDF_POINTS)
                ]
            for kind, value in _shares(per, kinds).items():
                share_rows.append(
                    {
                        "foreground_fraction": f,
                        "seed": s,
                        "gamma": gamma,
                        "kind": kind,
                        "share": value,
                    }
                )
        rows["loss_cdf"] = cdf_rows
        rows["loss_share"] = share_rows
    return rows


def figures(config: FocalVsCEConfig, rows: Rows) -> dict[str, Any]:
    """``ap_vs_imbalance`` (AP against the foreground fraction per loss setting),
    ``loss_cdf`` (the paper's Fig. 4) and ``ce_stability`` (early training loss of CE with and
    without the prior)."""
    from handgrad.experiments import plots_detection as P

    return {
        "ap_vs_imbalance": P.ap_vs_imbalance(ap_table(rows), ap_table(rows, "ap_coco")),
        "loss_cdf": P.loss_cdf(rows.get("loss_cdf", [])),
        "ce_stability": P.ce_stability(rows.get("training", []), config.early_steps),
    }


EXPERIMENT = Experiment(
    name="focal-vs-ce",
    claim=(
        "On a dense binary task with few foreground anchors, focal loss (gamma = 2, alpha = "
        "0.25) gives the best AP, its gain over cross-entropy grows as the foreground fraction "
        "falls, and cross-entropy without the prior initialisation of the last bias is unstable "
        "early in training."
    ),
    reference=(
        "Lin, Goyal, Girshick, He & Dollár, 'Focal Loss for Dense Object Detection', ICCV 2017: "
        "Table 1(a, b) (alpha and gamma), section 5.1 (CE without the prior init diverges), "
        "Fig. 4 (cumulative loss of positives and negatives)."
    ),
    config_type=FocalVsCEConfig,
    units=units,
    run_unit=run_unit,
    judge=judge,
    figures=figures,
    quick={"seeds": 2, "alphas": (0.25,)},
    quick_time="22 s (--jobs 2)",
    full_time="73 s (--jobs 2; peak 210 MB a worker)",
)
