"""Bad input to the convolutions: each case raises TypeError or ValueError naming the argument.

Tables grouped by what is wrong: type, shape, range, empty, ragged, overflow (sizes that would
need terabytes: refused before anything is allocated). Each forward case is tried on the
backward pass too, which checks the same arguments first.
"""

from __future__ import annotations

import numpy as np
import pytest

from handgrad import conv as C

X = np.zeros((1, 2, 5, 5))  # (N, C_in, H, W)
W = np.zeros((3, 2, 3, 3))  # conv2d weight (C_out, C_in, kh, kw)
WT = np.zeros((2, 3, 3, 3))  # conv_transpose2d weight (C_in, C_out, kh, kw)


def conv(**changes: object) -> tuple[str, dict]:
    return "conv2d", {"x": X, "weight": W, **changes}


def convt(**changes: object) -> tuple[str, dict]:
    return "conv_transpose2d", {"x": X, "weight": WT, **changes}


LIMIT = r"more than the limit of 2\*\*32"

TYPE = [
    pytest.param(conv(padding=1.0), TypeError, r"^padding must be an int or an \(h, w\) pair of ints; got float", id="conv-padding-float"),
    pytest.param(conv(padding=(1, 1, 1)), TypeError, r"^padding must be an int or an \(h, w\) pair", id="conv-padding-triple"),
    pytest.param(conv(padding=("1", 1)), TypeError, r"^padding must be an integer; got str", id="conv-padding-pair-str"),
    pytest.param(conv(padding="full"), ValueError, r"^padding must be one of 'same', 'valid'", id="conv-padding-full"),
    pytest.param(conv(stride=True), TypeError, r"^stride must be an int or an \(h, w\) pair", id="conv-stride-bool"),
    pytest.param(conv(stride=None), TypeError, r"^stride must be an int or an \(h, w\) pair", id="conv-stride-None"),
    pytest.param(conv(dilation=2.0), TypeError, r"^dilation must be an int or an \(h, w\) pair", id="conv-dilation-float"),
    pytest.param(conv(groups=1.0), TypeError, r"^groups must be an integer; got float", id="conv-groups-float"),
    pytest.param(conv(x="abc"), TypeError, r"^x must be a real numeric array", id="conv-x-str"),
    pytest.param(conv(bias="abc"), TypeError, r"^bias must be a real numeric array", id="conv-bias-str"),
    pytest.param(convt(padding="same"), ValueError, r"^padding must be an int or an \(h, w\) pair for conv_transpose2d", id="convt-padding-same"),
    pytest.param(convt(output_padding=0.5), TypeError, r"^output_padding must be an int or an \(h, w\) pair", id="convt-output-padding-float"),
    pytest.param(convt(weight=np.zeros((2, 3, 3, 3), complex)), TypeError, r"^weight must be a real numeric array", id="convt-weight-complex"),
]  # fmt: skip

SHAPE = [
    pytest.param(conv(x=np.zeros((3, 5, 5))), ValueError, r"^x has C_in = 3 channels but weight", id="conv-unbatched-channels"),
    pytest.param(conv(x=np.zeros((1, 1, 2, 5, 5))), ValueError, r"^x must be 4-D \(N, C, H, W\) or unbatched", id="conv-x-5d"),
    pytest.param(conv(x=np.zeros((5, 5))), ValueError, r"^x must be 4-D", id="conv-x-2d"),
    pytest.param(conv(weight=np.zeros((2, 3, 3))), ValueError, r"^weight must be 4-D \(C_out, C_in / groups, kh, kw\)", id="conv-weight-3d"),
    pytest.param(conv(bias=np.zeros(2)), ValueError, r"^bias must have shape \(C_out,\) = \(3,\); got \(2,\)", id="conv-bias-length"),
    pytest.param(conv(weight=np.zeros((3, 2, 7, 7))), ValueError, r"kernel larger than padded input along the height", id="conv-kernel-too-big"),
    pytest.param(conv(groups=2), ValueError, r"^groups must divide both channel counts; got groups=2, C_in=2, C_out=3", id="conv-groups-not-dividing"),
    pytest.param(conv(x=np.zeros((1, 4, 5, 5)), weight=np.zeros((2, 1, 3, 3)), groups=4), ValueError, r"^groups must divide both channel counts", id="conv-groups-above-c-out"),
    pytest.param(convt(x=np.zeros((1, 3, 5, 5))), ValueError, r"^x has C_in = 3 channels but weight \(C_in, C_out / groups, kh, kw\)", id="convt-channels"),
    pytest.param(convt(groups=3), ValueError, r"^groups must divide both channel counts", id="convt-groups"),
    pytest.param(convt(weight=np.zeros((2, 3, 3))), ValueError, r"^weight must be 4-D \(C_in, C_out / groups, kh, kw\)", id="convt-weight-3d"),
]  # fmt: skip

RANGE = [
    pytest.param(conv(padding=-1), ValueError, r"^padding must be a non-negative integer; got -1", id="conv-padding-negative"),
    pytest.param(conv(stride=0), ValueError, r"^stride must be a positive integer; got 0", id="conv-stride-0"),
    pytest.param(conv(dilation=(1, 0)), ValueError, r"^dilation must be a positive integer; got 0", id="conv-dilation-0"),
    pytest.param(conv(groups=0), ValueError, r"^groups must be a positive integer; got 0", id="conv-groups-0"),
    pytest.param(conv(padding="same", stride=2), ValueError, r"^padding='same' needs stride 1", id="conv-same-stride-2"),
    pytest.param(conv(dilation=10**9), ValueError, r"kernel larger than padded input .* dilation=1000000000", id="conv-dilation-beyond-input"),
    pytest.param(convt(output_padding=5), ValueError, r"^output_padding must be smaller than stride or dilation", id="convt-output-padding"),
    pytest.param(convt(padding=10**6), ValueError, r"^non-positive output size: .* padding=1000000", id="convt-padding-crops-all"),
    pytest.param(convt(stride=-2), ValueError, r"^stride must be a positive integer", id="convt-stride-negative"),
]  # fmt: skip

EMPTY = [
    pytest.param(conv(x=np.zeros((1, 2, 0, 5))), ValueError, r"^x must have a positive height; got 0", id="conv-height-0"),
    pytest.param(conv(x=np.zeros((1, 0, 5, 5)), weight=np.zeros((3, 0, 3, 3))), ValueError, r"^x and weight must be non-empty", id="conv-no-channels"),
    pytest.param(conv(weight=np.zeros((0, 2, 3, 3))), ValueError, r"^x and weight must be non-empty", id="conv-no-filters"),
    pytest.param(convt(x=np.zeros((1, 2, 5, 0))), ValueError, r"^x must have a positive width; got 0", id="convt-width-0"),
    pytest.param(convt(weight=np.zeros((2, 3, 0, 3))), ValueError, r"^weight must be non-empty", id="convt-empty-kernel"),
]  # fmt: skip

RAGGED = [
    pytest.param(conv(x=[[[[0, 0], [0]]]]), TypeError, r"^x must be a numeric array; .* \(ragged", id="conv-x"),
    pytest.param(conv(weight=[[[[0, 0], [0]]]]), TypeError, r"^weight must be a numeric array; .* \(ragged", id="conv-weight"),
    pytest.param(conv(bias=[0, [0], 0]), TypeError, r"^bias must be a numeric array; .* \(ragged", id="conv-bias"),
]  # fmt: skip

OVERFLOW = [
    pytest.param(conv(padding=10**6), ValueError, rf"^conv2d with padding=1000000, .*one sample's output would have shape \(3, 2000003, 2000003\), 12,000,036,000,027 elements, {LIMIT}", id="conv-padding-1e6"),
    pytest.param(conv(padding=(0, 10**9)), ValueError, rf"^conv2d with padding=\(0, 1000000000\).* {LIMIT}", id="conv-padding-width-1e9"),
    pytest.param(conv(padding=2**70), ValueError, rf"^conv2d with padding=1180591620717411303424.* {LIMIT}", id="conv-padding-2**70"),
    pytest.param(conv(padding=10**4), ValueError, rf"one sample's im2col columns would have shape \(18, 20003, 20003\).* {LIMIT}", id="conv-padding-1e4-columns"),
    pytest.param(conv(padding="same", dilation=10**6), ValueError, rf"^conv2d with padding='same', stride=1, dilation=1000000.*padded input.* {LIMIT}", id="conv-same-huge-dilation"),
    pytest.param(conv(dilation=2**70, padding=2**70), ValueError, rf"^conv2d with padding=.* {LIMIT}", id="conv-dilation-2**70"),
    pytest.param(convt(stride=10**6), ValueError, rf"^conv_transpose2d with padding=0, stride=1000000.*one sample's output would have shape \(3, 4000003, 4000003\).* {LIMIT}", id="convt-stride-1e6"),
    pytest.param(convt(stride=2**70), ValueError, rf"^conv_transpose2d with .*stride=1180591620717411303424.* {LIMIT}", id="convt-stride-2**70"),
    pytest.param(convt(dilation=10**9), ValueError, rf"^conv_transpose2d with .*dilation=1000000000.* {LIMIT}", id="convt-dilation-1e9"),
    pytest.param(convt(stride=10**12, padding=2 * 10**12 - 10, output_padding=0), ValueError, rf"one sample's uncropped output .* {LIMIT}", id="convt-uncropped"),
]  # fmt: skip

CASES = [
    *(pytest.param(*p.values, id=f"type:{p.id}") for p in TYPE),
    *(pytest.param(*p.values, id=f"shape:{p.id}") for p in SHAPE),
    *(pytest.param(*p.values, id=f"range:{p.id}") for p in RANGE),
    *(pytest.param(*p.values, id=f"empty:{p.id}") for p in EMPTY),
    *(pytest.param(*p.values, id=f"ragged:{p.id}") for p in RAGGED),
    *(pytest.param(*p.values, id=f"overflow:{p.id}") for p in OVERFLOW),
]


@pytest.mark.parametrize(("op_call", "error", "match"), CASES)
def test_bad_input_raises_naming_the_argument(op_call, error, match):
    name, kwargs = op_call
    with pytest.raises(error, match=match):
        getattr(C, name)(**kwargs)


@pytest.mark.parametrize(
    ("op_call", "error", "match"),
    [p for p in CASES if "bias" not in p.values[0][1]],  # the backward passes take no bias
)
def test_backward_checks_the_same_arguments(op_call, error, match):
    name, kwargs = op_call
    with pytest.raises(error, match=match):
        getattr(C, name + "_backward")(np.zeros(1), **kwargs)  # arguments before grad_out


def test_the_tables_hold_distinct_cases():
    ids = [p.id for p in CASES]
    assert len(ids) == len(set(ids)) >= 50


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        pytest.param({"padding": 10**6}, ValueError, rf"^conv_matrix with input_hw=\(5, 5\), padding=1000000.*the windows .* {LIMIT}", id="padding-1e6"),
        pytest.param({"input_hw": (10**6, 10**6)}, ValueError, rf"^conv_matrix with input_hw=\(1000000, 1000000\).* {LIMIT}", id="input-1e6"),
        pytest.param({"input_hw": (300, 300)}, ValueError, rf"the dense matrix would have shape \(88804, 90000\).* {LIMIT}", id="dense-300"),
        pytest.param({"input_hw": "5"}, TypeError, r"^input_hw must be an int or an \(h, w\) pair", id="input-str"),
        pytest.param({"input_hw": 0}, ValueError, r"^input_hw must be a positive integer", id="input-0"),
        pytest.param({"kernel": np.zeros((3, 3, 3))}, ValueError, r"^kernel must be 2-D \(kh, kw\) or 4-D", id="kernel-3d"),
        pytest.param({"kernel": "abc"}, TypeError, r"^kernel must be a real numeric array", id="kernel-str"),
        pytest.param({"kernel": np.zeros((3, 2, 3, 3)), "groups": 2}, ValueError, r"^groups must divide C_out", id="groups"),
        pytest.param({"sparse": "yes"}, TypeError, r"^sparse must be True or False", id="sparse-str"),
    ],
)  # fmt: skip
def test_conv_matrix_bad_input(kwargs, error, match):
    call = {"input_hw": (5, 5), "kernel": np.ones((3, 3)), **kwargs}
    with pytest.raises(error, match=match):
        C.conv_matrix(**call)


def test_zero_insertion_route_checks_its_own_buffers():
    # 128 input channels, 8 x 8 kernel, stride 16 on 64 x 64: the output is 1016 x 1016.
    # Zero insertion takes im2col columns of the stretched input, 128 * 64 rows of 1016**2
    # (8.5e9 elements): refused. The default route needs 64 * 64 * 64 * 64 columns: it runs.
    x = np.ones((1, 128, 64, 64), dtype=np.float32)
    w = np.ones((128, 1, 8, 8), dtype=np.float32)
    with pytest.raises(
        ValueError,
        match=rf"^conv_transpose2d\(method='zero_insertion'\) with stride=16.*im2col columns .*{LIMIT}",
    ):
        C.conv_transpose2d(x, w, stride=16, method="zero_insertion")
    assert C.conv_transpose2d(x, w, stride=16).shape == (1, 1, 1016, 1016)


# --- valid edges, unchanged ---------------------------------------------------------------------


def test_stride_beyond_the_input_gives_the_single_window_without_overflow():
    # one output row and column whatever the stride: 2**70 is as good as 7 (and 10**9)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 2, 5, 5))
    w = rng.standard_normal((3, 2, 3, 3))
    want = C.conv2d(x, w, stride=7)
    for stride in (10**9, 2**70, (2**70, 7)):
        np.testing.assert_array_equal(C.conv2d(x, w, stride=stride), want)
    g = rng.standard_normal(want.shape)
    for got, ref in zip(
        C.conv2d_backward(g, x, w, stride=2**70), C.conv2d_backward(g, x, w, stride=7), strict=True
    ):
        np.testing.assert_array_equal(got, ref)


def test_transposed_stride_of_a_one_pixel_input_does_not_matter():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 2, 1, 1))
    w = rng.standard_normal((2, 3, 3, 3))
    want = C.conv_transpose2d(x, w, stride=4)
    for method in C.METHODS:
        got = C.conv_transpose2d(x, w, stride=2**70, method=method)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(C.conv_transpose2d(x, w, stride=2**70), want)


def test_kernel_of_one_ignores_dilation():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 2, 4, 4))
    w = rng.standard_normal((3, 2, 1, 1))
    np.testing.assert_array_equal(C.conv2d(x, w, dilation=2**70), C.conv2d(x, w, dilation=2))


def test_empty_batch_gives_an_empty_output():
    assert C.conv2d(np.zeros((0, 2, 5, 5)), W).shape == (0, 3, 3, 3)
    assert C.conv_transpose2d(np.zeros((0, 2, 5, 5)), WT).shape == (0, 3, 7, 7)
