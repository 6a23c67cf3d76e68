"""Reference answers for notebook 01 (flat backprop): the grader's side, never shipped to students.

The notebook asks for these functions written "flat" (every intermediate named, forward then
backward). Here they are composed from the reference layers instead, so that the two derivations
check each other:

- ``sigmoid_circuit``: f = sigmoid(w0*x0 + w1*x1 + w2) and its gradients (lecture example)
- ``svm_loss_vectorized`` / ``softmax_loss_vectorized``: linear-classifier losses with L2
  regularisation ``reg * sum(W * W)`` (so the gradient carries ``2 * reg * W``)
- ``two_layer_net``: affine - ReLU - affine - softmax, the same regularisation on W1 and W2 only
- ``sample_log_uniform``: random-search sampling in log space
- ``should_abort``: the "loss exploded" test of a random-search trial
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from autograder.reference import layers

Array = np.ndarray
PARAM_NAMES = ("W1", "b1", "W2", "b2")


def sigmoid_circuit(w: Array, x: Array) -> tuple[float, Array, Array]:
    """f(w, x) = sigmoid(w[0] * x[0] + w[1] * x[1] + w[2]) and its gradient.

    Inputs:
    - w: (3,) weights, the last one a bias
    - x: (2,) inputs

    Returns a tuple of:
    - f: Python float in (0, 1)
    - dw: (3,) df/dw
    - dx: (2,) df/dx
    """
    w = np.asarray(w, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    # Bias trick: append a constant 1 so the bias is one more weight.
    inputs = np.append(x, 1.0)
    activation = float(inputs @ w)
    out, cache = layers.sigmoid_forward(np.array([activation]))
    dactivation = layers.sigmoid_backward(np.ones(1), cache)[0]
    return float(out[0]), dactivation * inputs, dactivation * w[:2]


def _with_l2(loss: float, dW: Array, W: Array, reg: float) -> tuple[float, Array]:
    """Add reg * sum(W^2) to a loss and its gradient 2 * reg * W to dW."""
    return loss + reg * float(np.sum(W**2)), dW + (2.0 * reg) * W


def svm_loss_vectorized(W: Array, X: Array, y: Array, reg: float) -> tuple[float, Array]:
    """Multiclass SVM loss (margin 1) of a linear classifier, averaged over N, plus L2.

    Inputs:
    - W: (D, C) weights; X: (N, D) data; y: (N,) labels in 0..C-1; reg: L2 strength

    Returns (loss, dW) with dW of shape (D, C).
    """
    scores, cache = layers.affine_forward(X, W, np.zeros(W.shape[1]))
    data_loss, dscores = layers.svm_loss(scores, y, delta=1.0)
    _, dW, _ = layers.affine_backward(dscores, cache)
    return _with_l2(data_loss, dW, W, reg)


def softmax_loss_vectorized(W: Array, X: Array, y: Array, reg: float) -> tuple[float, Array]:
    """Softmax (cross-entropy) loss of a linear classifier, averaged over N, plus L2.

    Inputs:
    - W: (D, C) weights; X: (N, D) data; y: (N,) labels in 0..C-1; reg: L2 strength

    Returns (loss, dW) with dW of shape (D, C).
    """
    scores, cache = layers.affine_forward(X, W, np.zeros(W.shape[1]))
    data_loss, dscores = layers.softmax_loss(scores, y)
    _, dW, _ = layers.affine_backward(dscores, cache)
    return _with_l2(data_loss, dW, W, reg)


def two_layer_net(
    X: Array, params: dict[str, Array], y: Array | None = None, reg: float = 0.0
) -> Any:
    """Two-layer net: affine - ReLU - affine - softmax, L2 on W1 and W2.

    Inputs:
    - X: (N, D); params: W1 (D, H), b1 (H,), W2 (H, C), b2 (C,); y: (N,) labels or None
    - reg: L2 strength; the loss carries reg * (sum(W1^2) + sum(W2^2))

    Returns scores (N, C) when y is None, else (loss, grads) with grads a dict of the same keys
    and shapes as params.
    """
    hidden, hidden_cache = layers.affine_relu_forward(X, params["W1"], params["b1"])
    scores, scores_cache = layers.affine_forward(hidden, params["W2"], params["b2"])
    if y is None:
        return scores
    data_loss, dscores = layers.softmax_loss(scores, y)
    dhidden, dW2, db2 = layers.affine_backward(dscores, scores_cache)
    _, dW1, db1 = layers.affine_relu_backward(dhidden, hidden_cache)
    loss, dW1 = _with_l2(data_loss, dW1, params["W1"], reg)
    loss, dW2 = _with_l2(loss, dW2, params["W2"], reg)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


def sample_log_uniform(rng: np.random.Generator, low: float, high: float, size: Any = None) -> Any:
    """Samples whose base-10 logarithm is uniform on [log10(low), log10(high)].

    Inputs:
    - rng: a NumPy Generator (the only source of randomness, so a seeded rng repeats)
    - low, high: positive bounds
    - size: None for one float, or an int / tuple for an array of that shape
    """
    exponent = rng.uniform(math.log10(low), math.log10(high), size=size)
    return np.power(10.0, exponent)


def should_abort(loss: float, initial_loss: float, factor: float = 3.0) -> bool:
    """True when a trial's loss is not finite or exceeds factor times its initial loss."""
    if not math.isfinite(loss):
        return True
    return bool(loss > factor * initial_loss)
