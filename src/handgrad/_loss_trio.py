"""A loss's public trio, ``name``, ``name_grad`` and ``name_and_grad``, from one definition.

Every loss of :mod:`handgrad.losses` and :mod:`handgrad.boxes` is written once, as

    impl(value, grad, *args, **kwargs) -> (reduced loss or None, gradient or None)

with the public signature after the two flags (what the caller wants: the value, the gradient,
or both) and the loss's docstring. :func:`loss_trio` makes the three public functions from it:

    name(*args, **kwargs)           -> impl(True, False, ...)[0]
    name_grad(*args, **kwargs)      -> impl(False, True, ...)[1]
    name_and_grad(*args, **kwargs)  -> impl(True, True, ...)

each with ``impl``'s signature (less the flags) for ``help()`` and for type checkers
(``ParamSpec``), its own name and docstring, and ``impl``'s module (so doctest and the
documentation find them there).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

__all__ = ["loss_trio"]

P = ParamSpec("P")
L = TypeVar("L")  # the reduced loss
G = TypeVar("G")  # the gradient
T = TypeVar("T")

_OPTIONAL_PAIR = re.compile(r"tuple\[(?P<loss>.+) \| None, (?P<grad>.+) \| None\]")


def loss_trio(
    impl: Callable[Concatenate[bool, bool, P], tuple[L | None, G | None]],
    name: str,
    grad_doc: str,
    both_doc: str,
) -> tuple[Callable[P, L], Callable[P, G], Callable[P, tuple[L, G]]]:
    """``(name, name_grad, name_and_grad)`` from ``impl`` (see the module docstring).

    ``impl.__doc__`` documents ``name``; ``grad_doc`` and ``both_doc`` document the other two,
    with ``{name}`` replaced by ``name``.
    """

    def value(*args: P.args, **kwargs: P.kwargs) -> L:
        return _given(impl(True, False, *args, **kwargs)[0])

    def grad(*args: P.args, **kwargs: P.kwargs) -> G:
        return _given(impl(False, True, *args, **kwargs)[1])

    def both(*args: P.args, **kwargs: P.kwargs) -> tuple[L, G]:
        loss, g = impl(True, True, *args, **kwargs)
        return _given(loss), _given(g)

    signature = inspect.signature(impl)
    params = list(signature.parameters.values())[2:]  # less the two flags
    # "tuple[Loss | None, Array | None]" -> "Loss", "Array", "tuple[Loss, Array]" (else none)
    pair = _OPTIONAL_PAIR.fullmatch(str(signature.return_annotation))
    empty = inspect.Signature.empty
    returns = (
        (pair["loss"], pair["grad"], f"tuple[{pair['loss']}, {pair['grad']}]")
        if pair
        else (empty,) * 3
    )
    for fn, suffix, doc, ret in (
        (value, "", impl.__doc__, returns[0]),
        (grad, "_grad", grad_doc.replace("{name}", name), returns[1]),
        (both, "_and_grad", both_doc.replace("{name}", name), returns[2]),
    ):
        fn.__name__ = fn.__qualname__ = name + suffix
        fn.__module__ = impl.__module__
        fn.__doc__ = doc
        fn.__dict__["__signature__"] = inspect.Signature(params, return_annotation=ret)
        fn.__annotations__ = {p.name: p.annotation for p in params} | {"return": ret}
    return value, grad, both


def _given(x: T | None) -> T:
    """``x``, which the loss computed because it was asked for (never None here)."""
    if x is None:
        raise RuntimeError("a loss implementation returned None for a part it was asked for")
    return x
