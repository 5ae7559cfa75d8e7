"""Bad input to the classification losses: each case raises TypeError or ValueError naming the
argument. Tables grouped by what is wrong: type, shape, dtype, NaN/inf, range, ragged, overflow.

Every loss checks its input once, in the function the user calls, so each case is tried on the
loss, its ``_grad`` and its ``_and_grad`` (same arguments, same message).
"""

from __future__ import annotations

import numpy as np
import pytest

from handgrad import losses as L

Z = np.zeros((2, 3))  # logits (N = 2, C = 3)
Y = [0, 2]  # class targets
T = np.zeros((2, 3))  # binary targets of the sigmoid focal loss

CE = "softmax_cross_entropy"
SF = "softmax_focal_loss"
SG = "sigmoid_focal_loss"


def args(name: str, **changes: object) -> tuple[str, dict]:
    """A valid call of loss ``name`` with ``changes`` applied."""
    base = {"logits": Z, "targets": T if name == SG else Y}
    return name, {**base, **changes}


TYPE = [
    pytest.param(args(CE, targets=["0", "1"]), TypeError, r"^targets must be an integer array", id="ce-targets-str"),
    pytest.param(args(CE, targets=None), TypeError, r"^targets must be an integer array", id="ce-targets-None"),
    pytest.param(args(CE, reduction="avg"), ValueError, r"^reduction must be one of 'none', 'mean', 'sum'", id="ce-reduction"),
    pytest.param(args(CE, reduction="normalized"), ValueError, r"^reduction must be one of 'none', 'mean', 'sum';", id="ce-reduction-normalized"),
    pytest.param(args(SF, gamma="2"), TypeError, r"^gamma must be a real number; got str", id="sf-gamma-str"),
    pytest.param(args(SF, gamma=None), TypeError, r"^gamma must be a real number", id="sf-gamma-None"),
    pytest.param(args(SF, gamma=True), TypeError, r"^gamma must be a real number; got bool", id="sf-gamma-bool"),
    pytest.param(args(SF, gamma=np.array([2.0])), TypeError, r"^gamma must be a real number; got array", id="sf-gamma-array"),
    pytest.param(args(SF, alpha="0.5"), TypeError, r"^alpha must be a real number", id="sf-alpha-str"),
    pytest.param(args(SF, alpha=True), TypeError, r"^alpha must be a real number", id="sf-alpha-bool"),
    pytest.param(args(SF, alpha=np.array("a")), TypeError, r"^alpha must be a real number", id="sf-alpha-0d-str"),
    pytest.param(args(SG, alpha="0.25"), TypeError, r"^alpha must be a real number", id="sg-alpha-str"),
    pytest.param(args(SG, alpha=None), TypeError, r"^alpha must be a real number", id="sg-alpha-None"),
    pytest.param(args(SG, gamma=[2.0]), TypeError, r"^gamma must be a real number", id="sg-gamma-list"),
    pytest.param(args(SG, targets=None), TypeError, r"^targets must be a real numeric array", id="sg-targets-None"),
    pytest.param(args(SG, reduction=None), ValueError, r"^reduction must be one of 'none', 'mean', 'sum', 'normalized'", id="sg-reduction-None"),
]  # fmt: skip

SHAPE = [
    pytest.param(args(CE, logits=[0.0, 1.0], targets=[0]), ValueError, r"^logits must have shape \(N, C\); got \(2,\)", id="ce-logits-1d"),
    pytest.param(args(CE, logits=np.zeros((2, 3, 1))), ValueError, r"^logits must have shape \(N, C\)", id="ce-logits-3d"),
    pytest.param(args(CE, logits=np.zeros((2, 0))), ValueError, r"^logits must have shape \(N, C\) with C >= 1", id="ce-no-classes"),
    pytest.param(args(CE, targets=[[0, 1]]), ValueError, r"^targets must have shape \(N\)", id="ce-targets-2d"),
    pytest.param(args(CE, targets=[0]), ValueError, r"^targets must have shape \(N\) with N = 2", id="ce-targets-short"),
    pytest.param(args(SF, alpha=[1.0, 1.0]), ValueError, r"^alpha must have shape \(C\) with C = 3", id="sf-alpha-length"),
    pytest.param(args(SF, alpha=[[1.0, 1.0, 1.0]]), ValueError, r"^alpha must have shape \(C\)", id="sf-alpha-2d"),
    pytest.param(args(SG, targets=np.zeros(3)), ValueError, r"^logits and targets must have the same shape", id="sg-targets-shape"),
]  # fmt: skip

DTYPE = [
    pytest.param(args(CE, logits=np.zeros((2, 3), complex)), TypeError, r"^logits must be a real numeric array", id="ce-logits-complex"),
    pytest.param(args(CE, logits=[["a", "b", "c"]] * 2), TypeError, r"^logits must be a real numeric array", id="ce-logits-str"),
    pytest.param(args(SF, alpha=["1", "1", "1"]), TypeError, r"^alpha must be a real numeric array", id="sf-alpha-strs"),
    pytest.param(args(SG, targets=T.astype(complex)), TypeError, r"^targets must be a real numeric array", id="sg-targets-complex"),
    pytest.param(args(SG, logits="abc", targets=0.0), TypeError, r"^logits must be a real numeric array", id="sg-logits-str"),
]  # fmt: skip

NAN_INF = [
    pytest.param(args(CE, logits=[[np.nan, 0, 0], [0, 0, 0]]), ValueError, r"^logits must be finite .* nan at index \(0, 0\)", id="ce-logits-nan"),
    pytest.param(args(CE, logits=[[0, 0, 0], [0, -np.inf, 0]]), ValueError, r"^logits must be finite .* -inf at index \(1, 1\)", id="ce-logits-inf"),
    pytest.param(args(CE, targets=[0, np.nan]), ValueError, r"^targets must hold whole numbers", id="ce-targets-nan"),
    pytest.param(args(SF, gamma=np.inf), ValueError, r"^gamma must be a finite number", id="sf-gamma-inf"),
    pytest.param(args(SF, alpha=np.nan), ValueError, r"^alpha must be a finite number", id="sf-alpha-nan"),
    pytest.param(args(SF, alpha=[1.0, np.nan, 1.0]), ValueError, r"^alpha must hold finite per-class weights", id="sf-alpha-weight-nan"),
    pytest.param(args(SG, alpha=-np.inf), ValueError, r"^alpha must be a finite number", id="sg-alpha-inf"),
    pytest.param(args(SG, gamma=np.nan), ValueError, r"^gamma must be a finite number", id="sg-gamma-nan"),
    pytest.param(args(SG, targets=T + np.nan), ValueError, r"^targets must be in \[0, 1\]", id="sg-targets-nan"),
    pytest.param(args(SG, logits=Z + np.inf), ValueError, r"^logits must be finite", id="sg-logits-inf"),
]  # fmt: skip

RANGE = [
    pytest.param(args(CE, targets=[0, 3]), ValueError, r"^targets must be class indices in \[0, 2\] \(C = 3\); got values in \[0, 3\]", id="ce-target-3"),
    pytest.param(args(CE, targets=[-1, 0]), ValueError, r"^targets must be class indices in \[0, 2\]", id="ce-target-neg"),
    pytest.param(args(CE, targets=[0, 1.5]), ValueError, r"^targets must hold whole numbers", id="ce-target-fraction"),
    pytest.param(args(SF, gamma=-1), ValueError, r"^gamma must be >= 0 \(the focusing parameter\); got -1", id="sf-gamma-neg"),
    pytest.param(args(SF, alpha=-1), ValueError, r"^alpha must be >= 0", id="sf-alpha-neg"),
    pytest.param(args(SF, alpha=[1.0, -2.0, 1.0]), ValueError, r"^alpha must hold finite per-class weights >= 0", id="sf-alpha-weight-neg"),
    pytest.param(args(SG, alpha=1.5), ValueError, r"^alpha must be in \[0, 1\] \(or < 0", id="sg-alpha-above-1"),
    pytest.param(args(SG, gamma=-0.5), ValueError, r"^gamma must be >= 0", id="sg-gamma-neg"),
    pytest.param(args(SG, targets=T + 2), ValueError, r"^targets must be in \[0, 1\] .* got values in \[2.0, 2.0\]", id="sg-targets-2"),
    pytest.param(args(SG, targets=T - 1), ValueError, r"^targets must be in \[0, 1\]", id="sg-targets-neg"),
]  # fmt: skip

RAGGED = [
    pytest.param(args(CE, logits=[[0, 0, 0], [0, 0]]), TypeError, r"^logits must be a numeric array; .* \(ragged", id="ce-logits"),
    pytest.param(args(CE, targets=[0, [1]]), TypeError, r"^targets must be an integer array; .* \(ragged", id="ce-targets"),
    pytest.param(args(SF, alpha=[1, [1], 1]), TypeError, r"^alpha must be None, a number or per-class weights .* \(ragged", id="sf-alpha"),
    pytest.param(args(SG, targets=[[0, 0, 0], [0, 0]]), TypeError, r"^targets must be a real numeric array; .* \(ragged", id="sg-targets"),
]  # fmt: skip

OVERFLOW = [
    pytest.param(args(CE, targets=np.array([0, 2**63 + 5], dtype=np.uint64)), ValueError, r"^targets must be class indices in \[0, 2\] .* got values in \[0, 9223372036854775813\]", id="ce-targets-uint64-above-2**63"),
    pytest.param(args(CE, targets=np.array([0, 2**64 - 1], dtype=np.uint64)), ValueError, r"^targets must be class indices .* \[0, 18446744073709551615\]", id="ce-targets-uint64-max"),
    pytest.param(args(CE, targets=[0, 2**70]), ValueError, r"^targets must hold values in the int64 range .* got 1180591620717411303424 at index \(1,\)", id="ce-targets-2**70"),
    pytest.param(args(CE, targets=[0, 1e30]), ValueError, r"^targets must hold values in the int64 range .* got 1e\+30", id="ce-targets-float-1e30"),
    pytest.param(args(SF, gamma=2**1100), ValueError, r"^gamma must be a finite number", id="sf-gamma-int-beyond-float"),
    pytest.param(args(SG, alpha=-(2**1100)), ValueError, r"^alpha must be a finite number", id="sg-alpha-int-beyond-float"),
]  # fmt: skip

CASES = [
    *(pytest.param(*p.values, id=f"type:{p.id}") for p in TYPE),
    *(pytest.param(*p.values, id=f"shape:{p.id}") for p in SHAPE),
    *(pytest.param(*p.values, id=f"dtype:{p.id}") for p in DTYPE),
    *(pytest.param(*p.values, id=f"nan-inf:{p.id}") for p in NAN_INF),
    *(pytest.param(*p.values, id=f"range:{p.id}") for p in RANGE),
    *(pytest.param(*p.values, id=f"ragged:{p.id}") for p in RAGGED),
    *(pytest.param(*p.values, id=f"overflow:{p.id}") for p in OVERFLOW),
]


@pytest.mark.parametrize("suffix", ["", "_grad", "_and_grad"])
@pytest.mark.parametrize(("loss_call", "error", "match"), CASES)
def test_bad_input_raises_naming_the_argument(loss_call, error, match, suffix):
    name, kwargs = loss_call
    with pytest.raises(error, match=match):
        getattr(L, name + suffix)(**kwargs)


def test_the_tables_hold_distinct_cases():
    ids = [p.id for p in CASES]
    assert len(ids) == len(set(ids)) >= 50


@pytest.mark.parametrize(
    ("p", "gamma", "error", "match"),
    [
        pytest.param([0.5, [1.0]], 2.0, TypeError, r"^p must be a numeric array; .* \(ragged", id="ragged"),
        pytest.param([0.5], "2", TypeError, r"^gamma must be a real number", id="gamma-str"),
        pytest.param([0.5], 2**1100, ValueError, r"^gamma must be a finite number", id="gamma-overflow"),
    ],
)  # fmt: skip
def test_probability_losses_name_the_argument(p, gamma, error, match):
    with pytest.raises(error, match=match):
        L.focal_loss_from_probability(p, gamma)


# --- valid edges, unchanged ---------------------------------------------------------------------


def test_hyperparameters_accept_numpy_scalars_and_0d_arrays():
    want = L.softmax_focal_loss(Z, Y, gamma=2.0, alpha=0.5)
    assert L.softmax_focal_loss(Z, Y, gamma=np.float32(2.0), alpha=np.array(0.5)) == want
    assert L.sigmoid_focal_loss(0.0, 1.0, alpha=np.array(0.25), gamma=np.int64(2)) == (
        L.sigmoid_focal_loss(0.0, 1.0)
    )


def test_whole_float_and_unsigned_targets_are_class_indices():
    want = L.softmax_cross_entropy(Z, Y)
    assert L.softmax_cross_entropy(Z, [0.0, 2.0]) == want
    assert L.softmax_cross_entropy(Z, np.array(Y, dtype=np.uint64)) == want


def test_empty_batch_means_zero():
    # the mean of nothing is 0 (the reduction convention); no class index to check
    assert L.softmax_cross_entropy(np.zeros((0, 3)), np.zeros(0, dtype=int)) == 0.0
    assert L.sigmoid_focal_loss(np.zeros(0), np.zeros(0), reduction="mean") == 0.0
