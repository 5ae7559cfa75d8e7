"""Assignment question 4: equal L2 loss, very different IoU (and the converse)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from handgrad import boxes
from handgrad.solve import q4_boxes as B


def test_seed_examples_exact() -> None:
    r = B.same_l2_boxes([0.0, 0.0, 2.0, 2.0], 2.0, n=3)
    np.testing.assert_allclose(
        r.boxes, [[0, 0, 3, 3], [0, 0, 2 + math.sqrt(2), 2], [1, 1, 2, 2]], rtol=0, atol=1e-15
    )
    np.testing.assert_allclose(r.l2_values, 2.0, rtol=1e-15)
    # (0,0,3,3): I = 4, U = 9; (0,0,2+sqrt2,2): I = 4, U = 2(2 + sqrt 2) -> 2 - sqrt 2;
    # (1,1,2,2): I = 1, U = 7
    np.testing.assert_allclose(r.iou, [4 / 9, 2 - math.sqrt(2), 1 / 7], rtol=1e-15)
    assert r.iou_range == pytest.approx((1 / 7, 2 - math.sqrt(2)), rel=1e-15)
    # GIoU: the first two are nested (C = U), the third has C = 9: 1/7 - 2/9
    np.testing.assert_allclose(r.giou, [4 / 9, 2 - math.sqrt(2), 1 / 7 - 2 / 9], rtol=1e-14)
    # DIoU of the concentric ones is the IoU (rho = 0, up to eps); (1,1,2,2): rho^2 = 2, c^2 = 18
    np.testing.assert_allclose(r.diou, [4 / 9, 2 - math.sqrt(2), 1 / 7 - 2 / 18], rtol=1e-7)
    # CIoU: squares keep v = 0 except (0,0,2+sqrt2,2)
    assert r.ciou[0] == pytest.approx(r.diou[0]) and r.ciou[1] < r.diou[1]


def test_family_on_the_sphere() -> None:
    r = B.same_l2_boxes([5.0, -3.0, 4.0, 1.0], 0.7, n=200, fmt="cxcywh", seed=3)
    assert r.boxes.shape == (200, 4) and r.iou.shape == (200,)
    np.testing.assert_allclose(r.l2_values, 0.7, rtol=1e-13)
    np.testing.assert_allclose(np.linalg.norm(r.directions, axis=1), 1.0, rtol=1e-14)
    assert np.all(r.boxes[:, 2:] > 0)
    lo, hi = r.iou_range
    assert 0 <= lo < hi <= 1 and hi - lo > 0.2  # "equally good" L2 predictions differ a lot
    np.testing.assert_allclose(
        r.iou, np.diag(boxes.box_iou(r.boxes, np.tile(r.gt, (200, 1)), fmt="cxcywh")), rtol=1e-15
    )
    # reproducible from the seed
    np.testing.assert_array_equal(B.same_l2_boxes([5, -3, 4, 1], 0.7, 200, seed=3).boxes, r.boxes)


@given(
    st.floats(-10, 10), st.floats(-10, 10), st.floats(0.1, 10), st.floats(0.1, 10),
    st.floats(0.01, 50),
)  # fmt: skip
def test_any_gt_and_l2(cx: float, cy: float, w: float, h: float, l2: float) -> None:
    r = B.same_l2_boxes([cx, cy, w, h], l2, n=12)
    np.testing.assert_allclose(r.l2_values, l2, rtol=1e-9)
    assert np.all(r.boxes[:, 2:] > 0)
    assert np.all((0 <= r.iou) & (r.iou <= 1))
    assert np.all(r.giou <= r.iou + 1e-12)


def test_gt_formats() -> None:
    a = B.same_l2_boxes([0.0, 0.0, 2.0, 2.0], 2.0, 4)
    b = B.same_l2_boxes([-1.0, -1.0, 1.0, 1.0], 2.0, 4, fmt="xyxy")
    np.testing.assert_allclose(a.iou, b.iou, rtol=1e-15)


def test_same_iou_different_l2() -> None:
    r = B.same_iou_boxes([1.0, 2.0, 2.0, 4.0], 0.5, [0.1, 1.0, 10.0, 100.0])
    np.testing.assert_allclose(r.iou, 0.5, rtol=1e-13)
    # L2 = s^2 (k - 1)^2 (w^2 + h^2), k = sqrt 2: grows as s^2
    k = math.sqrt(2)
    np.testing.assert_allclose(r.l2, r.scales**2 * (k - 1) ** 2 * 20.0, rtol=1e-13)
    assert r.l2[-1] / r.l2[0] == pytest.approx(1e6)


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="gt must be one box"):
        B.same_l2_boxes([[0, 0, 1, 1]], 1.0)
    with pytest.raises(ValueError, match="gt must have positive width and height"):
        B.same_l2_boxes([0, 0, 0, 1], 1.0)
    with pytest.raises(ValueError, match="l2 must be in"):
        B.same_l2_boxes([0, 0, 1, 1], 0.0)
    with pytest.raises(ValueError, match="n must be a positive integer"):
        B.same_l2_boxes([0, 0, 1, 1], 1.0, n=0)
    with pytest.raises(ValueError, match="iou must be in"):
        B.same_iou_boxes([0, 0, 1, 1], 1.5, [1.0])
    with pytest.raises(ValueError, match="scales must all be positive"):
        B.same_iou_boxes([0, 0, 1, 1], 0.5, [1.0, -2.0])
    with pytest.raises(ValueError, match="gt must be finite"):
        B.same_l2_boxes([0, np.nan, 1, 1], 1.0)


def test_the_families_stay_importable_from_boxes() -> None:
    assert boxes.same_l2_boxes is B.same_l2_boxes
    assert boxes.same_iou_boxes is B.same_iou_boxes
    assert boxes.SameL2Boxes is B.SameL2Boxes and boxes.SameIoUBoxes is B.SameIoUBoxes
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = boxes.nothing
