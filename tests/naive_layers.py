"""Plain-loop convolution and max pooling: the yardstick for the fast layers' tests and benchmark.

Deliberately simple (one Python loop iteration per output position) so that each line can be
checked against the definitions by eye. Not part of cs231kit: students write their own.

Strides and pads may be ints or (along H, along W) pairs, like the fast layers accept.
"""

from __future__ import annotations

import numpy as np


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (int(v[0]), int(v[1])) if isinstance(v, tuple | list) else (int(v), int(v))


def conv_forward_naive(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict
) -> tuple[np.ndarray, tuple]:
    """out[n, f, y, x] = sum over (c, i, j) of w[f, c, i, j] * x_pad[n, c, y*S + i, x*S + j] + b[f].

    x: (N, C, H, W), w: (F, C, HH, WW), b: (F,). Returns out (N, F, H', W') and a cache.
    """
    sh, sw = _pair(conv_param["stride"])
    ph, pw = _pair(conv_param["pad"])
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = 1 + (H + 2 * ph - HH) // sh
    W_out = 1 + (W + 2 * pw - WW) // sw
    x_pad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    out = np.zeros((N, F, H_out, W_out), dtype=np.result_type(x, w, b))
    for n in range(N):
        for f in range(F):
            for y in range(H_out):
                for xo in range(W_out):
                    field = x_pad[n, :, y * sh : y * sh + HH, xo * sw : xo * sw + WW]
                    out[n, f, y, xo] = np.sum(field * w[f]) + b[f]
    return out, (x, w, b, conv_param)


def conv_backward_naive(
    dout: np.ndarray, cache: tuple
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of conv_forward_naive: returns dx (N, C, H, W), dw (F, C, HH, WW), db (F,)."""
    x, w, b, conv_param = cache
    sh, sw = _pair(conv_param["stride"])
    ph, pw = _pair(conv_param["pad"])
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    db = np.zeros_like(b)
    for n in range(N):
        for f in range(F):
            for y in range(H_out):
                for xo in range(W_out):
                    g = dout[n, f, y, xo]
                    rows = slice(y * sh, y * sh + HH)
                    cols = slice(xo * sw, xo * sw + WW)
                    db[f] += g
                    dw[f] += g * x_pad[n, :, rows, cols]
                    dx_pad[n, :, rows, cols] += g * w[f]
    dx = dx_pad[:, :, ph : ph + H, pw : pw + W]
    return dx, dw, db


def max_pool_forward_naive(x: np.ndarray, pool_param: dict) -> tuple[np.ndarray, tuple]:
    """out[n, c, y, x] = max of the PHxPW window of x[n, c] starting at (y*S, x*S)."""
    ph, pw = pool_param["pool_height"], pool_param["pool_width"]
    sh, sw = _pair(pool_param["stride"])
    N, C, H, W = x.shape
    H_out = 1 + (H - ph) // sh
    W_out = 1 + (W - pw) // sw
    out = np.zeros((N, C, H_out, W_out), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for y in range(H_out):
                for xo in range(W_out):
                    out[n, c, y, xo] = np.max(x[n, c, y * sh : y * sh + ph, xo * sw : xo * sw + pw])
    return out, (x, pool_param)


def max_pool_backward_naive(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """Each window's gradient goes to its first maximum in row-major order (np.argmax)."""
    x, pool_param = cache
    ph, pw = pool_param["pool_height"], pool_param["pool_width"]
    sh, sw = _pair(pool_param["stride"])
    _, _, H_out, W_out = dout.shape
    dx = np.zeros(x.shape, dtype=np.result_type(x, dout))
    for n in range(dout.shape[0]):
        for c in range(dout.shape[1]):
            for y in range(H_out):
                for xo in range(W_out):
                    window = x[n, c, y * sh : y * sh + ph, xo * sw : xo * sw + pw]
                    k = int(np.argmax(window))
                    dx[n, c, y * sh + k // pw, xo * sw + k % pw] += dout[n, c, y, xo]
    return dx
