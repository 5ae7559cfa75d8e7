"""One definition makes a loss's name, name_grad and name_and_grad (handgrad._loss_trio)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from handgrad import boxes, losses
from handgrad._loss_trio import loss_trio

CALLS: list[tuple[bool, bool]] = []


def _square(
    value: bool, grad: bool, x: float, scale: float = 1.0
) -> tuple[float | None, float | None]:
    """L = scale x^2."""
    CALLS.append((value, grad))
    return (scale * x * x if value else None), (2 * scale * x if grad else None)


square, square_grad, square_and_grad = loss_trio(
    _square, "square", "dL/dx of :func:`{name}`: 2 scale x.", "(:func:`{name}`, its gradient)."
)


def test_each_function_asks_for_what_it_returns() -> None:
    CALLS.clear()
    assert square(3.0) == 9.0
    assert square_grad(3.0, scale=2.0) == 12.0
    assert square_and_grad(x=3.0) == (9.0, 6.0)
    assert CALLS == [(True, False), (False, True), (True, True)]


def test_names_docs_module_and_signature() -> None:
    assert [f.__name__ for f in (square, square_grad, square_and_grad)] == [
        "square",
        "square_grad",
        "square_and_grad",
    ]
    assert square.__doc__ == "L = scale x^2."
    assert square_grad.__doc__ == "dL/dx of :func:`square`: 2 scale x."
    assert square_and_grad.__module__ == __name__
    sig = inspect.signature(square_and_grad)
    assert list(sig.parameters) == ["x", "scale"]
    assert sig.parameters["scale"].default == 1.0
    assert sig.return_annotation == "tuple[float, float]"
    assert inspect.signature(square_grad).return_annotation == "float"


def test_an_implementation_that_skips_an_asked_part_is_an_error() -> None:
    _, broken_grad, _ = loss_trio(lambda value, grad: (1.0, None), "broken", "", "")
    with pytest.raises(RuntimeError, match="returned None"):
        broken_grad()


@pytest.mark.parametrize(
    "fn",
    [boxes.ciou_loss_and_grad, boxes.smooth_l1_box_loss_grad, losses.softmax_focal_loss],
    ids=lambda f: f.__name__,
)
def test_public_losses_show_their_arguments(fn) -> None:
    params = list(inspect.signature(fn).parameters)
    assert params[:2] in (["pred", "target"], ["logits", "targets"])
    assert "value" not in params and "grad" not in params
    assert fn.__doc__ and fn.__qualname__ == fn.__name__
    assert getattr(inspect.getmodule(fn), fn.__name__) is fn  # picklable by reference


def test_grad_alone_equals_the_fused_pass_gradient() -> None:
    x = np.zeros((3, 2))
    g = losses.sigmoid_focal_loss_grad(x, np.ones_like(x))
    loss, g2 = losses.sigmoid_focal_loss_and_grad(x, np.ones_like(x))
    np.testing.assert_array_equal(g, g2)
    assert loss.shape == x.shape
