"""Bad input to the optimizers and clipping: each raises an error whose message names the argument.

Hyper-parameters go through ``check_real``: ``TypeError`` for strings, ``None``, bools and arrays;
``ValueError`` for NaN, infinities and values out of range. Gradient lists passed to ``step`` or
to clipping are checked for kind, count and shape (their values are not: see ``test_optim.py``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from handgrad.nn import Linear
from handgrad.optim import SGD, Adagrad, Adam, AdamW, clip_grad_norm, clip_grad_value


def p3():
    return np.zeros(3)


def two_params():
    return [np.zeros(3), np.zeros((3, 2))]


def read_only():
    a = np.zeros(3)
    a.flags.writeable = False
    return a


BAD_INPUTS = [
    # -- wrong type -------------------------------------------------------------------------
    pytest.param(
        lambda: SGD([p3()], lr="0.1"),
        TypeError,
        "lr must be a real number; got str",
        id="type-lr-str",
    ),
    pytest.param(
        lambda: Adam([p3()], lr=None),
        TypeError,
        "lr must be a real number; got NoneType",
        id="type-lr-none",
    ),
    pytest.param(
        lambda: Adagrad([p3()], lr=True),
        TypeError,
        "lr must be a real number; got bool",
        id="type-lr-bool",
    ),
    pytest.param(
        lambda: AdamW([p3()], lr=np.array(0.1)),
        TypeError,
        "lr must be a real number; got array",
        id="type-lr-array",
    ),
    pytest.param(
        lambda: SGD([p3()], lr=[0.1]),
        TypeError,
        "lr must be a real number; got list",
        id="type-lr-list",
    ),
    pytest.param(
        lambda: SGD([p3()], momentum="0.9"),
        TypeError,
        "momentum must be a real number",
        id="type-momentum-str",
    ),
    pytest.param(
        lambda: SGD([p3()], dampening=None),
        TypeError,
        "dampening must be a real number",
        id="type-dampening-none",
    ),
    pytest.param(
        lambda: SGD([p3()], weight_decay=False),
        TypeError,
        "weight_decay must be a real number; got bool",
        id="type-sgd-weight-decay-bool",
    ),
    pytest.param(
        lambda: SGD([p3()], momentum=0.9, nesterov="yes"),
        TypeError,
        "nesterov must be True or False",
        id="type-nesterov-str",
    ),
    pytest.param(
        lambda: SGD([p3()], momentum=0.9, nesterov=1),
        TypeError,
        "nesterov must be True or False",
        id="type-nesterov-int",
    ),
    pytest.param(
        lambda: Adagrad([p3()], lr_decay="0"),
        TypeError,
        "lr_decay must be a real number",
        id="type-lr-decay-str",
    ),
    pytest.param(
        lambda: Adagrad([p3()], initial_accumulator_value=None),
        TypeError,
        "initial_accumulator_value must be a real number",
        id="type-initial-accumulator-none",
    ),
    pytest.param(
        lambda: Adagrad([p3()], eps="1e-10"),
        TypeError,
        "eps must be a real number",
        id="type-adagrad-eps-str",
    ),
    pytest.param(
        lambda: Adam([p3()], betas="0.9, 0.999"),
        TypeError,
        r"betas must be a pair \(beta1, beta2\) of floats; got str",
        id="type-betas-str",
    ),
    pytest.param(
        lambda: Adam([p3()], betas=0.9),
        TypeError,
        r"betas must be a pair \(beta1, beta2\) of floats; got float",
        id="type-betas-float",
    ),
    pytest.param(
        lambda: Adam([p3()], betas=(0.9, "0.999")),
        TypeError,
        r"betas\[1\] must be a real number; got str",
        id="type-beta2-str",
    ),
    pytest.param(
        lambda: AdamW([p3()], betas=(None, 0.999)),
        TypeError,
        r"betas\[0\] must be a real number; got NoneType",
        id="type-beta1-none",
    ),
    pytest.param(
        lambda: Adam([p3()], eps=None),
        TypeError,
        "eps must be a real number",
        id="type-adam-eps-none",
    ),
    pytest.param(
        lambda: AdamW([p3()], weight_decay="0.01"),
        TypeError,
        "weight_decay must be a real number",
        id="type-adamw-weight-decay-str",
    ),
    pytest.param(
        lambda: Adam([p3()], amsgrad="no"),
        TypeError,
        "amsgrad must be True or False",
        id="type-amsgrad-str",
    ),
    pytest.param(
        lambda: SGD([[1.0, 2.0]], lr=0.1),
        TypeError,
        r"params must be a Module or a list of float arrays .*params\[0\] is list",
        id="type-params-nested-list",
    ),
    pytest.param(
        lambda: SGD({"w": p3()}, lr=0.1),
        TypeError,
        "params must be a Module or a list of float arrays; got dict",
        id="type-params-dict",
    ),
    pytest.param(
        lambda: SGD([p3(), np.zeros(2, dtype=np.int64)], lr=0.1),
        TypeError,
        r"params\[1\] is an array of dtype int64",
        id="type-params-int-array",
    ),
    pytest.param(
        lambda: SGD([p3()], lr=0.1).step(np.zeros(3)),
        TypeError,
        r"grads must be a list of 1 arrays \(one per parameter\); got ndarray",
        id="type-grads-bare-array",
    ),
    pytest.param(
        lambda: SGD([p3()], lr=0.1).step(g for g in [np.zeros(3)]),
        TypeError,
        "grads must be a list of 1 arrays .* got generator",
        id="type-grads-generator",
    ),
    pytest.param(
        lambda: Adam([p3()]).step([np.array(["a", "b", "c"])]),
        TypeError,
        r"grads\[0\] must be a real numeric array",
        id="type-grads-str-entry",
    ),
    pytest.param(
        lambda: SGD([p3()], lr=0.1).step([np.zeros(3, dtype=complex)]),
        TypeError,
        r"grads\[0\] must be a real numeric array",
        id="type-grads-complex-entry",
    ),
    pytest.param(
        lambda: clip_grad_norm([np.ones(2)], "1.0"),
        TypeError,
        "max_norm must be a real number",
        id="type-max-norm-str",
    ),
    pytest.param(
        lambda: clip_grad_norm([np.ones(2)], 1.0, norm_type="inf"),
        TypeError,
        "norm_type must be a real number; got str",
        id="type-norm-type-str",
    ),
    pytest.param(
        lambda: clip_grad_norm([np.ones(2)], 1.0, error_if_nonfinite="yes"),
        TypeError,
        "error_if_nonfinite must be True or False",
        id="type-error-if-nonfinite-str",
    ),
    pytest.param(
        lambda: clip_grad_value([np.ones(2)], None),
        TypeError,
        "clip_value must be a real number; got NoneType",
        id="type-clip-value-none",
    ),
    pytest.param(
        lambda: clip_grad_norm([np.ones(2, dtype=np.int64)], 1.0),
        TypeError,
        r"grads\[0\] is an array of dtype int64",
        id="type-clip-int-gradients",
    ),
    pytest.param(
        lambda: clip_grad_value("abc", 1.0),
        TypeError,
        "grads must be a Module or a list of float arrays; got str",
        id="type-clip-grads-str",
    ),
    # -- NaN / inf --------------------------------------------------------------------------
    pytest.param(
        lambda: Adam([p3()], lr=math.inf),
        ValueError,
        "lr must be a finite number; got inf",
        id="inf-adam-lr",
    ),
    pytest.param(
        lambda: SGD([p3()], lr=math.inf),
        ValueError,
        "lr must be a finite number; got inf",
        id="inf-sgd-lr",
    ),
    pytest.param(
        lambda: Adagrad([p3()], lr=math.nan),
        ValueError,
        "lr must be a finite number; got nan",
        id="nan-lr",
    ),
    pytest.param(
        lambda: AdamW([p3()], lr=-math.inf),
        ValueError,
        "lr must be a finite number; got -inf",
        id="minus-inf-lr",
    ),
    pytest.param(
        lambda: SGD([p3()], lr=np.float32(np.inf)),
        ValueError,
        "lr must be a finite number; got inf",
        id="inf-lr-numpy-scalar",
    ),
    pytest.param(
        lambda: SGD([p3()], momentum=math.nan),
        ValueError,
        "momentum must be a finite number; got nan",
        id="nan-momentum",
    ),
    pytest.param(
        lambda: SGD([p3()], momentum=math.inf),
        ValueError,
        "momentum must be a finite number; got inf",
        id="inf-momentum",
    ),
    pytest.param(
        lambda: SGD([p3()], dampening=math.nan),
        ValueError,
        "dampening must be a finite number",
        id="nan-dampening",
    ),
    pytest.param(
        lambda: SGD([p3()], weight_decay=math.inf),
        ValueError,
        "weight_decay must be a finite number",
        id="inf-sgd-weight-decay",
    ),
    pytest.param(
        lambda: Adagrad([p3()], lr_decay=math.inf),
        ValueError,
        "lr_decay must be a finite number",
        id="inf-lr-decay",
    ),
    pytest.param(
        lambda: Adagrad([p3()], initial_accumulator_value=math.nan),
        ValueError,
        "initial_accumulator_value must be a finite number",
        id="nan-initial-accumulator",
    ),
    pytest.param(
        lambda: Adagrad([p3()], eps=math.nan),
        ValueError,
        "eps must be a finite number; got nan",
        id="nan-adagrad-eps",
    ),
    pytest.param(
        lambda: Adam([p3()], betas=(math.nan, 0.999)),
        ValueError,
        r"betas\[0\] must be a finite number; got nan",
        id="nan-beta1",
    ),
    pytest.param(
        lambda: Adam([p3()], betas=(0.9, math.inf)),
        ValueError,
        r"betas\[1\] must be a finite number; got inf",
        id="inf-beta2",
    ),
    pytest.param(
        lambda: Adam([p3()], eps=math.inf),
        ValueError,
        "eps must be a finite number; got inf",
        id="inf-adam-eps",
    ),
    pytest.param(
        lambda: AdamW([p3()], weight_decay=math.nan),
        ValueError,
        "weight_decay must be a finite number",
        id="nan-adamw-weight-decay",
    ),
    pytest.param(
        lambda: clip_grad_norm([np.ones(2)], math.nan),
        ValueError,
        "max_norm must be a finite number; got nan",
        id="nan-max-norm",
    ),
    pytest.param(
        lambda: clip_grad_norm([np.ones(2)], math.inf),
        ValueError,
        "max_norm must be a finite number; got inf",
        id="inf-max-norm",
    ),
    pytest.param(
        lambda: clip_grad_norm([np.ones(2)], 1.0, norm_type=math.nan),
        ValueError,
        "norm_type must be positive or inf; got nan",
        id="nan-norm-type",
    ),
    pytest.param(
        lambda: clip_grad_norm([np.ones(2)], 1.0, norm_type=-math.inf),
        ValueError,
        "norm_type must be positive or inf; got -inf",
        id="minus-inf-norm-type",
    ),
    pytest.param(
        lambda: clip_grad_value([np.ones(2)], math.inf),
        ValueError,
        "clip_value must be a finite number; got inf",
        id="inf-clip-value",
    ),
    pytest.param(
        lambda: clip_grad_value([np.ones(2)], math.nan),
        ValueError,
        "clip_value must be a finite number; got nan",
        id="nan-clip-value",
    ),
    # -- out of range -----------------------------------------------------------------------
    pytest.param(
        lambda: SGD([p3()], lr=-0.1),
        ValueError,
        r"lr must be in \[0.0, inf\); got -0.1",
        id="range-lr-negative",
    ),
    pytest.param(
        lambda: SGD([p3()], momentum=-0.5),
        ValueError,
        r"momentum must be in \[0.0, inf\); got -0.5",
        id="range-momentum-negative",
    ),
    pytest.param(
        lambda: SGD([p3()], dampening=1.5),
        ValueError,
        r"dampening must be in \[0.0, 1.0\]; got 1.5",
        id="range-dampening-above-one",
    ),
    pytest.param(
        lambda: SGD([p3()], dampening=-0.1),
        ValueError,
        r"dampening must be in \[0.0, 1.0\]; got -0.1",
        id="range-dampening-negative",
    ),
    pytest.param(
        lambda: SGD([p3()], weight_decay=-1),
        ValueError,
        r"weight_decay must be in \[0.0, inf\); got -1.0",
        id="range-sgd-weight-decay-negative",
    ),
    pytest.param(
        lambda: SGD([p3()], momentum=0.0, nesterov=True),
        ValueError,
        "nesterov needs momentum > 0 and dampening = 0",
        id="range-nesterov-without-momentum",
    ),
    pytest.param(
        lambda: SGD([p3()], momentum=0.9, dampening=0.1, nesterov=True),
        ValueError,
        "nesterov needs momentum > 0 and dampening = 0; got momentum 0.9, dampening 0.1",
        id="range-nesterov-with-dampening",
    ),
    pytest.param(
        lambda: Adagrad([p3()], lr_decay=-0.1),
        ValueError,
        r"lr_decay must be in \[0.0, inf\)",
        id="range-lr-decay-negative",
    ),
    pytest.param(
        lambda: Adagrad([p3()], initial_accumulator_value=-1.0),
        ValueError,
        r"initial_accumulator_value must be in \[0.0, inf\)",
        id="range-initial-accumulator-negative",
    ),
    pytest.param(
        lambda: Adagrad([p3()], eps=-1e-10),
        ValueError,
        r"eps must be in \[0.0, inf\)",
        id="range-adagrad-eps-negative",
    ),
    pytest.param(
        lambda: Adam([p3()], betas=(1.0, 0.999)),
        ValueError,
        r"betas\[0\] must be in \[0.0, 1.0\); got 1.0",
        id="range-beta1-one",
    ),
    pytest.param(
        lambda: Adam([p3()], betas=(-0.1, 0.999)),
        ValueError,
        r"betas\[0\] must be in \[0.0, 1.0\); got -0.1",
        id="range-beta1-negative",
    ),
    pytest.param(
        lambda: AdamW([p3()], betas=(0.9, 1.5)),
        ValueError,
        r"betas\[1\] must be in \[0.0, 1.0\); got 1.5",
        id="range-beta2-above-one",
    ),
    pytest.param(
        lambda: Adam([p3()], eps=-1e-8),
        ValueError,
        r"eps must be in \[0.0, inf\); got -1e-08",
        id="range-adam-eps-negative",
    ),
    pytest.param(
        lambda: AdamW([p3()], weight_decay=-0.01),
        ValueError,
        r"weight_decay must be in \[0.0, inf\)",
        id="range-adamw-weight-decay-negative",
    ),
    pytest.param(
        lambda: clip_grad_norm([np.ones(2)], -1.0),
        ValueError,
        r"max_norm must be in \[0.0, inf\); got -1.0",
        id="range-max-norm-negative",
    ),
    pytest.param(
        lambda: clip_grad_norm([np.ones(2)], 1.0, norm_type=0),
        ValueError,
        "norm_type must be positive or inf; got 0",
        id="range-norm-type-zero",
    ),
    pytest.param(
        lambda: clip_grad_norm([np.ones(2)], 1.0, norm_type=-2.0),
        ValueError,
        "norm_type must be positive or inf; got -2.0",
        id="range-norm-type-negative",
    ),
    pytest.param(
        lambda: clip_grad_value([np.ones(2)], -1.0),
        ValueError,
        r"clip_value must be in \[0.0, inf\); got -1.0",
        id="range-clip-value-negative",
    ),
    pytest.param(
        lambda: SGD([read_only()], lr=0.1),
        ValueError,
        r"params\[0\] must be a writeable array",
        id="range-params-read-only",
    ),
    pytest.param(
        lambda: clip_grad_value([np.ones(2), read_only()], 1.0),
        ValueError,
        r"grads\[1\] must be a writeable array",
        id="range-clip-read-only-gradient",
    ),
    # -- empty ------------------------------------------------------------------------------
    pytest.param(
        lambda: SGD([], lr=0.1),
        ValueError,
        "params must hold at least one array; got an empty list",
        id="empty-params",
    ),
    pytest.param(
        lambda: Adam([p3()], betas=()),
        ValueError,
        r"betas must be a pair \(beta1, beta2\) of floats; got 0 values",
        id="empty-betas",
    ),
    pytest.param(
        lambda: SGD([p3()], lr=0.1).step([]),
        ValueError,
        "grads must be a list of 1 arrays; got 0 arrays",
        id="empty-grads",
    ),
    # -- wrong count ------------------------------------------------------------------------
    pytest.param(
        lambda: Adam([p3()], betas=(0.9,)),
        ValueError,
        "betas must be a pair .* got 1 values",
        id="count-betas-one",
    ),
    pytest.param(
        lambda: Adam([p3()], betas=(0.9, 0.99, 0.999)),
        ValueError,
        "betas must be a pair .* got 3 values",
        id="count-betas-three",
    ),
    pytest.param(
        lambda: SGD([p3()], lr=0.1).step([np.zeros(3), np.zeros(3)]),
        ValueError,
        "grads must be a list of 1 arrays; got 2 arrays",
        id="count-grads-too-many",
    ),
    pytest.param(
        lambda: Adam(two_params()).step([np.zeros(3)]),
        ValueError,
        "grads must be a list of 2 arrays; got 1 arrays",
        id="count-grads-too-few",
    ),
    pytest.param(
        lambda: Adagrad([p3()]).step(),
        ValueError,
        "grads must be a list of 1 arrays; got None",
        id="count-grads-missing",
    ),
    pytest.param(
        lambda: SGD(Linear(2, 1, seed=0), lr=0.1).step([np.zeros((1, 2)), np.zeros(1)]),
        ValueError,
        "grads must be None for an optimizer built on a Module",
        id="count-grads-for-module",
    ),
    # -- wrong shape ------------------------------------------------------------------------
    pytest.param(
        lambda: SGD([p3()], lr=0.1).step([np.zeros(4)]),
        ValueError,
        r"grads\[0\] must have shape \(3,\); got \(4,\)",
        id="shape-grads-longer",
    ),
    pytest.param(
        lambda: Adam(two_params()).step([np.zeros(3), np.zeros((2, 3))]),
        ValueError,
        r"grads\[1\] must have shape \(3, 2\); got \(2, 3\)",
        id="shape-grads-transposed",
    ),
    pytest.param(
        lambda: AdamW([p3()]).step([np.float64(1.0)]),
        ValueError,
        r"grads\[0\] must have shape \(3,\); got \(\)",
        id="shape-grads-scalar",
    ),
]


@pytest.mark.parametrize("call, error, match", BAD_INPUTS)
def test_bad_input_raises_naming_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_rejected_arguments_leave_the_parameters_untouched():
    # A failed step (wrong shape of the second gradient) must not update the first parameter.
    params = two_params()
    opt = SGD(params, lr=0.1)
    with pytest.raises(ValueError, match=r"grads\[1\]"):
        opt.step([np.ones(3), np.ones(3)])
    assert not params[0].any() and opt.step_count == 0
