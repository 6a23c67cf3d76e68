"""Winograd's minimal filtering F(2x2, 3x3): 3x3 stride-1 convolutions with 2.25x fewer multiplies.

im2col multiplies every 3x3 window with every filter: 9 multiplies per output and input channel.
Winograd's algorithm (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2015)
computes a 2x2 block of outputs from the 4x4 input tile under it with 16 multiplies, 4 per
output, after transforming the tile and the filter with a few additions.

In one dimension, F(2, 3) gives two outputs of a 3-tap correlation, y[a] = sum_i d[a + i] g[i],
from a 4-sample tile d:

    y = A^T [(G g) * (B^T d)]        (* is element-wise: 4 multiplies instead of 6)

    B^T = [[1, 0, -1, 0],    G = [[1,    0,   0],     A^T = [[1, 1,  1,  0],
           [0, 1,  1, 0],         [1/2,  1/2, 1/2],          [0, 1, -1, -1]]
           [0, -1, 1, 0],         [1/2, -1/2, 1/2],
           [0, 1,  0, -1]]        [0,    0,   1]]

Check y[0] by hand: the products are g0 (d0 - d2), (g0 + g1 + g2)/2 (d1 + d2) and
(g0 - g1 + g2)/2 (d2 - d1); their sum is g0 d0 + g1 d1 + g2 d2. In two dimensions the matrices
act on the rows, then on the columns:

    Y = A^T [(G g G^T) * (B^T d B)] A        g: 3x3 filter, d: 4x4 tile, Y: 2x2 outputs

For a whole layer, output tile entry (xi, nu) sums V[xi, nu, c, tile] * U[xi, nu, c, f] over
the input channels c, where U = G g G^T are the transformed filters and V = B^T d B the
transformed tiles. That sum is a matrix multiply, one per (xi, nu): 16 products
(tiles, C) @ (C, F), done by BLAS. Only the transforms are written out below, as loops over
tiles; Numba compiles them to machine code (NumPy passes over so many small tiles were measured
to cost as much as the multiplies they save).

The backward pass needs two more correlations:
- dx correlates dout, padded by 2 - pad, with the filters rotated by 180 degrees and F, C
  swapped: the forward algorithm again.
- dw correlates the input with dout. Differentiating Y above with respect to g gives, per tile,
  dw = G^T [(A dout_tile A^T) * (B^T d B)] G; summed over tiles, that is 16 products
  (F, tiles) @ (tiles, C) (``filter_gradient``).

The entries of B^T, G and A^T are 0, +-1 and +-1/2, so the transforms only add and halve: the
results agree with im2col's to the rounding of a sum.

Every function works on one chunk of images; ``cs231kit.fast_layers`` hands each thread its chunk
and uses this module for 3x3 stride-1 layers when Numba is installed (``kernels``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cs231kit.compiled_loops import Kernels, conv_by_definition
from cs231kit.im2col import pad_images
from cs231kit.scratch_buffers import scratch

G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])
# With row-major flattening, P X Q = kron(P, Q^T) @ X.ravel(): the last step of dw, G^T M G, as
# one matrix multiply for all filters and channels.
FILTER_GRADIENT_TRANSFORM = np.kron(G.T, G.T)  # (9, 16)

__all__ = ["applies", "kernels", "buffer_size", "transform_filters", "correlate", "filter_gradient"]


def applies(HH: int, WW: int, stride_h: int, stride_w: int, pad_h: int, pad_w: int) -> bool:
    """True for the convolutions done here: 3x3 filters, stride 1, pad at most 2 (so that dx,
    a correlation of dout padded by 2 - pad, is one as well)."""
    return (HH, WW, stride_h, stride_w) == (3, 3, 1, 1) and pad_h <= 2 and pad_w <= 2


def buffer_size(N: int, C: int, F: int, H_out: int, W_out: int) -> int:
    """Entries of the largest temporary array for a batch: the transformed tiles or products."""
    return 16 * N * -(-H_out // 2) * -(-W_out // 2) * max(C, F)


def transform_filters(w: Any) -> Any:
    """U = G w G^T for every filter and channel.

    Inputs:
    - w: filters (F, C, 3, 3)

    Returns U: (16, C, F), C-contiguous, in w's dtype; U[4*xi + nu, c, f] = (G w[f, c] G^T)[xi, nu].
    """
    F, C = w.shape[:2]
    # Additions rather than a matrix multiply: outside the chunk threads a multiply would use
    # BLAS's own threads, which then keep a core spinning (see cs231kit/batch_threads.py).
    # G's rows are (1, 0, 0), (1/2, 1/2, 1/2), (1/2, -1/2, 1/2), (0, 0, 1): G w, row by row ...
    r0, r1, r2 = w[:, :, 0], w[:, :, 1], w[:, :, 2]  # (F, C, 3) each
    Gw = np.stack([r0, (r0 + r1 + r2) / 2, (r0 - r1 + r2) / 2, r2], axis=2)  # (F, C, 4, 3)
    # ... then (G w) G^T, column by column.
    c0, c1, c2 = Gw[..., 0], Gw[..., 1], Gw[..., 2]  # (F, C, 4) each
    U = np.stack([c0, (c0 + c1 + c2) / 2, (c0 - c1 + c2) / 2, c2], axis=3)  # (F, C, 4, 4)
    return np.ascontiguousarray(U.reshape(F, C, 16).transpose(2, 1, 0))


def correlate(x: Any, U: Any, pad_h: int, pad_w: int, out: Any, bias: Any = None) -> Any:
    """3x3 stride-1 correlation (a conv layer's forward pass) of one chunk of images.

    Inputs:
    - x: (n, C, H, W), any float dtype and layout
    - U: transformed filters (16, C, F) from ``transform_filters``; its dtype is the compute dtype
    - pad_h, pad_w: zeros added on every side of x
    - out: C-contiguous (n, F, H_out, W_out), H_out = H + 2*pad_h - 2, W_out = W + 2*pad_w - 2;
      written
    - bias: optional (F,) in U's dtype, added to every output

    Returns out. Needs ``kernels(U.dtype)``.
    """
    k = kernels(U.dtype)
    n, F, H_out, W_out = out.shape
    th, tw = -(-H_out // 2), -(-W_out // 2)
    V = _transformed_tiles(x, pad_h, pad_w, th, tw, U.dtype)  # (16, C, n*th*tw)
    M = _planes("winograd products", (16, n * th * tw, F), U.dtype, x)
    np.matmul(V.transpose(0, 2, 1), U, out=M)  # M[k] = V[k]^T @ U[k]: the sums over channels
    k.output_transform(M, np.zeros(F, U.dtype) if bias is None else bias, th, tw, out)
    return out


def filter_gradient(x: Any, dout: Any, pad_h: int, pad_w: int) -> Any:
    """dL/dw of a 3x3 stride-1 convolution, summed over one chunk of images.

    Inputs:
    - x: the layer's input (n, C, H, W)
    - dout: upstream gradient (n, F, H_out, W_out), C-contiguous, in the compute dtype
    - pad_h, pad_w: the layer's padding

    Returns dw: (F, C, 3, 3), a new array in dout's dtype. Needs ``kernels(dout.dtype)``.
    """
    k = kernels(dout.dtype)
    n, F, H_out, W_out = dout.shape
    th, tw = -(-H_out // 2), -(-W_out // 2)
    V = _transformed_tiles(x, pad_h, pad_w, th, tw, dout.dtype)  # (16, C, T)
    if (2 * th, 2 * tw) != (H_out, W_out):  # zeros below and right, to make whole 2x2 tiles
        whole = scratch("winograd dout padded", (n, F, 2 * th, 2 * tw), dout.dtype, dout)
        dout = pad_images(dout, 0, 0, dout.dtype, out=whole)
    D = _planes("winograd dout transformed", (16, F, n * th * tw), dout.dtype, x)
    k.dout_transform(dout, th, tw, D)
    M = np.matmul(D, V.transpose(0, 2, 1))  # (16, F, C): sums over tiles, per (xi, nu)
    dw = FILTER_GRADIENT_TRANSFORM.astype(dout.dtype) @ M.reshape(16, -1)  # G^T M G: (9, F*C)
    return np.ascontiguousarray(dw.reshape(3, 3, F, -1).transpose(2, 3, 0, 1))


def _transformed_tiles(x: Any, pad_h: int, pad_w: int, th: int, tw: int, dtype: Any) -> Any:
    """V = B^T d B of every 4x4 tile d of every channel: (16, C, n*th*tw), a scratch array.

    Tiles step by 2 and overlap by 2; tile (ty, tx) covers padded rows 2ty..2ty+3 and columns
    2tx..2tx+3 and gives the outputs (2ty + a, 2tx + b), a, b in {0, 1}. The padding gets extra
    zeros at the bottom and right when the output has an odd number of rows or columns.
    """
    n, C = x.shape[:2]
    padded_shape = (n, C, 2 * th + 2, 2 * tw + 2)
    padded = scratch("winograd padded", padded_shape, dtype, x)
    padded = pad_images(x, pad_h, pad_w, dtype, out=padded)
    V = _planes("winograd tiles", (16, C, n * th * tw), dtype, x)
    kernels(dtype).tile_transform(np.ascontiguousarray(padded), th, tw, V)
    return V


def _planes(name: str, shape: tuple[int, int, int], dtype: Any, like: Any) -> Any:
    """A scratch array (16, a, b) whose 16 planes lie 16 entries further apart than their size.

    The transforms read or write all 16 planes in step. Planes a multiple of 4 KB apart fall on
    the same CPU cache sets and evict each other: that made the transforms ~10x slower
    (measured on 32x32 images, 64 channels).
    """
    size = shape[1] * shape[2]
    return scratch(name, (16, size + 16), dtype, like)[:, :size].reshape(shape)


# ---------------------------------------------------------------------------------------------
# The transforms, one tile at a time (compiled by Numba; see ``kernels``)
# ---------------------------------------------------------------------------------------------


def _tile_transform(P: Any, th: int, tw: int, V: Any) -> None:
    """V[:, c, t] = B^T d B (row-major) for every tile d, t = (image, ty, tx), of every channel c.

    P: padded input (n, C, 2*th + 2, 2*tw + 2); V: (16, C, n*th*tw), written.
    """
    n, C = P.shape[0], P.shape[1]
    for i in range(n):
        for c in range(C):
            v = V[:, c]  # (16, n*th*tw): the transformed tiles of channel c
            for ty in range(th):
                d0, d1 = P[i, c, 2 * ty], P[i, c, 2 * ty + 1]  # the tiles' four rows
                d2, d3 = P[i, c, 2 * ty + 2], P[i, c, 2 * ty + 3]
                t0 = (i * th + ty) * tw
                for tx in range(tw):
                    x, t = 2 * tx, t0 + tx
                    # B^T d: rows d0 - d2, d1 + d2, d2 - d1, d1 - d3, at the tile's 4 columns
                    a0, a1 = d0[x] - d2[x], d0[x + 1] - d2[x + 1]
                    a2, a3 = d0[x + 2] - d2[x + 2], d0[x + 3] - d2[x + 3]
                    b0, b1 = d1[x] + d2[x], d1[x + 1] + d2[x + 1]
                    b2, b3 = d1[x + 2] + d2[x + 2], d1[x + 3] + d2[x + 3]
                    c0, c1 = d2[x] - d1[x], d2[x + 1] - d1[x + 1]
                    c2, c3 = d2[x + 2] - d1[x + 2], d2[x + 3] - d1[x + 3]
                    e0, e1 = d1[x] - d3[x], d1[x + 1] - d3[x + 1]
                    e2, e3 = d1[x + 2] - d3[x + 2], d1[x + 3] - d3[x + 3]
                    # (B^T d) B: the same combinations of the columns, for each of the 4 rows
                    v[0, t], v[1, t], v[2, t], v[3, t] = a0 - a2, a1 + a2, a2 - a1, a1 - a3
                    v[4, t], v[5, t], v[6, t], v[7, t] = b0 - b2, b1 + b2, b2 - b1, b1 - b3
                    v[8, t], v[9, t], v[10, t], v[11, t] = c0 - c2, c1 + c2, c2 - c1, c1 - c3
                    v[12, t], v[13, t], v[14, t], v[15, t] = e0 - e2, e1 + e2, e2 - e1, e1 - e3


def _output_transform(M: Any, bias: Any, th: int, tw: int, out: Any) -> None:
    """out = A^T m A + bias for every tile, m = M[:, t, f] as a 4x4 matrix.

    M: (16, n*th*tw, F); bias: (F,); out: (n, F, H_out, W_out), written (the outputs of tiles that
    hang over an odd bottom or right edge are dropped).
    """
    n, F, H_out, W_out = out.shape
    rows = np.empty((F, 2, 2 * tw), M.dtype)  # one row of tiles, gathered before writing out
    for i in range(n):
        for ty in range(th):
            t0 = (i * th + ty) * tw
            for tx in range(tw):
                t, x = t0 + tx, 2 * tx
                for f in range(F):
                    # A^T m: rows m0 + m1 + m2 and m1 - m2 - m3 (m0..m3: the rows of m)
                    p0 = M[0, t, f] + M[4, t, f] + M[8, t, f]
                    p1 = M[1, t, f] + M[5, t, f] + M[9, t, f]
                    p2 = M[2, t, f] + M[6, t, f] + M[10, t, f]
                    p3 = M[3, t, f] + M[7, t, f] + M[11, t, f]
                    q0 = M[4, t, f] - M[8, t, f] - M[12, t, f]
                    q1 = M[5, t, f] - M[9, t, f] - M[13, t, f]
                    q2 = M[6, t, f] - M[10, t, f] - M[14, t, f]
                    q3 = M[7, t, f] - M[11, t, f] - M[15, t, f]
                    # (A^T m) A: the same combinations of the columns
                    rows[f, 0, x] = p0 + p1 + p2 + bias[f]
                    rows[f, 0, x + 1] = p1 - p2 - p3 + bias[f]
                    rows[f, 1, x] = q0 + q1 + q2 + bias[f]
                    rows[f, 1, x + 1] = q1 - q2 - q3 + bias[f]
            for f in range(F):
                for a in range(min(2, H_out - 2 * ty)):
                    for x in range(W_out):
                        out[i, f, 2 * ty + a, x] = rows[f, a, x]


def _dout_transform(dout: Any, th: int, tw: int, D: Any) -> None:
    """D[:, f, t] = A g A^T (row-major) for every 2x2 tile g, t = (image, ty, tx), of dout[:, f].

    A's rows are (1, 0), (1, 1), (1, -1), (0, -1). dout: (n, F, 2*th, 2*tw); D: (16, F, n*th*tw).
    """
    n, F = dout.shape[0], dout.shape[1]
    for i in range(n):
        for f in range(F):
            for ty in range(th):
                g0, g1 = dout[i, f, 2 * ty], dout[i, f, 2 * ty + 1]  # the tiles' two rows
                t0 = (i * th + ty) * tw
                for tx in range(tw):
                    x, t = 2 * tx, t0 + tx
                    # A g: rows g0, g0 + g1, g0 - g1, -g1, at the tile's 2 columns
                    a0, a1 = g0[x], g0[x + 1]
                    b0, b1 = g0[x] + g1[x], g0[x + 1] + g1[x + 1]
                    c0, c1 = g0[x] - g1[x], g0[x + 1] - g1[x + 1]
                    e0, e1 = -g1[x], -g1[x + 1]
                    # (A g) A^T: the same combinations of the columns, for each of the 4 rows
                    D[0, f, t], D[1, f, t], D[2, f, t], D[3, f, t] = a0, a0 + a1, a0 - a1, -a1
                    D[4, f, t], D[5, f, t], D[6, f, t], D[7, f, t] = b0, b0 + b1, b0 - b1, -b1
                    D[8, f, t], D[9, f, t], D[10, f, t], D[11, f, t] = c0, c0 + c1, c0 - c1, -c1
                    D[12, f, t], D[13, f, t], D[14, f, t], D[15, f, t] = e0, e0 + e1, e0 - e1, -e1


def kernels(dtype: Any) -> Any:
    """The three transforms compiled by Numba for dtype (float32 or float64), or None when Numba
    is not installed or cannot compile here; then ``cs231kit.fast_layers`` uses im2col instead.
    See ``cs231kit/compiled_loops.py``."""
    return KERNELS.get(dtype)


def _trial_run(dtype: Any) -> None:
    """Compile the kernels with the argument types of real calls and check one small layer."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5, 4)).astype(dtype)
    w = rng.standard_normal((2, 3, 3, 3)).astype(dtype)
    dout = rng.standard_normal((2, 2, 5, 4)).astype(dtype)
    out = correlate(x, transform_filters(w), 1, 1, np.empty((2, 2, 5, 4), dtype))
    dw = filter_gradient(x, dout, 1, 1)
    want_out, want_dw, _ = conv_by_definition(x, w, dout, (1, 1), (1, 1))
    tol = 1e-4 if dtype == np.float32 else 1e-10
    if not (np.allclose(out, want_out, atol=tol) and np.allclose(dw, want_dw, atol=tol)):
        raise ArithmeticError("compiled Winograd transforms disagree with direct sums")


KERNELS = Kernels(
    {
        "tile_transform": _tile_transform,
        "output_transform": _output_transform,
        "dout_transform": _dout_transform,
    },
    _trial_run,
)
