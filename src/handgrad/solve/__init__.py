"""The worked solution of the assignment: one module per question, and a renderer."""

from __future__ import annotations

__all__ = ["QUESTIONS"]

QUESTIONS: dict[int, str] = {
    1: "Backpropagation through time in a vanilla RNN; vanishing gradients; long-term dependencies",
    2: "Precision, recall and 11-point interpolated average precision",
    3: "Focal loss vs cross-entropy",
    4: "L2 loss on box parameters vs IoU",
    5: "Transposed convolution: output size and the convolution matrix",
}
