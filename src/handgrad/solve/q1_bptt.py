r"""Q1. Backpropagation through time in a vanilla RNN; vanishing gradients; long-term dependencies.

(a), in this module: on a small seeded RNN of the seed's form, H_t = tanh(U I_t + W H_{t-1}),
O_t = softmax(V H_t), E_t = CE(O_t, y_t): the seed's four gradients from
:func:`handgrad.nn.bptt.seed_formula_gradients`, term by term from
:func:`handgrad.nn.bptt.gradient_terms`, checked against each other, against the full backward pass
of :class:`handgrad.nn.RNN` and against central finite differences
(:func:`handgrad.gradcheck.numerical_grad`); the general sum on a longer sequence.

(b) Vanishing and exploding gradients: :mod:`handgrad.solve.q1_vanishing`.
(c) Long-term dependencies, measured: :mod:`handgrad.solve.q1_long_term`.

Each part has a ``compute_*`` (the library and the independent routes), a ``checks_*`` (the
comparisons) and a ``render_*`` (adds the part to the answer); :func:`compute`, :func:`checks`,
:func:`render` and :func:`solve` compose the three parts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from handgrad import gradcheck, losses
from handgrad.nn import RNN, bptt
from handgrad.solve.model import Answer, Cell, Check, FloatArray, IntArray, check_close
from handgrad.solve.q1_long_term import PartC, checks_c, compute_c, render_c
from handgrad.solve.q1_vanishing import PartB, checks_b, compute_b, render_b

__all__ = [
    "SIZES",
    "GradientRoutes",
    "PartA",
    "Q1Result",
    "SeedModel",
    "checks",
    "checks_a",
    "compute",
    "compute_a",
    "render",
    "render_a",
    "solve",
]

TITLE = "Backpropagation through time in a vanilla RNN; vanishing gradients; long-term dependencies"
SIZES = {"D": 4, "H": 3, "C": 4, "T": 3}  # input (one-hot words), hidden, classes, steps
LONG_T = 12  # steps of the sequence that shows the general sum
FD_TOLERANCE = 1e-7  # normwise relative error of central differences (h = 1e-6) in float64


# ------------------------------------------------------------------------------------------ (a)


@dataclass(frozen=True)
class SeedModel:
    """The seed's bias-free model with random weights, one-hot inputs, H_0 and targets."""

    U: FloatArray  # (H, D)
    W: FloatArray  # (H, H)
    V: FloatArray  # (C, H)
    inputs: FloatArray  # (T, D) one-hot words I_1 .. I_T
    h0: FloatArray  # (H,) H_0
    targets: IntArray  # (T,) y_1 .. y_T


@dataclass(frozen=True)
class GradientRoutes:
    """One of the seed's gradients, dE_t/dW (H, H) or dE_t/dU (H, D), by four routes."""

    t: int  # the loss E_t: 2 or 3
    wrt: str  # "W" or "U"
    terms: FloatArray  # (t, H, H) or (t, H, D): term_k for k = 1 .. t (nn.bptt.gradient_terms)
    seed_formula: FloatArray  # the seed's formula, nn.bptt.seed_formula_gradients
    full_bptt: FloatArray  # RNN.backward over the whole sequence
    finite_differences: FloatArray  # central differences of E_t (gradcheck.numerical_grad)

    @property
    def key(self) -> str:
        """The name of the gradient: dE2/dW, dE2/dU, dE3/dW or dE3/dU."""
        return f"dE{self.t}/d{self.wrt}"

    @property
    def total(self) -> FloatArray:
        """The sum of the terms: the answer."""
        return self.terms.sum(axis=0)


@dataclass(frozen=True)
class PartA:
    """The seed's four gradients, and the general sum on a LONG_T-step sequence."""

    model: SeedModel
    loss_at: dict[int, float]  # E_t for t = 2, 3
    gradients: tuple[GradientRoutes, ...]  # dE2/dW, dE2/dU, dE3/dW, dE3/dU
    long_terms: bptt.GradientTerms  # the terms of dE_T/dW and dE_T/dU for T = LONG_T
    long_full: FloatArray  # (H * H + H * D,) full BPTT of dE_T/dW and dE_T/dU, flattened


def _seed_model(rng: np.random.Generator, T: int) -> SeedModel:
    D, H, C = SIZES["D"], SIZES["H"], SIZES["C"]
    return SeedModel(
        U=0.8 * rng.standard_normal((H, D)),
        W=0.8 * rng.standard_normal((H, H)),
        V=0.8 * rng.standard_normal((C, H)),
        inputs=np.eye(D)[rng.integers(0, D, T)],
        h0=0.5 * rng.standard_normal(H),
        targets=rng.integers(0, C, T),
    )


def _loss_and_dE_dh(
    m: SeedModel, t: int, U: FloatArray | None = None, W: FloatArray | None = None
) -> tuple[float, FloatArray, RNN]:
    """E_t with the library's RNN and cross-entropy; also dE_t/dH_t (1, H) and the RNN used."""
    rnn = RNN(SIZES["D"], SIZES["H"], bias=False, seed=0)  # weights replaced below
    rnn.load_state_dict(
        {"weight_ih_l0": m.U if U is None else U, "weight_hh_l0": m.W if W is None else W}
    )
    out, _ = rnn(m.inputs[:, None, :], m.h0[None, None, :])  # (T, 1, H)
    logits = out[t - 1] @ m.V.T  # (1, C) V H_t
    y = m.targets[t - 1 : t]  # (1,)
    loss = float(losses.softmax_cross_entropy(logits, y, reduction="sum"))
    dE_dh = losses.softmax_cross_entropy_grad(logits, y, reduction="sum") @ m.V  # (1, H)
    return loss, dE_dh, rnn


def _full_bptt(rnn: RNN, m: SeedModel, t: int, dE_dh: FloatArray) -> dict[str, FloatArray]:
    """The layer's backward with dE_t/dH_t at step t and zero elsewhere: W's and U's gradients."""
    rnn.zero_grad()
    rnn(m.inputs[:, None, :], m.h0[None, None, :])
    d_out = np.zeros((len(m.inputs), 1, SIZES["H"]))  # (T, N, H)
    d_out[t - 1] = dE_dh
    rnn.backward(d_out)
    return {"W": rnn.grads["weight_hh_l0"].copy(), "U": rnn.grads["weight_ih_l0"].copy()}


def _routes(
    m: SeedModel, t: int, seed: dict[str, FloatArray]
) -> tuple[float, list[GradientRoutes]]:
    """E_t and dE_t/dW, dE_t/dU by the terms, the seed's formula, full BPTT and finite differences."""
    loss, dE_dh, rnn = _loss_and_dE_dh(m, t)
    terms = bptt.gradient_terms(rnn, m.inputs[:, None, :], t, dE_dh, m.h0[None, None, :])
    full = _full_bptt(rnn, m, t, dE_dh)

    def f(U: FloatArray, W: FloatArray) -> float:
        return _loss_and_dE_dh(m, t, U, W)[0]

    fd_U, fd_W = gradcheck.numerical_grad(f, m.U, m.W)
    routes = [
        GradientRoutes(t, name, stack, seed[f"dE{t}/d{name}"], full[name], fd)
        for name, stack, fd in (("W", terms.weight_hh, fd_W), ("U", terms.weight_ih, fd_U))
    ]
    return loss, routes


def compute_a(rng: np.random.Generator) -> PartA:
    """Part (a): the seed's model from ``rng``, then a LONG_T-step model from ``rng``."""
    m = _seed_model(rng, SIZES["T"])
    seed = bptt.seed_formula_gradients(m.U, m.W, m.V, m.inputs, m.h0, m.targets)
    loss_by_t: dict[int, float] = {}
    gradients: list[GradientRoutes] = []
    for t in (2, 3):
        loss_by_t[t], routes = _routes(m, t, seed)
        gradients.extend(routes)
    long = _seed_model(rng, LONG_T)
    _, dE_dh, rnn = _loss_and_dE_dh(long, LONG_T)
    terms = bptt.gradient_terms(rnn, long.inputs[:, None, :], LONG_T, dE_dh, long.h0[None, None, :])
    full = _full_bptt(rnn, long, LONG_T, dE_dh)
    return PartA(
        model=m,
        loss_at=loss_by_t,
        gradients=tuple(gradients),
        long_terms=terms,
        long_full=np.concatenate([full["W"].ravel(), full["U"].ravel()]),
    )


def checks_a(p: PartA) -> list[Check]:
    """Each gradient: seed formula = sum of terms = full BPTT = finite differences; the long sum."""
    out: list[Check] = []
    for g in p.gradients:
        out.append(
            check_close(
                f"{g.key}: the seed's formula = sum of the terms",
                g.seed_formula,
                g.total,
                method="second algorithm: per-step terms from the delta recursion",
                tolerance=1e-13,
            )
        )
        out.append(
            check_close(
                f"{g.key}: sum of the terms = full BPTT",
                g.total,
                g.full_bptt,
                method="RNN.backward over the whole sequence",
                tolerance=1e-13,
            )
        )
        out.append(
            check_close(
                f"{g.key}: sum of the terms = finite differences",
                g.total,
                g.finite_differences,
                method="central finite differences of E_t (h = 1e-6)",
                tolerance=FD_TOLERANCE,
            )
        )
    terms = p.long_terms
    out.append(
        check_close(
            f"E_{LONG_T}: the {LONG_T} terms for W and U add up to full BPTT",
            np.concatenate([terms.weight_hh.sum(0).ravel(), terms.weight_ih.sum(0).ravel()]),
            p.long_full,
            method="RNN.backward over the whole sequence",
            tolerance=1e-13,
        )
    )
    return out


def _seed_formula_tex(key: str, text: str) -> str:
    """One of nn.bptt.SEED_FORMULAS in TeX: "d2 H1^T + (W^T d2 * ..." -> "d_2 H_1^\\top + ..."."""
    t, wrt = key[2], key[-1]
    rhs = re.sub(r"\b([dHI])(\d)\b", r"\1_\2", text).replace("^T", r"^\top")
    return rf"$\frac{{\partial E_{t}}}{{\partial {wrt}}} = " + rhs.replace(" * ", r" \odot ") + "$"


def _render_model(a: Answer) -> None:
    D, H, C, T = SIZES["D"], SIZES["H"], SIZES["C"], SIZES["T"]
    a.formula(
        "Model (the seed's, bias-free)",
        "H_t = tanh(U I_t + W H_{t-1}),  O_t = softmax(V H_t),  E_t = CE(O_t, y_t)\n"
        f"sizes: input D = {D} (one-hot words), hidden H = {H}, classes C = {C}, T = {T} steps;\n"
        f"U is {H} x {D}, W is {H} x {H}, V is {C} x {H}; weights, H_0, words and targets drawn "
        "from the seed.\n"
        "dE_t/d(V H_t) = O_t - y_t;  dH_j/dH_{j-1} = diag(1 - H_j^2) W",
        r"$H_t = \tanh(U I_t + W H_{t-1}), \quad O_t = \operatorname{softmax}(V H_t), \quad "
        r"E_t = \mathrm{CE}(O_t, y_t)$"
        "\n"
        f"Sizes: input $D = {D}$ (one-hot words), hidden $H = {H}$, classes $C = {C}$, $T = {T}$ "
        rf"steps; $U$ is ${H} \times {D}$, $W$ is ${H} \times {H}$, $V$ is ${C} \times {H}$; "
        "weights, $H_0$, words and targets drawn from the seed."
        "\n"
        r"$\frac{\partial E_t}{\partial (V H_t)} = O_t - y_t, \quad "
        r"\frac{\partial H_j}{\partial H_{j-1}} = \operatorname{diag}(1 - H_j^2) \, W$",
    )
    a.formula(
        "(a) The seed's gradients in matrix form (column vectors, * elementwise)",
        "d_t = (V^T (O_t - y_t)) * (1 - H_t^2)\n"
        + "\n".join(f"{name} = {text}" for name, text in bptt.SEED_FORMULAS.items()),
        r"$d_t = (V^\top (O_t - y_t)) \odot (1 - H_t^2)$"
        "\n" + "\n".join(_seed_formula_tex(k, v) for k, v in bptt.SEED_FORMULAS.items()),
    )


def _render_gradients(a: Answer, p: PartA) -> None:
    """Each term as a matrix, each sum, and the table of the differences between the routes."""
    rows: list[list[Cell]] = []
    for g in p.gradients:
        t, name = g.t, g.wrt
        prev = "H" if name == "W" else "I"  # term_k = delta_k H_{k-1}^T, or delta_k I_k^T
        for k in range(t):
            idx = k if name == "W" else k + 1
            a.matrix(
                f"{g.key}: term k = {k + 1}, delta_{k + 1} {prev}_{idx}^T", g.terms[k], digits=4
            )
        a.matrix(f"{g.key} = sum of the {t} terms", g.total, digits=6)
        a.values[g.key] = g.total
        scale = float(np.max(np.abs(g.total)))
        errors = [
            float(np.max(np.abs(g.total - o))) / scale
            for o in (g.seed_formula, g.full_bptt, g.finite_differences)
        ]
        rows.append([g.key, float(np.linalg.norm(g.total)), *errors])
        if name == "U":
            a.values[f"E{t}"] = p.loss_at[t]
    a.table(
        "The four gradients: norm and relative differences between the routes",
        ["gradient", "norm", "vs seed formula", "vs full BPTT", "vs finite diff."],
        rows,
        digits=3,
    )


def render_a(a: Answer, p: PartA) -> None:
    """Add part (a) to ``a``: the model, the seed's formulas, the terms, the general sum."""
    _render_model(a)
    _render_gradients(a, p)
    a.formula(
        "(a) The general sum",
        "dE_t/dW = sum_{k=1..t} dE_t/dO_t dO_t/dH_t (prod_{j=k+1..t} dH_j/dH_{j-1}) d+H_k/dW\n"
        "term_k = delta_k H_{k-1}^T,  delta_k = ((dH_t/dH_k)^T dE_t/dH_t) * (1 - H_k^2),\n"
        "dH_t/dH_k = dH_t/dH_{t-1} ... dH_{k+1}/dH_k\n"
        "(d+ holds H_{k-1} fixed; for U replace H_{k-1} by I_k)",
        r"$\frac{\partial E_t}{\partial W} = \sum_{k=1}^{t} \frac{\partial E_t}{\partial O_t} "
        r"\frac{\partial O_t}{\partial H_t} \left(\prod_{j=k+1}^{t} "
        r"\frac{\partial H_j}{\partial H_{j-1}}\right) \frac{\partial^+ H_k}{\partial W}$"
        "\n"
        r"$\mathrm{term}_k = \delta_k H_{k-1}^\top, \quad \delta_k = "
        r"\left({\left(\frac{\partial H_t}{\partial H_k}\right)}^\top "
        r"\frac{\partial E_t}{\partial H_t}\right) \odot (1 - H_k^2)$"
        "\n"
        r"$\frac{\partial H_t}{\partial H_k} = \frac{\partial H_t}{\partial H_{t-1}} \cdots "
        r"\frac{\partial H_{k+1}}{\partial H_k}$"
        "\n"
        r"($\partial^+$ holds $H_{k-1}$ fixed; for $U$ replace $H_{k-1}$ by $I_k$.)",
    )
    terms, T = p.long_terms, LONG_T
    norms_w = np.linalg.norm(terms.weight_hh, axis=(1, 2))  # (T,)
    norms_u = np.linalg.norm(terms.weight_ih, axis=(1, 2))  # (T,)
    a.table(
        f"E_{T} of a {T}-step sequence: size of each step's term (Frobenius norm)",
        ["k", "t - k", "|term_k| for W", "|term_k| for U"],
        [[k + 1, T - k - 1, float(norms_w[k]), float(norms_u[k])] for k in range(T)],
        digits=3,
    )
    a.values["general_sum_term_norms_W"] = norms_w


# ------------------------------------------------------------------------------------ Q1 whole


@dataclass(frozen=True)
class Q1Result:
    """The three parts; (a) and (b) draw from one generator seeded with the seed, in that order."""

    a: PartA
    b: PartB
    c: PartC


def compute(seed: int = 0) -> Q1Result:
    """Compute parts (a), (b) and (c)."""
    rng = np.random.default_rng(seed)
    part_a = compute_a(rng)
    part_b = compute_b(rng)
    return Q1Result(part_a, part_b, compute_c(seed))


def checks(r: Q1Result) -> list[Check]:
    """The checks of (a), (b) and (c), in that order."""
    return checks_a(r.a) + checks_b(r.b) + checks_c(r.c)


def render(r: Q1Result, checked: list[Check], figures: bool) -> Answer:
    """The answer: parts (a), (b), (c), then the checks."""
    a = Answer(1, TITLE)
    render_a(a, r.a)
    render_b(a, r.b, figures)
    render_c(a, r.c, figures)
    a.checks.extend(checked)
    return a


def solve(seed: int = 0, figures: bool = True) -> Answer:
    """Compute, check and render Q1."""
    result = compute(seed)
    return render(result, checks(result), figures)
