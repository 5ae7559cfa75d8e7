"""The TeX subset -> MathML converter: worked examples, every construct, errors, whole formulas."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest

from handgrad.solve.mathml import tex_lines_to_html, tex_to_mathml


def _body(tex: str) -> str:
    """The MathML inside <math>...</math>."""
    out = tex_to_mathml(tex)
    assert out.startswith("<math>") and out.endswith("</math>")
    return out[len("<math>") : -len("</math>")]


@pytest.mark.parametrize(
    ("tex", "mathml"),
    [
        # one letter, one identifier; digits with a decimal point are one number
        ("x", "<mi>x</mi>"),
        ("0.25", "<mn>0.25</mn>"),
        ("CE", "<mrow><mi>C</mi><mi>E</mi></mrow>"),
        (r"\mathrm{CE}", '<mi mathvariant="normal">CE</mi>'),
        # minus becomes U+2212; < is escaped
        ("a - b < c", "<mrow><mi>a</mi><mo>\u2212</mo><mi>b</mi><mo>&lt;</mo><mi>c</mi></mrow>"),
        # scripts: one token or a group, in either order
        ("x_1^2", "<msubsup><mi>x</mi><mn>1</mn><mn>2</mn></msubsup>"),
        ("x^2_1", "<msubsup><mi>x</mi><mn>1</mn><mn>2</mn></msubsup>"),
        ("H_{k-1}", "<msub><mi>H</mi><mrow><mi>k</mi><mo>\u2212</mo><mn>1</mn></mrow></msub>"),
        ("H^\\top", "<msup><mi>H</mi><mi>\u22a4</mi></msup>"),
        ("f'", "<msup><mi>f</mi><mo>\u2032</mo></msup>"),
        # fractions, roots, big operators with limits under and over
        (r"\frac{a}{b}", "<mfrac><mi>a</mi><mi>b</mi></mfrac>"),
        (r"\sqrt{L_2}", "<msqrt><msub><mi>L</mi><mn>2</mn></msub></msqrt>"),
        (
            r"\sum_{k=1}^{t}",
            "<munderover><mo>\u2211</mo><mrow><mi>k</mi><mo>=</mo><mn>1</mn></mrow>"
            "<mi>t</mi></munderover>",
        ),
        (r"\prod_j", "<munder><mo>\u220f</mo><mi>j</mi></munder>"),
        # a group whose delimiters grow with it; a norm; symbols and functions
        (r"\left( a \right)", "<mrow><mo>(</mo><mi>a</mi><mo>)</mo></mrow>"),
        (r"\left. a \right|", "<mrow><mi>a</mi><mo>|</mo></mrow>"),
        (r"\|W\|", "<mrow><mo>\u2016</mo><mi>W</mi><mo>\u2016</mo></mrow>"),
        (r"a \odot b", "<mrow><mi>a</mi><mo>\u2299</mo><mi>b</mi></mrow>"),
        (r"\log p", "<mrow><mi>log</mi><mi>p</mi></mrow>"),
        (r"\mathbb{R}^4", '<msup><mi mathvariant="normal">\u211d</mi><mn>4</mn></msup>'),
        (r"\{ a \}", "<mrow><mo>{</mo><mi>a</mi><mo>}</mo></mrow>"),
        # prose inside math keeps its spaces (no-break spaces, escaped), and spacing commands
        (r"\text{a & b}", "<mtext>a\u00a0&amp;\u00a0b</mtext>"),
        (r"a \quad b", '<mrow><mi>a</mi><mspace width="1em"/><mi>b</mi></mrow>'),
    ],
)
def test_worked_examples(tex, mathml):
    assert _body(tex) == mathml


def test_display_formula():
    assert tex_to_mathml("x", display=True) == '<math display="block"><mi>x</mi></math>'


@pytest.mark.parametrize(
    ("tex", "message"),
    [
        (r"\alpah", r"unknown command \\alpah at position 6"),
        ("{a", "missing '}'"),
        ("a}", "unmatched '}'"),
        ("x_1_2", "double '_'"),
        ("^2", "unexpected '\\^'"),
        (r"\frac{a}", "unexpected end"),
        (r"\left( a", r"missing '\\\\right'"),
        (r"\mathbb{Q}", r"\\mathbb\{Q\} is not supported"),
        ("a ? b", "unexpected '\\?'"),
    ],
)
def test_errors_name_what_is_wrong(tex, message):
    with pytest.raises(ValueError, match=message):
        tex_to_mathml(tex)


def test_lines_display_and_inline():
    html = tex_lines_to_html("$E = m c^2$\nso $E > 0$ when m & c > 0\n\n")
    assert html == (
        '<div class="formula">'
        '<math display="block"><mrow><mi>E</mi><mo>=</mo><mi>m</mi>'
        "<msup><mi>c</mi><mn>2</mn></msup></mrow></math>"
        "<p>so <math><mrow><mi>E</mi><mo>&gt;</mo><mn>0</mn></mrow></math> when m &amp; c &gt; 0</p>"
        "</div>"
    )
    ElementTree.fromstring(html)  # well-formed XML


def test_unbalanced_dollars_in_a_line():
    with pytest.raises(ValueError, match=r"unbalanced '\$' in the formula line 'cost \$5'"):
        tex_lines_to_html("cost $5")
