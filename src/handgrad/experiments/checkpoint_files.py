"""A unit's checkpoints on disk: :func:`save_state`, :func:`load_state` and :class:`FileCheckpoint`.

A state is nested dicts, lists and tuples of NumPy arrays, numbers, strings and None. It is
written as one ``.npz``: the arrays by reference, and the structure as exact JSON under
``__state__`` (floats by ``repr``, integers of any size, so an RNG's ``bit_generator.state``
survives). The file is replaced atomically, so a run killed at any moment leaves the previous
checkpoint whole. :mod:`handgrad.experiments.runner` hands each unit a :class:`FileCheckpoint`
and re-exports these names.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from handgrad._checks import check_positive_int
from handgrad._files import atomic_write

__all__ = ["FileCheckpoint", "load_state", "save_state"]


def _pack(value: Any, arrays: dict[str, np.ndarray], where: str) -> Any:
    """Replace every array in a nested state by a reference into ``arrays``; JSON-ready rest."""
    if isinstance(value, np.ndarray):
        key = f"a{len(arrays)}"
        arrays[key] = value
        return {"__array__": key}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        for k in value:
            if not isinstance(k, str) or k.startswith("__"):
                raise TypeError(f"{where}: keys must be strings not starting with '__'; got {k!r}")
        return {k: _pack(v, arrays, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, tuple):
        return {"__tuple__": [_pack(v, arrays, f"{where}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_pack(v, arrays, f"{where}[{i}]") for i, v in enumerate(value)]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(
        f"{where} must hold arrays, numbers, strings, None and dicts/lists/tuples of those; "
        f"got {type(value).__name__}"
    )


def _unpack(value: Any, arrays: Mapping[str, np.ndarray]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__array__"}:
            return arrays[value["__array__"]]
        if set(value) == {"__tuple__"}:
            return tuple(_unpack(v, arrays) for v in value["__tuple__"])
        return {k: _unpack(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_unpack(v, arrays) for v in value]
    return value


def save_state(path: str | Path, state: Mapping[str, Any]) -> None:
    """Write a unit's state (nested dicts of arrays, numbers, strings) to ``path`` atomically.

    The file is an ``.npz``: the arrays by reference, and the structure as exact JSON under
    ``__state__``. :func:`load_state` reads it back equal, array dtypes and big integers included.
    """
    arrays: dict[str, np.ndarray] = {}
    tree = _pack(dict(state), arrays, "state")
    buffer = io.BytesIO()
    savez: Any = np.savez  # (NumPy's stubs do not take **arrays beside keywords)
    savez(buffer, __state__=np.array(json.dumps(tree)), **arrays)
    with atomic_write(path, binary=True) as f:
        f.write(buffer.getvalue())


def load_state(path: str | Path) -> dict[str, Any]:
    """Read what :func:`save_state` wrote."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files if k != "__state__"}
        tree = json.loads(str(data["__state__"]))
    state: dict[str, Any] = _unpack(tree, arrays)
    return state


class FileCheckpoint:
    """A unit's :class:`~handgrad.experiments.base.Checkpoint` kept in one ``.npz`` file.

    ``every`` is how many of its steps a unit runs between two saves; ``load()`` is the last
    saved state (None before the first save).
    """

    def __init__(self, path: str | Path, every: int) -> None:
        self.path = Path(path)
        self.every = check_positive_int(every, "checkpoint_every")

    def load(self) -> dict[str, Any] | None:
        return load_state(self.path) if self.path.is_file() else None

    def save(self, state: dict[str, Any]) -> None:
        save_state(self.path, state)

    def __repr__(self) -> str:
        return f"FileCheckpoint({str(self.path)!r}, every={self.every})"
