r"""The GEMM machinery shared by conv2d and conv_transpose2d: im2col, col2im, weight gradients.

Two layouts of one weight tensor serve both operations (groups ``G``, ``kk = kh * kw``):

* *gather* (conv2d forward, conv_transpose2d's input gradient): weight ``(G * Og, Cg, kh, kw)``,

  .. math:: y[n, o, i, j] = \sum_{c, u, v} w[o, c, u, v]\, x_p[n, c, i s_h + u d_h, j s_w + v d_w]

  computed as ``W_g (Og, Cg kk) @ cols_g (Cg kk, Ho Wo)`` per sample, with ``cols`` the im2col
  matrix of the padded input.
* *scatter* (conv_transpose2d forward, conv2d's input gradient): weight ``(G * Cg, Og, kh, kw)``,

  .. math:: y_p[n, o, i s_h + u d_h, j s_w + v d_w] \mathrel{+}= \sum_c w[c, o, u, v]\, x[n, c, i, j]

  computed as ``W_g^T (Og kk, Cg) @ x_g (Cg, H W)`` per sample followed by col2im.

col2im uses the sub-pixel (phase) decomposition: output rows ``r = i s + u d`` with the same
``r mod s`` form a dense stride-1 grid, so every tap adds a contiguous block into one of the
``s_h s_w`` phase arrays; the phases are interleaved once at the end, cropping the padding.
When the kernel is a whole multiple of the stride (dilation 1, finite weight, output within the
last tap's reach), the scatter runs as a gather instead (:func:`_phase_gather`): every phase is a
stride-1 correlation with a sub-kernel, all phases come from one GEMM on one shared im2col, and
there is no col2im (measured 1 ms faster of 13 ms on the benchmark's kernel-4 stride-2 shapes).

Threads: with threadpoolctl installed, a large batch is split over as many Python threads as BLAS
may use, each running the whole pipeline on its samples with BLAS held at one thread
(:mod:`handgrad._parallel`); otherwise everything runs in the calling thread and only the GEMMs
use BLAS's threads. Results do not depend on the split.

Memory: the batch is processed in chunks of samples so that one im2col / column buffer holds at
most ``_CHUNK_ELEMENTS`` elements per thread (or one sample, if a sample alone is larger). Beyond the input
and output, a call allocates that buffer, the GEMM result of the chunk and (for col2im) the phase
arrays of the chunk (about the size of the chunk's padded output).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numpy.lib.stride_tricks import as_strided
from numpy.typing import NDArray

from handgrad import _parallel

FloatArray = NDArray[np.floating]

# Largest im2col / column buffer (elements) per chunk of samples: 256 Ki elements (1 MiB float32,
# 2 MiB float64): about one sample per chunk, so a chunk stays in a core's 2 MiB L2 cache.
_CHUNK_ELEMENTS = 1 << 18
# Padding (elements) of im2col rows whose length is a multiple of 4 KiB, see im2col.
_ROW_PAD = 16

__all__ = [
    "batch_chunks",
    "col2im",
    "gather_conv",
    "im2col",
    "pad2d",
    "scatter_conv",
]


def batch_chunks(part: slice, per_sample: int) -> Iterator[slice]:
    """Slices of ``part`` of the batch whose column buffers hold at most ``_CHUNK_ELEMENTS``."""
    step = max(1, _CHUNK_ELEMENTS // max(per_sample, 1))
    for start in range(part.start, part.stop, step):
        yield slice(start, min(part.stop, start + step))


def pad2d(x: FloatArray, pads: tuple[int, int, int, int]) -> FloatArray:
    """Zero-pad (N, C, H, W) by (top, bottom, left, right); returns ``x`` itself when no padding."""
    pt, pb, pl, pr = pads
    if not (pt or pb or pl or pr):
        return x
    N, C, H, W = x.shape
    xp = np.zeros((N, C, H + pt + pb, W + pl + pr), dtype=x.dtype)  # (N, C, Hp, Wp)
    xp[:, :, pt : pt + H, pl : pl + W] = x
    return xp


def im2col(
    xp: FloatArray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    out_hw: tuple[int, int],
) -> FloatArray:
    """Columns of a padded input: (N, C, Hp, Wp) -> (N, C * kh * kw, Ho * Wo), one copy.

    The result is C-contiguous, except that rows of a multiple of 4 KiB are padded by
    ``_ROW_PAD`` elements (a view into a wider buffer).

    ``cols[n, (c, u, v), (i, j)] = xp[n, c, i s_h + u d_h, j s_w + v d_w]``; only the first
    ``Ho`` x ``Wo`` windows are read, so unreached trailing rows of ``xp`` are ignored.
    """
    N, C = xp.shape[:2]
    kh, kw = kernel
    Ho, Wo = out_hw
    sn, sc, sh, sw = xp.strides
    windows = as_strided(  # (N, C, kh, kw, Ho, Wo) view, no copy
        xp,
        shape=(N, C, kh, kw, Ho, Wo),
        strides=(sn, sc, sh * dilation[0], sw * dilation[1], sh * stride[0], sw * stride[1]),
        writeable=False,
    )
    L = Ho * Wo
    if (L * xp.itemsize) % 4096:
        return windows.reshape(N, C * kh * kw, L)  # the copy
    # Rows a multiple of 4 KiB apart alias in the cache: OpenBLAS ran W (64, 512) @ cols
    # (512, 1024) in float32 at 79 GFLOP/s with rows 1024 apart, 92 with 1040 (measured, 1 core).
    buf = np.empty((N, C * kh * kw, L + _ROW_PAD), dtype=xp.dtype)
    cols = buf[:, :, :L]  # (N, C kk, Ho Wo), rows L + _ROW_PAD apart
    np.copyto(cols.reshape(N, C, kh, kw, Ho, Wo), windows)  # the copy
    return cols


def col2im(
    cols: FloatArray,
    in_hw: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    phase_hw: tuple[int, int],
    crop: tuple[int, int],
    out: FloatArray,
) -> None:
    """Scatter-add "wide" columns into ``out`` (N, C, Ho, Wo), cropped.

    ``cols`` is (N, C, kh, kw, Hi * Wq): the GEMM result for an input (Hi, Wi) zero-padded on the
    right to the phase width Wq. With the full grid ``yf`` (zero beyond the last tap),
    ``yf[n, c, i s_h + u d_h, j s_w + v d_w] += cols[n, c, u, v, i Wq + j]`` and
    ``out = yf[:, :, top : top + Ho, left : left + Wo]`` with ``crop = (top, left)``.

    Tap (u, v) with ``u d_h = q_u s_h + a`` and ``v d_w = q_v s_w + b`` lands in phase (a, b) at
    offset (q_u, q_v); a row of the phase grid has the same width Wq as a row of ``cols``, so the
    whole tap is one add of a contiguous block at flat offset ``q_u Wq + q_v`` (the right-padding
    columns of ``cols`` are zero and may wrap harmlessly into the next row).
    """
    N, C, kh, kw, _ = cols.shape
    Hi, _ = in_hw
    sh, sw = stride
    dh, dw = dilation
    Hq, Wq = phase_hw
    slack = ((kw - 1) * dw) // sw  # the last tap's column offset may run past the grid
    phases = np.empty((sh, sw, N, C, Hq * Wq + slack), dtype=out.dtype)  # flat phase grids
    started = np.zeros((sh, sw), dtype=bool)
    for u in range(kh):
        qu, a = divmod(u * dh, sh)
        for v in range(kw):
            qv, b = divmod(v * dw, sw)
            off = qu * Wq + qv
            grid = phases[a, b]  # (N, C, Hq Wq + slack)
            if started[a, b]:
                grid[:, :, off : off + Hi * Wq] += cols[:, :, u, v]
            else:  # the phase's first tap is a copy: zero only what it does not cover
                grid[:, :, :off] = 0
                grid[:, :, off : off + Hi * Wq] = cols[:, :, u, v]
                grid[:, :, off + Hi * Wq :] = 0
                started[a, b] = True
    phases[~started] = 0  # phases no tap reaches (kernel smaller than the stride)
    Ho, Wo = out.shape[2:]
    top, left = crop
    for a in range(sh):
        y0 = (a - top) % sh  # first output row whose full row (y + top) is in phase a
        if y0 >= Ho:
            continue
        q0 = (y0 + top) // sh
        ny = len(range(y0, Ho, sh))
        for b in range(sw):
            x0 = (b - left) % sw
            if x0 >= Wo:
                continue
            p0 = (x0 + left) // sw
            nx = len(range(x0, Wo, sw))
            grid = phases[a, b, :, :, : Hq * Wq].reshape(N, C, Hq, Wq)
            out[:, :, y0::sh, x0::sw] = grid[:, :, q0 : q0 + ny, p0 : p0 + nx]


def gather_conv(
    x: FloatArray,
    weight: FloatArray | None,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    pads: tuple[int, int, int, int],
    out_hw: tuple[int, int],
    groups: int,
    other: FloatArray | None = None,
) -> tuple[FloatArray | None, FloatArray | None]:
    """conv2d forward as im2col + GEMM, and/or a weight gradient from the same columns.

    Parameters
    ----------
    x : (N, G * Cg, H, W)
        Input; its columns ``cols[n]`` (G, Cg kh kw, Ho Wo) are built chunk by chunk.
    weight : (G * Og, Cg, kh, kw) gather layout, or None to skip the forward product.
    kernel : (kh, kw)
    other : (N, G * B, Ho, Wo), optional
        If given, also return ``dw[g] = sum_n other[n, g] @ cols[n, g]^T``, shape (G, B, Cg kh kw):
        conv2d's weight gradient when ``other`` is grad_out, conv_transpose2d's when ``x`` is
        grad_out and ``other`` the transposed convolution's input.

    Returns
    -------
    y : (N, G * Og, Ho, Wo) or None
    dw : (G, B, Cg kh kw) or None
    """
    N, Cin = x.shape[:2]
    G = groups
    kh, kw = kernel
    Cg = Cin // G
    K = Cg * kh * kw
    Ho, Wo = out_hw
    L = Ho * Wo
    y = None
    if weight is not None:
        Og = weight.shape[0] // G
        Wg = weight.reshape(G, Og, K)  # (G, Og, Cg kk)
        y = np.empty((N, G * Og, Ho, Wo), dtype=x.dtype)  # (N, O, Ho, Wo)
    pointwise = (kh, kw) == (1, 1) and stride == (1, 1) and not any(pads)

    # dw orientation: OpenBLAS runs cols @ other^T (G, K, B) faster than other @ cols^T in float32
    # (15-30% on the benchmark shapes) and slower in float64; both give the same numbers.
    kb = x.dtype == np.float32

    def work(part: slice) -> FloatArray | None:
        """Samples ``part``: fills y[part]; returns their share of dw, (G, K, B) if kb else (G, B, K)."""
        dw_part = None
        if other is not None:
            B = other.shape[1] // G
            dw_part = np.zeros((G, K, B) if kb else (G, B, K), dtype=x.dtype)
        for sl in batch_chunks(part, Cin * kh * kw * L):
            n = sl.stop - sl.start
            if pointwise:  # a 1 x 1 kernel needs no im2col
                cols = x[sl, :, :Ho, :Wo].reshape(n, G, K, L)  # (n, G, Cg, Ho Wo)
            else:
                xp = pad2d(x[sl], pads)  # (n, Cin, Hp, Wp)
                cols = im2col(xp, kernel, stride, dilation, out_hw).reshape(n, G, K, L)
            if y is not None:
                np.matmul(Wg, cols, out=y[sl].reshape(n, G, Og, L))
            if dw_part is not None and other is not None:
                o = other[sl].reshape(n, G, -1, L)  # (n, G, B, Ho Wo)
                if kb:
                    dw_part += np.matmul(cols, o.transpose(0, 1, 3, 2)).sum(axis=0)
                else:
                    dw_part += np.matmul(o, cols.transpose(0, 1, 3, 2)).sum(axis=0)
        return dw_part

    parts = _parallel.run_split(N, Cin * kh * kw * L, work)
    dw = None
    if other is not None:
        dw = np.sum([p for p in parts if p is not None], axis=0)
        if kb:
            dw = np.ascontiguousarray(dw.transpose(0, 2, 1))  # (G, B, Cg kk)
    return y, dw


def scatter_conv(
    x: FloatArray,
    weight: FloatArray,
    stride: tuple[int, int],
    dilation: tuple[int, int],
    crop: tuple[int, int],
    full_hw: tuple[int, int],
    out_hw: tuple[int, int],
    groups: int,
) -> FloatArray:
    """conv_transpose2d forward as GEMM + col2im.

    Parameters
    ----------
    x : (N, G * Cg, H, W)
    weight : (G * Cg, Og, kh, kw), scatter layout.
    crop : (top, left) rows / columns of the full grid dropped before the output starts.
    full_hw : size of the full grid (at least the last tap's reach).
    out_hw : (Ho, Wo) of the returned array.

    Returns
    -------
    y : (N, G * Og, Ho, Wo)
    """
    N, C, H, W = x.shape
    G = groups
    _, Og, kh, kw = weight.shape
    Cg, M = C // G, Og * kh * kw
    (sh, sw), (dh, dw) = stride, dilation
    # phase grid: every tap offset plus the input, and enough rows / columns for the crop
    Hq = max(H + ((kh - 1) * dh) // sh, -(-full_hw[0] // sh))
    Wq = max(W + ((kw - 1) * dw) // sw, -(-full_hw[1] // sw))
    L = H * Wq
    Wt = weight.reshape(G, Cg, M).transpose(0, 2, 1)  # (G, Og kk, Cg) transposed view
    finite_w = bool(np.isfinite(weight).all())
    y = np.empty((N, G * Og, *out_hw), dtype=x.dtype)  # (N, O, Ho, Wo)
    if (
        finite_w
        and dilation == (1, 1)
        and kh % sh == 0
        and kw % sw == 0
        and tuple(full_hw) == (H * sh + kh - sh, W * sw + kw - sw)
    ):
        return _phase_gather(x, weight, stride, crop, groups, y)

    def work(part: slice) -> None:
        for sl in batch_chunks(part, G * M * L):
            n = sl.stop - sl.start
            if Wq == W:
                xw = x[sl]
            else:
                xw = np.zeros((n, C, H, Wq), dtype=x.dtype)  # (n, C, H, Wq) right-padded
                xw[..., :W] = x[sl]
            cols = np.matmul(Wt, xw.reshape(n, G, Cg, L))  # (n, G, Og kk, H Wq)
            if Wq != W and not finite_w:  # 0 * inf = nan in the padding columns: drop it
                cols.reshape(n, G * M, H, Wq)[..., W:] = 0
            col2im(
                cols.reshape(n, G * Og, kh, kw, L), (H, W), stride, dilation, (Hq, Wq), crop, y[sl]
            )

    _parallel.run_split(N, G * M * L, work)
    return y


def _phase_gather(
    x: FloatArray,
    weight: FloatArray,
    stride: tuple[int, int],
    crop: tuple[int, int],
    groups: int,
    y: FloatArray,
) -> FloatArray:
    r"""conv_transpose2d forward for kernels that are whole multiples of the stride: no col2im.

    With ``kh = Kh s_h`` (likewise ``kw``), tap ``u = q s_h + a`` of input row ``i`` lands in
    phase ``a`` of the full grid at phase row ``R = i + q``, so each phase is a stride-1
    correlation of ``x`` (zero-padded by ``Kh - 1``, ``Kw - 1``) with a flipped ``Kh x Kw``
    sub-kernel:

    .. math:: Y_{a b}[n, o, R, C] = \sum_{c, t, t'} w[c, o, (K_h - 1 - t) s_h + a,
              (K_w - 1 - t') s_w + b]\, x_p[n, c, R + t, C + t']

    All ``s_h s_w`` phases share one im2col of ``x_p``, so one GEMM per sample and group
    ``(s_h s_w Og, Cg Kh Kw) @ (Cg Kh Kw, Hr Wr)`` gives every phase (same multiply count as
    the scatter route), with ``Hr = H + Kh - 1``; ``yf[n, o, R s_h + a, C s_w + b] =
    Y_ab[n, o, R, C]`` is then cropped into ``y`` (N, G Og, Ho, Wo), whose rows all lie in the
    full grid. The weight must be finite (padding zeros meet every weight).
    """
    N, C, H, W = x.shape
    G = groups
    _, Og, kh, kw = weight.shape
    Cg = C // G
    sh, sw = stride
    Kh, Kw = kh // sh, kw // sw
    Hr, Wr = H + Kh - 1, W + Kw - 1
    K, P = Cg * Kh * Kw, sh * sw * Og
    # Wp[g, (a, b, o), (c, t, t')] = w[g Cg + c, o, (Kh-1-t) sh + a, (Kw-1-t') sw + b]
    w7 = weight.reshape(G, Cg, Og, Kh, sh, Kw, sw)[:, :, :, ::-1, :, ::-1, :]
    Wp = np.ascontiguousarray(w7.transpose(0, 4, 6, 2, 1, 3, 5)).reshape(G, P, K)
    Ho, Wo = y.shape[2:]
    top, left = crop
    pads = (Kh - 1, Kh - 1, Kw - 1, Kw - 1)

    def work(part: slice) -> None:
        for sl in batch_chunks(part, C * Kh * Kw * Hr * Wr):
            n = sl.stop - sl.start
            xp = pad2d(x[sl], pads)  # (n, C, H + 2 (Kh - 1), W + 2 (Kw - 1))
            cols = im2col(xp, (Kh, Kw), (1, 1), (1, 1), (Hr, Wr)).reshape(n, G, K, Hr * Wr)
            ph = np.matmul(Wp, cols).reshape(n, G, sh, sw, Og, Hr, Wr)  # every phase
            out = y[sl].reshape(n, G, Og, Ho, Wo)
            for a in range(sh):
                y0 = (a - top) % sh  # first output row in phase a
                q0 = (y0 + top) // sh
                for b in range(sw):
                    x0 = (b - left) % sw
                    p0 = (x0 + left) // sw
                    ny, nx = len(range(y0, Ho, sh)), len(range(x0, Wo, sw))
                    if ny and nx:
                        out[:, :, :, y0::sh, x0::sw] = ph[:, :, a, b, :, q0 : q0 + ny, p0 : p0 + nx]

    _parallel.run_split(N, C * Kh * Kw * Hr * Wr, work)
    return y
