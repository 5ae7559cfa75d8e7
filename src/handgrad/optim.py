r"""Optimizers and gradient clipping, step for step equal to ``torch.optim`` / ``torch.nn.utils``.

Optimizers update parameters in place. Give them a :class:`~handgrad.nn.Module` (they then read
``module.grads`` at each ``step()``) or a list of arrays (then ``step(grads)`` takes the matching
list of gradients). Update rules, with :math:`g` the gradient at step :math:`t = 1, 2, \ldots`
(PyTorch's documented algorithms, same operation order):

SGD (lr, momentum m, dampening d, nesterov, weight_decay wd)
    :math:`g \leftarrow g + wd\,p`; :math:`b_1 = g`, :math:`b_t = m b_{t-1} + (1 - d) g`;
    :math:`g \leftarrow g + m b_t` (Nesterov) or :math:`b_t`; :math:`p \leftarrow p - lr\,g`.
Adagrad (lr, lr_decay, weight_decay, initial_accumulator_value, eps=1e-10)
    :math:`s \leftarrow s + g^2`; :math:`p \leftarrow p - \frac{lr}{1 + (t-1) lr\_decay}
    \frac{g}{\sqrt{s} + \epsilon}`.
Adam / AdamW (lr, betas, eps=1e-8, weight_decay, amsgrad)
    :math:`m \leftarrow m + (1-\beta_1)(g - m)`, :math:`v \leftarrow \beta_2 v + (1-\beta_2) g^2`,
    :math:`\hat v = \max(\hat v, v)` (amsgrad),
    :math:`p \leftarrow p - \frac{lr}{1-\beta_1^t} \frac{m}{\sqrt{v}/\sqrt{1-\beta_2^t} + \epsilon}`;
    Adam adds :math:`wd\,p` to :math:`g`, AdamW multiplies :math:`p` by :math:`1 - lr\,wd` first
    (decoupled weight decay, Loshchilov & Hutter).

Clipping (in place, on a module's gradients or a list of arrays)
    :func:`clip_grad_norm`: :math:`\|g\| = (\sum_k \|g_k\|_q^q)^{1/q}` over every array
    (``norm_type=inf``: the largest magnitude); every gradient is multiplied by
    :math:`\min(1, \text{max\_norm} / (\|g\| + 10^{-6}))` (Pascanu et al. 2013;
    ``torch.nn.utils.clip_grad_norm_``); returns :math:`\|g\|` before clipping.
    :func:`clip_grad_value`: :math:`g \leftarrow \mathrm{clip}(g, -v, v)` (min-char-rnn's
    ``np.clip``; ``torch.nn.utils.clip_grad_value_``).

Arguments
    Every hyper-parameter is a finite real number (``TypeError`` for a string, ``None``, a bool
    or an array; ``ValueError`` for NaN, an infinity or a value out of range, naming it): lr,
    momentum, weight_decay, lr_decay, initial_accumulator_value, eps, max_norm, clip_value
    >= 0; dampening and each of betas in [0, 1] and [0, 1); norm_type > 0 or ``inf``. The flags
    (nesterov, amsgrad, error_if_nonfinite) are bools.

Non-finite gradients (deliberately not rejected)
    ``step`` does not check the gradients' values: a NaN or an infinity in a gradient propagates
    into its parameter (and into the optimizer's state, e.g. Adam's moments), exactly as in
    ``torch.optim``. A check would cost a pass over every gradient at every step, and a diverged
    run should show itself rather than be hidden; test ``np.isfinite`` on the loss (or use
    ``clip_grad_norm(..., error_if_nonfinite=True)``) to stop early. The number, kind and shapes
    of the gradients are checked: a list with one float array per parameter, each of the
    parameter's shape.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from handgrad._checks import as_float_array, check_bool, check_real

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "clip_grad_norm", "clip_grad_value"]

Array = NDArray[np.floating]


def _is_module(obj: Any) -> bool:
    return hasattr(obj, "parameters") and hasattr(obj, "gradients") and hasattr(obj, "zero_grad")


def _grad_list(target: Any, name: str) -> list[Array]:
    """The gradient arrays of a module, or a list of float arrays, to modify in place."""
    if _is_module(target):
        return list(target.gradients())
    if isinstance(target, np.ndarray):
        target = [target]
    if not isinstance(target, list | tuple):
        raise TypeError(
            f"{name} must be a Module or a list of float arrays; got {type(target).__name__}"
        )
    for k, g in enumerate(target):
        if not (isinstance(g, np.ndarray) and g.dtype.kind == "f"):
            got = f"an array of dtype {g.dtype}" if isinstance(g, np.ndarray) else type(g).__name__
            raise TypeError(
                f"{name} must be a Module or a list of float arrays (updated in place); "
                f"{name}[{k}] is {got}"
            )
        if not g.flags.writeable:
            raise ValueError(f"{name}[{k}] must be a writeable array (updated in place)")
    return list(target)


class Optimizer:
    """Base: holds the parameters, per-parameter state and hyper-parameters; ``step`` updates."""

    def __init__(self, params: Any, lr: float) -> None:
        self.lr = check_real(lr, "lr", 0.0, None)
        if _is_module(params):
            self.module: Any = params
            self._params: list[Array] = []
        else:
            self.module = None
            self._params = _grad_list(params, "params")
            if not self._params:
                raise ValueError("params must hold at least one array; got an empty list")
        self.state: list[dict[str, Any]] = []
        self.step_count = 0

    @property
    def params(self) -> list[Array]:
        """The parameter arrays (live)."""
        return list(self.module.parameters()) if self.module is not None else self._params

    def zero_grad(self) -> None:
        """Zero the module's gradients (only for an optimizer built on a module)."""
        if self.module is None:
            raise ValueError("zero_grad needs an optimizer built on a Module; zero your arrays")
        self.module.zero_grad()

    def step(self, grads: Sequence[Array] | None = None) -> None:
        """Update every parameter in place from its gradient.

        ``grads`` is required (and only allowed) when the optimizer was built on a list of arrays:
        a list (or tuple) with one real array per parameter, of the parameter's shape (cast to
        the parameter's dtype). Gradient values are not checked: NaN and inf propagate into the
        parameters, as in ``torch.optim`` (see the module docstring).
        """
        params = self.params
        if self.module is not None:
            if grads is not None:
                raise ValueError("grads must be None for an optimizer built on a Module")
            gs = list(self.module.gradients())
        else:
            if grads is None:
                raise ValueError(f"grads must be a list of {len(params)} arrays; got None")
            if not isinstance(grads, list | tuple):
                raise TypeError(
                    f"grads must be a list of {len(params)} arrays (one per parameter); "
                    f"got {type(grads).__name__}"
                )
            if len(grads) != len(params):
                raise ValueError(
                    f"grads must be a list of {len(params)} arrays; got {len(grads)} arrays"
                )
            gs = [as_float_array(g, f"grads[{k}]") for k, g in enumerate(grads)]
            for k, (p, g) in enumerate(zip(params, gs, strict=True)):
                if g.shape != p.shape:
                    raise ValueError(f"grads[{k}] must have shape {p.shape}; got {g.shape}")
        if not self.state:
            self.state = [{} for _ in params]
        self.step_count += 1
        for p, g, st in zip(params, gs, self.state, strict=True):
            self._update(p, g.astype(p.dtype, copy=False), st)

    def _update(self, p: Array, g: Array, state: dict[str, Any]) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        super().__init__(params, lr)
        momentum = check_real(momentum, "momentum", 0.0, None)
        dampening = check_real(dampening, "dampening", 0.0, 1.0)
        weight_decay = check_real(weight_decay, "weight_decay", 0.0, None)
        nesterov = check_bool(nesterov, "nesterov")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(
                f"nesterov needs momentum > 0 and dampening = 0; got momentum {momentum}, "
                f"dampening {dampening}"
            )
        self.momentum, self.dampening = momentum, dampening
        self.weight_decay, self.nesterov = weight_decay, nesterov

    def _update(self, p: Array, g: Array, state: dict[str, Any]) -> None:
        d = g + self.weight_decay * p if self.weight_decay else g
        if self.momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = d.copy()
            else:
                buf *= self.momentum
                buf += (1 - self.dampening) * d
            d = d + self.momentum * buf if self.nesterov else buf
        p -= self.lr * d


class Adagrad(Optimizer):
    """Adagrad (Duchi et al. 2011) with PyTorch's lr_decay and initial accumulator."""

    def __init__(
        self,
        params: Any,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
    ) -> None:
        super().__init__(params, lr)
        self.lr_decay = check_real(lr_decay, "lr_decay", 0.0, None)
        self.weight_decay = check_real(weight_decay, "weight_decay", 0.0, None)
        self.initial = check_real(initial_accumulator_value, "initial_accumulator_value", 0.0, None)
        self.eps = check_real(eps, "eps", 0.0, None)

    def _update(self, p: Array, g: Array, state: dict[str, Any]) -> None:
        if "sum" not in state:
            state["sum"] = np.full_like(p, self.initial)
            state["step"] = 0
        state["step"] += 1
        if self.weight_decay:
            g = g + self.weight_decay * p
        clr = self.lr / (1 + (state["step"] - 1) * self.lr_decay)
        s = state["sum"]
        s += g * g
        std = np.sqrt(s)
        std += self.eps
        p -= clr * (g / std)


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015), optionally AMSGrad, with L2 weight decay added to the gradient."""

    decoupled = False

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr)
        if not isinstance(betas, tuple | list):
            raise TypeError(
                f"betas must be a pair (beta1, beta2) of floats; got {type(betas).__name__} "
                f"{betas!r}"[:160]
            )
        if len(betas) != 2:
            raise ValueError(
                f"betas must be a pair (beta1, beta2) of floats; got {len(betas)} values"
            )
        self.betas = (
            check_real(betas[0], "betas[0]", 0.0, 1.0, high_inclusive=False),
            check_real(betas[1], "betas[1]", 0.0, 1.0, high_inclusive=False),
        )
        self.eps = check_real(eps, "eps", 0.0, None)
        self.weight_decay = check_real(weight_decay, "weight_decay", 0.0, None)
        self.amsgrad = check_bool(amsgrad, "amsgrad")

    def _update(self, p: Array, g: Array, state: dict[str, Any]) -> None:
        beta1, beta2 = self.betas
        if "exp_avg" not in state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p)
            state["exp_avg_sq"] = np.zeros_like(p)
            if self.amsgrad:
                state["max_exp_avg_sq"] = np.zeros_like(p)
        state["step"] += 1
        t = state["step"]
        if self.weight_decay:
            if self.decoupled:
                p *= 1 - self.lr * self.weight_decay
            else:
                g = g + self.weight_decay * p
        m, v = state["exp_avg"], state["exp_avg_sq"]
        w = 1 - beta1  # torch's lerp_(g, w): m + w (g - m) for w < 0.5, else g - (g - m)(1 - w)
        if w < 0.5:
            m += w * (g - m)
        else:
            m[...] = g - (g - m) * (1 - w)
        v *= beta2
        v += (1 - beta2) * g * g
        step_size = self.lr / (1 - beta1**t)
        bc2_sqrt = math.sqrt(1 - beta2**t)
        if self.amsgrad:
            vmax = state["max_exp_avg_sq"]
            np.maximum(vmax, v, out=vmax)
            denom = np.sqrt(vmax) / bc2_sqrt
        else:
            denom = np.sqrt(v) / bc2_sqrt
        denom += self.eps
        p -= step_size * (m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay (default 0.01, as PyTorch)."""

    decoupled = True

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)


def clip_grad_norm(
    grads: Any, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False
) -> float:
    """Scale gradients in place so their global norm is at most ``max_norm``; return the norm.

    Parameters
    ----------
    grads : Module or list of float arrays
        A module (its ``grads`` are clipped) or the gradient arrays themselves.
    max_norm : float
        Largest allowed norm (>= 0).
    norm_type : float
        q of the q-norm (``np.inf`` for the max norm).
    error_if_nonfinite : bool
        Raise ``ValueError`` when the total norm is NaN or infinite (else the gradients become
        NaN, as in PyTorch).
    """
    gs = _grad_list(grads, "grads")
    max_norm = check_real(max_norm, "max_norm", 0.0, None)
    if isinstance(norm_type, float | np.floating) and norm_type == math.inf:
        q = math.inf
    else:
        try:
            q = check_real(norm_type, "norm_type", 0.0, None, low_inclusive=False)
        except ValueError:
            raise ValueError(f"norm_type must be positive or inf; got {norm_type!r}") from None
    error_if_nonfinite = check_bool(error_if_nonfinite, "error_if_nonfinite")
    if not gs:
        return 0.0
    if q == math.inf:
        total = max(float(np.max(np.abs(g))) if g.size else 0.0 for g in gs)
    else:
        norms = np.array([np.linalg.norm(g.ravel(), q) if g.size else 0.0 for g in gs])
        total = float(np.linalg.norm(norms, q))
    if error_if_nonfinite and not math.isfinite(total):
        raise ValueError(f"the total norm of the gradients is {total}; cannot clip")
    coef = min(max_norm / (total + 1e-6), 1.0)
    for g in gs:
        g *= coef
    return total


def clip_grad_value(grads: Any, clip_value: float) -> None:
    """Clamp every gradient element to ``[-clip_value, clip_value]`` in place."""
    gs = _grad_list(grads, "grads")
    clip_value = check_real(clip_value, "clip_value", 0.0, None)
    for g in gs:
        np.clip(g, -clip_value, clip_value, out=g)
