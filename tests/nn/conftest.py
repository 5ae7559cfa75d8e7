"""Fixtures of the recurrent tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def split_batches(monkeypatch):
    """Split every batch over threads (up to 3 parts), however small: the data-parallel path."""
    pytest.importorskip("threadpoolctl")
    import handgrad._parallel as parallel

    monkeypatch.setattr(parallel, "_PARALLEL_MIN_ELEMENTS", 0)
    monkeypatch.setattr(parallel, "max_workers", lambda: 3)
    calls = []
    original = parallel.run_parallel

    def spy(tasks):
        if len(tasks) > 1:  # the splits that use threads
            calls.append(len(tasks))
        return original(tasks)

    monkeypatch.setattr(parallel, "run_parallel", spy)
    return calls
