"""Box formats: conversions (torchvision's values), Jacobians, areas, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from handgrad import boxes as B
from handgrad.gradcheck import assert_grad_close
from oracle import assert_close, torch_grad

FMTS = ["xyxy", "xywh", "cxcywh"]

# torchvision test_ops.py, TestBoxConvert
XYXY = np.array([[0, 0, 100, 100], [0, 0, 0, 0], [10, 15, 30, 35], [23, 35, 93, 95]], float)
XYWH = np.array([[0, 0, 100, 100], [0, 0, 0, 0], [10, 15, 20, 20], [23, 35, 70, 60]], float)
CXCYWH = np.array([[50, 50, 100, 100], [0, 0, 0, 0], [20, 25, 20, 20], [58, 65, 70, 60]], float)
BY_FMT = {"xyxy": XYXY, "xywh": XYWH, "cxcywh": CXCYWH}


@pytest.mark.parametrize("src", FMTS)
@pytest.mark.parametrize("dst", FMTS)
def test_torchvision_conversion_values(src: str, dst: str) -> None:
    np.testing.assert_array_equal(B.box_convert(BY_FMT[src], src, dst), BY_FMT[dst])


def test_dtype_and_leading_dims() -> None:
    b = XYXY.astype(np.float32).reshape(2, 2, 4)
    out = B.box_convert(b, "xyxy", "cxcywh")
    assert out.dtype == np.float32 and out.shape == (2, 2, 4)
    np.testing.assert_array_equal(out.reshape(4, 4), CXCYWH)
    assert B.box_convert(XYXY.astype(int), "xyxy", "xywh").dtype == np.float64
    assert B.box_convert(np.zeros((0, 4)), "xywh", "xyxy").shape == (0, 4)


@given(
    hnp.arrays(np.float64, (3, 4), elements=st.floats(-1e3, 1e3)),
    st.sampled_from(FMTS),
    st.sampled_from(FMTS),
)
def test_round_trip(b: np.ndarray, src: str, dst: str) -> None:
    back = B.box_convert(B.box_convert(b, src, dst), dst, src)
    np.testing.assert_allclose(back, b, atol=1e-12 * (1 + np.abs(b).max()))


@pytest.mark.parametrize("src", FMTS)
@pytest.mark.parametrize("dst", FMTS)
def test_jacobian_and_backward(rng: np.random.Generator, src: str, dst: str) -> None:
    b = rng.standard_normal((5, 4))
    jac = B.box_convert_jacobian(src, dst)
    assert_close(B.box_convert(b, src, dst), b @ jac.T, rtol=1e-15)
    w = rng.standard_normal((5, 4))  # L = sum(w * convert(b))
    g = B.box_convert_backward(w, src, dst)
    assert_grad_close(lambda x: float(np.sum(w * B.box_convert(x, src, dst))), g, b)

    def ref(x: torch.Tensor) -> torch.Tensor:
        a, c, d, e = x.unbind(-1)
        xyxy = {"xyxy": (a, c, d, e), "xywh": (a, c, a + d, c + e),
                "cxcywh": (a - d / 2, c - e / 2, a + d / 2, c + e / 2)}[src]  # fmt: skip
        x1, y1, x2, y2 = xyxy
        out = {"xyxy": (x1, y1, x2, y2), "xywh": (x1, y1, x2 - x1, y2 - y1),
               "cxcywh": ((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1)}[dst]  # fmt: skip
        return torch.stack(out, -1) * torch.from_numpy(w)

    _, (tg,) = torch_grad(ref, b)
    assert_close(g, tg, rtol=1e-14)


def test_box_area() -> None:
    # torchvision test_ops.py, TestBoxArea
    np.testing.assert_allclose(B.box_area([[0, 0, 100, 100], [0, 0, 0, 0]]), [10000.0, 0.0])
    floats = [
        [285.3538, 185.5758, 1193.5110, 851.4551],
        [285.1472, 188.7374, 1192.4984, 851.0669],
        [279.2440, 197.9812, 1189.4746, 849.2019],
    ]
    np.testing.assert_allclose(
        B.box_area(floats), [604723.0806, 600965.4666, 592761.0085], atol=1e-4
    )
    # any leading dimensions; every format: the (2, 3) box of width 4 and height 5 has area 20
    b = np.tile(B.box_convert(np.array([2.0, 3.0, 6.0, 8.0]), "xyxy", "cxcywh"), (2, 3, 1))
    np.testing.assert_array_equal(B.box_area(b, fmt="cxcywh"), np.full((2, 3), 20.0))
    assert B.box_area(np.float32([[0, 0, 2, 3]])).dtype == np.float32


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="in_fmt must be one of 'xyxy', 'xywh', 'cxcywh'"):
        B.box_convert(XYXY, "xwyh", "xyxy")
    with pytest.raises(ValueError, match="out_fmt must be one of"):
        B.box_convert(XYXY, "xyxy", "xhwcy")
    with pytest.raises(ValueError, match=r"boxes must have shape \(\.\.\., 4\)"):
        B.box_convert(np.zeros((3, 5)), "xyxy", "xywh")
    with pytest.raises(ValueError, match=r"boxes must have shape"):
        B.box_area(np.zeros(3))
    with pytest.raises(ValueError, match="fmt must be one of"):
        B.box_area(XYXY, fmt="yxyx")
    with pytest.raises(TypeError, match="boxes must be a real numeric array"):
        B.box_convert(np.array([["a"] * 4]), "xyxy", "xywh")
    with pytest.raises(ValueError, match=r"grad_out must have shape"):
        B.box_convert_backward(np.zeros((2, 3)), "xyxy", "xywh")
