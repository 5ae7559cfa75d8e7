"""IoU-family box losses: torchvision's values, torch autograd, finite differences, edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from benchmarks.torch_box_reference import torch_loss
from hypothesis import given
from hypothesis import strategies as st

from handgrad import boxes as B
from handgrad.gradcheck import assert_grad_close
from oracle import assert_close, torch_grad

KINDS = ["iou", "log_iou", "giou", "diou", "ciou"]
# (kind, CIoU gradient mode): the mode only matters for CIoU
KIND_MODES = [(k, "torchvision") for k in KINDS] + [("ciou", "exact"), ("ciou", "paper")]
FMTS = ["xyxy", "xywh", "cxcywh"]


def random_boxes(rng: np.random.Generator, n: int, fmt: str = "xyxy") -> np.ndarray:
    xy = rng.uniform(-5, 5, (n, 2))
    wh = rng.uniform(0.2, 4, (n, 2))
    return B.box_convert(np.concatenate([xy, xy + wh], 1), "xyxy", fmt)


def pairs_with_ties(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random overlapping pairs plus identical, aligned, nested, touching and disjoint pairs."""
    p = random_boxes(rng, 24)
    t = p + rng.uniform(-1.5, 1.5, p.shape)
    t[:, 2:] = np.maximum(t[:, 2:], t[:, :2] + 0.1)
    t[0] = p[0]  # identical
    t[1] = p[1] + [0.0, 0.3, 0.5, 0.0]  # x1 and y2 tied
    t[2] = p[2] + [-0.2, 0.0, 0.0, 0.7]  # y1 and x2 tied
    t[3] = [p[3, 0] + 0.1, p[3, 1] + 0.1, p[3, 2] - 0.1, p[3, 3] - 0.1]  # nested
    t[4] = [p[4, 2], p[4, 1], p[4, 2] + 1, p[4, 3]]  # touching on the right edge
    t[5] = p[5] + [20.0, 20.0, 20.0, 20.0]  # disjoint
    return p, t


# ---- torchvision's published values (test_ops.py), re-expressed -------------------------------

BOX1 = [-1.0, -1.0, 1.0, 1.0]
BOX2 = [0.0, 0.0, 1.0, 1.0]
BOX3 = [0.0, 1.0, 1.0, 2.0]
BOX4 = [1.0, 1.0, 2.0, 2.0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_giou_torchvision_values(dtype: type) -> None:
    def loss(a: list[float], b: list[float]) -> float:
        return float(B.giou_loss(np.array([a], dtype), np.array([b], dtype))[0])

    tol = 1e-6 if dtype is np.float32 else 1e-7  # eps = 1e-7 moves values by eps / area
    assert loss(BOX1, BOX1) == pytest.approx(0.0, abs=tol)  # identical boxes
    assert loss(BOX1, BOX2) == pytest.approx(0.75, abs=tol)  # IoU = 1/4, C = union
    assert loss(BOX2, BOX3) == pytest.approx(1.0, abs=tol)  # side by side: IoU 0, C = union
    assert loss(BOX2, BOX4) == pytest.approx(1.5, abs=tol)  # diagonal: IoU 0, (C - U)/C = 2/4
    pair1, pair2 = np.array([BOX2, BOX2], dtype), np.array([BOX3, BOX4], dtype)
    assert B.giou_loss(pair1, pair2, reduction="sum") == pytest.approx(2.5, abs=tol)
    assert B.giou_loss(pair1, pair2, reduction="mean") == pytest.approx(1.25, abs=tol)
    # with eps = 0 the float64 values are exact
    if dtype is np.float64:
        exact = B.giou_loss(np.array([BOX1, BOX1, BOX2, BOX2]), [BOX1, BOX2, BOX3, BOX4], eps=0.0)
        np.testing.assert_array_equal(exact, [0.0, 0.75, 1.0, 1.5])


@pytest.mark.parametrize("name", ["diou_loss", "ciou_loss"])
def test_diou_ciou_torchvision_values(name: str) -> None:
    fn = getattr(B, name)

    def loss(a: list[float], b: list[float]) -> float:
        return float(fn(np.array([a]), np.array([b]))[0])

    # all four boxes are squares, so CIoU's v = 0 and CIoU = DIoU
    assert loss(BOX1, BOX1) == pytest.approx(0.0, abs=1e-6)
    # IoU 1/4; centres (0, 0), (0.5, 0.5): rho^2 = 0.5; diagonal^2 = 8: 1 - 0.25 + 0.0625
    assert loss(BOX1, BOX2) == pytest.approx(0.8125, abs=1e-6)
    # IoU 1/4 (overlap [0,1]x[1,1] is empty? no: y in [1, 1] has zero height) -> IoU 0;
    # rho^2 = 0.25 + 2.25 = 2.5, diagonal^2 = 4 + 9 = 13: 1 + 2.5/13 = 1.1923
    assert loss(BOX1, BOX3) == pytest.approx(1.0 + 2.5 / 13, abs=1e-6)
    assert loss(BOX1, BOX3) == pytest.approx(1.1923, abs=1e-4)
    # touching at a corner: IoU 0, rho^2 = 4.5, diagonal^2 = 18: 1.25
    assert loss(BOX1, BOX4) == pytest.approx(1.25, abs=1e-6)
    pair1, pair2 = np.array([BOX2, BOX2]), np.array([BOX3, BOX4])
    assert fn(pair1, pair2, reduction="mean") == pytest.approx(1.2250, abs=1e-4)
    assert fn(pair1, pair2, reduction="sum") == pytest.approx(2.4500, abs=1e-4)


def test_iou_and_log_iou_worked_example() -> None:
    # BOX1 (area 4) vs BOX2 (area 1, inside): IoU = 1 / 4
    p, t = np.array([BOX1]), np.array([BOX2])
    assert B.iou_loss(p, t, eps=0.0)[0] == 0.75
    assert B.log_iou_loss(p, t)[0] == pytest.approx(math.log(4.0 + 1e-7), rel=1e-14)
    # eps sits on the union: 1 - 1 / (4 + eps)
    assert B.iou_loss(p, t, eps=0.5)[0] == pytest.approx(1 - 1 / 4.5, rel=1e-15)


# ---- torch autograd, float64 ------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fmt", FMTS)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_matches_torch_autograd(
    rng: np.random.Generator, kind: str, fmt: str, reduction: str
) -> None:
    p, t = pairs_with_ties(rng)
    p, t = B.box_convert(p, "xyxy", fmt), B.box_convert(t, "xyxy", fmt)

    def ref(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        out = torch_loss(a, b, kind, fmt=fmt)
        return {"none": out, "mean": out.mean(), "sum": out.sum()}[reduction]

    value, (grad, _) = torch_grad(ref, p, t)
    loss, g = getattr(B, f"{kind}_loss_and_grad")(p, t, reduction=reduction, fmt=fmt)
    assert_close(loss, value, rtol=1e-12)
    assert_close(g, grad, rtol=1e-12)
    # the separate entry points run the same fused code
    np.testing.assert_array_equal(
        getattr(B, f"{kind}_loss")(p, t, reduction=reduction, fmt=fmt), loss
    )
    np.testing.assert_array_equal(
        getattr(B, f"{kind}_loss_grad")(p, t, reduction=reduction, fmt=fmt), g
    )


@pytest.mark.parametrize("mode", ["torchvision", "exact", "paper"])
def test_ciou_modes_match_torch(rng: np.random.Generator, mode: str) -> None:
    p, t = pairs_with_ties(rng)
    value, (grad, _) = torch_grad(lambda a, b: torch_loss(a, b, "ciou", mode=mode), p, t)
    loss, g = B.ciou_loss_and_grad(p, t, mode=mode)
    assert_close(loss, value, rtol=1e-12)
    assert_close(g, grad, rtol=1e-12)


def test_ciou_modes_differ(rng: np.random.Generator) -> None:
    p, t = random_boxes(rng, 8), random_boxes(rng, 8)
    g = {m: B.ciou_loss_grad(p, t, mode=m) for m in ("torchvision", "exact", "paper")}
    assert np.abs(g["exact"] - g["torchvision"]).max() > 1e-4
    assert np.abs(g["paper"] - g["torchvision"]).max() > 1e-4
    # the value does not depend on the mode
    np.testing.assert_array_equal(B.ciou_loss(p, t, mode="exact"), B.ciou_loss(p, t))


# ---- finite differences, float64 --------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fmt", FMTS)
@pytest.mark.parametrize("reduction", ["none", "mean"])
def test_finite_differences(rng: np.random.Generator, kind: str, fmt: str, reduction: str) -> None:
    # overlapping pairs away from kinks (no ties, no touching)
    p = random_boxes(rng, 6)
    t = p + rng.uniform(-0.5, 0.5, p.shape)
    t[:, 2:] = np.maximum(t[:, 2:], t[:, :2] + 0.1)
    p, t = B.box_convert(p, "xyxy", fmt), B.box_convert(t, "xyxy", fmt)
    loss_fn = getattr(B, f"{kind}_loss")
    # CIoU: only "exact" is the derivative of the value (the other modes hold alpha constant)
    kwargs = {"mode": "exact"} if kind == "ciou" else {}

    def f(x: np.ndarray) -> float:
        return float(np.sum(loss_fn(x, t, reduction=reduction, fmt=fmt)))

    grad = getattr(B, f"{kind}_loss_grad")(p, t, reduction=reduction, fmt=fmt, **kwargs)
    assert_grad_close(f, grad, p)


@pytest.mark.parametrize("mode", ["torchvision", "exact"])
def test_ciou_exact_mode_is_the_true_gradient(rng: np.random.Generator, mode: str) -> None:
    p = random_boxes(rng, 5)
    t = p + rng.uniform(-0.5, 0.5, p.shape)
    t[:, 2:] = np.maximum(t[:, 2:], t[:, :2] + 0.1)
    g = B.ciou_loss_grad(p, t, mode=mode)

    def f(x: np.ndarray) -> float:
        return float(np.sum(B.ciou_loss(x, t)))

    result = assert_grad_close(f, g, p) if mode == "exact" else None
    if mode == "torchvision":  # holding alpha constant is not the derivative of the value
        from handgrad.gradcheck import check_grad

        assert not check_grad(f, g, p).passed
    else:
        assert result is not None and result.passed


# ---- invariants and edge cases ----------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_identical_boxes_zero_loss_and_gradient(rng: np.random.Generator, kind: str) -> None:
    p = random_boxes(rng, 10)
    if kind != "log_iou":  # log_iou needs eps > 0
        loss, g = getattr(B, f"{kind}_loss_and_grad")(p, p.copy(), eps=0.0)
        np.testing.assert_allclose(loss, 0.0, atol=1e-15)
        np.testing.assert_allclose(g, 0.0, atol=1e-15)
    # with the default eps both are of order eps / area
    loss, g = getattr(B, f"{kind}_loss_and_grad")(p, p.copy())
    area = B.box_area(p)
    assert np.all(np.abs(loss) <= 2e-7 / area + 1e-15)
    assert np.all(np.abs(g) <= 2e-6 / area[:, None])


DEGENERATE = np.array(
    [
        [0.0, 0.0, 0.0, 2.0],  # zero width
        [0.0, 0.0, 2.0, 0.0],  # zero height
        [1.0, 1.0, 1.0, 1.0],  # point
        [1.0, 1.0, 1.0, 1.0],  # the same point
        [0.0, 0.0, 1.0, 1.0],
        [1e6, 1e6, 1e6 + 3.0, 1e6 + 2.0],  # huge coordinates
        [-1e6, 0.0, 1e6, 1.0],  # huge box
        [5.0, 5.0, 6.0, 6.0],
    ]
)
DEGENERATE_T = np.array(
    [
        [0.0, 0.0, 0.0, 2.0],  # identical zero-width boxes
        [1.0, 0.0, 3.0, 0.0],  # overlapping zero-height segments
        [1.0, 1.0, 1.0, 1.0],  # identical points
        [3.0, 4.0, 3.0, 4.0],  # disjoint points
        [0.5, 0.5, 0.5, 0.5],  # point inside a box
        [1e6 + 1.0, 1e6, 1e6 + 4.0, 1e6 + 2.0],
        [0.0, 0.0, 1.0, 1e6],
        [7.0, 7.0, 8.0, 9.0],  # disjoint
    ]
)


@pytest.mark.parametrize(("kind", "mode"), KIND_MODES)
@pytest.mark.parametrize("eps", [1e-7, 0.0])
def test_degenerate_boxes_are_finite(kind: str, eps: float, mode: str) -> None:
    if kind == "log_iou" and eps == 0.0:
        eps = 1e-30  # log_iou needs eps > 0 (also in float32)
    fn = getattr(B, f"{kind}_loss_and_grad")
    kwargs = {"mode": mode} if kind == "ciou" else {}
    for dtype in (np.float64, np.float32):
        loss, g = fn(DEGENERATE.astype(dtype), DEGENERATE_T.astype(dtype), eps=eps, **kwargs)
        assert loss.dtype == dtype and g.dtype == dtype
        assert np.all(np.isfinite(loss)) and np.all(np.isfinite(g)), (loss, g)
        assert np.all(loss >= -1e-6)


def test_degenerate_policy_values() -> None:
    # two identical zero-area boxes: IoU taken as 0 -> IoU loss 1, GIoU loss 1 (C = 0: term 0)
    z = np.array([[1.0, 1.0, 1.0, 1.0]])
    for eps in (0.0, 1e-7):
        assert B.iou_loss(z, z, eps=eps)[0] == 1.0
        assert B.giou_loss(z, z, eps=eps)[0] == 1.0
        assert B.diou_loss(z, z, eps=eps)[0] == 1.0  # rho = 0
        assert B.ciou_loss(z, z, eps=eps)[0] == 1.0  # v = 0 (both angles atan2(0, 0) = 0)
    # CIoU of a point vs a 1 x 1 box at the same centre (torchvision: atan(0/0) = NaN):
    # theta_p = 0, theta_g = pi/4, v = (4/pi^2)(pi/4)^2 = 1/4, IoU 0, rho 0,
    # alpha = 0.25 / (1 + 0.25 + eps): loss = 1 + 0.25 * 0.25 / 1.25 = 1.05
    p = np.array([[0.5, 0.5, 0.5, 0.5]])
    t = np.array([[0.0, 0.0, 1.0, 1.0]])
    assert B.ciou_loss(p, t, eps=0.0)[0] == pytest.approx(1.05, rel=1e-14)
    # zero height, positive width: angle pi/2 (torchvision's atan(w/0) = pi/2 too)
    p = np.array([[0.0, 0.5, 1.0, 0.5]])
    v = 4 / math.pi**2 * (math.pi / 4 - math.pi / 2) ** 2
    expected = 1 + 0 + v * v / (1 + v)  # IoU 0, same centre
    assert B.ciou_loss(p, t, eps=0.0)[0] == pytest.approx(expected, rel=1e-14)
    g = B.ciou_loss_grad(p, t)  # finite; torch's atan(w/h) gradient is NaN here
    assert np.all(np.isfinite(g))


def test_ciou_angle_difference_is_the_two_angles_difference() -> None:
    # The kernel takes theta_g - theta_p as one atan2 of a cross and a dot product; it must equal
    # atan2(wg, hg) - atan2(w, h) for every size >= 0: points, zero width against zero height,
    # tiny, huge and equal aspect ratios (the difference then is 0, so v and its gradient are 0).
    sizes = np.array([0.0, 1e-150, 1e-9, 0.5, 1.0, 3.0, 1e9])
    w, h, wg, hg = (a.ravel() for a in np.meshgrid(sizes, sizes, sizes, sizes))
    p = np.stack([np.zeros_like(w), np.zeros_like(w), w, h], 1)
    t = np.stack([np.zeros_like(w), np.zeros_like(w), wg, hg], 1)
    delta = np.arctan2(wg, hg) - np.arctan2(w, h)
    v = 4 / math.pi**2 * delta**2
    iou = 1 - B.iou_loss(p, t, eps=0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        alpha = np.where(v == 0, 0.0, v / (1 - iou + v))
    expected = B.diou_loss(p, t, eps=0.0) + alpha * v
    # |error of delta| <= a few ulps of pi / 2; v and alpha v then move by <= 1e-15 absolute
    np.testing.assert_allclose(B.ciou_loss(p, t, eps=0.0), expected, rtol=0, atol=1e-14)
    same_aspect = np.isclose(w * hg, h * wg, rtol=1e-15, atol=0) & (w + h > 0) & (wg + hg > 0)
    assert np.all(
        B.ciou_loss(p, t, eps=0.0)[same_aspect] == B.diou_loss(p, t, eps=0.0)[same_aspect]
    )


def test_loss_block_is_the_public_loss() -> None:
    from handgrad.boxes._kernel import loss_block

    p, t = pairs_with_ties(np.random.default_rng(4))
    for kind, mode in KIND_MODES:
        loss, grad = np.empty(len(p)), np.empty((4, len(p)))
        iou = loss_block(
            p.T.copy(), t.T.copy(), kind=kind, eps=1e-7, mode=mode, loss=loss, grad=grad
        )
        fn = getattr(B, f"{kind}_loss_and_grad")
        ref_loss, ref_grad = fn(p, t, **({"mode": mode} if kind == "ciou" else {}))
        np.testing.assert_array_equal(loss, ref_loss)
        np.testing.assert_array_equal(grad.T, ref_grad)
        np.testing.assert_allclose(iou, 1 - B.iou_loss(p, t), rtol=0, atol=4.5e-16)


def test_disjoint_boxes() -> None:
    p, t = np.array([[0.0, 0.0, 1.0, 1.0]]), np.array([[3.0, 0.0, 4.0, 1.0]])
    loss, g = B.iou_loss_and_grad(p, t)
    assert loss[0] == 1.0 and np.all(g == 0)  # no overlap: no IoU gradient
    loss, g = B.log_iou_loss_and_grad(p, t)
    assert loss[0] == pytest.approx(-math.log(1e-7)) and np.all(g == 0)
    # GIoU: C = 4, U = 2: 1 - 0 + 2/4 = 1.5; the enclosure pulls pred to the right
    loss, g = B.giou_loss_and_grad(p, t, eps=0.0)
    assert loss[0] == 1.5
    assert g[0, 0] > 0 and g[0, 2] < 0  # moving x1 right shrinks C; moving x2 right too


def test_touching_boxes_follow_the_strict_mask() -> None:
    # iw = 0 exactly: torchvision's mask excludes the pair, so no intersection gradient, while
    # clamp(min=0) would pass one (torch's clamp has gradient 1 at 0; checked here too)
    x = torch.tensor([0.0], dtype=torch.float64, requires_grad=True)
    x.clamp(min=0).sum().backward()
    assert x.grad is not None and x.grad.item() == 1.0
    p, t = np.array([[0.0, 0.0, 1.0, 1.0]]), np.array([[1.0, 0.0, 2.0, 1.0]])
    _, (grad, _) = torch_grad(lambda a, b: torch_loss(a, b, "iou"), p, t)
    g = B.iou_loss_grad(p, t)
    np.testing.assert_array_equal(g, grad)
    np.testing.assert_array_equal(g, 0.0)


def test_ties_split_the_gradient_equally() -> None:
    # x1 = x1g: torch.max / torch.min give each argument half; check one number by hand.
    # pred (0,0,2,2), target (0,0,1,1): iw = min(2,1) - max(0,0) = 1; IoU = 1/4 (eps = 0).
    # dL/diw = dL/dI * ih with dL/dI = -1/U - I/U^2 = -1/4 - 1/16, ih = 1;
    # x1 appears in max(x1, x1g) (weight 1/2) and in w = x2 - x1 via U (dL/dU = I/U^2 = 1/16,
    # dU/dx1 = -h = -2): dL/dx1 = -(1/2)(-5/16) + (1/16)(-2) = 5/32 - 4/32 = 1/32
    g = B.iou_loss_grad(np.array([[0.0, 0.0, 2.0, 2.0]]), np.array([[0.0, 0.0, 1.0, 1.0]]), eps=0.0)
    assert g[0, 0] == pytest.approx(1 / 32, rel=1e-15)


@given(
    st.lists(
        st.tuples(*[st.floats(-50, 50, allow_nan=False)] * 2, *[st.floats(0, 20)] * 2),
        min_size=2,
        max_size=2,
    )
)
def test_loss_ranges_and_finite_gradients(boxes: list[tuple[float, ...]]) -> None:
    (a, b, c, d), (e, f, g_, h) = boxes
    p = np.array([[a, b, a + c, b + d]])
    t = np.array([[e, f, e + g_, f + h]])
    for kind in KINDS:
        loss, g = getattr(B, f"{kind}_loss_and_grad")(p, t)
        assert np.all(np.isfinite(g)) and np.isfinite(loss[0])
        assert loss[0] >= 0.0
        if kind == "giou":
            assert loss[0] < 2.0
        if kind in ("diou", "ciou"):
            assert loss[0] < 2.0 + 1.0  # IoU part <= 1, each penalty < 1
    # the loss of the IoU family orders like 1 - IoU for the same pair
    assert B.giou_loss(p, t)[0] >= B.iou_loss(p, t)[0] - 1e-12


# ---- dtypes, empty input, reductions ----------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_float32_in_float32_out(rng: np.random.Generator, kind: str) -> None:
    p, t = pairs_with_ties(rng)
    loss, g = getattr(B, f"{kind}_loss_and_grad")(p.astype(np.float32), t.astype(np.float32))
    assert loss.dtype == np.float32 and g.dtype == np.float32
    ref_loss, ref_g = getattr(B, f"{kind}_loss_and_grad")(p, t)
    np.testing.assert_allclose(loss, ref_loss, rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(g, ref_g, rtol=1e-3, atol=2e-4)
    mean = getattr(B, f"{kind}_loss")(p.astype(np.float32), t.astype(np.float32), reduction="mean")
    assert isinstance(mean, np.float32)
    # ints are promoted to float64
    assert getattr(B, f"{kind}_loss")(np.array([[0, 0, 2, 2]]), np.array([[1, 1, 3, 3]])).dtype == (
        np.float64
    )


def test_blocks_agree_with_one_block(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    import handgrad.boxes._kernel as kernel

    p, t = random_boxes(rng, 1000), random_boxes(rng, 1000)
    whole = B.ciou_loss_and_grad(p, t, reduction="mean", mode="exact")
    monkeypatch.setattr(kernel, "BLOCK", 64)  # 15 full blocks and a partial one
    blocked = B.ciou_loss_and_grad(p, t, reduction="mean", mode="exact")
    assert whole[0] == pytest.approx(blocked[0], rel=1e-14)
    np.testing.assert_array_equal(whole[1], blocked[1])


@pytest.mark.parametrize("kind", KINDS)
def test_empty_input(kind: str) -> None:
    e = np.zeros((0, 4))
    loss, g = getattr(B, f"{kind}_loss_and_grad")(e, e, reduction="mean")
    assert loss == 0.0 and g.shape == (0, 4)
    assert getattr(B, f"{kind}_loss")(e, e).shape == (0,)
    assert getattr(B, f"{kind}_loss")(e, e, reduction="sum") == 0.0


# ---- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_bad_input(kind: str) -> None:
    fn = getattr(B, f"{kind}_loss")
    ok = np.array([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 2.0, 2.0]])
    with pytest.raises(ValueError, match=r"pred must have shape \(N, 4\)"):
        fn(ok[:, :3], ok)
    with pytest.raises(ValueError, match="target must have shape"):
        fn(ok, ok[:1])
    with pytest.raises(ValueError, match="reduction must be one of"):
        fn(ok, ok, reduction="avg")
    with pytest.raises(ValueError, match="fmt must be one of"):
        fn(ok, ok, fmt="yxyx")
    with pytest.raises(ValueError, match="eps must be in"):
        fn(ok, ok, eps=-1.0)
    bad = ok.copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="pred must be finite"):
        fn(bad, ok)
    bad[1, 2] = np.inf
    with pytest.raises(ValueError, match="target must be finite"):
        fn(ok, bad)
    inverted = np.array([[0.0, 0.0, 1.0, 1.0], [2.0, 0.0, 1.0, 1.0]])
    with pytest.raises(ValueError, match=r"pred must hold boxes with x2 >= x1.*row 1"):
        fn(inverted, ok)
    with pytest.raises(ValueError, match="target must hold boxes with w >= 0"):
        fn(ok, [[0.0, 0.0, -1.0, 1.0], [0.0, 0.0, 1.0, 1.0]], fmt="cxcywh")
    with pytest.raises(TypeError, match="pred must be a real numeric array"):
        fn(np.array([["a", "b", "c", "d"]]), ok[:1])


def test_bad_mode_and_log_eps() -> None:
    ok = np.array([[0.0, 0.0, 1.0, 1.0]])
    with pytest.raises(ValueError, match="mode must be one of 'torchvision', 'exact', 'paper'"):
        B.ciou_loss_grad(ok, ok, mode="alpha")
    with pytest.raises(ValueError, match="eps must be in"):
        B.log_iou_loss(ok, ok, eps=0.0)
    with pytest.raises(ValueError, match="eps must be > 0 for log_iou_loss in float32"):
        B.log_iou_loss(ok.astype(np.float32), ok.astype(np.float32), eps=1e-50)


@given(
    st.tuples(
        st.floats(-1e3, 1e3), st.floats(-1e3, 1e3), st.floats(1e-2, 1e3), st.floats(1e-2, 1e3)
    ),
    st.sampled_from(FMTS),
)
def test_identical_boxes_property(b: tuple[float, float, float, float], fmt: str) -> None:
    x, y, w, h = b
    p = B.box_convert(np.array([[x, y, x + w, y + h]]), "xyxy", fmt)
    for kind in KINDS:
        # eps = 0 (log_iou: a tiny eps, which leaves IoU = 1 exactly) makes the claim exact
        eps = 1e-300 if kind == "log_iou" else 0.0
        loss, g = getattr(B, f"{kind}_loss_and_grad")(p, p.copy(), eps=eps, fmt=fmt)
        assert abs(loss[0]) <= 1e-15
        np.testing.assert_allclose(g, 0.0, atol=1e-12 / min(w, h))


@pytest.mark.parametrize(("kind", "mode"), KIND_MODES)
def test_degenerate_boxes_match_torch_where_torch_is_finite(kind: str, mode: str) -> None:
    value, (grad, _) = torch_grad(
        lambda a, b: torch_loss(a, b, kind, mode=mode), DEGENERATE, DEGENERATE_T
    )
    kwargs = {"mode": mode} if kind == "ciou" else {}
    loss, g = getattr(B, f"{kind}_loss_and_grad")(DEGENERATE, DEGENERATE_T, **kwargs)
    rows = np.isfinite(value) & np.all(np.isfinite(grad), axis=1)
    if kind != "ciou":
        assert rows.all()  # torch is finite everywhere for these with eps > 0
    else:
        assert not rows.all()  # atan(w / h) with h = 0 or 0/0: the policy takes over
    assert rows.sum() >= 4
    assert_close(loss[rows], value[rows], rtol=1e-12)
    assert_close(g[rows], grad[rows], rtol=1e-12)


def test_noncontiguous_mixed_and_list_inputs(rng: np.random.Generator) -> None:
    p, t = pairs_with_ties(rng)
    ref_loss, ref_g = B.giou_loss_and_grad(p, t)
    loss, g = B.giou_loss_and_grad(np.asfortranarray(p), t.tolist())
    np.testing.assert_array_equal(loss, ref_loss)
    np.testing.assert_array_equal(g, ref_g)
    wide = np.repeat(p, 2, axis=0)[::2]  # strided rows
    np.testing.assert_array_equal(B.giou_loss_grad(wide, t), ref_g)
    # float32 pred with float64 target computes in float64
    loss = B.giou_loss(p.astype(np.float32), t)
    assert loss.dtype == np.float64


def test_bad_row_found_in_a_later_block() -> None:
    from handgrad.boxes._kernel import BLOCK

    n = BLOCK + 10
    p = np.tile([0.0, 0.0, 1.0, 1.0], (n, 1))
    p[BLOCK + 3] = [0.0, 0.0, 1.0, -1.0]
    with pytest.raises(ValueError, match=f"row {BLOCK + 3}"):
        B.ciou_loss_and_grad(p, np.ones((n, 1)) * [0.0, 0.0, 2.0, 2.0])
    huge = np.float32([[-3e38, 0, 3e38, 1]])  # finite, but x2 - x1 overflows float32
    with pytest.raises(ValueError, match="pred has coordinates too large for float32"):
        B.iou_loss(huge, huge)
    with pytest.raises(ValueError, match="boxes1 has coordinates too large"):
        B.box_iou(huge, huge)
    big = np.float32([[0, 0, 3e19, 3e19]])  # the size is finite, the area is not
    with pytest.raises(ValueError, match=r"too large for float32.*the loss overflows"):
        with np.errstate(over="ignore", invalid="ignore"):
            B.giou_loss(big, big * 0.5)


@given(
    st.lists(
        st.tuples(*[st.floats(-50, 50, allow_nan=False)] * 2, *[st.floats(0, 20)] * 2),
        min_size=2,
        max_size=2,
    ),
    st.sampled_from([0.0, 1e-7]),
    st.sampled_from(["torchvision", "exact", "paper"]),
)
def test_ciou_finite_everywhere(boxes: list[tuple[float, ...]], eps: float, mode: str) -> None:
    (a, b, c, d), (e, f, g_, h) = boxes
    p = np.array([[a, b, a + c, b + d]])
    t = np.array([[e, f, e + g_, f + h]])
    loss, g = B.ciou_loss_and_grad(p, t, eps=eps, mode=mode)
    assert np.isfinite(loss[0]) and np.all(np.isfinite(g))
    loss, g = B.giou_loss_and_grad(p, t, eps=eps)
    assert np.isfinite(loss[0]) and np.all(np.isfinite(g))


@pytest.fixture
def split_pairs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Split every call over 3 threads, in blocks of 5 pairs: the parallel path on small input."""
    pytest.importorskip("threadpoolctl")
    import handgrad._parallel as parallel
    import handgrad.boxes._kernel as kernel

    monkeypatch.setattr(parallel, "_PARALLEL_MIN_ELEMENTS", 0)
    monkeypatch.setattr(parallel, "max_workers", lambda: 3)
    monkeypatch.setattr(kernel, "BLOCK", 5)
    calls: list[int] = []
    original = parallel.run_parallel

    def spy(tasks):  # type: ignore[no-untyped-def]
        calls.append(len(tasks))
        return original(tasks)

    monkeypatch.setattr(parallel, "run_parallel", spy)
    return calls


@pytest.mark.parametrize(("kind", "mode"), KIND_MODES)
@pytest.mark.parametrize("fmt", FMTS)
def test_split_over_threads_equals_serial_and_torch(
    rng: np.random.Generator, split_pairs: list[int], kind: str, mode: str, fmt: str
) -> None:
    p, t = pairs_with_ties(rng)  # 24 pairs: parts of 8 pairs, blocks of 5 and 3
    p, t = B.box_convert(p, "xyxy", fmt), B.box_convert(t, "xyxy", fmt)
    kwargs = {"mode": mode} if kind == "ciou" else {}
    fn = getattr(B, f"{kind}_loss_and_grad")
    loss, g = fn(p, t, reduction="sum", fmt=fmt, **kwargs)
    assert split_pairs == [3]
    value, (grad, _) = torch_grad(
        lambda a, b: torch_loss(a, b, kind, mode=mode, fmt=fmt).sum(), p, t
    )
    assert_close(loss, value, rtol=1e-12)
    assert_close(g, grad, rtol=1e-12)
    rows, _ = fn(p, t, reduction="none", fmt=fmt, **kwargs)
    assert_close(loss, rows.sum(), rtol=1e-14)


def test_split_over_threads_reports_a_bad_row_of_any_part(split_pairs: list[int]) -> None:
    p = np.tile([0.0, 0.0, 1.0, 1.0], (30, 1))
    p[27] = [0.0, 0.0, 1.0, -1.0]  # in the third part (rows 20..29), run by a worker thread
    with pytest.raises(ValueError, match="row 27"):
        B.giou_loss_and_grad(p, np.ones((30, 1)) * [0.0, 0.0, 2.0, 2.0])
    assert split_pairs == [3]


def test_giou_gradient_of_two_empty_boxes_with_eps_zero_is_the_derivative() -> None:
    # pred (0, 0, 2, 0) and target (3, 1, 5, 1) have zero area: U = 0, C = 5 x 1. The policy gives
    # IoU = 0 and the penalty (C - U) / C = 1 for every nearby pred with zero height, so along x
    # the loss is the constant 2 and dL/dx1 = dL/dx2 = 0 (the old gradient through C was -1/25).
    pred, target = np.array([[0.0, 0.0, 2.0, 0.0]]), np.array([[3.0, 1.0, 5.0, 1.0]])
    assert float(B.giou_loss(pred, target, eps=0.0)[0]) == 2.0
    grad = B.giou_loss_grad(pred, target, eps=0.0)
    assert grad[0, 0] == 0.0 and grad[0, 2] == 0.0
    assert_grad_close(
        lambda x1: float(B.giou_loss(np.array([[x1[0], 0.0, 2.0, 0.0]]), target, eps=0.0)[0]),
        grad[0, :1],
        np.array([0.0]),
    )
