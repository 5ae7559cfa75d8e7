"""Bad input to the box functions: each case raises TypeError or ValueError naming the argument.

Tables grouped by what is wrong: type, shape, dtype, NaN/inf, range, empty, ragged, overflow.
The paired losses are tried through their ``_and_grad`` form too (one check serves all three).
"""

from __future__ import annotations

import warnings
from functools import partial as call

import numpy as np
import pytest

from handgrad import boxes as B

P = np.array([[0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 3.0, 4.0]])  # valid xyxy boxes
Q = np.array([[0.0, 0.0, 1.0, 1.0], [1.0, 1.0, 2.0, 2.0]])
BOX = [[0.0, 0.0, 1.0, 1.0]]
IOU_LOSSES = ["iou_loss", "log_iou_loss", "giou_loss", "diou_loss", "ciou_loss"]


def loss(name: str, pred: object = P, target: object = Q, **kwargs: object):
    return call(getattr(B, name), pred, target, **kwargs)


def each_iou_loss(make_case, error, match, tag):
    """One case per IoU-family loss (and ``giou_loss_and_grad``), built by ``make_case(name)``."""
    names = [*IOU_LOSSES, "giou_loss_and_grad"]
    return [pytest.param(make_case(n), error, match, id=f"{n}-{tag}") for n in names]


TYPE = [
    *each_iou_loss(lambda n: loss(n, eps="1e-7"), TypeError, r"^eps must be a real number; got str", "eps-str"),
    *each_iou_loss(lambda n: loss(n, eps=None), TypeError, r"^eps must be a real number", "eps-None"),
    pytest.param(loss("iou_loss", eps=True), TypeError, r"^eps must be a real number; got bool", id="iou-eps-bool"),
    pytest.param(loss("smooth_l1_box_loss", beta="0.5"), TypeError, r"^beta must be a real number; got str '0.5'", id="smooth-l1-beta-str-number"),
    pytest.param(loss("smooth_l1_box_loss", beta="abc"), TypeError, r"^beta must be a real number; got str 'abc'", id="smooth-l1-beta-str"),
    pytest.param(loss("smooth_l1_box_loss", beta=None), TypeError, r"^beta must be a real number", id="smooth-l1-beta-None"),
    pytest.param(loss("smooth_l1_box_loss_grad", beta=True), TypeError, r"^beta must be a real number; got bool", id="smooth-l1-grad-beta-bool"),
    pytest.param(call(B.distance_box_iou, P, Q, eps="1e-7"), TypeError, r"^eps must be a real number", id="diou-pairwise-eps-str"),
    pytest.param(call(B.complete_box_iou, P, Q, eps=None), TypeError, r"^eps must be a real number", id="ciou-pairwise-eps-None"),
    pytest.param(loss("iou_loss", reduction="avg"), ValueError, r"^reduction must be one of 'none', 'mean', 'sum'", id="iou-reduction"),
    pytest.param(loss("l2_box_loss", reduction=None), ValueError, r"^reduction must be one of", id="l2-reduction-None"),
    pytest.param(loss("giou_loss", fmt="xyhw"), ValueError, r"^fmt must be one of 'xyxy', 'xywh', 'cxcywh'", id="giou-fmt"),
    pytest.param(loss("smooth_l1_box_loss", fmt=None), ValueError, r"^fmt must be one of", id="smooth-l1-fmt-None"),
    pytest.param(loss("l2_box_loss", "mean"), TypeError, r"^pred must be a real numeric array", id="l2-str-pred"),
    pytest.param(loss("ciou_loss", mode="foo"), ValueError, r"^mode must be one of 'torchvision', 'exact', 'paper'", id="ciou-mode"),
    pytest.param(call(B.box_iou, P, Q, fmt=1), ValueError, r"^fmt must be one of", id="box-iou-fmt"),
    pytest.param(call(B.box_convert, P, "xyxy", "foo"), ValueError, r"^out_fmt must be one of", id="convert-out-fmt"),
    pytest.param(call(B.box_convert_jacobian, "a", "xyxy"), ValueError, r"^in_fmt must be one of", id="jacobian-in-fmt"),
    pytest.param(call(B.same_l2_boxes, [0, 0, 2, 2], l2="2"), TypeError, r"^l2 must be a real number", id="demo-l2-str"),
    pytest.param(call(B.same_iou_boxes, [0, 0, 2, 2], "0.5", [1.0]), TypeError, r"^iou must be a real number", id="demo-iou-str"),
    pytest.param(loss("iou_loss", pred=None), TypeError, r"^pred must be a real numeric array", id="iou-pred-None"),
]  # fmt: skip

SHAPE = [
    pytest.param(loss("iou_loss", pred=[[0, 0, 1]], target=[[0, 0, 1]]), ValueError, r"^pred must have shape \(N, 4\); got \(1, 3\)", id="iou-3-columns"),
    pytest.param(loss("giou_loss", target=Q[:1]), ValueError, r"^target must have shape \(N, 4\) with N = 2", id="giou-pair-count"),
    pytest.param(loss("diou_loss", pred=[0, 0, 1, 1], target=[0, 0, 1, 1]), ValueError, r"^pred must have shape \(N, 4\); got \(4,\)", id="diou-1d"),
    pytest.param(loss("ciou_loss", pred=np.zeros((1, 1, 4)), target=np.zeros((1, 1, 4))), ValueError, r"^pred must have shape \(N, 4\)", id="ciou-3d"),
    pytest.param(loss("smooth_l1_box_loss", target=Q[:1]), ValueError, r"^target must have shape \(N, 4\) with N = 2", id="smooth-l1-pair-count"),
    pytest.param(call(B.box_iou, [0, 0, 1, 1], Q), ValueError, r"^boxes1 must have shape \(N, 4\)", id="box-iou-1d"),
    pytest.param(call(B.generalized_box_iou, P, np.zeros((2, 5))), ValueError, r"^boxes2 must have shape \(M, 4\)", id="giou-pairwise-5-columns"),
    pytest.param(call(B.box_convert, np.zeros((2, 3)), "xyxy", "xywh"), ValueError, r"^boxes must have shape \(\.\.\., 4\)", id="convert-3-columns"),
    pytest.param(call(B.box_convert, 1.0, "xyxy", "xywh"), ValueError, r"^boxes must have shape \(\.\.\., 4\); got \(\)", id="convert-0d"),
    pytest.param(call(B.box_area, np.zeros(3)), ValueError, r"^boxes must have shape", id="area-3"),
    pytest.param(call(B.box_convert_backward, np.zeros((2, 3)), "xyxy", "xywh"), ValueError, r"^grad_out must have shape", id="convert-backward"),
]  # fmt: skip

DTYPE = [
    pytest.param(loss("iou_loss", pred=[["a"] * 4]), TypeError, r"^pred must be a real numeric array", id="iou-pred-str"),
    pytest.param(loss("l2_box_loss", target=np.zeros((2, 4), complex)), TypeError, r"^target must be a real numeric array", id="l2-target-complex"),
    pytest.param(call(B.box_convert, "abcd", "xyxy", "xywh"), TypeError, r"^boxes must be a real numeric array", id="convert-str"),
    pytest.param(call(B.box_iou, P, np.array([[0, 0, 1, 1]], dtype=object)), TypeError, r"^boxes2 must be a real numeric array", id="box-iou-object"),
]  # fmt: skip

NAN_INF = [
    *each_iou_loss(lambda n: loss(n, pred=[[0, 0, np.nan, 1], [0, 0, 1, 1]]), ValueError, r"^pred must be finite .* nan at index \(0, 2\)", "pred-nan"),
    pytest.param(loss("giou_loss", target=[[0, 0, 1, 1], [0, 0, np.inf, 1]]), ValueError, r"^target must be finite .* inf at index \(1, 2\)", id="giou-target-inf"),
    pytest.param(loss("smooth_l1_box_loss", pred=[[0, 0, np.nan, 1]], target=BOX), ValueError, r"^pred must be finite", id="smooth-l1-nan"),
    pytest.param(loss("l2_box_loss", target=[[0, 0, 1, 1], [-np.inf, 0, 1, 1]]), ValueError, r"^target must be finite", id="l2-target-inf"),
    pytest.param(call(B.box_iou, [[0, 0, np.nan, 1]], Q), ValueError, r"^boxes1 must be finite", id="box-iou-nan"),
    pytest.param(call(B.distance_box_iou, P, [[0, 0, 1, np.inf]]), ValueError, r"^boxes2 must be finite", id="diou-pairwise-inf"),
    *each_iou_loss(lambda n: loss(n, eps=np.nan), ValueError, r"^eps must be a finite number", "eps-nan"),
    pytest.param(loss("ciou_loss", eps=np.inf), ValueError, r"^eps must be a finite number; got inf", id="ciou-eps-inf"),
    pytest.param(loss("smooth_l1_box_loss", beta=np.nan), ValueError, r"^beta must be a finite number", id="smooth-l1-beta-nan"),
    pytest.param(loss("smooth_l1_box_loss", beta=np.inf), ValueError, r"^beta must be a finite number; got inf", id="smooth-l1-beta-inf"),
    pytest.param(call(B.complete_box_iou, P, Q, eps=np.nan), ValueError, r"^eps must be a finite number", id="ciou-pairwise-eps-nan"),
]  # fmt: skip

RANGE = [
    *each_iou_loss(lambda n: loss(n, pred=[[2, 0, 1, 1], [0, 0, 1, 1]]), ValueError, r"^pred must hold boxes with x2 >= x1 and y2 >= y1 \(fmt 'xyxy'\); got \[2.0, 0.0, 1.0, 1.0\] at row 0", "x2-below-x1"),
    pytest.param(loss("iou_loss", target=[[0, 0, 1, 1], [0, 2, 1, 1]]), ValueError, r"^target must hold boxes with x2 >= x1 and y2 >= y1 .* at row 1", id="iou-target-y2-below-y1"),
    pytest.param(loss("giou_loss", pred=[[0, 0, -1, 1], [0, 0, 1, 1]], fmt="xywh"), ValueError, r"^pred must hold boxes with w >= 0 and h >= 0 \(fmt 'xywh'\)", id="giou-xywh-negative-w"),
    pytest.param(loss("diou_loss", target=[[0, 0, 1, -1], [0, 0, 1, 1]], fmt="cxcywh"), ValueError, r"^target must hold boxes with w >= 0 and h >= 0 \(fmt 'cxcywh'\)", id="diou-cxcywh-negative-h"),
    pytest.param(call(B.box_iou, [[2, 0, 1, 1]], Q), ValueError, r"^boxes1 must hold boxes with x2 >= x1", id="box-iou-inverted"),
    *each_iou_loss(lambda n: loss(n, eps=-1), ValueError, r"^eps must be in \[0.0, inf\)|^eps must be in \(0.0, inf\)", "eps-negative"),
    pytest.param(loss("log_iou_loss", eps=0), ValueError, r"^eps must be in \(0.0, inf\); got 0.0", id="log-iou-eps-0"),
    pytest.param(loss("smooth_l1_box_loss", beta=-1), ValueError, r"^beta must be in \[0.0, inf\); got -1.0", id="smooth-l1-beta-negative"),
    pytest.param(call(B.distance_box_iou, P, Q, eps=-1e-7), ValueError, r"^eps must be in \[0.0, inf\)", id="diou-pairwise-eps-negative"),
    pytest.param(call(B.same_l2_boxes, [0, 0, 2, 2], l2=0), ValueError, r"^l2 must be in \(0.0, inf\)", id="demo-l2-0"),
    pytest.param(call(B.same_iou_boxes, [0, 0, 2, 2], 1.5, [1.0]), ValueError, r"^iou must be in \(0.0, 1.0\]", id="demo-iou-above-1"),
]  # fmt: skip

EMPTY = [
    pytest.param(loss("iou_loss", pred=[], target=[]), ValueError, r"^pred must have shape \(N, 4\); got \(0,\)", id="iou-empty-list"),
    pytest.param(call(B.box_iou, [], Q), ValueError, r"^boxes1 must have shape \(N, 4\); got \(0,\)", id="box-iou-empty-list"),
]  # fmt: skip

RAGGED = [
    pytest.param(loss("iou_loss", pred=[[0, 0, 1, 1], [0, 0, 1]]), TypeError, r"^pred must be a numeric array; .* \(ragged", id="iou-pred"),
    pytest.param(loss("smooth_l1_box_loss", target=[[0, 0, 1, 1], [0]]), TypeError, r"^target must be a numeric array; .* \(ragged", id="smooth-l1-target"),
    pytest.param(call(B.box_iou, [[0, 0, 1, 1], [1]], Q), TypeError, r"^boxes1 must be a numeric array; .* \(ragged", id="box-iou"),
    pytest.param(call(B.box_convert, [[0, 0, 1, 1], [0]], "xyxy", "xywh"), TypeError, r"^boxes must be a numeric array; .* \(ragged", id="convert"),
]  # fmt: skip

OVERFLOW = [
    pytest.param(loss("giou_loss", pred=[[0, 0, 1e308, 1e308]], target=BOX), ValueError, r"pred and target have coordinates too large for float64 in rows 0\.\.0: the loss overflows", id="giou-area"),
    pytest.param(loss("diou_loss", pred=[[1e200, 0, 2e200, 1]], target=BOX), ValueError, r"pred and target have coordinates too large for float64 .* the loss overflows", id="diou-diagonal"),
    pytest.param(loss("iou_loss", pred=np.float32([[-3e38, 0, 3e38, 1]]), target=np.float32(BOX)), ValueError, r"^pred has coordinates too large for float32", id="iou-f32-size"),
    pytest.param(loss("l2_box_loss", pred=[[-1e308, 0, 1e308, 1]], target=BOX), ValueError, r"pred and target have coordinates too large for float64 at row 0", id="l2-difference"),
    pytest.param(loss("l2_box_loss", pred=[[0, 0, 1e200, 1]], target=BOX), ValueError, r"pred and target have coordinates too large for float64 at row 0", id="l2-square"),
    pytest.param(loss("smooth_l1_box_loss", pred=[[-1e308, 0, 1e308, 1]], target=BOX), ValueError, r"pred and target have coordinates too large for float64 at row 0", id="smooth-l1-difference"),
    pytest.param(call(B.box_iou, [[0, 0, 1e200, 1e200]], [[0, 0, 1e200, 1e200]]), ValueError, r"boxes1 and boxes2 have coordinates too large for float64: .* boxes1\[0\]", id="box-iou-area"),
    pytest.param(call(B.complete_box_iou, [[1e200, 0, 2e200, 1]], BOX), ValueError, r"boxes1 and boxes2 have coordinates too large", id="ciou-pairwise-diagonal"),
    pytest.param(loss("iou_loss", eps=2**1100), ValueError, r"^eps must be a finite number", id="iou-eps-int-beyond-float"),
    pytest.param(loss("smooth_l1_box_loss", beta=2**1100), ValueError, r"^beta must be a finite number", id="smooth-l1-beta-int-beyond-float"),
]  # fmt: skip

CASES = [
    *(pytest.param(*p.values, id=f"type:{p.id}") for p in TYPE),
    *(pytest.param(*p.values, id=f"shape:{p.id}") for p in SHAPE),
    *(pytest.param(*p.values, id=f"dtype:{p.id}") for p in DTYPE),
    *(pytest.param(*p.values, id=f"nan-inf:{p.id}") for p in NAN_INF),
    *(pytest.param(*p.values, id=f"range:{p.id}") for p in RANGE),
    *(pytest.param(*p.values, id=f"empty:{p.id}") for p in EMPTY),
    *(pytest.param(*p.values, id=f"ragged:{p.id}") for p in RAGGED),
    *(pytest.param(*p.values, id=f"overflow:{p.id}") for p in OVERFLOW),
]


@pytest.mark.parametrize(("bad_call", "error", "match"), CASES)
def test_bad_input_raises_naming_the_argument(bad_call, error, match):
    with pytest.raises(error, match=match):
        bad_call()


def test_the_tables_hold_distinct_cases():
    ids = [p.id for p in CASES]
    assert len(ids) == len(set(ids)) >= 100


# --- what is accepted, documented ---------------------------------------------------------------


def test_coordinate_losses_accept_inverted_boxes_as_plain_numbers():
    # l2 and smooth L1 are functions of four numbers: x2 < x1 is allowed, unlike the IoU family.
    # (2, 0, 1, 1) is cxcywh (1.5, 0.5, -1, 1), (0, 0, 1, 1) is (0.5, 0.5, 1, 1):
    # differences (1, 0, -2, 0), so L2 = 1 + 4 = 5 and smooth L1 (beta 1) = 0.5 + 1.5 = 2
    assert B.l2_box_loss([[2, 0, 1, 1]], BOX)[0] == 5.0
    assert B.smooth_l1_box_loss([[2, 0, 1, 1]], BOX)[0] == 2.0


def test_hyperparameters_accept_numpy_scalars_and_0d_arrays():
    want = B.smooth_l1_box_loss(P, Q, beta=0.5)
    np.testing.assert_array_equal(B.smooth_l1_box_loss(P, Q, beta=np.array(0.5)), want)
    np.testing.assert_array_equal(B.giou_loss(P, Q, eps=np.float32(1e-7)), B.giou_loss(P, Q))


def test_huge_but_harmless_iou_loss_is_one_without_a_warning():
    # IoU of a 1e308-wide box with a unit box underflows to 0 (the true value is ~1e-616):
    # the loss is 1 with zero gradient, and no overflow warning escapes the kernel
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, grad = B.iou_loss_and_grad([[0, 0, 1e308, 1e308]], BOX)
    assert value[0] == 1.0
    np.testing.assert_array_equal(grad, np.zeros((1, 4)))


def test_empty_pairs_reduce_to_zero():
    assert B.iou_loss(np.zeros((0, 4)), np.zeros((0, 4)), reduction="mean") == 0.0
    assert B.box_iou(np.zeros((0, 4)), Q).shape == (0, 2)


def test_box_convert_passes_nan_through_like_torchvision():
    # conversions and areas are elementwise arithmetic with no validity check
    out = B.box_convert([[0, 0, np.nan, 1]], "xyxy", "xywh")
    assert np.isnan(out[0, 2]) and out[0, 3] == 1.0
