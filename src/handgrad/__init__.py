"""handgrad: deep-learning building blocks with hand-derived, machine-checked backward passes.

Submodules (imported on first use, so ``import handgrad`` stays fast):

* :mod:`handgrad.gradcheck`  finite-difference gradient checking
* :mod:`handgrad.losses`     cross-entropy and focal losses
* :mod:`handgrad.boxes`      box formats, IoU family, box losses
* :mod:`handgrad.conv`       convolution arithmetic, conv matrices, conv2d / conv_transpose2d
* :mod:`handgrad.metrics`    ranking metrics, average precision, detection evaluation
* :mod:`handgrad.nn`         recurrent layers with BPTT
* :mod:`handgrad.optim`      optimizers and gradient clipping
"""

from __future__ import annotations

import importlib
from types import ModuleType

__version__ = "0.1.0"

_SUBMODULES = frozenset(
    {"gradcheck", "losses", "boxes", "conv", "metrics", "nn", "optim", "experiments", "solve"}
)

__all__ = ["__version__", *sorted(_SUBMODULES)]


def __getattr__(name: str) -> ModuleType:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'handgrad' has no attribute {name!r}")
