r"""Formulas in a small subset of TeX, turned into MathML for the HTML report.

A formula's ``tex`` (see :class:`handgrad.solve.model.Formula`) is a few lines of prose with math
between dollar signs. A line that is one ``$...$`` and nothing else is a displayed formula
(``<math display="block">``); any other line is a paragraph whose ``$...$`` parts are inline
``<math>``. Chromium and Firefox render MathML Core natively: no script, nothing to fetch.

The math subset (what the report's formulas use; anything else raises ``ValueError`` naming it):

* a letter is one italic identifier (TeX's convention: ``CE`` is C times E; write ``\mathrm{CE}``);
  digits (with one decimal point) are a number; ``+ - = < > ( ) [ ] | , ; : / * ! .`` are operators
  (``-`` becomes the minus sign U+2212, ``*`` the asterisk operator U+2217);
* ``x^a``, ``x_a``, ``x_a^b`` with one token or a ``{group}``; ``x'`` is x with a prime;
  ``\sum`` and ``\prod`` put their limits under and over;
* ``\frac{a}{b}``, ``\sqrt{a}``, ``\text{...}`` (prose inside math), ``\mathrm{...}`` and
  ``\operatorname{...}`` (an upright name), ``\mathbb{R}``, ``\left( ... \right)`` (a group
  whose delimiters grow with it), spacing ``\,`` ``\;`` ``\quad``,
  ``\{`` ``\}``, ``\|`` (a norm's bar) and the other names in :data:`SYMBOLS` and
  :data:`FUNCTIONS`.

Whitespace in math is ignored, as in TeX. All text is escaped.
"""

from __future__ import annotations

import html
import re

__all__ = ["FUNCTIONS", "SYMBOLS", "tex_lines_to_html", "tex_to_mathml"]

# Command -> (MathML element, character).
SYMBOLS: dict[str, tuple[str, str]] = {
    "alpha": ("mi", "\u03b1"),
    "beta": ("mi", "\u03b2"),
    "gamma": ("mi", "\u03b3"),
    "delta": ("mi", "\u03b4"),
    "rho": ("mi", "\u03c1"),
    "sigma": ("mi", "\u03c3"),
    "partial": ("mi", "\u2202"),
    "top": ("mi", "\u22a4"),
    "odot": ("mo", "\u2299"),
    "cdot": ("mo", "\u22c5"),
    "times": ("mo", "\u00d7"),
    "le": ("mo", "\u2264"),
    "ge": ("mo", "\u2265"),
    "ne": ("mo", "\u2260"),
    "approx": ("mo", "\u2248"),
    "to": ("mo", "\u2192"),
    "in": ("mo", "\u2208"),
    "cap": ("mo", "\u2229"),
    "cup": ("mo", "\u222a"),
    "setminus": ("mo", "\u2216"),
    "ldots": ("mo", "\u2026"),
    "cdots": ("mo", "\u22ef"),
    "sum": ("mo", "\u2211"),
    "prod": ("mo", "\u220f"),
    "{": ("mo", "{"),
    "}": ("mo", "}"),
    "|": ("mo", "\u2016"),
}
FUNCTIONS = frozenset({"log", "exp", "tanh", "max", "min"})
_BIG_OPERATORS = frozenset({"sum", "prod"})
_SPACES = {",": "0.1667em", ";": "0.2778em", "quad": "1em"}
_BLACKBOARD = {"R": "\u211d", "N": "\u2115", "Z": "\u2124"}
_OPERATORS = {"-": "\u2212", "*": "\u2217"}
_OPERATOR_CHARS = set("+-=<>()[]|,;:/*!.")
_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|\d+(?:\.\d+)?|\S")


def _e(text: str) -> str:
    return html.escape(text, quote=False)


def _leaf(tag: str, text: str, **attrs: str) -> str:
    a = "".join(f' {k}="{v}"' for k, v in attrs.items())
    return f"<{tag}{a}>{_e(text)}</{tag}>"


class _Parser:
    """Recursive descent over the TeX subset; each method returns MathML text."""

    def __init__(self, tex: str) -> None:
        self.tex = tex
        self.pos = 0

    def error(self, what: str) -> ValueError:
        return ValueError(f"{what} at position {self.pos} of the formula {self.tex!r}")

    def peek(self) -> str | None:
        m = _TOKEN.search(self.tex, self.pos)
        return None if m is None else m.group()

    def take(self) -> str:
        m = _TOKEN.search(self.tex, self.pos)
        if m is None:
            raise self.error("unexpected end")
        self.pos = m.end()
        return m.group()

    def raw_group(self) -> str:
        """The text of the next ``{...}`` exactly as written (nested braces kept)."""
        if self.take() != "{":
            raise self.error("expected '{'")
        start, depth = self.pos, 1
        while self.pos < len(self.tex):
            c = self.tex[self.pos]
            self.pos += 1
            depth += {"{": 1, "}": -1}.get(c, 0)
            if depth == 0:
                return self.tex[start : self.pos - 1]
        raise self.error("unclosed '{'")

    def row(self, closing: str | None = None) -> str:
        items = []
        while (token := self.peek()) != closing:
            if token is None:
                raise self.error(f"missing {closing!r}")
            if token == "}":
                raise self.error("unmatched '}'")
            items.append(self.scripted())
        if closing is not None:
            self.take()
        return items[0] if len(items) == 1 else "<mrow>" + "".join(items) + "</mrow>"

    def argument(self) -> str:
        """One token or a ``{group}``: the operand of ^, _, \\frac and \\sqrt."""
        if self.peek() == "{":
            self.take()
            return self.row("}")
        return self.atom()

    def scripted(self) -> str:
        base, big = self.base()
        sub = sup = None
        while (token := self.peek()) in ("_", "^", "'"):
            self.take()
            if token == "'" and sup is None:
                sup = _leaf("mo", "\u2032")
            elif token == "_" and sub is None:
                sub = self.argument()
            elif token == "^" and sup is None:
                sup = self.argument()
            else:
                raise self.error(f"double {token!r}")
        under, over, both = (
            ("munder", "mover", "munderover") if big else ("msub", "msup", "msubsup")
        )
        if sub is not None and sup is not None:
            return f"<{both}>{base}{sub}{sup}</{both}>"
        if sub is not None:
            return f"<{under}>{base}{sub}</{under}>"
        if sup is not None:
            return f"<{over}>{base}{sup}</{over}>"
        return base

    def base(self) -> tuple[str, bool]:
        """The next atom, and whether it is a big operator (limits under and over)."""
        token = self.peek()
        if token == "{":
            self.take()
            return self.row("}"), False
        big = token is not None and token[1:] in _BIG_OPERATORS
        return self.atom(), big

    def atom(self) -> str:
        token = self.take()
        if token.startswith("\\"):
            return self.command(token[1:])
        if token[0].isdigit():
            return _leaf("mn", token)
        if token.isalpha():
            return _leaf("mi", token)
        if token in _OPERATOR_CHARS:
            return _leaf("mo", _OPERATORS.get(token, token))
        raise self.error(f"unexpected {token!r}")

    def delimiter(self) -> str:
        """The delimiter after ``\\left`` or ``\\right`` as an operator ("." is none)."""
        token = self.take()
        if token == ".":
            return ""
        if token.startswith("\\") and token[1:] in SYMBOLS:
            return _leaf(*SYMBOLS[token[1:]])
        if token in "()[]|":
            return _leaf("mo", token)
        raise self.error(f"expected a delimiter, got {token!r}")

    def command(self, name: str) -> str:
        if name in SYMBOLS:
            return _leaf(*SYMBOLS[name])
        if name in FUNCTIONS:
            return _leaf("mi", name)
        if name in _SPACES:
            return f'<mspace width="{_SPACES[name]}"/>'
        if name == "left":
            opening = self.delimiter()
            body = self.row("\\right")
            return f"<mrow>{opening}{body}{self.delimiter()}</mrow>"
        if name == "frac":
            return f"<mfrac>{self.argument()}{self.argument()}</mfrac>"
        if name == "sqrt":
            return f"<msqrt>{self.argument()}</msqrt>"
        if name == "text":
            text = self.raw_group()
            return _leaf("mtext", text.replace(" ", "\u00a0"))
        if name in ("mathrm", "operatorname"):
            return _leaf("mi", self.raw_group(), mathvariant="normal")
        if name == "mathbb":
            letter = self.raw_group()
            if letter not in _BLACKBOARD:
                raise self.error(f"\\mathbb{{{letter}}} is not supported")
            return _leaf("mi", _BLACKBOARD[letter], mathvariant="normal")
        raise self.error(f"unknown command \\{name}")


def tex_to_mathml(tex: str, *, display: bool = False) -> str:
    """One ``<math>`` element for a formula in the TeX subset (see the module docstring).

    Worked example: ``tex_to_mathml("x_1^2")`` is
    ``<math><msubsup><mi>x</mi><mn>1</mn><mn>2</mn></msubsup></math>``.
    """
    body = _Parser(tex).row()
    opening = '<math display="block">' if display else "<math>"
    return f"{opening}{body}</math>"


_DISPLAY = re.compile(r"^\$([^$]+)\$$")


def tex_lines_to_html(tex: str, *, css_class: str = "formula") -> str:
    """HTML for a formula's ``tex``: one displayed formula or one paragraph per non-empty line.

    Raises ``ValueError`` for a line with an odd number of dollar signs.
    """
    out = [f'<div class="{css_class}">']
    for line in (s.strip() for s in tex.split("\n")):
        if not line:
            continue
        display = _DISPLAY.match(line)
        if display:
            out.append(tex_to_mathml(display.group(1), display=True))
            continue
        parts = line.split("$")
        if len(parts) % 2 == 0:
            raise ValueError(f"unbalanced '$' in the formula line {line!r}")
        pieces = [_e(part) if i % 2 == 0 else tex_to_mathml(part) for i, part in enumerate(parts)]
        out.append("<p>" + "".join(pieces) + "</p>")
    out.append("</div>")
    return "".join(out)
