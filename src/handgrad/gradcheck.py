r"""Finite-difference gradient checking in float64.

Every hand-derived backward pass in handgrad is tested against these central differences.

Central differences
    .. math:: \frac{\partial f}{\partial x_i} \approx \frac{f(x + h e_i) - f(x - h e_i)}{2h}

    with truncation error :math:`O(h^2 f''')` and rounding error :math:`O(\epsilon_{mach} |f| / h)`;
    ``h = 1e-6`` balances the two in float64, giving about 10 correct digits for smooth functions.

Relative error (normwise, so tiny components do not dominate)
    .. math:: \mathrm{err}(a, b) = \frac{\max_i |a_i - b_i|}{\max(\max_i |a_i|, \max_i |b_i|)}

    and 0 when both are exactly zero.

Directional check (for large inputs, where one evaluation per element is too slow)
    .. math:: \langle \nabla f(x), v \rangle \approx \frac{f(x + h v) - f(x - h v)}{2h}

    for random unit directions ``v``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "GradCheckError",
    "GradCheckResult",
    "assert_grad_close",
    "check_directional",
    "check_grad",
    "numerical_grad",
    "relative_error",
]

Float64Array = NDArray[np.float64]
ScalarFunction = Callable[..., float]


class GradCheckError(AssertionError):
    """Raised by :func:`assert_grad_close` when an analytic gradient disagrees with the numeric one."""


@dataclass(frozen=True)
class GradCheckResult:
    """Outcome of comparing an analytic gradient with central differences.

    Attributes
    ----------
    error : float
        Normwise relative error (see the module docstring) of the worst argument.
    argument : int
        Index (in the ``arrays`` passed) of the argument with the largest error.
    index : tuple of int
        Position of the largest absolute difference inside that argument.
    analytic, numeric : float
        The two values at that position.
    max_abs : float
        Largest absolute difference over every checked argument.
    passed : bool
        ``error <= rtol`` or ``max_abs <= atol`` (the absolute floor matters only when the true
        gradient is zero or tiny, where any relative measure is ill-defined).
    rtol, atol : float
        The tolerances used.
    """

    error: float
    argument: int
    index: tuple[int, ...]
    analytic: float
    numeric: float
    max_abs: float
    passed: bool
    rtol: float
    atol: float

    def __str__(self) -> str:
        verdict = "ok" if self.passed else "FAILED"
        return (
            f"gradient check {verdict}: relative error {self.error:.3e} (rtol {self.rtol:.1e}), "
            f"max abs difference {self.max_abs:.3e} (atol {self.atol:.1e}); "
            f"worst element: argument {self.argument} at {self.index}: "
            f"analytic {self.analytic!r} vs numeric {self.numeric!r}"
        )


def _as_float64(arrays: Sequence[ArrayLike]) -> list[Float64Array]:
    return [np.array(a, dtype=np.float64) for a in arrays]


def numerical_grad(
    f: ScalarFunction,
    *arrays: ArrayLike,
    eps: float = 1e-6,
    wrt: Sequence[int] | None = None,
) -> list[Float64Array]:
    """Central-difference gradient of a scalar function of one or more arrays, in float64.

    Parameters
    ----------
    f : callable
        ``f(*arrays) -> float``; it is called with float64 copies of ``arrays``.
    *arrays : array_like
        The point at which to differentiate.
    eps : float
        Step ``h`` of the central difference.
    wrt : sequence of int, optional
        Indices of the arguments to differentiate (default: all).

    Returns
    -------
    list of ndarray
        One float64 gradient per argument in ``wrt``, each with the shape of its argument.
        Cost: ``2 * size`` evaluations of ``f`` per argument.
    """
    xs = _as_float64(arrays)
    targets = range(len(xs)) if wrt is None else wrt
    grads = []
    for k in targets:
        x = xs[k]
        flat = x.reshape(-1)  # view: writing into it perturbs xs[k]
        g = np.empty(flat.shape, dtype=np.float64)
        for i in range(flat.size):
            saved = flat[i]
            flat[i] = saved + eps
            f_plus = float(f(*xs))
            flat[i] = saved - eps
            f_minus = float(f(*xs))
            flat[i] = saved
            g[i] = (f_plus - f_minus) / (2.0 * eps)
        grads.append(g.reshape(x.shape))
    return grads


def relative_error(a: ArrayLike, b: ArrayLike) -> float:
    """Normwise relative error ``max|a - b| / max(max|a|, max|b|)``; 0 when both are zero."""
    a64 = np.asarray(a, dtype=np.float64)
    b64 = np.asarray(b, dtype=np.float64)
    if a64.shape != b64.shape:
        raise ValueError(f"a and b must have the same shape; got {a64.shape} and {b64.shape}")
    if a64.size == 0:
        return 0.0
    scale = max(float(np.max(np.abs(a64))), float(np.max(np.abs(b64))))
    diff = float(np.max(np.abs(a64 - b64)))
    if scale == 0.0:
        return 0.0
    return diff / scale


def check_grad(
    f: ScalarFunction,
    analytic: ArrayLike | Sequence[ArrayLike],
    *arrays: ArrayLike,
    rtol: float = 1e-7,
    atol: float = 1e-10,
    eps: float = 1e-6,
    wrt: Sequence[int] | None = None,
) -> GradCheckResult:
    """Compare analytic gradients with central differences and report the worst element.

    Parameters
    ----------
    f : callable
        ``f(*arrays) -> float``.
    analytic : array_like or sequence of array_like
        The gradient(s) to check, one per argument in ``wrt`` (a single array when checking one).
    *arrays : array_like
        The point.
    rtol : float
        Largest accepted normwise relative error.
    atol : float
        Absolute floor: also passes when every difference is at most ``atol``. The default
        ``1e-10`` is the rounding noise of a central difference with ``h = 1e-6`` for ``|f| ~ 1``.
    eps, wrt
        As in :func:`numerical_grad`.
    """
    targets = list(range(len(arrays))) if wrt is None else list(wrt)
    if len(targets) == 1 and not isinstance(analytic, list | tuple):
        analytic_list = [np.asarray(analytic, dtype=np.float64)]
    else:
        analytic_list = [np.asarray(g, dtype=np.float64) for g in analytic]  # type: ignore[union-attr]
    if len(analytic_list) != len(targets):
        raise ValueError(
            f"analytic must hold one gradient per checked argument ({len(targets)}); "
            f"got {len(analytic_list)}"
        )
    numeric_list = numerical_grad(f, *arrays, eps=eps, wrt=targets)
    worst: tuple[float, int, tuple[int, ...], float, float] | None = None
    max_abs = 0.0
    for arg, g_a, g_n in zip(targets, analytic_list, numeric_list, strict=True):
        if g_a.shape != g_n.shape:
            raise ValueError(
                f"analytic gradient for argument {arg} has shape {g_a.shape}; "
                f"the argument has shape {g_n.shape}"
            )
        err = relative_error(g_a, g_n)
        if g_a.size:
            pos = np.unravel_index(int(np.argmax(np.abs(g_a - g_n))), g_a.shape)
            index = tuple(int(i) for i in pos)
            a_val, n_val = float(g_a[index]), float(g_n[index])
        else:
            index, a_val, n_val = (), 0.0, 0.0
        max_abs = max(max_abs, abs(a_val - n_val))
        if worst is None or err > worst[0]:
            worst = (err, arg, index, a_val, n_val)
    if worst is None:
        raise ValueError("check_grad needs at least one argument to check")
    passed = worst[0] <= rtol or max_abs <= atol
    return GradCheckResult(*worst, max_abs=max_abs, passed=passed, rtol=rtol, atol=atol)


def assert_grad_close(
    f: ScalarFunction,
    analytic: ArrayLike | Sequence[ArrayLike],
    *arrays: ArrayLike,
    rtol: float = 1e-7,
    atol: float = 1e-10,
    eps: float = 1e-6,
    wrt: Sequence[int] | None = None,
) -> GradCheckResult:
    """Like :func:`check_grad`, but raise :class:`GradCheckError` (naming the worst element) on failure."""
    result = check_grad(f, analytic, *arrays, rtol=rtol, atol=atol, eps=eps, wrt=wrt)
    if not result.passed:
        raise GradCheckError(str(result))
    return result


def check_directional(
    f: ScalarFunction,
    analytic: ArrayLike | Sequence[ArrayLike],
    *arrays: ArrayLike,
    rng: np.random.Generator,
    n_directions: int = 4,
    rtol: float = 1e-7,
    eps: float = 1e-6,
) -> float:
    """Random-direction check for large inputs; returns the worst relative error.

    For each random direction ``v`` (one block per argument, jointly of unit norm) compares the
    analytic directional derivative ``sum_k <g_k, v_k>`` with the central difference of ``f`` along
    ``v``. The error is relative to ``||g||_2`` (the largest possible directional derivative), so a
    direction nearly orthogonal to the gradient does not inflate it.

    Raises
    ------
    GradCheckError
        If the worst error exceeds ``rtol``.
    """
    xs = _as_float64(arrays)
    if len(xs) == 1 and not isinstance(analytic, list | tuple):
        grads = [np.asarray(analytic, dtype=np.float64)]
    else:
        grads = [np.asarray(g, dtype=np.float64) for g in analytic]  # type: ignore[union-attr]
    if len(grads) != len(xs) or any(g.shape != x.shape for g, x in zip(grads, xs, strict=True)):
        raise ValueError(
            "analytic must hold one gradient per argument, each of the argument's shape"
        )
    g_norm = float(np.sqrt(sum(float(np.sum(g * g)) for g in grads)))
    worst = 0.0
    for _ in range(n_directions):
        vs = [rng.standard_normal(x.shape) for x in xs]
        v_norm = float(np.sqrt(sum(float(np.sum(v * v)) for v in vs)))
        vs = [v / v_norm for v in vs]
        plus = float(f(*[x + eps * v for x, v in zip(xs, vs, strict=True)]))
        minus = float(f(*[x - eps * v for x, v in zip(xs, vs, strict=True)]))
        numeric = (plus - minus) / (2.0 * eps)
        exact = sum(float(np.sum(g * v)) for g, v in zip(grads, vs, strict=True))
        scale = max(g_norm, abs(numeric))
        err = 0.0 if scale == 0.0 else abs(numeric - exact) / scale
        worst = max(worst, err)
    if worst > rtol:
        raise GradCheckError(
            f"directional gradient check FAILED: relative error {worst:.3e} > rtol {rtol:.1e}"
        )
    return worst
