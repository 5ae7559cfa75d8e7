r"""Finite-difference gradient checking in float64.

Every hand-derived backward pass in handgrad is tested against these central differences.

Central differences
    .. math:: \frac{\partial f}{\partial x_i} \approx \frac{f(x + h e_i) - f(x - h e_i)}{2h}

    with truncation error :math:`O(h^2 f''')` and rounding error :math:`O(\epsilon_{mach} |f| / h)`;
    ``h = 1e-6`` balances the two in float64, giving about 10 correct digits for smooth functions.

Relative error (normwise, so tiny components do not dominate)
    .. math:: \mathrm{err}(a, b) = \frac{\max_i |a_i - b_i|}{\max(\max_i |a_i|, \max_i |b_i|)}

    and 0 when both are exactly zero (NaN when either holds a NaN or an infinity).

Directional check (for large inputs, where one evaluation per element is too slow)
    .. math:: \langle \nabla f(x), v \rangle \approx \frac{f(x + h v) - f(x - h v)}{2h}

    for random unit directions ``v``.

Non-finite values fail
    A NaN or an infinity anywhere in the analytic gradient, in the central differences or in a
    value of ``f`` that the check evaluates (at :math:`x \pm h e_i` or :math:`x \pm h v`) is never
    accepted: :func:`check_grad` reports ``passed=False`` with ``error = max_abs = inf`` and names
    the first such element (argument, position, analytic and numeric values);
    :func:`assert_grad_close` and :func:`check_directional` raise :class:`GradCheckError`. (A
    comparison such as ``abs(a - n) <= tol`` is False for NaN, but a running maximum
    ``max(m, nan)`` silently keeps ``m``; every check here tests finiteness first.)
    The point itself must be finite (``ValueError`` otherwise).

Argument checks
    ``f`` must be callable and return a real scalar (a Python or NumPy number, or an array of one
    element); ``eps > 0``, ``rtol >= 0``, ``atol >= 0`` are finite real numbers and
    ``n_directions >= 1``. A wrong kind of object raises ``TypeError``, a wrong value
    ``ValueError``; both name the argument.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from handgrad._checks import as_float_array, check_finite, check_positive_int, check_real

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
        Normwise relative error (see the module docstring) of the worst argument; ``inf`` when
        a gradient holds a non-finite value.
    argument : int
        Index (in the ``arrays`` passed) of the argument with the largest error (or of the first
        non-finite element).
    index : tuple of int
        Position of the largest absolute difference inside that argument (or of the first
        non-finite element, in C order).
    analytic, numeric : float
        The two values at that position.
    max_abs : float
        Largest absolute difference over every checked argument; ``inf`` when a gradient holds a
        non-finite value.
    passed : bool
        ``error <= rtol`` or ``max_abs <= atol`` (the absolute floor matters only when the true
        gradient is zero or tiny, where any relative measure is ill-defined). Always False when
        the analytic or the numeric gradient holds a NaN or an infinity.
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
        where = (
            f"argument {self.argument} at {self.index}: "
            f"analytic {self.analytic!r} vs numeric {self.numeric!r}"
        )
        causes = []
        if not math.isfinite(self.analytic):
            causes.append("the analytic gradient is not finite")
        if not math.isfinite(self.numeric):
            causes.append("f is not finite at the point +- eps along this element")
        if causes:
            return (
                f"gradient check {verdict}: non-finite gradient (NaN or inf) at {where} "
                f"({'; '.join(causes)}); gradients must be finite"
            )
        return (
            f"gradient check {verdict}: relative error {self.error:.3e} (rtol {self.rtol:.1e}), "
            f"max abs difference {self.max_abs:.3e} (atol {self.atol:.1e}); "
            f"worst element: {where}"
        )


# -- argument checks (once, at each public entry point) --------------------------------------
def _check_function(f: Any) -> None:
    if not callable(f):
        raise TypeError(f"f must be callable (f(*arrays) -> float); got {type(f).__name__}")


def _as_float64(arrays: Sequence[ArrayLike]) -> list[Float64Array]:
    """Float64 copies of the point (perturbed in place); each must be finite."""
    xs = []
    for k, a in enumerate(arrays):
        x = np.array(as_float_array(a, f"arrays[{k}]", dtype=np.float64))  # a copy
        check_finite(x, f"arrays[{k}]")
        xs.append(x)
    return xs


def _check_wrt(wrt: Sequence[int] | None, n: int) -> list[int]:
    """The argument indices to differentiate: distinct ints in [0, n)."""
    if wrt is None:
        return list(range(n))
    if not isinstance(wrt, Sequence) or isinstance(wrt, str):
        raise TypeError(f"wrt must be a sequence of argument indices; got {type(wrt).__name__}")
    targets = [check_positive_int(k, "wrt", allow_zero=True) for k in wrt]
    for k in targets:
        if k >= n:
            raise ValueError(f"wrt must hold indices in [0, {n}) (one per array); got {k}")
    if len(set(targets)) != len(targets):
        raise ValueError(f"wrt must not repeat an index; got {list(wrt)}")
    return targets


def _check_steps(eps: Any, rtol: Any = 0.0, atol: Any = 0.0) -> tuple[float, float, float]:
    return (
        check_real(eps, "eps", 0.0, None, low_inclusive=False),
        check_real(rtol, "rtol", 0.0, None),
        check_real(atol, "atol", 0.0, None),
    )


def _analytic_list(analytic: Any, n: int) -> list[NDArray[np.floating]]:
    """One float64 array per checked argument (a bare array when there is one)."""
    if n == 1 and not isinstance(analytic, list | tuple):
        return [as_float_array(analytic, "analytic", dtype=np.float64)]
    if not isinstance(analytic, list | tuple):
        raise TypeError(
            f"analytic must be a list of {n} gradients (one per checked argument); "
            f"got {type(analytic).__name__}"
        )
    if len(analytic) != n:
        raise ValueError(
            f"analytic must hold one gradient per checked argument ({n}); got {len(analytic)}"
        )
    return [as_float_array(g, f"analytic[{k}]", dtype=np.float64) for k, g in enumerate(analytic)]


def _value(f: ScalarFunction, xs: Sequence[Float64Array]) -> float:
    """``f(*xs)`` as a float; a NaN or inf comes back as is (the callers fail on it)."""
    out = f(*xs)
    if isinstance(out, bool | np.bool_) or not isinstance(
        out, int | float | np.integer | np.floating | np.ndarray
    ):
        raise TypeError(f"f must return a real scalar; got {type(out).__name__} {out!r}"[:160])
    arr = np.asarray(out)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"f must return a real scalar; got an array of dtype {arr.dtype}")
    if arr.size != 1:
        raise ValueError(f"f must return a scalar; got an array of shape {arr.shape}")
    return float(arr.reshape(()))


def _first_nonfinite(a: NDArray[np.floating], b: NDArray[np.floating]) -> tuple[int, ...] | None:
    """Position (C order) of the first element where ``a`` or ``b`` is NaN or infinite."""
    bad = ~(np.isfinite(a) & np.isfinite(b))
    if not bad.any():
        return None
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), a.shape))


# -- numerical gradient -----------------------------------------------------------------------
def _numerical_grad(
    f: ScalarFunction, xs: list[Float64Array], eps: float, targets: Sequence[int]
) -> list[Float64Array]:
    grads = []
    for k in targets:
        x = xs[k]
        flat = x.reshape(-1)  # view: writing into it perturbs xs[k]
        g = np.empty(flat.shape, dtype=np.float64)
        for i in range(flat.size):
            saved = flat[i]
            flat[i] = saved + eps
            f_plus = _value(f, xs)
            flat[i] = saved - eps
            f_minus = _value(f, xs)
            flat[i] = saved
            g[i] = (f_plus - f_minus) / (2.0 * eps)  # Python floats: inf - inf is NaN, silently
        grads.append(g.reshape(x.shape))
    return grads


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
        ``f(*arrays) -> float``; it is called with float64 copies of ``arrays`` and must return a
        real scalar (a number or an array of one element).
    *arrays : array_like
        The point at which to differentiate (finite values).
    eps : float
        Step ``h > 0`` of the central difference.
    wrt : sequence of int, optional
        Indices of the arguments to differentiate (default: all), distinct.

    Returns
    -------
    list of ndarray
        One float64 gradient per argument in ``wrt``, each with the shape of its argument.
        An element is NaN or infinite where ``f`` was not finite at ``x +- h e_i`` (the checkers
        fail on it). Cost: ``2 * size`` evaluations of ``f`` per argument.
    """
    _check_function(f)
    eps, _, _ = _check_steps(eps)
    xs = _as_float64(arrays)
    return _numerical_grad(f, xs, eps, _check_wrt(wrt, len(xs)))


def relative_error(a: ArrayLike, b: ArrayLike) -> float:
    """Normwise relative error ``max|a - b| / max(max|a|, max|b|)``; 0 when both are zero.

    NaN when ``a`` or ``b`` holds a NaN or an infinity (no error is small then).
    """
    a64 = as_float_array(a, "a", dtype=np.float64)
    b64 = as_float_array(b, "b", dtype=np.float64)
    if a64.shape != b64.shape:
        raise ValueError(f"a and b must have the same shape; got {a64.shape} and {b64.shape}")
    if a64.size == 0:
        return 0.0
    if not (np.isfinite(a64).all() and np.isfinite(b64).all()):
        return math.nan
    scale = max(float(np.max(np.abs(a64))), float(np.max(np.abs(b64))))
    diff = float(np.max(np.abs(a64 - b64)))
    if scale == 0.0:
        return 0.0
    return diff / scale


# -- checks -----------------------------------------------------------------------------------
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
        ``f(*arrays) -> float`` (a real scalar).
    analytic : array_like or sequence of array_like
        The gradient(s) to check, one per argument in ``wrt`` (a single array when checking one).
    *arrays : array_like
        The point (finite values).
    rtol : float
        Largest accepted normwise relative error (>= 0).
    atol : float
        Absolute floor (>= 0): also passes when every difference is at most ``atol``. The default
        ``1e-10`` is the rounding noise of a central difference with ``h = 1e-6`` for ``|f| ~ 1``.
    eps, wrt
        As in :func:`numerical_grad`.

    Returns
    -------
    GradCheckResult
        ``passed`` is False whenever the analytic or the numeric gradient holds a NaN or an
        infinity (a non-finite ``f`` near the point makes the numeric one non-finite); then
        ``error`` and ``max_abs`` are ``inf`` and the result names the first such element.
    """
    _check_function(f)
    eps, rtol, atol = _check_steps(eps, rtol, atol)
    xs = _as_float64(arrays)
    targets = _check_wrt(wrt, len(xs))
    if not targets:
        raise ValueError("check_grad needs at least one argument to check; got none")
    analytic_list = _analytic_list(analytic, len(targets))
    for k, (arg, g_a) in enumerate(zip(targets, analytic_list, strict=True)):
        if g_a.shape != xs[arg].shape:
            label = "analytic" if len(targets) == 1 else f"analytic[{k}]"
            raise ValueError(
                f"{label} (the gradient for argument {arg}) must have the argument's shape "
                f"{xs[arg].shape}; got {g_a.shape}"
            )
    numeric_list = _numerical_grad(f, xs, eps, targets)
    for arg, g_a, g_n in zip(targets, analytic_list, numeric_list, strict=True):
        bad = _first_nonfinite(g_a, g_n)
        if bad is not None:
            return GradCheckResult(
                error=math.inf,
                argument=arg,
                index=bad,
                analytic=float(g_a[bad]),
                numeric=float(g_n[bad]),
                max_abs=math.inf,
                passed=False,
                rtol=rtol,
                atol=atol,
            )
    worst: tuple[float, int, tuple[int, ...], float, float] | None = None
    max_abs = 0.0
    for arg, g_a, g_n in zip(targets, analytic_list, numeric_list, strict=True):
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
    assert worst is not None  # targets is not empty
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
    """Like :func:`check_grad`, but raise :class:`GradCheckError` (naming the worst element) on failure.

    A NaN or an infinity in either gradient always fails, naming the first such element.
    """
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
        If the worst error exceeds ``rtol``, if the analytic gradient holds a NaN or an infinity
        (the message names the argument, the position and the value), or if ``f`` is not finite
        at ``x +- eps v`` (the message names the direction and the two values).
    """
    _check_function(f)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator; got {type(rng).__name__}")
    n_directions = check_positive_int(n_directions, "n_directions")
    eps, rtol, _ = _check_steps(eps, rtol)
    xs = _as_float64(arrays)
    if not xs:
        raise ValueError("check_directional needs at least one argument to check; got none")
    grads = _analytic_list(analytic, len(xs))
    for k, (g, x) in enumerate(zip(grads, xs, strict=True)):
        if g.shape != x.shape:
            label = "analytic" if len(xs) == 1 else f"analytic[{k}]"
            raise ValueError(
                f"{label} (the gradient for argument {k}) must have the argument's shape "
                f"{x.shape}; got {g.shape}"
            )
    for k, g in enumerate(grads):
        bad = _first_nonfinite(g, g)
        if bad is not None:
            raise GradCheckError(
                f"directional gradient check FAILED: non-finite analytic gradient (NaN or inf) "
                f"at argument {k} at {bad}: analytic {float(g[bad])!r}; a finite gradient is "
                "required"
            )
    g_norm = float(np.sqrt(sum(float(np.sum(g * g)) for g in grads)))
    worst = 0.0
    for d in range(n_directions):
        vs = [rng.standard_normal(x.shape) for x in xs]
        v_norm = float(np.sqrt(sum(float(np.sum(v * v)) for v in vs)))
        vs = [v / v_norm for v in vs] if v_norm > 0 else vs
        plus = _value(f, [x + eps * v for x, v in zip(xs, vs, strict=True)])
        minus = _value(f, [x - eps * v for x, v in zip(xs, vs, strict=True)])
        numeric = (plus - minus) / (2.0 * eps)
        if not math.isfinite(numeric):
            raise GradCheckError(
                f"directional gradient check FAILED: non-finite numeric derivative along "
                f"direction {d}: f(x + eps v) = {plus!r}, f(x - eps v) = {minus!r}; f must be "
                "finite near the point"
            )
        exact = sum(float(np.sum(g * v)) for g, v in zip(grads, vs, strict=True))
        scale = max(g_norm, abs(numeric))
        err = 0.0 if scale == 0.0 else abs(numeric - exact) / scale
        worst = max(worst, err)
    if worst > rtol:
        raise GradCheckError(
            f"directional gradient check FAILED: relative error {worst:.3e} > rtol {rtol:.1e}"
        )
    return worst
