"""Input validation shared by every public function.

One place for every "expected ..., got ..." message. Each check names the argument, says what is
accepted and what was received, and raises ``ValueError`` (wrong value, shape, range) or
``TypeError`` (wrong kind of object or dtype). Public entry points call these once; internal helpers
trust their inputs.

Conventions
-----------
* Floating arrays keep their dtype (float32 or float64); integers and bools are promoted to float64.
* ``shape`` patterns use ``None`` for "any size" and strings for named sizes that must agree across
  arguments, e.g. ``check_shape(pred, "pred", ("N", 4))``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "as_array",
    "as_float_array",
    "as_int_array",
    "check_bool",
    "check_choice",
    "check_finite",
    "check_in_range",
    "check_ndim",
    "check_pair",
    "check_positive_int",
    "check_real",
    "check_same_shape",
    "check_shape",
]

ShapePattern = Sequence[int | str | None]


def _describe(x: Any) -> str:
    """Short description of a received object for error messages."""
    if isinstance(x, np.ndarray):
        return f"array of shape {x.shape} and dtype {x.dtype}"
    return f"{type(x).__name__} {x!r}"[:120]


def as_float_array(x: ArrayLike, name: str, *, dtype: Any = None) -> NDArray[np.floating]:
    """Convert ``x`` to a floating array, keeping float32/float64 and promoting ints and bools.

    Parameters
    ----------
    x : array_like
        Input values.
    name : str
        Argument name used in error messages.
    dtype : dtype, optional
        Force this floating dtype instead of keeping the input's.

    Raises
    ------
    TypeError
        If ``x`` is not numeric (strings, objects, complex numbers).
    """
    arr = as_array(x, name)
    if dtype is not None:
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be a real numeric array; got dtype {arr.dtype}")
        return arr.astype(dtype, copy=False)
    if arr.dtype.kind == "f":
        if arr.dtype not in (np.float32, np.float64):
            return arr.astype(np.float64)
        return arr
    if arr.dtype.kind in "biu":
        return arr.astype(np.float64)
    raise TypeError(
        f"{name} must be a real numeric array (float32, float64, int or bool); got dtype {arr.dtype}"
    )


def as_int_array(x: ArrayLike, name: str) -> NDArray[np.integer]:
    """Convert ``x`` to an int64 array; floats are accepted only when they hold whole numbers.

    Raises
    ------
    TypeError
        If ``x`` is ragged or not numeric (strings, objects other than integers).
    ValueError
        For non-integer floats and for values outside int64 (uint64 above 2**63 - 1, floats of
        magnitude 2**63 or more, large Python ints); the message shows the value as given.
    """
    arr = as_array(x, name, "an integer array")
    if arr.dtype.kind in "ib":
        return arr.astype(np.int64, copy=False)
    if arr.dtype.kind == "u":
        if arr.dtype.itemsize == 8 and arr.size and arr.max() > _INT64_MAX:
            _raise_outside_int64(arr, arr > _INT64_MAX, name)
        return arr.astype(np.int64, copy=False)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ValueError(f"{name} must hold whole numbers; got non-integer values")
        outside = (arr < -(2.0**63)) | (arr >= 2.0**63)
        if outside.any():
            _raise_outside_int64(arr, outside, name)
        return arr.astype(np.int64)
    if arr.dtype == object and all(
        isinstance(v, int | np.integer) and not isinstance(v, bool) for v in arr.flat
    ):  # Python ints that NumPy could not fit in int64 or uint64
        outside = np.vectorize(lambda v: not -(2**63) <= int(v) <= _INT64_MAX, otypes=[bool])(arr)
        if outside.any():
            _raise_outside_int64(arr, outside, name)
        return arr.astype(np.int64)
    raise TypeError(f"{name} must be an integer array; got dtype {arr.dtype}")


_INT64_MAX = np.iinfo(np.int64).max


def _raise_outside_int64(arr: NDArray[Any], outside: NDArray[np.bool_], name: str) -> None:
    """Raise ``ValueError`` naming the first value of ``arr`` that int64 cannot hold."""
    where = tuple(int(i) for i in np.argwhere(outside)[0]) if arr.ndim else ()
    value = arr[where]
    value = value.item() if isinstance(value, np.generic | np.ndarray) else value
    raise ValueError(
        f"{name} must hold values in the int64 range [-2**63, 2**63 - 1]; got {value!r} "
        f"at index {where}"
    )


def as_array(x: Any, name: str, expected: str = "a numeric array") -> NDArray[Any]:
    """``np.asarray(x)``, with a ``TypeError`` naming ``name`` for ragged nested sequences."""
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as exc:  # ragged nested lists and similar
        reason = "ragged: rows of different lengths" if "inhomogeneous" in str(exc) else exc
        raise TypeError(f"{name} must be {expected}; got {_describe(x)} ({reason})") from None


def check_finite(x: NDArray[Any], name: str) -> None:
    """Raise ``ValueError`` if ``x`` holds NaN or infinity, saying where the first one is."""
    if x.dtype.kind != "f":
        return
    finite = np.isfinite(x)
    if not finite.all():
        bad = np.argwhere(~finite)[0]
        where = tuple(int(i) for i in bad)
        value = x[tuple(bad)] if x.ndim else x
        raise ValueError(
            f"{name} must be finite (no NaN or inf); got {value} at index {where if x.ndim else ()}"
        )


def check_ndim(x: NDArray[Any], name: str, ndim: int | Iterable[int]) -> None:
    """Raise ``ValueError`` unless ``x.ndim`` is ``ndim`` (or one of them)."""
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if x.ndim not in allowed:
        want = " or ".join(f"{d}-D" for d in allowed)
        raise ValueError(f"{name} must be {want}; got shape {x.shape} ({x.ndim}-D)")


def check_shape(
    x: NDArray[Any],
    name: str,
    pattern: ShapePattern,
    sizes: dict[str, int] | None = None,
) -> dict[str, int]:
    """Check ``x.shape`` against ``pattern``; named sizes are bound in (and checked against) ``sizes``.

    Returns the updated ``sizes`` so several arguments can be checked for agreement::

        sizes = check_shape(pred, "pred", ("N", 4))
        check_shape(target, "target", ("N", 4), sizes)
    """
    sizes = {} if sizes is None else sizes
    shown = "(" + ", ".join("*" if p is None else str(p) for p in pattern) + ")"
    if x.ndim != len(pattern):
        raise ValueError(f"{name} must have shape {shown}; got {x.shape}")
    for axis, (want, got) in enumerate(zip(pattern, x.shape, strict=True)):
        if want is None:
            continue
        if isinstance(want, str):
            if want in sizes and sizes[want] != got:
                raise ValueError(
                    f"{name} must have shape {shown} with {want} = {sizes[want]} "
                    f"(from an earlier argument); got {x.shape}"
                )
            sizes[want] = got
        elif got != want:
            raise ValueError(f"{name} must have shape {shown}; got {x.shape} (axis {axis})")
    return sizes


def check_same_shape(a: NDArray[Any], a_name: str, b: NDArray[Any], b_name: str) -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` have the same shape."""
    if a.shape != b.shape:
        raise ValueError(
            f"{a_name} and {b_name} must have the same shape; got {a.shape} and {b.shape}"
        )


def check_choice(value: Any, name: str, choices: Iterable[Any]) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``choices``."""
    options = tuple(choices)
    if value not in options:
        shown = ", ".join(repr(c) for c in options)
        raise ValueError(f"{name} must be one of {shown}; got {value!r}")


def check_in_range(
    value: float,
    name: str,
    low: float | None = None,
    high: float | None = None,
    *,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> None:
    """Raise ``ValueError`` unless ``low <= value <= high`` (bounds optional, inclusivity chosen)."""
    if not np.isfinite(value) and not (
        (low is None and value == -np.inf) or (high is None and value == np.inf)
    ):
        raise ValueError(f"{name} must be a finite number; got {value!r}")
    lo_ok = low is None or (value >= low if low_inclusive else value > low)
    hi_ok = high is None or (value <= high if high_inclusive else value < high)
    if not (lo_ok and hi_ok):
        left = "(-inf" if low is None else ("[" if low_inclusive else "(") + f"{low}"
        right = "inf)" if high is None else f"{high}" + ("]" if high_inclusive else ")")
        raise ValueError(f"{name} must be in {left}, {right}; got {value!r}")


def check_real(
    value: Any,
    name: str,
    low: float | None = None,
    high: float | None = None,
    *,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
    allow_0d: bool = False,
) -> float:
    """Return ``value`` as a float if it is a real number (not a string or bool) within the bounds.

    Raises ``TypeError`` for anything that is not an int or float (``"0.5"``, ``None``, ``True``,
    arrays) and ``ValueError`` for NaN, an infinity or a value outside the bounds. With
    ``allow_0d=True`` a 0-d integer or floating array (``np.array(0.5)``) counts as its value.
    """
    if allow_0d and isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
        value = value.item()
    if isinstance(value, bool | np.bool_) or not isinstance(
        value, int | float | np.integer | np.floating
    ):
        raise TypeError(f"{name} must be a real number; got {_describe(value)}")
    try:
        number = float(value)
    except OverflowError:  # a Python int beyond the float range
        raise ValueError(f"{name} must be a finite number; got {value!r}") from None
    if not np.isfinite(number):
        raise ValueError(f"{name} must be a finite number; got {number!r}")
    check_in_range(
        number, name, low, high, low_inclusive=low_inclusive, high_inclusive=high_inclusive
    )
    return number


def check_bool(value: Any, name: str) -> bool:
    """Return ``value`` if it is ``True`` or ``False`` (a NumPy bool too); else ``TypeError``.

    Strings such as ``"no"`` and numbers are refused: they would silently count as true.
    """
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False; got {_describe(value)}")
    return bool(value)


def check_positive_int(value: Any, name: str, *, allow_zero: bool = False) -> int:
    """Return ``value`` as int if it is a positive (or non-negative) integer, else raise."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an integer; got {_describe(value)}")
    if value < 0 or (value == 0 and not allow_zero):
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be a {kind} integer; got {value}")
    return int(value)


def check_pair(value: Any, name: str, *, allow_zero: bool = True) -> tuple[int, int]:
    """Accept an int or an (h, w) pair of non-negative ints, PyTorch style; return the pair."""
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        pair: tuple[Any, ...] = (value, value)
    elif isinstance(value, tuple | list) and len(value) == 2:
        pair = tuple(value)
    else:
        raise TypeError(f"{name} must be an int or an (h, w) pair of ints; got {_describe(value)}")
    return (
        check_positive_int(pair[0], name, allow_zero=allow_zero),
        check_positive_int(pair[1], name, allow_zero=allow_zero),
    )
