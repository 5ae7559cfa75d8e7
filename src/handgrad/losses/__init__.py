r"""Classification losses from logits: softmax cross-entropy, sigmoid and softmax focal losses.

Each loss ``name(...)`` has ``name_grad(...)`` (same arguments) returning d(reduced loss)/d(logits),
and ``name_and_grad(...)`` returning both from one pass (sharing every intermediate). With
``reduction="none"`` the gradient is that of ``loss.sum()``.

Conventions
-----------
* Everything is computed in log space from the logits: log-softmax through log-sum-exp, log-sigmoid
  as :math:`-\mathrm{softplus}(-x)`; logits of :math:`\pm 10^4` give finite losses and gradients in
  float32 and float64. Logits must be finite (NaN or inf raise ``ValueError``).
* float32 in, float32 out; float64 in, float64 out; integer or bool logits are promoted to float64.
  Reduced losses are NumPy scalars of the logits' dtype.
* Reductions (one helper, :mod:`handgrad._reduction`): ``"none"``, ``"mean"`` (over every element
  of the per-element loss: samples for the softmax losses, all (anchor, class) entries for the
  sigmoid focal loss; the mean of nothing is 0 with a zero gradient), ``"sum"``, and for
  :func:`sigmoid_focal_loss` only, ``"normalized"``: the focal loss paper's sum divided by
  :math:`\max(1, \sum t)`, the number of positive targets (the number of positive anchors for
  one-hot targets; for soft targets, their total mass). The normaliser is a constant of the
  gradient, as in RetinaNet training code.
* ``gamma >= 0``; ``gamma = 0`` makes the softmax focal loss equal to the cross-entropy (values
  and gradients, bit for bit), and the sigmoid focal loss equal to the (alpha-weighted) binary
  cross-entropy.

Modules
-------
:mod:`~handgrad.losses.softmax`        softmax_cross_entropy, softmax_focal_loss (+ kernels)
:mod:`~handgrad.losses.sigmoid_focal`  sigmoid_focal_loss (+ kernels)
:mod:`~handgrad.losses.probability`    cross_entropy_from_probability, focal_loss_from_probability
:mod:`~handgrad.losses._inputs`        the input checks the losses share

Reference: T.-Y. Lin, P. Goyal, R. Girshick, K. He, P. Dollár, "Focal Loss for Dense Object
Detection", ICCV 2017 (the sigmoid form and its appendix gradient); torchvision's
``sigmoid_focal_loss`` for the exact definition with soft targets.
"""

from handgrad.losses import probability, sigmoid_focal, softmax
from handgrad.losses.probability import *  # noqa: F403
from handgrad.losses.sigmoid_focal import *  # noqa: F403
from handgrad.losses.softmax import *  # noqa: F403

__all__ = [*softmax.__all__, *sigmoid_focal.__all__, *probability.__all__]
