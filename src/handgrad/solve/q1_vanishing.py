"""Q1 (b). Vanishing and exploding gradients: the norm of dS_t/dS_k against t - k.

The norm of dS_t/dS_k against t - k (:func:`handgrad.nn.bptt.jacobian_norms`) for tanh RNNs
with several spectral radii of W, a ReLU RNN and LSTMs, checked against finite differences of the
final state with respect to the initial one (:func:`handgrad.gradcheck.numerical_grad`).

:func:`compute_b` measures the norms (and the routes the checks compare with), :func:`checks_b`
compares, :func:`render_b` adds part (b) to Q1's answer; :mod:`handgrad.solve.q1_bptt` composes
the three parts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from handgrad import gradcheck
from handgrad.nn import LSTM, RNN, bptt
from handgrad.nn.recurrent import RecurrentBase
from handgrad.solve.figures import vanishing_gradient_figure
from handgrad.solve.model import Answer, Check, Figure, FloatArray, IntArray, check_close

__all__ = ["LAGS", "JacobianCheck", "PartB", "checks_b", "compute_b", "render_b"]

LAGS = 40  # steps back in the vanishing-gradient figure
B_HIDDEN, B_INPUT = 16, 8  # H and D of the networks of part (b)
JACOBIAN_STEPS = 10  # steps of the finite-difference check of |dS_T/dS_0|


@dataclass(frozen=True)
class JacobianCheck:
    """|dS_T/dS_0| of one network over JACOBIAN_STEPS steps, by the library and by differences."""

    label: str
    ours: float  # nn.bptt.jacobian_norms
    finite_differences: float  # spectral norm of the finite-difference Jacobian


@dataclass(frozen=True)
class PartB:
    """Norms of dS_t/dS_k against t - k for the networks of :func:`_networks`."""

    curves: dict[str, FloatArray]  # label -> (LAGS + 1,) mean over 4 sequences, index t - k
    tanh_max: float  # max |tanh'| on a grid through 0
    sigmoid_max: float  # max sigmoid' on the same grid
    jacobians: tuple[JacobianCheck, ...]  # a tanh RNN and the open-gate LSTM

    @property
    def lags(self) -> IntArray:
        return np.arange(LAGS + 1)


def _networks(rng: np.random.Generator) -> list[tuple[str, RecurrentBase]]:
    """The networks of part (b): tanh RNNs at several spectral radii of W, ReLU, LSTMs."""
    H, D = B_HIDDEN, B_INPUT
    Q = rng.standard_normal((H, H))  # (H, H)
    unit = Q / np.max(np.abs(np.linalg.eigvals(Q)))  # spectral radius 1
    U = 0.3 * rng.standard_normal((H, D))  # (H, D)
    nets: list[tuple[str, RecurrentBase]] = []
    for rho in (0.5, 0.9, 1.5, 3.0):
        rnn = RNN(D, H, bias=False, seed=0)  # weights replaced below
        rnn.load_state_dict({"weight_ih_l0": U, "weight_hh_l0": rho * unit})
        nets.append((f"tanh RNN, spectral radius {rho:g}", rnn))
    relu = RNN(D, H, nonlinearity="relu", bias=False, seed=0)
    relu.load_state_dict({"weight_ih_l0": U, "weight_hh_l0": unit})
    nets.append(("ReLU RNN, spectral radius 1", relu))
    nets.append(("LSTM, default init (state h, c)", LSTM(D, H, rng=rng)))
    open_gate = LSTM(D, H, rng=rng)
    sd = open_gate.state_dict()
    b = sd["bias_hh_l0"].copy()
    b[H : 2 * H] += 3.0  # forget-gate bias +3: f = sigmoid(. + 3) ~ 0.95
    sd["bias_hh_l0"] = b
    open_gate.load_state_dict(sd)
    nets.append(("LSTM, forget-gate bias +3", open_gate))
    return nets


def _final_state(net: RecurrentBase, xs: FloatArray) -> Callable[[FloatArray, int], float]:
    """s0 (S,) -> entry i of the state after ``xs``: S = (h, c) for an LSTM, h otherwise."""
    H = B_HIDDEN

    def final(s: FloatArray, i: int) -> float:
        if isinstance(net, LSTM):
            _, (h, c) = net(xs, (s[None, None, :H], s[None, None, H:]))
            return float(np.concatenate([h[0, 0], c[0, 0]])[i])
        _, h = net(xs, s[None, None, :])
        return float(h[0, 0, i])

    return final


def _jacobian_check(
    label: str, net: RecurrentBase, xs: FloatArray, rng: np.random.Generator
) -> JacobianCheck:
    """|dS_T/dS_0| from the library and from central differences, at a state drawn from ``rng``."""
    H = B_HIDDEN
    is_lstm = isinstance(net, LSTM)
    S = 2 * H if is_lstm else H
    s0 = 0.1 * rng.standard_normal(S)  # (S,) initial state (h, c) or h
    final = _final_state(net, xs)
    J = np.stack(  # (S, S) row i: d S_T[i] / d S_0
        [gradcheck.numerical_grad(lambda s, i=i: final(s, i), s0)[0] for i in range(S)]
    )
    state = (s0[None, None, :H], s0[None, None, H:]) if is_lstm else s0[None, None, :]
    return JacobianCheck(
        label=label,
        ours=float(bptt.jacobian_norms(net, xs, state)[0, 0]),
        finite_differences=float(np.linalg.norm(J, 2)),
    )


def compute_b(rng: np.random.Generator) -> PartB:
    """Part (b): the networks, four random sequences and the check's states, all from ``rng``."""
    nets = _networks(rng)
    x = rng.standard_normal((LAGS, 4, B_INPUT))  # (T, N, D) four random input sequences
    curves: dict[str, FloatArray] = {}
    for label, net in nets:
        norms = bptt.jacobian_norms(net, x)  # (T + 1, N): row k is |dS_T/dS_k|
        curves[label] = norms[::-1].mean(axis=1)  # (T + 1,) indexed by T - k, mean over sequences
    grid = np.linspace(-8.0, 8.0, 16001)  # (G,) includes 0, where both derivatives peak
    sig = 0.5 * (1.0 + np.tanh(0.5 * grid))  # (G,) sigmoid
    xs = x[:JACOBIAN_STEPS, :1]  # (steps, 1, D)
    return PartB(
        curves=curves,
        tanh_max=float(np.max(1.0 - np.tanh(grid) ** 2)),
        sigmoid_max=float(np.max(sig * (1.0 - sig))),
        jacobians=tuple(_jacobian_check(*nets[i], xs, rng) for i in (2, 6)),
    )


def checks_b(p: PartB) -> list[Check]:
    """|dS_10/dS_0| of each checked network against finite differences."""
    return [
        check_close(
            f"{j.label}: |dS_{JACOBIAN_STEPS}/dS_0|",
            j.ours,
            j.finite_differences,
            method="spectral norm of the finite-difference Jacobian of S_10 w.r.t. S_0",
            tolerance=1e-7,
        )
        for j in p.jacobians
    ]


def render_b(a: Answer, p: PartB, figures: bool) -> None:
    """Add part (b) to ``a``: the bound, the remedies, the table of norms and the figure."""
    shown = [1, 5, 10, 20, 40]
    a.formula(
        "(b) Vanishing and exploding gradients",
        f"dH_t/dH_k = prod_{{j=k+1..t}} diag(f'(a_j)) W,  max |tanh'| = {p.tanh_max:g}, "
        f"max sigmoid' = {p.sigmoid_max:g}\n"
        "so |dH_t/dH_k| <= prod |diag f'(a_j)| |W|: geometric decay when |W| < 1 (or tanh "
        "saturates), growth when W is large.\nRemedies: ReLU (f' = 1 where active), shorter "
        "sequences (truncated BPTT), gradient clipping for explosion, LSTM / GRU (additive cell "
        "state).",
        r"$\frac{\partial H_t}{\partial H_k} = \prod_{j=k+1}^{t} \operatorname{diag}(f'(a_j)) \, W, "
        rf"\quad \max |\tanh'| = {p.tanh_max:g}, \quad \max \sigma' = {p.sigmoid_max:g}$"
        "\n"
        r"so $\|\frac{\partial H_t}{\partial H_k}\| \le \prod_j \|\operatorname{diag} f'(a_j)\| "
        r"\, \|W\|$: geometric decay when $\|W\| < 1$ (or tanh saturates), growth when $W$ is "
        "large."
        "\n"
        "Remedies: ReLU ($f' = 1$ where active), shorter sequences (truncated BPTT), gradient "
        "clipping for explosion, LSTM / GRU (additive cell state).",
    )
    a.table(
        f"Spectral norm of dS_t/dS_k against t - k (mean over 4 random sequences, H = 16, T = {LAGS})",
        ["network", *(f"t-k={s}" for s in shown)],
        [[label, *(float(curve[s]) for s in shown)] for label, curve in p.curves.items()],
        digits=3,
    )
    a.values["jacobian_norms"] = dict(p.curves)
    if figures:
        a.figures.append(
            Figure(
                "vanishing-gradient",
                "Norm of dS_t/dS_k against t - k for tanh RNNs, a ReLU RNN and LSTMs",
                vanishing_gradient_figure(p.lags, p.curves),
                "Spectral radius < 1 (and tanh saturation) makes the norm fall geometrically; a "
                "large W makes it explode; an LSTM whose forget gate is open keeps it near 1.",
            )
        )
