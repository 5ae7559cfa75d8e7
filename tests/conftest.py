"""Shared fixtures. Oracle helpers (torch, comparisons) live in ``tests/oracle.py``."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import settings

settings.register_profile("ci", deadline=None, max_examples=60, derandomize=True)
settings.load_profile("ci")


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator: every test that draws random numbers is reproducible."""
    return np.random.default_rng(20261126)
