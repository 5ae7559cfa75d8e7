"""Pairwise IoU family: torchvision's published values, torch formulas, properties, edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from handgrad import boxes as B
from oracle import assert_close

PAIRWISE = ["box_iou", "generalized_box_iou", "distance_box_iou", "complete_box_iou"]

# torchvision test_ops.py, TestBoxIou & co.
INT_BOXES = [[0, 0, 100, 100], [0, 0, 50, 50], [200, 200, 300, 300], [0, 0, 25, 25]]
INT_BOXES2 = [[0, 0, 100, 100], [0, 0, 50, 50], [200, 200, 300, 300]]
FLOAT_BOXES = [
    [285.3538, 185.5758, 1193.5110, 851.4551],
    [285.1472, 188.7374, 1192.4984, 851.0669],
    [279.2440, 197.9812, 1189.4746, 849.2019],
]
EXPECTED_INT = {
    "box_iou": [[1.0, 0.25, 0.0], [0.25, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0625, 0.25, 0.0]],
    "generalized_box_iou": [
        [1.0, 0.25, -0.7778],
        [0.25, 1.0, -0.8611],
        [-0.7778, -0.8611, 1.0],
        [0.0625, 0.25, -0.8819],
    ],
    "distance_box_iou": [
        [1.0000, 0.1875, -0.4444],
        [0.1875, 1.0000, -0.5625],
        [-0.4444, -0.5625, 1.0000],
        [-0.0781, 0.1875, -0.6267],
    ],
}
EXPECTED_INT["complete_box_iou"] = EXPECTED_INT["distance_box_iou"]  # squares: v = 0
EXPECTED_FLOAT = [[1.0, 0.9933, 0.9673], [0.9933, 1.0, 0.9737], [0.9673, 0.9737, 1.0]]


@pytest.mark.parametrize("name", PAIRWISE)
def test_torchvision_published_values(name: str) -> None:
    fn = getattr(B, name)
    np.testing.assert_allclose(fn(INT_BOXES, INT_BOXES2), EXPECTED_INT[name], atol=1e-4)
    for dtype in (np.float32, np.float64):
        b = np.array(FLOAT_BOXES, dtype)
        out = fn(b, b)
        assert out.dtype == dtype
        np.testing.assert_allclose(out, EXPECTED_FLOAT, atol=1e-3)


def test_worked_examples() -> None:
    a = np.array([[0.0, 0.0, 2.0, 2.0]])
    b = np.array([[1.0, 1.0, 3.0, 3.0]])
    # I = 1, U = 4 + 4 - 1 = 7
    assert B.box_iou(a, b)[0, 0] == pytest.approx(1 / 7, rel=1e-15)
    # C = 9: GIoU = 1/7 - (9 - 7)/9
    assert B.generalized_box_iou(a, b)[0, 0] == pytest.approx(1 / 7 - 2 / 9, rel=1e-15)
    # rho^2 = 1 + 1 = 2, diagonal^2 = 9 + 9 = 18
    assert B.distance_box_iou(a, b, eps=0.0)[0, 0] == pytest.approx(1 / 7 - 2 / 18, rel=1e-15)
    # (0, 0, 1, 2) vs (0, 0, 2, 1): v = (4/pi^2)(atan(1/2) - atan 2)^2, IoU = 1/3, rho^2 = 0.5
    p, t = np.array([[0.0, 0.0, 1.0, 2.0]]), np.array([[0.0, 0.0, 2.0, 1.0]])
    v = 4 / math.pi**2 * (math.atan(0.5) - math.atan(2.0)) ** 2
    iou = 1 / 3
    expected = iou - 0.5 / 8 - v / (1 - iou + v) * v
    assert B.complete_box_iou(p, t, eps=0.0)[0, 0] == pytest.approx(expected, rel=1e-14)


# ---- torch formulas (torchvision's pairwise code, re-expressed) -------------------------------


def torch_pairwise(
    b1: torch.Tensor, b2: torch.Tensor, what: str, eps: float = 1e-7
) -> torch.Tensor:
    area1 = (b1[:, 2] - b1[:, 0]) * (b1[:, 3] - b1[:, 1])
    area2 = (b2[:, 2] - b2[:, 0]) * (b2[:, 3] - b2[:, 1])
    lt = torch.max(b1[:, None, :2], b2[:, :2])
    rb = torch.min(b1[:, None, 2:], b2[:, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = area1[:, None] + area2 - inter
    iou = inter / union
    if what == "box_iou":
        return iou
    lti = torch.min(b1[:, None, :2], b2[:, :2])
    rbi = torch.max(b1[:, None, 2:], b2[:, 2:])
    whi = (rbi - lti).clamp(min=0)
    if what == "generalized_box_iou":
        areai = whi[..., 0] * whi[..., 1]
        return iou - (areai - union) / areai
    diag = whi[..., 0] ** 2 + whi[..., 1] ** 2 + eps
    xp, yp = (b1[:, 0] + b1[:, 2]) / 2, (b1[:, 1] + b1[:, 3]) / 2
    xg, yg = (b2[:, 0] + b2[:, 2]) / 2, (b2[:, 1] + b2[:, 3]) / 2
    dist = (xp[:, None] - xg[None, :]) ** 2 + (yp[:, None] - yg[None, :]) ** 2
    diou = iou - dist / diag
    if what == "distance_box_iou":
        return diou
    w1, h1 = b1[:, None, 2] - b1[:, None, 0], b1[:, None, 3] - b1[:, None, 1]
    w2, h2 = b2[:, 2] - b2[:, 0], b2[:, 3] - b2[:, 1]
    v = (4 / torch.pi**2) * (torch.atan(w1 / h1) - torch.atan(w2 / h2)) ** 2
    return diou - v / (1 - iou + v + eps) * v


def random_boxes(rng: np.random.Generator, n: int) -> np.ndarray:
    xy = rng.uniform(-5, 5, (n, 2))
    return np.concatenate([xy, xy + rng.uniform(0.1, 6, (n, 2))], 1)


@pytest.mark.parametrize("name", PAIRWISE)
def test_matches_torch_formulas(rng: np.random.Generator, name: str) -> None:
    b1, b2 = random_boxes(rng, 7), random_boxes(rng, 5)
    b2[0] = b1[0]  # identical
    b2[1, :2] = b1[1, :2]  # shared corner
    ref = torch_pairwise(torch.from_numpy(b1), torch.from_numpy(b2), name).numpy()
    assert_close(getattr(B, name)(b1, b2), ref, rtol=1e-13)


@pytest.mark.parametrize("name", PAIRWISE)
@pytest.mark.parametrize("fmt", ["xywh", "cxcywh"])
def test_formats(rng: np.random.Generator, name: str, fmt: str) -> None:
    b1, b2 = random_boxes(rng, 4), random_boxes(rng, 3)
    out = getattr(B, name)(B.box_convert(b1, "xyxy", fmt), B.box_convert(b2, "xyxy", fmt), fmt=fmt)
    assert_close(out, getattr(B, name)(b1, b2), rtol=1e-13)


@pytest.mark.parametrize("name", PAIRWISE)
def test_cartesian_equals_loop(rng: np.random.Generator, name: str) -> None:
    # torchvision's cartesian test: the (N, M) matrix equals one call per pair
    b1, b2 = random_boxes(rng, 5), random_boxes(rng, 7)
    fn = getattr(B, name)
    loop = np.array([[fn(b1[i : i + 1], b2[j : j + 1])[0, 0] for j in range(7)] for i in range(5)])
    np.testing.assert_array_equal(fn(b1, b2), loop)


@pytest.mark.parametrize(
    ("name", "loss"),
    [
        ("box_iou", "iou_loss"),
        ("generalized_box_iou", "giou_loss"),
        ("distance_box_iou", "diou_loss"),
        ("complete_box_iou", "ciou_loss"),
    ],
)
def test_diagonal_equals_paired(rng: np.random.Generator, name: str, loss: str) -> None:
    a, b = random_boxes(rng, 9), random_boxes(rng, 9)
    b[:3] = a[:3] + rng.uniform(-0.3, 0.3, (3, 4))
    b[:3, 2:] = np.maximum(b[:3, 2:], b[:3, :2] + 0.1)
    kwargs = {} if name in ("box_iou", "generalized_box_iou") else {"eps": 0.0}
    diag = np.diag(getattr(B, name)(a, b, **kwargs))
    assert_close(diag, 1 - getattr(B, loss)(a, b, eps=0.0), rtol=1e-14, atol=1e-15)
    # with torchvision's default eps the difference is the losses' eps on the union
    if kwargs:
        diag = np.diag(getattr(B, name)(a, b))
        np.testing.assert_allclose(diag, 1 - getattr(B, loss)(a, b), atol=1e-6)


# ---- properties -------------------------------------------------------------------------------

box = st.tuples(
    st.floats(-100, 100, allow_nan=False), st.floats(-100, 100, allow_nan=False),
    st.floats(0.01, 50), st.floats(0.01, 50),
)  # fmt: skip


def xyxy(b: tuple[float, float, float, float]) -> np.ndarray:
    x, y, w, h = b
    return np.array([[x, y, x + w, y + h]])


@given(box, box)
def test_iou_giou_properties(a: tuple[float, ...], b: tuple[float, ...]) -> None:
    p, q = xyxy(a), xyxy(b)  # type: ignore[arg-type]
    iou = B.box_iou(p, q)[0, 0]
    assert 0.0 <= iou <= 1.0
    assert iou == pytest.approx(B.box_iou(q, p)[0, 0], rel=1e-12, abs=1e-300)  # symmetric
    giou = B.generalized_box_iou(p, q)[0, 0]
    assert -1.0 < giou <= iou + 1e-15
    assert giou == pytest.approx(B.generalized_box_iou(q, p)[0, 0], rel=1e-12, abs=1e-12)
    diou = B.distance_box_iou(p, q)[0, 0]
    assert -1.0 < diou <= iou + 1e-15
    assert B.complete_box_iou(p, q)[0, 0] <= diou + 1e-15


@given(box, box, st.floats(-1000, 1000), st.floats(-1000, 1000), st.floats(0.01, 100))
def test_iou_translation_and_scale_invariant(
    a: tuple[float, ...], b: tuple[float, ...], dx: float, dy: float, s: float
) -> None:
    p, q = xyxy(a), xyxy(b)  # type: ignore[arg-type]
    shift = np.array([[dx, dy, dx, dy]])
    iou = B.box_iou(p, q)[0, 0]
    assert B.box_iou(p + shift, q + shift)[0, 0] == pytest.approx(iou, abs=1e-9)
    assert B.box_iou(p * s, q * s)[0, 0] == pytest.approx(iou, abs=1e-12)
    for name in PAIRWISE[1:]:
        fn = getattr(B, name)
        kw = {} if name == "generalized_box_iou" else {"eps": 0.0}
        assert fn(p * s, q * s, **kw)[0, 0] == pytest.approx(fn(p, q, **kw)[0, 0], abs=1e-10)


# ---- degenerate boxes and bad input -----------------------------------------------------------


def test_degenerate_boxes_are_finite() -> None:
    pts = np.array([[1.0, 1.0, 1.0, 1.0], [3.0, 5.0, 3.0, 5.0], [0.0, 0.0, 0.0, 2.0]])
    for name in PAIRWISE:
        out = getattr(B, name)(pts, pts, **({} if "box_iou" in name else {"eps": 0.0}))
        assert np.all(np.isfinite(out))
    # two zero-area boxes: IoU 0 (torchvision: 0/0 = NaN)
    np.testing.assert_array_equal(B.box_iou(pts, pts), 0.0)
    g = B.generalized_box_iou(pts, pts)
    assert g[0, 0] == 0.0  # same point: C = 0 too
    assert g[0, 1] == -1.0  # distinct points: C = 8 > 0, U = 0
    assert g[0, 2] == -1.0  # point (1, 1) and segment x = 0, y in [0, 2]: C = 1 x 2, U = 0
    huge = np.array([[1e6, 1e6, 1e6 + 2, 1e6 + 2]])
    assert B.box_iou(huge, huge + np.ones(4))[0, 0] == pytest.approx(1 / 7, rel=1e-9)


@pytest.mark.parametrize("name", PAIRWISE)
def test_bad_input(name: str) -> None:
    fn = getattr(B, name)
    ok = np.array([[0.0, 0.0, 1.0, 1.0]])
    with pytest.raises(ValueError, match=r"boxes1 must have shape \(N, 4\)"):
        fn(np.zeros((2, 3)), ok)
    with pytest.raises(ValueError, match=r"boxes2 must have shape \(M, 4\)"):
        fn(ok, np.zeros(4))
    with pytest.raises(ValueError, match="boxes2 must be finite"):
        fn(ok, [[0.0, 0.0, np.nan, 1.0]])
    with pytest.raises(ValueError, match="boxes1 must hold boxes with x2 >= x1"):
        fn([[0.0, 2.0, 1.0, 1.0]], ok)
    with pytest.raises(ValueError, match="fmt must be one of"):
        fn(ok, ok, fmt="ltrb")
    assert fn(np.zeros((0, 4)), ok).shape == (0, 1)
