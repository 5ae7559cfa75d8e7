r"""Vanishing and exploding gradients: :math:`\|\partial h_t/\partial h_k\|` against :math:`t - k`.

What is measured
----------------
For each model and seed, on ``probe_size`` held-out sequences of ``max_lag`` steps of the task:

* ``jacobian_norm``: the spectral norm of :math:`\partial S_T/\partial S_k` for lags
  :math:`T - k = 1 .. \text{max\_lag}` (:func:`handgrad.nn.bptt.jacobian_norms`; S = h, or the
  concatenated (h, c) of size 2H for the LSTM), averaged over the sequences;
* ``input_grad_norm``: :math:`\|\partial L/\partial x_k\|` (2-norm over the input features) of the
  loss L at the last step, for lags :math:`T - k = 0 .. \text{max\_lag} - 1`, averaged likewise:
  how much the input k steps back can still move the loss;

both at initialisation (``phase="init"``) and after ``steps`` Adam steps of training on the task
(``phase="trained"``). Mean and spread over seeds are taken of :math:`\log_{10}` of these.

The models (``models``; names as in ``results.csv``)
----------------------------------------------------
``tanh-R``
    Tanh RNN whose recurrent matrix is :math:`W = R\,Q/\rho(Q)`, Q a standard Gaussian H x H
    matrix and :math:`\rho` the spectral radius: W has spectral radius exactly R.
``irnn``
    ReLU RNN with :math:`W = I` and zero biases (Le, Jaitly & Hinton 2015).
``lstm-fbB``
    LSTM whose forget-gate bias is exactly B (``bias_ih`` block 1 = B, ``bias_hh`` block 1 = 0;
    gate order i, f, g, o); B = 1 is the remedy of Gers et al. (2000) and Jozefowicz et al. (2015).
``gru``
    GRU, PyTorch's initialisation.

Every other weight has PyTorch's initialisation; a linear head reads the last hidden state.

The task (``task``)
-------------------
``"repeated-words"`` (:func:`handgrad.experiments.repeated_words.make_repeated_words`, 2 words,
4 distractors, one-hot inputs): the label at the last step says whether the query word repeats the
first, ``train_length - 1`` steps back; softmax cross-entropy. ``"adding"``: the adding problem of
:func:`handgrad.experiments.adding_problem.make_adding_batch` (Hochreiter & Schmidhuber 1997;
sequences of exactly ``train_length`` pairs): the target 0.5 + (X1 + X2) / 4 of the two marked
values, read at the last step; squared error. Probe sequences are the task's, ``max_lag`` steps.

Randomness
----------
Seed index s of ``seeds``: training batches from ``default_rng([seed, s, 0])``, the probe
sequences from ``default_rng([seed, s, 1])``, the held-out set from ``default_rng([seed, s, 3])``
(the same for every model), model m's weights from ``default_rng([seed, s, 2, crc32(m)])``.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from handgrad._checks import check_choice, check_positive_int, check_real
from handgrad.experiments.base import (
    Checkpoint,
    Experiment,
    Progress,
    Rows,
    Verdict,
    load_optimizer_state,
    optimizer_state,
)

__all__ = [
    "EXPERIMENT",
    "MODELS",
    "Curve",
    "VanishingGradientsConfig",
    "build_model",
    "curves",
    "judge",
    "run_unit",
    "units",
]

MODELS = (
    "tanh-0.5",
    "tanh-0.9",
    "tanh-1.0",
    "tanh-1.1",
    "tanh-1.5",
    "irnn",
    "lstm-fb0",
    "lstm-fb1",
    "gru",
)
TASKS = ("repeated-words", "adding")
ADDING_MIN_T = 11  # the adding problem's shortest sequence
_MODEL = re.compile(r"^(?:tanh-(?P<radius>[0-9.]+)|irnn|lstm-fb(?P<bias>-?[0-9.]+)|gru)$")
_RW_WORDS, _RW_DISTRACTORS = 2, 4  # the repeated-words task's sizes here (V = 6, chance 1/2)


def _parse_model(name: str, where: str) -> tuple[str, float]:
    """``"tanh-0.9"`` -> ("tanh", 0.9); ``"lstm-fb1"`` -> ("lstm", 1.0); others -> (name, 0)."""
    if not isinstance(name, str):
        raise TypeError(f"{where} must be a model name such as 'tanh-0.9'; got {name!r}")
    match = _MODEL.match(name)
    if match is None:
        raise ValueError(
            f"{where} must be tanh-R (R > 0: W's spectral radius), irnn, lstm-fbB (B: the "
            f"forget-gate bias) or gru; got {name!r}"
        )
    try:
        if match["radius"] is not None:
            radius = float(match["radius"])
            if not radius > 0:
                raise ValueError
            return "tanh", radius
        if match["bias"] is not None:
            return "lstm", float(match["bias"])
    except ValueError:
        raise ValueError(f"{where}: cannot read the number in {name!r}") from None
    return name, 0.0


@dataclass(frozen=True)
class VanishingGradientsConfig:
    """Everything a run depends on; the defaults are the full run."""

    # models
    models: tuple[str, ...] = MODELS  # see the module docstring for the names
    hidden_size: int = 64  # H, for every model (at 32 some tanh-1.5 seeds settle instead of chaos)
    # measurement
    max_lag: int = 100  # lags t - k = 1 .. max_lag; probe sequences have max_lag steps
    probe_size: int = 8  # probe sequences per seed (norms are averaged over them)
    seeds: int = 5  # independent seeds per model (mean and spread)
    # training ("after training")
    task: str = "repeated-words"  # "repeated-words" or "adding"
    train_length: int = 11  # steps T of the training sequences (>= 2): a lag of 10 to learn
    steps: int = 400  # Adam steps per model and seed, each on a fresh batch (0: no training)
    batch_size: int = 32  # sequences per step
    lr: float = 3e-3  # Adam's learning rate (at 1e-2 the ReLU RNN's units can all die)
    max_grad_norm: float = 1.0  # global gradient-norm clip (0 turns clipping off)
    test_size: int = 256  # held-out sequences of train_length steps: the loss after training
    seed: int = 0  # the root of every random draw (see the module docstring)

    def __post_init__(self) -> None:
        models = self.models
        if isinstance(models, str) or not isinstance(models, tuple | list):
            raise TypeError(f"models must be a sequence of model names; got {models!r}")
        models = tuple(models)
        if not models:
            raise ValueError("models must name at least one model; got an empty sequence")
        for i, name in enumerate(models):
            _parse_model(name, f"models[{i}]")
        if len(set(models)) != len(models):
            raise ValueError(f"models must be distinct; got {models}")
        object.__setattr__(self, "models", models)
        check_positive_int(self.hidden_size, "hidden_size")
        check_positive_int(self.max_lag, "max_lag")
        check_positive_int(self.probe_size, "probe_size")
        check_positive_int(self.seeds, "seeds")
        check_choice(self.task, "task", TASKS)
        if check_positive_int(self.train_length, "train_length") < 2:
            raise ValueError(f"train_length must be at least 2; got {self.train_length}")
        if self.max_lag < 2:
            raise ValueError(f"max_lag must be at least 2; got {self.max_lag}")
        check_positive_int(self.steps, "steps", allow_zero=True)
        check_positive_int(self.batch_size, "batch_size")
        check_real(self.lr, "lr", 0.0, None, low_inclusive=False)
        check_real(self.max_grad_norm, "max_grad_norm", 0.0, None)
        check_positive_int(self.test_size, "test_size")
        check_positive_int(self.seed, "seed", allow_zero=True)
        if self.task == "adding" and min(self.train_length, self.max_lag) < ADDING_MIN_T:
            raise ValueError(
                f"task 'adding' needs train_length and max_lag of at least {ADDING_MIN_T} (its "
                f"marks fall among the first 10 steps); got {self.train_length} and {self.max_lag}"
            )


# -- the task ---------------------------------------------------------------------------------
def _adding_module() -> Any:
    from handgrad.experiments import adding_problem

    return adding_problem


def _input_size(config: VanishingGradientsConfig) -> int:
    return 2 if config.task == "adding" else _RW_WORDS + _RW_DISTRACTORS


def _batch(
    config: VanishingGradientsConfig, n: int, T: int, rng: np.random.Generator
) -> tuple[NDArray[np.float64], NDArray[Any]]:
    """``n`` sequences of ``T`` steps: inputs (T, n, D) and targets (n,)."""
    if config.task == "adding":
        x, y, _ = _adding_module().make_adding_batch(T, n, rng, fixed_length=True)
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    from handgrad.experiments.repeated_words import make_repeated_words

    tokens, labels = make_repeated_words(n, T - 1, _RW_WORDS, _RW_DISTRACTORS, rng)
    return np.eye(_input_size(config))[tokens], labels  # (T, n, V) one-hot, (n,)


def _loss_and_grad(
    config: VanishingGradientsConfig, out: NDArray[np.float64], y: NDArray[Any]
) -> tuple[float, NDArray[np.float64]]:
    """Loss of the head's output (N, C) and its gradient (N, C)."""
    if config.task == "adding":
        err = out[:, 0] - y  # (N,)
        return float(np.mean(err * err)), (2.0 / len(y)) * err[:, None]
    from handgrad.losses import softmax_cross_entropy_and_grad

    loss, grad = softmax_cross_entropy_and_grad(out, y)
    return float(loss), np.asarray(grad, dtype=np.float64)


def _chance_loss(config: VanishingGradientsConfig) -> float:
    """The loss of the best constant answer: the adding problem's 0.5, or 1/2 for each label."""
    if config.task == "adding":
        return float(_adding_module().constant_mse(config.train_length))
    return float(np.log(2.0))


# -- the models -------------------------------------------------------------------------------
def build_model(config: VanishingGradientsConfig, model: str, rng: np.random.Generator) -> Any:
    """The recurrent layer named ``model`` (see the module docstring), input size of the task."""
    from handgrad import nn

    kind, value = _parse_model(model, "model")
    D, H = _input_size(config), config.hidden_size
    layer: Any
    if kind == "tanh":
        layer = nn.RNN(D, H, rng=rng)
        Q = rng.standard_normal((H, H))  # (H, H)
        layer.params["weight_hh_l0"][...] = value * Q / np.max(np.abs(np.linalg.eigvals(Q)))
    elif kind == "irnn":
        layer = nn.RNN(D, H, nonlinearity="relu", rng=rng)
        layer.params["weight_hh_l0"][...] = np.eye(H)
        layer.params["bias_ih_l0"][...] = 0.0
        layer.params["bias_hh_l0"][...] = 0.0
    elif kind == "lstm":
        layer = nn.LSTM(D, H, rng=rng)
        layer.params["bias_ih_l0"][H : 2 * H] = value  # gate order i, f, g, o: block 1 is f
        layer.params["bias_hh_l0"][H : 2 * H] = 0.0
    else:
        layer = nn.GRU(D, H, rng=rng)
    return layer


def _measure(
    config: VanishingGradientsConfig,
    layer: Any,
    head: Any,
    x: NDArray[np.float64],
    y: NDArray[Any],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Jacobian norms by lag 1..T (T,) and input-gradient norms by lag 0..T-1 (T,)."""
    from handgrad.nn.bptt import jacobian_norms

    norms = jacobian_norms(layer, x)  # (T + 1, N): row k is |dS_T/dS_k|
    jac = norms[::-1][1:].mean(axis=1)  # (T,) entry j: lag j + 1
    layer.zero_grad()
    head.zero_grad()
    out, _ = layer(x)  # (T, N, H)
    _, g = _loss_and_grad(config, head(out[-1]), y)  # g: (N, C)
    d_out = np.zeros_like(out)  # (T, N, H): only the last step feeds the loss
    d_out[-1] = head.backward(g)
    dx, _ = layer.backward(d_out)  # (T, N, D)
    per_step = np.linalg.norm(dx, axis=2).mean(axis=1)  # (T,) entry k - 1: step k
    return jac, per_step[::-1].copy()  # by lag T - k = 0 .. T - 1


def _measure_rows(
    model: str, seed: int, phase: str, jac: NDArray[np.float64], inp: NDArray[np.float64]
) -> list[dict[str, Any]]:
    rows = [
        {"model": model, "seed": seed, "phase": phase, "quantity": "jacobian_norm", "lag": j + 1}
        | {"value": float(v)}
        for j, v in enumerate(jac)
    ]
    rows += [
        {"model": model, "seed": seed, "phase": phase, "quantity": "input_grad_norm", "lag": j}
        | {"value": float(v)}
        for j, v in enumerate(inp)
    ]
    return rows


# -- the units --------------------------------------------------------------------------------
def units(config: VanishingGradientsConfig) -> list[dict[str, Any]]:
    """One unit per (seed, model): ``{"model": name, "seed": s}`` for s in 0 .. seeds - 1."""
    return [{"model": m, "seed": s} for s in range(config.seeds) for m in config.models]


def run_unit(
    config: VanishingGradientsConfig,
    unit: dict[str, Any],
    checkpoint: Checkpoint,
    progress: Progress,
) -> Rows:
    """Measure one model at one seed, train it, measure again (resumable from ``checkpoint``)."""
    from handgrad import nn
    from handgrad.optim import Adam, clip_grad_norm

    model, s = unit["model"], int(unit["seed"])
    rng = np.random.default_rng([config.seed, s, 2, zlib.crc32(model.encode())])
    layer = build_model(config, model, rng)
    C = 1 if config.task == "adding" else 2
    head = nn.Linear(config.hidden_size, C, rng=rng)
    params = layer.parameters() + head.parameters()
    grads = layer.gradients() + head.gradients()
    opt = Adam(params, lr=config.lr)
    data_rng = np.random.default_rng([config.seed, s, 0])
    probe = _batch(
        config, config.probe_size, config.max_lag, np.random.default_rng([config.seed, s, 1])
    )
    losses = np.zeros(config.steps)  # (steps,) training loss per step
    state = checkpoint.load()
    if state is None:
        rows = _measure_rows(model, s, "init", *_measure(config, layer, head, *probe))
        start = 0
    else:
        rows = state["rows"]
        start = int(state["step"])
        for p, saved in zip(params, state["params"], strict=True):
            p[...] = saved
        load_optimizer_state(opt, state["optimizer"])
        data_rng.bit_generator.state = state["data_rng"]
        losses[:start] = state["losses"]
    total = config.steps + 1
    progress(start, total)
    for k in range(start, config.steps):
        x, y = _batch(config, config.batch_size, config.train_length, data_rng)
        layer.zero_grad()
        head.zero_grad()
        out, _ = layer(x)  # (T, N, H)
        loss, g = _loss_and_grad(config, head(out[-1]), y)
        d_out = np.zeros_like(out)  # (T, N, H)
        d_out[-1] = head.backward(g)
        layer.backward(d_out)
        if config.max_grad_norm > 0:
            clip_grad_norm(grads, config.max_grad_norm)
        opt.step(grads)
        losses[k] = loss
        done = k + 1
        if done % checkpoint.every == 0 and done < config.steps:
            checkpoint.save(
                {
                    "step": done,
                    "params": list(params),
                    "optimizer": optimizer_state(opt),
                    "data_rng": data_rng.bit_generator.state,
                    "losses": losses[:done],
                    "rows": rows,
                }
            )
        progress(done, total)
    rows = rows + _measure_rows(model, s, "trained", *_measure(config, layer, head, *probe))
    test_x, test_y = _batch(
        config, config.test_size, config.train_length, np.random.default_rng([config.seed, s, 3])
    )
    out, _ = layer(test_x)
    test_loss, _ = _loss_and_grad(config, head(out[-1]), test_y)
    tenth = max(1, config.steps // 10)
    training = {
        "model": model,
        "seed": s,
        "steps": config.steps,
        "first_loss": float(losses[:tenth].mean()) if config.steps else float("nan"),
        "last_loss": float(losses[-tenth:].mean()) if config.steps else float("nan"),
        "test_loss": test_loss,
        "constant_loss": _chance_loss(config),
    }
    progress(total, total)
    return {"results": rows, "training": [training]}


# -- summaries, verdict -----------------------------------------------------------------------
@dataclass(frozen=True)
class Curve:
    """One model in one phase, over seeds: statistics of log10(value) at each lag.

    A value of 0 (a ReLU RNN whose units are all off) counts as 1e-300, log -300.
    """

    lags: NDArray[np.int64]  # (L,) ascending
    mean: NDArray[np.float64]  # (L,) mean over seeds of log10(value)
    sd: NDArray[np.float64]  # (L,) standard deviation over seeds of log10(value)
    median: NDArray[np.float64]  # (L,) median over seeds of log10(value)

    def median_at(self, lag: int) -> float | None:
        """The median at ``lag``, or None when it was not measured."""
        hit = np.flatnonzero(self.lags == lag)
        return float(self.median[hit[0]]) if hit.size else None


def curves(rows: Rows, quantity: str = "jacobian_norm") -> dict[tuple[str, str], Curve]:
    """``{(model, phase): Curve}`` of one quantity of the results rows."""
    groups: dict[tuple[str, str], dict[int, list[float]]] = {}
    for r in rows["results"]:
        if r["quantity"] == quantity:
            by_lag = groups.setdefault((r["model"], r["phase"]), {})
            by_lag.setdefault(r["lag"], []).append(r["value"])
    out = {}
    for key, by_lag in groups.items():
        lags = np.array(sorted(by_lag), dtype=np.int64)  # (L,)
        logs = np.array(  # (L, seeds)
            [np.log10(np.maximum(np.array(by_lag[int(j)]), 1e-300)) for j in lags]
        )
        out[key] = Curve(lags, logs.mean(axis=1), logs.std(axis=1), np.median(logs, axis=1))
    return out


def _at(table: Mapping[tuple[str, str], Curve], model: str, phase: str, lag: int) -> float | None:
    curve = table.get((model, phase))
    return None if curve is None else curve.median_at(lag)


SHORT_LAG = 20  # the lag of the remedies' comparisons


def judge(config: VanishingGradientsConfig, rows: Rows) -> Verdict:
    """Decide, at initialisation, from the median over seeds of log10 of the Jacobian norm."""
    table = curves(rows)
    L, M = min(SHORT_LAG, config.max_lag), config.max_lag
    tanh = {m: _parse_model(m, "model")[1] for m in config.models if m.startswith("tanh-")}
    below = [m for m, r in tanh.items() if r < 1]
    above = [m for m, r in tanh.items() if r > 1]
    checks: dict[str, bool] = {}
    missing: list[str] = []
    for m in below:
        value = _at(table, m, "init", M)
        checks[f"{m} vanishes: norm at lag {M} < 1e-3"] = value is not None and value < -3
    if above:
        steepest = max(above, key=lambda m: tanh[m])
        value = _at(table, steepest, "init", M)
        checks[f"{steepest} explodes: norm at lag {M} > 10"] = value is not None and value > 1
    else:
        missing.append("a tanh-R with R > 1")
    if not below:
        missing.append("a tanh-R with R < 1")
    if "irnn" in config.models:
        values = table[("irnn", "init")].median
        checks[f"irnn neither: norm within [0.5, 2] at every lag 1..{M}"] = bool(
            np.all(np.abs(values) <= np.log10(2.0))
        )
    else:
        missing.append("irnn")
    fb1, fb0 = _at(table, "lstm-fb1", "init", L), _at(table, "lstm-fb0", "init", L)
    if fb1 is not None and fb0 is not None:
        checks[f"lstm-fb1 >= 100 x lstm-fb0 at lag {L}"] = fb1 - fb0 >= 2
    else:
        missing.append("lstm-fb0 and lstm-fb1")
    if fb1 is not None and below:
        lowest = min(below, key=lambda m: tanh[m])
        low = _at(table, lowest, "init", L)
        checks[f"lstm-fb1 >= 1000 x {lowest} at lag {L}"] = low is not None and fb1 - low >= 3
    measured: dict[str, Any] = {}
    for lag in sorted({1, L, M}):
        measured[f"log10_jacobian_norm_at_lag_{lag}_median_over_seeds"] = {
            m: {
                phase: _at(table, m, phase, lag)
                for phase in ("init", "trained")
                if _at(table, m, phase, lag) is not None
            }
            for m in config.models
        }
    training = rows.get("training", [])
    measured["test_loss_after_training_mean_over_seeds"] = {
        m: float(np.mean([r["test_loss"] for r in training if r["model"] == m]))
        for m in config.models
        if any(r["model"] == m for r in training)
    }
    measured["constant_answer_loss"] = _chance_loss(config)
    measured["seeds_that_learned_the_task"] = {  # test loss below half the constant answer's
        m: sum(r["test_loss"] < 0.5 * r["constant_loss"] for r in training if r["model"] == m)
        for m in config.models
        if any(r["model"] == m for r in training)
    }
    measured["checks"] = checks
    reproduced = bool(checks) and all(checks.values()) and not missing
    rule = (
        "at initialisation, with the norm of each model taken as its median over seeds (of the "
        "mean over probe sequences): every tanh RNN with spectral radius < 1 is "
        f"below 1e-3 at lag {M}; the tanh RNN with the largest radius > 1 is above 10 at lag "
        f"{M}; the ReLU RNN with identity init stays within [0.5, 2] at every lag; the LSTM "
        f"with forget-gate bias 1 is at least 100 times the LSTM with bias 0 and at least 1000 "
        f"times the tanh RNN of the smallest radius at lag {L}. All must hold."
    )
    notes = [
        "For the LSTM the state is (h, c): the norm is that of d(h_t, c_t)/d(h_k, c_k), of size "
        "2H (handgrad.nn.bptt.jacobian_norms).",
        f"Trained on the {config.task} task with sequences of {config.train_length} steps for "
        f"{config.steps} Adam steps (lr {config.lr:g}, clip {config.max_grad_norm:g}); the "
        "'trained' curves show what training changes, the verdict rests on initialisation. "
        "A seed 'learned the task' when its held-out loss is below half the constant answer's.",
    ]
    if config.task == "repeated-words":
        notes.append(
            f"Trained on repeated-words (a lag of {config.train_length - 1} steps), a task whose "
            "answer needs the first input at the last step; --set task=adding trains on the "
            "adding problem instead."
        )
    if missing:
        notes.append("Not tested (models missing from this run): " + ", ".join(missing) + ".")
    return Verdict(measured=measured, reproduced=reproduced, rule=rule, notes=tuple(notes))


def figures(config: VanishingGradientsConfig, rows: Rows) -> dict[str, Any]:
    """``jacobian_norms`` and ``input_gradients``: log10 norm against the lag, init | trained."""
    from handgrad.experiments.plots import lag_curves_figure

    def mean_sd(quantity: str) -> dict[tuple[str, str], tuple[Any, Any, Any]]:
        return {k: (c.lags, c.mean, c.sd) for k, c in curves(rows, quantity).items()}

    return {
        "jacobian_norms": lag_curves_figure(
            mean_sd("jacobian_norm"),
            config.models,
            ylabel="log10 spectral norm of dS_t/dS_k",
            title=f"Jacobian norms, H = {config.hidden_size}, {config.seeds} seed(s)",
        ),
        "input_gradients": lag_curves_figure(
            mean_sd("input_grad_norm"),
            config.models,
            ylabel="log10 |dL/dx_k|",
            title=f"Gradient of the last step's loss w.r.t. the input, {config.task} task",
            xlabel="t - k (steps back from the loss)",
        ),
    }


EXPERIMENT = Experiment(
    name="vanishing-gradients",
    claim=(
        "In a tanh RNN the norm of dh_t/dh_k falls exponentially with t - k when W's spectral "
        "radius is below 1 and grows when it is well above 1; an identity-initialised ReLU RNN "
        "keeps it at 1, and a forget-gate bias of 1 keeps an LSTM's orders of magnitude above "
        "the bias-0 LSTM's and the contracting tanh RNN's."
    ),
    reference=(
        "Bengio, Simard & Frasconi 1994 and Pascanu, Mikolov & Bengio 2013 (sec. 3: the "
        "product of Jacobians vanishes when W's largest singular value is below 1/max|f'| and "
        "can explode only above it); Le, Jaitly & Hinton 2015 (IRNN: identity W, ReLU); Gers, "
        "Schmidhuber & Cummins 2000 and Jozefowicz, Zaremba & Sutskever 2015 (forget-gate bias "
        "1); the assignment's Q1(b)."
    ),
    config_type=VanishingGradientsConfig,
    units=units,
    run_unit=run_unit,
    judge=judge,
    figures=figures,
    quick={"seeds": 2, "probe_size": 4, "steps": 200},
    quick_time="65 s",
    full_time="7 min with --jobs 2",
)
