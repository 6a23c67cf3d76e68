"""Conv and max-pool layers as plain loops, the way a student first writes them in notebook 05:
a Python loop over every image, filter (or channel) and output position, NumPy only inside one
window. The timing baseline of ``conv_cpu.py``'s part (a), "fast vs naive" on CS231n's cell.

(The grader's references, ``autograder/judge/reference/conv.py``, loop over output positions only
and are an order of magnitude faster than these; ``conv_cpu.py`` checks both against the fast
layers.)
"""

from __future__ import annotations

import numpy as np


def conv_forward_loops(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, pad: int):
    """x: (N, C, H, W), w: (F, C, HH, WW), b: (F,) -> out (N, F, H', W'), cache."""
    N, _, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out, W_out = 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.empty((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    window = x_pad[n, :, i * stride : i * stride + HH, j * stride : j * stride + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out, (x_pad, w, stride, pad)


def conv_backward_loops(dout: np.ndarray, cache):
    """dout: (N, F, H', W') -> dx (N, C, H, W), dw (F, C, HH, WW), db (F,)."""
    x_pad, w, stride, pad = cache
    N, F, H_out, W_out = dout.shape
    _, _, HH, WW = w.shape
    dx_pad, dw = np.zeros_like(x_pad), np.zeros_like(w)
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    rows = slice(i * stride, i * stride + HH)
                    cols = slice(j * stride, j * stride + WW)
                    dw[f] += x_pad[n, :, rows, cols] * dout[n, f, i, j]
                    dx_pad[n, :, rows, cols] += w[f] * dout[n, f, i, j]
    H, W = x_pad.shape[2] - 2 * pad, x_pad.shape[3] - 2 * pad
    return dx_pad[:, :, pad : pad + H, pad : pad + W], dw, dout.sum(axis=(0, 2, 3))


def max_pool_forward_loops(x: np.ndarray, size: int, stride: int):
    """x: (N, C, H, W), size x size windows -> out (N, C, H', W'), cache."""
    N, C, H, W = x.shape
    H_out, W_out = 1 + (H - size) // stride, 1 + (W - size) // stride
    out = np.empty((N, C, H_out, W_out))
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    window = x[n, c, i * stride : i * stride + size, j * stride : j * stride + size]
                    out[n, c, i, j] = window.max()
    return out, (x, size, stride)


def max_pool_backward_loops(dout: np.ndarray, cache) -> np.ndarray:
    """dout: (N, C, H', W') -> dx (N, C, H, W): each window's gradient to its first maximum."""
    x, size, stride = cache
    N, C, H_out, W_out = dout.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    window = x[n, c, i * stride : i * stride + size, j * stride : j * stride + size]
                    a, b = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * stride + a, j * stride + b] += dout[n, c, i, j]
    return dx
