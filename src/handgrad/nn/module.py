"""The ``Module`` base: named parameters, their gradients, state dicts.

Conventions
-----------
* ``module.params[name]`` and ``module.grads[name]`` are NumPy arrays of the same shape and dtype;
  a child module's entries appear under ``"child.name"`` (``"rnn.weight_ih_l0"``), as in PyTorch's
  ``state_dict``. Both dicts hold the live arrays (no copies): optimizers update them in place.
* Gradients accumulate (``+=``) across backward calls, like torch's ``.grad``, until
  :meth:`Module.zero_grad`.
* ``load_state_dict`` copies values into the existing arrays (so references held by an optimizer stay
  valid), casting to the module's dtype; unknown, missing, misshaped or non-finite entries (NaN,
  inf, or a value that overflows the module's dtype) raise ``ValueError``, non-numeric ones
  ``TypeError``, each naming the key; nothing is loaded unless every entry passes.
* Parameters are float32 or float64: every constructor checks ``dtype`` (``TypeError`` otherwise),
  since the layers' kernels and checks are written for those two.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from handgrad._checks import as_float_array, check_bool, check_finite, check_positive_int

__all__ = ["Module", "make_rng", "param_dtype", "uniform_init"]

Array = NDArray[np.floating]


def param_dtype(dtype: Any) -> np.dtype[Any]:
    """``dtype`` as a NumPy dtype if it is float32 or float64; else raise ``TypeError`` naming it."""
    try:
        dt = None if dtype is None else np.dtype(dtype)
    except (TypeError, ValueError):  # not a dtype at all
        dt = None
    if dt is None or dt not in (np.float32, np.float64):
        shown = dt if dt is not None else f"{type(dtype).__name__} {dtype!r}"[:120]
        raise TypeError(f"dtype must be float32 or float64; got {shown}")
    return dt


def make_rng(rng: np.random.Generator | None, seed: int | None) -> np.random.Generator:
    """The generator to initialise parameters with: ``rng`` if given, else ``default_rng(seed)``."""
    if rng is not None and seed is not None:
        raise ValueError("pass either rng or seed, not both")
    if rng is not None:
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator; got {type(rng).__name__}")
        return rng
    if seed is not None:
        seed = check_positive_int(seed, "seed", allow_zero=True)
    return np.random.default_rng(seed)


def uniform_init(
    rng: np.random.Generator, shape: tuple[int, ...], bound: float, dtype: Any
) -> Array:
    """Draw ``U(-bound, bound)`` of ``shape`` (PyTorch's default for recurrent and linear layers)."""
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


class Module:
    """Base class: owns named parameters and gradients, and child modules.

    Subclasses register parameters with :meth:`add_param` and children with :meth:`add_module`,
    implement ``forward`` (and ``backward``), and call ``self(...)`` like a function.
    """

    def __init__(self) -> None:
        self._params: dict[str, Array] = {}
        self._grads: dict[str, Array] = {}
        self._children: dict[str, Module] = {}

    # -- registration -------------------------------------------------------------------------
    def add_param(self, name: str, value: Array) -> Array:
        """Register parameter ``name`` (a float array) with a zero gradient of the same shape."""
        self._params[name] = value
        self._grads[name] = np.zeros_like(value)
        return value

    def add_module(self, name: str, module: Module) -> Module:
        """Register a child module; its parameters appear as ``"name.<param>"``."""
        self._children[name] = module
        return module

    # -- iteration ----------------------------------------------------------------------------
    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Array]]:
        """Yield ``(name, array)`` for every parameter, own ones first, then children's."""
        for name, value in self._params.items():
            yield prefix + name, value
        for child_name, child in self._children.items():
            yield from child.named_parameters(prefix + child_name + ".")

    def named_grads(self, prefix: str = "") -> Iterator[tuple[str, Array]]:
        """Yield ``(name, gradient)`` in the order of :meth:`named_parameters`."""
        for name, value in self._grads.items():
            yield prefix + name, value
        for child_name, child in self._children.items():
            yield from child.named_grads(prefix + child_name + ".")

    def parameters(self) -> list[Array]:
        """The parameter arrays (live, not copies), in :meth:`named_parameters` order."""
        return [p for _, p in self.named_parameters()]

    def gradients(self) -> list[Array]:
        """The gradient arrays (live), aligned with :meth:`parameters`."""
        return [g for _, g in self.named_grads()]

    @property
    def params(self) -> dict[str, Array]:
        """Name -> live parameter array (children prefixed)."""
        return dict(self.named_parameters())

    @property
    def grads(self) -> dict[str, Array]:
        """Name -> live gradient array, same keys as :attr:`params`."""
        return dict(self.named_grads())

    @property
    def dtype(self) -> np.dtype[Any]:
        """The parameters' dtype (float64 for a module without parameters)."""
        for _, p in self.named_parameters():
            return p.dtype
        return np.dtype(np.float64)

    # -- state --------------------------------------------------------------------------------
    def zero_grad(self) -> None:
        """Set every gradient to zero (in place)."""
        for _, g in self.named_grads():
            g.fill(0)

    def state_dict(self) -> dict[str, Array]:
        """Copies of every parameter under its (prefixed) name."""
        return {name: p.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state: Mapping[str, ArrayLike], strict: bool = True) -> None:
        """Copy ``state``'s arrays into the parameters (in place, cast to the module's dtype).

        Parameters
        ----------
        state : mapping of str to array_like
            Arrays keyed as in :meth:`state_dict` (NumPy arrays or anything ``np.asarray`` takes),
            real and finite, each of its parameter's shape.
        strict : bool
            If true, ``state`` must hold exactly this module's keys (unknown keys are an error
            either way).

        Raises
        ------
        TypeError
            If ``state`` is not a mapping or an entry is not a real numeric array.
        ValueError
            For unknown or (strict) missing keys, a wrong shape, a NaN or an infinity, or a value
            outside the range of the module's dtype. Nothing is loaded then.
        """
        if not isinstance(state, Mapping):
            raise TypeError(
                f"state must be a mapping of parameter names to arrays; got {type(state).__name__}"
            )
        strict = check_bool(strict, "strict")
        params = self.params
        unknown = sorted(repr(k) for k in state if k not in params)
        missing = sorted(repr(k) for k in set(params) - set(state))
        if unknown or (strict and missing):
            raise ValueError(
                f"state keys must match the module's parameters {sorted(params)}; "
                f"got unexpected [{', '.join(unknown)}] and missing "
                f"[{', '.join(missing) if strict else ''}]"
            )
        converted = {}
        for name, value in state.items():
            label = f"state[{name!r}]"
            arr = as_float_array(value, label)
            if arr.shape != params[name].shape:
                raise ValueError(f"{label} must have shape {params[name].shape}; got {arr.shape}")
            check_finite(arr, label)
            with np.errstate(over="ignore"):  # an overflow shows as inf, reported below
                cast = arr.astype(params[name].dtype, copy=False)
            if not np.isfinite(cast).all():
                raise ValueError(
                    f"{label} must fit the module's dtype {cast.dtype} (largest magnitude "
                    f"{np.finfo(cast.dtype).max:.6g}); got {float(np.max(np.abs(arr))):.6g}"
                )
            converted[name] = cast
        for name, arr in converted.items():  # only after every check passed
            params[name][...] = arr

    def _replica(self) -> Module:
        """A twin sharing this module's parameter arrays, with its own zero gradients and caches.

        Used for data parallelism: each thread runs a replica on its part of the batch and the
        replicas' gradients are added into this module's. Attributes naming a child module point
        to the twin's child.
        """
        twin = copy.copy(self)
        twin._params = dict(self._params)  # the same arrays
        twin._grads = {name: np.zeros_like(g) for name, g in self._grads.items()}
        twin._children = {name: child._replica() for name, child in self._children.items()}
        for attr, value in vars(self).items():
            for name, child in self._children.items():
                if value is child:
                    setattr(twin, attr, twin._children[name])
        return twin

    def astype(self, dtype: Any) -> Module:
        """Convert every parameter and gradient to ``dtype`` (float32 or float64), in place."""
        dt = param_dtype(dtype)
        for name in list(self._params):
            self._params[name] = self._params[name].astype(dt)
            self._grads[name] = self._grads[name].astype(dt)
        for child in self._children.values():
            child.astype(dt)
        return self

    def check_input_dtype(self, x: Array, name: str) -> None:
        """Raise ``TypeError`` if a floating input's dtype differs from the parameters'."""
        if x.dtype != self.dtype:
            raise TypeError(
                f"{name} has dtype {x.dtype} but the module's parameters are {self.dtype}; "
                f"convert one of them (module.astype({x.dtype.name}) or x.astype({self.dtype.name}))"
            )

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}: {tuple(v.shape)}" for k, v in self._params.items())
        return f"{type(self).__name__}({shapes})"
