"""Reference models: notebook 01's two-layer net, a fully-connected net of any depth (with
optional batch or layer normalization and dropout), a ConvNet.

``two_layer_net`` is a function of (X, params): notebook 01 writes it "flat", every intermediate
named; here it is composed from the reference layers so that the two derivations check each other.

The classes follow the interface the ``cs231kit.solver.Solver`` trains:

- ``model.params``: dict of parameter arrays, created on the current array backend
  (``cs231kit.backend.array_module()``, NumPy or CuPy);
- ``model.loss(X, y=None)``: class scores (N, C) when ``y`` is None (test time), otherwise
  ``(loss, grads)`` with one gradient per parameter (training time).

L2 regularisation adds ``0.5 * reg * sum(W**2)`` for every weight matrix (not the biases), so its
gradient is ``reg * W``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from autograder.judge.reference.conv import (
    conv_output_size,
    conv_relu_pool_backward,
    conv_relu_pool_forward,
)
from autograder.judge.reference.layers import (
    affine_backward,
    affine_forward,
    affine_relu_backward,
    affine_relu_forward,
    dropout_backward,
    dropout_forward,
    l2_regularized,
    softmax_loss,
)
from autograder.judge.reference.normalization import (
    NORMALIZATIONS,
    affine_norm_relu_backward,
    affine_norm_relu_forward,
)
from cs231kit.backend import array_module

Array = Any  # a NumPy or CuPy ndarray
TWO_LAYER_PARAMS = ("W1", "b1", "W2", "b2")


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
    hidden, hidden_cache = affine_relu_forward(X, params["W1"], params["b1"])
    scores, scores_cache = affine_forward(hidden, params["W2"], params["b2"])
    if y is None:
        return scores
    data_loss, dscores = softmax_loss(scores, y)
    dhidden, dW2, db2 = affine_backward(dscores, scores_cache)
    _, dW1, db1 = affine_relu_backward(dhidden, hidden_cache)
    loss, dW1 = l2_regularized(data_loss, dW1, params["W1"], reg)
    loss, dW2 = l2_regularized(loss, dW2, params["W2"], reg)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


def _random_source(seed: int | None) -> Any:
    """Where initial weights come from: a seeded generator, or the backend's global one."""
    xp = array_module()
    return xp.random if seed is None else xp.random.RandomState(seed)


class FullyConnectedNet:
    """A fully-connected net:
    {affine - [batchnorm | layernorm] - relu - [dropout]} x (L - 1) - affine - softmax.

    Parameters: W1, b1 (first layer) ... WL, bL (scores layer); Wk has shape (in_k, out_k). With
    a normalization, every hidden layer k < L also has gammak (ones) and betak (zeros) of shape
    (out_k,), and ``norm_params[k - 1]`` is its bn_param / ln_param dict (running statistics).
    """

    def __init__(
        self,
        hidden_dims: Sequence[int],
        input_dim: int = 3 * 32 * 32,
        num_classes: int = 10,
        dropout_keep_ratio: float = 1.0,
        normalization: str | None = None,
        reg: float = 0.0,
        weight_scale: float = 1e-2,
        dtype: Any = np.float32,
        seed: int | None = None,
    ) -> None:
        """Create the net with weights ~ N(0, weight_scale**2) and zero biases.

        Inputs:
        - hidden_dims: sizes of the hidden layers, e.g. [100, 100]; [] gives a softmax classifier
        - input_dim: D, the size of one flattened input
        - num_classes: C
        - dropout_keep_ratio: probability of keeping a hidden unit; 1.0 turns dropout off
        - normalization: None, "batchnorm" or "layernorm", after every hidden affine layer
        - reg: L2 regularisation strength (weights only, not biases, gammas or betas)
        - weight_scale: standard deviation of the initial weights
        - dtype: dtype of the parameters (float64 for gradient checks, float32 to train faster)
        - seed: if given, makes the initial weights and the dropout masks deterministic (the same
          mask on every call, which gradient checks need)
        """
        if not 0 < dropout_keep_ratio <= 1:
            raise ValueError(f"dropout_keep_ratio must be in (0, 1], got {dropout_keep_ratio}.")
        if normalization is not None and normalization not in NORMALIZATIONS:
            raise ValueError(
                f"normalization must be None, 'batchnorm' or 'layernorm', got {normalization!r}."
            )
        self.num_layers = len(hidden_dims) + 1
        self.reg = reg
        self.dtype = dtype
        self.normalization = normalization
        self.use_dropout = dropout_keep_ratio != 1
        self.dropout_param: dict[str, Any] = {"mode": "train", "p": dropout_keep_ratio}
        if seed is not None:
            self.dropout_param["seed"] = seed

        xp = array_module()
        rng = _random_source(seed)
        dims = [input_dim, *hidden_dims, num_classes]
        self.params: dict[str, Array] = {}
        for k in range(1, self.num_layers + 1):
            fan_in, fan_out = dims[k - 1], dims[k]
            self.params[f"W{k}"] = (weight_scale * rng.randn(fan_in, fan_out)).astype(dtype)
            self.params[f"b{k}"] = xp.zeros(fan_out, dtype=dtype)
            if normalization is not None and k < self.num_layers:
                self.params[f"gamma{k}"] = xp.ones(fan_out, dtype=dtype)
                self.params[f"beta{k}"] = xp.zeros(fan_out, dtype=dtype)
        self.norm_params: list[dict[str, Any]] = (
            [] if normalization is None else [{"mode": "train"} for _ in hidden_dims]
        )

    def loss(self, X: Array, y: Array | None = None) -> Any:
        """Scores, or loss and gradients, for a minibatch.

        Inputs:
        - X: (N, d_1, ..., d_k) inputs with d_1 * ... * d_k = input_dim
        - y: (N,) integer labels, or None for test time

        Returns:
        - if y is None: scores, (N, C)
        - else: (loss, grads) with loss a Python float and grads a dict shaped like self.params
        """
        X = X.astype(self.dtype, copy=False)
        training = y is not None
        self.dropout_param["mode"] = "train" if training else "test"
        for norm_param in self.norm_params:
            norm_param["mode"] = "train" if training else "test"

        caches = []
        h = X
        for k in range(1, self.num_layers):
            if self.normalization is None:
                h, cache = affine_relu_forward(h, self.params[f"W{k}"], self.params[f"b{k}"])
            else:
                h, cache = affine_norm_relu_forward(
                    h, self.params[f"W{k}"], self.params[f"b{k}"], self.params[f"gamma{k}"],
                    self.params[f"beta{k}"], self.norm_params[k - 1], self.normalization,
                )
            drop_cache = None
            if self.use_dropout:
                h, drop_cache = dropout_forward(h, self.dropout_param)
            caches.append((cache, drop_cache))
        last = self.num_layers
        scores, scores_cache = affine_forward(h, self.params[f"W{last}"], self.params[f"b{last}"])
        if not training:
            return scores

        data_loss, dscores = softmax_loss(scores, y)
        weights = [self.params[f"W{k}"] for k in range(1, self.num_layers + 1)]
        reg_loss = 0.5 * self.reg * sum(float((W * W).sum()) for W in weights)

        grads: dict[str, Array] = {}
        dh, dW, db = affine_backward(dscores, scores_cache)
        grads[f"W{last}"], grads[f"b{last}"] = dW + self.reg * self.params[f"W{last}"], db
        for k in range(self.num_layers - 1, 0, -1):
            cache, drop_cache = caches[k - 1]
            if self.use_dropout:
                dh = dropout_backward(dh, drop_cache)
            if self.normalization is None:
                dh, dW, db = affine_relu_backward(dh, cache)
            else:
                dh, dW, db, grads[f"gamma{k}"], grads[f"beta{k}"] = affine_norm_relu_backward(
                    dh, cache, self.normalization
                )
            grads[f"W{k}"], grads[f"b{k}"] = dW + self.reg * self.params[f"W{k}"], db
        return data_loss + reg_loss, grads


class ThreeLayerConvNet:
    """conv - relu - 2x2 max pool - affine - relu - affine - softmax.

    The convolution keeps the spatial size (stride 1, pad (filter_size - 1) // 2); the pool halves
    it. Parameters:
    - W1: (F, C, filter_size, filter_size), b1: (F,)
    - W2: (F * H/2 * W/2, hidden_dim), b2: (hidden_dim,)
    - W3: (hidden_dim, num_classes), b3: (num_classes,)
    """

    def __init__(
        self,
        input_dim: tuple[int, int, int] = (3, 32, 32),
        num_filters: int = 32,
        filter_size: int = 7,
        hidden_dim: int = 100,
        num_classes: int = 10,
        weight_scale: float = 1e-3,
        reg: float = 0.0,
        dtype: Any = np.float32,
        seed: int | None = None,
    ) -> None:
        """Create the net with weights ~ N(0, weight_scale**2) and zero biases.

        Inputs:
        - input_dim: (C, H, W) of one input image
        - num_filters: F, number of convolution filters
        - filter_size: width and height of each filter (odd, so padding keeps the size)
        - hidden_dim: number of units in the hidden affine layer
        - num_classes: number of scores produced
        - weight_scale: standard deviation of the initial weights
        - reg: L2 regularisation strength
        - dtype: dtype of the parameters (float64 for gradient checks)
        - seed: if given, makes the initial weights deterministic
        """
        channels, height, width = input_dim
        self.reg = reg
        self.dtype = dtype
        self.conv_param = {"stride": 1, "pad": (filter_size - 1) // 2}
        self.pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}

        conv_h = conv_output_size(height, filter_size, self.conv_param["pad"], 1)
        conv_w = conv_output_size(width, filter_size, self.conv_param["pad"], 1)
        pooled_dim = num_filters * (conv_h // 2) * (conv_w // 2)  # 2x2 pool, stride 2

        xp = array_module()
        rng = _random_source(seed)

        def weights(*shape: int) -> Array:
            return (weight_scale * rng.randn(*shape)).astype(dtype)

        self.params: dict[str, Array] = {
            "W1": weights(num_filters, channels, filter_size, filter_size),
            "b1": xp.zeros(num_filters, dtype=dtype),
            "W2": weights(pooled_dim, hidden_dim),
            "b2": xp.zeros(hidden_dim, dtype=dtype),
            "W3": weights(hidden_dim, num_classes),
            "b3": xp.zeros(num_classes, dtype=dtype),
        }

    def loss(self, X: Array, y: Array | None = None) -> Any:
        """Scores, or loss and gradients, for a minibatch.

        Inputs:
        - X: (N, C, H, W) images
        - y: (N,) integer labels, or None for test time

        Returns:
        - if y is None: scores, (N, num_classes)
        - else: (loss, grads) with loss a Python float and grads a dict shaped like self.params
        """
        X = X.astype(self.dtype, copy=False)
        p = self.params
        pooled, cache1 = conv_relu_pool_forward(
            X, p["W1"], p["b1"], self.conv_param, self.pool_param
        )
        hidden, cache2 = affine_relu_forward(pooled, p["W2"], p["b2"])
        scores, cache3 = affine_forward(hidden, p["W3"], p["b3"])
        if y is None:
            return scores

        data_loss, dscores = softmax_loss(scores, y)
        reg_loss = 0.0
        if self.reg:  # skip the pass over the large W2 when there is nothing to add
            reg_loss = 0.5 * self.reg * sum(float((p[w] * p[w]).sum()) for w in ("W1", "W2", "W3"))

        grads: dict[str, Array] = {}
        dhidden, grads["W3"], grads["b3"] = affine_backward(dscores, cache3)
        dpooled, grads["W2"], grads["b2"] = affine_relu_backward(dhidden, cache2)
        _, grads["W1"], grads["b1"] = conv_relu_pool_backward(dpooled, cache1)
        if self.reg:
            for w in ("W1", "W2", "W3"):
                grads[w] = grads[w] + self.reg * p[w]
        return data_loss + reg_loss, grads
