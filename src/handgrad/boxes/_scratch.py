"""Work rows reused across the calls of the IoU-family kernel.

A block of m pairs needs a few dozen (m,) temporaries. Allocated afresh in every call, arrays of
this size (up to 256 KB each) come from the top of the heap, which is handed back to the system
when they are freed, so a loop over blocks faults every page in again at each call. A
:class:`Scratch` keeps the rows instead: :func:`handgrad.boxes._iou_family.block` starts it with
the block's size and dtype, takes the rows it needs and gives back those it is done with, and
the next call takes the same rows again.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

__all__ = ["Scratch"]


class _Rows:
    """The rows of one dtype, all of one length: their (m,) views and a stack of the free ones."""

    def __init__(self, dtype: np.dtype, length: int, m: int) -> None:
        self.dtype, self.length, self.m = dtype, length, m
        self.rows: list[NDArray[Any]] = []  # (length,) each
        self.views: list[NDArray[Any]] = []  # (m,) views of the rows, in the same order
        self.free: list[NDArray[Any]] = []  # the views not taken; the next one taken is last

    def start(self, m: int) -> None:
        """Every row free again, as (m <= length,) views; the rows created last come first (they
        tend to be the ones used last, so the most likely still in the CPU's caches)."""
        if m != self.m:
            self.m, self.views = m, [r[:m] for r in self.rows]
        self.free = self.views.copy()

    def grow(self, k: int) -> None:
        """``k`` new rows, free, under the free ones."""
        new = [np.empty(self.length, self.dtype) for _ in range(k)]
        views = [r[: self.m] for r in new]
        self.rows += new
        self.views += views
        self.free[:0] = views


class Scratch:
    """(m,) work rows reused across calls; a Scratch serves one block at a time (one per thread).

    :meth:`start` begins a block of m pairs in a floating dtype; :meth:`take` and
    :meth:`take_many` then hand out floating rows and :meth:`take_mask` boolean ones, each an
    (m,) view of a row as long as the largest m seen so far, and :meth:`give` and
    :meth:`give_mask` take back rows for the next takes (last given, first taken). Rows are
    created when none is free, so calls that take and give alike need no new row after the
    first; all are dropped when m grows past their length or the dtype changes. A row taken
    stays its taker's until it is given back or the next :meth:`start`.
    """

    def __init__(self) -> None:
        self._floats = _Rows(np.dtype(np.float64), 0, 0)
        self._masks = _Rows(np.dtype(np.bool_), 0, 0)

    def start(self, m: int, dtype: DTypeLike) -> None:
        """Begin a block of ``m`` pairs in ``dtype``: every row is free again."""
        if m > self._floats.length:
            self._masks = _Rows(self._masks.dtype, m, m)
            self._floats = _Rows(np.dtype(dtype), m, m)
        elif dtype != self._floats.dtype:
            self._floats = _Rows(np.dtype(dtype), self._floats.length, m)
        self._floats.start(m)
        self._masks.start(m)

    def take(self) -> NDArray[np.floating]:
        """An (m,) row of the block's dtype, uninitialised."""
        free = self._floats.free
        if not free:
            self._floats.grow(1)
        return free.pop()

    def take_many(self, n: int) -> list[NDArray[np.floating]]:
        """``n`` rows of :meth:`take` (one call: the kernel takes most of its rows in groups)."""
        free = self._floats.free
        if len(free) < n:
            self._floats.grow(n - len(free))
        rows = free[len(free) - n :]
        del free[len(free) - n :]
        return rows

    def take_mask(self) -> NDArray[np.bool_]:
        """An (m,) boolean row, uninitialised."""
        free = self._masks.free
        if not free:
            self._masks.grow(1)
        return free.pop()

    def give(self, *rows: NDArray[np.floating]) -> None:
        """Take back rows from :meth:`take` that their taker no longer reads."""
        self._floats.free += rows

    def give_mask(self, mask: NDArray[np.bool_]) -> None:
        """Take back a row from :meth:`take_mask` that its taker no longer reads."""
        self._masks.free.append(mask)
