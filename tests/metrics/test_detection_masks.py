"""Masks in NumPy (RLE codec, polygon rasterisation, area, box, merge, IoU) against pycocotools."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handgrad.metrics.detection.masks import (
    rle_area,
    rle_decode,
    rle_encode,
    rle_from_polygons,
    rle_iou,
    rle_merge,
    rle_to_bbox,
    segmentation_to_rle,
)
from handgrad.metrics.detection.rle import counts_to_masks, decode_strings, masks_to_counts

mask_api = pytest.importorskip("pycocotools.mask")


def theirs(rles):
    """Our RLE dicts as pycocotools reads them (counts as bytes)."""
    return [{"size": r["size"], "counts": r["counts"].encode()} for r in rles]


def py_decode(rle):
    """pycocotools' decode, whose ``__array__`` trips a NumPy 2 DeprecationWarning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return mask_api.decode(rle)


def text(rles):
    return [r["counts"].decode() if isinstance(r["counts"], bytes) else r["counts"] for r in rles]


# ---------------------------------------------------------------- worked examples


def test_counts_of_the_docstring_example():
    # M = [0 0 1 1 1 0 1] as a 7 x 1 column: runs of 0s and 1s alternate, 0s first: [2, 3, 1, 1]
    m = np.array([0, 0, 1, 1, 1, 0, 1], dtype=np.uint8)[:, None]
    rle = rle_encode(m)
    counts, _ = decode_strings([rle["counts"]], str)
    assert counts.tolist() == [2, 3, 1, 1]
    assert rle_area(rle) == 4  # 3 + 1
    # column-major: rows 2..6 of the only column; bbox (x, y, w, h) = (0, 2, 1, 5)
    np.testing.assert_array_equal(rle_to_bbox(rle), [0, 2, 1, 5])
    # a mask that starts with 1s starts with a 0 count: [1 1 1 1 1 1 0] -> [0, 6, 1]
    starts_with_ones = np.array([1, 1, 1, 1, 1, 1, 0], dtype=np.uint8)[:, None]
    counts, _ = decode_strings([rle_encode(starts_with_ones)["counts"]], str)
    assert counts.tolist() == [0, 6, 1]


def test_iou_worked_example_with_crowd_rule():
    # two 4 x 4 squares in a 10 x 10 image overlapping in a 2 x 4 strip
    a = np.zeros((10, 10), np.uint8)
    b = np.zeros((10, 10), np.uint8)
    a[0:4, 0:4] = 1
    b[0:4, 2:6] = 1
    ra, rb = rle_encode(a), rle_encode(b)
    # |a ∩ b| = 8, |a ∪ b| = 16 + 16 - 8 = 24: IoU = 1/3; crowd b: 8 / |a| = 1/2
    np.testing.assert_array_equal(rle_iou([ra], [rb, rb], [0, 1]), [[8 / 24, 8 / 16]])


# ---------------------------------------------------------------- against pycocotools

coords = st.sampled_from(["float", "int", "half", "tenth", "wide"])


@st.composite
def polygon_sets(draw):
    h, w = draw(st.integers(1, 60)), draw(st.integers(1, 60))
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        k = draw(st.integers(3, 12))
        kind = draw(coords)
        lo, hi = (-30.0, max(h, w) + 30.0) if kind == "wide" else (-2.0, max(h, w) + 2.0)
        vals = draw(st.lists(st.floats(lo, hi, allow_nan=False), min_size=2 * k, max_size=2 * k))
        arr = np.asarray(vals)
        if kind == "int":
            arr = np.round(arr)
        elif kind == "half":
            arr = np.round(arr * 2) / 2
        elif kind == "tenth":
            arr = np.round(arr * 10) / 10
        parts.append(arr.tolist())
    return h, w, parts


@settings(max_examples=150)
@given(polygon_sets())
def test_polygons_equal_pycocotools_frpoly_and_merge(case):
    h, w, parts = case
    ours = rle_from_polygons(parts, h, w)
    ref = mask_api.frPyObjects(parts, h, w)
    assert text(ours) == text(ref)
    assert segmentation_to_rle(parts, h, w)["counts"] == mask_api.merge(ref)["counts"].decode()
    np.testing.assert_array_equal(rle_area(ours), mask_api.area(ref))
    np.testing.assert_array_equal(rle_to_bbox(ours), mask_api.toBbox(ref))


def test_polygon_with_odd_length_drops_the_last_number_as_pycocotools():
    part = [1.5, 1.0, 8.0, 2.5, 4.0, 9.0, 7.7]  # pycocotools reads len // 2 = 3 points
    assert text(rle_from_polygons([part], 12, 11)) == text(mask_api.frPyObjects([part], 12, 11))


def test_polygons_far_outside_and_negative_coordinates():
    parts = [[-1e4, -5e3, 2e4, 7.3, 15.2, 1e5], [-3.2, -0.6, 4.4, -2.5, 2.5, 9.5, -0.5, 3.3]]
    assert text(rle_from_polygons(parts, 40, 31)) == text(mask_api.frPyObjects(parts, 40, 31))


@st.composite
def mask_stacks(draw):
    h, w, n = draw(st.integers(1, 12)), draw(st.integers(1, 12)), draw(st.integers(1, 4))
    style = draw(st.sampled_from(["noise", "blocks", "empty", "full"]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if style == "noise":
        m = rng.random((h, w, n)) < rng.random()
    elif style == "blocks":
        m = np.zeros((h, w, n), bool)
        for i in range(n):
            y0, x0 = rng.integers(0, h), rng.integers(0, w)
            m[y0 : rng.integers(y0, h + 1), x0 : rng.integers(x0, w + 1), i] = True
    else:
        m = np.full((h, w, n), style == "full")
    return m.astype(np.uint8)


@settings(max_examples=120)
@given(mask_stacks(), st.data())
def test_encode_decode_area_bbox_merge_iou_equal_pycocotools(m, data):
    ours = rle_encode(m)
    ref = mask_api.encode(np.asfortranarray(m))
    assert text(ours) == text(ref)
    np.testing.assert_array_equal(rle_decode(ours), py_decode(ref))
    np.testing.assert_array_equal(rle_decode(ours[0]), m[:, :, 0])
    np.testing.assert_array_equal(rle_area(ours), mask_api.area(ref))
    np.testing.assert_array_equal(rle_to_bbox(ours), mask_api.toBbox(ref))
    for intersect in (False, True):
        assert (
            rle_merge(ours, intersect)["counts"]
            == mask_api.merge(ref, intersect)["counts"].decode()
        )
    crowd = data.draw(st.lists(st.integers(0, 1), min_size=len(ref), max_size=len(ref)))
    np.testing.assert_array_equal(rle_iou(ours, ours, crowd), mask_api.iou(ref, ref, crowd))


def test_large_counts_and_negative_deltas_decode_as_pycocotools(rng):
    # a 700 x 900 mask with long runs: counts of several characters and deltas of both signs
    m = np.zeros((700, 900), np.uint8)
    m[10:690, 5:400] = 1
    m[300:310, 400:899] = 1
    m[rng.integers(0, 700, 500), rng.integers(0, 900, 500)] = 1
    ref = mask_api.encode(np.asfortranarray(m))
    counts, offsets = decode_strings([ref["counts"].decode(), ref["counts"]], str)
    masks = counts_to_masks(counts, offsets, np.array([700, 700]), np.array([900, 900]), str)
    again, _ = masks_to_counts(masks)
    flat = m.ravel(order="F")
    edges = np.flatnonzero(np.diff(np.r_[0, flat]) != 0)
    want = np.diff(np.r_[0, edges, flat.size])
    np.testing.assert_array_equal(counts[: offsets[1]], want)
    np.testing.assert_array_equal(again[: len(want)], want)
    assert rle_area(rle_encode(m)) == int(mask_api.area(ref))


def test_uncompressed_counts_any_form_give_pycocotools_pixels():
    # zero-length runs in the middle: not canonical, the same pixels as pycocotools reads
    segm = {"size": [5, 4], "counts": [3, 0, 2, 4, 0, 0, 5, 6]}
    ours = segmentation_to_rle(segm, 5, 4)
    ref = mask_api.frPyObjects(segm, 5, 4)
    np.testing.assert_array_equal(rle_decode(ours), py_decode(ref))
    assert rle_area(ours) == int(mask_api.area(ref))
    # compressed text is read as is
    text_rle = {"size": [5, 4], "counts": ref["counts"].decode()}
    assert segmentation_to_rle(text_rle, 5, 4)["counts"] == ours["counts"]


# ---------------------------------------------------------------- malformed masks


@pytest.mark.parametrize(
    ("segm", "message"),
    [
        ({"size": [5, 4], "counts": "0~"}, "outside '0'..'o'"),
        ({"size": [5, 4], "counts": "0@"}, "must be >= 0"),
        ({"size": [5, 4], "counts": "1X"}, "end in the middle of a count"),
        ({"size": [5, 4], "counts": [3, 4]}, r"sum to 7, not to the mask's 5 x 4 = 20"),
        ({"size": [5, 4], "counts": [30, -10]}, "must be >= 0"),
        ({"size": [5, 4], "counts": [10.5, 9.5]}, "non-negative integers"),
        (
            {"size": [4, 5], "counts": [20]},
            r"does not match the image's \[height, width\] = \[5, 4\]",
        ),
        ({"size": [5, 4], "counts": {"a": 1}}, "counts must be a list of integers"),
        ([], "has no polygon"),
        ([[1, 2, 3, 4]], "needs at least three points"),
        ([[1, 2, 3, 4, 5, 6], [1, 2]], "polygon 1 has 2 numbers"),
        ([[1, 2, "3", 4, 5, 6]], "finite numbers"),
        ([[1, 2, float("nan"), 4, 5, 6]], "finite numbers"),
        ([[1, 2, 3e9, 4, 5, 6]], "within"),
        ("0000", "must be polygons"),
    ],
)
def test_malformed_segmentation_is_a_clear_error(segm, message):
    with pytest.raises(ValueError, match=message):
        segmentation_to_rle(segm, 5, 4)


def test_image_size_limits():
    with pytest.raises(ValueError, match="positive integer"):
        segmentation_to_rle([[0, 0, 1, 0, 1, 1]], 0, 4)
    with pytest.raises(ValueError, match=r"h \* w < 2\*\*29"):
        segmentation_to_rle([[0, 0, 1, 0, 1, 1]], 1 << 15, 1 << 15)
