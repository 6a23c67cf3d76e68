"""Max pooling over 2x2 windows at stride 2, the ConvNet's pool, as loops compiled by Numba.

The NumPy version in ``cs231kit.fast_layers`` makes four passes over the input for the forward
pass and five over whole arrays for the backward pass. Here each pass is one loop: the forward
pass finds each window's maximum and which of its four pixels holds it (the first in row-major
order, as ``np.argmax`` does), and the backward pass sends each window's gradient to that pixel.
Measured on 13 images of 32 channels, 32x32: forward 0.04 ms against 0.25 ms in float32, 0.1 ms
against 0.3 ms in float64; backward 0.2 ms against 0.6 ms, 0.5 ms against 0.9 ms.

The comparisons skip NaN (any comparison with NaN is false), which is what lets the compiler
work on many windows at once; the forward loop reports whether it saw a NaN, and the caller then
uses NumPy's version, which lets NaN win as ``np.max`` does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cs231kit.compiled_loops import Kernels

__all__ = ["kernels", "forward", "backward"]


def kernels(dtype: Any) -> Any:
    """The two loops compiled for dtype (float32 or float64), or None (see compiled_loops.py)."""
    return KERNELS.get(dtype)


def forward(x: Any, out: Any, argmax: Any) -> bool:
    """Max pool 2x2, stride 2, of x (n, C, 2*H', 2*W'), C-contiguous.

    Writes out (n, C, H', W'): each window's maximum, and argmax (n, C, H', W') uint8: which pixel
    of its window holds it, 2*i + j for the pixel at row i, column j of the window.
    Returns True if x holds a NaN (then out and argmax are not to be used).
    """
    return bool(kernels(x.dtype).forward(x, out, argmax))


def backward(dout: Any, argmax: Any, dx: Any) -> None:
    """dx (n, C, 2*H', 2*W'): each window's gradient dout (n, C, H', W') at its argmax pixel,
    zeros elsewhere."""
    kernels(dout.dtype).backward(dout, argmax, dx)


def _forward(x: Any, out: Any, argmax: Any) -> bool:
    n, C, H_out, W_out = out.shape
    saw_nan = False
    for i in range(n):
        for c in range(C):
            for y in range(H_out):
                top, bottom = x[i, c, 2 * y], x[i, c, 2 * y + 1]  # the windows' two rows
                o, k = out[i, c, y], argmax[i, c, y]
                for w in range(W_out):
                    a, b = top[2 * w], top[2 * w + 1]
                    c_, d = bottom[2 * w], bottom[2 * w + 1]
                    saw_nan |= (a != a) | (b != b) | (c_ != c_) | (d != d)
                    m, at = a, 0
                    if b > m:
                        m, at = b, 1
                    if c_ > m:
                        m, at = c_, 2
                    if d > m:
                        m, at = d, 3
                    o[w] = m
                    k[w] = at
    return saw_nan


def _backward(dout: Any, argmax: Any, dx: Any) -> None:
    n, C, H_out, W_out = dout.shape
    for i in range(n):
        for c in range(C):
            for y in range(H_out):
                top, bottom = dx[i, c, 2 * y], dx[i, c, 2 * y + 1]
                g, k = dout[i, c, y], argmax[i, c, y]
                for w in range(W_out):
                    v, at = g[w], k[w]
                    top[2 * w] = v if at == 0 else 0
                    top[2 * w + 1] = v if at == 1 else 0
                    bottom[2 * w] = v if at == 2 else 0
                    bottom[2 * w + 1] = v if at == 3 else 0


def _trial_run(dtype: Any) -> None:
    """Compile the loops with the argument types of real calls and check them on one input with
    tied maxima."""
    x = np.array([[[[1, 3, 0, 0], [3, 2, 0, -1], [5, 1, 2, 2], [4, 5, 2, 2]]]], dtype=dtype)
    out = np.empty((1, 1, 2, 2), dtype)
    argmax = np.empty((1, 1, 2, 2), np.uint8)
    dx = np.empty_like(x)
    saw_nan = forward(x, out, argmax)
    backward(np.ones_like(out), argmax, dx)
    want_dx = [[0, 1, 1, 0], [0, 0, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]]
    if saw_nan or out.tolist() != [[[[3, 0], [5, 2]]]] or dx[0, 0].tolist() != want_dx:
        raise ArithmeticError("compiled max-pool loops disagree with the definition")


KERNELS = Kernels({"forward": _forward, "backward": _backward}, _trial_run)
