"""Benchmark harness: time a handgrad function beside its anchors in one process.

Each ``benchmarks/bench_<area>.py`` module exposes ``cases() -> list[Case]``. A case holds the
handgrad callable, its anchors (PyTorch CPU, scikit-learn, pycocotools, a textbook NumPy version...)
and optional targets ``{anchor: max ratio}``, where ratio = handgrad time / anchor time (lower is
better: 0.5 means handgrad takes half the anchor's time). An anchor without a target is timed for
information; ``notes`` can say why (shown in the table's target column). A case whose target is
a wall-clock time rather than a ratio (a whole run that must end within so many seconds) gives
``budget``: it is reported as the anchor :data:`BUDGET`, whose "time" is the budget and whose
target ratio is 1.

Timing: ``ROUNDS`` rounds; in each, every callable of the case (handgrad's, then each anchor's)
gets a pause of ``SETTLE_SECONDS``, ``warmup`` untimed calls (continued, when ``warmup`` > 0,
until ``WARM_SECONDS`` have passed), then ``ceil(repeats / ROUNDS)`` timed calls. The median
over all rounds is reported with the minimum and maximum. Every callable of a case runs in the
same process, on the same inputs, so the ratios compare like with like; interleaving the rounds
spreads a slow spell of the machine (on a virtual machine with busy neighbours, the same conv2d
fwd+bwd measured 15 ms in one run and 20 ms in the next) over handgrad and its anchors alike,
instead of charging it to whichever callable it falls on.

The pause lets the previous callable's idle worker threads go to sleep before the next one is timed.
After a multi-threaded product, OpenBLAS's worker threads keep spinning for about 0.1 s
(``2**28`` cycles, OpenBLAS's default thread timeout; measured: 10 CPU ticks of 10 ms burned while
the main thread sleeps, none after 0.1 s), and PyTorch's OpenMP threads spin for about 10-20 ms
after a torch call. On a 2-core machine a spinning thread takes a whole core from whatever runs
next: measured on the conv benchmark, handgrad's conv2d fwd+bwd took 25-28 ms in the 0.1 s after a
2-thread NumPy matmul or the textbook anchor and 20-23 ms right after the torch anchor, against
14 ms otherwise, so the first callable of a case paid for the previous case's anchors. The pause
is the same before every callable (handgrad's and each anchor's).

The pause has a cost of its own: the first calls after an idle spell run slow (measured: 21-27 ms
for the first one to three conv2d calls after 0.3 s of sleep, 14 ms after; none after 0.02 s),
as the idle cores wake up. Hence the warm-up is measured in time as well as in calls.
"""

from __future__ import annotations

import os
import platform
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Case:
    """One benchmarked operation: handgrad's callable and its anchors."""

    area: str  # e.g. "conv"
    name: str  # e.g. "conv_transpose2d fwd+bwd C2 float32"
    ours: Callable[[], Any]
    anchors: dict[str, Callable[[], Any]]
    targets: dict[str, float] = field(default_factory=dict)  # anchor -> max ratio ours/anchor
    notes: dict[str, str] = field(default_factory=dict)  # anchor without a target -> why
    repeats: int = 7
    warmup: int = 2
    budget: float | None = None  # seconds one call may take (an absolute target), if any

    def __post_init__(self) -> None:
        if self.budget is not None:
            self.targets = {**self.targets, BUDGET: 1.0}


BUDGET = "time budget"  # the anchor of a case's ``budget``: ratio = handgrad's time / budget

# Idle seconds before timing each callable: longer than OpenBLAS's default spin time (0.1 s).
SETTLE_SECONDS = 0.3
# Least time spent in warm-up calls (when a case asks for any): cores woken from the pause.
WARM_SECONDS = 0.2
# Rounds over which the callables of a case take turns (see the module docstring).
ROUNDS = 3


@dataclass(frozen=True)
class Timing:
    """Seconds per call: median, min and max of the repeats."""

    median: float
    min: float
    max: float


@dataclass(frozen=True)
class Result:
    """Timings of one case and its ratios to each anchor."""

    case: Case
    ours: Timing
    anchors: dict[str, Timing]

    def ratio(self, anchor: str) -> float:
        return self.ours.median / self.anchors[anchor].median

    def verdicts(self) -> dict[str, bool]:
        return {a: self.ratio(a) <= limit for a, limit in self.case.targets.items()}


def time_calls(fn: Callable[[], Any], repeats: int, warmup: int) -> list[float]:
    """Wall times of ``repeats`` calls of ``fn()`` after ``warmup`` calls.

    Sleeps ``SETTLE_SECONDS`` first, so that threads left spinning by earlier calls are parked,
    then warms up for ``warmup`` calls and, if ``warmup`` > 0, at least ``WARM_SECONDS``.
    """
    time.sleep(SETTLE_SECONDS)
    start = time.perf_counter()
    calls = 0
    while calls < warmup or (warmup and time.perf_counter() - start < WARM_SECONDS):
        fn()
        calls += 1
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def run_case(case: Case) -> Result:
    """Time handgrad and every anchor of ``case`` in this process, in ``ROUNDS`` turns."""
    callables = {"": case.ours, **case.anchors}  # "" is handgrad
    per_round = -(-case.repeats // ROUNDS)
    times: dict[str, list[float]] = {name: [] for name in callables}
    for _ in range(ROUNDS):
        for name, fn in callables.items():
            times[name] += time_calls(fn, per_round, case.warmup)
    timing = {name: Timing(statistics.median(t), min(t), max(t)) for name, t in times.items()}
    ours = timing.pop("")
    if case.budget is not None:
        timing[BUDGET] = Timing(case.budget, case.budget, case.budget)
    return Result(case, ours, timing)


def blas_parallel_speedup(size: int = 1024, repeats: int = 5) -> float:
    """Time of a float32 ``size``-square product on one BLAS thread / on all of them (median).

    About the number of cores when the machine is quiet; about 1 when a virtual machine's other
    cores are taken by its neighbours (measured here: 1.9 in a quiet spell, 1.0 in a busy one).
    Every parallel result (handgrad's threads, torch's, BLAS's) is worth reading only beside it.
    """
    import numpy as np
    from threadpoolctl import threadpool_limits

    a = np.random.default_rng(0).standard_normal((size, size)).astype(np.float32)

    def median_time() -> float:
        a @ a  # warm-up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            a @ a
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    with threadpool_limits(1):
        single = median_time()
    return single / median_time()


def machine_facts() -> dict[str, str]:
    """CPU model, cores, Python, NumPy / torch versions and BLAS libraries in use."""
    import numpy as np

    facts = {
        "cpu": _cpu_model(),
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
    }
    for module in ("torch", "sklearn", "pycocotools", "faster_coco_eval", "scipy"):
        try:
            mod = __import__(module)
            facts[module] = getattr(mod, "__version__", "installed")
        except ImportError:
            facts[module] = "not installed"
    try:
        from threadpoolctl import threadpool_info

        blas = [
            f"{i.get('internal_api')} {i.get('version')} ({i.get('num_threads')} threads)"
            for i in threadpool_info()
            if i.get("user_api") == "blas"
        ]
        facts["blas"] = "; ".join(dict.fromkeys(blas)) or "unknown"
    except ImportError:
        facts["blas"] = "threadpoolctl not installed"
    return facts


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _fmt_seconds(t: float) -> str:
    if t >= 1:
        return f"{t:.2f} s"
    if t >= 1e-3:
        return f"{t * 1e3:.1f} ms"
    return f"{t * 1e6:.0f} µs"


TABLE_HEAD = [
    "| case | handgrad (median [min, max]) | anchor | anchor time | ratio | target | met |",
    "|---|---|---|---|---|---|---|",
]


def area_section(
    area: str, results: list[Result], facts: dict[str, str], speedups: tuple[float, float]
) -> str:
    """One area's table, delimited by markers so a later run of other areas keeps it.

    ``speedups``: :func:`blas_parallel_speedup` just before and just after the area's cases.
    """
    lines = [f"<!-- area:{area} -->", f"## {area}", ""]
    lines.append(
        f"Run on {facts['cpu']} ({facts['cores']} cores), numpy {facts['numpy']}, "
        f"torch {facts.get('torch', '?')}. All-thread BLAS speedup over one thread, measured "
        f"before and after these cases: {speedups[0]:.1f}x, {speedups[1]:.1f}x."
    )
    lines += ["", *TABLE_HEAD]
    for r in results:
        ours = (
            f"{_fmt_seconds(r.ours.median)} "
            f"[{_fmt_seconds(r.ours.min)}, {_fmt_seconds(r.ours.max)}]"
        )
        for anchor, timing in r.anchors.items():
            limit = r.case.targets.get(anchor)
            target = r.case.notes.get(anchor, "") if limit is None else f"<= {limit:g}x"
            met = "" if limit is None else ("yes" if r.ratio(anchor) <= limit else "**no**")
            lines.append(
                f"| {r.case.name} | {ours} | {anchor} | "
                f"{_fmt_seconds(timing.median)} | {r.ratio(anchor):.2f}x | {target} | {met} |"
            )
    lines.append(f"<!-- /area:{area} -->")
    return "\n".join(lines)


def markdown(sections: dict[str, str], facts: dict[str, str]) -> str:
    """The BENCHMARKS.md text: machine facts of the latest run, then one section per area."""
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m benchmarks.run [area ...]`). Ratio = handgrad time /",
        "anchor time (median of repeats, all in one process; lower is better). Target: the largest",
        "ratio the issue accepts for that anchor; an informational row has none.",
        "",
        "## Machine (latest run)",
        "",
    ]
    lines += [f"- {k}: {v}" for k, v in facts.items()]
    lines.append("")
    lines += [sections[a] + "\n" for a in sorted(sections)]
    return "\n".join(lines)


SECTION = re.compile(r"<!-- area:(?P<area>[\w-]+) -->.*?<!-- /area:(?P=area) -->", re.S)


def existing_sections(text: str) -> dict[str, str]:
    """Area sections already in a BENCHMARKS.md, by area."""
    return {m.group("area"): m.group(0) for m in SECTION.finditer(text)}
