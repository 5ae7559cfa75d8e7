"""Shared fixtures. Oracle helpers (torch, comparisons) live in ``tests/oracle.py``.

``HANDGRAD_TEST_BLAS_THREADS=n`` runs the whole session with BLAS and OpenMP held at n threads
(``make test`` runs the suite once with the default thread count and once with 1): results must
hold either way, since thread splits and BLAS kernels sum in their own order.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

BLAS_THREADS = os.environ.get("HANDGRAD_TEST_BLAS_THREADS", "").strip()
if BLAS_THREADS:
    # before NumPy and torch load their thread pools, and for every subprocess a test starts
    for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_name] = BLAS_THREADS

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

settings.register_profile("ci", deadline=None, max_examples=60, derandomize=True)
settings.load_profile("ci")


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator: every test that draws random numbers is reproducible."""
    return np.random.default_rng(20261126)


@pytest.fixture(scope="session", autouse=True)
def blas_threads() -> Iterator[int | None]:
    """The session's BLAS thread limit (None: the libraries' defaults).

    Thread pools loaded before this module set the variables above are limited here too.
    """
    if not BLAS_THREADS:
        yield None
        return
    from threadpoolctl import threadpool_limits

    n = int(BLAS_THREADS)
    with threadpool_limits(limits=n):
        yield n
