"""Reference fully-connected layers and losses (the answers to the graded layer functions).

Every layer comes as a pair:

- ``*_forward(inputs...) -> (out, cache)``: computes the output and stashes in ``cache`` what the
  backward pass will need;
- ``*_backward(dout, cache) -> gradients``: given the upstream gradient ``dout`` (same shape as
  ``out``), returns the gradient with respect to each input, each with the shape of that input.

Losses return ``(loss, dx)`` directly. Dropout is inverted dropout with notebook 04's
random-number contract: ``p`` is the probability of *keeping* a unit (as in the lecture); with a
seed the keep-mask is ``np.random.default_rng(seed).random(x.shape) < p``, without one
``np.random.random(x.shape) < p`` from NumPy's global generator; the kept units are divided by p.
``vanilla_dropout_predict`` is the test-time output after a *vanilla* (unscaled) dropout layer.
Works on NumPy or CuPy arrays alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cs231kit.backend import get_array_module

Array = Any  # a NumPy or CuPy ndarray
Cache = Any


# ---------------------------------------------------------------------- affine


def affine_forward(x: Array, w: Array, b: Array) -> tuple[Array, Cache]:
    """Affine (fully-connected) layer forward: out = x.reshape(N, D) @ w + b.

    Inputs:
    - x: (N, d_1, ..., d_k) minibatch; each example is flattened to D = d_1 * ... * d_k values
    - w: (D, M) weights
    - b: (M,) biases

    Returns a tuple of:
    - out: (N, M)
    - cache: (x, w, b)
    """
    out = x.reshape(x.shape[0], -1) @ w + b
    return out, (x, w, b)


def affine_backward(dout: Array, cache: Cache) -> tuple[Array, Array, Array]:
    """Affine layer backward.

    Inputs:
    - dout: (N, M) upstream gradient
    - cache: (x, w, b) from affine_forward

    Returns a tuple of:
    - dx: (N, d_1, ..., d_k), dL/dx = dout @ w.T reshaped like x
    - dw: (D, M), dL/dw = x_flat.T @ dout
    - db: (M,), dL/db = dout summed over the batch (b was broadcast to every row)
    """
    x, w, _ = cache
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


# ---------------------------------------------------------------------- nonlinearities


def relu_forward(x: Array) -> tuple[Array, Cache]:
    """ReLU forward: out = max(0, x), elementwise.

    Inputs:
    - x: array of any shape

    Returns a tuple of:
    - out: same shape as x
    - cache: x
    """
    xp = get_array_module(x)
    return xp.maximum(x, 0), x


def relu_backward(dout: Array, cache: Cache) -> Array:
    """ReLU backward: the gradient passes where the input was positive and is zero elsewhere.

    Inputs:
    - dout: upstream gradient, same shape as x
    - cache: x from relu_forward

    Returns:
    - dx: same shape as x
    """
    x = cache
    return dout * (x > 0)


def sigmoid_forward(x: Array) -> tuple[Array, Cache]:
    """Sigmoid forward: out = 1 / (1 + exp(-x)), elementwise.

    Inputs:
    - x: array of any shape

    Returns a tuple of:
    - out: same shape as x, values in (0, 1)
    - cache: out (the backward pass needs only the output)
    """
    xp = get_array_module(x)
    # exp(-|x|) never overflows; the two branches are the same function rearranged.
    e = xp.exp(-xp.abs(x))
    out = xp.where(x >= 0, 1 / (1 + e), e / (1 + e))
    return out, out


def sigmoid_backward(dout: Array, cache: Cache) -> Array:
    """Sigmoid backward: dL/dx = dout * s * (1 - s) with s = sigmoid(x).

    Inputs:
    - dout: upstream gradient, same shape as x
    - cache: out from sigmoid_forward

    Returns:
    - dx: same shape as x
    """
    s = cache
    return dout * s * (1 - s)


# ---------------------------------------------------------------------- sandwich


def affine_relu_forward(x: Array, w: Array, b: Array) -> tuple[Array, Cache]:
    """Affine layer followed by a ReLU.

    Inputs:
    - x: (N, d_1, ..., d_k); w: (D, M); b: (M,)

    Returns a tuple of:
    - out: (N, M)
    - cache: (affine cache, relu cache)
    """
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    return out, (fc_cache, relu_cache)


def affine_relu_backward(dout: Array, cache: Cache) -> tuple[Array, Array, Array]:
    """Backward pass of affine_relu_forward.

    Inputs:
    - dout: (N, M) upstream gradient
    - cache: from affine_relu_forward

    Returns dx (N, d_1, ..., d_k), dw (D, M), db (M,).
    """
    fc_cache, relu_cache = cache
    da = relu_backward(dout, relu_cache)
    return affine_backward(da, fc_cache)


# ---------------------------------------------------------------------- dropout


def _check_param(dropout_param: dict[str, Any]) -> tuple[float, str]:
    """(p, mode) from a dropout_param dict, with a clear error for values that make no sense."""
    p = dropout_param["p"]
    mode = dropout_param.get("mode", "train")
    if not 0 < p <= 1:
        raise ValueError(f"the keep probability p must be in (0, 1], got {p}.")
    if mode not in ("train", "test"):
        raise ValueError(f"dropout mode must be 'train' or 'test', got {mode!r}.")
    return p, mode


def dropout_forward(x: Array, dropout_param: dict[str, Any]) -> tuple[Array, Cache]:
    """Inverted dropout forward.

    Inputs:
    - x: array of any shape, floating dtype
    - dropout_param: dict with
      - "p": probability of keeping each unit, 0 < p <= 1
      - "mode": "train" (drop units) or "test" (the identity)
      - "seed" (optional): int; the mask is then the same on every call

    Returns a tuple of:
    - out: same shape and dtype as x; x * mask in training, x itself at test time
    - cache: (dropout_param, mask), mask of x's shape and dtype holding 0 or 1/p (None in test mode)
    """
    p, mode = _check_param(dropout_param)
    if mode == "test":
        return x, (dropout_param, None)
    xp = get_array_module(x)
    seed = dropout_param.get("seed")
    rng = xp.random if seed is None else xp.random.default_rng(seed)
    keep = rng.random(x.shape) < p
    mask = keep.astype(x.dtype) / x.dtype.type(p)
    return x * mask, (dropout_param, mask)


def dropout_backward(dout: Array, cache: Cache) -> Array:
    """Inverted dropout backward: dx = dout * mask (the local gradient of x * mask is mask).

    Inputs:
    - dout: upstream gradient, same shape as x
    - cache: (dropout_param, mask) from dropout_forward

    Returns dx, same shape as dout.
    """
    dropout_param, mask = cache
    if dropout_param.get("mode", "train") == "test":
        return dout
    return dout * mask


def vanilla_dropout_predict(x: Array, W: Array, p: float) -> Array:
    """Test-time output of neurons fed by a vanilla dropout layer with keep probability p.

    During training each input unit is kept with probability p and *not* rescaled, so the expected
    training-time output is E[(x * m) @ W] = p * (x @ W). At test time every unit is on; scaling by
    p makes the test output equal that expectation.

    Inputs:
    - x: (N, D) activations entering the dropout layer
    - W: (D, M) weights of the neurons that follow it
    - p: keep probability, 0 < p <= 1

    Returns out: (N, M).
    """
    if not 0 < p <= 1:
        raise ValueError(f"the keep probability p must be in (0, 1], got {p}.")
    return p * (x @ W)


# ---------------------------------------------------------------------- losses


def l2_regularized(loss: float, dW: Array, W: Array, reg: float) -> tuple[float, Array]:
    """Add reg * sum(W**2) to a loss and its gradient 2 * reg * W to dW (notebook 01's convention).

    (The models of notebooks 03-05 use 0.5 * reg * sum(W**2) instead, whose gradient is reg * W.)
    """
    return loss + reg * float(np.sum(W**2)), dW + (2.0 * reg) * W


def softmax_loss(x: Array, y: Array) -> tuple[float, Array]:
    """Softmax (cross-entropy) loss, averaged over the batch.

    Inputs:
    - x: (N, C) class scores; x[i, j] is the score of class j for example i
    - y: (N,) integer labels, 0 <= y[i] < C

    Returns a tuple of:
    - loss: Python float
    - dx: (N, C) gradient of the loss with respect to x
    """
    xp = get_array_module(x)
    num_examples = x.shape[0]
    rows = xp.arange(num_examples)

    # Subtracting the row maximum does not change the softmax and keeps exp() from overflowing.
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[rows, y].sum() / num_examples

    dx = xp.exp(log_probs)
    dx[rows, y] -= 1
    dx /= num_examples
    return float(loss), dx


def svm_loss(x: Array, y: Array, delta: float = 1.0) -> tuple[float, Array]:
    """Multiclass SVM (hinge) loss, averaged over the batch.

    L_i = sum over j != y_i of max(0, x[i, j] - x[i, y_i] + delta)

    Inputs:
    - x: (N, C) class scores
    - y: (N,) integer labels, 0 <= y[i] < C
    - delta: the margin (1.0 in the course)

    Returns a tuple of:
    - loss: Python float
    - dx: (N, C) gradient of the loss with respect to x
    """
    xp = get_array_module(x)
    num_examples = x.shape[0]
    rows = xp.arange(num_examples)

    correct = x[rows, y][:, None]
    margins = xp.maximum(0, x - correct + delta)
    margins[rows, y] = 0  # the correct class is not compared with itself
    loss = margins.sum() / num_examples

    # Each violated margin adds +1 to its class and -1 to the correct class.
    violated = (margins > 0).astype(x.dtype)
    dx = violated
    dx[rows, y] = -violated.sum(axis=1)
    dx /= num_examples
    return float(loss), dx
