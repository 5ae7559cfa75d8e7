"""The benchmark harness: callables take turns in rounds, and ratios come from the medians."""

from __future__ import annotations

import pytest
from benchmarks import harness
from benchmarks.harness import Case, run_case


@pytest.fixture
def no_pauses(monkeypatch):
    monkeypatch.setattr(harness, "SETTLE_SECONDS", 0.0)
    monkeypatch.setattr(harness, "WARM_SECONDS", 0.0)


def test_callables_take_turns_in_rounds(no_pauses, monkeypatch):
    monkeypatch.setattr(harness, "ROUNDS", 3)
    log: list[str] = []
    case = Case(
        area="demo",
        name="turns",
        ours=lambda: log.append("ours"),
        anchors={"a": lambda: log.append("a"), "b": lambda: log.append("b")},
        repeats=5,  # 2 timed calls per round
        warmup=1,
    )
    result = run_case(case)
    one_round = ["ours"] * 3 + ["a"] * 3 + ["b"] * 3  # 1 warm-up + 2 timed each
    assert log == one_round * 3
    assert set(result.anchors) == {"a", "b"}


def test_ratio_is_median_over_median(no_pauses, monkeypatch):
    # a fake clock: each call advances it by the next duration; the rounds interleave ours and
    # the anchor (2 calls each per round): ours takes 2 s a call with one 100 s outlier, the
    # anchor 1 s, so the ratio of medians is 2
    monkeypatch.setattr(harness, "ROUNDS", 2)
    now = [0.0]
    monkeypatch.setattr(harness.time, "perf_counter", lambda: now[0])
    durations = iter([2, 2, 1, 1, 100, 2, 1, 1])  # ours, anchor, ours, anchor

    def step() -> None:
        now[0] += next(durations)

    case = Case("demo", "median", ours=step, anchors={"torch": step}, repeats=4, warmup=0)
    result = run_case(case)
    assert (result.ours.median, result.ours.min, result.ours.max) == (2, 2, 100)
    assert result.anchors["torch"].median == 1
    assert result.ratio("torch") == 2
    case.targets = {"torch": 1.5}
    assert result.verdicts() == {"torch": False}


def test_area_section_states_the_measured_parallel_speedup(no_pauses):
    case = Case("demo", "one", ours=lambda: None, anchors={"torch": lambda: None}, repeats=3)
    text = harness.area_section(
        "demo", [run_case(case)], {"cpu": "CPU", "cores": "2", "numpy": "2"}, (1.87, 1.02)
    )
    assert "speedup over one thread, measured before and after these cases: 1.9x, 1.0x" in text
    assert text.startswith("<!-- area:demo -->") and text.endswith("<!-- /area:demo -->")
    assert 0 < harness.blas_parallel_speedup(size=64, repeats=1)


def test_a_budget_is_an_anchor_with_target_one(no_pauses, monkeypatch):
    monkeypatch.setattr(harness, "ROUNDS", 1)
    now = [0.0]
    monkeypatch.setattr(harness.time, "perf_counter", lambda: now[0])

    def run() -> None:
        now[0] += 150.0

    case = Case("demo", "full run", ours=run, anchors={}, repeats=1, warmup=0, budget=180.0)
    result = run_case(case)
    assert result.ratio(harness.BUDGET) == 150 / 180
    assert result.verdicts() == {harness.BUDGET: True}
    text = harness.area_section(
        "demo", [result], {"cpu": "CPU", "cores": "2", "numpy": "2"}, (1, 1)
    )
    assert (
        "| full run | 150.00 s [150.00 s, 150.00 s] | time budget | 180.00 s | 0.83x | <= 1x | yes |"
        in text
    )
    slow = run_case(Case("demo", "slow", ours=run, anchors={}, repeats=1, warmup=0, budget=100.0))
    assert slow.verdicts() == {harness.BUDGET: False}
