"""Q1 at the default seed, computed once for the tests of its parts (part (c) trains networks)."""

from __future__ import annotations

import pytest

from handgrad.solve import q1_bptt


@pytest.fixture(scope="session")
def q1_result() -> q1_bptt.Q1Result:
    return q1_bptt.compute(0)
