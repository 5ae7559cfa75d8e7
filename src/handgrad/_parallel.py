"""Batch splitting over Python threads with BLAS held at one thread.

A large batch (of images, of sequences) is cut into contiguous parts, one per core that BLAS
would use, and each part runs the whole pipeline (element-wise work, copies and GEMMs) in its own
Python thread while BLAS is held at one thread. NumPy's ufuncs and BLAS release the GIL, so every
stage runs on every core, not only the GEMMs; results do not depend on the split.

Why BLAS must be held at one thread for the whole region: after a multi-threaded product,
OpenBLAS's idle worker threads keep spinning for about 0.1 s, and on a machine with as many
threads as cores a spinning worker takes a whole core from the parts.

Without threadpoolctl, or with BLAS already limited to one thread, everything runs serially in
the calling thread. So does a split asked for inside a part of another (say, the loss of a
language model whose batch is already split): a part never waits for threads of its own.
"""

from __future__ import annotations

import functools
import itertools
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any, TypeVar

# Below this many elements of work in a call (samples x elements per sample), threads cost more
# than they save (a fork and join costs tens of microseconds).
_PARALLEL_MIN_ELEMENTS = 1 << 18
_BLAS: Any = None  # threadpoolctl BLAS controller (False: unavailable), created on first use
_EXECUTOR: ThreadPoolExecutor | None = None
_EXECUTOR_WORKERS = 0
_LOCK = threading.Lock()  # one parallel region at a time: the BLAS limit is process-wide
_REGION = threading.local()  # .active: this thread runs (a part of) a parallel region
R = TypeVar("R")

__all__ = ["batch_parts", "max_workers", "run_parallel", "run_split"]


def _after_fork_in_child() -> None:
    """A forked child has none of the parent's threads: start a fresh pool and lock there."""
    global _EXECUTOR, _EXECUTOR_WORKERS, _LOCK, _REGION
    _EXECUTOR, _EXECUTOR_WORKERS = None, 0
    _LOCK = threading.Lock()
    _REGION = threading.local()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _blas_threads() -> Any:
    """threadpoolctl's controller of NumPy's BLAS, or None without threadpoolctl.

    NumPy is imported first, so that its BLAS is loaded when the libraries are listed (the
    answer is kept for the life of the process).
    """
    global _BLAS
    if _BLAS is None:
        import numpy  # noqa: F401  (loads its BLAS)

        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _BLAS = False
        else:
            blas = ThreadpoolController().select(user_api="blas")
            _BLAS = blas if blas.lib_controllers else False
    return _BLAS or None


def max_workers() -> int:
    """Threads a split may use: BLAS's thread count, at most the number of cores (1 without
    threadpoolctl)."""
    blas = _blas_threads()
    if blas is None:
        return 1
    threads = min(lib.num_threads for lib in blas.lib_controllers)
    return max(1, min(threads, os.cpu_count() or 1))


def _executor(workers: int) -> ThreadPoolExecutor:
    global _EXECUTOR, _EXECUTOR_WORKERS
    if _EXECUTOR is None or _EXECUTOR_WORKERS < workers:
        _EXECUTOR = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="handgrad")
        _EXECUTOR_WORKERS = workers
    return _EXECUTOR


def batch_parts(n: int, per_sample: int) -> list[slice]:
    """Contiguous parts of a batch of ``n`` samples, one per worker thread when worthwhile.

    ``per_sample`` is the work of one sample in elements. A batch of one, a problem under
    ``_PARALLEL_MIN_ELEMENTS`` in all, or a single worker gives one part, ``slice(0, n)``;
    otherwise ``min(n, max_workers())`` parts of sizes differing by at most one.
    """
    small = n < 2 or n * per_sample < _PARALLEL_MIN_ELEMENTS
    workers = 1 if small or _in_region() else min(n, max_workers())
    bounds = [round(i * n / workers) for i in range(workers + 1)]
    return [slice(a, b) for a, b in itertools.pairwise(bounds)]


def _in_region() -> bool:
    return bool(getattr(_REGION, "active", False))


def _as_part(task: Callable[[], R]) -> R:
    """Run ``task`` marked as a part of a parallel region (nested splits run serially)."""
    _REGION.active = True
    try:
        return task()
    finally:
        _REGION.active = False


def run_parallel(tasks: Sequence[Callable[[], R]]) -> list[R]:
    """Run ``tasks``, one per thread, with BLAS held at one thread; results in task order.

    The calling thread runs the first task. A single task, or tasks asked for inside a part of a
    parallel region, run one after the other in the calling thread, with BLAS untouched. An
    exception of a task is raised here (the first task's first) once every task has ended.
    """
    if len(tasks) == 1 or _in_region():
        return [task() for task in tasks]
    blas = _blas_threads()
    assert blas is not None  # several tasks come from batch_parts, which needs the controller
    with _LOCK, blas.limit(limits=1):
        rest = [_executor(len(tasks) - 1).submit(_as_part, task) for task in tasks[1:]]
        try:
            first = _as_part(tasks[0])
        finally:  # even when the first part raises, no part outlives the region
            wait(rest)
        return [first, *(future.result() for future in rest)]


def run_split(n: int, per_sample: int, work: Callable[[slice], R]) -> list[R]:
    """``work(part)`` for every part of :func:`batch_parts`, in parallel; results in batch order."""
    return run_parallel([functools.partial(work, part) for part in batch_parts(n, per_sample)])
