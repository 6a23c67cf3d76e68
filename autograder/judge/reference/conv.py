"""Reference convolution and max pooling (notebook 05), and the size formulas and filters.

- ``conv_forward_naive`` / ``conv_backward_naive`` and ``max_pool_forward_naive`` /
  ``max_pool_backward_naive``: the answers to the graded "naive" layers. They loop over output
  positions and vectorise over the batch and the filters, which keeps them easy to check by eye and
  fast enough for tests.
- ``conv_relu_forward`` / ``conv_relu_pool_forward`` and their backward passes: sandwich layers
  built on the library's given fast layers (``cs231kit.fast_layers``), used by the models.

Shapes: inputs x (N, C, H, W); filters w (F, C, HH, WW); biases b (F,).
The naive layers take H' = 1 + (H + 2 * pad - HH) // stride (the last rows a window cannot reach
are ignored, as in the libraries). The graded ``conv_output_size(W, F, P, S)`` is notebook 05's
stricter formula (W - F + 2P) / S + 1, an error when the stride does not tile the input exactly;
``conv_param_count`` and ``make_filters`` (four hand-set 9x9 filters) are notebook 05's too.
Works on NumPy or CuPy arrays alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autograder.judge.reference.layers import relu_backward, relu_forward
from cs231kit.backend import get_array_module
from cs231kit.fast_layers import (
    conv_backward_fast,
    conv_forward_fast,
    max_pool_backward_fast,
    max_pool_forward_fast,
)

Array = Any  # a NumPy or CuPy ndarray
Cache = Any


# ---------------------------------------------------------------------- naive convolution


def _output_length(size: int, filter_size: int, stride: int, pad: int) -> int:
    """Output length along one axis: 1 + (size + 2 * pad - filter_size) // stride.

    When the stride does not divide (size + 2 * pad - filter_size), the last rows or columns that
    no window reaches are ignored (e.g. 224 wide, filter 9, pad 4, stride 2 gives 112).
    Raises ValueError if the filter is larger than the padded input.
    """
    span = size + 2 * pad - filter_size
    if span < 0:
        raise ValueError(
            f"A filter of size {filter_size} does not fit an input of size {size} padded by {pad} "
            "on each side; use a smaller filter or more padding."
        )
    return 1 + span // stride


def conv_forward_naive(
    x: Array, w: Array, b: Array, conv_param: dict[str, int]
) -> tuple[Array, Cache]:
    """Convolution forward (cross-correlation, as in every deep-learning library).

    Inputs:
    - x: (N, C, H, W) input
    - w: (F, C, HH, WW) filters
    - b: (F,) biases
    - conv_param: dict with "stride" and "pad" (zero padding on each side of H and W)

    Returns a tuple of:
    - out: (N, F, H', W'), out[n, f, i, j] = sum(window(n, i, j) * w[f]) + b[f]
    - cache: (x, w, b, conv_param)
    """
    xp = get_array_module(x)
    stride, pad = conv_param["stride"], conv_param["pad"]
    num_images, _, height, width = x.shape
    num_filters, _, filter_h, filter_w = w.shape
    out_h = _output_length(height, filter_h, stride, pad)
    out_w = _output_length(width, filter_w, stride, pad)

    x_pad = xp.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = xp.empty((num_images, num_filters, out_h, out_w), dtype=xp.result_type(x, w))
    for i in range(out_h):
        for j in range(out_w):
            top, left = i * stride, j * stride
            window = x_pad[:, :, top : top + filter_h, left : left + filter_w]  # (N, C, HH, WW)
            # Contract over (C, HH, WW): every image against every filter.
            out[:, :, i, j] = xp.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout: Array, cache: Cache) -> tuple[Array, Array, Array]:
    """Convolution backward.

    Inputs:
    - dout: (N, F, H', W') upstream gradient
    - cache: (x, w, b, conv_param) from conv_forward_naive

    Returns a tuple of:
    - dx: (N, C, H, W)
    - dw: (F, C, HH, WW)
    - db: (F,)
    """
    xp = get_array_module(dout)
    x, w, _, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    _, _, height, width = x.shape
    _, _, filter_h, filter_w = w.shape
    _, _, out_h, out_w = dout.shape

    x_pad = xp.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx_pad = xp.zeros_like(x_pad, dtype=xp.result_type(dout, w))
    dw = xp.zeros_like(w, dtype=xp.result_type(dout, x))
    for i in range(out_h):
        for j in range(out_w):
            top, left = i * stride, j * stride
            window = x_pad[:, :, top : top + filter_h, left : left + filter_w]
            g = dout[:, :, i, j]  # (N, F)
            # out[n, f, i, j] touched window n through filter f: route the gradient both ways.
            dx_pad[:, :, top : top + filter_h, left : left + filter_w] += xp.tensordot(
                g, w, axes=([1], [0])
            )
            dw += xp.tensordot(g, window, axes=([0], [0]))
    db = dout.sum(axis=(0, 2, 3))
    dx = dx_pad[:, :, pad : pad + height, pad : pad + width]
    return dx, dw, db


# ---------------------------------------------------------------------- naive max pooling


def max_pool_forward_naive(x: Array, pool_param: dict[str, int]) -> tuple[Array, Cache]:
    """Max-pooling forward.

    Inputs:
    - x: (N, C, H, W) input
    - pool_param: dict with "pool_height", "pool_width" and "stride"

    Returns a tuple of:
    - out: (N, C, H', W') with H' = 1 + (H - pool_height) // stride, W' likewise
    - cache: (x, pool_param)
    """
    xp = get_array_module(x)
    pool_h, pool_w = pool_param["pool_height"], pool_param["pool_width"]
    stride = pool_param["stride"]
    num_images, channels, height, width = x.shape
    out_h = _output_length(height, pool_h, stride, 0)
    out_w = _output_length(width, pool_w, stride, 0)

    out = xp.empty((num_images, channels, out_h, out_w), dtype=x.dtype)
    for i in range(out_h):
        for j in range(out_w):
            top, left = i * stride, j * stride
            out[:, :, i, j] = x[:, :, top : top + pool_h, left : left + pool_w].max(axis=(2, 3))
    return out, (x, pool_param)


def max_pool_backward_naive(dout: Array, cache: Cache) -> Array:
    """Max-pooling backward: each window's gradient goes to the position of its maximum.

    When a window holds several equal maxima, the first one (in row-major order) gets it.

    Inputs:
    - dout: (N, C, H', W') upstream gradient
    - cache: (x, pool_param) from max_pool_forward_naive

    Returns:
    - dx: (N, C, H, W)
    """
    xp = get_array_module(dout)
    x, pool_param = cache
    pool_h, pool_w = pool_param["pool_height"], pool_param["pool_width"]
    stride = pool_param["stride"]
    num_images, channels, _, _ = x.shape
    _, _, out_h, out_w = dout.shape

    dx = xp.zeros_like(x, dtype=dout.dtype)
    positions = xp.arange(pool_h * pool_w)
    for i in range(out_h):
        for j in range(out_w):
            top, left = i * stride, j * stride
            window = x[:, :, top : top + pool_h, left : left + pool_w]
            winner = window.reshape(num_images, channels, -1).argmax(axis=2)  # (N, C)
            one_hot = (positions == winner[:, :, None]).reshape(window.shape)
            dx[:, :, top : top + pool_h, left : left + pool_w] += (
                one_hot * dout[:, :, i, j][:, :, None, None]
            )
    return dx


# ---------------------------------------------------------------------- fast sandwiches


def conv_relu_forward(
    x: Array, w: Array, b: Array, conv_param: dict[str, int]
) -> tuple[Array, Cache]:
    """Convolution (fast layer) followed by a ReLU.

    Inputs:
    - x: (N, C, H, W); w: (F, C, HH, WW); b: (F,); conv_param: {"stride": S, "pad": P}

    Returns a tuple of:
    - out: (N, F, H', W')
    - cache: (conv cache, relu cache)
    """
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    out, relu_cache = relu_forward(a)
    return out, (conv_cache, relu_cache)


def conv_relu_backward(dout: Array, cache: Cache) -> tuple[Array, Array, Array]:
    """Backward pass of conv_relu_forward.

    Inputs:
    - dout: (N, F, H', W') upstream gradient
    - cache: from conv_relu_forward

    Returns dx (N, C, H, W), dw (F, C, HH, WW), db (F,).
    """
    conv_cache, relu_cache = cache
    da = relu_backward(dout, relu_cache)
    return conv_backward_fast(da, conv_cache)


def conv_relu_pool_forward(
    x: Array,
    w: Array,
    b: Array,
    conv_param: dict[str, int],
    pool_param: dict[str, int],
) -> tuple[Array, Cache]:
    """Convolution, ReLU, then max pooling (all through the fast layers).

    Inputs:
    - x: (N, C, H, W); w: (F, C, HH, WW); b: (F,)
    - conv_param: {"stride": S, "pad": P}
    - pool_param: {"pool_height": PH, "pool_width": PW, "stride": PS}

    Returns a tuple of:
    - out: (N, F, H'', W''), the pooled feature maps
    - cache: (conv cache, relu cache, pool cache)
    """
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    s, relu_cache = relu_forward(a)
    out, pool_cache = max_pool_forward_fast(s, pool_param)
    return out, (conv_cache, relu_cache, pool_cache)


def conv_relu_pool_backward(dout: Array, cache: Cache) -> tuple[Array, Array, Array]:
    """Backward pass of conv_relu_pool_forward.

    Inputs:
    - dout: (N, F, H'', W'') upstream gradient
    - cache: from conv_relu_pool_forward

    Returns dx (N, C, H, W), dw (F, C, HH, WW), db (F,).
    """
    conv_cache, relu_cache, pool_cache = cache
    ds = max_pool_backward_fast(dout, pool_cache)
    da = relu_backward(ds, relu_cache)
    return conv_backward_fast(da, conv_cache)


# ---------------------------------------------------------------------- sizes and filters

FILTER_SIZE = 9  # the lecture's 4 filters of size 9x9 on a 1x224x224 image


def conv_output_size(W: int, F: int, P: int, S: int) -> int:
    """Output length along one axis: (W - F + 2P) / S + 1.

    Inputs:
    - W: input size, F: filter size, P: zero padding on each side, S: stride

    Returns the output size as an int; raises ValueError when the filter does not tile the padded
    input exactly.
    """
    span = W - F + 2 * P
    if span < 0:
        raise ValueError(f"A filter of size F={F} exceeds the padded input W + 2P = {W + 2 * P}.")
    if span % S != 0:
        raise ValueError(f"Stride S={S} does not fit: (W - F + 2P) / S = {span} / {S}.")
    return span // S + 1


def conv_param_count(F: int, C: int, HH: int, WW: int) -> int:
    """Number of learnable numbers of a conv layer: F * C * HH * WW weights plus F biases.

    Inputs:
    - F: number of filters; C: input channels; HH, WW: filter height and width

    Returns an int.
    """
    return F * C * HH * WW + F


def make_filters() -> tuple[np.ndarray, np.ndarray]:
    """Four hand-set filters for a one-channel image, in this order:

    0. identity: 1 at the centre, so the output is the input;
    1. box blur: the average of the 9x9 neighbourhood (all weights 1/81, summing to 1);
    2. horizontal edges: + above the centre row, - below it (each column sums to 0), so it
       responds where intensity changes from top to bottom and ignores left-right changes;
    3. vertical edges: the transpose of 2 (+ left of the centre column, - right of it).

    Returns:
    - w: (4, 1, 9, 9) filters
    - b: (4,) biases, all 0
    """
    size, centre = FILTER_SIZE, FILTER_SIZE // 2
    w = np.zeros((4, 1, size, size))
    w[0, 0, centre, centre] = 1.0
    w[1, 0] = 1.0 / size**2
    rows = np.sign(centre - np.arange(size))[:, None]  # +1 above the centre, -1 below
    w[2, 0] = np.broadcast_to(rows, (size, size)) / (centre * size)
    w[3, 0] = w[2, 0].T
    return w, np.zeros(4)
