"""Run the benchmarks and write BENCHMARKS.md.

Usage: ``python -m benchmarks.run [area ...] [--output BENCHMARKS.md]``. With no areas, every
``benchmarks/bench_<area>.py`` runs. Rows of areas not run are kept from the existing file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

from benchmarks.harness import (
    Result,
    area_section,
    blas_parallel_speedup,
    existing_sections,
    machine_facts,
    markdown,
    run_case,
)

HERE = Path(__file__).parent


def available_areas() -> list[str]:
    return sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules([str(HERE)])
        if m.name.startswith("bench_")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("areas", nargs="*", help=f"areas to run (default all: {available_areas()})")
    parser.add_argument("--output", default=str(HERE.parent / "BENCHMARKS.md"))
    args = parser.parse_args(argv)
    areas = args.areas or available_areas()
    output = Path(args.output)
    facts = machine_facts()
    for area in areas:
        module = importlib.import_module(f"benchmarks.bench_{area}")
        results: list[Result] = []
        before = blas_parallel_speedup()
        print(f"[{area}] all-thread BLAS speedup over one thread: {before:.1f}x", flush=True)
        for case in module.cases():
            result = run_case(case)
            results.append(result)
            ratios = ", ".join(f"{a} {result.ratio(a):.2f}x" for a in result.anchors)
            print(f"[{area}] {case.name}: {result.ours.median * 1e3:.2f} ms ({ratios})", flush=True)
        # Re-read just before writing, so sections written meanwhile by another run are kept.
        sections = existing_sections(output.read_text()) if output.exists() else {}
        after = blas_parallel_speedup()
        print(f"[{area}] all-thread BLAS speedup over one thread: {after:.1f}x", flush=True)
        sections[area] = area_section(area, results, facts, (before, after))
        output.write_text(markdown(sections, facts))
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
