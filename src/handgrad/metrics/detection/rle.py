"""Run-length encoded masks (COCO's RLE) in NumPy, equal bit for bit to pycocotools' mask API.

Layout (pycocotools'): a mask of height h and width w is flattened in column-major order, pixel
(y, x) at index ``y + x * h``. Its RLE ``counts`` are the lengths of alternating runs of 0s and
1s, starting with 0s (``counts[0]`` may be 0): ``[0, 0, 1, 1, 1, 0, 1]`` is ``[2, 3, 1, 1]``.
Compressed RLE stores the counts as text, 5 bits per character (characters 48-111): each count
(minus the count two before it, from the fourth count on) in groups of 5 bits, least significant
first, bit 0x20 marking "more groups follow" and bit 0x10 of the last group the sign.

A batch of masks is held as a :class:`Masks`: for each mask its runs of 1s as half-open intervals
``[start, end)`` of flattened indices, sorted, non-empty and not touching (the canonical form, as
pycocotools' encoder, polygon rasteriser and merge produce). Area, bounding box, union and
intersection are computed on those intervals for a whole batch at once; the IoU of (detection,
ground truth) pairs (:func:`pair_intersections`) never decodes a mask to pixels.

Sizes: ``h * w`` must stay below ``2**29`` (pycocotools' decoder shifts 5-bit groups in a C
``int`` and breaks on larger counts).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "MAX_PIXELS",
    "Masks",
    "counts_to_masks",
    "decode_strings",
    "encode_strings",
    "masks_to_counts",
    "merge_groups",
    "pair_intersections",
]

MAX_PIXELS = 1 << 29  # h * w must be below this (see the module docstring)
RUN_CHUNK = 1 << 21  # runs handled at a time by the batch operations: bounds their temporaries

Where = Callable[[int], str]  # names entry i in an error message


@dataclass(frozen=True)
class Masks:
    """A batch of n binary masks as runs of 1s (see the module docstring).

    Attributes
    ----------
    height, width : (n,) int64
    offsets : (n + 1,) int64
        The runs of mask i are ``starts[offsets[i]:offsets[i + 1]]`` (and ``ends`` likewise).
    starts, ends : (S,) int64
        First flattened index of each run of 1s and one past its last.
    """

    height: NDArray[np.int64]
    width: NDArray[np.int64]
    offsets: NDArray[np.int64]
    starts: NDArray[np.int64]
    ends: NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.height.shape[0])

    @property
    def mask_of_run(self) -> NDArray[np.int64]:
        """(S,) the mask each run belongs to."""
        return np.repeat(np.arange(len(self)), np.diff(self.offsets))

    @cached_property
    def area(self) -> NDArray[np.int64]:
        """(n,) number of 1 pixels of each mask (pycocotools' ``area``)."""
        cum = np.zeros(self.starts.size + 1, dtype=np.int64)
        np.cumsum(self.ends - self.starts, out=cum[1:])
        return cum[self.offsets[1:]] - cum[self.offsets[:-1]]

    @cached_property
    def bbox(self) -> NDArray[np.float64]:
        """(n, 4) pixel bounding boxes (x, y, w, h) of the 1s, pycocotools' ``toBbox``.

        A run that spans two columns covers every row between them, so such a mask gets the
        full height, as pycocotools computes it; a mask with no 1 pixel gets zeros. Computed
        over blocks of about :data:`RUN_CHUNK` runs.
        """
        n = len(self)
        out = np.zeros((n, 4))
        lo = 0
        while lo < n:
            target = self.offsets[lo] + RUN_CHUNK
            hi = max(int(np.searchsorted(self.offsets, target, side="right")) - 1, lo + 1)
            hi = min(hi, n)
            out[lo:hi] = self._bbox_block(lo, hi)
            lo = hi
        return out

    def _bbox_block(self, lo: int, hi: int) -> NDArray[np.float64]:
        """Boxes of masks lo .. hi - 1."""
        out = np.zeros((hi - lo, 4))
        r0, r1 = self.offsets[lo], self.offsets[hi]
        if r1 == r0:
            return out
        runs = np.diff(self.offsets[lo : hi + 1])  # (m,)
        h = np.repeat(self.height[lo:hi], runs)  # (S',)
        starts, last = self.starts[r0:r1], self.ends[r0:r1] - 1
        xs = starts // h  # (S',) column of each run's first pixel
        ys = starts - xs * h
        xe = last // h  # (S',) column of its last pixel
        ye = last - xe * h
        spans = np.flatnonzero(xs != xe)  # runs across columns: rows 0 .. h - 1
        ys[spans], ye[spans] = 0, h[spans] - 1
        has = runs > 0  # (m,)
        first = self.offsets[lo:hi][has] - r0  # first run of each non-empty mask
        x0 = xs[first]  # runs are sorted: the first run has the smallest column
        x1 = xe[self.offsets[lo + 1 : hi + 1][has] - 1 - r0]
        y0 = np.minimum.reduceat(ys, first)
        y1 = np.maximum.reduceat(ye, first)
        out[has] = np.stack([x0, y0, x1 - x0 + 1, y1 - y0 + 1], axis=1)
        return out

    def take(self, index: NDArray[np.int64]) -> Masks:
        """The masks ``index`` (in that order) as a new batch."""
        index = np.asarray(index, dtype=np.int64)
        lo, hi = self.offsets[index], self.offsets[index + 1]  # (m,)
        n_runs = hi - lo
        offsets = np.concatenate([[0], np.cumsum(n_runs)]).astype(np.int64)
        runs = np.repeat(lo - offsets[:-1], n_runs) + np.arange(offsets[-1])  # (S',)
        return Masks(
            self.height[index], self.width[index], offsets, self.starts[runs], self.ends[runs]
        )

    @staticmethod
    def empty() -> Masks:
        z = np.zeros(0, dtype=np.int64)
        return Masks(z, z, np.zeros(1, dtype=np.int64), z, z)


# -- compressed counts <-> counts --------------------------------------------------------------


def _joined_bytes(strings: Sequence[str | bytes], where: Where) -> tuple[bytes, list[int]]:
    """All strings as one byte string, and each one's length in bytes."""
    if set(map(type, strings)) <= {str}:
        joined = "".join(strings)  # type: ignore[arg-type]
        if joined.isascii():
            return joined.encode("ascii"), list(map(len, strings))
    raw = []
    for i, s in enumerate(strings):
        try:
            raw.append(s.encode("latin-1") if isinstance(s, str) else bytes(s))
        except (UnicodeEncodeError, TypeError):
            raise ValueError(
                f"{where(i)}: compressed RLE counts hold a character outside '0'..'o'"
            ) from None
    return b"".join(raw), list(map(len, raw))


def decode_strings(
    strings: Sequence[str | bytes], where: Where
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Counts of compressed RLE strings (pycocotools' ``rleFrString``), all at once.

    Returns ``counts`` (V,) int64 and ``offsets`` (n + 1,): the counts of string i are
    ``counts[offsets[i]:offsets[i + 1]]``. Raises ``ValueError`` naming ``where(i)`` for a
    character outside 48-111 or a string that ends inside a count.
    """
    n = len(strings)
    joined, sizes = _joined_bytes(strings, where)
    lengths = np.asarray(sizes, dtype=np.int64).reshape(n)  # (n,) characters
    char_end = np.cumsum(lengths)  # (n,)
    c = np.frombuffer(joined, dtype=np.uint8) - np.uint8(48)  # (L,) wraps below '0'
    if c.size and c.max() > 63:
        i = int(np.searchsorted(char_end, np.argmax(c > 63), side="right"))
        raise ValueError(f"{where(i)}: compressed RLE counts hold a character outside '0'..'o'")
    more = c & np.uint8(0x20)  # (L,) nonzero: another character of the count follows
    value_end = np.flatnonzero(more == 0)  # (V,) last character of each count
    nonempty = lengths > 0
    ends_more = more[char_end[nonempty] - 1] != 0
    if ends_more.any():
        i = int(np.flatnonzero(nonempty)[np.argmax(ends_more)])
        raise ValueError(f"{where(i)}: compressed RLE counts end in the middle of a count")
    # the last character holds the most significant group, its bit 0x10 the sign: most counts
    # are one character, sign-extended from 5 bits
    top = c[value_end] & np.uint8(0x1F)  # (V,)
    x = (top ^ np.uint8(0x10)).astype(np.int64) - 0x10  # (V,)
    inner = np.flatnonzero(more)  # characters followed by more of their count: few
    longer = np.unique(np.searchsorted(value_end, inner))  # counts of several characters
    if longer.size:  # counts of several characters: add the lower groups
        ends = value_end[longer]
        n_chars = np.ones(longer.size, dtype=np.int64)
        while True:
            grow = (ends - n_chars >= 0) & (more[np.maximum(ends - n_chars, 0)] != 0)
            if not grow.any():
                break
            n_chars += grow
        if n_chars.max() > 6:
            bad = int(ends[np.argmax(n_chars > 6)])
            i = int(np.searchsorted(char_end, bad, side="right"))
            raise ValueError(f"{where(i)}: compressed RLE counts hold a count beyond 2**29")
        val = x[longer] << (5 * (n_chars - 1))
        for j in range(5):
            low = j < n_chars - 1
            val[low] += (c[ends[low] - n_chars[low] + 1 + j] & 0x1F).astype(np.int64) << (5 * j)
        x[longer] = val
    # counts of string i: those whose last character lies before the end of string i
    offsets = np.zeros(n + 1, dtype=np.int64)
    offsets[1:] = np.searchsorted(value_end, char_end)
    return _undelta(x, offsets), offsets


def _position_in_mask(offsets: NDArray[np.int64]) -> NDArray[np.int64]:
    """(V,) index of each count within its mask."""
    sizes = np.diff(offsets)
    return np.arange(offsets[-1]) - np.repeat(offsets[:-1], sizes)


def _undelta(x: NDArray[np.int64], offsets: NDArray[np.int64]) -> NDArray[np.int64]:
    """cnts[m] = x[m] + cnts[m - 2] for m > 2 within each string.

    So cnts[m] is the sum of x[j] over j <= m of m's parity, j >= 1: cumulative sums over the
    even and over the odd global positions (a string's parity classes are the global ones),
    minus what precedes the string's chain in the same class (its position 0 included).
    """
    out = np.empty_like(x)
    sizes = np.diff(offsets)
    o = offsets[:-1]  # (n,) first count of each string
    for cls in (0, 1):
        cum = np.cumsum(x[cls::2])  # (V_cls,)
        first = (o + 1 - cls) // 2  # (n,) first element of this class in the string
        mine = (o + sizes + 1 - cls) // 2 - first  # (n,) elements of this class in it
        # position 0 (parity o) is no part of a chain: the chain of its class starts after it
        skip = ((o & 1) == cls) & (sizes > 0)
        last_before = first - 1 + skip  # (n,) the last class element not in the chain
        if cum.size == 0:
            continue
        base = np.where(last_before >= 0, cum[np.clip(last_before, 0, cum.size - 1)], 0)
        out[cls::2] = cum - np.repeat(base, mine)
    starts = o[sizes > 0]
    out[starts] = x[starts]
    return out


def encode_strings(counts: NDArray[np.int64], offsets: NDArray[np.int64]) -> list[str]:
    """Compressed RLE strings of counts (pycocotools' ``rleToString``), all at once."""
    n = offsets.shape[0] - 1
    pos = _position_in_mask(offsets)  # (V,)
    prev2 = np.concatenate([[0, 0], counts[:-2]]) if counts.size else counts
    x = np.where(pos > 2, counts - prev2, counts)  # (V,) deltas from the fourth count on
    # groups: the fewest k >= 1 with -2**(5k-1) <= x < 2**(5k-1)
    k = np.ones(x.shape, dtype=np.int64)
    for g in range(1, 7):
        bound = 1 << (5 * g - 1)
        k += (x < -bound) | (x >= bound)
    group = np.arange(7)  # (7,)
    groups = (x[:, None] >> (5 * group[None, :])) & 0x1F  # (V, 7)
    more = group[None, :] < (k[:, None] - 1)  # (V, 7)
    chars = (groups | np.where(more, 0x20, 0)) + 48  # (V, 7)
    used = group[None, :] < k[:, None]
    text = chars[used].astype(np.uint8).tobytes().decode("ascii")  # (sum k,)
    char_off = np.concatenate([[0], np.cumsum(k)])[offsets]  # (n + 1,)
    return [text[char_off[i] : char_off[i + 1]] for i in range(n)]


# -- counts <-> runs of 1s ---------------------------------------------------------------------


def counts_to_masks(
    counts: NDArray[np.int64],
    offsets: NDArray[np.int64],
    height: NDArray[np.int64],
    width: NDArray[np.int64],
    where: Where,
) -> Masks:
    """Masks from RLE counts; every count must be >= 0 and each mask's counts sum to h * w.

    Zero-length runs are dropped and touching runs joined, so any valid counts (canonical or
    not) give the canonical :class:`Masks` of the same pixels.
    """
    n = offsets.shape[0] - 1
    sizes = np.diff(offsets)
    if counts.size and counts.min() < 0:
        i = int(np.searchsorted(offsets, np.argmax(counts < 0), side="right") - 1)
        raise ValueError(f"{where(i)}: RLE counts must be >= 0; got a negative count")
    cum0 = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(counts, out=cum0[1:])  # (V + 1,)
    base = cum0[offsets[:-1]]  # (n,) pixels of the masks before each
    total = cum0[offsets[1:]] - base  # (n,)
    wrong = total != height * width
    if wrong.any():
        i = int(np.flatnonzero(wrong)[0])
        raise ValueError(
            f"{where(i)}: RLE counts sum to {int(total[i])}, not to the mask's "
            f"{int(height[i])} x {int(width[i])} = {int(height[i] * width[i])} pixels"
        )
    # runs of 1s: the odd positions within each mask, i.e. global parity != the mask's start's
    start_parity = (offsets[:-1] & 1).astype(np.uint8)  # (n,)
    alternate = np.zeros(counts.size, dtype=np.uint8)
    alternate[1::2] = 1
    odd = np.repeat(start_parity, sizes) != alternate  # (V,)
    ones = np.flatnonzero(odd & (counts > 0))  # (S,)
    per_mask = np.diff(np.searchsorted(ones, offsets))  # (n,) runs of 1s of each mask
    owner = np.repeat(np.arange(n), per_mask)  # (S,)
    ends = cum0[ones + 1] - base[owner]
    return _canonical(ends - counts[ones], ends, owner, height, width)


def _canonical(
    starts: NDArray[np.int64],
    ends: NDArray[np.int64],
    owner: NDArray[np.int64],
    height: NDArray[np.int64],
    width: NDArray[np.int64],
) -> Masks:
    """Masks from sorted, disjoint, non-empty runs (grouped by owner), joining touching ones."""
    n = height.shape[0]
    join = np.zeros(starts.shape, dtype=bool)
    join[1:] = (starts[1:] == ends[:-1]) & (owner[1:] == owner[:-1])
    if not join.any():  # already canonical (pycocotools' own RLE always is)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(owner, minlength=n), out=offsets[1:])
        return Masks(height, width, offsets, starts, ends)
    keep = ~join  # a run that starts a maximal block
    block = np.cumsum(keep) - 1  # (S,) block of each run
    new_starts = starts[keep]
    new_ends = np.zeros(new_starts.shape, dtype=np.int64)
    np.maximum.at(new_ends, block, ends)
    new_owner = owner[keep]
    offsets = np.concatenate([[0], np.cumsum(np.bincount(new_owner, minlength=n))])
    return Masks(height, width, offsets.astype(np.int64), new_starts, new_ends)


def masks_to_counts(masks: Masks) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Canonical RLE counts of masks (what pycocotools' ``encode`` gives for the same pixels).

    Returns ``counts`` (V,) and ``offsets`` (n + 1,).
    """
    n = len(masks)
    runs = np.diff(masks.offsets)  # (n,)
    run_mask = masks.mask_of_run  # (S,)
    hw = masks.height * masks.width  # (n,)
    prev_end = np.concatenate([[0], masks.ends[:-1]])
    prev_end[masks.offsets[:-1][runs > 0]] = 0  # the first run of a mask follows index 0
    zeros_before = masks.starts - prev_end  # (S,)
    last_end = np.zeros(n, dtype=np.int64)
    last_end[runs > 0] = masks.ends[masks.offsets[1:][runs > 0] - 1]
    trailing = hw - last_end  # (n,) 0s after the last run
    # per mask: [z0, o0, z1, o1, ..., trailing] with the trailing run left out when it is 0
    # (pycocotools' encoder ends on the last run it sees); an empty mask is [h * w]
    has_trailing = (trailing > 0) | (runs == 0)
    n_counts = 2 * runs + has_trailing  # (n,)
    offsets = np.concatenate([[0], np.cumsum(n_counts)]).astype(np.int64)
    counts = np.zeros(offsets[-1], dtype=np.int64)
    first = offsets[:-1][run_mask] + 2 * (np.arange(run_mask.size) - masks.offsets[run_mask])
    counts[first] = zeros_before
    counts[first + 1] = masks.ends - masks.starts
    counts[offsets[1:][has_trailing] - 1] = trailing[has_trailing]
    return counts, offsets


# -- set operations on batches -----------------------------------------------------------------


def merge_groups(
    masks: Masks, group: NDArray[np.int64], n_groups: int, *, intersect: bool = False
) -> Masks:
    """Union (or intersection) of the masks of each group; masks of a group share h and w.

    ``group`` (n,) is nondecreasing; group g's result has the size of its first mask (an
    empty group gets a 0 x 0 mask).
    """
    members = np.bincount(group, minlength=n_groups)  # (G,)
    height = np.zeros(n_groups, dtype=np.int64)
    width = np.zeros(n_groups, dtype=np.int64)
    first = np.concatenate([[0], np.cumsum(members)])[:-1][members > 0]
    height[members > 0], width[members > 0] = masks.height[first], masks.width[first]
    run_group = group[masks.mask_of_run]  # (S,)
    big = int(max(int((height * width).max(initial=0)), 1)) + 1
    base = run_group * big
    pos = np.concatenate([base + masks.starts, base + masks.ends])  # (2S,) events
    delta = np.concatenate([np.ones(masks.starts.size), -np.ones(masks.ends.size)]).astype(np.int64)
    order = np.argsort(pos, kind="stable")
    pos, delta = pos[order], delta[order]
    uniq, first_event = np.unique(pos, return_index=True)  # (E,)
    cover = np.cumsum(np.add.reduceat(delta, first_event)) if pos.size else delta  # (E,)
    need = members[uniq // big] if intersect else np.ones(uniq.shape, dtype=np.int64)
    on = cover >= need  # segment [uniq[e], uniq[e + 1]) is on
    s_idx = np.flatnonzero(on)  # coverage is 0 after each group's last event: no crossing
    owner = uniq[s_idx] // big
    starts = uniq[s_idx] - owner * big
    ends = uniq[s_idx + 1] - owner * big
    return _canonical(starts, ends, owner, height, width)


def pair_intersections(
    a: Masks, ia: NDArray[np.int64], b: Masks, ib: NDArray[np.int64]
) -> NDArray[np.int64]:
    """(P,) number of pixels in both ``a[ia[p]]`` and ``b[ib[p]]``, for every pair p.

    Walks the runs of ``a`` that lie within the first and last pixel of ``b``'s mask, and for
    each evaluates F(x) = |b ∩ [0, x)| at its two ends by binary search in ``b``'s runs; pairs
    are taken in blocks of about :data:`RUN_CHUNK` walked runs.
    """
    P = ia.shape[0]
    out = np.zeros(P, dtype=np.int64)
    if P == 0 or a.starts.size == 0 or b.starts.size == 0:
        return out
    big = int(max((a.height * a.width).max(initial=0), (b.height * b.width).max(initial=0))) + 1
    b_lo, b_hi = b.offsets[ib], b.offsets[ib + 1]  # (P,) runs of b's mask
    a_lo, a_hi = a.offsets[ia], a.offsets[ia + 1]
    live = (b_hi > b_lo) & (a_hi > a_lo)
    first_b = np.where(live, b.starts[np.minimum(b_lo, b.starts.size - 1)], 0)  # (P,)
    last_b = np.where(live, b.ends[np.maximum(b_hi - 1, 0)], 0)
    # runs of a's mask that end after b's first pixel and start before b's last
    a_run = a.mask_of_run * big  # (Sa,) keys mask * big + position are sorted
    lo = np.searchsorted(a_run + a.ends, ia * big + first_b, side="right")  # (P,)
    hi = np.searchsorted(a_run + a.starts, ia * big + last_b, side="left")
    del a_run
    b_keys = b.mask_of_run * big + b.starts  # (Sb,)
    lo, hi = np.maximum(lo, a_lo), np.minimum(hi, a_hi)
    n_runs = np.where(live, np.maximum(hi - lo, 0), 0)  # (P,)
    b_len = b.ends - b.starts
    b_cum = np.cumsum(b_len) - b_len  # (Sb,) pixels of b's runs before each (all masks)
    b_base = b_cum[np.minimum(b.offsets[:-1], max(b.starts.size - 1, 0))]  # (nb,)
    walked = np.cumsum(n_runs)
    p0 = 0
    while p0 < P:
        base = int(walked[p0 - 1]) if p0 else 0
        p1 = max(int(np.searchsorted(walked, base + RUN_CHUNK, side="right")), p0 + 1)
        blk = slice(p0, p1)
        pair = np.repeat(np.arange(p0, p1), n_runs[blk])  # (Q,) pair of each walked run
        first = np.cumsum(n_runs[blk]) - n_runs[blk]
        run = np.repeat(lo[blk] - first, n_runs[blk]) + np.arange(pair.size)  # (Q,) a's run
        gb = ib[pair]  # (Q,)
        lo_b = b.offsets[gb]

        def coverage(
            x: NDArray[np.int64], gb: NDArray[np.int64] = gb, lo_b: NDArray[np.int64] = lo_b
        ) -> NDArray[np.int64]:
            """|b[gb] ∩ [0, x)| for each walked run."""
            r = np.searchsorted(b_keys, gb * big + x, side="right") - 1  # (Q,) last start <= x
            inside = r >= lo_b
            r = np.maximum(r, 0)
            val = b_cum[r] - b_base[gb] + np.minimum(x - b.starts[r], b_len[r])
            return np.where(inside, val, 0)

        per_run = coverage(a.ends[run]) - coverage(a.starts[run])  # (Q,)
        out[blk] = np.bincount(pair - p0, weights=per_run, minlength=p1 - p0).astype(np.int64)
        p0 = p1
    return out
