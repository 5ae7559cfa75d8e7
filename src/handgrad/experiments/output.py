"""The files of a run folder, each written atomically (:func:`handgrad._files.atomic_write`).

A run folder holds:

``config.json``
    ``{"experiment", "quick", "seed", "config": {every field}, "versions": {"handgrad",
    "numpy", "python"}}``, written before any work (``--resume`` compares against it).
``results.csv`` (and one ``NAME.csv`` per other table of the rows)
    Tidy: one row per measured point, columns in the order they first appear. Floats are written
    with ``repr`` (the shortest text that reads back to the same float), so a table is equal, byte
    for byte, whenever its numbers are equal bit for bit.
``summary.json`` and ``summary.md``
    The claim, what was measured, the reference result with its source, whether it was
    reproduced and by which rule, and the notes. ``summary.json`` has the keys ``experiment``,
    ``claim``, ``measured``, ``reference``, ``reproduced``, ``rule``, ``notes``, ``quick``,
    ``config``, ``files`` and ``run`` (wall time, units, how many were resumed, where they ran).
``NAME.png`` and ``NAME.svg``
    Each figure.

JSON values: NumPy scalars and arrays become Python numbers and lists; a float that is not
finite is written as the string ``"nan"``, ``"inf"`` or ``"-inf"`` (JSON has no such number).
"""

from __future__ import annotations

import csv
import io
import json
import math
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from handgrad._files import atomic_write, write_atomic
from handgrad.experiments.base import Experiment, Rows, Verdict
from handgrad.experiments.config import config_to_dict

__all__ = [
    "jsonable",
    "read_config",
    "versions",
    "write_config",
    "write_figures",
    "write_summary",
    "write_tables",
]


def versions() -> dict[str, str]:
    """The versions a run's numbers depend on: handgrad, NumPy, Python."""
    from handgrad import __version__

    return {"handgrad": __version__, "numpy": np.__version__, "python": platform.python_version()}


def jsonable(value: Any) -> Any:
    """``value`` with NumPy types made plain and non-finite floats written as strings."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isnan(number):
            return "nan"
        if math.isinf(number):
            return "inf" if number > 0 else "-inf"
        return number
    return value


def _dumps(value: Any) -> str:
    return json.dumps(jsonable(value), indent=2, allow_nan=False) + "\n"


def write_config(out: Path, experiment: Experiment, config: Any, *, quick: bool) -> Path:
    """Write ``config.json`` (see the module docstring) and return its path."""
    path = out / "config.json"
    payload = {
        "experiment": experiment.name,
        "quick": quick,
        "seed": config.seed,
        "config": config_to_dict(config),
        "versions": versions(),
    }
    write_atomic(path, _dumps(payload))
    return path


def read_config(out: Path) -> dict[str, Any] | None:
    """The ``config.json`` of a run folder, or None when it has none."""
    path = out / "config.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValueError(f"{str(path)!r} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
        raise ValueError(f"{str(path)!r} is not a run's config.json (no 'config' object)")
    return data


def _cell(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return repr(value)
    return value


def write_tables(out: Path, rows: Rows) -> list[Path]:
    """Write each table of ``rows`` as CSV: ``results`` -> ``results.csv``, others by name."""
    paths = []
    for name, table in rows.items():
        columns: list[str] = []
        for row in table:
            columns.extend(k for k in row if k not in columns)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in table:
            writer.writerow({k: _cell(v) for k, v in row.items()})
        path = out / f"{name}.csv"
        write_atomic(path, buffer.getvalue())
        paths.append(path)
    return paths


def write_figures(out: Path, figures: Mapping[str, Any]) -> list[Path]:
    """Save each matplotlib figure as ``NAME.png`` and ``NAME.svg``; return the paths."""
    paths = []
    for name, figure in figures.items():
        for fmt in ("png", "svg"):
            path = out / f"{name}.{fmt}"
            with atomic_write(path, binary=True) as f:
                figure.savefig(f, format=fmt, metadata=_no_date(fmt))
            paths.append(path)
    return paths


def _no_date(fmt: str) -> dict[str, Any]:
    """Figure metadata without the creation date, so that equal figures give equal files."""
    return {"Date": None} if fmt == "svg" else {}


def _format_measured(value: Any, indent: int = 0) -> list[str]:
    pad = "  " * indent
    lines = []
    for key, item in value.items():
        if isinstance(item, Mapping):
            lines.append(f"{pad}- {key}:")
            lines.extend(_format_measured(item, indent + 1))
        else:
            lines.append(f"{pad}- {key}: {_short(item)}")
    return lines


def _short(value: Any) -> str:
    value = jsonable(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    return str(value)


def write_summary(
    out: Path,
    experiment: Experiment,
    config: Any,
    verdict: Verdict,
    *,
    quick: bool,
    files: list[str],
    run: Mapping[str, Any],
) -> list[Path]:
    """Write ``summary.json`` and ``summary.md`` (see the module docstring); return the paths."""
    summary = {
        "experiment": experiment.name,
        "claim": experiment.claim,
        "measured": verdict.measured,
        "reference": experiment.reference,
        "reproduced": bool(verdict.reproduced),
        "rule": verdict.rule,
        "notes": list(verdict.notes),
        "quick": quick,
        "config": config_to_dict(config),
        "files": files,
        "run": dict(run),
    }
    json_path = out / "summary.json"
    write_atomic(json_path, _dumps(summary))
    answer = "yes" if verdict.reproduced else "no"
    lines = [
        f"# {experiment.name}{' (quick run)' if quick else ''}",
        "",
        f"**Claim.** {experiment.claim}",
        "",
        f"**Reference.** {experiment.reference}",
        "",
        f"**Reproduced: {answer}.** Rule: {verdict.rule}",
        "",
        "## Measured",
        "",
        *_format_measured(verdict.measured),
        "",
    ]
    if verdict.notes:
        lines += ["## Notes", "", *(f"- {note}" for note in verdict.notes), ""]
    lines += [
        "## Run",
        "",
        f"- config: `config.json` (seed {config.seed})",
        *(f"- {k}: {_short(v)}" for k, v in run.items()),
        "",
        "## Files",
        "",
        *(f"- `{name}`" for name in files),
        "",
    ]
    lines += [f"![{p[:-4]}]({p})" for p in files if p.endswith(".png")]
    md_path = out / "summary.md"
    write_atomic(md_path, "\n".join(lines).rstrip("\n") + "\n")
    return [json_path, md_path]
