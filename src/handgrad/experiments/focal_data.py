r"""The data and the model of the focal-vs-CE experiment (:mod:`.focal_vs_ce` runs it).

The task (:func:`make_dense_task`)
----------------------------------
A dense, detection-like binary task. An *image* holds ``anchors_per_image`` anchors; a fraction
``foreground_fraction`` of them are foreground (``round(f A)`` per image, at least 1), and of the
background anchors a share ``hard_negative_share`` are *hard*, the rest *easy*. Each anchor has
``features`` D numbers: the first two carry the class, the others are N(0, 1) noise for all.

* foreground: the first two features ~ N(0, I);
* hard negative: on a ring around the foreground, radius ~ N(2.5, 0.5^2) at a uniform angle
  (they overlap the foreground's tail: the task has a Bayes error above zero);
* easy negative: on a far ring, radius ~ N(6, 1) at a uniform angle.

No linear score separates a disk from the ring around it: the model has to learn a radial score.
The train and test images are drawn once per (seed, foreground fraction) and are the same for
every loss.

The model
---------
An MLP D -> ``hidden`` -> ``hidden`` -> 1 with ReLUs (:class:`MLP`: :class:`~handgrad.nn.Linear`
layers and a hand-written backward, no autograd). The last layer's weights are N(0, 0.01^2) and
its bias :math:`b = -\log((1 - \pi)/\pi)`, so every anchor starts at probability pi = ``prior``
(RetinaNet's initialisation), or 0 (probability 1/2) for the runs "without the prior".

Anchor kinds are ``EASY``, ``HARD`` and ``POSITIVE`` (0, 1, 2; names in ``KIND_NAMES``). A
forward pass whose activations stop being finite raises :class:`Diverged`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from handgrad._checks import check_positive_int, check_real
from handgrad.nn.module import Module

__all__ = [
    "EASY",
    "HARD",
    "KIND_NAMES",
    "MLP",
    "POSITIVE",
    "DenseTask",
    "Diverged",
    "make_dense_task",
]

EASY, HARD, POSITIVE = 0, 1, 2  # anchor kinds
KIND_NAMES = ("easy_negative", "hard_negative", "positive")
HARD_RADIUS = (2.5, 0.5)  # mean and sd of the hard negatives' ring radius
EASY_RADIUS = (6.0, 1.0)  # and of the easy negatives'

Float64Array = NDArray[np.float64]
_A = TypeVar("_A", bound=NDArray[Any])


# -- the task ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class DenseTask:
    """Images of anchors: features (I, A, D), labels (I, A) in {0, 1}, kinds (I, A) in
    {EASY, HARD, POSITIVE}."""

    x: Float64Array
    labels: NDArray[np.int8]
    kinds: NDArray[np.int8]


def make_dense_task(
    images: int,
    anchors_per_image: int,
    foreground_fraction: float,
    hard_negative_share: float,
    features: int,
    rng: np.random.Generator,
) -> DenseTask:
    """Draw ``images`` images of the task of the module docstring.

    Each image has ``P = max(1, round(f A))`` positives, ``round(share (A - P))`` hard negatives
    and the rest easy negatives, in a random order.
    """
    I = check_positive_int(images, "images")
    A = check_positive_int(anchors_per_image, "anchors_per_image")
    f = check_real(foreground_fraction, "foreground_fraction", 0.0, 0.5, low_inclusive=False)
    share = check_real(hard_negative_share, "hard_negative_share", 0.0, 1.0)
    D = check_positive_int(features, "features")
    if D < 2:
        raise ValueError(f"features must be at least 2; got {features}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator; got {type(rng).__name__}")
    P = min(A, max(1, round(f * A)))
    H = round(share * (A - P))
    kinds_one = np.full(A, EASY, dtype=np.int8)  # (A,) kinds of one image before shuffling
    kinds_one[:P] = POSITIVE
    kinds_one[P : P + H] = HARD
    kinds = np.stack([rng.permutation(kinds_one) for _ in range(I)])  # (I, A)
    x = rng.standard_normal((I, A, D))  # (I, A, D) noise; the first two are replaced below
    angle = rng.uniform(0.0, 2 * np.pi, (I, A))  # (I, A)
    radius = np.where(
        kinds == HARD,
        rng.normal(HARD_RADIUS[0], HARD_RADIUS[1], (I, A)),
        rng.normal(EASY_RADIUS[0], EASY_RADIUS[1], (I, A)),
    )  # (I, A) ring radius of the negatives
    neg = kinds != POSITIVE
    x[..., 0] = np.where(neg, radius * np.cos(angle), x[..., 0])
    x[..., 1] = np.where(neg, radius * np.sin(angle), x[..., 1])
    return DenseTask(x=x, labels=(kinds == POSITIVE).astype(np.int8), kinds=kinds)


# -- the model --------------------------------------------------------------------------------
class Diverged(ArithmeticError):
    """Training produced a non-finite activation, loss or parameter."""


def _finite(a: _A) -> _A:
    if not np.isfinite(a).all():
        raise Diverged
    return a


class MLP(Module):
    r"""D -> H -> H -> 1 with ReLUs; ``forward(x)`` (N, D) -> logits (N,).

    Backward (``backward(dz)``, dz = dL/dlogits (N,)): through the last layer,
    :math:`d h_2 = dz\, W_3`, then the ReLU mask :math:`d a_2 = d h_2 [a_2 > 0]` (relu'(0) = 0),
    the second layer, the first mask and the first layer; each Linear accumulates its grads.
    """

    def __init__(self, features: int, hidden: int, bias0: float, rng: np.random.Generator) -> None:
        from handgrad.nn import Linear

        super().__init__()
        self.fc1 = Linear(features, hidden, rng=rng)
        self.fc2 = Linear(hidden, hidden, rng=rng)
        self.fc3 = Linear(hidden, 1, rng=rng)
        for name in ("fc1", "fc2", "fc3"):
            self.add_module(name, getattr(self, name))
        self.fc3.params["weight"][...] = rng.normal(0.0, 0.01, (1, hidden))
        self.fc3.params["bias"][...] = bias0
        self._a1: Float64Array | None = None
        self._a2: Float64Array | None = None

    def forward(self, x: Float64Array) -> Float64Array:
        """Logits (N,); raises :class:`Diverged` when a layer's output is not finite (weights
        that grew too large overflow)."""
        with np.errstate(over="ignore", invalid="ignore"):
            a1 = _finite(self.fc1(x))  # (N, H) pre-activations
            a2 = _finite(self.fc2(np.maximum(a1, 0.0)))  # (N, H)
            z = _finite(self.fc3(np.maximum(a2, 0.0))[:, 0])  # (N,) logits
        self._a1, self._a2 = a1, a2
        return z

    def backward(self, dz: NDArray[np.floating]) -> None:
        assert self._a1 is not None and self._a2 is not None
        dh2 = self.fc3.backward(dz[:, None])  # (N, H)
        dh2 *= self._a2 > 0
        dh1 = self.fc2.backward(dh2)  # (N, H)
        dh1 *= self._a1 > 0
        self.fc1.backward(dh1)


def _bias0(prior: float) -> float:
    return -math.log((1 - prior) / prior)
