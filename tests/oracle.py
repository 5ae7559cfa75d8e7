"""Helpers to compare handgrad with its oracles (torch in float64, plain arrays).

Import in tests as ``from oracle import assert_close, to_torch, ...``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


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
