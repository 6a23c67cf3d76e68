"""Reference normalization layers (notebook 06): batch norm, layer norm, spatial batch norm.

Batch normalization is the lecture's algorithm (Ioffe and Szegedy, 2015). Over a mini-batch
B = {x_1, ..., x_m} of one feature:

    mu_B      = 1/m sum_i x_i                       mini-batch mean
    sigma_B^2 = 1/m sum_i (x_i - mu_B)^2            mini-batch variance (biased: 1/m)
    x_hat_i   = (x_i - mu_B) / sqrt(sigma_B^2 + eps) normalize
    y_i       = gamma * x_hat_i + beta              scale and shift

For x of shape (N, D) every one of the D features has its own statistics, taken over the batch
axis 0, and its own gamma and beta.

``bn_param`` (one dict per layer, kept by the caller between calls):

- ``"mode"``: ``"train"`` (batch statistics) or ``"test"`` (running statistics); required;
- ``"eps"`` (default 1e-5) and ``"momentum"`` (default 0.9);
- ``"running_mean"``, ``"running_var"``: (D,) arrays of x's dtype, zeros when absent.
  Every training call stores new arrays in the dict:
  ``running = momentum * running + (1 - momentum) * batch statistic``. Test mode normalizes with
  them and changes nothing.

The training-mode cache is a dict holding every node of the computational graph, the one format
both backward passes read:

    {"x", "mu", "xmu", "var", "std", "istd", "x_hat", "gamma", "eps"}

with ``xmu = x - mu``, ``std = sqrt(var + eps)``, ``istd = 1 / std`` and
``x_hat = xmu * istd``. In test mode the cache is None (there is no backward pass at test time).

Layer normalization (Ba, Kiros and Hinton, 2016) normalizes each *example* over its D features
instead, the same in training and at test time; ``ln_param`` holds only ``"eps"``. Its cache has
the same keys, with per-example statistics of shape (N, 1). Spatial batch normalization treats
every position of an (N, C, H, W) activation map as one more example of its channel: it is the
vanilla layer applied to the (N*H*W, C) matrix, and its cache is that call's cache.

Everything is written with operations that also accept complex inputs (no ``var()``, which
takes absolute values), so that tests can check the gradients with complex steps.
"""

from __future__ import annotations

from typing import Any

from autograder.judge.reference.layers import (
    affine_backward,
    affine_forward,
    relu_backward,
    relu_forward,
)
from cs231kit.backend import get_array_module

Array = Any  # a NumPy or CuPy ndarray
Cache = Any

DEFAULT_EPS = 1e-5
DEFAULT_MOMENTUM = 0.9


def _normalize(x: Array, axis: int, eps: float) -> dict[str, Any]:
    """Every node of the normalization graph, statistics over ``axis`` (kept as a length-1 axis
    for layer norm, dropped for batch norm)."""
    keep = axis == 1
    mu = x.mean(axis=axis, keepdims=keep)
    xmu = x - mu
    var = (xmu * xmu).mean(axis=axis, keepdims=keep)
    std = (var + eps) ** 0.5
    istd = 1 / std
    return {"x": x, "mu": mu, "xmu": xmu, "var": var, "std": std, "istd": istd,
            "x_hat": xmu * istd, "eps": eps}


# ---------------------------------------------------------------------- batch normalization


def batchnorm_forward(
    x: Array, gamma: Array, beta: Array, bn_param: dict[str, Any]
) -> tuple[Array, Cache]:
    """Batch normalization forward, training or test mode (see the module docstring).

    Inputs:
    - x: (N, D) minibatch
    - gamma, beta: (D,) scale and shift
    - bn_param: dict with "mode" and optionally "eps", "momentum", "running_mean", "running_var";
      a training call stores the updated running statistics in it

    Returns a tuple of:
    - out: (N, D), gamma * x_hat + beta, of x's dtype
    - cache: the graph's nodes (training mode), None in test mode
    """
    mode = bn_param.get("mode")
    if mode not in ("train", "test"):
        raise ValueError(f"bn_param['mode'] must be 'train' or 'test', got {mode!r}.")
    xp = get_array_module(x)
    eps = bn_param.get("eps", DEFAULT_EPS)
    momentum = bn_param.get("momentum", DEFAULT_MOMENTUM)
    D = x.shape[1]
    running_mean = bn_param.get("running_mean", xp.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", xp.zeros(D, dtype=x.dtype))

    if mode == "test":
        out = gamma * ((x - running_mean) / (running_var + eps) ** 0.5) + beta
        return out.astype(x.dtype, copy=False), None

    nodes = _normalize(x, 0, eps)
    nodes["gamma"] = gamma
    out = gamma * nodes["x_hat"] + beta
    bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * nodes["mu"]
    bn_param["running_var"] = momentum * running_var + (1 - momentum) * nodes["var"]
    return out.astype(x.dtype, copy=False), nodes


def batchnorm_backward(dout: Array, cache: Cache) -> tuple[Array, Array, Array]:
    """Batch normalization backward, staged node by node on the computational graph.

    Every node's local gradient is applied in turn, from the output back to x, and every
    gradient is materialised at the node's own shape (the sums over the batch are broadcast back
    explicitly), exactly as one would stage it by hand:

        x -> mu = mean(x) -> xmu = x - mu -> sq = xmu**2 -> var = mean(sq) -> std = sqrt(var + eps)
          -> istd = 1 / std -> x_hat = xmu * istd -> y = gamma * x_hat + beta

    Inputs:
    - dout: (N, D) upstream gradient
    - cache: the dict of graph nodes from batchnorm_forward (training mode)

    Returns a tuple of:
    - dx: (N, D)
    - dgamma, dbeta: (D,)
    """
    xp = get_array_module(dout)
    N = dout.shape[0]
    xmu, std, istd = cache["xmu"], cache["std"], cache["istd"]
    # y = gamma * x_hat + beta: beta and gamma were broadcast over the batch.
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache["x_hat"]).sum(axis=0)
    dx_hat = dout * cache["gamma"]
    # x_hat = xmu * istd: a multiply gate; istd was broadcast over the batch.
    dxmu_direct = dx_hat * istd
    distd = (dx_hat * xmu).sum(axis=0)
    dstd = -distd / (std * std)  # istd = 1 / std
    dvar = dstd * 0.5 / std  # std = sqrt(var + eps)
    dsq = xp.ones_like(dout) * (dvar / N)  # var = mean(sq): each of the N rows gets 1/N of it
    dxmu_through_var = 2 * xmu * dsq  # sq = xmu ** 2
    dxmu = dxmu_direct + dxmu_through_var  # xmu feeds x_hat and sq: the gradients add up
    dx_direct = dxmu  # xmu = x - mu: +1 for x ...
    dmu = -dxmu.sum(axis=0)  # ... and -1 for mu, broadcast over the batch
    dx_through_mu = xp.ones_like(dout) * (dmu / N)  # mu = mean(x)
    dx = dx_direct + dx_through_mu  # x feeds xmu and mu: the gradients add up
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout: Array, cache: Cache) -> tuple[Array, Array, Array]:
    """Batch normalization backward in closed form: the staged graph summed up by hand.

    With dx_hat = gamma * dout, sum(dx_hat) = gamma * dbeta and sum(dx_hat * x_hat) = gamma *
    dgamma (sums over the batch), so

        dx = gamma * istd / N * (N * dout - dbeta - x_hat * dgamma),

    two reductions and a few elementwise operations on (N, D) arrays.

    Inputs and returns: as batchnorm_backward.
    """
    N = dout.shape[0]
    x_hat = cache["x_hat"]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    scale = cache["gamma"] * cache["istd"]  # (D,)
    dx = scale * dout - (scale * dbeta / N) - x_hat * (scale * dgamma / N)
    return dx, dgamma, dbeta


# ---------------------------------------------------------------------- layer normalization


def layernorm_forward(
    x: Array, gamma: Array, beta: Array, ln_param: dict[str, Any]
) -> tuple[Array, Cache]:
    """Layer normalization forward: each example normalized over its own features.

    Inputs:
    - x: (N, D); gamma, beta: (D,)
    - ln_param: dict with optional "eps" (default 1e-5); any other key is ignored

    Returns a tuple of:
    - out: (N, D), gamma * x_hat + beta, the same in training and at test time
    - cache: the graph's nodes, statistics of shape (N, 1)
    """
    nodes = _normalize(x, 1, ln_param.get("eps", DEFAULT_EPS))
    nodes["gamma"] = gamma
    out = gamma * nodes["x_hat"] + beta
    return out.astype(x.dtype, copy=False), nodes


def layernorm_backward(dout: Array, cache: Cache) -> tuple[Array, Array, Array]:
    """Layer normalization backward: batch norm's closed form with the roles of the axes swapped
    for x (sums over the D features of each example); gamma and beta still sum over the batch.

    Returns a tuple of dx (N, D), dgamma (D,), dbeta (D,).
    """
    D = dout.shape[1]
    x_hat = cache["x_hat"]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * cache["gamma"]
    sum_dx_hat = dx_hat.sum(axis=1, keepdims=True)
    sum_dx_hat_x_hat = (dx_hat * x_hat).sum(axis=1, keepdims=True)
    dx = cache["istd"] / D * (D * dx_hat - sum_dx_hat - x_hat * sum_dx_hat_x_hat)
    return dx, dgamma, dbeta


# ---------------------------------------------------------------------- spatial batch norm


def _channels_last(x: Array) -> Array:
    """(N, C, H, W) -> (N*H*W, C): one row per position, one column per channel."""
    N, C, H, W = x.shape
    return x.transpose(0, 2, 3, 1).reshape(N * H * W, C)


def _channels_first(rows: Array, shape: tuple[int, ...]) -> Array:
    N, C, H, W = shape
    return rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)


def spatial_batchnorm_forward(
    x: Array, gamma: Array, beta: Array, bn_param: dict[str, Any]
) -> tuple[Array, Cache]:
    """Spatial batch normalization: per-channel statistics over the batch and every position.

    Inputs:
    - x: (N, C, H, W); gamma, beta: (C,); bn_param: as batchnorm_forward (running stats of (C,))

    Returns a tuple of:
    - out: (N, C, H, W)
    - cache: batchnorm_forward's cache for the (N*H*W, C) matrix
    """
    out, cache = batchnorm_forward(_channels_last(x), gamma, beta, bn_param)
    return _channels_first(out, x.shape), cache


def spatial_batchnorm_backward(dout: Array, cache: Cache) -> tuple[Array, Array, Array]:
    """Backward of spatial_batchnorm_forward.

    Returns a tuple of dx (N, C, H, W), dgamma (C,), dbeta (C,).
    """
    dx, dgamma, dbeta = batchnorm_backward_alt(_channels_last(dout), cache)
    return _channels_first(dx, dout.shape), dgamma, dbeta


# ---------------------------------------------------------------------- for the models


NORMALIZATIONS = {
    "batchnorm": (batchnorm_forward, batchnorm_backward_alt),
    "layernorm": (layernorm_forward, layernorm_backward),
}


def affine_norm_relu_forward(
    x: Array, w: Array, b: Array, gamma: Array, beta: Array, norm_param: dict[str, Any],
    normalization: str,
) -> tuple[Array, Cache]:
    """affine - batchnorm or layernorm - ReLU, for a hidden layer of a fully-connected net."""
    forward, _ = NORMALIZATIONS[normalization]
    a, fc_cache = affine_forward(x, w, b)
    normed, norm_cache = forward(a, gamma, beta, norm_param)
    out, relu_cache = relu_forward(normed)
    return out, (fc_cache, norm_cache, relu_cache)


def affine_norm_relu_backward(
    dout: Array, cache: Cache, normalization: str
) -> tuple[Array, Array, Array, Array, Array]:
    """Backward of affine_norm_relu_forward: (dx, dw, db, dgamma, dbeta)."""
    _, backward = NORMALIZATIONS[normalization]
    fc_cache, norm_cache, relu_cache = cache
    dnormed = relu_backward(dout, relu_cache)
    da, dgamma, dbeta = backward(dnormed, norm_cache)
    dx, dw, db = affine_backward(da, fc_cache)
    return dx, dw, db, dgamma, dbeta
