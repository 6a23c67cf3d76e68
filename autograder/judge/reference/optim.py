"""Reference update rules: SGD with momentum, RMSProp and Adam.

They follow the contract of ``cs231kit.optim``: ``next_w, config = rule(w, dw, config)``, where
``w`` and ``dw`` have the same shape and ``config`` carries the hyperparameters and the rule's
per-parameter state from one step to the next. Missing hyperparameters get the defaults listed in
each docstring. Works on NumPy or CuPy arrays alike; the state arrays live where ``w`` lives.
"""

from __future__ import annotations

from typing import Any

from cs231kit.backend import get_array_module

Array = Any  # a NumPy or CuPy ndarray


def sgd_momentum(
    w: Array, dw: Array, config: dict[str, Any] | None = None
) -> tuple[Array, dict[str, Any]]:
    """SGD with momentum: a velocity accumulates past gradients and the parameter follows it.

        v = momentum * v - learning_rate * dw
        next_w = w + v

    Inputs:
    - w: parameter, any shape; dw: its gradient, same shape
    - config: dict with
      - learning_rate (default 1e-2)
      - momentum (default 0.9); 0 gives plain SGD
      - velocity: array shaped like w (created as zeros on the first step)

    Returns next_w (shape of w) and config (with the updated velocity).
    """
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    xp = get_array_module(w)
    v = config.get("velocity")
    if v is None:
        v = xp.zeros_like(w)

    v = config["momentum"] * v - config["learning_rate"] * dw
    config["velocity"] = v
    return w + v, config


def rmsprop(
    w: Array, dw: Array, config: dict[str, Any] | None = None
) -> tuple[Array, dict[str, Any]]:
    """RMSProp: divide each step by a running root-mean-square of recent gradients.

        cache = decay_rate * cache + (1 - decay_rate) * dw**2
        next_w = w - learning_rate * dw / (sqrt(cache) + epsilon)

    Inputs:
    - w: parameter, any shape; dw: its gradient, same shape
    - config: dict with
      - learning_rate (default 1e-2)
      - decay_rate (default 0.99)
      - epsilon (default 1e-8), keeps the division finite
      - cache: array shaped like w (created as zeros on the first step)

    Returns next_w (shape of w) and config (with the updated cache).
    """
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    xp = get_array_module(w)
    cache = config.get("cache")
    if cache is None:
        cache = xp.zeros_like(w)

    decay = config["decay_rate"]
    cache = decay * cache + (1 - decay) * dw * dw
    config["cache"] = cache
    next_w = w - config["learning_rate"] * dw / (xp.sqrt(cache) + config["epsilon"])
    return next_w, config


def adam(
    w: Array, dw: Array, config: dict[str, Any] | None = None
) -> tuple[Array, dict[str, Any]]:
    """Adam, optionally with decoupled weight decay (AdamW).

        t = t + 1
        m = beta1 * m + (1 - beta1) * dw              # first moment (mean)
        v = beta2 * v + (1 - beta2) * dw**2           # second moment (uncentred variance)
        m_hat = m / (1 - beta1**t);  v_hat = v / (1 - beta2**t)   # undo the bias towards 0
        next_w = w - learning_rate * (m_hat / (sqrt(v_hat) + epsilon) + weight_decay * w)

    With weight_decay = 0 (the default) this is plain Adam. The decay term shrinks w directly
    instead of being added to the gradient, so Adam's per-coordinate scaling does not weaken it.

    Inputs:
    - w: parameter, any shape; dw: its gradient, same shape
    - config: dict with
      - learning_rate (default 1e-3)
      - beta1 (default 0.9), beta2 (default 0.999)
      - epsilon (default 1e-8)
      - weight_decay (default 0.0)
      - m, v: arrays shaped like w (zeros on the first step); t: step counter (0 before the first)

    Returns next_w (shape of w) and config (with the updated m, v and t).
    """
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("weight_decay", 0.0)
    config.setdefault("t", 0)
    xp = get_array_module(w)
    m = config.get("m")
    v = config.get("v")
    if m is None:
        m = xp.zeros_like(w)
    if v is None:
        v = xp.zeros_like(w)

    beta1, beta2 = config["beta1"], config["beta2"]
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw * dw
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    step = m_hat / (xp.sqrt(v_hat) + config["epsilon"]) + config["weight_decay"] * w
    config.update(m=m, v=v, t=t)
    return w - config["learning_rate"] * step, config
