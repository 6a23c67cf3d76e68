"""Reference answers of notebook 05 that the shared reference modules do not hold.

- ``conv_output_size(W, F, P, S)``: the notebook's argument order (input size, filter size, pad,
  stride) and its strict rule: a stride that does not fit evenly is an error. (The shared
  ``conv_layers.conv_output_size(size, filter_size, stride, pad)`` rounds down instead, as the
  libraries do.)
- ``conv_param_count(F, C, HH, WW)``: weights and biases of a conv layer with F filters.
- ``make_filters()``: four hand-set 9x9 filters (identity, box blur, horizontal edges, vertical
  edges) for a one-channel image.

The naive conv/pool layers and the three-layer ConvNet are in ``conv_layers`` and ``models``.
"""

from __future__ import annotations

import numpy as np

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
