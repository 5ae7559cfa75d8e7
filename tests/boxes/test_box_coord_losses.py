"""L2 and smooth L1 losses on (cx, cy, w, h): worked examples, torch, finite differences."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from handgrad import boxes as B
from handgrad.gradcheck import assert_grad_close
from oracle import assert_close, torch_grad

FMTS = ["xyxy", "xywh", "cxcywh"]


def test_l2_seed_examples() -> None:
    # ground truth centred at 0, 2 x 2; each prediction's squared differences add up to 2
    gt = np.array([[0.0, 0.0, 2.0, 2.0]] * 3)
    pred = np.array([[0.0, 0.0, 3.0, 3.0], [0.0, 0.0, 2 + math.sqrt(2), 2.0], [1.0, 1.0, 2.0, 2.0]])
    np.testing.assert_allclose(B.l2_box_loss(pred, gt, fmt="cxcywh"), [2.0, 2.0, 2.0], rtol=1e-15)
    # the same boxes in xyxy: (0,0,3,3) -> (-1.5,-1.5,1.5,1.5), gt -> (-1,-1,1,1)
    p_xyxy, g_xyxy = B.box_convert(pred, "cxcywh", "xyxy"), B.box_convert(gt, "cxcywh", "xyxy")
    np.testing.assert_allclose(B.l2_box_loss(p_xyxy, g_xyxy), [2.0, 2.0, 2.0], rtol=1e-15)
    assert B.l2_box_loss(pred, gt, fmt="cxcywh", reduction="mean") == pytest.approx(2.0)
    # gradient in cxcywh: 2 (p - t) = (0, 0, 2, 2) for the first
    np.testing.assert_allclose(B.l2_box_loss_grad(pred[:1], gt[:1], fmt="cxcywh"), [[0, 0, 2, 2]])


def torch_cxcywh(b: torch.Tensor, fmt: str) -> torch.Tensor:
    a, c, d, e = b.unbind(-1)
    if fmt == "cxcywh":
        return b
    if fmt == "xywh":
        a, c, d, e = a, c, a + d, c + e
    return torch.stack([(a + d) / 2, (c + e) / 2, d - a, e - c], -1)


@pytest.mark.parametrize("fmt", FMTS)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("beta", [None, 1.0, 0.3, 0.0])
def test_matches_torch(
    rng: np.random.Generator, fmt: str, reduction: str, beta: float | None
) -> None:
    p, t = rng.standard_normal((6, 4)), rng.standard_normal((6, 4))
    t[0] = p[0]  # zero difference: smooth L1's kink at 0 when beta = 0
    t[1, 0] = p[1, 0] - 0.3  # |d| = beta exactly for beta = 0.3 (in cxcywh when fmt is cxcywh)

    def ref(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        pa, pb = torch_cxcywh(a, fmt), torch_cxcywh(b, fmt)
        if beta is None:
            per = ((pa - pb) ** 2).sum(-1)
        else:
            per = F.smooth_l1_loss(pa, pb, reduction="none", beta=beta).sum(-1)
        return {"none": per, "mean": per.mean(), "sum": per.sum()}[reduction]

    value, (grad, _) = torch_grad(ref, p, t)
    if beta is None:
        loss, g = B.l2_box_loss_and_grad(p, t, fmt=fmt, reduction=reduction)
        np.testing.assert_array_equal(B.l2_box_loss(p, t, fmt, reduction), loss)
        np.testing.assert_array_equal(B.l2_box_loss_grad(p, t, fmt, reduction), g)
    else:
        loss, g = B.smooth_l1_box_loss_and_grad(p, t, fmt=fmt, reduction=reduction, beta=beta)
        np.testing.assert_array_equal(B.smooth_l1_box_loss(p, t, fmt, reduction, beta), loss)
        np.testing.assert_array_equal(B.smooth_l1_box_loss_grad(p, t, fmt, reduction, beta), g)
    assert_close(loss, value, rtol=1e-13)
    assert_close(g, grad, rtol=1e-13)


@pytest.mark.parametrize("fmt", FMTS)
@pytest.mark.parametrize("name", ["l2_box_loss", "smooth_l1_box_loss"])
def test_finite_differences(rng: np.random.Generator, fmt: str, name: str) -> None:
    p, t = rng.standard_normal((5, 4)), rng.standard_normal((5, 4)) * 2
    fn = getattr(B, name)

    def f(x: np.ndarray) -> float:
        return float(fn(x, t, fmt=fmt, reduction="mean"))

    assert_grad_close(f, getattr(B, f"{name}_grad")(p, t, fmt=fmt, reduction="mean"), p)


def test_smooth_l1_worked_example() -> None:
    # cxcywh differences (0.5, -2, 0, 1): beta = 1 -> 0.125 + 1.5 + 0 + 0.5
    p = np.array([[0.5, -2.0, 1.0, 2.0]])
    t = np.array([[0.0, 0.0, 1.0, 1.0]])
    assert B.smooth_l1_box_loss(p, t, fmt="cxcywh")[0] == pytest.approx(2.125, rel=1e-15)
    np.testing.assert_allclose(B.smooth_l1_box_loss_grad(p, t, fmt="cxcywh"), [[0.5, -1, 0, 1]])


def test_dtypes_empty_and_bad_input() -> None:
    p = np.float32([[0, 0, 2, 2]])
    assert B.l2_box_loss(p, p).dtype == np.float32
    assert isinstance(B.smooth_l1_box_loss(p, p, reduction="mean"), np.float32)
    assert B.l2_box_loss_grad(p, p).dtype == np.float32
    e = np.zeros((0, 4))
    assert B.l2_box_loss(e, e, reduction="mean") == 0.0
    assert B.l2_box_loss_grad(e, e, reduction="mean").shape == (0, 4)
    # negative sizes are fine for coordinate losses
    assert B.l2_box_loss([[0.0, 0.0, -1.0, 1.0]], [[0.0, 0.0, 1.0, 1.0]], fmt="cxcywh")[0] == 4.0
    with pytest.raises(ValueError, match="pred must be finite"):
        B.l2_box_loss([[0.0, np.nan, 1.0, 1.0]], [[0.0, 0.0, 1.0, 1.0]])
    with pytest.raises(ValueError, match="target must have shape"):
        B.l2_box_loss(np.zeros((2, 4)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="reduction must be one of"):
        B.smooth_l1_box_loss(p, p, reduction="max")
    with pytest.raises(ValueError, match="fmt must be one of"):
        B.l2_box_loss(p, p, fmt="mean")
    with pytest.raises(ValueError, match="beta must be in"):
        B.smooth_l1_box_loss(p, p, beta=-1.0)
