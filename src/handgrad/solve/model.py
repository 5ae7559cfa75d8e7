"""The data model of a worked answer: what a question computes, how it was checked, its figures.

An :class:`Answer` holds display items (text, formulas, tables, matrices), the headline values
(``values``, machine-readable), the :class:`Check` list (each answer compared with an independent
route: finite differences, a second algorithm, a closed form, exact arithmetic) and the figures
(inline SVG strings). The renderers in :mod:`handgrad.solve.report` turn answers into a terminal
report, JSON and a self-contained HTML page; nothing in this module does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "Answer",
    "Cell",
    "Check",
    "Figure",
    "FloatArray",
    "Formula",
    "IntArray",
    "Item",
    "Matrix",
    "Table",
    "Text",
    "check_close",
    "check_equal",
    "jsonable",
]

Cell = str | int | float
FloatArray = NDArray[np.floating]  # the (float64) arrays of a question's result
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class Text:
    """A paragraph of plain text."""

    text: str
    kind: Literal["text"] = "text"


@dataclass(frozen=True)
class Formula:
    """A formula: plain-text notation for the terminal and JSON, and optionally TeX for HTML.

    ``tex`` says the same as ``text`` in the TeX subset of :mod:`handgrad.solve.mathml` (prose
    lines with ``$...$`` math); the HTML report shows it as MathML. Without ``tex`` the HTML shows
    ``text`` in a monospace block, as the terminal does.
    """

    title: str
    text: str
    tex: str = ""
    kind: Literal["formula"] = "formula"


@dataclass(frozen=True)
class Table:
    """A table with a header row; float cells are shown with ``digits`` significant digits."""

    title: str
    columns: list[str]
    rows: list[list[Cell]]
    digits: int = 6
    kind: Literal["table"] = "table"


@dataclass(frozen=True)
class Matrix:
    """A matrix (numeric or symbolic entries, symbolic ones as strings), shown without a header."""

    title: str
    entries: list[list[Cell]]
    digits: int = 6
    kind: Literal["matrix"] = "matrix"

    @classmethod
    def from_array(cls, title: str, a: Any, digits: int = 6) -> Matrix:
        """Build from a 2-D array, a sympy matrix or nested lists (sympy entries become strings)."""
        rows = [list(r) for r in (a.tolist() if hasattr(a, "tolist") else a)]
        return cls(title, [[_cell(v) for v in r] for r in rows], digits)


Item = Text | Formula | Table | Matrix


@dataclass(frozen=True)
class Figure:
    """One figure: an inline SVG document (``<svg ...>...</svg>``) and its caption."""

    name: str
    title: str
    svg: str
    caption: str = ""


@dataclass(frozen=True)
class Check:
    """An answer compared with an independent route.

    Attributes
    ----------
    name : str
        What is checked.
    method : str
        The independent route (e.g. "central finite differences", "exact fractions").
    value, reference : Any
        The answer and the independently computed value (JSON-friendly: numbers, strings, lists).
    error : float
        Normwise relative error ``max|value - reference| / max(max|value|, max|reference|)`` for
        numbers (0 when both are zero), or 0/1 for exact (symbolic) comparisons.
    tolerance : float
        Largest accepted error.
    passed : bool
        ``error <= tolerance`` (and both sides finite).
    """

    name: str
    method: str
    value: Any
    reference: Any
    error: float
    tolerance: float
    passed: bool


@dataclass
class Answer:
    """The worked answer to one question."""

    question: int
    title: str
    items: list[Item] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every check passed (an answer without checks has nothing failing)."""
        return all(c.passed for c in self.checks)

    def text(self, text: str) -> None:
        self.items.append(Text(text))

    def formula(self, title: str, text: str, tex: str = "") -> None:
        self.items.append(Formula(title, text, tex))

    def table(
        self, title: str, columns: list[str], rows: list[list[Cell]], digits: int = 6
    ) -> None:
        self.items.append(Table(title, columns, rows, digits))

    def matrix(self, title: str, a: Any, digits: int = 6) -> None:
        self.items.append(Matrix.from_array(title, a, digits))


def _cell(v: Any) -> Cell:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int | np.integer):
        return int(v)
    if isinstance(v, float | np.floating):
        return float(v)
    return str(v)


def jsonable(x: Any) -> Any:
    """Convert numbers, arrays, fractions and nested containers to JSON-friendly values.

    Non-finite floats become the strings "nan", "inf", "-inf" (JSON has no such numbers).
    """
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, bool | np.bool_):
        return bool(x)
    if isinstance(x, int | np.integer):
        return int(x)
    if isinstance(x, Fraction):
        return jsonable(float(x))
    if isinstance(x, float | np.floating):
        f = float(x)
        if np.isfinite(f):
            return f
        return "nan" if np.isnan(f) else ("inf" if f > 0 else "-inf")
    if x is None or isinstance(x, str):
        return x
    return str(x)


def _relative_error(a: np.ndarray, b: np.ndarray) -> float:
    if a.size == 0:
        return 0.0
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return float("inf")
    scale = max(float(np.max(np.abs(a))), float(np.max(np.abs(b))))
    diff = float(np.max(np.abs(a - b)))
    return 0.0 if scale == 0.0 else diff / scale


def check_close(
    name: str,
    value: ArrayLike,
    reference: ArrayLike,
    *,
    method: str,
    tolerance: float,
) -> Check:
    """Numeric check: normwise relative error of ``value`` against ``reference``.

    A shape mismatch is a failed check (error ``inf``), not an exception.
    """
    a = np.asarray(value, dtype=np.float64)
    b = np.asarray(reference, dtype=np.float64)
    error = float("inf") if a.shape != b.shape else _relative_error(a, b)
    return Check(
        name=name,
        method=method,
        value=jsonable(_summary(a)),
        reference=jsonable(_summary(b)),
        error=error,
        tolerance=tolerance,
        passed=bool(error <= tolerance),
    )


def _summary(a: np.ndarray) -> Any:
    """Scalars stay scalars; small arrays are kept whole; large ones are summarised by shape and norm."""
    if a.ndim == 0:
        return float(a)
    if a.size <= 16:
        return a
    return f"array of shape {a.shape}, norm {float(np.linalg.norm(a)):.6g}"


def check_equal(name: str, value: Any, reference: Any, *, method: str) -> Check:
    """Exact check (symbolic expressions, integers, shapes): error 0 when equal, 1 otherwise."""
    equal = bool(value == reference)
    return Check(
        name=name,
        method=method,
        value=jsonable(value),
        reference=jsonable(reference),
        error=0.0 if equal else 1.0,
        tolerance=0.0,
        passed=equal,
    )
