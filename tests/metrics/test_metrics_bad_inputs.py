"""Bad input to the ranking metrics: each case raises TypeError or ValueError naming the argument.

The tables are grouped by what is wrong (type, shape, dtype, NaN/inf, range, empty, ragged,
overflow). Every case is one call with one bad argument; the rest of the call is valid.
"""

from __future__ import annotations

from functools import partial as call

import numpy as np
import pytest

from handgrad.metrics import (
    average_precision,
    average_precision_at_ranks,
    eleven_point_table,
    interpolated_precision,
    mean_average_precision,
    precision_at_k,
    precision_recall_at_ranks,
    precision_recall_curve,
    recall_at_k,
)

Y = [1, 0, 1]  # valid labels
S = [0.9, 0.5, 0.1]  # valid scores
AP = average_precision
PRC = precision_recall_curve
PRR = precision_recall_at_ranks
MAP = mean_average_precision
IP = interpolated_precision

TYPE = [
    pytest.param(call(AP, "101", S), TypeError, r"^y_true must hold binary labels", id="labels-str"),
    pytest.param(call(AP, ["1", "0", "1"], S), TypeError, r"^y_true must hold", id="labels-strs"),
    pytest.param(call(AP, None, S), TypeError, r"^y_true must hold binary labels", id="labels-None"),
    pytest.param(call(AP, Y, ["a", "b", "c"]), TypeError, r"^y_score must be a real", id="score-strs"),
    pytest.param(call(AP, Y, None), TypeError, r"^y_score must be a real", id="score-None"),
    pytest.param(call(AP, Y, S, n_positives=2.0), TypeError, r"^n_positives must be an int", id="npos-float"),
    pytest.param(call(AP, Y, S, n_positives="3"), TypeError, r"^n_positives must be an int", id="npos-str"),
    pytest.param(call(AP, Y, S, n_positives=True), TypeError, r"^n_positives must be an int", id="npos-bool"),
    pytest.param(call(AP, Y, S, method=None), ValueError, r"^method must be one of", id="method-None"),
    pytest.param(call(AP, Y, S, method="VOC07"), ValueError, r"^method must be one of", id="method-case"),
    pytest.param(call(PRR, Y, exact="yes"), TypeError, r"^exact must be True or False", id="exact-str"),
    pytest.param(call(PRC, Y, S, drop_intermediate="no"), TypeError, r"^drop_intermediate must be True", id="drop-str"),
    pytest.param(call(precision_at_k, Y, 1.0), TypeError, r"^k must be an integer", id="k-float"),
    pytest.param(call(precision_at_k, Y, "1"), TypeError, r"^k must be an integer", id="k-str"),
    pytest.param(call(MAP, None, None), TypeError, r"^y_trues must be a sequence", id="map-None"),
    pytest.param(call(MAP, "ab", "cd"), TypeError, r"^y_trues must be a sequence", id="map-str"),
    pytest.param(call(MAP, [Y], 0.5), TypeError, r"^y_scores must be a sequence", id="map-scores-float"),
    pytest.param(call(MAP, [Y], [S], n_positives=3), TypeError, r"^n_positives must be a sequence", id="map-npos-int"),
    pytest.param(call(IP, ["a"], [1.0]), TypeError, r"^precision must be a real", id="ip-str"),
]  # fmt: skip

DTYPE = [
    pytest.param(call(AP, np.array([1j, 0, 1]), S), TypeError, r"^y_true must hold binary", id="labels-complex"),
    pytest.param(call(AP, Y, np.array([1j, 0, 1])), TypeError, r"^y_score must be a real", id="score-complex"),
    pytest.param(call(AP, np.array([1, 0, 1], dtype=object), S), TypeError, r"^y_true must hold", id="labels-object"),
    pytest.param(call(average_precision_at_ranks, np.array(["1"])), TypeError, r"^relevance must hold", id="ranks-str"),
]  # fmt: skip

SHAPE = [
    pytest.param(call(AP, [[1, 0]], [[0.1, 0.2]]), ValueError, r"^y_true must be 1-D", id="labels-2d"),
    pytest.param(call(AP, [1, 0], [[0.1, 0.2]]), ValueError, r"^y_score must be 1-D", id="score-2d"),
    pytest.param(call(AP, 1, 0.5), ValueError, r"^y_true must be 1-D", id="labels-0d"),
    pytest.param(call(AP, Y, [0.1, 0.2]), ValueError, r"^y_true and y_score must have the same", id="lengths"),
    pytest.param(call(PRC, Y, [0.1, 0.2]), ValueError, r"^y_true and y_score must have the same", id="curve-lengths"),
    pytest.param(call(PRR, [[1]]), ValueError, r"^relevance must be 1-D", id="relevance-2d"),
    pytest.param(call(IP, [1.0, 1.0], [0.5]), ValueError, r"^precision and recall must have", id="ip-lengths"),
    pytest.param(call(IP, [[1.0, 1.0]], [[0.5, 1.0]]), ValueError, r"^precision must be 1-D", id="ip-2d"),
    pytest.param(call(IP, [1.0], [1.0], [[0.5]]), ValueError, r"^recall_levels must be 1-D", id="levels-2d"),
    pytest.param(call(MAP, [Y], [S, S]), ValueError, r"^y_trues and y_scores must hold one", id="map-queries"),
    pytest.param(call(MAP, [Y], [S], n_positives=[1, 2]), ValueError, r"^n_positives must hold one entry", id="map-npos-len"),
    pytest.param(call(MAP, [Y], [[0.1, 0.2]]), ValueError, r"^y_trues\[0\] and y_scores\[0\] must have", id="map-query-lengths"),
]  # fmt: skip

NAN_INF = [
    pytest.param(call(AP, Y, [np.nan, 0.5, 0.1]), ValueError, r"^y_score must be finite", id="score-nan"),
    pytest.param(call(AP, Y, [np.inf, 0.5, 0.1]), ValueError, r"^y_score must be finite", id="score-inf"),
    pytest.param(call(PRC, Y, [0.1, -np.inf, 0.1]), ValueError, r"^y_score must be finite", id="curve-score-inf"),
    pytest.param(call(AP, [np.nan, 0, 1], S), ValueError, r"^y_true must hold binary labels", id="labels-nan"),
    pytest.param(call(IP, [np.nan, 1.0], [0.5, 1.0]), ValueError, r"^precision must be finite", id="ip-nan"),
    pytest.param(call(IP, [1.0], [1.0], [np.nan]), ValueError, r"^recall_levels must be finite", id="levels-nan"),
    pytest.param(call(IP, [1.0], [np.inf]), ValueError, r"^recall must be finite", id="ip-recall-inf"),
    pytest.param(call(MAP, [Y], [[0.1, np.nan, 0.2]]), ValueError, r"^y_scores\[0\] must be finite", id="map-nan"),
]  # fmt: skip

RANGE = [
    pytest.param(call(AP, [2, 0, 1], S), ValueError, r"^y_true must hold binary labels .* got 2", id="label-2"),
    pytest.param(call(AP, [-1, 0, 1], S), ValueError, r"^y_true must hold binary labels", id="label-neg"),
    pytest.param(call(AP, [0.5, 0, 1], S), ValueError, r"^y_true must hold binary labels .* 0.5", id="label-half"),
    pytest.param(call(AP, Y, S, n_positives=-1), ValueError, r"^n_positives must be a non-negative", id="npos-neg"),
    pytest.param(call(AP, Y, S, n_positives=1), ValueError, r"^n_positives must be at least .* \(2\)", id="npos-below-hits"),
    pytest.param(call(PRR, Y, -2), ValueError, r"^n_positives must be a non-negative", id="ranks-npos-neg"),
    pytest.param(call(recall_at_k, Y, 1, 1), ValueError, r"^n_positives must be at least", id="recall-npos-small"),
    pytest.param(call(precision_at_k, Y, 0), ValueError, r"^k must be a positive integer", id="k-0"),
    pytest.param(call(precision_at_k, Y, 4), ValueError, r"^k must be at most the length", id="k-too-big"),
    pytest.param(call(IP, [2.0], [1.0]), ValueError, r"^precision must hold values in \[0, 1\]; got 2.0", id="ip-precision-2"),
    pytest.param(call(IP, [1.0], [-0.5]), ValueError, r"^recall must hold values in \[0, 1\]; got -0.5", id="ip-recall-neg"),
    pytest.param(call(MAP, [Y], [S], n_positives=[-1]), ValueError, r"n_positives must be a non-negative", id="map-npos-neg"),
]  # fmt: skip

EMPTY = [
    pytest.param(call(AP, [], []), ValueError, r"^y_true must not be empty", id="ap"),
    pytest.param(call(PRC, [], []), ValueError, r"^y_true must not be empty", id="curve"),
    pytest.param(call(PRR, []), ValueError, r"^relevance must not be empty", id="ranks"),
    pytest.param(call(eleven_point_table, []), ValueError, r"^relevance must not be empty", id="eleven"),
    pytest.param(call(MAP, [], []), ValueError, r"^y_trues must hold at least one query", id="map-no-query"),
    pytest.param(call(MAP, [[]], [[]]), ValueError, r"^y_trues\[0\] must not be empty", id="map-empty-query"),
]  # fmt: skip

RAGGED = [
    pytest.param(call(AP, [1, [0, 1]], [0.1, 0.2]), TypeError, r"^y_true must be .* \(ragged", id="labels"),
    pytest.param(call(AP, [1, 0], [0.1, [0.2, 3]]), TypeError, r"^y_score must be .* \(ragged", id="scores"),
    pytest.param(call(PRR, [1, [0]]), TypeError, r"^relevance must be .* \(ragged", id="relevance"),
    pytest.param(call(average_precision_at_ranks, [[1], [0, 1]]), TypeError, r"^relevance must be", id="ranks"),
    pytest.param(call(MAP, [[1, [0]]], [[0.1, 0.2]]), TypeError, r"^y_trues\[0\] must be .* \(ragged", id="map"),
    pytest.param(call(IP, [1, [1]], [0.5, 1]), TypeError, r"^precision must be .* \(ragged", id="ip"),
]  # fmt: skip

OVERFLOW = [
    pytest.param(call(AP, Y, [1e308, -1e308, 2**1100]), TypeError, r"^y_score must be a real", id="score-int-beyond-float"),
    pytest.param(call(AP, [2**70, 0, 1], S), TypeError, r"^y_true must hold binary labels", id="label-int-beyond-int64"),
    pytest.param(call(AP, np.array([2**64 - 1, 0, 1], dtype=np.uint64), S), ValueError, r"^y_true must hold binary labels .* got 18446744073709551615", id="label-uint64-max"),
]  # fmt: skip

CASES = [
    *(pytest.param(*p.values, id=f"type:{p.id}") for p in TYPE),
    *(pytest.param(*p.values, id=f"dtype:{p.id}") for p in DTYPE),
    *(pytest.param(*p.values, id=f"shape:{p.id}") for p in SHAPE),
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
    assert len(ids) == len(set(ids)) >= 60


# --- what the edge of the domain gives, documented ------------------------------------------------


def test_interpolated_precision_of_no_points_is_zero_at_every_level():
    assert interpolated_precision([], []).shape == (0,)
    np.testing.assert_array_equal(interpolated_precision([], [], [0.0, 0.5, 1.0]), [0, 0, 0])


def test_huge_n_positives_is_a_valid_recall_denominator():
    # 2**70 positives in the collection, 2 of them found at ranks 1 and 3: AP = (1 + 2/3) / 2**70
    assert average_precision(Y, S, n_positives=2**70) == pytest.approx((1 + 2 / 3) / 2**70)
