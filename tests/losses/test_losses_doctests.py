"""The worked examples in the docstrings of the loss modules run and hold."""

from __future__ import annotations

import doctest

import pytest

from handgrad import _reduction
from handgrad.losses import sigmoid_focal, softmax


@pytest.mark.parametrize("module", [softmax, sigmoid_focal, _reduction])
def test_docstring_examples(module: object) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)  # type: ignore[arg-type]
    assert result.attempted >= 1
    assert result.failed == 0
