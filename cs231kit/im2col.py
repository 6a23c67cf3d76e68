"""im2col and col2im: turn a convolution into one matrix multiply, and back.

A convolution multiplies every filter with every receptive field (window) of the input. If the
windows are laid out as the columns of a matrix (im2col), the whole layer is one matrix multiply:

    out[n] = w.reshape(F, C*HH*WW) @ cols[n]          cols[n]: (C*HH*WW, H_out*W_out)

Layout used here, per image n (the order ``torch.nn.functional.unfold`` uses as well):

    cols[n, (c, i, j), (y, x)] = x_padded[n, c, y*stride_h + i, x*stride_w + j]

Rows run over the filter entries (c, i, j), columns over the output positions (y, x), so the
product ``w_mat @ cols[n]`` comes out as (F, H_out*W_out): already the (N, F, H_out, W_out)
layout, with no transpose of the output.

``window_view`` builds the 6-D array (N, C, HH, WW, H_out, W_out) of all windows *without
copying*, as a strided view of the padded input: stepping one output position moves ``stride``
pixels. ``im2col`` then needs a single copy of that view. ``col2im`` is the reverse (used in the
backward pass): each window's gradient is added back onto the pixels it was taken from; windows
overlap, so contributions add up. It adds one filter offset (i, j) at a time, HH*WW slice
additions in all, instead of ``np.add.at`` (which is correct but much slower); for big filters
with a stride it adds onto each phase of the input (every stride-th pixel) kept as an image of
its own, so that every addition runs over whole rows. ``col2im_compiled`` does the same additions
as loops compiled by Numba, one image at a time in a padded buffer that stays in the CPU cache
(3 to 4x faster on big stride-1 layers, measured).

All functions work on NumPy or CuPy arrays, on whatever part of the batch they are given (the
fast layers hand each thread its own chunk of images, see ``cs231kit.batch_threads``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cs231kit.backend import get_array_module
from cs231kit.compiled_loops import Kernels


def pad_images(x: Any, pad_h: int, pad_w: int, dtype: Any, out: Any = None) -> Any:
    """Zero-pad the two spatial axes of a batch of images.

    Inputs:
    - x: (N, C, H, W), any dtype and memory layout
    - pad_h, pad_w: zeros added above and below / left and right
    - dtype: dtype of the result
    - out: optional array (N, C, H + 2*pad_h, W + 2*pad_w) of that dtype to write into; it may
      be taller or wider, and then gets more zeros at the bottom and right

    Returns out, or a new array (N, C, H + 2*pad_h, W + 2*pad_w), or x itself when there is
    nothing to pad or convert.
    """
    if pad_h == 0 and pad_w == 0 and x.dtype == dtype and (out is None or out.shape == x.shape):
        return x
    xp = get_array_module(x)
    N, C, H, W = x.shape
    padded = out if out is not None else xp.empty((N, C, H + 2 * pad_h, W + 2 * pad_w), dtype)
    # Zero only the border, then copy the image into the middle: each element is written once.
    padded[:, :, :pad_h, :] = 0
    padded[:, :, pad_h + H :, :] = 0
    padded[:, :, pad_h : pad_h + H, :pad_w] = 0
    padded[:, :, pad_h : pad_h + H, pad_w + W :] = 0
    padded[:, :, pad_h : pad_h + H, pad_w : pad_w + W] = x
    return padded


def window_view(
    x_padded: Any, HH: int, WW: int, stride_h: int, stride_w: int, H_out: int, W_out: int
) -> Any:
    """All HHxWW windows of a padded batch, as a read-only strided view (no copy).

    Inputs:
    - x_padded: (N, C, Hp, Wp), any strides
    - HH, WW: window (filter) height and width
    - stride_h, stride_w: step between neighbouring windows
    - H_out, W_out: number of windows along each axis

    Returns view: (N, C, HH, WW, H_out, W_out) with
    view[n, c, i, j, y, x] = x_padded[n, c, y*stride_h + i, x*stride_w + j].
    """
    sN, sC, sH, sW = x_padded.strides
    shape = (x_padded.shape[0], x_padded.shape[1], HH, WW, H_out, W_out)
    strides = (sN, sC, sH, sW, sH * stride_h, sW * stride_w)
    return _as_strided(x_padded, shape, strides)


def im2col(
    x_padded: Any,
    HH: int,
    WW: int,
    stride_h: int,
    stride_w: int,
    H_out: int,
    W_out: int,
    out: Any = None,
) -> Any:
    """Copy every window of a padded batch into a matrix per image (one strided copy).

    Inputs: as for ``window_view``, plus
    - out: optional C-contiguous array (N, C*HH*WW, H_out*W_out) to write into

    Returns cols: (N, C*HH*WW, H_out*W_out), same dtype as x_padded (or as out).
    """
    xp = get_array_module(x_padded)
    windows = window_view(x_padded, HH, WW, stride_h, stride_w, H_out, W_out)
    N, C = windows.shape[:2]
    if out is None:
        out = xp.empty((N, C * HH * WW, H_out * W_out), dtype=x_padded.dtype)
    if not out.flags.c_contiguous:  # reshape below must be a view, not a silent copy
        raise ValueError("im2col: out must be C-contiguous")
    out.reshape(windows.shape)[...] = windows  # reshape of a contiguous array: a view
    return out


def col2im(
    dcols: Any,
    x_shape: tuple[int, int, int, int],
    HH: int,
    WW: int,
    stride_h: int,
    stride_w: int,
    pad_h: int,
    pad_w: int,
    out: Any = None,
) -> Any:
    """Sum window gradients back onto the input: the adjoint (backward) of pad_images + im2col.

    Inputs:
    - dcols: (N, C*HH*WW, H_out*W_out), gradient with respect to ``im2col``'s output
    - x_shape: (N, C, H, W), shape of the input before padding
    - HH, WW, stride_h, stride_w: as for ``im2col``; pad_h, pad_w: as for ``pad_images``
    - out: optional array of shape x_shape to write into (its contents are overwritten)

    Returns dx: (N, C, H, W), same dtype as dcols. Gradients that fall on the zero padding are
    dropped (the padding is not an input).
    """
    xp = get_array_module(dcols)
    N, C, H, W = x_shape
    H_out = 1 + (H + 2 * pad_h - HH) // stride_h
    W_out = 1 + (W + 2 * pad_w - WW) // stride_w
    d6 = dcols.reshape(N, C, HH, WW, H_out, W_out)
    dx = xp.empty(x_shape, dtype=dcols.dtype) if out is None else out
    # The windows' entries at filter offset (i, j) form one strided slice of dx: add them all
    # at once, HH*WW slice additions in all, instead of np.add.at (correct, but much slower).
    # With a stride, such a slice is every stride-th pixel, and additions to it are slow; when
    # there are many offsets per phase (below), adding onto each phase kept as an image of its
    # own was measured faster (8 images 224x224, 9x9 filters at stride 2: 5 ms instead of 9 to
    # 11 ms), and 10 to 20% slower with few (3x3 filters at stride 2).
    if stride_h * stride_w > 1 and HH * WW >= 4 * stride_h * stride_w:
        _add_by_phases(d6, stride_h, stride_w, pad_h, pad_w, dx)
        return dx
    dx[...] = 0
    for i in range(HH):
        rows = _on_input(i, pad_h, stride_h, H, H_out)
        for j in range(WW):
            cols = _on_input(j, pad_w, stride_w, W, W_out)
            if rows is not None and cols is not None:
                dx[:, :, rows[0], cols[0]] += d6[:, :, i, j, rows[1], cols[1]]
    return dx


def col2im_compiled(
    dcols: Any,
    x_shape: tuple[int, int, int, int],
    HH: int,
    WW: int,
    stride_h: int,
    stride_w: int,
    pad_h: int,
    pad_w: int,
    out: Any,
) -> None:
    """``col2im`` as compiled loops, for NumPy arrays: the same additions in the same order, so
    the same answer to the bit. dcols: C-contiguous; out: (N, C, H, W) to write.
    Needs ``col2im_kernels(dcols.dtype)``."""
    N, C, H, W = x_shape
    padded = np.empty((C, H + 2 * pad_h, W + 2 * pad_w), dtype=dcols.dtype)
    H_out = 1 + (H + 2 * pad_h - HH) // stride_h
    W_out = 1 + (W + 2 * pad_w - WW) // stride_w
    col2im_kernels(dcols.dtype).col2im(
        dcols, HH, WW, stride_h, stride_w, pad_h, pad_w, H_out, W_out, padded, out
    )


def col2im_kernels(dtype: Any) -> Any:
    """The col2im loops compiled by Numba for dtype, or None (see cs231kit/compiled_loops.py)."""
    return COL2IM_KERNELS.get(dtype)


def _col2im_loops(dcols: Any, HH: int, WW: int, sh: int, sw: int, pad_h: int, pad_w: int,
                  H_out: int, W_out: int, padded: Any, dx: Any) -> None:
    """dx[m] = the padded image padded (C, Hp, Wp) onto which each window's gradient in
    dcols[m] was added, without its padding; one image m at a time."""
    n, C, H, W = dx.shape
    for m in range(n):
        padded[:] = 0
        for c in range(C):
            for i in range(HH):
                for j in range(WW):
                    window_entries = dcols[m, (c * HH + i) * WW + j]  # (H_out*W_out,)
                    for y in range(H_out):
                        src = window_entries[y * W_out : (y + 1) * W_out]
                        row = padded[c, sh * y + i]
                        if sw == 1:  # a run of pixels: vector instructions
                            run = row[j : j + W_out]
                            for x in range(W_out):
                                run[x] += src[x]
                        else:
                            for x in range(W_out):
                                row[sw * x + j] += src[x]
            for Y in range(H):
                dx[m, c, Y] = padded[c, Y + pad_h, pad_w : pad_w + W]


def _col2im_trial(dtype: Any) -> None:
    """Compile the loops with the argument types of real calls; check them against col2im."""
    dcols = np.arange(2 * 12 * 12, dtype=dtype).reshape(2, 12, 12) % 7 - 3
    # 3x4 windows of 2x2 filters: at stride 1 without padding, at stride 2 with padding 1.
    for stride, pad, shape in ((1, 0, (2, 3, 4, 5)), (2, 1, (2, 3, 5, 7))):
        want = col2im(dcols, shape, 2, 2, stride, stride, pad, pad)
        got = np.empty(shape, dtype)
        col2im_compiled(dcols, shape, 2, 2, stride, stride, pad, pad, out=got)
        if not np.array_equal(got, want):
            raise ArithmeticError("compiled col2im disagrees with col2im")


COL2IM_KERNELS = Kernels({"col2im": _col2im_loops}, _col2im_trial)


def _add_by_phases(d6: Any, sh: int, sw: int, pad_h: int, pad_w: int, dx: Any) -> None:
    """col2im with strides (sh, sw), phase by phase: d6 (N, C, HH, WW, H_out, W_out) -> dx.

    The padded input's phase (a, b), for a < sh and b < sw, is the image of the pixels
    (a + sh*Y, b + sw*X). Window (y, x)'s entry at filter offset (i, j) = (a + sh*u, b + sw*v)
    lands on pixel (y + u, x + v) of phase (a, b), so the additions run over whole rows.
    """
    xp = get_array_module(d6)
    N, C, HH, WW, H_out, W_out = d6.shape
    H, W = dx.shape[2:]
    Hq, Wq = -(-(H + 2 * pad_h) // sh), -(-(W + 2 * pad_w) // sw)  # size of a phase
    for a in range(sh):
        for b in range(sw):
            phase = xp.zeros((N, C, Hq, Wq), dtype=d6.dtype)
            for i in range(a, HH, sh):
                for j in range(b, WW, sw):
                    u, v = (i - a) // sh, (j - b) // sw
                    phase[:, :, u : u + H_out, v : v + W_out] += d6[:, :, i, j]
            # Padded pixel a + sh*k is input pixel a + sh*k - pad_h; the first k on the input
            # is k0 (l0 along W). Gradients that fall on the padding are dropped.
            k0, l0 = max(0, -((a - pad_h) // sh)), max(0, -((b - pad_w) // sw))
            y0, x0 = a + sh * k0 - pad_h, b + sw * l0 - pad_w
            target = dx[:, :, y0::sh, x0::sw]
            target[...] = phase[:, :, k0 : k0 + target.shape[2], l0 : l0 + target.shape[3]]


def _on_input(offset: int, pad: int, stride: int, size: int, n_out: int) -> Any:
    """Along one axis: the windows whose entry at `offset` lies on the input, not the padding.

    Window k covers padded position k*stride + offset, which is input position
    k*stride + offset - pad. Returns (input positions, window numbers) as two slices, or None
    if every window's entry falls on the padding.
    """
    first = max(0, -((offset - pad) // stride))  # smallest k with k*stride + offset - pad >= 0
    last = min(n_out - 1, (size - 1 + pad - offset) // stride)  # largest k inside the input
    if first > last:
        return None
    start = first * stride + offset - pad
    return slice(start, start + (last - first) * stride + 1, stride), slice(first, last + 1)


def _as_strided(a: Any, shape: tuple[int, ...], strides: tuple[int, ...]) -> Any:
    if get_array_module(a) is np:
        return np.lib.stride_tricks.as_strided(a, shape=shape, strides=strides, writeable=False)
    import cupy  # only reached for CuPy input, so CuPy is already imported

    return cupy.lib.stride_tricks.as_strided(a, shape=shape, strides=strides)
