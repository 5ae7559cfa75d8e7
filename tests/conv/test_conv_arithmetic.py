"""Convolution arithmetic: Dumoulin & Visin's relationships and worked examples, output padding."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from handgrad.conv import (
    conv_output_size,
    conv_transpose_output_size,
    effective_kernel_size,
    explain,
    full_padding,
    half_padding,
    inputs_with_same_output,
    output_padding_for,
    output_padding_remainder,
    transposed_equivalent,
)

# ---- worked examples (Dumoulin & Visin, figure numbers of the guide) ---------------------------


def test_relationship_1_no_padding_unit_stride():
    # fig 2.1: i = 4, k = 3, s = 1, p = 0 -> o = (4 - 3) + 1 = 2
    assert conv_output_size(4, 3) == 2


def test_relationship_2_padding_unit_stride():
    # fig 2.2: i = 5, k = 4, s = 1, p = 2 -> o = (5 - 4) + 2 * 2 + 1 = 6
    assert conv_output_size(5, 4, padding=2) == 6


def test_relationship_3_half_padding():
    # fig 2.3: i = 5, k = 3, p = floor(3 / 2) = 1 -> o = 5
    assert half_padding(3) == 1
    assert conv_output_size(5, 3, padding=half_padding(3)) == 5


def test_relationship_4_full_padding():
    # fig 2.4: i = 5, k = 3, p = k - 1 = 2 -> o = 5 + (3 - 1) = 7
    assert full_padding(3) == 2
    assert conv_output_size(5, 3, padding=full_padding(3)) == 7


def test_relationship_5_stride_no_padding():
    # fig 2.5: i = 5, k = 3, s = 2, p = 0 -> o = floor((5 - 3) / 2) + 1 = 2
    assert conv_output_size(5, 3, stride=2) == 2


def test_relationship_6_general():
    # fig 2.6: i = 5, k = 3, s = 2, p = 1 -> floor((5 + 2 - 3) / 2) + 1 = 3
    # fig 2.7: i = 6, k = 3, s = 2, p = 1 -> floor((6 + 2 - 3) / 2) + 1 = 3 (same output)
    assert conv_output_size(5, 3, stride=2, padding=1) == 3
    assert conv_output_size(6, 3, stride=2, padding=1) == 3


def test_relationship_7_pooling():
    # pooling (section 3): o = floor((i - k) / s) + 1, the convolution formula with p = 0;
    # i = 5, k = 3, s = 1 -> 3 and i = 5, k = 3, s = 2 -> 2
    assert conv_output_size(5, 3) == 3
    assert conv_output_size(5, 3, stride=2) == 2
    for i, k, s in itertools.product(range(1, 12), range(1, 5), range(1, 4)):
        if k <= i:
            assert conv_output_size(i, k, s) == (i - k) // s + 1


def test_relationship_8_transposed_no_padding():
    # fig 4.1: conv of i = 4, k = 3 gives 2; transposed: i' = 2, k' = 3, p' = k - 1 = 2
    # -> o' = i' + (k - 1) = 2 + 2 = 4
    assert conv_transpose_output_size(2, 3) == 4
    eq = transposed_equivalent(2, 3)
    assert (eq.padding, eq.output) == (2, 4)


def test_relationship_9_transposed_padding():
    # fig 4.2: conv i = 5, k = 4, p = 2 gives 6; transposed: o' = i' + (k - 1) - 2p
    # = 6 + 3 - 4 = 5, equivalent direct conv padding p' = k - p - 1 = 1
    assert conv_transpose_output_size(6, 4, padding=2) == 5
    assert transposed_equivalent(6, 4, padding=2).padding == 1


def test_relationship_10_transposed_half_padding():
    # fig 4.3: i' = 5, k = 3, p = 1 -> o' = 5
    assert conv_transpose_output_size(5, 3, padding=1) == 5


def test_relationship_11_transposed_full_padding():
    # fig 4.4: i' = 7, k = 3, p = 2 -> o' = i' - (k - 1) = 5; equivalent padding p' = 0
    assert conv_transpose_output_size(7, 3, padding=2) == 5
    assert transposed_equivalent(7, 3, padding=2).padding == 0


def test_relationship_12_transposed_stride():
    # fig 4.5: conv i = 5, k = 3, s = 2 gives 2; transposed o' = s (i' - 1) + k = 2 + 3 = 5,
    # stretched input (i' - 1) s + 1 = 3 with p' = k - 1 = 2
    assert conv_transpose_output_size(2, 3, stride=2) == 5
    eq = transposed_equivalent(2, 3, stride=2)
    assert (eq.stretched, eq.padding) == (3, 2)


def test_relationship_13_transposed_stride_padding():
    # fig 4.6: conv i = 5, k = 3, s = 2, p = 1 gives 3; o' = s (i' - 1) + k - 2p = 4 + 3 - 2 = 5
    assert conv_transpose_output_size(3, 3, stride=2, padding=1) == 5


def test_relationship_14_odd_case_output_padding():
    # fig 4.7: conv i = 6, k = 3, s = 2, p = 1 gives 3; a = (6 + 2 - 3) mod 2 = 1,
    # o' = s (i' - 1) + a + k - 2p = 4 + 1 + 3 - 2 = 6
    assert output_padding_remainder(6, 3, 2, 1) == 1
    assert output_padding_for(6, 3, 3, stride=2, padding=1) == 1
    assert conv_transpose_output_size(3, 3, stride=2, padding=1, output_padding=1) == 6
    assert output_padding_for(5, 3, 3, stride=2, padding=1) == 0


def test_relationship_15_dilation():
    # fig 5.1: i = 7, k = 3, d = 2, s = 1, p = 0: k_hat = 3 + 2 * 1 = 5, o = 7 - 5 + 1 = 3
    assert effective_kernel_size(3, 2) == 5
    assert conv_output_size(7, 3, dilation=2) == 3


def test_seed_q5a_nine_by_nine():
    # ASSIGNMENT Q5a: (3 - 1) * 1 + 7 - 0 = 9
    assert conv_transpose_output_size(3, 7) == 9


# ---- relationships on a grid -----------------------------------------------------------------

GRID = list(itertools.product(range(1, 9), range(1, 5), range(1, 4), range(0, 3), range(1, 3)))


@pytest.mark.parametrize("i, k, s, p, d", GRID)
def test_general_formulas_against_torch_sizes_by_brute_force(i, k, s, p, d):
    # brute force: count window start positions inside the padded input
    k_hat = d * (k - 1) + 1
    starts = [t for t in range(0, i + 2 * p, s) if t + k_hat <= i + 2 * p]
    if not starts:
        with pytest.raises(ValueError, match="kernel larger than padded input"):
            conv_output_size(i, k, s, p, d)
        return
    o = conv_output_size(i, k, s, p, d)
    assert o == len(starts)
    # transposed back: every allowed output padding, reaching each input size with output o
    same = inputs_with_same_output(i, k, s, p, d)
    assert i in same
    assert same == [m for m in range(1, i + s + k_hat) if _conv_or_none(m, k, s, p, d) == o]
    for m in same:
        a = output_padding_for(m, o, k, s, p, d)
        assert conv_transpose_output_size(o, k, s, p, a, d) == m
        if a < s:  # relationship 14: a is the unreached remainder
            assert a == output_padding_remainder(m, k, s, p, d)


def _conv_or_none(m, k, s, p, d):
    try:
        return conv_output_size(m, k, s, p, d)
    except ValueError:
        return None


@given(
    i=st.integers(1, 40),
    k=st.integers(1, 7),
    s=st.integers(1, 5),
    p=st.integers(0, 4),
    d=st.integers(1, 3),
)
def test_transposed_equivalent_matches_size(i, k, s, p, d):
    try:
        out = conv_transpose_output_size(i, k, s, p, 0, d)
    except ValueError:
        return
    eq = transposed_equivalent(i, k, s, p, 0, d)
    # stride-1 direct conv of the stretched input padded by p' on both sides
    assert eq.stretched + 2 * eq.padding - d * (k - 1) == out == eq.output


@given(k=st.integers(1, 9), d=st.integers(1, 4), i=st.integers(1, 30))
def test_half_and_full_padding(k, d, i):
    k_hat = d * (k - 1) + 1
    if k_hat % 2 == 1:  # half padding keeps the size for odd effective kernels (relationship 3)
        assert conv_output_size(i, k, 1, half_padding(k, d), d) == i
        assert conv_transpose_output_size(i, k, 1, half_padding(k, d), 0, d) == i  # rel. 10
    assert conv_output_size(i, k, 1, full_padding(k, d), d) == i + k_hat - 1  # rel. 4
    if i >= k_hat:
        assert conv_transpose_output_size(i, k, 1, full_padding(k, d), 0, d) == i - k_hat + 1


# ---- errors -----------------------------------------------------------------------------------


def test_output_padding_rule_error():
    with pytest.raises(ValueError, match=r"smaller than stride or dilation.*got output_padding=2"):
        conv_transpose_output_size(3, 3, stride=2, output_padding=2)
    # dilation larger than stride allows a larger output padding (PyTorch's max(s, d))
    assert conv_transpose_output_size(3, 3, stride=1, output_padding=1, dilation=2) == 8


def test_output_padding_for_unreachable_target():
    # from 3 with k = 3, s = 2, p = 1: 5 + a, a in {0, 1} -> only 5 and 6
    with pytest.raises(ValueError, match=r"only sizes 5\.\.6 are reachable"):
        output_padding_for(7, 3, 3, stride=2, padding=1)
    with pytest.raises(ValueError, match="no output_padding reaches target=4"):
        output_padding_for(4, 3, 3, stride=2, padding=1)


def test_kernel_larger_than_padded_input():
    with pytest.raises(
        ValueError, match=r"kernel larger than padded input.*spans d\(k - 1\) \+ 1 = 5"
    ):
        conv_output_size(2, 3, dilation=2, padding=1)


@pytest.mark.parametrize(
    "args, match",
    [
        ((0, 3), "n must be a positive integer; got 0"),
        ((4, 0), "kernel must be a positive integer"),
        ((4, 3, 0), "stride must be a positive integer"),
        ((4, 3, 1, -1), "padding must be a non-negative integer"),
        ((4, 3, 1, 0, 0), "dilation must be a positive integer"),
    ],
)
def test_non_positive_sizes(args, match):
    with pytest.raises(ValueError, match=match):
        conv_output_size(*args)


def test_non_integer_sizes_are_type_errors():
    with pytest.raises(TypeError, match="n must be an integer"):
        conv_output_size(4.0, 3)
    with pytest.raises(TypeError, match="kernel must be an integer"):
        conv_transpose_output_size(4, True)


def test_transposed_non_positive_output():
    # (1 - 1) * 1 - 2 * 2 + 0 + 1 = -3
    with pytest.raises(ValueError, match="non-positive output size"):
        conv_transpose_output_size(1, 1, padding=2)


# ---- explain ----------------------------------------------------------------------------------


def test_explain_lines_hold_the_numbers():
    lines = explain(6, 3, stride=2, padding=1, output_padding=1)
    text = "\n".join(lines)
    assert "floor((6 + 2 - 2 - 1) / 2) + 1 = 3" in text
    assert "input sizes with the same output 3: [5, 6]" in text
    assert "output_padding a = 1 returns to 6" in text
    # transposed of 6: 5 * 2 - 2 + 2 + 1 + 1 = 12
    assert lines[-1].endswith("= 12")
    assert conv_transpose_output_size(6, 3, 2, 1, 1) == 12


def test_inputs_with_same_output_small_inputs_clipped():
    # k = 1, s = 3, p = 0: o(1) = 1, inputs 1..3 all give 1
    assert inputs_with_same_output(1, 1, 3) == [1, 2, 3]
    # padding lets inputs shorter than the kernel through: k = 3, p = 1, s = 4 -> 1..4 give 1
    assert inputs_with_same_output(2, 3, 4, 1) == [1, 2, 3, 4]
    assert all(conv_output_size(m, 3, 4, 1) == 1 for m in range(1, 5))
    assert conv_output_size(5, 3, 4, 1) == 2
    assert np.all(np.diff(inputs_with_same_output(30, 5, 4, 2, 2)) == 1)
