"""Fast convolution and max-pooling layers (forward and backward), given to you ready-made.

They compute exactly what your naive loop versions compute, only much faster, so the ConvNet
notebook can train in minutes. Same interface as the naive layers:

    out, cache = conv_forward_fast(x, w, b, conv_param)
    dx, dw, db = conv_backward_fast(dout, cache)
    out, cache = max_pool_forward_fast(x, pool_param)
    dx = max_pool_backward_fast(dout, cache)

How the convolution is fast (read ``cs231kit/im2col.py`` for the details):

1. im2col: copy every receptive field of the (padded) input into the columns of a matrix,
   cols[n]: (C*HH*WW, H_out*W_out), with one strided copy (no Python loop over positions).
2. The forward pass is then one matrix multiply per image, w_mat @ cols[n], where
   w_mat = w.reshape(F, C*HH*WW), done by an optimised BLAS library.
3. Backward: db sums dout; dw = sum over images of dout[n] @ cols[n]^T; dx either multiplies
   back (w_mat^T @ dout[n]) and adds the windows onto the input (col2im), or, for stride 1,
   uses the identity "the gradient of a convolution is a convolution of dout with the flipped
   filters": one more im2col and matrix multiply, faster when F is not much larger than C.
   On big layers col2im runs as loops compiled by Numba (same additions, same answer).
   When x is the batch of images the Solver is training on, dx is skipped (returned as None):
   nothing uses the gradient of the data.
4. The batch is cut into chunks of a few images that run in parallel threads (all cores), each
   chunk going through all the steps while its data is still in the CPU cache
   (``cs231kit/batch_threads.py``). The forward pass keeps cols for the backward pass only
   when it is small (KEEP_COLS_MAX_BYTES); a big one is rebuilt chunk by chunk in the backward
   pass instead, because copying into a reused buffer was measured cheaper than the operating
   system handing out (and zeroing) fresh memory for the whole batch's im2col matrix.
5. Big 3x3 layers with stride 1, the most common in ConvNets, use Winograd's algorithm instead
   of im2col: 2.25x fewer multiplies, for the price of transforming 4x4 tiles of the input and
   the filters with a few additions (``cs231kit/winograd.py``). The transforms are compiled by
   Numba; where Numba is missing, these layers use im2col too. Same answers either way, to the
   rounding of a sum.
6. Big layers with few filters (at most DIRECT_MAX_FILTERS) skip the im2col matrix: their
   matrix multiplies are too small to be worth copying every window. The sums of the definition
   are done directly instead, by loops compiled by Numba that run over whole rows of the input
   (``cs231kit/direct_conv.py``). Where Numba is missing, these layers use im2col too.

Max pooling runs over the PH*PW offsets inside a window (4 for 2x2) and handles all windows of
the batch at once for each offset. The backward pass sends each window's gradient to *one*
input: the first maximum in row-major order within the window (what ``np.argmax`` picks), so
tied maxima do not all receive the gradient. On big inputs, 2x2 windows at stride 2 (the
ConvNet's pool) go through loops compiled by Numba instead, one pass each way
(``cs231kit/pool_loops.py``); same answers.

Arrays may be NumPy (CPU) or CuPy (GPU); the result lives where the input lives. dtypes are kept:
float32 in, float32 out.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from cs231kit import direct_conv, pool_loops, winograd
from cs231kit.backend import get_array_module
from cs231kit.batch_threads import MIN_ELEMENTS_TO_SPLIT, split_over_batch
from cs231kit.im2col import (
    col2im,
    col2im_compiled,
    col2im_kernels,
    im2col,
    pad_images,
    window_view,
)
from cs231kit.layer_geometry import (
    ConvGeometry,
    PoolGeometry,
    check_upstream_shape,
    conv_geometry,
    pool_geometry,
)
from cs231kit.scratch_buffers import scratch
from cs231kit.training_batch import is_training_batch

# Largest im2col matrix the forward pass keeps for the backward pass (see point 4 above). Up to
# 32 MB the memory allocator recycles the freed matrix of the previous call; beyond that every
# call gets fresh memory from the operating system, which costs more than rebuilding cols.
KEEP_COLS_MAX_BYTES = 32 << 20
# 3x3 stride-1 layers go through Winograd's algorithm (cs231kit/winograd.py) when their im2col
# matrix would have at least this many entries: below, im2col takes a few milliseconds at most,
# less than compiling the transforms (about a second, once per process).
WINOGRAD_MIN_COLS_SIZE = 1 << 22
# Layers with at most DIRECT_MAX_FILTERS filters go through direct sums (cs231kit/direct_conv.py)
# instead of im2col when their im2col matrix would have at least DIRECT_MIN_COLS_SIZE entries:
# their matrix multiplies are too thin to be worth building that matrix.
DIRECT_MAX_FILTERS = 8
DIRECT_MIN_COLS_SIZE = 1 << 22
# col2im runs as compiled loops (cs231kit/im2col.py) for layers whose im2col matrix has at least
# this many entries (CS231n's benchmark cell has 691,200); for smaller ones NumPy is quick,
# quicker than compiling (once, ~0.5 s).
COL2IM_LOOPS_MIN_SIZE = 1 << 19
# Max pooling splits the batch over threads only for inputs at least this big (in elements).
POOL_MIN_ELEMENTS_TO_SPLIT = 1 << 20
# 2x2 stride-2 pooling of inputs at least this big (in elements) uses the compiled loops of
# cs231kit/pool_loops.py; for smaller ones NumPy is quick, quicker than compiling (once, ~0.3 s).
POOL_LOOPS_MIN_ELEMENTS = 1 << 20

__all__ = [
    "conv_forward_fast",
    "conv_backward_fast",
    "max_pool_forward_fast",
    "max_pool_backward_fast",
]


@dataclass
class ConvCache:
    """What conv_backward_fast needs from the forward pass."""

    geometry: ConvGeometry
    x: Any  # the input (N, C, H, W), as given
    needs_dx: bool  # False when x is the Solver's training batch: nothing uses its gradient
    w: Any  # filters (F, C, HH, WW), C-contiguous in the compute dtype
    method: str  # "im2col", "winograd" or "direct": how the forward pass ran (and backward runs)
    kept: Any  # im2col: the im2col matrix (N, C*HH*WW, H'*W') if small enough to keep, else None;
    # direct: the input's stride phases (N, C*S_h*S_w, length); winograd: None


@dataclass
class PoolCache:
    """What max_pool_backward_fast needs from the forward pass."""

    geometry: PoolGeometry
    x: Any  # the input (N, C, H, W)
    out: Any  # a private copy of the output (N, C, H', W'): each window's maximum; or None
    argmax: Any  # with the compiled loops: (N, C, H', W') uint8, where each maximum is; or None


# ---------------------------------------------------------------------------------------------
# Convolution
# ---------------------------------------------------------------------------------------------


def conv_forward_fast(x: Any, w: Any, b: Any, conv_param: dict) -> tuple[Any, Any]:
    """Forward pass of a convolutional layer (cross-correlation, as in the lectures).

    Inputs:
    - x: input data, shape (N, C, H, W)
    - w: filter weights, shape (F, C, HH, WW)
    - b: biases, shape (F,)
    - conv_param: dict with
      - "stride": pixels between neighbouring receptive fields (int, or a (S_h, S_w) pair)
      - "pad": zeros added on every side of the input (int, or a (P_h, P_w) pair)

    Returns a tuple of:
    - out: output data, shape (N, F, H', W') with
      H' = 1 + (H + 2 * P_h - HH) // S_h and W' = 1 + (W + 2 * P_w - WW) // S_w
    - cache: what conv_backward_fast needs
    """
    gpu = _gpu_kernels(x, w, b)
    if gpu is not None:
        return gpu.conv_forward_fast(x, w, b, conv_param)
    g = conv_geometry(x, w, b, conv_param)
    xp = _same_array_module(x, w, b)
    dtype = _compute_dtype(x, w, b)
    w = xp.ascontiguousarray(w, dtype=dtype)
    needs_dx = not is_training_batch(x)
    if _uses_winograd(g, xp, dtype):
        out = xp.empty((g.N, g.F, g.H_out, g.W_out), dtype=dtype)
        U = winograd.transform_filters(w)  # (16, C, F)
        bias = xp.asarray(b, dtype=dtype)

        def correlate(lo: int, hi: int) -> None:  # images lo..hi-1 (chunks run in parallel)
            winograd.correlate(x[lo:hi], U, g.pad_h, g.pad_w, out[lo:hi], bias)

        _over_batch(xp, correlate, g.N, _winograd_size(g))
        return out, ConvCache(g, x, needs_dx, w, "winograd", kept=None)
    if _uses_direct(g, xp, dtype):
        return _conv_forward_direct(x, w, b, g, needs_dx)
    w_mat = w.reshape(g.F, -1)  # (F, C*HH*WW)
    b_col = xp.asarray(b, dtype=dtype).reshape(g.F, 1)
    out = xp.empty((g.N, g.F, g.H_out * g.W_out), dtype=dtype)
    kept = _keep_cols(g, dtype, xp)

    def forward(lo: int, hi: int) -> None:  # images lo..hi-1 (chunks run in parallel)
        into = None if kept is None else kept[lo:hi]
        cols = _im2col_chunk(x, lo, hi, g, dtype, into)  # (n, C*HH*WW, H'*W')
        xp.matmul(w_mat, cols, out=out[lo:hi])  # one matrix multiply per image
        out[lo:hi] += b_col

    _over_batch(xp, forward, g.N, _cols_size(g))
    cache = ConvCache(g, x, needs_dx, w, "im2col", kept)
    return out.reshape(g.N, g.F, g.H_out, g.W_out), cache


def conv_backward_fast(dout: Any, cache: Any) -> tuple[Any, Any, Any]:
    """Backward pass of a convolutional layer.

    Inputs:
    - dout: upstream gradient dL/dout, shape (N, F, H', W')
    - cache: the cache returned by conv_forward_fast

    Returns a tuple of:
    - dx: gradient with respect to x, shape (N, C, H, W); None when x was the batch of images
      the Solver is training on (nothing uses that gradient, so it is not computed; see
      ``cs231kit/training_batch.py``)
    - dw: gradient with respect to w, shape (F, C, HH, WW)
    - db: gradient with respect to b, shape (F,)
    """
    gpu = _gpu_kernels(dout)
    if gpu is not None:
        return gpu.conv_backward_fast(dout, cache)
    g: ConvGeometry = cache.geometry
    check_upstream_shape(dout, (g.N, g.F, g.H_out, g.W_out), "conv_backward_fast")
    xp = get_array_module(dout)
    x, w = cache.x, cache.w
    dtype = w.dtype
    dout = xp.ascontiguousarray(dout, dtype=dtype).reshape(g.N, g.F, -1)  # (N, F, H'*W')
    dx = xp.empty((g.N, g.C, g.H, g.W), dtype=dtype) if cache.needs_dx else None
    if cache.method == "winograd":
        return _conv_backward_winograd(dout.reshape(g.N, g.F, g.H_out, g.W_out), cache, dx)
    if cache.method == "direct":
        return _conv_backward_direct(dout.reshape(g.N, g.F, g.H_out, g.W_out), cache, dx)
    by_flipped_filters = dx is not None and _dx_by_flipped_filters_is_cheaper(g)
    w_mat_t = w.reshape(g.F, -1).T  # (C*HH*WW, F)
    w_flipped = _flipped_filter_matrix(w) if by_flipped_filters else None  # (C, F*HH*WW)
    compiled_col2im = dx is not None and not by_flipped_filters and _uses_col2im_loops(g, xp, dtype)
    dw_parts: dict[int, Any] = {}  # partial sums per chunk of images, keyed by first image
    db_parts: dict[int, Any] = {}

    def backward(lo: int, hi: int) -> None:  # images lo..hi-1 (chunks run in parallel)
        n = hi - lo
        db_parts[lo] = dout[lo:hi].sum(axis=(0, 2))
        # dw = sum over images of dout[n] @ cols[n]^T (the transpose is a free view for BLAS).
        if cache.kept is not None:
            cols = cache.kept[lo:hi]
        else:  # too big to have been kept: rebuild this chunk's part
            cols = _im2col_chunk(x, lo, hi, g, dtype)
        per_image = scratch("dw per image", (n, g.F, cols.shape[1]), dtype, dout)
        xp.matmul(dout[lo:hi], cols.transpose(0, 2, 1), out=per_image)
        dw_parts[lo] = per_image.sum(axis=0)
        if dx is None:
            return
        if by_flipped_filters:
            _conv_dx_by_flipped_filters(dout[lo:hi], w_flipped, g, out=dx[lo:hi])
        else:
            _conv_dx_by_col2im(dout[lo:hi], w_mat_t, g, dx[lo:hi], compiled_col2im)

    _over_batch(xp, backward, g.N, _cols_size(g))
    dw = _sum_in_order(dw_parts).reshape(w.shape)
    db = _sum_in_order(db_parts)
    return dx, dw, db


def _conv_backward_winograd(dout: Any, cache: ConvCache, dx: Any) -> tuple[Any, Any, Any]:
    """conv_backward_fast for a layer whose forward pass used Winograd's algorithm.

    dout: (N, F, H', W'), C-contiguous, in the compute dtype; dx: (N, C, H, W) to fill, or None.
    dx is the correlation of dout, padded by 2 - pad, with the filters rotated by 180 degrees
    and F, C swapped (see _conv_dx_by_flipped_filters); dw comes from winograd.filter_gradient.
    """
    g, x, w = cache.geometry, cache.x, cache.w
    if dx is not None:
        rotated = _flipped_filter_matrix(w).reshape(g.C, g.F, 3, 3)
        U_rotated = winograd.transform_filters(rotated)  # (16, F, C)
    dw_parts: dict[int, Any] = {}  # partial sums per chunk of images, keyed by first image
    db_parts: dict[int, Any] = {}

    def backward(lo: int, hi: int) -> None:  # images lo..hi-1 (chunks run in parallel)
        db_parts[lo] = dout[lo:hi].sum(axis=(0, 2, 3))
        dw_parts[lo] = winograd.filter_gradient(x[lo:hi], dout[lo:hi], g.pad_h, g.pad_w)
        if dx is not None:
            winograd.correlate(dout[lo:hi], U_rotated, 2 - g.pad_h, 2 - g.pad_w, dx[lo:hi])

    _over_batch(np, backward, g.N, _winograd_size(g))
    return dx, _sum_in_order(dw_parts), _sum_in_order(db_parts)


def _conv_forward_direct(
    x: Any, w: Any, b: Any, g: ConvGeometry, needs_dx: bool
) -> tuple[Any, ConvCache]:
    """conv_forward_fast by direct sums (cs231kit/direct_conv.py). The input's stride phases
    (about the size of x) are kept for the backward pass."""
    dtype = w.dtype
    out = np.empty((g.N, g.F, g.H_out, g.W_out), dtype=dtype)
    planes = g.C * g.stride_h * g.stride_w
    phases = np.empty((g.N, planes, direct_conv.phase_layout(g).length), dtype)
    taps = direct_conv.forward_taps(w, g)
    bias = np.asarray(b, dtype=dtype)

    def forward(lo: int, hi: int) -> None:  # images lo..hi-1 (chunks run in parallel)
        direct_conv.split_phases(np.ascontiguousarray(x[lo:hi], dtype=dtype), g, phases[lo:hi])
        direct_conv.correlate(phases[lo:hi], taps, bias, g, out[lo:hi])

    _over_batch(np, forward, g.N, _cols_size(g), uses_blas=False)
    return out, ConvCache(g, x, needs_dx, w, "direct", phases)


def _conv_backward_direct(dout: Any, cache: ConvCache, dx: Any) -> tuple[Any, Any, Any]:
    """conv_backward_fast for a layer whose forward pass used direct sums.

    dout: (N, F, H', W'), C-contiguous, in the compute dtype; dx: (N, C, H, W) to fill, or None.
    """
    g, w, phases = cache.geometry, cache.w, cache.kept
    taps = direct_conv.forward_taps(w, g)
    dx_taps = direct_conv.input_gradient_taps(w, g) if dx is not None else []
    dw_parts: dict[int, Any] = {}  # partial sums per chunk of images, keyed by first image
    db_parts: dict[int, Any] = {}

    def backward(lo: int, hi: int) -> None:  # images lo..hi-1 (chunks run in parallel)
        db_parts[lo] = dout[lo:hi].sum(axis=(0, 2, 3))
        dw_parts[lo] = direct_conv.filter_gradient(phases[lo:hi], dout[lo:hi], taps, g)
        if dx is not None:
            direct_conv.input_gradient(dout[lo:hi], dx_taps, g, dx[lo:hi])

    _over_batch(np, backward, g.N, _cols_size(g), uses_blas=False)
    return dx, _sum_in_order(dw_parts), _sum_in_order(db_parts)


def _uses_direct(g: ConvGeometry, xp: ModuleType, dtype: Any) -> bool:
    """Whether a convolution goes through direct sums: a big enough layer with few filters on
    the CPU, when Numba is installed and works here."""
    return (
        xp is np
        and g.F <= DIRECT_MAX_FILTERS
        and _cols_size(g) >= DIRECT_MIN_COLS_SIZE
        and direct_conv.kernels(dtype) is not None
    )


def _uses_winograd(g: ConvGeometry, xp: ModuleType, dtype: Any) -> bool:
    """Whether a convolution goes through Winograd's algorithm: a big enough 3x3 stride-1 layer
    on the CPU, when Numba is installed and works here."""
    return (
        xp is np
        and winograd.applies(g.HH, g.WW, g.stride_h, g.stride_w, g.pad_h, g.pad_w)
        and _cols_size(g) >= WINOGRAD_MIN_COLS_SIZE
        and winograd.kernels(dtype) is not None
    )


def _winograd_size(g: ConvGeometry) -> int:
    """The size to give split_over_batch for a Winograd layer, which sizes the chunks by it.

    Eight times the largest temporary: a chunk goes through several arrays of about that size
    (padded input, transformed tiles, products, transformed dout), and chunks of one or two
    images, which this makes for the layers of bench/conv_cpu.py, were measured fastest (up to
    1.5x faster than chunks of 8 to 16 images in float64): their temporaries stay in the cache.
    """
    return 8 * winograd.buffer_size(g.N, g.C, g.F, max(g.H, g.H_out), max(g.W, g.W_out))


def _keep_cols(g: ConvGeometry, dtype: Any, xp: ModuleType) -> Any:
    """An array for the whole batch's im2col matrix if it is small enough to keep, else None."""
    shape = (g.N, g.C * g.HH * g.WW, g.H_out * g.W_out)
    if _cols_size(g) * np.dtype(dtype).itemsize > KEEP_COLS_MAX_BYTES:
        return None
    return xp.empty(shape, dtype=dtype)


def _im2col_chunk(x: Any, lo: int, hi: int, g: ConvGeometry, dtype: Any, into: Any = None) -> Any:
    """im2col of images lo..hi-1 of x: (n, C*HH*WW, H'*W'), into `into` or a scratch buffer."""
    n = hi - lo
    padded_shape = (n, g.C, g.H + 2 * g.pad_h, g.W + 2 * g.pad_w)
    x_padded = pad_images(
        x[lo:hi], g.pad_h, g.pad_w, dtype, out=scratch("x padded", padded_shape, dtype, x)
    )
    cols_shape = (n, g.C * g.HH * g.WW, g.H_out * g.W_out)
    return im2col(
        x_padded,
        g.HH,
        g.WW,
        g.stride_h,
        g.stride_w,
        g.H_out,
        g.W_out,
        out=into if into is not None else scratch("cols", cols_shape, dtype, x),
    )


def _cols_size(g: ConvGeometry) -> int:
    """Number of entries of the whole batch's im2col matrix: the size of a conv's work."""
    return g.N * g.C * g.HH * g.WW * g.H_out * g.W_out


def _dx_by_flipped_filters_is_cheaper(g: ConvGeometry) -> bool:
    """Pick the dx method (both are exact). The flipped-filter method only works for stride 1.

    col2im touches C*HH*WW*H'*W' values per image with slow strided additions; the flipped-filter
    im2col copies F*HH*WW*H*W values, and a copy is about three times cheaper than those
    additions (measured), so it wins unless F*H*W is much larger than C*H'*W'.
    """
    if g.stride_h != 1 or g.stride_w != 1 or g.pad_h >= g.HH or g.pad_w >= g.WW:
        return False
    return g.F * g.H * g.W <= 2 * g.C * g.H_out * g.W_out


def _flipped_filter_matrix(w: Any) -> Any:
    """w_flipped[c, (f, i, j)] = w[f, c, HH-1-i, WW-1-j]: filters rotated 180 degrees, F and C
    swapped, as a (C, F*HH*WW) matrix."""
    xp = get_array_module(w)
    C = w.shape[1]
    return xp.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)).reshape(C, -1)


def _conv_dx_by_col2im(
    dout: Any, w_mat_t: Any, g: ConvGeometry, out: Any, compiled: bool = False
) -> None:
    """dx for any stride: multiply back to window gradients, then add them onto the input.

    dout: (n, F, H'*W'); w_mat_t: (C*HH*WW, F); writes dx into out: (n, C, H, W).
    compiled: add them with the compiled loops (``col2im_compiled``; NumPy only).
    """
    xp = get_array_module(dout)
    n = dout.shape[0]
    dcols = scratch("dcols", (n, w_mat_t.shape[0], dout.shape[2]), dout.dtype, dout)
    xp.matmul(w_mat_t, dout, out=dcols)  # (n, C*HH*WW, H'*W'): gradient of each window
    x_shape = (n, g.C, g.H, g.W)
    add_windows = col2im_compiled if compiled else col2im
    add_windows(dcols, x_shape, g.HH, g.WW, g.stride_h, g.stride_w, g.pad_h, g.pad_w, out=out)


def _uses_col2im_loops(g: ConvGeometry, xp: ModuleType, dtype: Any) -> bool:
    """Whether col2im runs as compiled loops: a big enough layer on the CPU, when Numba is
    installed and works here."""
    return (
        xp is np
        and _cols_size(g) >= COL2IM_LOOPS_MIN_SIZE
        and col2im_kernels(dtype) is not None
    )


def _conv_dx_by_flipped_filters(dout: Any, w_flipped: Any, g: ConvGeometry, out: Any) -> None:
    """dx for a stride-1 convolution, as a convolution of dout with the flipped filters.

    dx[n, c, y, x] = sum over f, i, j of dout_padded[n, f, y + i, x + j] * w[f, c, HH-1-i, WW-1-j]
    where dout is zero-padded by HH-1-P_h rows and WW-1-P_w columns on each side: a "full"
    correlation with the roles of F and C swapped.
    dout: (n, F, H'*W'); w_flipped: (C, F*HH*WW); writes dx into out: (n, C, H, W).
    """
    xp = get_array_module(dout)
    n = dout.shape[0]
    ph, pw = g.HH - 1 - g.pad_h, g.WW - 1 - g.pad_w
    padded_shape = (n, g.F, g.H_out + 2 * ph, g.W_out + 2 * pw)
    dout_padded = pad_images(
        dout.reshape(n, g.F, g.H_out, g.W_out),
        ph,
        pw,
        dout.dtype,
        out=scratch("dout padded", padded_shape, dout.dtype, dout),
    )
    cols = im2col(
        dout_padded,
        g.HH,
        g.WW,
        1,
        1,
        g.H,
        g.W,
        out=scratch("dout cols", (n, g.F * g.HH * g.WW, g.H * g.W), dout.dtype, dout),
    )
    xp.matmul(w_flipped, cols, out=out.reshape(n, g.C, g.H * g.W))


# ---------------------------------------------------------------------------------------------
# Max pooling
# ---------------------------------------------------------------------------------------------


def max_pool_forward_fast(x: Any, pool_param: dict) -> tuple[Any, Any]:
    """Forward pass of a max-pooling layer.

    Inputs:
    - x: input data, shape (N, C, H, W)
    - pool_param: dict with "pool_height" PH, "pool_width" PW and "stride" S (int, or a
      (S_h, S_w) pair)

    Returns a tuple of:
    - out: output data, shape (N, C, H', W') with H' = 1 + (H - PH) // S_h and
      W' = 1 + (W - PW) // S_w
    - cache: what max_pool_backward_fast needs
    """
    gpu = _gpu_kernels(x)
    if gpu is not None:
        return gpu.max_pool_forward_fast(x, pool_param)
    g = pool_geometry(x, pool_param)
    xp = get_array_module(x)
    out = xp.empty((g.N, g.C, g.H_out, g.W_out), dtype=x.dtype)
    if _uses_pool_loops(g, x, xp):
        argmax = np.empty(out.shape, dtype=np.uint8)
        saw_nan = []

        def pool_compiled(lo: int, hi: int) -> None:
            if pool_loops.forward(x[lo:hi], out[lo:hi], argmax[lo:hi]):
                saw_nan.append(lo)

        _over_batch(xp, pool_compiled, g.N, x.size, uses_blas=False)
        if not saw_nan:
            return out, PoolCache(g, x, out=None, argmax=argmax)
        # A NaN: the loops skip it, np.max would return it. The NumPy way below does.
    windows = window_view(x, g.pool_h, g.pool_w, g.stride_h, g.stride_w, g.H_out, g.W_out)

    def pool(lo: int, hi: int) -> None:
        # One pass per offset (i, j) in the window, each covering every window at once.
        # windows[:, :, i, j] is a strided view, so nothing is copied. (Reshaping tiling windows
        # to (N, C, H', PH, W', PW) and reducing over the window axes was measured ~20x slower.)
        out[lo:hi] = windows[lo:hi, :, 0, 0]
        for i, j in _window_offsets(g)[1:]:
            xp.maximum(out[lo:hi], windows[lo:hi, :, i, j], out=out[lo:hi])

    _over_batch(xp, pool, g.N, x.size, uses_blas=False)
    # The cache keeps its own copy of out: code that later edits out in place (an in-place
    # ReLU, say) must not change which inputs the backward pass sees as the maxima.
    return out, PoolCache(g, x, out.copy(), argmax=None)


def max_pool_backward_fast(dout: Any, cache: Any) -> Any:
    """Backward pass of a max-pooling layer.

    Each window's upstream gradient goes to one input: the first maximum of the window in
    row-major order (the one ``np.argmax`` picks). Where windows overlap (stride < pool size),
    an input that is the maximum of several windows receives the sum of their gradients.

    Inputs:
    - dout: upstream gradient, shape (N, C, H', W')
    - cache: the cache returned by max_pool_forward_fast

    Returns dx: gradient with respect to x, shape (N, C, H, W).
    """
    gpu = _gpu_kernels(dout)
    if gpu is not None:
        return gpu.max_pool_backward_fast(dout, cache)
    g: PoolGeometry = cache.geometry
    check_upstream_shape(dout, (g.N, g.C, g.H_out, g.W_out), "max_pool_backward_fast")
    xp = get_array_module(dout)
    x, out = cache.x, cache.out
    dtype = np.result_type(dout.dtype, x.dtype)
    if cache.argmax is not None:  # the forward pass used the compiled loops
        dout = np.ascontiguousarray(dout, dtype=dtype)
        dx_compiled = np.empty(x.shape, dtype=dtype)

        def route_compiled(lo: int, hi: int) -> None:
            pool_loops.backward(dout[lo:hi], cache.argmax[lo:hi], dx_compiled[lo:hi])

        _over_batch(xp, route_compiled, g.N, x.size, uses_blas=False)
        return dx_compiled
    windows = window_view(x, g.pool_h, g.pool_w, g.stride_h, g.stride_w, g.H_out, g.W_out)
    # Windows that tile x exactly (2x2, stride 2 on an even input, say): a faster way below.
    exact_tiles = g.tiles_exactly and x.flags.c_contiguous
    dx = (xp.empty if exact_tiles else xp.zeros)(x.shape, dtype=dtype)
    # dx_windows[:, :, i, j] are the pixels at offset (i, j) of every window, as a writable view.
    dx_windows = _writable_window_view(dx, g)
    offsets = _window_offsets(g)

    def route(lo: int, hi: int) -> None:
        if exact_tiles:
            # x seen as rows of windows, (rows, PH, W), against each window's maximum and
            # gradient repeated over its PW columns, (rows, 1, W): two passes over whole rows,
            # which pixels are their window's maximum, then their gradient. That is the answer
            # unless some window has tied maxima (only the first may receive the gradient),
            # which the count of maxima shows; then the general way below.
            rows = (hi - lo) * g.C * g.H_out
            window_max = xp.repeat(out[lo:hi], g.pool_w, axis=3).reshape(rows, 1, g.W)
            at_max = x[lo:hi].reshape(rows, g.pool_h, g.W) == window_max
            if int(xp.count_nonzero(at_max)) == out[lo:hi].size:  # one maximum per window
                window_grad = xp.repeat(dout[lo:hi], g.pool_w, axis=3).reshape(rows, 1, g.W)
                xp.multiply(at_max, window_grad, out=dx[lo:hi].reshape(rows, g.pool_h, g.W))
                return
        # Visit the offsets in row-major order. `unrouted` holds each window's gradient until
        # the window's first maximum takes it; later ties find 0 left. One pass over all windows
        # per offset, all on whole arrays.
        unrouted = xp.array(dout[lo:hi], dtype=dtype)  # a copy we can modify
        for k, (i, j) in enumerate(offsets):
            is_max = windows[lo:hi, :, i, j] == out[lo:hi]
            routed = unrouted * is_max
            if g.tiles:  # windows do not overlap: each pixel gets at most one gradient
                dx_windows[lo:hi, :, i, j] = routed
            else:
                dx_windows[lo:hi, :, i, j] += routed
            if k + 1 < len(offsets):
                unrouted -= routed

    _over_batch(xp, route, g.N, x.size, uses_blas=False)
    return dx


def _uses_pool_loops(g: PoolGeometry, x: Any, xp: ModuleType) -> bool:
    """Whether max pooling goes through the compiled loops: 2x2 windows at stride 2 that tile
    a C-contiguous float input exactly, big enough, when Numba is installed and works here."""
    return (
        xp is np
        and (g.pool_h, g.pool_w, g.stride_h, g.stride_w) == (2, 2, 2, 2)
        and g.tiles_exactly
        and x.flags.c_contiguous
        and x.size >= POOL_LOOPS_MIN_ELEMENTS
        and pool_loops.kernels(x.dtype) is not None
    )


def _window_offsets(g: PoolGeometry) -> list[tuple[int, int]]:
    """The offsets (i, j) inside a pooling window, in row-major order."""
    return [(i, j) for i in range(g.pool_h) for j in range(g.pool_w)]


def _writable_window_view(dx: Any, g: PoolGeometry) -> Any:
    """Like window_view, but writable, for scattering gradients back into dx (N, C, H, W)."""
    xp = get_array_module(dx)
    sN, sC, sH, sW = dx.strides
    shape = (g.N, g.C, g.pool_h, g.pool_w, g.H_out, g.W_out)
    strides = (sN, sC, sH, sW, sH * g.stride_h, sW * g.stride_w)
    return xp.lib.stride_tricks.as_strided(dx, shape=shape, strides=strides)


# ---------------------------------------------------------------------------------------------
# Helpers: dtypes, devices, dispatch to GPU kernels
# ---------------------------------------------------------------------------------------------


def _compute_dtype(*arrays: Any) -> np.dtype:
    """The floating dtype to compute in: float32 stays float32, integers become float64."""
    dtype = np.result_type(*(a.dtype for a in arrays))
    return dtype if np.issubdtype(dtype, np.floating) else np.dtype(np.float64)


def _same_array_module(*arrays: Any) -> ModuleType:
    xp = get_array_module(*arrays)
    if any(get_array_module(a) is not xp for a in arrays):
        raise ValueError(
            "x, w and b must all be on the same device (all NumPy or all CuPy arrays); "
            "move them with cs231kit.backend.to_device or to_numpy."
        )
    return xp


def _sum_in_order(parts: dict[int, Any]) -> Any:
    """Sum per-chunk partial results in batch order, so the rounding is the same every run."""
    keys = sorted(parts)
    total = parts[keys[0]].copy()
    for key in keys[1:]:
        total += parts[key]
    return total


def _over_batch(
    xp: ModuleType, step: Any, batch: int, elements: int, uses_blas: bool = True
) -> None:
    """Run step(lo, hi) over the batch: in parallel chunks on NumPy, in one go on a GPU."""
    if xp is np:
        # Pooling is a string of short element-wise passes; below POOL_MIN_ELEMENTS_TO_SPLIT
        # threads were measured to gain nothing, so only convolutions split small batches.
        min_elements = MIN_ELEMENTS_TO_SPLIT if uses_blas else POOL_MIN_ELEMENTS_TO_SPLIT
        split_over_batch(step, batch, elements, uses_blas=uses_blas, min_elements=min_elements)
    else:
        step(0, batch)


_NO_GPU_KERNELS = object()
_gpu_kernels_module: Any = None


def _gpu_kernels(*arrays: Any) -> Any:
    """The CuPy-specific kernels module for CuPy input, or None to use the code in this file.

    NumPy input always runs here. For CuPy input, ``cs231kit.fast_layers_cupy`` (custom GPU
    kernels) is used when it exists; otherwise the code here runs on CuPy unchanged, since it
    only uses functions that NumPy and CuPy share.
    """
    global _gpu_kernels_module
    if get_array_module(*arrays) is np:
        return None
    if _gpu_kernels_module is None:
        try:
            _gpu_kernels_module = importlib.import_module("cs231kit.fast_layers_cupy")
        except ModuleNotFoundError as exc:
            if exc.name != "cs231kit.fast_layers_cupy":
                raise
            _gpu_kernels_module = _NO_GPU_KERNELS
    return None if _gpu_kernels_module is _NO_GPU_KERNELS else _gpu_kernels_module
