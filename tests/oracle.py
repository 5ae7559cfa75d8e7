"""Helpers to compare handgrad with its oracles (torch in float64, plain arrays).

Import in tests as ``from oracle import assert_close, to_torch, ...``.

Tolerances. One operation in float64 agrees with its oracle to ~1e-10 or better, whatever the
machine. A result built over many steps (a trajectory, a training run, a sum split over threads)
is compared with a bound derived from the size of the computation: :func:`rounding_rtol` when the
growth of errors per step is known, :func:`trajectory_rtol` when it has to be measured.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

EPS64 = float(np.finfo(np.float64).eps)  # 2.2e-16: spacing of float64 numbers at 1
# A sum of n products carries a relative error of at most ~n EPS64 in any summation order, and
# BLAS kernels (AVX2 or AVX-512, one thread or several), thread splits and torch each choose their
# own order. SAFETY covers what the leading n EPS64 term leaves out (a few ulps of exp, tanh, sqrt
# and of the update's own arithmetic per step) without reaching what a wrong term would change.
SAFETY = 10.0
# Above this, float64 can no longer tell a slightly wrong gradient from rounding.
MAX_TRAJECTORY_RTOL = 1e-7

Noise = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class Errors:
    """Maximum absolute and normwise relative error between two arrays."""

    max_abs: float
    max_rel: float

    def __str__(self) -> str:
        return f"max abs error {self.max_abs:.3e}, relative {self.max_rel:.3e}"


def errors(ours: Any, reference: Any) -> Errors:
    """Max |a - b| and max |a - b| / max(max|a|, max|b|) over all elements."""
    a = np.asarray(to_numpy(ours), dtype=np.float64)
    b = np.asarray(to_numpy(reference), dtype=np.float64)
    assert a.shape == b.shape, f"shape mismatch: ours {a.shape}, reference {b.shape}"
    if a.size == 0:
        return Errors(0.0, 0.0)
    assert np.array_equal(np.isnan(a), np.isnan(b)), "NaN pattern differs"
    a, b = np.nan_to_num(a), np.nan_to_num(b)
    diff = float(np.max(np.abs(a - b)))
    scale = max(float(np.max(np.abs(a))), float(np.max(np.abs(b))))
    return Errors(diff, 0.0 if scale == 0 else diff / scale)


def assert_close(ours: Any, reference: Any, rtol: float = 1e-10, atol: float = 0.0) -> Errors:
    """Assert agreement to a normwise relative error ``rtol`` (or absolute ``atol``)."""
    err = errors(ours, reference)
    assert err.max_rel <= rtol or err.max_abs <= atol, f"disagreement with reference: {err}"
    return err


def to_numpy(x: Any) -> Any:
    """Tensors to NumPy (detached); everything else unchanged."""
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return x


def to_torch(x: Any, requires_grad: bool = False) -> Any:
    """NumPy array to a float64 (or matching dtype) torch tensor, optionally tracking gradients."""
    import torch

    t = torch.from_numpy(np.array(x))
    return t.requires_grad_(requires_grad) if t.is_floating_point() else t


def torch_grad(fn: Any, *arrays: Any) -> tuple[Any, list[Any]]:
    """Value of ``fn(*tensors).sum()`` and its gradient w.r.t. every array, via torch autograd."""
    tensors = [to_torch(a, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    out.sum().backward()
    return to_numpy(out), [to_numpy(t.grad) for t in tensors]


def rounding_rtol(terms: int, steps: int = 1, growth: float = 1.0) -> float:
    r"""Normwise relative tolerance for two evaluations of one computation in other orders.

    Each of ``steps`` dependent steps sums ``terms`` products (relative error up to
    ``terms * EPS64``); an error made ``j`` steps before the end is multiplied by at most
    ``growth**j`` (a Lipschitz constant of one step; 1 for sums that do not feed back). So

    .. math:: \text{rtol} = \text{SAFETY} \cdot n \, \epsilon_{64} \sum_{j<k} L^j
              \quad (= \text{SAFETY} \cdot k n \epsilon_{64} \text{ for } L = 1).
    """
    if growth == 1.0:
        total = float(steps)
    else:
        total = (growth**steps - 1.0) / (growth - 1.0)
    return SAFETY * terms * EPS64 * total


def trajectory_rtol(
    run: Callable[[Noise], Sequence[Any]], *, terms: int, steps: int, trials: int = 3
) -> float:
    r"""Tolerance for the end of an iteration (optimizer steps, training) against another code's.

    Two implementations of one iteration differ at each step by rounding: up to ``terms * EPS64``
    relative in each step's input, the gradient (a length-``terms`` sum in another order).
    How much that grows over the run is the iteration's conditioning, not a constant: gradient
    descent on a quadratic with ``lr * max eig(A) < 2`` only adds the errors up (:func:`rounding_rtol`
    with growth 1), while Adam multiplies a perturbation by about
    ``lr (1 - beta1) |A| / sqrt(v_hat)`` per step, which exceeds 1 once ``v`` is small; then the
    error grows geometrically for a while. It is measured here, to first order:
    ``run(noise)`` runs the iteration passing each step's gradient through ``noise(g, scale)``,
    where ``scale`` is what the rounding error of ``g`` is proportional to (``|A| |p| + |b|`` for
    ``A p - b``), and returns the arrays to compare. The identity gives the reference run; each of
    ``trials`` runs adds independent uniform noise of up to ``terms * EPS64 * scale`` (the
    worst-case rounding, ~10x above what two kernels typically differ by), and the largest spread
    from the reference is what other summation orders can produce. Returned: 3x that spread (the
    spread of one draw varies ~4x between draws), at least ``rounding_rtol(terms, steps)``.

    Fails when the result exceeds :data:`MAX_TRAJECTORY_RTOL`: such a run is too ill-conditioned
    to tell a wrong gradient from rounding; shorten it or pick a better-conditioned problem.
    """

    def exact(x: Any, scale: Any) -> Any:
        return x

    reference = [np.array(a, dtype=np.float64) for a in run(exact)]
    spread = 0.0
    for seed in range(trials):
        gen = np.random.default_rng(seed)

        def noisy(x: Any, scale: Any, gen: np.random.Generator = gen) -> Any:
            bound = terms * EPS64 * np.abs(np.asarray(scale, dtype=np.float64))
            return x + bound * gen.uniform(-1.0, 1.0, np.shape(x))

        perturbed = run(noisy)
        assert len(perturbed) == len(reference), "run must return the same arrays each time"
        for a, b in zip(perturbed, reference, strict=True):
            spread = max(spread, errors(a, b).max_rel)
    rtol = max(3.0 * spread, rounding_rtol(terms, steps))
    assert rtol <= MAX_TRAJECTORY_RTOL, (
        f"the trajectory amplifies rounding to {rtol:.1e} relative: too ill-conditioned to compare"
    )
    return rtol


class NoisyOptimizer:
    """An optimizer whose ``step()`` first passes a module's gradients through ``noise``.

    For :func:`trajectory_rtol` on training loops that call ``optimizer.step()`` themselves. The
    scale of each element is its array's largest magnitude (its terms are of that size, and may
    cancel), except that an exact zero stays exact: a gradient no path reaches (the input weights
    of a token absent from the batch) is zero in every order, and Adam would turn noise there
    into full steps of size lr.
    """

    def __init__(self, optimizer: Any, module: Any, noise: Noise) -> None:
        self.optimizer, self.module, self.noise = optimizer, module, noise

    def step(self) -> None:
        for g in self.module.gradients():
            g[...] = self.noise(g, np.where(g == 0, 0.0, np.abs(g).max(initial=0.0)))
        self.optimizer.step()

    def zero_grad(self) -> None:
        self.optimizer.zero_grad()
